// NAME
//   https_client.h - real TLS clients for the Mesh service tests: Poco's HTTPSClientSession
//   (keep-alive, certificate pinned to the service's self-signed certificate) and a raw OpenSSL
//   connection for what a well-behaved client never does (old protocol versions, trickled or
//   truncated requests, idle connections).
//
// THREAD SAFETY
//   One object per thread.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <utility>

#include <Poco/Net/HTTPSClientSession.h>

namespace meshgate::meshtest {

struct HttpResult {
  int status = 0;  // 0: no response (the error says why)
  std::string body;
  std::string content_type;
  std::string allow;
  std::string retry_after;
  std::string error;
};

// HTTPS (or plain HTTP) to 127.0.0.1:port, keep-alive. With `ca_file`, the server certificate
// must chain to it (the pinned self-signed certificate); host name checks are curl's job in
// the binary tests.
class HttpsClient {
 public:
  HttpsClient(int port, const std::string& ca_file, bool tls = true);
  ~HttpsClient();
  HttpsClient(HttpsClient&&) = default;
  HttpsClient& operator=(HttpsClient&&) = default;
  HttpResult post(const std::string& body, const std::string& path = "/.well-known/mmm/");
  HttpResult request(const std::string& method, const std::string& path,
                     const std::string& body = "");
  // The local port of the current connection (0 when not connected): unchanged across
  // requests means the connection was kept alive.
  int localPort();

 private:
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

// A raw TLS connection with a chosen protocol range (TLS1_VERSION ... TLS1_3_VERSION). The
// client is willing to use anything in the range (security level 0, every cipher), so a
// failed handshake is the server's refusal.
class RawTls {
 public:
  RawTls() = default;
  ~RawTls();
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  // Later connections come from this local address ("127.0.0.2"; default 127.0.0.1).
  void setSource(std::string ip) { source_ = std::move(ip); }
  // Connects and completes the handshake; false (and error()) when refused.
  bool connect(int port, int min_version = TLS1_2_VERSION, int max_version = TLS1_3_VERSION);
  // Connects without TLS (a plain client on the TLS port, or plain HTTP).
  bool connectPlain(int port);
  bool write(const std::string& data);
  // Reads until the peer closes or timeout_ms passes; what was read.
  std::string readAll(int timeout_ms);
  // Reads until `needle` was seen, the peer closes, or timeout_ms passes.
  std::string readUntil(const std::string& needle, int timeout_ms);
  // True when the peer has closed (or reset) the connection, waiting up to timeout_ms; what it
  // sent before is discarded.
  bool closedByPeer(int timeout_ms);
  std::string version() const;  // "TLSv1.3", ... after connect
  const std::string& error() const { return error_; }
  void close();

 private:
  int readSome(char* buf, int size, int timeout_ms);

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string source_;
  std::string error_;
};

// The value of one series in Prometheus text ("name{a=\"b\"}"), 0 when absent.
double metricValue(const std::string& text, const std::string& series);

}  // namespace meshgate::meshtest
