// ssh_authorized_keys_test.cc - the AuthorizedKeysCommand answer: login mapping, the cache file,
// freshness, store fallback, fail-closed revocation and expiry.
#include "adapters/ssh_authorized_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "policy/store/sqlite_store.h"
#include "tests/unit/adapters/ssh_test_keys.h"

namespace meshgate::adapters {
namespace {

using namespace testing_keys;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int64_t kDay = 86400;

SshCache cacheAt(int64_t t) {
  SshCache c;
  c.service_fetched = t;
  c.accounts["alice@example.com"] = {.fetched = t, .exists = true,
                                     .keys = {entryFor(kAlice, {"pty"}), entryFor(kBob)}};
  return c;
}

TEST(SshLogin, MapsThroughUsersThenDomain) {
  config::SshSection s;
  s.domain = "example.com";
  s.users = {{"root", "admin@example.net"}};
  EXPECT_EQ(accountForLogin(s, "root"), "admin@example.net");
  // Linux tells Alice from alice: no folding onto alice's account (her keys would open Alice's).
  EXPECT_EQ(accountForLogin(s, "Alice"), "");
  EXPECT_EQ(accountForLogin(s, "alice"), "alice@example.com");
  EXPECT_EQ(accountForLogin(s, "a.b-c_d"), "a.b-c_d@example.com");
  EXPECT_EQ(accountForLogin(s, "x@y"), "");
  EXPECT_EQ(accountForLogin(s, "a b"), "");
  EXPECT_EQ(accountForLogin(s, ""), "");
  s.domain = "";
  EXPECT_EQ(accountForLogin(s, "alice"), "");
  EXPECT_EQ(accountForLogin(s, "root"), "admin@example.net");
}

TEST(SshAnswer, EveryPermittedKeyOrJustTheOfferedOne) {
  SshCache c = cacheAt(1000);
  auto all = answerAuthorizedKeys(c, "alice@example.com", std::nullopt, 1010, kDay);
  ASSERT_TRUE(all.ok()) << all.status().toString();
  ASSERT_EQ(all->lines.size(), 2u);
  EXPECT_EQ(all->lines[0].rfind("restrict,pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINpAD8", 0), 0u);
  EXPECT_NE(all->lines[0].find(" udf:" + entryFor(kAlice).udf + " alice@example.com"),
            std::string::npos);
  EXPECT_EQ(all->lines[1].rfind("restrict ssh-ed25519 ", 0), 0u);

  auto one = answerAuthorizedKeys(c, "alice@example.com", entryFor(kBob).udf, 1010, kDay);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->lines.size(), 1u);
  EXPECT_NE(one->lines[0].find("udf:" + entryFor(kBob).udf), std::string::npos);

  auto other = answerAuthorizedKeys(c, "alice@example.com", std::string("MXXX-NOT-THERE"), 1010, kDay);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->lines.empty());
}

TEST(SshAnswer, RevokedKeysAreWithheldWhateverTheGrant) {
  SshCache c = cacheAt(1000);
  c.revoked.push_back(entryFor(kBob));
  auto all = answerAuthorizedKeys(c, "alice@example.com", std::nullopt, 1010, kDay);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->lines.size(), 1u);
  EXPECT_NE(all->lines[0].find(entryFor(kAlice).udf), std::string::npos);
  EXPECT_EQ(all->revoked_udfs, std::vector<std::string>{entryFor(kBob).udf});
  auto bob = answerAuthorizedKeys(c, "alice@example.com", entryFor(kBob).udf, 1010, kDay);
  ASSERT_TRUE(bob.ok());
  EXPECT_TRUE(bob->lines.empty());
}

TEST(SshAnswer, EntriesWithoutPermitGrantNothing) {
  SshCache c = cacheAt(1000);
  c.accounts["alice@example.com"].keys[0].permit = false;
  auto all = answerAuthorizedKeys(c, "alice@example.com", std::nullopt, 1010, kDay);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->lines.size(), 1u);
}

