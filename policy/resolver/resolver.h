// NAME
//   resolver.h - the profile resolver: an address -> its verified Mesh profile.
//
// SYNOPSIS
//   auto resolver = makeProfileResolver({.config = config, .store = &store, .clock = &clock,
//                                        .service_key = gateway_key.publicKey()});
//   Result<std::shared_ptr<const ResolvedProfile>> r = (*resolver)->resolve("bob@example.net");
//   if (r.ok()) encrypt to (*r)->encryption_key ...;
//   else if (r.status().code() == StatusCode::kNotFound) ... no Mesh profile: plain SMTP ...
//
// DESCRIPTION
//   Local domains (gateway.domains) are answered from the store only: the account's stored
//   profile, verified against this gateway's service key (signed by its offline key,
//   countersigned by the service, fingerprint = AccountRecord.profile_udf, lists the address).
//
//   Any other domain: its Mesh service is located (service_locator.h: resolver.services, DNS
//   SRV _mmm._tcp.<domain>, mmm.<domain>:443; one found in DNS only at a public address) and
//   asked, over HTTPS (mesh_client.h), with
//     POST /.well-known/mmm/   Host: <domain>   {"GetRequest":{"Account":"<address>"}}
//   The GetResponse's DataItems carry the enveloped ProfileAccount (DataItem.Envelope; a
//   DataItem.Data holding the envelope's text is read too). The first item whose envelope is a
//   ProfileAccount is verified (gateway/mesh/profile.h, seed 7.1.5): signed by its own offline
//   key (or an online key it lists), keys inside their validity, countersigned by the service
//   profile it carries (itself self-signed); when the item's Key is a UDF, the fingerprint must
//   match it. It must list the requested address. A profile that fails any check is refused
//   with the reason; the resolver never falls back to a weaker check.
//
// SECURITY
//   What binds a remote profile to its domain is the TLS certificate of the service it came
//   from (CA-verified or pinned in resolver.trusted_certificates, naming the host or the domain):
//   the profile's signatures prove it is whole and self-consistent, not who the domain is.
//   Only the GetResponse body is trusted, and only after those checks; its size is bounded.
//
//   Results of other domains are cached per address (Clock seconds, so tests pin time):
//   verified profiles for resolver.cache_ttl, "no profile" and refused profiles for
//   resolver.negative_ttl (at most cache_ttl), unreachable services, refused certificates and
//   timeouts for resolver.failure_ttl; a profile never past the first NotOnOrAfter of the keys
//   its checks relied on (its own and its service's). Concurrent requests for one address
//   share one lookup. A lookup that failed because its caller's budget (a DeadlineScope
//   shorter than total_timeout) ran out is not cached, and a waiter with time left asks again.
//   At most resolver.max_cache_entries addresses are kept (expired ones are dropped first).
//   Local profiles are read from the store every time (so a re-provisioned account is seen at
//   once); only their verification is reused while the stored text is unchanged and its keys
//   are valid.
//
//   One resolution is bounded by resolver.total_timeout (and each step by its own timeout), and
//   by the caller's time budget when the calling thread has a DeadlineScope
//   (gateway/ports/deadline.h).
//
// THREAD SAFETY
//   resolve() and invalidate() may be called from any number of threads.
//
// ERRORS
//   kNotFound: the address has no Mesh profile (no such local account, or it has none; the
//   domain has no Mesh service; the service knows no such account). kPermissionDenied /
//   kDataLoss / kFailedPrecondition / kInvalidArgument: a profile was found and refused (the
//   message says which check failed). kUnauthenticated: the service's TLS certificate was
//   refused. kUnavailable / kDeadlineExceeded: could not find out now (store or network);
//   callers treat these as "try later", never as "no profile".
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/config/config.h"
#include "gateway/mesh/keys.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/profile_resolver.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"
#include "policy/resolver/mesh_client.h"
#include "policy/resolver/service_locator.h"

namespace meshgate::resolver {

struct ResolverDeps {
  std::shared_ptr<const config::Config> config;
  Store* store = nullptr;        // local accounts; outlives the resolver
  const Clock* clock = nullptr;  // profile key validity and cache expiry; outlives it
  // This gateway's service key: local profiles must be countersigned by it. Without it local
  // profiles are refused (kFailedPrecondition).
  std::optional<mesh::PublicKey> service_key;
  // Seams for tests; built from the configuration when null.
  std::shared_ptr<ServiceLocator> locator;
  std::shared_ptr<MeshTransport> client;
};

// Builds the resolver (loads the TLS trust settings). Errors name the configuration key.
Result<std::unique_ptr<ProfileResolver>> makeProfileResolver(ResolverDeps deps);

// The body of a Get by Account request: {"GetRequest":{"Account":"<address>"}}.
std::string getRequestBody(std::string_view address);

// The profile in a GetResponse body (`body`, as received with `http_status`), verified for
// `address` at `now`: the steps above after the HTTP exchange. Exposed for tests and for
// `meshgate profile show --from-file`.
Result<std::shared_ptr<const ResolvedProfile>> profileFromGetResponse(std::string_view address,
                                                                      int http_status,
                                                                      std::string_view body,
                                                                      int64_t now);

// Verifies an enveloped ProfileAccount for `address` at `now` against the service profile it
// carries; with `service_key`, that service must be the one with that key (local profiles).
Result<std::shared_ptr<const ResolvedProfile>> verifyResolvedProfile(
    std::string_view address, const mesh::DareEnvelope& envelope,
    const std::optional<std::string>& expected_udf, int64_t now,
    const std::optional<mesh::PublicKey>& service_key);

}  // namespace meshgate::resolver
