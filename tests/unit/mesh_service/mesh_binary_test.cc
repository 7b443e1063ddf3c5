// The real `meshgate policy` binary over real HTTPS: curl and openssl s_client for the TLS
// facts, Poco's HTTPSClientSession for every transaction with signed requests whose responses
// are verified against the gateway key the binary created, and the store file (shared with the
// binary, SQLite WAL) read behind its back to prove that refused requests changed nothing.
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "gateway/mesh/profile.h"
#include "gateway/policy/audit_checkpoint.h"
#include "tests/support/background_process.h"
#include "tests/support/subprocess.h"
#include "tests/unit/mesh_service/https_client.h"
#include "tests/unit/mesh_service/mesh_test_world.h"

namespace meshgate::meshtest {
namespace {

using nlohmann::json;
using testing::BackgroundProcess;
using testing::runMeshgate;
using testing::runProgram;

// The full path of a program (the test runner's exec does not search PATH).
std::string tool(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/local/bin/"}) {
    const std::string path = dir + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return name;  // fails visibly: "cannot run"
}

class MeshBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::freeTcpPort();
    world_ = std::make_unique<MeshWorld>("  listen: 127.0.0.1:" + std::to_string(port_) + "\n",
                                         extraYaml());
    world_->clock().set(std::time(nullptr));
    server_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        MESHGATE_BINARY, "policy", "--config", world_->dir().file("meshgate.yaml"),
        "--foreground"});
    ASSERT_TRUE(server_->waitForOutput("mesh: serving https://127.0.0.1:" + std::to_string(port_)))
        << server_->output();
    auto key = mesh::loadPrivateKeyFile(world_->dir().file("gateway.key"));
    ASSERT_TRUE(key.ok()) << key.status().toString();
    gateway_key_ = *key;
    world_->setServiceKey(*gateway_key_);  // profiles countersigned by the real service
  }
  void TearDown() override {
    if (!server_) return;
    server_->sendSignal(SIGTERM);
    EXPECT_EQ(server_->waitForExit(15000), 0) << server_->output();
  }

  // More configuration sections for a fixture that needs them.
  virtual std::string extraYaml() { return ""; }

  std::string cert() const { return world_->dir().file("tls/service.crt"); }
  std::string url(const std::string& path = "/.well-known/mmm/") const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  int64_t now() const { return std::time(nullptr); }

  // A signed request over `c`; returns the verified response object (status checked).
  json call(HttpsClient& c, const json& request, const mesh::PrivateKey& signer, int status,
            const std::string& account_meta = "") {
    world_->clock().set(now());
    const std::string body = world_->signedRequest(request, signer, "", now(), account_meta);
    const std::string nonce = world_->lastNonce();
    HttpResult r = c.post(body);
    EXPECT_EQ(r.status, status) << r.error << r.body;
    auto opened = MeshWorld::openSignedWith(r.body, nonce, gateway_key_->publicKey(), now());
    EXPECT_TRUE(opened.ok()) << opened.status().toString() << "\n" << r.body;
    if (!opened.ok()) return json();
    const json& inner = opened->begin().value();
    EXPECT_EQ(inner.value("Status", -1), status) << *opened;
    return inner;
  }
  json plain(HttpsClient& c, const json& request, int status) {
    HttpResult r = c.post(request.dump());
    EXPECT_EQ(r.status, status) << r.error << r.body;
    PlainResponse p = parsePlain(r.body);
    EXPECT_EQ(p.object.value("Status", -1), status) << r.body;
    return p.object;
  }
  size_t accountCount() {
    auto list = world_->store().listAccounts();
    return list.ok() ? list->size() : 999;
  }

  int port_ = 0;
  std::unique_ptr<MeshWorld> world_;
  std::unique_ptr<BackgroundProcess> server_;
  std::optional<mesh::PrivateKey> gateway_key_;
};

