// http_server.cc - see http_server.h.
#include "policy/mesh/http_server.h"

#include <sys/socket.h>

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "gateway/util/log.h"
#include "gateway/util/network.h"
#include "gateway/util/strings.h"
#include "policy/listen_socket.h"

namespace meshgate::meshsvc {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxChunkLine = 1024;
constexpr int kMaxTrailerLines = 32;
constexpr size_t kRefuserQueue = 64;
constexpr auto kRefuserTimeout = std::chrono::milliseconds(1000);
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr size_t kLingerBytes = 256 * 1024;
// A body announced too large is still drained (and discarded) up to this much, for at most
// kLargeLingerTime, so that a client that writes its whole body before reading (Poco's
// HTTPClientSession, most simple clients) reads the 413 instead of a broken pipe.
constexpr auto kLargeLingerTime = std::chrono::milliseconds(3000);
constexpr size_t kMaxLingerBytes = 16 * 1024 * 1024;
// How long past a read's or write's own deadline the reaper waits before it shuts the
// socket down (see Impl::setDeadline).
constexpr auto kReaperGrace = std::chrono::milliseconds(500);

Poco::Timespan timespanOf(std::chrono::microseconds d) {
  // Never 0: Poco reads a zero timeout as "wait forever".
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max<int64_t>(d.count(), 1000)));
}

std::string reasonFor(int status) {
  return Poco::Net::HTTPResponse::getReasonForStatus(
      static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
}

// Sends all of `data` within `timeout` in all; false on error or when the time is up. (A
// timeout per send would let a client that reads a few bytes at a time hold the thread for
// as long as it likes.)
bool sendAll(Poco::Net::StreamSocket& s, std::string_view data, std::chrono::milliseconds timeout) {
  try {
    const auto deadline = SteadyClock::now() + timeout;
    size_t sent = 0;
    while (sent < data.size()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) return false;
      s.setSendTimeout(timespanOf(left));
      int n = s.sendBytes(data.data() + sent,
                          static_cast<int>(std::min<size_t>(data.size() - sent, 64 * 1024)));
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

// What Poco's parser would let through but a proxy in front might read differently (request
// smuggling): a head must use CRLF line ends, no folded lines, header names without spaces,
// one Content-Length of digits only, at most one Transfer-Encoding. RFC 9112 2.2, 5.1, 5.2, 6.3.
Status checkHeadFraming(std::string_view head) {
  size_t pos = head.find("\r\n");  // past the request line
  if (head.substr(0, pos).find_first_of("\r\n") != std::string_view::npos) {
    return invalidArgument("a bare CR or LF in the request line");
  }
  int content_lengths = 0;
  int transfer_encodings = 0;
  while (pos != std::string_view::npos) {
    pos += 2;
    const size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;  // the empty line
    std::string_view line = head.substr(pos, end - pos);
    pos = end;
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      return invalidArgument("a bare CR or LF in the request head");
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return invalidArgument("a folded header line (obsolete line folding)");
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return invalidArgument("a header line without a name");
    }
    std::string_view name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) {
      return invalidArgument("white space in a header name");
    }
    std::string_view value = trimWhitespace(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "Content-Length")) {
      if (++content_lengths > 1) return invalidArgument("more than one Content-Length");
      if (value.empty() || value.size() > 18 ||
          value.find_first_not_of("0123456789") != std::string_view::npos) {
        return invalidArgument("Content-Length is not a number");
      }
    } else if (equalsIgnoreCase(name, "Transfer-Encoding")) {
      if (++transfer_encodings > 1) return invalidArgument("more than one Transfer-Encoding");
    }
  }
  return Status();
}

