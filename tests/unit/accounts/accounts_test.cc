// accounts_test.cc - account provisioning (policy/accounts/account_provisioner.h) against a
// real SQLite store and real key files: the profile verifies per seed 7.1.5 (offline key,
// service countersignature, fingerprint = the stored UDF), the gateway device's catalog entry
// chains to an administration key, the applications catalog, key folder modes, and nothing is
// left half-made when a step fails. Also the `meshgate account` and `meshgate profile` commands
// through the real binary.
#include "policy/accounts/account_provisioner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gateway/mesh/profile.h"
#include "policy/resolver/resolver.h"
#include "policy/store/store_factory.h"
#include "tests/support/mock_store.h"
#include "tests/support/subprocess.h"

namespace meshgate::accounts {
namespace {

namespace fs = std::filesystem;
using meshgate::testing::FixedClock;
using meshgate::testing::TempDir;
using meshgate::testing::runMeshgate;

constexpr int64_t kNow = 1'750'000'000;

mesh::model::DateTime at(int64_t t) { return mesh::model::DateTime(std::chrono::seconds(t)); }

int modeOf(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::StoreSection s;
    s.sqlite.path = dir.file("meshgate.db");
    auto opened = store::openStore(s);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store = std::move(opened).value();
    provisioner = std::make_unique<AccountProvisioner>(dir.file("data"), service_key, clock);
  }

  AccountRecord record(const std::string& address) {
    AccountRecord r;
    r.address = address;
    r.created = r.updated = kNow;
    return r;
  }

  TempDir dir;
  FixedClock clock{kNow};
  std::unique_ptr<Store> store;
  mesh::PrivateKey service_key = *mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  std::unique_ptr<AccountProvisioner> provisioner;
};

TEST_F(AccountsTest, CreatedAccountHasAProfileThatVerifiesAgainstThisGateway) {
  auto made = provisioner->createAccount(*store, record("alice@example.com"));
  ASSERT_TRUE(made.ok()) << made.status().toString();
  auto stored = store->getAccount("alice@example.com");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->profile_udf, made->record.profile_udf);
  ASSERT_FALSE(stored->profile.empty());
  auto envelope = mesh::parseDareEnvelope(stored->profile);
  ASSERT_TRUE(envelope.ok());
  // Exactly what the resolver checks for a local account.
  auto verified = resolver::verifyResolvedProfile("alice@example.com", *envelope,
                                                  stored->profile_udf, kNow,
                                                  service_key.publicKey());
  ASSERT_TRUE(verified.ok()) << verified.status().toString();
  EXPECT_EQ((*verified)->udf, stored->profile_udf);
  // Signed by the profile's own offline key (in the key folder), countersigned by the service.
  auto keys = loadAccountKeys(made->key_folder);
  ASSERT_TRUE(keys.ok()) << keys.status().toString();
  EXPECT_EQ((*verified)->signer_kid, keys->offline.publicKey().kid());
  EXPECT_EQ((*verified)->encryption_key.kid(), keys->encryption.publicKey().kid());
  // Another gateway's key does not countersign it.
  auto other = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  auto refused = resolver::verifyResolvedProfile("alice@example.com", *envelope, std::nullopt,
                                                 kNow, other->publicKey());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(AccountsTest, KeyFolderAndFilesArePrivate) {
  auto made = provisioner->createAccount(*store, record("alice@example.com"));
  ASSERT_TRUE(made.ok()) << made.status().toString();
  EXPECT_EQ(made->key_folder, dir.file("data") + "/accounts/alice@example.com");
  EXPECT_EQ(modeOf(made->key_folder), 0700);
  for (const char* f : {kOfflineKeyFile, kAdministrationKeyFile, kEncryptionKeyFile,
                        kAuthenticationKeyFile, kDeviceKeyFile}) {
    EXPECT_EQ(modeOf(made->key_folder + "/" + f), 0600) << f;
  }
  // No temporary folder is left beside it.
  for (const auto& e : fs::directory_iterator(dir.file("data") + "/accounts")) {
    EXPECT_EQ(e.path().filename().string().rfind(".new-", 0), std::string::npos) << e.path();
  }
}

TEST_F(AccountsTest, GatewayDeviceIsCatalogedAndChainsToAnAdministrationKey) {
  auto made = provisioner->createAccount(*store, record("alice@example.com"));
  ASSERT_TRUE(made.ok()) << made.status().toString();
  auto devices = listDevices(*store, "alice@example.com");
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 1u);
  auto keys = loadAccountKeys(made->key_folder);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ((*devices)[0].kid, keys->device.publicKey().kid());
  EXPECT_EQ((*devices)[0].role, "gateway");
  EXPECT_NE((*devices)[0].description.find("alice@example.com"), std::string::npos);

