// NAME
//   profile.h - Mesh profiles and their verification: the organization's ProfileService, a
//   ProfileAccount per local account, device profiles with their ConnectionDevice assertions,
//   the device catalog; and the checks of seed 7.1.5.
//
// SYNOPSIS
//   Result<SignedProfile<model::ProfileService>> service =
//       makeServiceProfile(service_key, now);
//   Result<SignedProfile<model::ProfileAccount>> account = makeAccountProfile(
//       {.addresses = {"alice@example.com"}, .offline_signature = offline,
//        .online_signature = {admin.publicKey()}, .encryption = enc.publicKey(),
//        .authentication = auth.publicKey(), .updated = now},
//       *service, service_key);
//
//   ProfileCheck check{.now = now, .expected_udf = record.profile_udf};
//   Result<VerifiedProfile<model::ProfileAccount>> ok =
//       verifyAccountProfile(envelope, check, &verified_service);
//
// DESCRIPTION
//   A profile is a DARE envelope whose payload is the profile's tagged JSON
//   ({"ProfileAccount":{...}}, MESH-FORMATS section 4), signed with header binding (dare.h).
//   docs/mesh-formats.md ("Profiles") lists which keys each profile carries and who signs it.
//
//   A profile's UDF is the profile fingerprint of MESH-FORMATS section 2 over its root keys;
//   meshgate's root key list is the KeyOfflineSignature alone, the one key that by the seed
//   (2.6.4) never changes, so the UDF is a permanent identifier and every other key is bound to
//   it through the offline key's (or a listed online key's) signature.
//
//   Verification (seed 7.1.5) is one function per rule below; each failure is its own Status
//   with its own message, and the verify* functions run the rules in a fixed order and return
//   the first failure. The rules:
//     checkKeyBinding        a KeyData's UDF is the kid of its PublicParameters
//     checkKeyValidity       a key used at `now` is inside NotBefore / NotOnOrAfter
//     checkSignatures        every signature of the envelope verifies
//     checkSignedByProfile   a profile is signed by its offline key or an online key it lists
//     checkFingerprint       the profile's fingerprint equals the UDF it is claimed under
//     checkServiceCountersignature
//                            an account profile is countersigned by its service's key
//     checkSignedByAdministrator
//                            a ConnectionDevice, and every entry of a device catalog, is signed
//                            by an administration key the master profile lists
//                            (KeysOnlineSignature)
//     checkConnectionBinding a ConnectionDevice names the master profile (AuthorityUDF) and the
//                            device profile (SubjectUDF) it connects
//     checkListsAddress      an account profile lists the address it was looked up for
//
// THREAD SAFETY
//   Value types and pure functions; safe from any thread.
//
// ERRORS
//   kInvalidArgument: the envelope's payload is not the expected profile type, or a key field
//     is malformed. kDataLoss: a signature does not verify, a fingerprint or binding does not
//     match. kPermissionDenied: validly signed, but by a key that is not authorized (not the
//     profile's own key, not an administration key, no service countersignature), or the
//     profile does not list the address. kFailedPrecondition: a key outside its validity
//     period at `now`. Messages name the profile, the field and the kids involved.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "gateway/util/status.h"
#include "meshgate/mesh_model.h"