std::string serializeResponse(const HttpResponse& r, bool keep_alive, bool http10) {
  std::string out;
  out.reserve(160 + r.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reasonFor(r.status);
  out += "\r\nContent-Type: ";
  out += r.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  out += "\r\n";
  for (const auto& [name, value] : r.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  out += r.body;
  return out;
}

}  // namespace

Result<Poco::Net::Context::Ptr> makeServerTlsContext(const std::string& certificate_file,
                                                     const std::string& private_key_file) {
  try {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params params;
    params.privateKeyFile = private_key_file;
    params.certificateFile = certificate_file;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    params.loadDefaultCAs = false;
    params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!CAMELLIA:!ARIA:!PSK:!SRP";
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
    // Explicitly, whatever the system OpenSSL configuration would allow: no SSL 2/3, no TLS 1.0
    // or 1.1.
    ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                          Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    ctx->preferServerCiphers();
    ctx->enableSessionCache(true, "meshgate-mesh");
    return ctx;
  } catch (const Poco::Exception& e) {
    return failedPrecondition("TLS certificate " + certificate_file + " / key " + private_key_file +
                              ": " + e.displayText());
  } catch (const std::exception& e) {
    return internalError(std::string("TLS context: ") + e.what());
  }
}

// ---- the server ----------------------------------------------------------------------------

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler, HttpErrorBody error_body)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        error_body_(std::move(error_body)),
        limits_(options_.limits) {}

  ~Impl() { stop(); }

  Status start();
  void stop();
  uint16_t port() const { return port_; }

  Status setLimits(HttpLimits l) {
    std::lock_guard<std::mutex> lock(mutex_);
    Status held;
    // Poco's queue, sized at start, drops (without a reply, and without releasing the count)
    // a connection that overflows it: admission must never let more in than it holds.
    if (queue_sized_for_ > 0 && l.max_connections > queue_sized_for_) {
      held =
          failedPrecondition(options_.name + ": max_connections " +
                             std::to_string(l.max_connections) + " is above its value at start (" +
                             std::to_string(queue_sized_for_) + "); restart meshgate to apply");
      l.max_connections = queue_sized_for_;
    }
    limits_ = l;
    return held;
  }
  HttpLimits limits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return limits_;
  }

  enum class Admit { kYes, kServerFull, kClientFull };
  // Acceptor thread: room for one more connection, in all and from this client? Counts it if
  // so, under the socket, so that release() finds the client again without asking the socket
  // (a peer that already reset has no address to give).
  Admit admit(const Poco::Net::StreamSocket& socket) {
    const std::string client = clientOf(socket);
    int limit = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (open_ >= limits_.max_connections) return Admit::kServerFull;
      ClientCount& count = clients_[client];
      if (count.open < limits_.max_connections_per_client) {
        ++count.open;
        ++open_;
        admitted_[socket.impl()] = client;
        return Admit::kYes;
      }
      if (count.logged) return Admit::kClientFull;
      count.logged = true;
      limit = limits_.max_connections_per_client;
    }
    log::warning(
        "%s: client %s: max_connections_per_client (%d) reached; its further connections get "
        "503 until one closes (raise mesh_service.max_connections_per_client if this address is "
        "a busy NAT)",
        options_.name.c_str(), log::sanitize(client).c_str(), limit);
    return Admit::kClientFull;
  }
  void release(const Poco::Net::Socket& socket) {
    std::lock_guard<std::mutex> lock(mutex_);
    --open_;
    auto admitted = admitted_.find(socket.impl());
    if (admitted == admitted_.end()) return;
    auto count = clients_.find(admitted->second);
    if (count != clients_.end() && --count->second.open <= 0) clients_.erase(count);
    admitted_.erase(admitted);
  }
  void track(Poco::Net::StreamSocket* s) {
    std::lock_guard<std::mutex> lock(deadline_mutex_);
    sockets_[s] = Watch{};
  }
  // After this returns, the reaper no longer touches the socket (it may be closed).
  void untrack(Poco::Net::StreamSocket* s) {
    std::lock_guard<std::mutex> lock(deadline_mutex_);
    sockets_.erase(s);
  }
  // A read or a write on `s` must be over by `deadline` (Deadline::max(): no limit): then the
  // reaper shuts the socket down (`how`). The socket's own timeouts are not enough: each byte
  // that arrives restarts them, and OpenSSL keeps reading until a whole record (or the
  // handshake) is in, so a client trickling a byte a second would hold a worker for ever.
  // Callers give their own deadline plus kReaperGrace: a client that is merely silent meets
  // the socket timeout first and still gets its 408 (a TLS connection cut by shutdown() can
  // no longer send one).
  void setDeadline(Poco::Net::StreamSocket* s, Deadline deadline, int how = SHUT_RD) {
    std::lock_guard<std::mutex> lock(deadline_mutex_);
    auto it = sockets_.find(s);
    if (it == sockets_.end()) return;
    it->second = Watch{deadline, how};
    if (deadline < reaper_next_) {
      reaper_next_ = deadline;
      reaper_wake_.notify_one();
    }
  }
  bool stopping() const { return stopping_.load(); }
  bool othersWaiting() const { return server_ && server_->queuedConnections() > 0; }

  void refuse(const Poco::Net::StreamSocket& socket, Admit why) {
    (why == Admit::kClientFull ? counters_.refused_per_client : counters_.refused)++;
    std::lock_guard<std::mutex> lock(refuser_mutex_);
    if (refuse_queue_.size() >= kRefuserQueue) return;  // dropped: closed when `socket` goes
    refuse_queue_.push_back(socket);
    refuser_wake_.notify_one();
  }

  HttpResponse errorResponse(const Status& st) const {
    try {
      return error_body_(st);
    } catch (...) {
      HttpResponse r;
      r.status = 500;
      r.body = "{}";
      return r;
    }
  }

  HttpResponse handle(const HttpRequest& request) {
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      log::error("%s: handler: %s", options_.name.c_str(), log::sanitize(e.what()).c_str());
    } catch (...) {
      log::error("%s: handler: unknown exception", options_.name.c_str());
    }
    return errorResponse(internalError("internal error"));
  }

  const std::string& name() const { return options_.name; }
  bool tls() const { return options_.tls; }
  HttpCounters counters_;

 private:
  struct ClientCount {
    int open = 0;
    bool logged = false;  // its limit was reached and said so (once until it falls to zero)
  };
  // The client a connection counts for: its IPv4 address, or its IPv6 /64 (one customer's
  // network, see clientKeyAddress).
  static std::string clientOf(const Poco::Net::StreamSocket& socket) {
    try {
      return clientKeyAddress(socket.peerAddress().host().toString(), 64);
    } catch (...) {
      return "unknown";
    }
  }
  void refuserLoop();
  void refuseOne(Poco::Net::StreamSocket& s);
  void reaperLoop();
  void stopReaper();

  HttpServerOptions options_;
  HttpHandler handler_;
  HttpErrorBody error_body_;
  mutable std::mutex mutex_;
  HttpLimits limits_;
  int open_ = 0;
  std::map<std::string, ClientCount> clients_;                    // open connections per client
  std::map<const Poco::Net::SocketImpl*, std::string> admitted_;  // client of each one
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
  int queue_sized_for_ = 0;  // max_connections when the dispatcher queue was sized (start)
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::TCPServer> server_;

  std::mutex refuser_mutex_;
  std::condition_variable refuser_wake_;
  std::deque<Poco::Net::StreamSocket> refuse_queue_;
  bool refuser_stop_ = false;
  std::thread refuser_;

  // Open connections and when their current read or write must end (the reaper's).
  struct Watch {
    Deadline deadline = Deadline::max();
    int how = SHUT_RD;  // shutdown()'s argument at the deadline
  };
  std::mutex deadline_mutex_;
  std::condition_variable reaper_wake_;
  std::map<Poco::Net::StreamSocket*, Watch> sockets_;
  Deadline reaper_next_ = Deadline::max();  // when the reaper wakes next
  bool reaper_stop_ = false;
  std::thread reaper_;
};