  // The stored entry's envelope verifies as a device catalog entry of the account's profile
  // (seed 7.1.5: signed by an administration device the profile lists).
  auto entry = store->getEntry("alice@example.com", kDevicesCatalog, (*devices)[0].kid);
  ASSERT_TRUE(entry.ok());
  auto json = mesh::model::parseJsonText(entry->data);
  ASSERT_TRUE(json.ok());
  auto envelope = mesh::dareFromJson((*json)["Envelope"]);
  ASSERT_TRUE(envelope.ok()) << envelope.status().toString();
  auto profile = mesh::assertionPayload<mesh::model::ProfileAccount>(
      *mesh::parseDareEnvelope(made->record.profile));
  ASSERT_TRUE(profile.ok());
  auto device = mesh::verifyCatalogedDevice(*envelope, *profile, made->record.profile_udf, at(kNow));
  ASSERT_TRUE(device.ok()) << device.status().toString();
  EXPECT_EQ(device->entry.signer_kid, keys->administration.publicKey().kid());
  // DeviceKey is what the Mesh service reads to accept the device's requests.
  auto device_key = mesh::parsePublicKey((*json)["DeviceKey"].get<std::string>());
  ASSERT_TRUE(device_key.ok());
  EXPECT_EQ(device_key->kid(), keys->device.publicKey().kid());
}

TEST_F(AccountsTest, MailApplicationIsCatalogedAndSshAndNetworkEntriesCanBeAdded) {
  auto made = provisioner->createAccount(*store, record("alice@example.com"));
  ASSERT_TRUE(made.ok()) << made.status().toString();
  auto apps = listApplications(*store, "alice@example.com");
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 1u);
  EXPECT_EQ((*apps)[0].kind, ApplicationKind::kMail);
  EXPECT_EQ((*apps)[0].name, "mail:alice@example.com");
  ASSERT_EQ((*apps)[0].keys.size(), 1u);
  auto keys = loadAccountKeys(made->key_folder);
  EXPECT_EQ((*apps)[0].keys[0].kid(), keys->encryption.publicKey().kid());

  auto laptop = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  ApplicationEntry ssh{ApplicationKind::kSsh, "ssh:laptop", {"permit:ssh"},
                       {laptop->publicKey()}, kNow};
  ASSERT_TRUE(provisioner->putApplication(*store, "alice@example.com", ssh).ok());
  ApplicationEntry vpn{ApplicationKind::kNetwork, "network:vpn", {}, {}, kNow};
  ASSERT_TRUE(provisioner->putApplication(*store, "alice@example.com", vpn).ok());
  apps = listApplications(*store, "alice@example.com");
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 3u);
  std::map<std::string, ApplicationEntry> by_name;
  for (const auto& a : *apps) by_name[a.name] = a;
  EXPECT_EQ(by_name["ssh:laptop"].kind, ApplicationKind::kSsh);
  ASSERT_EQ(by_name["ssh:laptop"].keys.size(), 1u);
  EXPECT_EQ(by_name["ssh:laptop"].keys[0].kid(), laptop->publicKey().kid());
  EXPECT_EQ(by_name["network:vpn"].kind, ApplicationKind::kNetwork);

  // Stored in the seed's form: a CatalogedApplicationSSH whose capability is signed by the
  // account's administration key.
  auto entry = store->getEntry("alice@example.com", kApplicationsCatalog, "ssh:laptop");
  ASSERT_TRUE(entry.ok());
  auto parsed = mesh::model::parse<mesh::model::CatalogedApplicationSSH>(entry->data);
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  ASSERT_EQ(parsed->enveloped_capabilities.size(), 1u);
  std::vector<mesh::PublicKey> admin{keys->administration.publicKey()};
  auto sig = mesh::checkSignatures(parsed->enveloped_capabilities[0], admin, "capability");
  ASSERT_TRUE(sig.ok()) << sig.status().toString();

  ASSERT_TRUE(provisioner->removeApplication(*store, "alice@example.com", "network:vpn").ok());
  EXPECT_EQ(listApplications(*store, "alice@example.com")->size(), 2u);
  EXPECT_EQ(provisioner->removeApplication(*store, "alice@example.com", "network:vpn").code(),
            StatusCode::kNotFound);
}

