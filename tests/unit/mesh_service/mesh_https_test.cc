// The Mesh service's HTTPS front-end in process, on an ephemeral port, with real TLS clients
// (Poco HTTPSClientSession, raw OpenSSL): protocol versions, the self-signed pair, keep-alive,
// routes, /healthz, /metrics, and every limit (400, 405, 408, 413, 503) answered clearly
// without a crash or a half-written change.
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "gateway/config/config_loader.h"
#include "gateway/policy/quarantine_confirmation.h"
#include "policy/mesh_service.h"
#include "tests/support/background_process.h"
#include "tests/support/subprocess.h"
#include "tests/unit/mesh_service/https_client.h"
#include "tests/unit/mesh_service/mesh_test_world.h"

namespace meshgate::meshtest {
namespace {

using nlohmann::json;
using ::testing::NiceMock;
using ::testing::Return;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string httpPost(const std::string& body, const std::string& extra_headers = "") {
  return "POST /.well-known/mmm/ HTTP/1.1\r\nHost: example.com\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

class HttpsService : public ::testing::Test {
 protected:
  // Starts the service on an ephemeral port. `tweak` edits the loaded configuration.
  void start(const std::string& mesh_yaml = "",
             const std::function<void(config::Config&)>& tweak = {}, Store* store = nullptr) {
    world_ = std::make_unique<MeshWorld>(mesh_yaml);
    auto c = std::make_shared<config::Config>(world_->config());
    c->mesh_service.listen.port = 0;
    if (tweak) tweak(*c);
    policy::MeshServiceEnv env;
    Store* s = store != nullptr ? store : &world_->store();
    env.store = [s] { return s; };
    env.clock = &world_->clock();
    auto engine = world_->engine();
    env.engine = [engine] { return engine; };
    auto key = world_->serviceKeyPtr();
    env.service_key = [key] { return key; };
    env.listening = [this](uint16_t p) { port_ = p; };
    service_ = policy::makeMeshService(std::move(env));
    start_status_ = service_->start(c);
  }
  void TearDown() override {
    if (service_) service_->stop();
  }
  std::string certFile() const { return world_->dir().file("tls/service.crt"); }
  std::string keyFile() const { return world_->dir().file("tls/service.key"); }
  HttpsClient client() { return HttpsClient(port_, certFile()); }
  // The answer to a HelloRequest on a new raw connection (from `source`, a local address, when
  // given), or why there was none.
  std::string helloOnNewConnection(const std::string& source = "") {
    RawTls tls;
    if (!source.empty()) tls.setSource(source);
    if (!tls.connect(port_)) return "connect failed: " + tls.error();
    if (!tls.write(httpPost("{\"HelloRequest\":{}}", "Connection: close\r\n"))) {
      return "write failed";
    }
    return tls.readAll(5000);
  }
  // A HelloRequest on new connections until one is served: the server releases a closed
  // connection's place a moment after the close.
  HttpResult helloOnceServed() {
    HttpResult fresh;
    for (int i = 0; i < 50 && fresh.status != 201; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      HttpsClient n = client();
      fresh = n.post("{\"HelloRequest\":{}}");
    }
    return fresh;
  }

  std::unique_ptr<MeshWorld> world_;
  std::unique_ptr<Service> service_;
  Status start_status_;
  int port_ = 0;
};

// ---- TLS ------------------------------------------------------------------------------------

TEST_F(HttpsService, FirstStartCreatesASelfSignedPairWithAPrivateKey) {
  start();
  ASSERT_TRUE(start_status_.ok()) << start_status_.toString();
  struct stat key{};
  ASSERT_EQ(::stat(keyFile().c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 0777, 0600u);
  const std::string cert = readFile(certFile());
  EXPECT_TRUE(cert.starts_with("-----BEGIN CERTIFICATE-----")) << cert;
  // The client that pins this certificate gets an answer.
  HttpsClient c = client();
  HttpResult r = c.post("{\"HelloRequest\":{}}");
  EXPECT_EQ(r.status, 201) << r.error << r.body;
  // A second start keeps the pair it finds.
  service_->stop();
  service_ = nullptr;
  const std::string key_text = readFile(keyFile());
  auto c2 = std::make_shared<config::Config>(world_->config());
  c2->mesh_service.listen.port = 0;
  policy::MeshServiceEnv env;
  Store* s = &world_->store();
  env.store = [s] { return s; };
  env.clock = &world_->clock();
  auto engine = world_->engine();
  env.engine = [engine] { return engine; };
  auto service_key = world_->serviceKeyPtr();
  env.service_key = [service_key] { return service_key; };
  env.listening = [this](uint16_t p) { port_ = p; };
  service_ = policy::makeMeshService(std::move(env));
  ASSERT_TRUE(service_->start(c2).ok());
  EXPECT_EQ(readFile(certFile()), cert);
  EXPECT_EQ(readFile(keyFile()), key_text);
  EXPECT_EQ(client().post("{\"HelloRequest\":{}}").status, 201);
}

TEST_F(HttpsService, OnlyTls12AndLaterAreAccepted) {
  start();
  ASSERT_TRUE(start_status_.ok()) << start_status_.toString();
  struct Case {
    int version;
    bool accepted;
    const char* name;
  } cases[] = {{TLS1_VERSION, false, "TLSv1"},
               {TLS1_1_VERSION, false, "TLSv1.1"},
               {TLS1_2_VERSION, true, "TLSv1.2"},
               {TLS1_3_VERSION, true, "TLSv1.3"}};
  for (const auto& c : cases) {
    RawTls tls;
    bool ok = tls.connect(port_, c.version, c.version);
    EXPECT_EQ(ok, c.accepted) << c.name << ": " << tls.error();
    if (ok) {
      EXPECT_EQ(tls.version(), c.name);
      ASSERT_TRUE(tls.write(httpPost("{\"HelloRequest\":{}}", "Connection: close\r\n")));
      EXPECT_TRUE(tls.readAll(5000).starts_with("HTTP/1.1 201 ")) << c.name;
    }
  }
  // A client offering TLS 1.0 to 1.3 gets 1.3.
  RawTls any;
  ASSERT_TRUE(any.connect(port_, TLS1_VERSION, TLS1_3_VERSION)) << any.error();
  EXPECT_EQ(any.version(), "TLSv1.3");
}

TEST_F(HttpsService, PlainHttpOnTheTlsPortGetsNoHttpAnswer) {
  start();
  ASSERT_TRUE(start_status_.ok());
  RawTls plain;
  ASSERT_TRUE(plain.connectPlain(port_));
  ASSERT_TRUE(plain.write("GET /healthz HTTP/1.1\r\nHost: example.com\r\n\r\n"));
  EXPECT_EQ(plain.readAll(3000).find("HTTP/1.1 200"), std::string::npos);
  // And the server is fine.
  EXPECT_EQ(client().request("GET", "/healthz").status, 200);
}

TEST_F(HttpsService, PlainHttpOnlyWhenConfiguredAndOnlyOnLoopback) {
  // The loader refuses it on another address, naming the key.
  testing::TempDir dir;
  auto loaded = config::loadConfigString(
      worldYaml(dir, dir.file("admin.pub"), "  plain_http: true\n  listen: 0.0.0.0:15099\n"),
      "meshgate.yaml");
  ASSERT_FALSE(loaded.ok());
  bool named = false;
  for (const auto& e : loaded.errors) named |= e.find("plain_http") != std::string::npos;
  EXPECT_TRUE(named);
  // A Config built in code with it is refused by the service too.
  start("", [](config::Config& c) {
    c.mesh_service.plain_http = true;
    c.mesh_service.listen.host = "0.0.0.0";
  });
  EXPECT_EQ(start_status_.code(), StatusCode::kFailedPrecondition) << start_status_.toString();
  service_ = nullptr;
  // On loopback, configured: plain HTTP works and no certificate is created.
  start("  plain_http: true\n");
  ASSERT_TRUE(start_status_.ok()) << start_status_.toString();
  HttpsClient plain(port_, "", /*tls=*/false);
  EXPECT_EQ(plain.post("{\"HelloRequest\":{}}").status, 201);
  struct stat st{};
  EXPECT_NE(::stat(keyFile().c_str(), &st), 0);
}

TEST_F(HttpsService, APortAnotherProgramListensOnIsAnErrorNotShared) {
  // Postfix's master and smtp-sink listen with SO_REUSEPORT; a listener that set it too would
  // bind the same port and take some of its connections, without a word.
  testing::ReusePortListener other;
  ASSERT_GT(other.port(), 0);
  const int taken = other.port();
  start("", [taken](config::Config& c) { c.mesh_service.listen.port = taken; });
  EXPECT_EQ(start_status_.code(), StatusCode::kUnavailable) << start_status_.toString();
  EXPECT_NE(start_status_.message().find("cannot listen on 127.0.0.1:" + std::to_string(taken)),
            std::string::npos)
      << start_status_.toString();
  service_ = nullptr;
  // The plain-HTTP listener the same.
  start("  plain_http: true\n", [taken](config::Config& c) { c.mesh_service.listen.port = taken; });
  EXPECT_EQ(start_status_.code(), StatusCode::kUnavailable) << start_status_.toString();
}

// ---- requests, routes, keep-alive -------------------------------------------------------------

TEST_F(HttpsService, ManyRequestsOnOneKeptAliveConnection) {
  start();
  ASSERT_TRUE(start_status_.ok());
  world_->addAccount("alice@example.com");
  HttpsClient c = client();
  HttpResult first = c.post("{\"HelloRequest\":{}}");
  ASSERT_EQ(first.status, 201) << first.error;
  EXPECT_EQ(first.content_type, "application/json");
  const int local = c.localPort();
  ASSERT_NE(local, 0);
  for (int i = 0; i < 20; ++i) {
    HttpResult r = c.post("{\"GetRequest\":{\"Account\":\"alice@example.com\"}}");
    ASSERT_EQ(r.status, 201) << r.error << r.body;
    EXPECT_EQ(parsePlain(r.body).type, "GetResponse");
  }
  EXPECT_EQ(c.localPort(), local);  // the same connection throughout
  // The payload status is mirrored by HTTP for errors too, on the same connection.
  HttpResult missing = c.post("{\"GetRequest\":{\"Account\":\"nobody@example.com\"}}");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(parsePlain(missing.body).object["Status"], 404);
  EXPECT_EQ(c.localPort(), local);
}

TEST_F(HttpsService, RoutesMethodsAndHealth) {
  start();
  ASSERT_TRUE(start_status_.ok());
  HttpsClient c = client();
  HttpResult r = c.request("GET", "/.well-known/mmm/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "POST");
  EXPECT_EQ(parsePlain(r.body).object["Status"], 405);
  EXPECT_EQ(c.post("{\"HelloRequest\":{}}", "/.well-known/mmm").status, 201);
  EXPECT_EQ(c.post("{\"HelloRequest\":{}}", "/.well-known/mmm/HelloRequest?x=1").status, 201);
  r = c.request("GET", "/nowhere");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(parsePlain(r.body).object["Status"], 404);
  r = c.request("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["Status"], "ok");
  r = c.request("HEAD", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  r = c.post("{}", "/healthz");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "GET,HEAD");
}

// A store that answers nothing: every call the service makes at start fails as a lost
// connection would (the service starts regardless and says so where it is asked).
void answerNothing(testing::MockStore& down) {
  ON_CALL(down, getEntry(::testing::_, ::testing::_, ::testing::_))
      .WillByDefault(Return(Result<CatalogEntry>(unavailable("database connection lost"))));
  ON_CALL(down, putEntry(::testing::_, ::testing::_))
      .WillByDefault(Return(Result<int64_t>(unavailable("database connection lost"))));
}

TEST_F(HttpsService, HealthIs503WhenTheStoreDoesNotAnswer) {
  NiceMock<testing::MockStore> down;
  answerNothing(down);
  ON_CALL(down, ping()).WillByDefault(Return(unavailable("database connection lost")));
  start("", {}, &down);
  ASSERT_TRUE(start_status_.ok()) << start_status_.toString();
  HttpResult r = client().request("GET", "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(parsePlain(r.body).object["Status"], 503);
}

TEST_F(HttpsService, MetricsCountRequestsByTransactionAndStatus) {
  start();
  ASSERT_TRUE(start_status_.ok());
  HttpsClient c = client();
  const std::string hello = "meshgate_mesh_requests_total{transaction=\"HelloRequest\",status=\"201\"}";
  const std::string bad = "meshgate_mesh_requests_total{transaction=\"none\",status=\"400\"}";
  const std::string latency = "meshgate_request_seconds_count{frontend=\"mesh\"}";
  HttpResult before = c.request("GET", "/metrics");
  ASSERT_EQ(before.status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.post("{\"HelloRequest\":{}}").status, 201);
  ASSERT_EQ(c.post("{\"NoSuchRequest\":{}}").status, 400);
  ASSERT_EQ(c.post("{\"FakeRequest\":").status, 400);
  HttpResult after = c.request("GET", "/metrics");
  ASSERT_EQ(after.status, 200);
  EXPECT_TRUE(after.content_type.starts_with("text/plain; version=0.0.4")) << after.content_type;
  EXPECT_EQ(metricValue(after.body, hello) - metricValue(before.body, hello), 3) << after.body;
  EXPECT_EQ(metricValue(after.body, bad) - metricValue(before.body, bad), 2) << after.body;
  EXPECT_EQ(metricValue(after.body, latency) - metricValue(before.body, latency), 5);
  EXPECT_NE(after.body.find("# TYPE meshgate_request_seconds histogram"), std::string::npos);
  // Made-up type names do not become label values.
  EXPECT_EQ(after.body.find("NoSuchRequest"), std::string::npos);
}

// ---- bad input ---------------------------------------------------------------------------------

TEST_F(HttpsService, MalformedRequestsAre400AndTheServerCarriesOn) {
  start();
  ASSERT_TRUE(start_status_.ok());
  HttpsClient c = client();
  for (const char* body : {"", "{", "[1,2]", "{\"NoSuchRequest\":{}}", "\x01\x02\xff"}) {
    HttpResult r = c.post(body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.error;
    EXPECT_EQ(parsePlain(r.body).object["Status"], 400) << r.body;
  }
  // Malformed HTTP: a clear 400 and the connection closed.
  for (const std::string& raw :
       {std::string("GARBAGE\r\n\r\n"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        std::string(
            "POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                    "chunked\r\n\r\nZZ\r\n"),
        // Framing a proxy in front could read otherwise (request smuggling), which Poco's
        // parser alone accepted: each a 400.
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                    "Content-Length: 19\r\n\r\n{\"HelloRequest\":{}}"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1,9\r\n\r\n"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nContent-Length: +19\r\n\r\n"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\n"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : "
                    "chunked\r\n\r\n0\r\n\r\n"),
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                    "Transfer-Encoding: identity\r\n\r\n0\r\n\r\n"),
        // No Host (required in HTTP/1.1): was no answer at all and an error in the log.
        std::string("POST /.well-known/mmm/ HTTP/1.1\r\nContent-Length: 19\r\n\r\n"
                    "{\"HelloRequest\":{}}")}) {
    RawTls tls;
    ASSERT_TRUE(tls.connect(port_)) << tls.error();
    ASSERT_TRUE(tls.write(raw));
    std::string answer = tls.readAll(5000);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << raw << " -> " << answer;
    EXPECT_NE(answer.find("\"Status\":400"), std::string::npos) << answer;
  }
  // HTTP/1.0 has no Host requirement: served.
  RawTls old_client;
  ASSERT_TRUE(old_client.connect(port_)) << old_client.error();
  ASSERT_TRUE(
      old_client.write("POST /.well-known/mmm/ HTTP/1.0\r\nContent-Length: 19\r\n\r\n"
                       "{\"HelloRequest\":{}}"));
  std::string answer = old_client.readAll(5000);
  EXPECT_NE(answer.find(" 201 "), std::string::npos) << answer;
  EXPECT_EQ(c.post("{\"HelloRequest\":{}}").status, 201);
}

TEST_F(HttpsService, BodyOverTheDefaultLimitIs413BeforeItIsRead) {
  start();
  ASSERT_TRUE(start_status_.ok());
  EXPECT_EQ(world_->config().mesh_service.max_body_bytes, 1024u * 1024u);  // the default
  // Announced too large: answered at once, without sending the body.
  RawTls tls;
  ASSERT_TRUE(tls.connect(port_)) << tls.error();
  ASSERT_TRUE(tls.write("POST /.well-known/mmm/ HTTP/1.1\r\nHost: example.com\r\n"
                        "Content-Length: 1048577\r\n\r\n"));
  std::string answer = tls.readAll(5000);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
  EXPECT_NE(answer.find("\"Status\":413"), std::string::npos);
  // Exactly the limit is served: a Hello padded with spaces to 1 MiB.
  std::string body = "{\"HelloRequest\":{}}";
  body.resize(1024 * 1024, ' ');
  HttpsClient c = client();
  EXPECT_EQ(c.post(body).status, 201);
  body.push_back(' ');
  HttpResult over = c.post(body);
  EXPECT_EQ(over.status, 413) << over.error;
}

TEST_F(HttpsService, ChunkedBodyOverTheLimitIs413AndNothingIsWritten) {
  start("  max_body_bytes: 4k\n");
  ASSERT_TRUE(start_status_.ok());
  // An administrator's valid CreateAccount, padded past the limit in chunks.
  std::string create = world_->signedRequest(
      json{{"CreateRequest", {{"Account", "big@example.com"}, {"Portal", "example.com"}}}},
      world_->adminKey());
  create.resize(6000, ' ');
  std::string chunked;
  for (size_t i = 0; i < create.size(); i += 1000) {
    std::string part = create.substr(i, 1000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", part.size());
    chunked += std::string(size) + "\r\n" + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  RawTls tls;
  ASSERT_TRUE(tls.connect(port_));
  ASSERT_TRUE(tls.write("POST /.well-known/mmm/ HTTP/1.1\r\nHost: example.com\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n" + chunked));
  EXPECT_TRUE(tls.readAll(5000).starts_with("HTTP/1.1 413 "));
  EXPECT_FALSE(world_->store().getAccount("big@example.com").ok());
  EXPECT_EQ(world_->auditCount(), 0);
}

TEST_F(HttpsService, EmptyLinesBeforeARequestAndOneByteChunksAreServed) {
  start();
  ASSERT_TRUE(start_status_.ok());
  // A Hello padded to 3000 bytes, sent one byte a chunk, after three empty lines (RFC 9112
  // 2.2 says a server should ignore at least one).
  std::string body = "{\"HelloRequest\":{}}";
  body.resize(3000, ' ');
  std::string chunked;
  for (char c : body) chunked += std::string("1\r\n") + c + "\r\n";
  chunked += "0\r\n\r\n";
  RawTls tls;
  ASSERT_TRUE(tls.connect(port_)) << tls.error();
  ASSERT_TRUE(
      tls.write("\r\n\r\n\r\nPOST /.well-known/mmm/ HTTP/1.1\r\nHost: example.com\r\n"
                "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
                chunked));
  std::string answer = tls.readAll(5000);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 201 ")) << answer;
  EXPECT_NE(answer.find("HelloResponse"), std::string::npos) << answer;
}

TEST_F(HttpsService, EmptyLinesCountTowardTheHeadLimit) {
  start();
  ASSERT_TRUE(start_status_.ok());
  // More empty lines than a head may hold (32 KiB), and no request: refused, not read for
  // ever (the request timeout would otherwise be the only bound).
  RawTls tls;
  ASSERT_TRUE(tls.connect(port_)) << tls.error();
  std::string lines;
  for (int i = 0; i < 17 * 1024; ++i) lines += "\r\n";
  ASSERT_TRUE(tls.write(lines));
  std::string answer = tls.readAll(5000);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
  EXPECT_NE(answer.find("request head is larger than"), std::string::npos) << answer;
}

TEST_F(HttpsService, SlowClientsGet408AndTruncatedRequestsChangeNothing) {
  start("  request_timeout: 600ms\n");
  ASSERT_TRUE(start_status_.ok());
  const std::string create = world_->signedRequest(
      json{{"CreateRequest", {{"Account", "slow@example.com"}, {"Portal", "example.com"}}}},
      world_->adminKey());
  const std::string request = httpPost(create);
  // Trickled: a few bytes every 100 ms never completes the request in time.
  {
    // (If each read got the timeout afresh, the whole request would arrive and be served.)
    RawTls tls;
    ASSERT_TRUE(tls.connect(port_));
    std::string answer;
    size_t sent = 0;
    for (; sent < request.size() && answer.empty(); sent += 8) {
      if (!tls.write(request.substr(sent, 8))) break;
      answer = tls.readUntil("\r\n", 100);
    }
    if (answer.empty()) answer = tls.readAll(3000);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 408 ")) << answer;
    EXPECT_LT(sent, request.size());
  }
  // Connected, handshaken, silent.
  {
    RawTls tls;
    ASSERT_TRUE(tls.connect(port_));
    EXPECT_TRUE(tls.readAll(5000).starts_with("HTTP/1.1 408 "));
  }
  // Head sent, half the body, then silence; and half the body, then a close.
  {
    RawTls tls;
    ASSERT_TRUE(tls.connect(port_));
    ASSERT_TRUE(tls.write(request.substr(0, request.size() / 2)));
    EXPECT_TRUE(tls.readAll(5000).starts_with("HTTP/1.1 408 "));
    RawTls cut;
    ASSERT_TRUE(cut.connect(port_));
    ASSERT_TRUE(cut.write(request.substr(0, request.size() - 10)));
    cut.close();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(world_->store().getAccount("slow@example.com").ok());
  EXPECT_EQ(world_->auditCount(), 0);
  // The same request sent whole is served.
  HttpsClient c = client();
  EXPECT_EQ(c.post(create).status, 201);
  EXPECT_TRUE(world_->store().getAccount("slow@example.com").ok());
}

TEST_F(HttpsService, ATrickledHandshakeCannotHoldAWorkerPastTheRequestTimeout) {
  // A TLS record header announcing a 512-byte handshake message, then one byte every 200 ms:
  // OpenSSL waits for the whole record, and each byte used to restart the socket's receive
  // timeout, so the connection (and its worker thread) lived as long as the client trickled.
  start("  request_timeout: 600ms\n");
  ASSERT_TRUE(start_status_.ok());
  RawTls trickler;
  ASSERT_TRUE(trickler.connectPlain(port_)) << trickler.error();
  ASSERT_TRUE(trickler.write(std::string("\x16\x03\x01\x02\x00", 5)));
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {  // 10 s of trickling at most
    closed = trickler.closedByPeer(200);
    if (!closed) (void)trickler.write(std::string(1, '\x01'));
  }
  EXPECT_TRUE(closed) << "still open after 10 s of one byte every 200 ms (request_timeout 600ms)";
  // The service is still there for others.
  EXPECT_EQ(client().post("{\"HelloRequest\":{}}").status, 201);
}

TEST_F(HttpsService, ConnectionsOverTheLimitGet503UntilOneCloses) {
  start("  max_connections: 2\n");
  ASSERT_TRUE(start_status_.ok());
  HttpsClient a = client();
  HttpsClient b = client();
  ASSERT_EQ(a.post("{\"HelloRequest\":{}}").status, 201);  // both kept open
  ASSERT_EQ(b.post("{\"HelloRequest\":{}}").status, 201);
  std::string answer = helloOnNewConnection();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 503 ")) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos);
  EXPECT_NE(answer.find("\"Status\":503"), std::string::npos);
  // The admitted connections still work; when one goes, a newcomer is served.
  EXPECT_EQ(a.post("{\"HelloRequest\":{}}").status, 201);
  b = client();  // closes b's connection
  HttpResult fresh = helloOnceServed();
  EXPECT_EQ(fresh.status, 201) << fresh.error << fresh.body;
}

TEST_F(HttpsService, OneAddressCannotHoldMoreThanItsShareOfConnections) {
  // Slowloris: silent connections each hold a worker thread until request_timeout. One
  // address gets max_connections_per_client of them (max_connections, 256, is far off);
  // other addresses are still served.
  start("  max_connections_per_client: 2\n");
  ASSERT_TRUE(start_status_.ok());
  RawTls silent1;
  RawTls silent2;
  ASSERT_TRUE(silent1.connect(port_)) << silent1.error();
  ASSERT_TRUE(silent2.connect(port_)) << silent2.error();
  std::string answer = helloOnNewConnection();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 503 ")) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos);

  answer = helloOnNewConnection("127.0.0.2");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 201 ")) << answer;

  // Once one of its connections closes, the first address may open another.
  silent1.close();
  HttpResult fresh = helloOnceServed();
  EXPECT_EQ(fresh.status, 201) << fresh.error << fresh.body;
}

TEST_F(HttpsService, AReloadCannotRaiseMaxConnectionsAboveItsValueAtStart) {
  start("  max_connections: 2\n");
  ASSERT_TRUE(start_status_.ok());
  // The dispatcher queue was sized at start; admitting more would overflow it, and Poco drops
  // an overflow without a reply. The reload says so, applies the rest and holds the limit.
  auto raised = std::make_shared<config::Config>(world_->config());
  raised->mesh_service.listen.port = 0;  // as at start
  raised->mesh_service.max_connections = 5;
  Status reloaded = service_->reload(raised);
  EXPECT_EQ(reloaded.code(), StatusCode::kFailedPrecondition) << reloaded.toString();
  EXPECT_NE(reloaded.toString().find("restart meshgate to apply"), std::string::npos)
      << reloaded.toString();
  HttpsClient a = client();
  HttpsClient b = client();
  ASSERT_EQ(a.post("{\"HelloRequest\":{}}").status, 201);
  ASSERT_EQ(b.post("{\"HelloRequest\":{}}").status, 201);
  std::string answer = helloOnNewConnection();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 503 ")) << answer;
  // Lowering it is applied at once; with a listen change too, the reload names both.
  auto lowered = std::make_shared<config::Config>(*raised);
  lowered->mesh_service.max_connections = 1;
  EXPECT_TRUE(service_->reload(lowered).ok());
  raised->mesh_service.listen.host = "127.0.0.2";
  reloaded = service_->reload(raised);
  EXPECT_NE(reloaded.toString().find("changed and max_connections was raised"), std::string::npos)
      << reloaded.toString();
}

// ---- /quarantine/confirm -----------------------------------------------------------------

class QuarantinePage : public HttpsService {
 protected:
  void SetUp() override {
    start();
    ASSERT_TRUE(start_status_.ok()) << start_status_.toString();
    hold("5PAY1", "payment request from a first contact");
    hold("5LOOK2", "payment request; lookalike-domain");
  }
  void hold(const std::string& id, const std::string& reason) {
    QuarantineRecord q;
    q.id = q.queue_id = id;
    q.message_id = "<" + id + "@billing.example.net>";
    q.sender = "billing@example.net";
    q.recipients = "bob@example.com";
    q.reason = reason;
    q.subject = "Invoice <42> & new bank details";
    q.time = 1'800'000'000;
    q.state = "held";
    ASSERT_TRUE(world_->store().putQuarantine(q).ok());
  }
  std::string code(const std::string& id, const std::string& rcpt = "bob@example.com") {
    // A code is over the held message; one not in the store gets a code over its id alone
    // (which the page must refuse like any other).
    auto held = world_->store().getQuarantine(id);
    QuarantineRecord q;
    if (held.ok()) {
      q = *held;
    } else {
      q.id = id;
    }
    return *policy::confirmationCode(world_->serviceKey(), q, rcpt);
  }
  std::string confirmedBy(const std::string& id) {
    return world_->store().getQuarantine(id)->confirmed_by;
  }
};

TEST_F(QuarantinePage, ShowingTheLinkChangesNothing) {
  const int64_t audit_before = world_->auditCount();
  HttpResult r = client().request(
      "GET", "/quarantine/confirm?id=5PAY1&rcpt=bob%40example.com&code=" + code("5PAY1"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("billing@example.net"), std::string::npos);
  EXPECT_NE(r.body.find("Invoice &lt;42&gt; &amp; new bank details"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<form method=\"post\""), std::string::npos);
  EXPECT_EQ(confirmedBy("5PAY1"), "");
  EXPECT_EQ(world_->auditCount(), audit_before);
}

TEST_F(QuarantinePage, TheRightCodeConfirmsAndIsAudited) {
  const int64_t audit_before = world_->auditCount();
  HttpResult r = client().request("POST", "/quarantine/confirm",
                                  "id=5PAY1&rcpt=bob%40example.com&code=" + code("5PAY1"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("delivered to you"), std::string::npos);
  EXPECT_EQ(confirmedBy("5PAY1"), "bob@example.com");
  EXPECT_EQ(world_->auditCount(), audit_before + 1);
  auto audit = world_->store().readAudit(audit_before + 1, 1);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].rule, "quarantine.confirm");
  EXPECT_EQ((*audit)[0].queue_id, "5PAY1");
  EXPECT_NE((*audit)[0].detail.find("by=bob@example.com"), std::string::npos);
  // Again: "already confirmed", nothing new.
  r = client().request("POST", "/quarantine/confirm",
                       "id=5PAY1&rcpt=bob%40example.com&code=" + code("5PAY1"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Already confirmed"), std::string::npos);
  EXPECT_EQ(world_->auditCount(), audit_before + 1);
}

TEST_F(QuarantinePage, AConfirmationTheAuditLogCannotHoldIsNotMade) {
  // The audit log refuses every record (as a full disk or a locked database would): the
  // release must not be recorded as confirmed without its audit record.
  auto refuse = testing::runProgram(
      {"/usr/bin/sqlite3", world_->dir().file("store.db"),
       "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); "
       "END;"});
  ASSERT_EQ(refuse.exit_code, 0) << refuse.err;
  HttpResult r = client().request("POST", "/quarantine/confirm",
                                  "id=5PAY1&rcpt=bob%40example.com&code=" + code("5PAY1"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(confirmedBy("5PAY1"), "");
}

TEST_F(QuarantinePage, EveryWrongAttemptGetsTheSame403AndChangesNothing) {
  const std::string good = code("5PAY1");
  std::string flipped = good;
  flipped[5] = flipped[5] == 'a' ? 'b' : 'a';
  const std::string forms[] = {
      "id=5PAY1&rcpt=bob%40example.com&code=" + flipped,             // wrong code
      "id=5PAY1&rcpt=carol%40example.com&code=" + code("5PAY1", "carol@example.com"),  // not hers
      "id=NOPE9&rcpt=bob%40example.com&code=" + code("NOPE9"),       // no such message
      "id=5LOOK2&rcpt=bob%40example.com&code=" + code("5LOOK2"),     // the administrator's call
      "id=5PAY1&rcpt=bob%40example.com",                             // no code
      "id=5PAY1&rcpt=bob%40example.com&code=%zz",                    // malformed escape
      "id=5PAY1' OR '1'='1&rcpt=bob%40example.com&code=" + good,     // injection attempt
      "",
  };
  std::string first_body;
  for (const auto& form : forms) {
    HttpResult r = client().request("POST", "/quarantine/confirm", form);
    EXPECT_EQ(r.status, 403) << form;
    if (first_body.empty()) first_body = r.body;
    EXPECT_EQ(r.body, first_body) << form;
  }
  EXPECT_EQ(confirmedBy("5PAY1"), "");
  EXPECT_EQ(confirmedBy("5LOOK2"), "");
  EXPECT_EQ(client().request("PUT", "/quarantine/confirm").status, 405);
}

// Postfix reuses short queue ids: the code from an earlier digest does not confirm a later
// message held under the same id.
TEST_F(QuarantinePage, ACodeForAnEarlierMessageUnderTheSameIdIsRefused) {
  const std::string earlier = code("5PAY1");
  QuarantineRecord later = *world_->store().getQuarantine("5PAY1");
  later.message_id = "<later@billing.example.net>";
  later.time += 3600;
  ASSERT_TRUE(world_->store().putQuarantine(later).ok());
  HttpResult r = client().request("POST", "/quarantine/confirm",
                                  "id=5PAY1&rcpt=bob%40example.com&code=" + earlier);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(confirmedBy("5PAY1"), "");
  HttpResult ok = client().request("POST", "/quarantine/confirm",
                                   "id=5PAY1&rcpt=bob%40example.com&code=" + code("5PAY1"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(confirmedBy("5PAY1"), "bob@example.com");
}

// ---- /access-check --------------------------------------------------------------------------

class AccessCheck : public HttpsService {
 protected:
  json check(const std::string& sender, const std::string& recipient, const std::string& protocol,
             int expect_status = 200) {
    HttpResult r = client().request("GET", "/access-check?sender=" + sender + "&recipient=" +
                                               recipient + "&protocol=" + protocol);
    EXPECT_EQ(r.status, expect_status) << r.body;
    return json::parse(r.body, nullptr, false);
  }
};

TEST_F(AccessCheck, AnswersFromTheRecipientsCatalogPerProtocol) {
  start();
  ASSERT_TRUE(start_status_.ok());
  world_->addAccount("bob@example.com", "contacts-only");
  world_->addContact("bob@example.com", "alice@example.net", {"xmpp", "smtp"});
  world_->addContact("bob@example.com", "@partner.example", {"smtp"});
  world_->addAccount("carol@example.com", "tag-unknown");
  world_->addAccount("dave@example.com", "quarantine-unknown");

  json known = check("alice@example.net", "bob@example.com", "xmpp");
  EXPECT_EQ(known["Allowed"], true);
  EXPECT_EQ(known["Contact"], "known-contact");
  EXPECT_EQ(known["Entry"], "alice@example.net");
  EXPECT_EQ(known["Account"], "bob@example.com");
  // The @domain entry permits mail only: no SIP call from that domain.
  json wrong_protocol = check("x@partner.example", "bob@example.com", "sip");
  EXPECT_EQ(wrong_protocol["Allowed"], false);
  EXPECT_EQ(check("x@partner.example", "bob@example.com", "smtp")["Allowed"], true);
  EXPECT_EQ(check("Mallory@Evil.example", "bob@example.com", "xmpp")["Allowed"], false);
  // tag-unknown lets a first contact through, flagged; quarantine-unknown cannot hold a call.
  json first = check("mallory@evil.example", "carol@example.com", "xmpp");
  EXPECT_EQ(first["Allowed"], true);
  EXPECT_EQ(first["Contact"], "first-contact");
  json held = check("mallory@evil.example", "dave@example.com", "sip");
  EXPECT_EQ(held["Allowed"], false);
  EXPECT_EQ(held["Contact"], "quarantined");
  // POSTed as a form: the same answer.
  HttpResult posted = client().request("POST", "/access-check",
                                       "sender=alice%40example.net&recipient=bob%40example.com"
                                       "&protocol=xmpp");
  EXPECT_EQ(posted.status, 200);
  EXPECT_EQ(json::parse(posted.body)["Allowed"], true);
}

TEST_F(AccessCheck, BadRequestsAreRefusedClearly) {
  start();
  ASSERT_TRUE(start_status_.ok());
  check("alice@example.net", "someone@elsewhere.example", "xmpp", 400);  // not our domain
  check("", "bob@example.com", "xmpp", 400);
  check("alice@example.net", "bob@example.com", "", 400);
  check("alice@example.net", "bob@example.com", "x%20y", 400);
  check("alice@example.net", "bob@example.com%00", "xmpp", 400);
  check("alice@example.net", "bob@example.com", "%zz", 400);
  EXPECT_EQ(client().request("DELETE", "/access-check").status, 405);
}

TEST_F(AccessCheck, OnlyListedClientsMayAsk) {
  start("  access_check_networks: [10.0.0.0/8]\n");
  ASSERT_TRUE(start_status_.ok()) << start_status_.toString();
  world_->addAccount("bob@example.com", "open");
  json r = check("alice@example.net", "bob@example.com", "xmpp", 403);
  EXPECT_FALSE(r.contains("Allowed"));
}

TEST_F(AccessCheck, AStoreThatCannotAnswerIsA503NeverAnAllow) {
  NiceMock<testing::MockStore> down;
  answerNothing(down);
  ON_CALL(down, getAccount(::testing::_))
      .WillByDefault(Return(Result<AccountRecord>(unavailable("database connection lost"))));
  start("", {}, &down);
  ASSERT_TRUE(start_status_.ok()) << start_status_.toString();
  json r = check("alice@example.net", "bob@example.com", "xmpp", 503);
  EXPECT_FALSE(r.contains("Allowed"));
}

}  // namespace
}  // namespace meshgate::meshtest