namespace {

// Bytes read from a connection and not yet used. Taking from the front moves an offset and
// leaves the bytes where they are until the next read: erasing each token shifted the whole
// buffer, so a client sending thousands of tiny chunks or empty lines cost a millisecond of
// CPU per 16 KiB read.
class ReadBuffer {
 public:
  std::string_view view() const { return std::string_view(data_).substr(start_); }
  size_t size() const { return data_.size() - start_; }
  bool empty() const { return size() == 0; }
  void append(const char* bytes, size_t n) {
    if (start_ > 0) {
      data_.erase(0, start_);
      start_ = 0;
    }
    data_.append(bytes, n);
  }
  void consume(size_t n) {
    start_ += std::min(n, size());
    if (start_ == data_.size()) clear();
  }
  std::string take(size_t n) {
    std::string out(view().substr(0, n));
    consume(n);
    return out;
  }
  void clear() {
    data_.clear();
    start_ = 0;
  }

 private:
  std::string data_;
  size_t start_ = 0;  // data_[0, start_) is used
};

// One client connection: reads requests (bounded by the deadline and the limits), calls the
// handler, writes responses.
class Connection : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket, HttpServer::Impl& server)
      : Poco::Net::TCPServerConnection(socket), server_(server), accepted_(SteadyClock::now()) {}
  ~Connection() override { server_.release(socket()); }

  void run() override;

 private:
  enum class Read { kOk, kClosed, kTimeout, kError };

  Read fill(Deadline deadline);
  // The head through its empty line; kOk with `head` set, or why not.
  Read readHead(Deadline deadline, size_t max_bytes, std::string& head, bool& too_large);
  Read readExact(size_t n, Deadline deadline, std::string& out);
  Read readLine(Deadline deadline, std::string& line, bool& too_long);
  // Sends the response; false when the connection must end.
  bool respond(const HttpResponse& r, bool keep_alive, bool http10);
  // `expected`: body bytes the client announced and will still send (0: unknown).
  void lingeringClose(size_t expected = 0);
  bool serveOne(bool first, const HttpLimits& limits);

  HttpServer::Impl& server_;
  Deadline accepted_;
  ReadBuffer buffer_;
  bool handshaken_ = false;  // TLS: the handshake is done
  std::string peer_;
  std::string last_error_;
};

