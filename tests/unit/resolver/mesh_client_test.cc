// mesh_client_test.cc - the resolver's HTTPS client against real TLS servers on loopback (the
// Mesh service's own HttpServer with a self-signed certificate made by ensureTlsFiles, and a
// bare TCP listener that accepts and never answers): pinning, CA and name checks, every
// timeout, the response size limit; and the resolver end to end over it.
#include "policy/resolver/mesh_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/mesh/profile.h"
#include "policy/mesh/http_server.h"
#include "policy/mesh/tls_files.h"
#include "policy/resolver/resolver.h"
#include "tests/support/mock_store.h"

namespace meshgate::resolver {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// A self-signed certificate for service name example.net on 127.0.0.1, made once per run.
struct Certificate {
  std::string dir, cert, key;
};

const Certificate& certificate() {
  static const Certificate c = [] {
    Certificate out;
    out.dir = (fs::temp_directory_path() / ("mg-resolver-tls-" + std::to_string(::getpid())))
                  .string();
    fs::remove_all(out.dir);
    fs::create_directories(out.dir);
    out.cert = out.dir + "/service.crt";
    out.key = out.dir + "/service.key";
    config::MeshServiceSection m;
    m.listen.host = "127.0.0.1";
    m.service_name = "example.net";
    m.tls.certificate = out.cert;
    m.tls.private_key = out.key;
    m.tls.create_self_signed = true;
    Status st = meshsvc::ensureTlsFiles(m);
    EXPECT_TRUE(st.ok()) << st.toString();
    return out;
  }();
  return c;
}

class TlsServer {
 public:
  explicit TlsServer(meshsvc::HttpHandler handler) {
    meshsvc::HttpServerOptions o;
    o.name = "test";
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls = true;
    o.certificate_file = certificate().cert;
    o.private_key_file = certificate().key;
    o.threads = 4;
    server_ = std::make_unique<meshsvc::HttpServer>(
        o, std::move(handler), [](const Status& st) {
          meshsvc::HttpResponse r;
          r.status = 500;
          r.body = st.toString();
          return r;
        });
    Status st = server_->start();
    EXPECT_TRUE(st.ok()) << st.toString();
  }
  ~TlsServer() { server_->stop(); }
  uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<meshsvc::HttpServer> server_;
};

// Accepts TCP connections and never sends a byte.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
          ::close(c);
          return;
        }
        accepted_.push_back(c);
      }
    });
  }
  ~SilentListener() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      for (int c : accepted_) ::close(c);
    }
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  size_t accepted() {
    std::lock_guard<std::mutex> lock(mutex_);
    return accepted_.size();
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<int> accepted_;
  bool stopping_ = false;
};

// A TLS server that answers one request with exactly `reply` (what no well-behaved server
// sends), then `filler` bytes of `fill`, then closes.
class RawReplyServer {
 public:
  RawReplyServer(std::string reply, size_t filler, char fill)
      : reply_(std::move(reply)), filler_(filler), fill_(fill) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx_, certificate().cert.c_str()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx_, certificate().key.c_str(), SSL_FILETYPE_PEM), 1);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serveOne(); });
  }
  ~RawReplyServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }

 private:
  void serveOne() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      bool open = SSL_write(ssl, reply_.data(), static_cast<int>(reply_.size())) > 0;
      const std::string block(16384, fill_);
      for (size_t sent = 0; open && sent < filler_; sent += block.size()) {
        open = SSL_write(ssl, block.data(), static_cast<int>(block.size())) > 0;
      }
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ::close(c);
  }

  std::string reply_;
  size_t filler_;
  char fill_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

meshsvc::HttpResponse okResponse(std::string body) {
  meshsvc::HttpResponse r;
  r.status = 201;
  r.body = std::move(body);
  return r;
}

config::ResolverSection pinnedSettings() {
  config::ResolverSection s;
  s.trusted_certificates = {certificate().cert};
  s.connect_timeout = 1000ms;
  s.dns_timeout = 1000ms;
  s.total_timeout = 3000ms;
  return s;
}

ServiceEndpoint loopback(uint16_t port, std::string host = "127.0.0.1") {
  return ServiceEndpoint{std::move(host), port, "/.well-known/mmm/", "test"};
}

std::shared_ptr<MeshClient> client(const config::ResolverSection& s) {
  auto c = MeshClient::create(s);
  EXPECT_TRUE(c.ok()) << c.status().toString();
  return *c;
}

SteadyClock::time_point in(std::chrono::milliseconds ms) { return SteadyClock::now() + ms; }

TEST(MeshClient, PinnedCertificateIsAcceptedAndTheRequestArrivesAsSent) {
  std::mutex m;
  meshsvc::HttpRequest seen;
  TlsServer server([&](const meshsvc::HttpRequest& r) {
    std::lock_guard<std::mutex> lock(m);
    seen = r;
    return okResponse(R"({"GetResponse":{"Status":201}})");
  });
  auto reply = client(pinnedSettings())
                   ->post(loopback(server.port()), "example.net", R"({"GetRequest":{}})", in(3s));
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(reply->http_status, 201);
  EXPECT_EQ(reply->body, R"({"GetResponse":{"Status":201}})");
  EXPECT_TRUE(reply->pinned_certificate);
  std::lock_guard<std::mutex> lock(m);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/.well-known/mmm/");
  EXPECT_EQ(seen.host, "example.net");
  EXPECT_EQ(seen.body, R"({"GetRequest":{}})");
}