TEST_F(MeshBinary, SelfSignedPairOnFirstStartAndTlsVersionsSeenByCurlAndOpenssl) {
  struct stat key{};
  ASSERT_EQ(::stat(world_->dir().file("tls/service.key").c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 0777, 0600u);
  // curl with the certificate pinned, checking it names 127.0.0.1.
  auto hello = runProgram({tool("curl"), "-sS", "--cacert", cert(), "-H",
                           "Content-Type: application/json", "--data", "{\"HelloRequest\":{}}",
                           "-w", "\n%{http_code}", url()});
  ASSERT_EQ(hello.exit_code, 0) << hello.err;
  EXPECT_NE(hello.out.find("\"HelloResponse\""), std::string::npos) << hello.out;
  EXPECT_TRUE(hello.out.ends_with("\n201")) << hello.out;
  auto tls12 = runProgram({tool("curl"), "-sS", "--cacert", cert(), "--tlsv1.2", "--tls-max", "1.2",
                           "-o", "/dev/null", "-w", "%{http_code}", url("/healthz")});
  EXPECT_EQ(tls12.out, "200") << tls12.err;
  // TLS 1.0 and 1.1, offered by a client willing to use them: refused by the server.
  for (const char* version : {"1.0", "1.1"}) {
    auto old = runProgram({tool("curl"), "-sS", "-k", "--ciphers", "DEFAULT@SECLEVEL=0",
                           std::string("--tlsv") + version, "--tls-max", version, url("/healthz")});
    EXPECT_NE(old.exit_code, 0) << version << ": " << old.out;
  }
  for (const char* flag : {"-tls1", "-tls1_1"}) {
    auto sc = runProgram({tool("openssl"), "s_client", "-connect", "127.0.0.1:" + std::to_string(port_),
                          flag, "-cipher", "DEFAULT@SECLEVEL=0"},
                         "", 15000);
    EXPECT_NE(sc.exit_code, 0) << flag << ": " << sc.out;
    EXPECT_EQ(sc.out.find("BEGIN CERTIFICATE"), std::string::npos) << flag;
  }
  auto sc13 = runProgram({tool("openssl"), "s_client", "-connect", "127.0.0.1:" + std::to_string(port_),
                          "-tls1_3"},
                         "", 15000);
  EXPECT_NE(sc13.out.find("TLSv1.3"), std::string::npos) << sc13.out;
  // Plain HTTP to the TLS port: no HTTP answer.
  auto clear = runProgram({tool("curl"), "-sS", "--max-time", "5", "-o", "/dev/null", "-w",
                           "%{http_code}", "http://127.0.0.1:" + std::to_string(port_) + "/healthz"});
  EXPECT_NE(clear.out, "200");
  // Bad input through curl: unknown transaction and an oversized body.
  auto unknown = runProgram({tool("curl"), "-sS", "--cacert", cert(), "--data", "{\"FooRequest\":{}}",
                             "-w", "\n%{http_code}", url()});
  EXPECT_NE(unknown.out.find("\n400"), std::string::npos) << unknown.out;
  world_->dir().write("big.json", std::string(2 * 1024 * 1024, ' '));
  auto big = runProgram({tool("curl"), "-sS", "--cacert", cert(), "--data-binary",
                         "@" + world_->dir().file("big.json"), "-w", "\n%{http_code}", url()});
  EXPECT_NE(big.out.find("\n413"), std::string::npos) << big.out << big.err;
  EXPECT_NE(runProgram({tool("curl"), "-sS", "--cacert", cert(), url("/healthz")}).out.find("ok"),
            std::string::npos);
}

TEST_F(MeshBinary, EveryTransactionOverKeepAliveHttps) {
  HttpsClient c(port_, cert());
  const mesh::PrivateKey& admin = world_->adminKey();
  // Hello, ValidateAccount.
  json hello = plain(c, json{{"HelloRequest", json::object()}}, 201);
  ASSERT_TRUE(hello.contains("EnvelopedProfileService"));
  EXPECT_TRUE(plain(c, json{{"ValidateRequest", {{"Account", "alice@example.com"}}}}, 201)["Valid"]);
  // CreateAccount by the administrator.
  call(c, portalRequest("CreateRequest", {{"Account", "carol@example.com"}}), admin, 201);
  EXPECT_TRUE(world_->store().getAccount("carol@example.com").ok());
  // Get by Account and by Identifier (accounts with profiles, as provisioning writes them).
  AccountKeys alice = world_->addAccount("alice@example.com", "contacts-only");
  json got = plain(c, json{{"GetRequest", {{"Account", "alice@example.com"}}}}, 201);
  ASSERT_EQ(got["DataItems"].size(), 1u);
  auto profile = mesh::dareFromJson(got["DataItems"][0]["Envelope"]);
  ASSERT_TRUE(profile.ok());
  mesh::ProfileCheck check;
  check.now = mesh::model::DateTime(std::chrono::seconds(now()));
  check.expected_udf = alice.profile_udf;
  auto verified = mesh::verifyAccountProfileWithEmbeddedService(*profile, check);
  ASSERT_TRUE(verified.ok()) << verified.status().toString();
  json by_id = plain(c, json{{"GetRequest", {{"Identifier", alice.profile_udf}}}}, 201);
  EXPECT_EQ(by_id["DataItems"][0]["Key"], "alice@example.com");
  // Get with KeyValues and SearchConstraints paging, signed by the account.
  for (int i = 0; i < 12; ++i) {
    CatalogEntry e{"alice@example.com", "applications", "app" + std::to_string(10 + i),
                   "{\"i\":" + std::to_string(i) + "}", now(), 0};
    ASSERT_TRUE(world_->store().putEntry(e, std::nullopt).ok());
  }
  json kv = {{"Account", "alice@example.com"},
             {"KeyValues", json::array({{{"Key", "Catalog"}, {"Value", "applications"}}})},
             {"SearchConstraints", {{"MaxEntries", 5}}}};
  std::vector<std::string> keys;
  json page = call(c, portalRequest("GetRequest", kv), alice.authentication, 201);
  for (int pages = 1;; ++pages) {
    for (const auto& item : page["DataItems"]) keys.push_back(item["Key"]);
    if (!page.contains("PageKey")) break;
    ASSERT_LT(pages, 5);
    kv["SearchConstraints"] = {{"MaxEntries", 5}, {"PageKey", page["PageKey"]}};
    page = call(c, portalRequest("GetRequest", kv), alice.authentication, 201);
  }
  ASSERT_EQ(keys.size(), 12u);
  EXPECT_EQ(keys.front(), "app10");
  EXPECT_EQ(keys.back(), "app21");
  // Publish as the account; Get by Identifier finds it.
  call(c, portalRequest("PublishRequest", {{"Entry", {{"Key", "alice-note"}, {"Data", "aGk"}}}}),
       alice.authentication, 201, "alice@example.com");
  EXPECT_EQ(plain(c, json{{"GetRequest", {{"Identifier", "alice-note"}}}}, 201)["DataItems"][0]["Data"],
            "aGk");
  // Post: a stranger to the contacts-only account gets a MessageError; a contact is accepted.
  mesh::PrivateKey remote_service = newSigningKey();
  mesh::PrivateKey stranger = newSigningKey();
  mesh::PrivateKey friend_key = newSigningKey();
  world_->addContact("alice@example.com", "udf:" + keyIdentity(friend_key), {"mesh"});
  json posted =
      call(c,
           portalRequest(
               "PostRequest",
               {{"Account", "alice@example.com"},
                {"Envelopes", json::array({mesh::dareToJson(makeMessageEnvelope(
                                               "EAAA-S1", "eve@evil.example", stranger)),
                                           mesh::dareToJson(makeMessageEnvelope(
                                               "EAAA-F1", "fred@friends.example", friend_key))})}}),
           remote_service, 201);
  EXPECT_EQ(posted["Accepted"], json::array({"EAAA-F1"})) << posted;
  EXPECT_EQ(posted["Rejected"], json::array({"EAAA-S1"}));
  EXPECT_EQ(posted["Errors"][0]["ErrorCode"], "ContactRequired");
  EXPECT_TRUE(world_->store().getEntry("alice@example.com", "inbound", "EAAA-F1").ok());
  EXPECT_FALSE(world_->store().getEntry("alice@example.com", "inbound", "EAAA-S1").ok());
  // Connect a device.
  mesh::PrivateKey device = newSigningKey();
  std::vector<mesh::PrivateKey> dev{device};
  auto rc = mesh::sealAssertionJson(
      json{{"RequestConnection", {{"MessageID", "NCON-BIN-1"}, {"AccountAddress", "alice@example.com"}}}}
          .dump(),
      dev);
  ASSERT_TRUE(rc.ok());
  call(c,
       portalRequest("ConnectStartRequest", {{"AccountID", "alice@example.com"},
                                             {"SignedRequest", mesh::dareToJson(*rc)}}),
       device, 201);
  EXPECT_EQ(call(c, portalRequest("ConnectPendingRequest", {{"AccountID", "alice@example.com"}}),
                 alice.authentication, 201)["Pending"]
                .size(),
            1u);
  std::vector<mesh::PrivateKey> adm{alice.administration};
  auto result = mesh::sealAssertionJson(
      json{{"RespondConnection",
            {{"MessageID", "NRES-BIN-1"},
             {"Result", "Accept"},
             {"References", json::array({{{"MessageID", "NCON-BIN-1"}}})},
             {"CatalogedDevice", {{"UDF", device.kid()}}}}}}
          .dump(),
      adm);
  ASSERT_TRUE(result.ok());
  call(c,
       portalRequest("ConnectCompleteRequest",
                     {{"AccountID", "alice@example.com"}, {"Result", mesh::dareToJson(*result)}}),
       alice.authentication, 201);
  json status = call(c,
                     portalRequest("ConnectStatusRequest", {{"AccountID", "alice@example.com"},
                                                            {"DeviceID", device.kid()}}),
                     device, 201);
  EXPECT_TRUE(status.contains("Result"));
  // Status: the last signed checkpoint, made by `meshgate audit checkpoint` on the same store.
  auto made = runMeshgate({"audit", "checkpoint", "--config", world_->dir().file("meshgate.yaml")});
  ASSERT_EQ(made.exit_code, 0) << made.err << made.out;
  json st = call(c, portalRequest("StatusRequest"), newSigningKey(), 201);
  ASSERT_TRUE(st.contains("CheckpointValue")) << st;
  auto checkpoint = world_->store().latestCheckpoint();
  ASSERT_TRUE(checkpoint.ok() && checkpoint->has_value());
  AuditCheckpoint returned = **checkpoint;
  returned.signature = st["CheckpointValue"];
  EXPECT_TRUE(policy::verifyAuditCheckpoint(returned, gateway_key_->publicKey()).ok());
  EXPECT_TRUE(st.contains("LastWriteTime") && st.contains("NextCheckpointTime"));
  // Transfer: the administrator only.
  call(c, portalRequest("TransferRequest"), alice.authentication, 401);
  json transfer =
      call(c, portalRequest("TransferRequest", {{"SearchConstraints", {{"MaxEntries", 2}}}}), admin,
           201);
  EXPECT_EQ(transfer["DataItems"].size(), 2u);
  EXPECT_TRUE(transfer.contains("PageKey"));
  // DeleteAccount by the account itself.
  call(c, portalRequest("DeleteRequest", {{"Account", "carol@example.com"}}), alice.authentication,
       401);
  call(c, portalRequest("DeleteRequest", {{"Account", "carol@example.com"}}), admin, 201);
  EXPECT_FALSE(world_->store().getAccount("carol@example.com").ok());

  // Every request above was counted.
  HttpResult metrics = c.request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* series :
       {"meshgate_mesh_requests_total{transaction=\"HelloRequest\",status=\"201\"}",
        "meshgate_mesh_requests_total{transaction=\"PostRequest\",status=\"201\"}",
        "meshgate_mesh_requests_total{transaction=\"TransferRequest\",status=\"401\"}",
        "meshgate_mesh_requests_total{transaction=\"GetRequest\",status=\"201\"}"}) {
    EXPECT_GE(metricValue(metrics.body, series), 1) << series << "\n" << metrics.body;
  }
  EXPECT_GE(metricValue(metrics.body, "meshgate_request_seconds_count{frontend=\"mesh\"}"), 20);
}

