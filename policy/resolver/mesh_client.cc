// mesh_client.cc - see mesh_client.h. Poco at this boundary only: every Poco exception becomes
// a Status here.
#include "policy/resolver/mesh_client.h"

#include <netdb.h>
#include <sys/socket.h>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/X509Certificate.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <istream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "gateway/util/network.h"

namespace meshgate::resolver {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

struct MeshClient::Impl {
  config::ResolverSection config;
  Poco::Net::Context::Ptr context;
  std::vector<std::shared_ptr<X509>> pinned;

  bool isPinned(const X509* cert) const {
    if (cert == nullptr) return false;
    return std::any_of(pinned.begin(), pinned.end(),
                       [cert](const auto& p) { return X509_cmp(p.get(), cert) == 0; });
  }
};

namespace {

// Why the handshake's certificate check refused the peer (set by the callback on the thread
// doing the handshake, read in the catch block on the same thread).
thread_local std::string t_tls_refusal;

int verifyServerCertificate(X509_STORE_CTX* store, void* arg) {
  const auto* impl = static_cast<const MeshClient::Impl*>(arg);
  if (impl->isPinned(X509_STORE_CTX_get0_cert(store))) return 1;
  if (X509_verify_cert(store) == 1) return 1;
  t_tls_refusal = std::string("certificate not trusted: ") +
                  X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
  if (!impl->pinned.empty()) t_tls_refusal += "; nor is it one of resolver.trusted_certificates";
  return 0;
}

Status loadPemCertificates(const std::string& file, std::vector<std::shared_ptr<X509>>& out) {
  BIO* bio = BIO_new_file(file.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    return unavailable("cannot open " + file + ": " + std::strerror(errno));
  }
  size_t before = out.size();
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    out.emplace_back(cert, X509_free);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BIO_free(bio);
  if (out.size() == before) return invalidArgument(file + ": no PEM certificate in it");
  return Status();
}

milliseconds remainingUntil(MeshClient::Deadline deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
  return std::max(left, milliseconds(0));
}

// A socket timeout for `ms`: never 0, which Poco reads as "wait forever" (the watchdog would
// still end the wait, but a step must not depend on it).
Poco::Timespan socketTimeout(milliseconds ms) {
  return Poco::Timespan(std::max<int64_t>(ms.count(), 1) * 1000);
}

// Shuts the connection down (both directions) when the deadline passes, so that a blocked
// read or write returns at once. The fd stays open (it is closed by its owner), so shutting it
// down cannot hit another connection.
class Watchdog {
 public:
  Watchdog(int fd, MeshClient::Deadline deadline, std::atomic<bool>& fired)
      : fd_(fd), deadline_(deadline), fired_(fired), thread_([this] { run(); }) {}
  ~Watchdog() { disarm(); }
  void disarm() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!wake_.wait_until(lock, deadline_, [this] { return done_; })) {
      fired_ = true;
      ::shutdown(fd_, SHUT_RDWR);
    }
  }

  int fd_;
  MeshClient::Deadline deadline_;
  std::atomic<bool>& fired_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

Result<std::vector<std::string>> lookUpHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc == EAI_NONAME || rc == EAI_NODATA) return notFound("host " + host + " does not exist");
  if (rc != 0) return unavailable("cannot look up " + host + ": " + gai_strerror(rc));
  std::vector<std::string> out;
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) ==
        0) {
      if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
    }
  }
  freeaddrinfo(list);
  if (out.empty()) return notFound("host " + host + " has no address");
  return out;
}

bool isAddressLiteral(const std::string& host) {
  Poco::Net::IPAddress ip;
  return Poco::Net::IPAddress::tryParse(host, ip);
}

bool certificateNames(const X509* cert, const std::string& name) {
  // OpenSSL 3 declares the checks on a non-const X509 but only reads it.
  X509* readable = const_cast<X509*>(cert);
  if (isAddressLiteral(name)) return X509_check_ip_asc(readable, name.c_str(), 0) == 1;
  return X509_check_host(readable, name.c_str(), name.size(), 0, nullptr) == 1;
}

}  // namespace

Result<std::shared_ptr<MeshClient>> MeshClient::create(const config::ResolverSection& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  for (const auto& file : config.trusted_certificates) {
    Status st = loadPemCertificates(file, impl->pinned);
    if (!st.ok()) return st.withContext("resolver.trusted_certificates");
  }
  if (!config.ca_file.empty()) {
    std::vector<std::shared_ptr<X509>> probe;
    Status st = loadPemCertificates(config.ca_file, probe);
    if (!st.ok()) return st.withContext("resolver.ca_file");
  }
  try {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
    params.loadDefaultCAs = config.ca_file.empty();
    params.caLocation = config.ca_file;
    params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
    impl->context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    impl->context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    // Names are checked below, against the host and the domain; chains by OpenSSL through the
    // callback (which also knows the pinned certificates), not by Poco's SSLManager handlers.
    impl->context->enableExtendedCertificateVerification(false);
    SSL_CTX* ctx = impl->context->sslContext();
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx, verifyServerCertificate, impl.get());
  } catch (const Poco::Exception& e) {
    return unavailable("resolver: cannot set up TLS: " + e.displayText());
  }
  return std::shared_ptr<MeshClient>(new MeshClient(std::move(impl)));
}