Connection::Read Connection::fill(Deadline deadline) {
  auto remaining = std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
  if (remaining.count() <= 0) return Read::kTimeout;
  char buf[kReadChunk];
  // The reaper ends the read at the deadline however the client trickles (see setDeadline).
  struct Armed {
    HttpServer::Impl& server;
    Poco::Net::StreamSocket* socket;
    ~Armed() { server.setDeadline(socket, Deadline::max()); }
  } armed{server_, &socket()};
  server_.setDeadline(&socket(), deadline + kReaperGrace);
  auto late = [&] { return SteadyClock::now() >= deadline; };
  try {
    if (server_.tls() && !handshaken_) {
      // The handshake first (the reaper bounds it): the poll below waits for request bytes.
      Poco::Net::SecureStreamSocket(socket()).completeHandshake();
      handshaken_ = true;
    }
    // Wait for bytes here, where the wait ends on time and the 408 can still be sent (an
    // OpenSSL read retries its socket timeout several times). Buffered TLS data is ready now.
    if (socket().available() <= 0 &&
        !socket().poll(timespanOf(remaining), Poco::Net::Socket::SELECT_READ)) {
      return Read::kTimeout;
    }
    socket().setReceiveTimeout(timespanOf(remaining));
    int n = socket().receiveBytes(buf, static_cast<int>(sizeof buf));
    if (n <= 0) return late() ? Read::kTimeout : Read::kClosed;
    buffer_.append(buf, static_cast<size_t>(n));
    return Read::kOk;
  } catch (const Poco::TimeoutException&) {
    return Read::kTimeout;
  } catch (const Poco::Exception& e) {
    if (late()) return Read::kTimeout;
    last_error_ = e.displayText();
    return Read::kError;
  }
}

Connection::Read Connection::readHead(Deadline deadline, size_t max_bytes, std::string& head,
                                      bool& too_large) {
  size_t scanned = 0;
  size_t empty_lines = 0;  // bytes of them; they count toward max_bytes
  for (;;) {
    // Tolerate (RFC 9112 2.2) empty lines before a request.
    while (buffer_.view().starts_with("\r\n")) {
      buffer_.consume(2);
      empty_lines += 2;
      scanned = scanned > 2 ? scanned - 2 : 0;
    }
    auto end = buffer_.view().find("\r\n\r\n", scanned > 3 ? scanned - 3 : 0);
    if (end != std::string_view::npos) {
      if (empty_lines + end + 4 > max_bytes) {
        too_large = true;
        return Read::kError;
      }
      head = buffer_.take(end + 4);
      return Read::kOk;
    }
    scanned = buffer_.size();
    if (empty_lines + buffer_.size() > max_bytes) {
      too_large = true;
      return Read::kError;
    }
    Read r = fill(deadline);
    if (r != Read::kOk) return r;
  }
}

Connection::Read Connection::readExact(size_t n, Deadline deadline, std::string& out) {
  while (buffer_.size() < n) {
    Read r = fill(deadline);
    if (r != Read::kOk) return r;
  }
  out.append(buffer_.view().substr(0, n));
  buffer_.consume(n);
  return Read::kOk;
}

