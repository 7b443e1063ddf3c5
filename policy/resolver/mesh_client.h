// NAME
//   mesh_client.h - one Mesh service request over HTTPS, bounded in time and size, with the
//   server's certificate checked (TLS 1.2 or later).
//
// SYNOPSIS
//   Result<std::shared_ptr<MeshClient>> client = MeshClient::create(config.resolver);
//   Result<MeshReply> reply = (*client)->post(endpoint, "example.net", body, deadline);
//
// DESCRIPTION
//   post() resolves the endpoint's host (getaddrinfo on a helper thread, abandoned after
//   resolver.dns_timeout), connects to each address in turn (resolver.connect_timeout each),
//   performs the TLS handshake (SNI = the host), checks the certificate, sends
//   `POST <path>` with `Host: <service name>` and `Content-Type: application/json`, and reads
//   the response (at most resolver.max_response_bytes). A watchdog shuts the connection down
//   when `deadline` passes, so no step, however slowly the peer drips bytes, outlives it.
//
//   Certificates: a server certificate equal to one of resolver.trusted_certificates is trusted
//   whatever its issuer (pinning replaces the CA); any other must chain to resolver.ca_file (or
//   the system CA store when that is ""). Either way it must name the host connected to or the
//   service name (the domain), as a DNS name or, for an address, an IP SAN: a partner's pinned
//   certificate does not answer for another domain. There is no option to skip the check.
//
// THREAD SAFETY
//   post() may be called from any number of threads; the TLS context is shared and immutable.
//
// ERRORS
//   kNotFound: the host name does not exist. kUnavailable: no address accepted a connection,
//   TLS failed, or the HTTP exchange broke. kUnauthenticated: the certificate was refused (the
//   message says why). kDeadlineExceeded: a timeout. kResourceExhausted: a response over the
//   limit. Every Poco exception is caught here.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/config/config.h"
#include "gateway/util/status.h"
#include "policy/resolver/service_locator.h"

namespace meshgate::resolver {

struct MeshReply {
  int http_status = 0;
  std::string body;
  std::string peer;          // "127.0.0.1:15099"
  bool pinned_certificate = false;  // accepted through resolver.trusted_certificates
};

// What the resolver needs from a client: one bounded POST (a seam for tests).
class MeshTransport {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  virtual ~MeshTransport() = default;
  virtual Result<MeshReply> post(const ServiceEndpoint& endpoint, std::string_view service_name,
                                 std::string_view body, Deadline deadline) const = 0;
};

class MeshClient : public MeshTransport {
 public:

  // Loads the CA file and the trusted certificates; errors name the file.
  static Result<std::shared_ptr<MeshClient>> create(const config::ResolverSection& config);
  ~MeshClient() override;
  MeshClient(const MeshClient&) = delete;
  MeshClient& operator=(const MeshClient&) = delete;

  Result<MeshReply> post(const ServiceEndpoint& endpoint, std::string_view service_name,
                         std::string_view body, Deadline deadline) const override;

  struct Impl;

 private:
  explicit MeshClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshgate::resolver
