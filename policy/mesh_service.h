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
//   GET /healthz (200 when the store answers, 503 when it does not). Anything else: 404, or
//   405 for another method at /.well-known/mmm/. The HTTP layer and its limits are
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

#include <memory>

#include "gateway/ports/service.h"
#include "policy/runtime.h"

namespace meshgate::policy {

std::unique_ptr<Service> makeMeshService(std::shared_ptr<Runtime> runtime);

}  // namespace meshgate::policy