Connection::Read Connection::readLine(Deadline deadline, std::string& line, bool& too_long) {
  for (;;) {
    auto end = buffer_.view().find("\r\n");
    if (end != std::string_view::npos) {
      if (end > kMaxChunkLine) {
        too_long = true;
        return Read::kError;
      }
      line = buffer_.take(end);
      buffer_.consume(2);
      return Read::kOk;
    }
    if (buffer_.size() > kMaxChunkLine) {
      too_long = true;
      return Read::kError;
    }
    Read r = fill(deadline);
    if (r != Read::kOk) return r;
  }
}

bool Connection::respond(const HttpResponse& r, bool keep_alive, bool http10) {
  const auto timeout = server_.limits().request_timeout;
  // A client that reads a byte at a time cannot hold the worker past the timeout either.
  server_.setDeadline(&socket(), SteadyClock::now() + timeout + kReaperGrace, SHUT_RDWR);
  const bool sent = sendAll(socket(), serializeResponse(r, keep_alive, http10), timeout);
  server_.setDeadline(&socket(), Deadline::max());
  return sent;
}

void Connection::lingeringClose(size_t expected) {
  // Half-close and drain what the client is still sending, so that it reads our response
  // rather than a connection reset.
  try {
    if (!server_.tls()) ::shutdown(socket().impl()->sockfd(), SHUT_WR);
    const size_t budget = std::min(std::max(expected, kLingerBytes), kMaxLingerBytes);
    Deadline until = SteadyClock::now() + (expected > kLingerBytes ? kLargeLingerTime : kLingerTime);
    size_t drained = 0;
    while (drained < budget) {
      buffer_.clear();
      if (fill(until) != Read::kOk) break;
      drained += buffer_.size();
    }
  } catch (...) {
  }
}

