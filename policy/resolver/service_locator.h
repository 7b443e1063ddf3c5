// NAME
//   service_locator.h - where a domain's Mesh service is: resolver.services, else DNS SRV
//   _mmm._tcp.<domain>, else mmm.<domain>:443 (MESH-FORMATS section 4).
//
// SYNOPSIS
//   auto locator = makeServiceLocator(config.resolver);
//   Result<std::vector<ServiceEndpoint>> where = locator->locate("example.net", 2000ms);
//   for (const auto& e : *where) ... e.url() ... e.found_by ...
//
// DESCRIPTION
//   A domain listed in resolver.services gets that URL and nothing else. Otherwise, with
//   resolver.discovery on, an SRV lookup (res_nquery on a private resolver state, so it is
//   thread-safe) gives the targets in RFC 2782 order (priority, then weight); a domain with no
//   SRV record (NXDOMAIN or no data) falls back to mmm.<domain>:443. An SRV answer whose only
//   target is "." says the domain has no service.
//
//   The lookup runs on a helper thread and is abandoned when `timeout` passes, so a resolver
//   that hangs cannot hold mail past its budget (the abandoned lookup finishes in the
//   background within the resolver state's own retry limit).
//
// THREAD SAFETY
//   locate() may be called from any number of threads.
//
// ERRORS
//   kNotFound: the domain has no Mesh service (SRV "."; discovery off and not listed).
//   kUnavailable: DNS failed (SERVFAIL, no answer); kDeadlineExceeded: it took too long.
//   kInvalidArgument: a malformed DNS answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/util/status.h"

namespace meshgate::resolver {

struct ServiceEndpoint {
  std::string host;  // host name or address
  uint16_t port = 443;
  std::string path = "/.well-known/mmm/";
  std::string found_by;  // "resolver.services", "DNS SRV _mmm._tcp.example.net", ...
  // Found in DNS (SRV, or mmm.<domain>) rather than listed in resolver.services: whoever
  // controls the domain chose it, so it must not lead to a loopback or private address.
  bool discovered = false;

  // https://host:port/path (IPv6 addresses in brackets).
  std::string url() const;
};

struct SrvRecord {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;  // without the trailing dot; "." for "no service"
};

// The SRV records in the answer section of a DNS response (as res_nquery returns it).
Result<std::vector<SrvRecord>> parseSrvAnswer(const unsigned char* answer, int length);

// RFC 2782 order: ascending priority; within one priority, higher weight first.
void sortSrvRecords(std::vector<SrvRecord>& records);

class ServiceLocator {
 public:
  virtual ~ServiceLocator() = default;
  virtual Result<std::vector<ServiceEndpoint>> locate(std::string_view domain,
                                                      std::chrono::milliseconds timeout) = 0;
};

std::unique_ptr<ServiceLocator> makeServiceLocator(const config::ResolverSection& config);

// Runs `fn` on a helper thread and waits at most `timeout` for it. On timeout returns
// kDeadlineExceeded "<what> took longer than N ms" and lets the thread finish alone.
template <typename T>
Result<T> runWithTimeout(std::function<Result<T>()> fn, std::chrono::milliseconds timeout,
                         const std::string& what);

// ---- Implementation of the template above ----------------------------------------------------

template <typename T>
Result<T> runWithTimeout(std::function<Result<T>()> fn, std::chrono::milliseconds timeout,
                         const std::string& what) {
  auto task = std::make_shared<std::packaged_task<Result<T>()>>(std::move(fn));
  std::future<Result<T>> done = task->get_future();
  try {
    std::thread([task] { (*task)(); }).detach();
  } catch (const std::system_error& e) {
    return unavailable(what + ": cannot start a thread: " + e.what());
  }
  if (done.wait_for(timeout) != std::future_status::ready) {
    return deadlineExceeded(what + " took longer than " + std::to_string(timeout.count()) + " ms");
  }
  return done.get();
}

}  // namespace meshgate::resolver