TEST_F(MeshBinary, UnauthenticatedRequestsGet401AndChangeNothing) {
  HttpsClient c(port_, cert());
  AccountKeys alice = world_->addAccount("alice@example.com");
  auto audit_count = [&] { return world_->auditCount(); };
  const size_t accounts = accountCount();
  const int64_t audit = audit_count();
  json del = portalRequest("DeleteRequest", {{"Account", "alice@example.com"}});
  // Unsigned.
  plain(c, del, 401);
  // Signed by a key that is not alice's.
  call(c, del, newSigningKey(), 401);
  // Expired and future timestamps, correctly signed by alice.
  for (int64_t skew : {-400, 400}) {
    const std::string body = world_->signedRequest(del, alice.authentication, "", now() + skew);
    HttpResult r = c.post(body);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_TRUE(
        MeshWorld::openSignedWith(r.body, world_->lastNonce(), gateway_key_->publicKey(), now()).ok());
  }
  EXPECT_EQ(accountCount(), accounts);
  EXPECT_EQ(audit_count(), audit);
  // Replayed: the first use works, the same bytes again are refused.
  const std::string create =
      world_->signedRequest(portalRequest("CreateRequest", {{"Account", "dave@example.com"}}),
                            world_->adminKey(), "", now());
  ASSERT_EQ(c.post(create).status, 201);
  ASSERT_EQ(world_->store().deleteAccount("dave@example.com").ok(), true);
  const int64_t audit_after = audit_count();
  HttpResult replay = c.post(create);
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_FALSE(world_->store().getAccount("dave@example.com").ok());
  EXPECT_EQ(audit_count(), audit_after);
  // A response cannot be passed off as the answer to another request.
  const std::string hello =
      world_->signedRequest(portalRequest("HelloRequest"), newSigningKey(), "", now());
  const std::string hello_nonce = world_->lastNonce();
  HttpResult h = c.post(hello);
  ASSERT_EQ(h.status, 201);
  EXPECT_TRUE(MeshWorld::openSignedWith(h.body, hello_nonce, gateway_key_->publicKey(), now()).ok());
  EXPECT_FALSE(
      MeshWorld::openSignedWith(h.body, meshsvc::newNonce(), gateway_key_->publicKey(), now()).ok());
}