TEST(SshAnswer, FailsClosedWhenNothingTrustworthyIsKnown) {
  SshCache c = cacheAt(1000);
  // Older than max_age: the grants and the revocation list are both untrusted.
  EXPECT_EQ(answerAuthorizedKeys(c, "alice@example.com", std::nullopt, 1000 + kDay + 1, kDay)
                .status().code(),
            StatusCode::kFailedPrecondition);
  // Grants fresh but the revocation list never read.
  SshCache no_service = c;
  no_service.service_fetched = 0;
  EXPECT_FALSE(answerAuthorizedKeys(no_service, "alice@example.com", std::nullopt, 1010, kDay).ok());
  // An account never read.
  EXPECT_FALSE(answerAuthorizedKeys(c, "bob@example.com", std::nullopt, 1010, kDay).ok());
  // A cache from the future (clock set back) is not trusted either.
  EXPECT_FALSE(answerAuthorizedKeys(c, "alice@example.com", std::nullopt, 100, kDay).ok());
}

TEST(SshKnownHosts, CertAuthorityAndRevokedLines) {
  SshCache c = cacheAt(1000);
  SshKeyEntry ca = entryFor(kAlice);
  ca.permit = false;
  ca.hosts = "*.example.com,example.com";
  c.hosts.push_back(ca);
  c.revoked.push_back(entryFor(kBob));
  SshKeyEntry unreadable;
  unreadable.udf = "MUNR-EADA-BLE";
  c.revoked.push_back(unreadable);
  auto lines = knownHostsLines(c, 1010, kDay);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].rfind("@cert-authority *.example.com,example.com ssh-ed25519 AAAAC3", 0), 0u);
  EXPECT_EQ((*lines)[1].rfind("@revoked * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBR0", 0), 0u);
  EXPECT_FALSE(knownHostsLines(c, 1000 + 2 * kDay, kDay).ok());
}

// The hosts pattern reaches a known_hosts line: only pattern characters, checked on every read
// (a cache file or catalog row written by hand must not put another key first on the line).
TEST(SshKnownHosts, AHostPatternThatWouldChangeTheLineIsRefusedWhenRead) {
  EXPECT_TRUE(isValidSshHostsPattern("*.example.com,example.com"));
  EXPECT_TRUE(isValidSshHostsPattern("[git.example.com]:2222,!bad.example.com,host?.example.net"));
  for (const char* bad : {"", "* ssh-ed25519 AAAA", "a.example\n@cert-authority *", "\"quoted\"",
                          "a#comment", "a\tb"}) {
    EXPECT_FALSE(isValidSshHostsPattern(bad)) << bad;
  }
  SshCache c = cacheAt(1000);
  SshKeyEntry ca = entryFor(kAlice);
  ca.hosts = "*.example.com";
  c.hosts.push_back(ca);
  std::string text = serializeSshCache(c);
  ASSERT_TRUE(parseSshCache(text).ok());
  const std::string from = "*.example.com", to = "* ssh-ed25519 AAAAattacker";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), to);
  auto damaged = parseSshCache(text);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("not a known_hosts pattern list"), std::string::npos)
      << damaged.status().toString();
}

TEST(SshCacheFormat, OnlyTheAccountAskedAboutIsDecodedTheRestKeptVerbatim) {
  SshCache c = cacheAt(1234);
  c.accounts["bob@example.com"] = {.fetched = 1000, .exists = true, .keys = {entryFor(kBob)}};
  const std::string text = serializeSshCache(c);
  const std::string alice = "alice@example.com";
  auto part = parseSshCache(text, &alice);
  ASSERT_TRUE(part.ok()) << part.status().toString();
  EXPECT_EQ(part->accounts.size(), 1u);
  EXPECT_EQ(part->accounts.at(alice), c.accounts.at(alice));
  ASSERT_EQ(part->other_accounts.count("bob@example.com"), 1u);
  // Written back after a change to alice, bob's line is unchanged.
  part->accounts[alice].fetched = 2000;
  auto again = parseSshCache(serializeSshCache(*part));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->accounts.at("bob@example.com"), c.accounts.at("bob@example.com"));
  EXPECT_EQ(again->accounts.at(alice).fetched, 2000);
  // A damaged line of another account does not stop alice's answer (and is kept as it is).
  std::string damaged = text;
  damaged.replace(damaged.find("A bob@example.com 1000 1 ["), 26, "A bob@example.com 1000 1 {");
  EXPECT_TRUE(parseSshCache(damaged, &alice).ok());
  EXPECT_FALSE(parseSshCache(damaged).ok());
}

