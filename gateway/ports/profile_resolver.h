// NAME
//   profile_resolver.h - the port through which the core asks "what is the verified Mesh
//   profile of this address?".
//
// DESCRIPTION
//   The decision logic (a message to a Mesh-enabled address, a Post from another domain's
//   account) needs a recipient's or sender's profile; finding it touches the store and the
//   network, so the core only sees this interface. The implementation is
//   policy/resolver/resolver.h (local accounts from the store, other domains from their Mesh
//   service, every profile verified per seed 7.1.5, cached); tests use a fake.
//
// THREAD SAFETY
//   Implementations are safe for concurrent use from many threads.
//
// ERRORS
//   kNotFound: the address has no Mesh profile. kPermissionDenied / kDataLoss /
//   kFailedPrecondition / kInvalidArgument: a profile was found and refused (the message says
//   which check failed). kUnauthenticated: the service's TLS certificate was refused.
//   kUnavailable / kDeadlineExceeded: could not find out now; callers treat these as "try
//   later", never as "no profile".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "gateway/util/status.h"
#include "meshgate/mesh_model.h"

namespace meshgate {

enum class ProfileSource {
  kLocalStore,   // a local account, from the store
  kMeshService,  // another domain's Mesh service
};
std::string_view profileSourceName(ProfileSource source);  // "local store", "Mesh service"

// A profile that passed every check. Immutable once made; shared between callers.
struct ResolvedProfile {
  std::string address;  // as asked, lower case
  std::string udf;      // the profile's fingerprint
  mesh::model::ProfileAccount profile;
  mesh::DareEnvelope envelope;     // as received or stored
  mesh::PublicKey encryption_key;  // KeyEncryption (X25519/X448): Mesh messages to the address
  std::string signer_kid;          // the profile's own key that signed it
  std::string service_udf;         // the service profile that countersigned it
  // That service's key (its KeyOfflineSignature): it signs the service's responses, so a
  // client posting to the address checks the answer came from the service itself.
  std::optional<mesh::PublicKey> service_key;
  ProfileSource source = ProfileSource::kLocalStore;
  std::string origin;       // "store", or the URL asked and how it was found
  int64_t resolved_at = 0;  // Unix seconds
  // Unix seconds: the first NotOnOrAfter among the keys its checks relied on (its own and its
  // service's); 0 when none expires. Caches must not keep it past then.
  int64_t valid_until = 0;
};

class ProfileResolver {
 public:
  virtual ~ProfileResolver() = default;
  virtual Result<std::shared_ptr<const ResolvedProfile>> resolve(std::string_view address) = 0;
  // Forgets what is cached for the address (all addresses when empty).
  virtual void invalidate(std::string_view address) = 0;
};

inline std::string_view profileSourceName(ProfileSource source) {
  return source == ProfileSource::kLocalStore ? "local store" : "Mesh service";
}

}  // namespace meshgate