// Serves one request; false when the connection must end.
bool Connection::serveOne(bool first, const HttpLimits& limits) {
  // 1. Wait for the request to begin: an idle keep-alive connection just closes.
  Deadline deadline;
  if (first) {
    deadline = accepted_ + limits.request_timeout;
  } else {
    if (buffer_.empty()) {
      Read r = fill(SteadyClock::now() + limits.keep_alive_timeout);
      if (r != Read::kOk) return false;
    }
    deadline = SteadyClock::now() + limits.request_timeout;
  }
  auto fail = [&](const Status& st, bool linger, size_t expected = 0) {
    HttpResponse r = server_.errorResponse(st);
    respond(r, false, false);
    if (linger) lingeringClose(expected);
    return false;
  };

  // 2. The head.
  std::string head;
  bool too_large = false;
  Read r = readHead(deadline, limits.max_header_bytes, head, too_large);
  if (too_large) {
    server_.counters_.too_large++;
    return fail(resourceExhausted("the request head is larger than " +
                                  std::to_string(limits.max_header_bytes) + " bytes"),
                true);
  }
  if (r == Read::kTimeout) {
    // An idle kept-alive connection is handled above; here the client started (or, on a
    // connection's first request, connected) and did not finish in time.
    server_.counters_.timeouts++;
    return fail(deadlineExceeded("the request was not received within " +
                                 std::to_string(limits.request_timeout.count()) + " ms"),
                false);
  }
  if (r == Read::kError) {
    // A failed TLS handshake (an old protocol, plain HTTP on the TLS port) or a reset.
    log::debug("%s: %s: %s", server_.name().c_str(), peer_.c_str(),
               log::sanitize(last_error_).c_str());
    return false;
  }
  if (r != Read::kOk) return false;

  if (Status framing = checkHeadFraming(head); !framing.ok()) {
    server_.counters_.bad_requests++;
    return fail(invalidArgument("malformed HTTP request: " + framing.message()), true);
  }
  Poco::Net::HTTPRequest request;
  try {
    std::istringstream in(head);
    request.read(in);
  } catch (const Poco::Exception& e) {
    server_.counters_.bad_requests++;
    return fail(invalidArgument("malformed HTTP request: " + e.message()), true);
  }
  const std::string& version = request.getVersion();
  const bool http10 = version == Poco::Net::HTTPMessage::HTTP_1_0;
  if (!http10 && version != Poco::Net::HTTPMessage::HTTP_1_1) {
    server_.counters_.bad_requests++;
    return fail(invalidArgument("unsupported HTTP version"), true);
  }
  // HTTP/1.1 requires Host (RFC 9112 3.2); Poco's getHost() throws without one.
  if (!http10 && !request.has(Poco::Net::HTTPRequest::HOST)) {
    server_.counters_.bad_requests++;
    return fail(invalidArgument("HTTP/1.1 request without Host"), true);
  }
  bool keep_alive = request.getKeepAlive();
  server_.counters_.requests++;

  // 3. The body.
  HttpRequest req;
  req.method = request.getMethod();
  req.host = request.get(Poco::Net::HTTPRequest::HOST, "");
  req.peer = peer_;
  const std::string& uri = request.getURI();
  if (!uri.empty() && uri.front() == '/') {
    const size_t q = uri.find('?');
    req.path = uri.substr(0, q);
    if (q != std::string::npos) req.query = uri.substr(q + 1);
  } else {
    try {
      Poco::URI parsed(uri);
      req.path = parsed.getPath();
      req.query = parsed.getRawQuery();
    } catch (const Poco::Exception&) {
      server_.counters_.bad_requests++;
      return fail(invalidArgument("malformed request URI"), true);
    }
  }
  const bool chunked = request.getChunkedTransferEncoding();
  const bool has_te = request.has("Transfer-Encoding");
  if (has_te && !chunked) {
    server_.counters_.bad_requests++;
    return fail(invalidArgument("unsupported Transfer-Encoding (only chunked)"), true);
  }
  if (chunked && request.hasContentLength()) {
    server_.counters_.bad_requests++;
    return fail(invalidArgument("both Content-Length and Transfer-Encoding"), true);
  }
  auto tooLarge = [&](size_t announced) {
    server_.counters_.too_large++;
    return fail(resourceExhausted("the request body is larger than " +
                                  std::to_string(limits.max_body_bytes) + " bytes"),
                true, announced);
  };
  auto timedOut = [&]() {
    server_.counters_.timeouts++;
    return fail(deadlineExceeded("the request was not received within " +
                                 std::to_string(limits.request_timeout.count()) + " ms"),
                false);
  };
  int64_t length = 0;
  if (!chunked && request.hasContentLength()) {
    try {
      length = request.getContentLength64();
    } catch (const Poco::Exception&) {
      length = -1;
    }
    if (length < 0) {
      server_.counters_.bad_requests++;
      return fail(invalidArgument("malformed Content-Length"), true);
    }
    if (static_cast<uint64_t>(length) > limits.max_body_bytes) {
      return tooLarge(buffer_.size() >= static_cast<uint64_t>(length)
                          ? 0
                          : static_cast<size_t>(std::min<int64_t>(
                                length - static_cast<int64_t>(buffer_.size()),
                                static_cast<int64_t>(kMaxLingerBytes))));
    }
  }
  if ((chunked || length > 0) && request.getExpectContinue() && !http10) {
    if (!sendAll(socket(), "HTTP/1.1 100 Continue\r\n\r\n", limits.request_timeout)) return false;
  }
  if (chunked) {
    for (;;) {
      std::string line;
      bool too_long = false;
      r = readLine(deadline, line, too_long);
      if (too_long) {
        server_.counters_.bad_requests++;
        return fail(invalidArgument("malformed chunked body"), true);
      }
      if (r == Read::kTimeout) return timedOut();
      if (r != Read::kOk) return false;
      std::string size_text = line.substr(0, line.find(';'));
      while (!size_text.empty() && (size_text.back() == ' ' || size_text.back() == '\t')) {
        size_text.pop_back();
      }
      if (size_text.empty() || size_text.size() > 15 ||
          size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        server_.counters_.bad_requests++;
        return fail(invalidArgument("malformed chunk size"), true);
      }
      const uint64_t size = std::stoull(size_text, nullptr, 16);
      if (size == 0) break;
      if (req.body.size() + size > limits.max_body_bytes) return tooLarge(0);
      r = readExact(size, deadline, req.body);
      if (r == Read::kTimeout) return timedOut();
      if (r != Read::kOk) return false;
      std::string crlf;
      r = readExact(2, deadline, crlf);
      if (r == Read::kTimeout) return timedOut();
      if (r != Read::kOk) return false;
      if (crlf != "\r\n") {
        server_.counters_.bad_requests++;
        return fail(invalidArgument("malformed chunked body"), true);
      }
    }
    for (int lines = 0;; ++lines) {  // trailer fields, ignored
      std::string line;
      bool too_long = false;
      r = readLine(deadline, line, too_long);
      if (too_long || lines > kMaxTrailerLines) {
        server_.counters_.bad_requests++;
        return fail(invalidArgument("malformed chunked trailer"), true);
      }
      if (r == Read::kTimeout) return timedOut();
      if (r != Read::kOk) return false;
      if (line.empty()) break;
    }
  } else if (length > 0) {
    r = readExact(static_cast<size_t>(length), deadline, req.body);
    if (r == Read::kTimeout) return timedOut();
    if (r != Read::kOk) return false;
  }

  // 4. The answer.
  HttpResponse response = server_.handle(req);
  if (server_.stopping() || server_.othersWaiting()) keep_alive = false;
  if (!respond(response, keep_alive, http10)) return false;
  return keep_alive;
}