TEST(SshCacheFormat, AValueOfTheWrongTypeIsDamageNotACrash) {
  SshCache c = cacheAt(1234);
  c.revoked.push_back(entryFor(kBob));
  const std::string text = serializeSshCache(c);
  const std::string alice = "alice@example.com";
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"Permit\":true", "\"Permit\":\"yes\""},
           {"\"Key\":\"ssh-ed25519", "\"Key\":5,\"X\":\"ssh-ed25519"},
           {"\"Updated\":", "\"Updated\":\"x\",\"Y\":"},
           {"\"Options\":[", "\"Options\":7,\"Z\":["}}) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    std::string damaged = text;
    damaged.replace(at, from.size(), to);
    auto parsed = parseSshCache(damaged, &alice);
    ASSERT_FALSE(parsed.ok()) << to;
    EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss) << to;
  }
}

TEST(SshCacheFormat, RoundTripsAndRefusesDamage) {
  SshCache c = cacheAt(1234);
  c.revoked.push_back(entryFor(kBob));
  c.accounts["gone@example.com"] = {.fetched = 1200, .exists = false, .keys = {}};
  auto back = parseSshCache(serializeSshCache(c));
  ASSERT_TRUE(back.ok()) << back.status().toString();
  // `updated` is kept; fingerprints are carried, not recomputed.
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(parseSshCache("").ok());
  EXPECT_FALSE(parseSshCache("MeshgateSshCache 2\n").ok());
  EXPECT_FALSE(parseSshCache("MeshgateSshCache 1\n").ok());  // no revocation list
  std::string whole = serializeSshCache(c);
  EXPECT_FALSE(parseSshCache(whole.substr(0, whole.size() - 1)).ok());  // cut short
  std::string text = serializeSshCache(c);
  ASSERT_NE(text.find("\"pty\""), std::string::npos);
  text.replace(text.find("\"pty\""), 5, "\"p\\\"\"");  // an option that would end the quote
  EXPECT_FALSE(parseSshCache(text).ok());
}

class SshCacheSource : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mg-ssh-cache-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_.cache_file = (dir_ / "ssh.cache").string();
    config_.cache_refresh = 300s;
    config_.cache_max_age = 86400s;
    config_.domain = "example.com";
    db_ = (dir_ / "store.db").string();
    auto s = store::openSqliteStore({.path = db_, .busy_timeout = 2000ms});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->createAccount(account("alice@example.com")).ok());
    ASSERT_TRUE(putSshKey(**s, "alice@example.com", kSshCatalog, entryFor(kAlice), 1).ok());
    ASSERT_TRUE(putSshKey(**s, "alice@example.com", kSshCatalog, entryFor(kBob), 1).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  StoreOpener realStore() {
    return [this]() -> Result<std::unique_ptr<Store>> {
      ++opens_;
      return store::openSqliteStore({.path = db_, .busy_timeout = 2000ms});
    };
  }
  StoreOpener downStore() {
    return [this]() -> Result<std::unique_ptr<Store>> {
      ++opens_;
      return unavailable("store is down (test)");
    };
  }

  fs::path dir_;
  std::string db_;
  config::SshSection config_;
  int opens_ = 0;
};

TEST_F(SshCacheSource, WriteIsAtomicWithMode0640) {
  ASSERT_TRUE(writeSshCacheFile(config_.cache_file, cacheAt(5)).ok());
  struct stat st {};
  ASSERT_EQ(::stat(config_.cache_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);  // the store and the cache; no temporary file left behind
  auto back = readSshCacheFile(config_.cache_file);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, cacheAt(5));
  EXPECT_EQ(readSshCacheFile((dir_ / "absent").string()).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(writeSshCacheFile((dir_ / "no-such-dir" / "cache").string(), cacheAt(5)).ok());
}

TEST_F(SshCacheSource, NoCacheAsksTheStoreAndWritesTheCache) {
  int64_t now = 10'000;
  SshKeySource source(config_, realStore(), [&] { return now; });
  auto view = source.forAccount("alice@example.com");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->source, "store");
  EXPECT_EQ(opens_, 1);
  auto answer = answerAuthorizedKeys(view->cache, "alice@example.com", std::nullopt, now, 86400);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->lines.size(), 2u);
  auto file = readSshCacheFile(config_.cache_file);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->accounts.at("alice@example.com").fetched, now);
}

