// NAME
//   policyd_service.h - `meshgate policyd`: the Postfix SMTPD policy delegation server.
//
// DESCRIPTION
//   A TCP server (Poco::Net::TCPServer, one thread per connection from a pool of its own sized
//   max_connections + 4, as Postfix keeps one persistent connection per smtpd process) on
//   policyd.listen. A connection over max_connections gets a thread, is closed at once and
//   logged ("too many connections"), rather than waiting unanswered in a queue. Each connection reads requests
//   with PolicyStreamParser and answers through a PolicydSession. Limits: policyd.max_connections
//   concurrent connections (more are closed at once), policyd.idle_timeout per connection,
//   policyd.max_request_bytes per request (larger closes the connection).
//
//   On a malformed request or an internal error the connection is closed without a reply, and
//   the reason is logged: Postfix then applies smtpd_policy_service_default_action.
//
// SECURITY
//   Trusts its client (Postfix) only as far as the protocol: every attribute is length-checked
//   and sanitized before it reaches a log line. Listen on loopback or a private network only.
//
// THREAD SAFETY
//   start/reload/stop from the supervising thread; connections run on the server's threads.
#pragma once

#include <memory>

#include "gateway/ports/service.h"
#include "policy/policyd/policyd_session.h"

namespace meshgate::policyd {

std::unique_ptr<Service> makePolicydService(EngineSource engine);

}  // namespace meshgate::policyd