void Connection::run() {
  server_.counters_.connections++;
  server_.track(&socket());
  try {
    peer_ = socket().peerAddress().host().toString();
  } catch (const Poco::Exception&) {
    peer_ = "unknown";
  }
  try {
    socket().setNoDelay(true);
    for (bool first = true; !server_.stopping(); first = false) {
      if (!serveOne(first, server_.limits())) break;
    }
  } catch (const std::exception& e) {
    log::error("%s: %s: connection: %s", server_.name().c_str(), peer_.c_str(),
               log::sanitize(e.what()).c_str());
  } catch (...) {
    log::error("%s: %s: connection: unknown exception", server_.name().c_str(), peer_.c_str());
  }
  server_.untrack(&socket());
}

class Factory : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit Factory(HttpServer::Impl& server) : server_(server) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& s) override {
    return new Connection(s, server_);
  }

 private:
  HttpServer::Impl& server_;
};

class Admission : public Poco::Net::TCPServerConnectionFilter {
 public:
  explicit Admission(HttpServer::Impl& server) : server_(server) {}
  bool accept(const Poco::Net::StreamSocket& socket) override {
    if (server_.stopping()) return false;
    const HttpServer::Impl::Admit admitted = server_.admit(socket);
    if (admitted == HttpServer::Impl::Admit::kYes) return true;
    server_.refuse(socket, admitted);
    return false;
  }

 private:
  HttpServer::Impl& server_;
};

}  // namespace

void HttpServer::Impl::refuseOne(Poco::Net::StreamSocket& s) {
  HttpResponse r = errorResponse(unavailable("too many connections; try again shortly"));
  r.headers.emplace_back("Retry-After", "1");
  try {
    s.setReceiveTimeout(timespanOf(kRefuserTimeout));
    if (sendAll(s, serializeResponse(r, false, false), kRefuserTimeout)) {
      if (!options_.tls) ::shutdown(s.impl()->sockfd(), SHUT_WR);
      // Drain briefly so the client sees the response, not a reset.
      char buf[4096];
      Deadline until = SteadyClock::now() + std::chrono::milliseconds(200);
      size_t drained = 0;
      while (SteadyClock::now() < until && drained < 64 * 1024) {
        s.setReceiveTimeout(timespanOf(std::chrono::duration_cast<std::chrono::microseconds>(
            until - SteadyClock::now())));
        int n = s.receiveBytes(buf, sizeof buf);
        if (n <= 0) break;
        drained += static_cast<size_t>(n);
      }
    }
  } catch (...) {
  }
  try {
    s.close();
  } catch (...) {
  }
}

void HttpServer::Impl::refuserLoop() {
  for (;;) {
    Poco::Net::StreamSocket s;
    {
      std::unique_lock<std::mutex> lock(refuser_mutex_);
      refuser_wake_.wait(lock, [this] { return refuser_stop_ || !refuse_queue_.empty(); });
      if (refuser_stop_) {
        refuse_queue_.clear();
        return;
      }
      s = refuse_queue_.front();
      refuse_queue_.pop_front();
    }
    refuseOne(s);
  }
}