MeshClient::MeshClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MeshClient::~MeshClient() {
  if (impl_) {
    impl_->context.reset();
    Poco::Net::uninitializeSSL();
  }
}

namespace {

// One attempt at one address. `connected` tells the caller whether to try the next address.
Result<MeshReply> exchange(const MeshClient::Impl& impl, const Poco::Net::SocketAddress& address,
                           const ServiceEndpoint& endpoint, std::string_view service_name,
                           std::string_view body, MeshClient::Deadline deadline, bool& connected) {
  const std::string where = endpoint.url() + " (" + address.toString() + ")";
  std::atomic<bool> fired{false};
  connected = false;
  t_tls_refusal.clear();
  try {
    Poco::Net::StreamSocket tcp;
    milliseconds step = std::min(impl.config.connect_timeout, remainingUntil(deadline));
    tcp.connect(address, socketTimeout(step));
    connected = true;
    Watchdog dog(tcp.impl()->sockfd(), deadline, fired);
    std::optional<Poco::Net::SecureStreamSocket> tls;
    struct Disarm {
      Watchdog& dog;
      ~Disarm() { dog.disarm(); }
    } disarm{dog};  // destroyed first: the watchdog stops before the socket is closed

    step = std::min(impl.config.connect_timeout, remainingUntil(deadline));
    tcp.setReceiveTimeout(socketTimeout(step));
    tcp.setSendTimeout(socketTimeout(step));
    if (isAddressLiteral(endpoint.host)) {
      tls = Poco::Net::SecureStreamSocket::attach(tcp, impl.context);
    } else {
      tls = Poco::Net::SecureStreamSocket::attach(tcp, endpoint.host, impl.context);
    }
    tls->completeHandshake();
    Poco::Net::X509Certificate cert = tls->peerCertificate();
    MeshReply reply;
    reply.peer = address.toString();
    reply.pinned_certificate = impl.isPinned(cert.certificate());
    // A pinned certificate stands in for a CA, not for the name: a partner's certificate must
    // not answer for another domain's service.
    const std::string domain(service_name);
    if (!certificateNames(cert.certificate(), endpoint.host) &&
        !certificateNames(cert.certificate(), domain)) {
      return unauthenticated(where + ": the server's certificate (subject " + cert.subjectName() +
                             (reply.pinned_certificate ? ", pinned" : "") + ") names neither " +
                             endpoint.host + " nor " + domain);
    }
    const Poco::Timespan left = socketTimeout(remainingUntil(deadline));
    tls->setReceiveTimeout(left);
    tls->setSendTimeout(left);
    // HTTP/1.1 by hand over the connected TLS socket (Poco's HTTPSClientSession only takes an
    // unconnected socket, and our connect/handshake must be bounded and checked first).
    Poco::Net::SocketStream stream(*tls);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, endpoint.path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(std::string(service_name));
    request.setContentType("application/json");
    request.set("Accept", "application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.setKeepAlive(false);
    request.write(stream);
    stream.write(body.data(), static_cast<std::streamsize>(body.size()));
    stream.flush();
    Poco::Net::HTTPResponse response;
    response.read(stream);
    const uint64_t limit = impl.config.max_response_bytes;
    const std::string over = where + ": response is over resolver.max_response_bytes (" +
                             std::to_string(limit) + ")";
    if (response.hasContentLength() &&
        static_cast<uint64_t>(response.getContentLength64()) > limit) {
      return resourceExhausted(where + ": response of " +
                               std::to_string(response.getContentLength64()) +
                               " bytes is over resolver.max_response_bytes (" +
                               std::to_string(limit) + ")");
    }
    auto readBytes = [&](uint64_t n) -> bool {  // appends n bytes; false at EOF or error
      char buffer[16384];
      while (n > 0) {
        stream.read(buffer, static_cast<std::streamsize>(std::min<uint64_t>(n, sizeof buffer)));
        const std::streamsize got = stream.gcount();
        if (got <= 0) return false;
        reply.body.append(buffer, static_cast<size_t>(got));
        n -= static_cast<uint64_t>(got);
      }
      return true;
    };
    bool complete = true;
    if (response.getChunkedTransferEncoding()) {
      // A chunk-size line is a few hex digits (and perhaps an extension): read at most
      // kMaxChunkLine bytes of it, and compare sizes without adding them - "ffffffffffffffff"
      // plus what was read wraps round to a small number and would pass a `body + size > limit`
      // test, and the loop would read until the deadline.
      constexpr size_t kMaxChunkLine = 256;
      auto readLine = [&](std::string& line) -> bool {
        line.clear();
        char c = 0;
        while (stream.get(c)) {
          if (c == '\n') return true;
          if (line.size() >= kMaxChunkLine) return false;
          line.push_back(c);
        }
        return false;
      };
      while (true) {
        std::string line;
        if (!readLine(line)) {
          if (line.size() >= kMaxChunkLine)
            return unavailable(where + ": malformed chunked response");
          complete = false;
          break;
        }
        uint64_t size = 0;
        try {
          size = std::stoull(line, nullptr, 16);
        } catch (const std::exception&) {
          return unavailable(where + ": malformed chunked response");
        }
        if (size == 0) break;
        if (size > limit - std::min<uint64_t>(limit, reply.body.size())) {
          return resourceExhausted(over);
        }
        if (!readBytes(size) || !readLine(line)) {
          complete = false;
          break;
        }
      }
    } else if (response.hasContentLength()) {
      complete = readBytes(static_cast<uint64_t>(response.getContentLength64()));
    } else {
      char buffer[16384];
      while (stream) {
        stream.read(buffer, sizeof buffer);
        const std::streamsize got = stream.gcount();
        if (got <= 0) break;
        if (reply.body.size() + static_cast<uint64_t>(got) > limit) {
          return resourceExhausted(over);
        }
        reply.body.append(buffer, static_cast<size_t>(got));
      }
    }
    if (fired) return deadlineExceeded(where + ": no complete answer within resolver.total_timeout");
    if (!complete) return unavailable(where + ": the connection closed before the whole response");
    reply.http_status = static_cast<int>(response.getStatus());
    return reply;
  } catch (const Poco::TimeoutException&) {
    if (!connected) return deadlineExceeded(where + ": connect timed out");
    return deadlineExceeded(where + ": timed out");
  } catch (const Poco::Net::SSLException& e) {
    if (fired) return deadlineExceeded(where + ": TLS handshake did not finish in time");
    if (!t_tls_refusal.empty()) return unauthenticated(where + ": " + t_tls_refusal);
    return unavailable(where + ": TLS: " + e.displayText());
  } catch (const Poco::Exception& e) {
    if (fired) return deadlineExceeded(where + ": no complete answer within resolver.total_timeout");
    return unavailable(where + ": " + e.displayText());
  } catch (const std::exception& e) {
    return unavailable(where + ": " + e.what());
  }
}

}  // namespace

Result<MeshReply> MeshClient::post(const ServiceEndpoint& endpoint, std::string_view service_name,
                                   std::string_view body, Deadline deadline) const {
  if (remainingUntil(deadline).count() == 0) {
    return deadlineExceeded(endpoint.url() + ": no time left");
  }
  std::vector<std::string> hosts;
  if (isAddressLiteral(endpoint.host)) {
    hosts.push_back(endpoint.host);
  } else {
    const std::string host = endpoint.host;
    Result<std::vector<std::string>> found = runWithTimeout<std::vector<std::string>>(
        [host]() { return lookUpHost(host); },
        std::min(impl_->config.dns_timeout, remainingUntil(deadline)), "looking up " + host);
    if (!found.ok()) return found.status();
    hosts = std::move(found).value();
  }
  Status last = deadlineExceeded(endpoint.url() + ": no time left to connect");
  for (const auto& host : hosts) {
    if (remainingUntil(deadline).count() == 0) break;
    if (endpoint.discovered && isNonPublicAddress(host)) {
      // A sender's domain must not steer this gateway to its own or its network's services.
      last = unavailable(endpoint.url() + " (" + endpoint.found_by + ") is at " + host +
                         ", a loopback or private address; list the domain in "
                         "resolver.services to use it");
      continue;
    }
    Poco::Net::SocketAddress address;
    try {
      address = Poco::Net::SocketAddress(Poco::Net::IPAddress(host), endpoint.port);
    } catch (const Poco::Exception& e) {
      last = invalidArgument(endpoint.url() + ": bad address " + host + ": " + e.displayText());
      continue;
    }
    bool connected = false;
    Result<MeshReply> reply = exchange(*impl_, address, endpoint, service_name, body, deadline,
                                       connected);
    if (reply.ok() || connected) return reply;  // a connected server's answer (or fault) stands
    last = reply.status();
  }
  return last;
}

}  // namespace meshgate::resolver