TEST(MeshClient, CertificateFromTheCaFileNamingTheAddressIsAccepted) {
  TlsServer server([](const meshsvc::HttpRequest&) { return okResponse("{}"); });
  config::ResolverSection s = pinnedSettings();
  s.trusted_certificates.clear();
  s.ca_file = certificate().cert;  // self-signed: its own CA
  auto reply = client(s)->post(loopback(server.port()), "example.net", "{}", in(3s));
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_FALSE(reply->pinned_certificate);
}

TEST(MeshClient, TrustedCertificateNamingNeitherHostNorDomainIsRefused) {
  TlsServer server([](const meshsvc::HttpRequest&) { return okResponse("{}"); });
  config::ResolverSection s = pinnedSettings();
  s.trusted_certificates.clear();
  s.ca_file = certificate().cert;
  // "localhost" reaches the server, but the certificate names example.net and 127.0.0.1.
  auto reply = client(s)->post(loopback(server.port(), "localhost"), "example.org", "{}", in(3s));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnauthenticated) << reply.status().toString();
  EXPECT_NE(reply.status().message().find("names neither localhost nor example.org"),
            std::string::npos)
      << reply.status().toString();
}

TEST(MeshClient, PinnedCertificateAnswersOnlyForTheNamesItCarries) {
  // A partner's pinned certificate (it names example.net and 127.0.0.1) must not stand in for
  // example.org's service reached at localhost.
  TlsServer server([](const meshsvc::HttpRequest&) { return okResponse("{}"); });
  auto reply = client(pinnedSettings())
                   ->post(loopback(server.port(), "localhost"), "example.org", "{}", in(3s));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnauthenticated) << reply.status().toString();
  EXPECT_NE(reply.status().message().find("pinned) names neither localhost nor example.org"),
            std::string::npos)
      << reply.status().toString();
  // For the domain it names, reached by a host name it does not carry: accepted.
  auto named = client(pinnedSettings())
                   ->post(loopback(server.port(), "localhost"), "example.net", "{}", in(3s));
  EXPECT_TRUE(named.ok()) << named.status().toString();
}

TEST(MeshClient, ADiscoveredServiceAtALoopbackOrPrivateAddressIsNotContacted) {
  // An SRV record (or mmm.<domain>) that the sender's domain controls must not steer the
  // gateway to its own services; listed in resolver.services, the same address is fine.
  std::atomic<int> asked{0};
  TlsServer server([&](const meshsvc::HttpRequest&) {
    ++asked;
    return okResponse("{}");
  });
  ServiceEndpoint discovered = loopback(server.port());
  discovered.discovered = true;
  discovered.found_by = "DNS SRV _mmm._tcp.example.net";
  auto refused = client(pinnedSettings())->post(discovered, "example.net", "{}", in(3s));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().toString();
  EXPECT_NE(refused.status().message().find("loopback or private address"), std::string::npos)
      << refused.status().toString();
  EXPECT_EQ(asked.load(), 0);
  EXPECT_TRUE(
      client(pinnedSettings())->post(loopback(server.port()), "example.net", "{}", in(3s)).ok());
  EXPECT_EQ(asked.load(), 1);
}

TEST(MeshClient, UntrustedCertificateIsRefused) {
  TlsServer server([](const meshsvc::HttpRequest&) { return okResponse("{}"); });
  config::ResolverSection s = pinnedSettings();
  s.trusted_certificates.clear();  // system CAs only: a self-signed certificate fails
  auto reply = client(s)->post(loopback(server.port()), "example.net", "{}", in(3s));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnauthenticated) << reply.status().toString();
  EXPECT_NE(reply.status().message().find("certificate not trusted"), std::string::npos)
      << reply.status().toString();
}

TEST(MeshClient, ServerThatAcceptsAndNeverAnswersTimesOut) {
  SilentListener silent;
  config::ResolverSection s = pinnedSettings();
  s.connect_timeout = 300ms;
  const auto started = SteadyClock::now();
  auto reply = client(s)->post(loopback(silent.port()), "example.net", "{}", in(3s));
  const auto took = SteadyClock::now() - started;
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded) << reply.status().toString();
  EXPECT_GE(silent.accepted(), 1u) << "the TCP connection was made; the TLS handshake hung";
  // Bounded by the step timeout, not by the 3 s deadline or the OS's TCP timeouts. (A
  // correctness bound with a wide margin, not a speed measurement.)
  EXPECT_LT(took, 2500ms);
}

TEST(MeshClient, SlowServerIsCutOffAtTheDeadline) {
  std::atomic<bool> release{false};
  TlsServer server([&](const meshsvc::HttpRequest&) {
    for (int i = 0; i < 100 && !release; ++i) std::this_thread::sleep_for(50ms);
    return okResponse("{}");
  });
  const auto started = SteadyClock::now();
  auto reply = client(pinnedSettings())->post(loopback(server.port()), "example.net", "{}", in(700ms));
  const auto took = SteadyClock::now() - started;
  release = true;
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded) << reply.status().toString();
  EXPECT_LT(took, 4s);
}