TEST_F(SshCacheSource, AFreshCacheAnswersWithoutTheStore) {
  int64_t now = 10'000;
  ASSERT_TRUE(SshKeySource(config_, realStore(), [&] { return now; }).forAccount("alice@example.com").ok());
  ASSERT_EQ(opens_, 1);
  now += 299;
  SshKeySource source(config_, realStore(), [&] { return now; });
  auto view = source.forAccount("alice@example.com");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->source, "cache");
  EXPECT_EQ(opens_, 1);
  // Another account is not in the cache yet: the store is asked.
  auto bob = source.forAccount("bob@example.com");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(opens_, 2);
  EXPECT_FALSE(bob->cache.accounts.at("bob@example.com").exists);
}

TEST_F(SshCacheSource, AStaleCacheIsRefreshedFromTheStore) {
  int64_t now = 10'000;
  ASSERT_TRUE(SshKeySource(config_, realStore(), [&] { return now; }).forAccount("alice@example.com").ok());
  // Revoke Bob's key in the store; the cache does not know yet.
  {
    auto s = store::openSqliteStore({.path = db_, .busy_timeout = 2000ms});
    ASSERT_TRUE(s.ok());
    SshKeyEntry r = entryFor(kBob);
    r.permit = false;
    ASSERT_TRUE(putSshKey(**s, "", kSshRevokedCatalog, r, 2).ok());
  }
  now += 301;
  SshKeySource source(config_, realStore(), [&] { return now; });
  auto view = source.forAccount("alice@example.com");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->source, "store");
  auto answer = answerAuthorizedKeys(view->cache, "alice@example.com", std::nullopt, now, 86400);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->lines.size(), 1u);
  EXPECT_EQ(readSshCacheFile(config_.cache_file)->revoked.size(), 1u);
}

TEST_F(SshCacheSource, StoreDownAnswersFromTheCacheAndKeepsRevocations) {
  int64_t now = 10'000;
  {
    auto s = store::openSqliteStore({.path = db_, .busy_timeout = 2000ms});
    SshKeyEntry r = entryFor(kBob);
    r.permit = false;
    ASSERT_TRUE(putSshKey(**s, "", kSshRevokedCatalog, r, 2).ok());
  }
  ASSERT_TRUE(SshKeySource(config_, realStore(), [&] { return now; }).forAccount("alice@example.com").ok());
  now += 3600;  // stale, not expired
  SshKeySource source(config_, downStore(), [&] { return now; });
  auto view = source.forAccount("alice@example.com");
  ASSERT_TRUE(view.ok());
  EXPECT_NE(view->source.find("store unavailable"), std::string::npos);
  auto alice = answerAuthorizedKeys(view->cache, "alice@example.com", entryFor(kAlice).udf, now, 86400);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->lines.size(), 1u);
  auto bob = answerAuthorizedKeys(view->cache, "alice@example.com", entryFor(kBob).udf, now, 86400);
  ASSERT_TRUE(bob.ok());
  EXPECT_TRUE(bob->lines.empty());
  // A day later the cache is no longer trusted at all.
  now += 86400;
  auto late = SshKeySource(config_, downStore(), [&] { return now; }).forAccount("alice@example.com");
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(answerAuthorizedKeys(late->cache, "alice@example.com", std::nullopt, now, 86400).ok());
}

TEST_F(SshCacheSource, AnUnreadableCacheIsNotTrusted) {
  { std::ofstream(config_.cache_file) << "{\"MeshgateSshCache\":1,\"Service\":"; }
  int64_t now = 10'000;
  auto view = SshKeySource(config_, downStore(), [&] { return now; }).forAccount("alice@example.com");
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(answerAuthorizedKeys(view->cache, "alice@example.com", std::nullopt, now, 86400).ok());
}