void HttpServer::Impl::reaperLoop() {
  std::unique_lock<std::mutex> lock(deadline_mutex_);
  while (!reaper_stop_) {
    const Deadline now = SteadyClock::now();
    Deadline next = Deadline::max();
    for (auto& [s, watch] : sockets_) {
      if (watch.deadline <= now) {
        // The read or write in progress fails at once; the connection sees its time is up.
        try {
          ::shutdown(s->impl()->sockfd(), watch.how);
        } catch (...) {
        }
        watch = Watch{};
      } else if (watch.deadline < next) {
        next = watch.deadline;
      }
    }
    reaper_next_ = next;
    if (next == Deadline::max()) {
      reaper_wake_.wait(lock);
    } else {
      reaper_wake_.wait_until(lock, next);
    }
  }
}

void HttpServer::Impl::stopReaper() {
  {
    std::lock_guard<std::mutex> lock(deadline_mutex_);
    reaper_stop_ = true;
  }
  reaper_wake_.notify_all();
  if (reaper_.joinable()) reaper_.join();
}

Status HttpServer::Impl::start() {
  try {
    Poco::Net::SocketAddress address(options_.host, options_.port);
    const HttpLimits l = limits();
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (options_.tls) {
      auto ctx = makeServerTlsContext(options_.certificate_file, options_.private_key_file);
      if (!ctx.ok()) return ctx.status();
      socket = std::make_unique<Poco::Net::SecureServerSocket>(*ctx);
    } else {
      socket = std::make_unique<Poco::Net::ServerSocket>();
    }
    policy::listenExclusively(*socket, address, 128);
    port_ = socket->address().port();
    pool_ = std::make_unique<Poco::ThreadPool>(2, options_.threads + 2, 60);
    auto* params = new Poco::Net::TCPServerParams;
    params->setMaxThreads(options_.threads);
    // Admission (above) keeps at most max_connections open, so the queue never overflows
    // (an overflow would drop a connection silently).
    params->setMaxQueued(std::max(l.max_connections, 1) + 16);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_sized_for_ = std::max(l.max_connections, 1);
    }
    // Also bounds how long stop() waits: a dispatcher thread that misses Poco's stop wake-up
    // sleeps out this idle time before it sees the server stopped. Threads come from pool_,
    // so a short idle time costs no thread creation.
    params->setThreadIdleTime(Poco::Timespan(1, 0));
    server_ = std::make_unique<Poco::Net::TCPServer>(new Factory(*this), *pool_, *socket, params);
    server_->setConnectionFilter(new Admission(*this));
    refuser_stop_ = false;
    refuser_ = std::thread([this] { refuserLoop(); });
    reaper_stop_ = false;
    reaper_ = std::thread([this] { reaperLoop(); });
    server_->start();
  } catch (const Poco::Exception& e) {
    server_.reset();
    // The refuser may already run: a joinable thread destroyed with this object would end
    // the process (std::terminate).
    {
      std::lock_guard<std::mutex> lock(refuser_mutex_);
      refuser_stop_ = true;
    }
    refuser_wake_.notify_all();
    if (refuser_.joinable()) refuser_.join();
    stopReaper();
    return unavailable(options_.name + ": cannot listen on " + options_.host + ":" +
                       std::to_string(options_.port) + ": " + e.displayText());
  }
  return Status();
}

void HttpServer::Impl::stop() {
  if (!server_) return;
  stopping_ = true;
  server_->stop();
  {
    // Wake connections blocked in a read so their threads end now, not at a timeout.
    std::lock_guard<std::mutex> lock(deadline_mutex_);
    for (auto& [s, watch] : sockets_) {
      try {
        ::shutdown(s->impl()->sockfd(), SHUT_RDWR);
      } catch (...) {
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(refuser_mutex_);
    refuser_stop_ = true;
  }
  refuser_wake_.notify_all();
  if (refuser_.joinable()) refuser_.join();
  pool_->joinAll();
  stopReaper();
  server_.reset();
  pool_.reset();
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler, HttpErrorBody error_body)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(error_body))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::start() { return impl_->start(); }
void HttpServer::stop() { impl_->stop(); }
uint16_t HttpServer::port() const { return impl_->port(); }
Status HttpServer::setLimits(const HttpLimits& limits) { return impl_->setLimits(limits); }
const HttpCounters& HttpServer::counters() const { return impl_->counters_; }

}  // namespace meshgate::meshsvc
