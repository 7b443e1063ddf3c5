// NAME
//   http_server.h - the Mesh service's HTTP/1.1 server: TLS 1.2+ (or plain HTTP on loopback),
//   keep-alive, and the limits the service promises, each answered with a clear response.
//
// SYNOPSIS
//   HttpServer server(options, handler, error_body);
//   Status st = server.start();         // listening; server.port() is the bound port
//   ...
//   server.stop();                      // stops accepting, wakes and joins every connection
//
// DESCRIPTION
//   Built on Poco::Net::TCPServer (with a SecureServerSocket for TLS) and Poco's HTTP message
//   parser, with its own connection loop instead of Poco::Net::HTTPServer, because the
//   service's limits need control Poco's loop does not give:
//     - request_timeout is a deadline for the WHOLE request (head and body; for a connection's
//       first request from accept, so the TLS handshake counts). Every read waits only for
//       the time left; a client that trickles bytes cannot stretch it. Expired -> 408.
//       (Poco's HTTPServerConnection applies a per-read timeout and closes silently or
//       answers 400 when the head times out.)
//     - max_connections is counted here, at accept: connection max_connections + 1 is handed to
//       a small "refuser" thread that answers 503 and closes (Poco's dispatcher queue, when
//       full, just closes the socket). The refuser has a short queue and 1 s timeouts, so a
//       flood costs it nothing it cannot shed.
//     - max_connections_per_client, counted the same way per client address (an IPv6 client
//       by its /64): a connection holds a worker thread until its request is complete or
//       request_timeout passes, so without it one address that opens `threads` silent
//       connections (slowloris) would stall the service for everyone. Over it -> 503 too.
//     - max_body_bytes: a Content-Length over it is refused before any body byte is read
//       (also before "100 Continue"); a chunked body is counted while it is decoded. -> 413.
//       The refused body is then read and discarded (at most 16 MiB, 3 s) before the
//       connection closes, so a client that writes its whole body before reading still reads
//       the 413 rather than a broken pipe; nothing of it reaches the handler.
//     - the head is limited to max_header_bytes -> 413.
//   Requests on a keep-alive connection are served in order (pipelining works: bytes read past
//   one request are the next's). An idle keep-alive connection is closed after
//   keep_alive_timeout; while other connections wait for a worker thread, a connection is not
//   kept alive after its response (threads are per connection). After an error response that
//   left input unread the connection is closed with a short lingering drain, so the client
//   reads the response instead of a reset.
//
//   The handler gets every well-formed request (method, path, body) and must not throw; if it
//   does, the client gets 500 from error_body. error_body makes the JSON of the errors this
//   layer detects, so that the service's one status table (status_table.h) decides them too.
//
// SECURITY
//   TLS: the context (makeServerTlsContext) refuses SSLv2/3, TLS 1.0 and 1.1 explicitly, on top
//   of requiring TLS 1.2 as the minimum, whatever the system's OpenSSL configuration allows.
//   Plain HTTP is only what the configuration loader permits (loopback).
//
// THREAD SAFETY
//   start/stop/setLimits from the supervising thread. Connections run on the server's own
//   thread pool (`threads` workers); the handler is called concurrently from them.
//
// ERRORS
//   start: kUnavailable when the address cannot be bound; kFailedPrecondition/kInternal when
//   the certificate or key cannot be loaded (the message names the file).
#pragma once

#include <Poco/Net/Context.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/util/status.h"

namespace meshgate::meshsvc {

struct HttpRequest {
  std::string method;
  std::string path;  // the URI's path, without the query
  std::string query;  // after '?', still percent-encoded ("" when none)
  std::string host;  // Host header
  std::string peer;  // client IP address
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// The response for an error this layer detects (kDeadlineExceeded -> 408, kResourceExhausted
// -> 413, kUnavailable -> 503, kInvalidArgument -> 400, kInternal -> 500).
using HttpErrorBody = std::function<HttpResponse(const Status&)>;

struct HttpLimits {
  size_t max_body_bytes = 1024 * 1024;
  size_t max_header_bytes = 32 * 1024;
  int max_connections = 256;
  int max_connections_per_client = 8;  // per IPv4 address or IPv6 /64
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds keep_alive_timeout{15000};
};

struct HttpServerOptions {
  std::string name = "mesh";  // in log lines
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (port() says which)
  bool tls = true;
  std::string certificate_file;
  std::string private_key_file;
  int threads = 16;
  HttpLimits limits;
};

// A server context: certificate and key from the files, TLS 1.2 or later only.
Result<Poco::Net::Context::Ptr> makeServerTlsContext(const std::string& certificate_file,
                                                     const std::string& private_key_file);

struct HttpCounters {
  std::atomic<uint64_t> connections{0};   // accepted and served
  std::atomic<uint64_t> refused{0};       // over max_connections (503)
  std::atomic<uint64_t> refused_per_client{0};  // over max_connections_per_client (503)
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> timeouts{0};      // 408
  std::atomic<uint64_t> too_large{0};     // 413
  std::atomic<uint64_t> bad_requests{0};  // malformed HTTP
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler, HttpErrorBody error_body);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Status start();
  void stop();
  uint16_t port() const;
  // Applies to connections accepted (limits read per request) from now on. max_connections
  // cannot rise above its value at start (the dispatcher queue was sized for it): a higher
  // value is held at that and kFailedPrecondition says a restart applies it.
  Status setLimits(const HttpLimits& limits);
  const HttpCounters& counters() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshgate::meshsvc