TEST_F(SshCacheSource, RefreshAllReadsEveryAccount) {
  config_.users = {{"root", "nobody@example.org"}};
  int64_t now = 10'000;
  auto view = SshKeySource(config_, realStore(), [&] { return now; }).refreshAll();
  ASSERT_TRUE(view.ok()) << view.status().toString();
  EXPECT_EQ(view->cache.accounts.at("alice@example.com").keys.size(), 2u);
  EXPECT_FALSE(view->cache.accounts.at("nobody@example.org").exists);
  EXPECT_EQ(*readSshCacheFile(config_.cache_file), view->cache);
  EXPECT_FALSE(SshKeySource(config_, downStore(), [&] { return now; }).refreshAll().ok());
}

TEST_F(SshCacheSource, OneCacheWriterAtATime) {
  auto first = SshCacheLock::acquire(config_.cache_file, 0ms);
  ASSERT_TRUE(first.ok()) << first.status().toString();
  {
    auto second = SshCacheLock::acquire(config_.cache_file, 50ms);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  }
  { SshCacheLock released = std::move(first).value(); }
  EXPECT_TRUE(SshCacheLock::acquire(config_.cache_file, 0ms).ok());
}

// Bob's key revoked in the store after the cache was written.
void revokeBob(const std::string& db) {
  auto s = store::openSqliteStore({.path = db, .busy_timeout = 2000ms});
  ASSERT_TRUE(s.ok());
  SshKeyEntry r = entryFor(kBob);
  r.permit = false;
  ASSERT_TRUE(putSshKey(**s, "", kSshRevokedCatalog, r, 2).ok());
}

TEST_F(SshCacheSource, ALoginThatCannotLockAnswersFromTheStoreAndLeavesTheCache) {
  int64_t now = 10'000;
  ASSERT_TRUE(
      SshKeySource(config_, realStore(), [&] { return now; }).forAccount("alice@example.com").ok());
  revokeBob(db_);
  now += 301;
  {
    auto held = SshCacheLock::acquire(config_.cache_file, 0ms);  // a refresh elsewhere
    ASSERT_TRUE(held.ok());
    auto view =
        SshKeySource(config_, realStore(), [&] { return now; }).forAccount("alice@example.com");
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->source, "store");
    auto answer = answerAuthorizedKeys(view->cache, "alice@example.com", std::nullopt, now, 86400);
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(answer->lines.size(), 1u);  // the revocation, from the store
    EXPECT_EQ(readSshCacheFile(config_.cache_file)->revoked.size(), 0u);  // not written
  }
  ASSERT_TRUE(
      SshKeySource(config_, realStore(), [&] { return now; }).forAccount("alice@example.com").ok());
  EXPECT_EQ(readSshCacheFile(config_.cache_file)->revoked.size(), 1u);
}

TEST_F(SshCacheSource, AnAdministratorsUpdateWaitsForTheRewriteInProgress) {
  // The race it prevents: a login reads the store, the administrator revokes and rewrites the
  // cache, then the login writes its older copy over it. With the lock the administrator's
  // read of the store comes after the login's write.
  int64_t now = 10'000;
  ASSERT_TRUE(
      SshKeySource(config_, realStore(), [&] { return now; }).forAccount("alice@example.com").ok());
  auto lock = SshCacheLock::acquire(config_.cache_file, 0ms);
  ASSERT_TRUE(lock.ok());
  auto held = std::make_unique<SshCacheLock>(std::move(lock).value());
  revokeBob(db_);
  Status updated = internalError("not run");
  std::atomic<bool> done{false};
  std::thread admin([&] {
    auto s = store::openSqliteStore({.path = db_, .busy_timeout = 2000ms});
    updated = s.ok() ? updateSshCache(**s, config_.cache_file, "alice@example.com", now + 1, 10s)
                     : s.status();
    done = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(done.load());  // waiting for the lock
  EXPECT_EQ(readSshCacheFile(config_.cache_file)->revoked.size(), 0u);
  held.reset();
  admin.join();
  EXPECT_TRUE(updated.ok()) << updated.toString();
  EXPECT_EQ(readSshCacheFile(config_.cache_file)->revoked.size(), 1u);
}

}  // namespace
}  // namespace meshgate::adapters