namespace meshgate::mesh {

// ContentMetaData "cty" of every assertion envelope meshgate seals (the reference
// implementation's content type for Mesh objects); the payload's type tag names the structure.
inline constexpr std::string_view kAssertionContentType = "application/mmm/object";
// Profiles are small; the limit for their payload (an account profile embeds its service's).
inline constexpr size_t kMaxProfileBytes = 256 * 1024;

// ---- Keys in profiles -----------------------------------------------------------------------

struct KeyValidity {
  std::optional<model::DateTime> not_before{};
  std::optional<model::DateTime> not_on_or_after{};
};

// {"UDF": kid, "PublicParameters": {"PublicKeyECDH": {"crv", "Public"}}, validity}.
model::KeyData keyDataOf(const PublicKey& key, const KeyValidity& validity = {});

// The public key of a KeyData, after checkKeyBinding. `field` names it in errors
// ("ProfileAccount.KeyEncryption").
Result<PublicKey> publicKeyOf(const model::KeyData& key, std::string_view field);

// ---- Building and sealing -------------------------------------------------------------------

// An assertion and the envelope that carries it.
template <typename T>
struct SignedProfile {
  T profile;
  std::string udf;        // profile fingerprint (profiles) or "" (connections, catalog entries)
  DareEnvelope envelope;  // signed, header-bound, payload = serialize(profile)
};

// Seals `payload` (tagged JSON text) signed by every key of `signers` (header-bound, signature
// keys embedded, content type kAssertionContentType).
Result<DareEnvelope> sealAssertionJson(std::string_view payload, std::span<const PrivateKey> signers);

template <typename T>
Result<DareEnvelope> sealAssertion(const T& value, std::span<const PrivateKey> signers) {
  return sealAssertionJson(model::serialize(value), signers);
}

// The profile fingerprint of `profile` (MESH-FORMATS 2) over its root key, KeyOfflineSignature.
Result<std::string> profileUdf(const model::Profile& profile);

// The organization's service profile: KeyOfflineSignature = KeyAuthentication = the service
// (gateway) key, optional KeyEncryption; self-signed by the service key.
Result<SignedProfile<model::ProfileService>> makeServiceProfile(
    const PrivateKey& service_key, model::DateTime updated,
    const std::optional<PublicKey>& encryption = std::nullopt);

struct AccountProfileParams {
  std::vector<std::string> addresses;          // AccountAddresses, lower case
  PrivateKey offline_signature;                // KeyOfflineSignature; signs the profile
  std::vector<PublicKey> online_signature;     // KeysOnlineSignature: administration keys
  PublicKey encryption;                        // KeyEncryption, X25519: Mesh messages to it
  PublicKey authentication;                    // KeyAuthentication
  model::DateTime updated;
};

// A ProfileAccount carrying `service` (EnvelopedProfileService), signed by the offline key and
// countersigned by `service_key` (seed 2.6.17: "signed by the service hosting the account").
Result<SignedProfile<model::ProfileAccount>> makeAccountProfile(
    const AccountProfileParams& params, const SignedProfile<model::ProfileService>& service,
    const PrivateKey& service_key);

// A device's own profile, self-signed by its offline key.
Result<SignedProfile<model::ProfileDevice>> makeDeviceProfile(const PrivateKey& offline_signature,
                                                              const PublicKey& encryption,
                                                              const PublicKey& authentication,
                                                              std::string description,
                                                              model::DateTime updated);

struct DeviceConnectionParams {
  std::string master_udf;  // AuthorityUDF: the account (or Mesh) profile
  std::string device_udf;  // SubjectUDF: the device profile
  PublicKey signature;     // the device's keys for use under the master profile
  PublicKey encryption;
  PublicKey authentication;
  std::vector<model::Permission> permissions;
  model::DateTime updated;
};

// A ConnectionDevice signed by `administration_key` (one of the master profile's
// KeysOnlineSignature).
Result<SignedProfile<model::ConnectionDevice>> makeDeviceConnection(
    const DeviceConnectionParams& params, const PrivateKey& administration_key);

// A device catalog entry: the device's profile and connection envelopes, DeviceUDF = the device
// profile's UDF, UDF = the connection's KeySignature kid; signed by `administration_key`.
Result<SignedProfile<model::CatalogedDevice>> makeCatalogedDevice(
    const SignedProfile<model::ProfileDevice>& device,
    const SignedProfile<model::ConnectionDevice>& connection, const PrivateKey& administration_key);

// ---- Verification ---------------------------------------------------------------------------

struct ProfileCheck {
  model::DateTime now{};                      // key validity is judged at this instant
  std::optional<std::string> expected_udf{};  // the UDF the profile is claimed under, if any
};

template <typename T>
struct VerifiedProfile {
  T profile;
  std::string udf;         // its fingerprint (profiles) or "" (connections, catalog entries)
  std::string signer_kid;  // the authorized key that signed it
  std::vector<DareSignatureCheck> signatures;
};

// The payload of `envelope` as T (it must be tagged T). kInvalidArgument otherwise.
template <typename T>
Result<T> assertionPayload(const DareEnvelope& envelope);

// Rules (see DESCRIPTION). `what` names the assertion in messages ("ProfileAccount MBQX-...").
Status checkKeyBinding(const model::KeyData& key, std::string_view field);
Status checkKeyValidity(const model::KeyData& key, model::DateTime now, std::string_view field);
// Every signature verifies, with the key of `trusted` whose kid matches or else the signature's
// embedded key; returns the checks. Fails when there is no signature.
Result<std::vector<DareSignatureCheck>> checkSignatures(const DareEnvelope& envelope,
                                                        std::span<const PublicKey> trusted,
                                                        std::string_view what);
// One of `signatures` (already verified) is by KeyOfflineSignature or one of
// KeysOnlineSignature of `profile`, inside its validity; returns that kid.
Result<std::string> checkSignedByProfile(const model::Profile& profile,
                                         std::span<const DareSignatureCheck> signatures,
                                         model::DateTime now, std::string_view what);
Status checkFingerprint(std::string_view actual_udf, std::string_view claimed_udf,
                        std::string_view what);
Status checkServiceCountersignature(std::span<const DareSignatureCheck> signatures,
                                    const VerifiedProfile<model::ProfileService>& service,
                                    model::DateTime now, std::string_view what);
// One of `signatures` is by one of `master`'s KeysOnlineSignature (its administration keys),
// inside its validity; returns that kid.
Result<std::string> checkSignedByAdministrator(const model::Profile& master,
                                               std::string_view master_udf,
                                               std::span<const DareSignatureCheck> signatures,
                                               model::DateTime now, std::string_view what);
Status checkConnectionBinding(const model::ConnectionDevice& connection,
                              std::string_view master_udf, std::string_view device_udf);
Status checkListsAddress(const model::ProfileAccount& profile, std::string_view address);

// Whole-profile checks: payload type, key bindings, signatures, authorization, validity,
// fingerprint (against check.expected_udf when given).
Result<VerifiedProfile<model::ProfileService>> verifyServiceProfile(const DareEnvelope& envelope,
                                                                    const ProfileCheck& check);
// With `service`: also the countersignature by that service, and that the embedded
// EnvelopedProfileService (if any) is that service's profile. KeyEncryption must be present.
Result<VerifiedProfile<model::ProfileAccount>> verifyAccountProfile(
    const DareEnvelope& envelope, const ProfileCheck& check,
    const VerifiedProfile<model::ProfileService>* service);
// verifyAccountProfile with the service profile the account profile carries (itself verified
// first): for profiles from another organization, whose service is known only through them.
Result<VerifiedProfile<model::ProfileAccount>> verifyAccountProfileWithEmbeddedService(
    const DareEnvelope& envelope, const ProfileCheck& check);
Result<VerifiedProfile<model::ProfileDevice>> verifyDeviceProfile(const DareEnvelope& envelope,
                                                                  const ProfileCheck& check);
// A device credential: signed by an administration key of `master` (seed 7.1.5), naming
// `master_udf` as its AuthorityUDF; `device_udf` (when not empty) as its SubjectUDF.
Result<VerifiedProfile<model::ConnectionDevice>> verifyDeviceConnection(
    const DareEnvelope& envelope, const model::Profile& master, std::string_view master_udf,
    std::string_view device_udf, model::DateTime now);

struct VerifiedDevice {
  VerifiedProfile<model::CatalogedDevice> entry;
  VerifiedProfile<model::ProfileDevice> device;
  VerifiedProfile<model::ConnectionDevice> connection;
};
// One device catalog entry: the entry signed by an administration key of `master`; its device
// profile and connection verified as above, and tied together (DeviceUDF = the device profile,
// UDF = the connection's KeySignature).
Result<VerifiedDevice> verifyCatalogedDevice(const DareEnvelope& envelope,
                                             const model::Profile& master,
                                             std::string_view master_udf, model::DateTime now);
// Every entry of a device catalog (seed 7.1.5: the catalog MUST be signed by an admin device).
Result<std::vector<VerifiedDevice>> verifyDeviceCatalog(std::span<const DareEnvelope> entries,
                                                        const model::Profile& master,
                                                        std::string_view master_udf,
                                                        model::DateTime now);

// ---- Display --------------------------------------------------------------------------------

// "Ed25519", "X25519", ... of a KeyData, or "?" when it carries no usable key.
std::string keyDataType(const model::KeyData& key);

// ---- Implementation of the template above ----------------------------------------------------

namespace detail {
Status checkAssertionEnvelope(const DareEnvelope& envelope, std::string_view type_name);
}  // namespace detail

template <typename T>
Result<T> assertionPayload(const DareEnvelope& envelope) {
  MESHGATE_RETURN_IF_ERROR(detail::checkAssertionEnvelope(envelope, T::kTypeName));
  Result<T> value = model::parse<T>(toString(envelope.payload),
                                    model::ParseLimits{.max_bytes = kMaxProfileBytes});
  if (!value.ok()) {
    return Status(value.status().code(), "payload is not a valid " + std::string(T::kTypeName) +
                                             ": " + value.status().message());
  }
  return value;
}

}  // namespace meshgate::mesh
