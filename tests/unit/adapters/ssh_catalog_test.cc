// ssh_catalog_test.cc - SSH keys as CatalogedApplicationSSH entries, in a real SQLite store.
#include "adapters/ssh_catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "policy/store/sqlite_store.h"
#include "tests/unit/adapters/ssh_test_keys.h"

namespace meshgate::adapters {
namespace {

using namespace testing_keys;

namespace model = mesh::model;
using namespace std::chrono_literals;

class SshCatalogStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mg-ssh-catalog-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = store::openSqliteStore({.path = (dir_ / "store.db").string(), .busy_timeout = 2000ms});
    ASSERT_TRUE(s.ok()) << s.status().toString();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->createAccount(account("alice@example.com")).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST(SshCatalogEntry, RoundTripsThroughTheMeshModel) {
  SshKeyEntry e = entryFor(kAlice, {"pty", "command=\"/bin/true\""});
  model::CatalogedApplicationSSH app = toCatalogedApplication(e);
  ASSERT_TRUE(app.key.has_value());
  EXPECT_EQ(*app.key, e.udf);
  ASSERT_EQ(app.enveloped_capabilities.size(), 1u);
  EXPECT_EQ(toString(app.enveloped_capabilities[0].payload), kAlice);
  // Through the JSON codec, as the store keeps it.
  auto parsed = model::parse<model::CatalogedApplicationSSH>(model::serialize(app));
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  auto back = fromCatalogedApplication(*parsed);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(*back, e);
}

TEST(SshCatalogEntry, AKeyFiledUnderAnotherFingerprintIsRefused) {
  model::CatalogedApplicationSSH app = toCatalogedApplication(entryFor(kAlice));
  app.key = entryFor(kBob).udf;  // Bob's grant, but Alice's key bytes
  auto back = fromCatalogedApplication(app);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kDataLoss);
}

TEST(SshCatalogEntry, InjectedOptionsAreRefused) {
  model::CatalogedApplicationSSH app = toCatalogedApplication(entryFor(kAlice));
  app.labels.push_back("option:command=\"x\" ssh-ed25519 AAAA");
  EXPECT_FALSE(fromCatalogedApplication(app).ok());
}

TEST(SshCatalogEntry, AnInjectedHostPatternIsRefused) {
  model::CatalogedApplicationSSH app = toCatalogedApplication(entryFor(kAlice));
  app.labels.push_back("hosts:* ssh-ed25519 AAAAattacker");
  auto back = fromCatalogedApplication(app);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("not a known_hosts pattern list"), std::string::npos);
  app.labels.back() = "hosts:*.example.com,[git.example.com]:2222";
  EXPECT_TRUE(fromCatalogedApplication(app).ok());
}

TEST(SshCatalogEntry, WithoutThePermitLabelNothingIsGranted) {
  model::CatalogedApplicationSSH app = toCatalogedApplication(entryFor(kAlice));
  app.labels.clear();
  auto back = fromCatalogedApplication(app);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->permit);
}

TEST_F(SshCatalogStore, PutAndListInSequenceOrder) {
  SshKeyEntry a = entryFor(kAlice, {"pty"});
  SshKeyEntry b = entryFor(kBob);
  ASSERT_TRUE(putSshKey(*store_, "alice@example.com", kSshCatalog, a, 100).ok());
  ASSERT_TRUE(putSshKey(*store_, "alice@example.com", kSshCatalog, b, 101).ok());
  auto keys = listSshKeys(*store_, "alice@example.com", kSshCatalog);
  ASSERT_TRUE(keys.ok()) << keys.status().toString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].udf, a.udf);
  EXPECT_EQ((*keys)[0].options, std::vector<std::string>{"pty"});
  EXPECT_EQ((*keys)[0].updated, 100);
  EXPECT_EQ((*keys)[1].udf, b.udf);
  // Other accounts and catalogs are separate.
  auto none = listSshKeys(*store_, "bob@example.com", kSshCatalog);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(SshCatalogStore, AnUnreadableGrantIsSkippedAndReported) {
  ASSERT_TRUE(putSshKey(*store_, "alice@example.com", kSshCatalog, entryFor(kAlice), 1).ok());
  CatalogEntry junk{.account = "alice@example.com", .catalog = std::string(kSshCatalog),
                    .key = "MBAD-KEY", .data = "{\"CatalogedApplicationSSH\":{\"Key\":\"x\"}}"};
  ASSERT_TRUE(store_->putEntry(junk, std::nullopt).ok());
  std::vector<std::string> problems;
  auto keys = listSshKeys(*store_, "alice@example.com", kSshCatalog, &problems);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 1u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("MBAD-KEY"), std::string::npos);
}

TEST_F(SshCatalogStore, AnUnreadableRevocationStillRevokes) {
  CatalogEntry junk{.account = "", .catalog = std::string(kSshRevokedCatalog),
                    .key = entryFor(kAlice).udf, .data = "not json"};
  ASSERT_TRUE(store_->putEntry(junk, std::nullopt).ok());
  auto revoked = listSshKeys(*store_, "", kSshRevokedCatalog);
  ASSERT_TRUE(revoked.ok());
  ASSERT_EQ(revoked->size(), 1u);
  EXPECT_EQ((*revoked)[0].udf, entryFor(kAlice).udf);
  EXPECT_FALSE((*revoked)[0].permit);
}

}  // namespace
}  // namespace meshgate::adapters
