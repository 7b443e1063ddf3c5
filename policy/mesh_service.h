// NAME
//   mesh_service.h - `meshgate policy`: the organization's Mesh service as a Service.
//
// SYNOPSIS
//   auto runtime = std::make_shared<Runtime>();       // started first by ServiceHost
//   host.add(policy::makeMeshService(runtime));
//
// DESCRIPTION
//   POST https://<mesh_service.listen>/.well-known/mmm/ with a Mesh service request (the
//   transactions of seed section 3 and meshgate's Post; policy/mesh/mesh_dispatcher.h), and
//   GET /healthz (200 when the store answers, 503 when it does not), GET /metrics (Prometheus
//   text of gateway/util/metrics.h: meshgate_mesh_requests_total by transaction and status,
//   meshgate_request_seconds{frontend="mesh"}, and every other metric of the process).
//   Anything else: 404, or 405 (with Allow) for another method on a known path. The endpoints
//   are one table in mesh_service.cc (a row per path). The HTTP layer and its limits are
//   policy/mesh/http_server.h; the wire format and authentication docs/mesh-service.md.
//
//   start(): loads mesh_service.admin_keys, creates a self-signed certificate on first start
//   when tls.create_self_signed allows it (policy/mesh/tls_files.h), signs the service's
//   ProfileService with the gateway key (Hello returns it), and listens. reload(): new admin
//   keys, replay window and limits apply to the next request; a changed listen address, TLS
//   files or plain_http needs a restart (reload says so and keeps serving).
//
// SECURITY
//   Holds the gateway's signing key (through the Runtime): it signs every response to a
//   signed request and the service profile. Trusts administrators' public keys from the
//   configuration, accounts' keys from its own store, and nothing in a request until verified.
//   Listens with TLS 1.2+; plain HTTP only on loopback (enforced by the configuration loader).
//
// THREAD SAFETY
//   start/reload/stop from the supervising thread; requests run on the server's threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "gateway/mesh/keys.h"
#include "gateway/policy/engine.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/service.h"
#include "gateway/ports/store.h"
#include "policy/mesh/mesh_dispatcher.h"
#include "policy/runtime.h"

namespace meshgate::policy {

// What the service uses; the Runtime provides all of it (makeMeshService(runtime)), tests can
// provide their own store (a fake whose ping fails, for /healthz).
struct MeshServiceEnv {
  // Read at start() (the Runtime opens its store when it starts, after this is made).
  std::function<Store*()> store;
  const Clock* clock = nullptr;
  std::function<std::shared_ptr<const DecisionEngine>()> engine;
  std::function<std::shared_ptr<const mesh::PrivateKey>()> service_key;
  // The resolver that verifies another domain's sender of a Post (null: never verified).
  std::function<std::shared_ptr<ProfileResolver>()> resolver;
  // Called by start() with the bound port (mesh_service.listen port 0 = any free port).
  std::function<void(uint16_t)> listening;
};

std::unique_ptr<Service> makeMeshService(std::shared_ptr<Runtime> runtime);

// Whether `signer`, the key that signed a Posted message, speaks for `claimed` (an address in
// another domain): the address's profile, verified by the resolver, lists the key as one of
// its own, or was countersigned by a service with that key (the sender's own gateway, which
// bridges its users' SMTP mail: issue 7 item 1). "No profile" or a refused profile is "not
// verified" (empty address); a failure to find out is an error (the Post answers 503).
Result<meshsvc::VerifiedSender> verifyRemoteSender(ProfileResolver& resolver,
                                                   std::string_view claimed,
                                                   const mesh::PublicKey& signer);
std::unique_ptr<Service> makeMeshService(MeshServiceEnv env);

}  // namespace meshgate::policy