TEST(MeshClient, ClosedPortIsUnavailable) {
  uint16_t port;
  {
    SilentListener gone;  // a port that was free a moment ago
    port = gone.port();
  }
  auto reply = client(pinnedSettings())->post(loopback(port), "example.net", "{}", in(3s));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable) << reply.status().toString();
}

TEST(MeshClient, ResponseOverTheLimitIsRefused) {
  TlsServer server([](const meshsvc::HttpRequest&) { return okResponse(std::string(20000, 'x')); });
  config::ResolverSection s = pinnedSettings();
  s.max_response_bytes = 4096;
  auto reply = client(s)->post(loopback(server.port()), "example.net", "{}", in(3s));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kResourceExhausted) << reply.status().toString();
}

TEST(MeshClient, AChunkSizeThatWrapsTheLimitCheckIsRefusedAtOnce) {
  // 1 byte read, then a chunk of 2^64 - 1: "read + size" wraps round to 0 and passed the limit
  // check, and the client read what the server sent for as long as it sent it.
  RawReplyServer server(
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\nffffffffffffffff\r\n",
      8 << 20, 'x');
  config::ResolverSection s = pinnedSettings();
  s.max_response_bytes = 4096;
  auto reply = client(s)->post(loopback(server.port()), "example.net", "{}", in(3s));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kResourceExhausted) << reply.status().toString();
}

TEST(MeshClient, AnEndlessChunkSizeLineIsMalformedNotBuffered) {
  RawReplyServer server("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
                        8 << 20, 'f');
  auto reply = client(pinnedSettings())->post(loopback(server.port()), "example.net", "{}", in(3s));
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("malformed chunked response"), std::string::npos)
      << reply.status().toString();
}

TEST(MeshClient, NoTimeLeftAsksNothing) {
  SilentListener silent;
  auto reply = client(pinnedSettings())
                   ->post(loopback(silent.port()), "example.net", "{}", SteadyClock::now() - 1ms);
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(silent.accepted(), 0u);
}

TEST(MeshClient, MissingTrustedCertificateFileIsAConfigurationError) {
  config::ResolverSection s;
  s.trusted_certificates = {"/nonexistent/peer.crt"};
  auto c = MeshClient::create(s);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/peer.crt"), std::string::npos);
  EXPECT_NE(c.status().toString().find("resolver.trusted_certificates"), std::string::npos);
}

// ---- The resolver over real HTTPS ---------------------------------------------------------

TEST(ResolverOverHttps, ResolvesAndVerifiesAProfileServedOverTls) {
  auto service_key = *mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  const mesh::model::DateTime now{std::chrono::seconds(1'750'000'000)};
  auto service = *mesh::makeServiceProfile(service_key, now);
  auto bob = mesh::makeAccountProfile(
      {.addresses = {"bob@example.net"},
       .offline_signature = *mesh::PrivateKey::generate(mesh::KeyType::kEd25519),
       .online_signature = {},
       .encryption = mesh::PrivateKey::generate(mesh::KeyType::kX25519)->publicKey(),
       .authentication = mesh::PrivateKey::generate(mesh::KeyType::kEd25519)->publicKey(),
       .updated = now},
      service, service_key);
  ASSERT_TRUE(bob.ok());
  mesh::model::GetResponse resp;
  resp.status = 201;
  mesh::model::DataItem item;
  item.key = "bob@example.net";
  item.envelope = bob->envelope;
  resp.data_items.push_back(item);
  const std::string body = mesh::model::serialize(resp);
  TlsServer server([&](const meshsvc::HttpRequest& r) {
    if (r.body != R"({"GetRequest":{"Account":"bob@example.net"}})") {
      meshsvc::HttpResponse nf;
      nf.status = 404;
      nf.body = R"({"MeshResponse":{"Status":404,"StatusDescription":"Not found"}})";
      return nf;
    }
    return okResponse(body);
  });
  auto c = std::make_shared<config::Config>();
  c->gateway.domains = {"example.com"};
  c->resolver = pinnedSettings();
  c->resolver.discovery = false;
  config::ServiceUrl url;
  url.host = "127.0.0.1";
  url.port = server.port();
  url.text = "https://127.0.0.1:" + std::to_string(server.port());
  c->resolver.services["example.net"] = url;
  ::testing::NiceMock<meshgate::testing::MockStore> store;
  meshgate::testing::FixedClock clock(1'750'000'100);
  ResolverDeps deps;
  deps.config = c;
  deps.store = &store;
  deps.clock = &clock;
  auto resolver = makeProfileResolver(std::move(deps));
  ASSERT_TRUE(resolver.ok()) << resolver.status().toString();
  auto r = (*resolver)->resolve("bob@example.net");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ((*r)->udf, bob->udf);
  auto none = (*resolver)->resolve("nobody@example.net");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound) << none.status().toString();
}

}  // namespace
}  // namespace meshgate::resolver