// Mesh -> SMTP end to end (issue 7 item 2): the real binary with mesh_to_smtp enabled and a real
// Postfix smtp-sink as the local MTA. A Post accepted for a local account arrives once as mail
// with a security signal; the same envelope posted again (a sender's retry after the first was
// delivered) is recognised and not delivered twice.
class MeshToSmtpBinary : public MeshBinary {
 protected:
  void SetUp() override {
    struct passwd* postfix = ::getpwnam("postfix");
    if (::geteuid() != 0 || ::access(kSink, X_OK) != 0 || !postfix) {
      GTEST_SKIP() << "needs root and Postfix's smtp-sink (scripts/deps --test)";
    }
    dump_ = std::filesystem::temp_directory_path() /
            ("mg-mesh-smtp-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dump_);
    std::filesystem::create_directories(dump_);
    ASSERT_EQ(::chown(dump_.c_str(), postfix->pw_uid, postfix->pw_gid), 0);
    sink_port_ = testing::freeTcpPort();
    sink_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        kSink, "-u", "postfix", "-d", (dump_ / "%M%S.").string(),
        "127.0.0.1:" + std::to_string(sink_port_), "16"});
    int fd = testing::connectTcp(sink_port_, 10000);
    ASSERT_GE(fd, 0) << "smtp-sink does not listen: " << sink_->output();
    ::close(fd);
    MeshBinary::SetUp();
  }
  void TearDown() override {
    MeshBinary::TearDown();
    sink_.reset();
    if (!dump_.empty()) std::filesystem::remove_all(dump_);
  }
  std::string extraYaml() override {
    return "mesh_to_smtp:\n  enabled: true\n  interval: 1s\n  timeout: 10s\n  server: 127.0.0.1:" +
           std::to_string(sink_port_) + "\n";
  }
  std::vector<std::string> dumps() {
    std::vector<std::string> all;
    for (const auto& e : std::filesystem::directory_iterator(dump_)) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      all.push_back(text.str());
    }
    return all;
  }
  bool waitFor(const std::function<bool()>& done) {
    return meshgate::testing::waitUntil(done, 15000, 100);
  }

  static constexpr const char* kSink = "/usr/sbin/smtp-sink";
  std::filesystem::path dump_;
  int sink_port_ = 0;
  std::unique_ptr<BackgroundProcess> sink_;
};