TEST_F(AccountsTest, ApplicationForAMissingAccountOrWithABadNameIsRefused) {
  ApplicationEntry e{ApplicationKind::kSsh, "ssh:x", {}, {}, kNow};
  EXPECT_EQ(provisioner->putApplication(*store, "nobody@example.com", e).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(provisioner->createAccount(*store, record("alice@example.com")).ok());
  e.name = "has space";
  EXPECT_EQ(provisioner->putApplication(*store, "alice@example.com", e).code(),
            StatusCode::kInvalidArgument);
  e.name = "";
  EXPECT_EQ(provisioner->putApplication(*store, "alice@example.com", e).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(AccountsTest, ExistingAccountIsRefusedAndLeftAsItWas) {
  auto first = provisioner->createAccount(*store, record("alice@example.com"));
  ASSERT_TRUE(first.ok());
  auto again = provisioner->createAccount(*store, record("alice@example.com"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->getAccount("alice@example.com")->profile_udf, first->record.profile_udf);
  EXPECT_TRUE(loadAccountKeys(first->key_folder).ok());
}

TEST_F(AccountsTest, LeftoverKeyFolderWithoutAccountIsRefused) {
  fs::create_directories(dir.file("data") + "/accounts/bob@example.com");
  auto made = provisioner->createAccount(*store, record("bob@example.com"));
  EXPECT_EQ(made.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(made.status().message().find("meshgate account provision"), std::string::npos);
  EXPECT_EQ(store->getAccount("bob@example.com").status().code(), StatusCode::kNotFound);
}

TEST_F(AccountsTest, AddressThatCannotBeAFolderIsRefused) {
  for (const char* bad : {"../x@example.com", "a/b@example.com", ".hidden@example.com", "noat"}) {
    auto made = provisioner->createAccount(*store, record(bad));
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(fs::exists(dir.file("data") + "/x@example.com"));
}

TEST_F(AccountsTest, StoreFailureLeavesNoKeyFolder) {
  ::testing::NiceMock<meshgate::testing::MockStore> failing;
  EXPECT_CALL(failing, getAccount(::testing::_)).WillRepeatedly(::testing::Return(
      Result<AccountRecord>(notFound("no account"))));
  EXPECT_CALL(failing, createAccount(::testing::_))
      .WillOnce(::testing::Return(unavailable("database is locked")));
  auto made = provisioner->createAccount(failing, record("carol@example.com"));
  EXPECT_EQ(made.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(fs::exists(dir.file("data") + "/accounts/carol@example.com"));
}

TEST_F(AccountsTest, CatalogFailureUndoesTheAccount) {
  ::testing::NiceMock<meshgate::testing::MockStore> failing;
  EXPECT_CALL(failing, getAccount(::testing::_)).WillRepeatedly(::testing::Return(
      Result<AccountRecord>(notFound("no account"))));
  EXPECT_CALL(failing, createAccount(::testing::_)).WillOnce(::testing::Return(Status()));
  EXPECT_CALL(failing, putEntry(::testing::_, ::testing::_))
      .WillOnce(::testing::Return(Result<int64_t>(unavailable("disk full"))));
  EXPECT_CALL(failing, deleteAccount(std::string_view("carol@example.com")))
      .WillOnce(::testing::Return(Status()));
  auto made = provisioner->createAccount(failing, record("carol@example.com"));
  EXPECT_EQ(made.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(made.status().toString().find("devices"), std::string::npos)
      << made.status().toString();
  EXPECT_FALSE(fs::exists(dir.file("data") + "/accounts/carol@example.com"));
}

TEST_F(AccountsTest, ProvisionGivesAnOldAccountAProfileAndRenewKeepsTheUdf) {
  ASSERT_TRUE(store->createAccount(record("old@example.com")).ok());  // no profile
  auto made = provisioner->provisionAccount(*store, "old@example.com", false);
  ASSERT_TRUE(made.ok()) << made.status().toString();
  EXPECT_TRUE(made->new_keys);
  EXPECT_EQ(provisioner->provisionAccount(*store, "old@example.com", false).status().code(),
            StatusCode::kAlreadyExists);
  clock.set(kNow + 100);
  auto renewed = provisioner->provisionAccount(*store, "old@example.com", true);
  ASSERT_TRUE(renewed.ok()) << renewed.status().toString();
  EXPECT_FALSE(renewed->new_keys);
  EXPECT_EQ(renewed->record.profile_udf, made->record.profile_udf) << "same offline key";
  EXPECT_NE(renewed->record.profile, made->record.profile) << "signed again";
  EXPECT_EQ(listDevices(*store, "old@example.com")->size(), 1u);
}

TEST_F(AccountsTest, DeleteRemovesAccountCatalogsAndKeys) {
  auto made = provisioner->createAccount(*store, record("alice@example.com"));
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(provisioner->deleteAccount(*store, "alice@example.com").ok());
  EXPECT_EQ(store->getAccount("alice@example.com").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(listApplications(*store, "alice@example.com")->empty());
  EXPECT_TRUE(listDevices(*store, "alice@example.com")->empty());
  EXPECT_FALSE(fs::exists(made->key_folder));
  EXPECT_EQ(provisioner->deleteAccount(*store, "alice@example.com").code(), StatusCode::kNotFound);
}

// ---- The commands, through the real binary ----------------------------------------------------

class AccountCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir.file("meshgate.yaml"))
        << "gateway:\n  node: mx.example.com\n  domains: [example.com]\n  data_dir: "
        << dir.file("var") << "\n  key_file: " << dir.file("var/keys/gateway.key")
        << "\nstore:\n  sqlite:\n    path: " << dir.file("var/meshgate.db")
        << "\nresolver:\n  discovery: false\n";
  }
  meshgate::testing::RunResult cli(std::vector<std::string> args) {
    args.push_back("--config");
    args.push_back(dir.file("meshgate.yaml"));
    return runMeshgate(args);
  }
  TempDir dir;
};

TEST_F(AccountCommandTest, CreateListShowAndProfileShowAgree) {
  auto created = cli({"account", "create", "alice@example.com"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto list = cli({"account", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const size_t mb = list.out.find("MB");
  ASSERT_NE(mb, std::string::npos) << "account list shows the profile UDF: " << list.out;
  const std::string udf = list.out.substr(mb, list.out.find_first_of(" \n", mb) - mb);
  EXPECT_NE(created.out.find(udf), std::string::npos) << created.out;

  auto show = cli({"profile", "show", "alice@example.com"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("profile:    " + udf), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("local store"), std::string::npos) << show.out;
  auto json = cli({"profile", "show", "alice@example.com", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto parsed = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << json.out;
  EXPECT_EQ(parsed["ProfileUDF"], udf);

  auto account = cli({"account", "show", "alice@example.com"});
  ASSERT_EQ(account.exit_code, 0) << account.err;
  EXPECT_NE(account.out.find("gateway"), std::string::npos) << account.out;
  EXPECT_NE(account.out.find("mail:alice@example.com"), std::string::npos) << account.out;

  auto none = cli({"profile", "show", "nobody@example.com"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no Mesh profile"), std::string::npos) << none.err;
  auto unlisted = cli({"profile", "show", "bob@example.net"});
  EXPECT_EQ(unlisted.exit_code, 1);
  EXPECT_NE(unlisted.err.find("resolver.discovery is off"), std::string::npos) << unlisted.err;
}

TEST_F(AccountCommandTest, AppAddAndRemove) {
  ASSERT_EQ(cli({"account", "create", "alice@example.com"}).exit_code, 0);
  auto gen = runMeshgate({"key", "generate", "--type", "Ed25519", "--out", dir.file("laptop.key")});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto add = cli({"account", "app", "add", "alice@example.com", "--type", "ssh", "--name",
                  "ssh:laptop", "--key", dir.file("laptop.key.pub")});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto show = cli({"account", "show", "alice@example.com"});
  EXPECT_NE(show.out.find("ssh:laptop"), std::string::npos) << show.out;
  auto bad = cli({"account", "app", "add", "alice@example.com", "--type", "telnet", "--name", "x"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  auto removed = cli({"account", "app", "remove", "alice@example.com", "--name", "ssh:laptop"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  show = cli({"account", "show", "alice@example.com"});
  EXPECT_EQ(show.out.find("ssh:laptop"), std::string::npos) << show.out;
}

TEST(ProfileCommand, HelpDescribesTheCommand) {
  auto help = runMeshgate({"profile", "show", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--json"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--config"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("7.1.5"), std::string::npos) << help.out;
  auto usage = runMeshgate({"profile", "show"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace meshgate::accounts
