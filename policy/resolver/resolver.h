// NAME
//   resolver.h - the profile resolver: an address -> its verified Mesh profile.
//
// SYNOPSIS
//   auto resolver = makeProfileResolver(config, store, clock, gateway_key.publicKey());
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
//   SRV _mmm._tcp.<domain>, mmm.<domain>:443) and asked, over HTTPS (mesh_client.h), with
//     POST /.well-known/mmm/   Host: <domain>   {"GetRequest":{"Account":"<address>"}}
//   The GetResponse's DataItems carry the enveloped ProfileAccount (DataItem.Envelope; a
//   DataItem.Data holding the envelope's text is read too). The first item whose envelope is a
//   ProfileAccount is verified (gateway/mesh/profile.h): against the service profile it
//   carries, which must countersign it; and, when the item's Key is a UDF, its fingerprint must
//   match it. It must list the requested address. A profile that fails any check is refused
//   with the reason; the resolver never falls back to a weaker check.
//
//   Results are cached per address: verified profiles for resolver.cache_ttl, "no profile" and
//   refused profiles for resolver.negative_ttl, unreachable services and timeouts for
//   resolver.failure_ttl. Concurrent requests for one address share one lookup. Local profiles
//   are read from the store every time (so a re-provisioned account is seen at once); only
//   their verification is reused while the stored text is unchanged.
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

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/config/config.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"
#include "meshgate/mesh_model.h"
#include "policy/resolver/mesh_client.h"
#include "policy/resolver/service_locator.h"

namespace meshgate::resolver {

enum class ProfileSource {
  kLocalStore,   // a local account, from the store
  kMeshService,  // another domain's Mesh service
};
std::string_view profileSourceName(ProfileSource source);  // "local store", "Mesh service"

struct ResolvedProfile {
  std::string address;  // as asked, lower case
  std::string udf;      // the profile's fingerprint
  mesh::model::ProfileAccount profile;
  mesh::DareEnvelope envelope;  // as received or stored
  mesh::PublicKey encryption_key;  // KeyEncryption (X25519/X448): Mesh messages to the address
  std::string signer_kid;          // the profile's own key that signed it
  std::string service_udf;         // the service profile that countersigned it
  ProfileSource source;
  std::string origin;  // "store", or the URL asked and how it was found
  int64_t resolved_at = 0;  // Unix seconds
};

class ProfileResolver {
 public:
  virtual ~ProfileResolver() = default;
  virtual Result<std::shared_ptr<const ResolvedProfile>> resolve(std::string_view address) = 0;
  // Forgets what is cached for the address (all addresses when empty).
  virtual void invalidate(std::string_view address) = 0;
};

struct ResolverDeps {
  std::shared_ptr<const config::Config> config;
  Store* store = nullptr;            // local accounts; outlives the resolver
  const Clock* clock = nullptr;      // profile key validity and cache expiry; outlives it
  std::optional<mesh::PublicKey> service_key;  // this gateway's key: local countersignatures
  // Seams for tests; defaults from the configuration when null.
  std::shared_ptr<ServiceLocator> locator;
  std::shared_ptr<MeshClient> client;
};

// Builds the resolver (loads the TLS trust settings). Errors name the configuration key.
Result<std::unique_ptr<ProfileResolver>> makeProfileResolver(ResolverDeps deps);

// The GetRequest body for `address`, and the profile in a GetResponse body: for tests and for
// the Mesh service's own checks.
std::string getRequestBody(std::string_view address);

}  // namespace meshgate::resolver