TEST_F(MeshToSmtpBinary, APostedMessageArrivesAtTheMtaOnce) {
  HttpsClient c(port_, cert());
  world_->addAccount("alice@example.com", "contacts-only");
  mesh::PrivateKey remote_service = newSigningKey();
  mesh::PrivateKey friend_key = newSigningKey();
  world_->addContact("alice@example.com", "udf:" + keyIdentity(friend_key), {"mesh"});
  const json post = portalRequest(
      "PostRequest", {{"Account", "alice@example.com"},
                      {"Envelopes", json::array({mesh::dareToJson(makeMessageEnvelope(
                                        "EAAA-M2S", "fred@friends.example", friend_key))})}});
  EXPECT_EQ(call(c, post, remote_service, 201)["Accepted"], json::array({"EAAA-M2S"}));
  auto gone = [&] { return !world_->store().getEntry("alice@example.com", "inbound", "EAAA-M2S").ok(); };
  ASSERT_TRUE(waitFor([&] { return dumps().size() == 1 && gone(); }))
      << dumps().size() << " message(s) at the sink\n" << server_->output();
  const std::string mail = dumps()[0];
  EXPECT_NE(mail.find("Mesh-Envelope-Id: EAAA-M2S"), std::string::npos) << mail;
  EXPECT_NE(mail.find("Mesh-Message-Type: MessageMail"), std::string::npos) << mail;
  EXPECT_NE(mail.find("Mesh-Security-Signal: v=1;"), std::string::npos) << mail;
  EXPECT_NE(mail.find("contact=known-contact"), std::string::npos) << mail;
  EXPECT_TRUE(server_->waitForOutput("action=delivered"));

  // The sender retries the same envelope: accepted again, recognised as delivered, not sent.
  EXPECT_EQ(call(c, post, remote_service, 201)["Accepted"], json::array({"EAAA-M2S"}));
  EXPECT_TRUE(server_->waitForOutput("action=duplicate", 15000)) << server_->output();
  EXPECT_TRUE(waitFor(gone));
  EXPECT_EQ(dumps().size(), 1u) << "delivered twice";
}

}  // namespace
}  // namespace meshgate::meshtest
