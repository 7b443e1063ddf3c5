// https_client.cc - see https_client.h.
#include "tests/unit/mesh_service/https_client.h"

#include <openssl/err.h>
#include <poll.h>
#include <unistd.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <csignal>
#include <sstream>

#include "tests/support/background_process.h"

namespace meshgate::meshtest {
namespace {

// A peer closing a socket must be an error return in these tests (client and in-process
// server alike), not the death of the test binary; meshgate's service host does the same.
[[maybe_unused]] const bool kPipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

}  // namespace

HttpsClient::HttpsClient(int port, const std::string& ca_file, bool tls) {
  if (tls) {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
        ca_file.empty() ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_RELAXED, 9,
        false);
    ctx->enableExtendedCertificateVerification(false);
    session_ = std::make_unique<Poco::Net::HTTPSClientSession>("127.0.0.1",
                                                               static_cast<uint16_t>(port), ctx);
  } else {
    session_ = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1",
                                                              static_cast<uint16_t>(port));
  }
  session_->setKeepAlive(true);
  session_->setTimeout(Poco::Timespan(20, 0));
}

HttpsClient::~HttpsClient() = default;

HttpResult HttpsClient::post(const std::string& body, const std::string& path) {
  return request("POST", path, body);
}

HttpResult HttpsClient::request(const std::string& method, const std::string& path,
                                const std::string& body) {
  HttpResult out;
  try {
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setHost("example.com");
    req.setKeepAlive(true);
    if (method == "POST") {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    std::ostream& os = session_->sendRequest(req);
    if (method == "POST") os << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = session_->receiveResponse(resp);
    std::ostringstream text;
    Poco::StreamCopier::copyStream(in, text);
    out.status = static_cast<int>(resp.getStatus());
    out.body = text.str();
    out.content_type = resp.getContentType();
    out.allow = resp.get("Allow", "");
    out.retry_after = resp.get("Retry-After", "");
  } catch (const Poco::Exception& e) {
    out.error = e.displayText();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

int HttpsClient::localPort() {
  try {
    if (!session_->connected()) return 0;
    return session_->socket().address().port();
  } catch (const Poco::Exception&) {
    return 0;
  }
}

// ---- RawTls ---------------------------------------------------------------------------------

RawTls::~RawTls() { close(); }

void RawTls::close() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
  ssl_ = nullptr;
  ctx_ = nullptr;
  fd_ = -1;
}

bool RawTls::connectPlain(int port) {
  close();
  fd_ = testing::connectTcp(port, 5000, source_.empty() ? nullptr : source_.c_str());
  if (fd_ < 0) error_ = "connect failed";
  return fd_ >= 0;
}

bool RawTls::connect(int port, int min_version, int max_version) {
  close();
  fd_ = testing::connectTcp(port, 5000, source_.empty() ? nullptr : source_.c_str());
  if (fd_ < 0) {
    error_ = "connect failed";
    return false;
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx_, 0);
  SSL_CTX_set_min_proto_version(ctx_, min_version);
  SSL_CTX_set_max_proto_version(ctx_, max_version);
  SSL_CTX_set_cipher_list(ctx_, "ALL:@SECLEVEL=0");
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  timeval tv{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ERR_clear_error();
  if (SSL_connect(ssl_) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    error_ = buf;
    return false;
  }
  return true;
}

std::string RawTls::version() const { return ssl_ != nullptr ? SSL_get_version(ssl_) : ""; }

bool RawTls::write(const std::string& data) {
  if (ssl_ == nullptr) return fd_ >= 0 && testing::sendAll(fd_, data);
  size_t done = 0;
  while (done < data.size()) {
    int n = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

int RawTls::readSome(char* buf, int size, int timeout_ms) {
  if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return SSL_read(ssl_, buf, size);
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return -2;  // timeout
  if (ssl_ == nullptr) return static_cast<int>(::read(fd_, buf, static_cast<size_t>(size)));
  return SSL_read(ssl_, buf, size);
}

std::string RawTls::readUntil(const std::string& needle, int timeout_ms) {
  std::string out;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  while (fd_ >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    int n = readSome(buf, sizeof buf, static_cast<int>(left));
    if (n == -2) continue;  // poll timed out: the loop ends on the deadline
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!needle.empty() && out.find(needle) != std::string::npos) break;
  }
  return out;
}

std::string RawTls::readAll(int timeout_ms) { return readUntil("", timeout_ms); }

bool RawTls::closedByPeer(int timeout_ms) {
  if (fd_ < 0) return true;
  char buf[4096];
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

double metricValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return 0;
}

}  // namespace meshgate::meshtest
