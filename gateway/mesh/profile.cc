// profile.cc - see profile.h. One function per rule of seed 7.1.5; the verify* functions only
// sequence them.
#include "gateway/mesh/profile.h"

#include <utility>

#include "gateway/mesh/udf.h"
#include "gateway/util/strings.h"

namespace meshgate::mesh {
namespace {

std::string joinKids(std::span<const DareSignatureCheck> signatures) {
  std::string out;
  for (const auto& s : signatures) {
    if (!out.empty()) out += ", ";
    out += s.kid;
  }
  return out.empty() ? "nobody" : out;
}

std::string joinKeyUdfs(const std::vector<model::KeyData>& keys) {
  std::string out;
  for (const auto& k : keys) {
    if (!out.empty()) out += ", ";
    out += k.udf.value_or("?");
  }
  return out;
}

// The key of a KeyData without the binding check.
Result<PublicKey> parseKeyParameters(const model::KeyData& key, std::string_view field) {
  const std::string f(field);
  if (!key.public_parameters) return invalidArgument(f + ": no PublicParameters");
  const auto* pub = std::get_if<model::PublicKeyECDH>(&*key.public_parameters);
  if (pub == nullptr) return invalidArgument(f + ": PublicParameters holds a private key");
  if (!pub->crv || !pub->public_key) return invalidArgument(f + ": PublicParameters lacks crv or Public");
  Result<KeyType> type = parseKeyType(*pub->crv);
  if (!type.ok()) return invalidArgument(f + ": " + type.status().message());
  Result<PublicKey> parsed = PublicKey::fromRaw(*type, *pub->public_key);
  if (!parsed.ok()) return invalidArgument(f + ": " + parsed.status().message());
  return parsed;
}

Result<PublicKey> boundKey(const model::KeyData& key, std::string_view field) {
  MESHGATE_ASSIGN_OR_RETURN(PublicKey parsed, parseKeyParameters(key, field));
  if (!key.udf) return invalidArgument(std::string(field) + ": no UDF");
  if (!udfMatches(*key.udf, parsed.kid())) {
    return dataLoss(std::string(field) + ": UDF " + *key.udf +
                    " is not the fingerprint of its public key (kid " + parsed.kid() + ")");
  }
  return parsed;
}

// The offline key, then every online key, binding-checked; field names for messages.
Status collectProfileKeys(const model::Profile& profile, std::string_view type,
                          std::vector<PublicKey>& keys) {
  const std::string t(type);
  if (!profile.key_offline_signature) return invalidArgument(t + ": no KeyOfflineSignature");
  MESHGATE_ASSIGN_OR_RETURN(PublicKey offline,
                            boundKey(*profile.key_offline_signature, t + ".KeyOfflineSignature"));
  if (!isSignatureKey(offline.type())) {
    return invalidArgument(t + ".KeyOfflineSignature: " + std::string(keyTypeName(offline.type())) +
                           " is not a signature key");
  }
  keys.push_back(std::move(offline));
  for (size_t i = 0; i < profile.keys_online_signature.size(); ++i) {
    MESHGATE_ASSIGN_OR_RETURN(PublicKey online,
                              boundKey(profile.keys_online_signature[i],
                                       t + ".KeysOnlineSignature[" + std::to_string(i) + "]"));
    keys.push_back(std::move(online));
  }
  return Status();
}

const DareSignatureCheck* signatureBy(std::span<const DareSignatureCheck> signatures,
                                      std::string_view kid) {
  for (const auto& s : signatures) {
    if (udfMatches(s.kid, kid)) return &s;
  }
  return nullptr;
}

// The shared part of every profile check: payload, keys, signatures, authorization,
// fingerprint.
template <typename T>
Result<VerifiedProfile<T>> verifyProfileCommon(const DareEnvelope& envelope,
                                               const ProfileCheck& check,
                                               std::span<const PublicKey> extra_trusted) {
  MESHGATE_ASSIGN_OR_RETURN(T profile, assertionPayload<T>(envelope));
  std::vector<PublicKey> keys;
  MESHGATE_RETURN_IF_ERROR(collectProfileKeys(profile, T::kTypeName, keys));
  MESHGATE_ASSIGN_OR_RETURN(std::string udf, profileUdf(profile));
  const std::string what = std::string(T::kTypeName) + " " + udf;
  keys.insert(keys.end(), extra_trusted.begin(), extra_trusted.end());
  MESHGATE_ASSIGN_OR_RETURN(std::vector<DareSignatureCheck> signatures,
                            checkSignatures(envelope, keys, what));
  MESHGATE_ASSIGN_OR_RETURN(std::string signer,
                            checkSignedByProfile(profile, signatures, check.now, what));
  if (check.expected_udf) MESHGATE_RETURN_IF_ERROR(checkFingerprint(udf, *check.expected_udf, what));
  return VerifiedProfile<T>{std::move(profile), std::move(udf), std::move(signer),
                            std::move(signatures)};
}

// A key a profile carries besides its signature keys: bound, and valid now.
Status checkOptionalKey(const std::optional<model::KeyData>& key, std::string_view field,
                        model::DateTime now) {
  if (!key) return Status();
  MESHGATE_ASSIGN_OR_RETURN(PublicKey parsed, boundKey(*key, field));
  (void)parsed;
  return checkKeyValidity(*key, now, field);
}

std::vector<PublicKey> serviceKeys(const VerifiedProfile<model::ProfileService>& service) {
  std::vector<PublicKey> keys;
  Status st = collectProfileKeys(service.profile, "ProfileService", keys);
  (void)st;  // verified before: cannot fail
  return keys;
}

}  // namespace

namespace detail {

Status checkAssertionEnvelope(const DareEnvelope& envelope, std::string_view type_name) {
  if (envelope.header.enc || envelope.header.recipients) {
    return invalidArgument(std::string(type_name) + ": the envelope is encrypted (assertions are "
                                                    "signed, not encrypted)");
  }
  if (envelope.payload.size() > kMaxProfileBytes) {
    return resourceExhausted(std::string(type_name) + ": payload of " +
                             std::to_string(envelope.payload.size()) + " bytes is over the " +
                             std::to_string(kMaxProfileBytes) + "-byte limit");
  }
  return Status();
}

}  // namespace detail

// ---- Keys -----------------------------------------------------------------------------------

model::KeyData keyDataOf(const PublicKey& key, const KeyValidity& validity) {
  model::KeyData data;
  data.udf = key.kid();
  model::PublicKeyECDH pub;
  pub.crv = std::string(keyTypeName(key.type()));
  pub.public_key = key.raw();
  data.public_parameters = std::move(pub);
  data.not_before = validity.not_before;
  data.not_on_or_after = validity.not_on_or_after;
  return data;
}

Result<PublicKey> publicKeyOf(const model::KeyData& key, std::string_view field) {
  return boundKey(key, field);
}

std::string keyDataType(const model::KeyData& key) {
  Result<PublicKey> parsed = parseKeyParameters(key, "key");
  return parsed.ok() ? std::string(keyTypeName(parsed->type())) : "?";
}

// ---- Building -------------------------------------------------------------------------------

Result<DareEnvelope> sealAssertionJson(std::string_view payload,
                                       std::span<const PrivateKey> signers) {
  if (signers.empty()) return invalidArgument("an assertion needs at least one signer");
  DareSealOptions options;
  for (const PrivateKey& k : signers) options.signers.push_back(k);
  options.content_type = std::string(kAssertionContentType);
  options.embed_signature_keys = true;
  options.bind_header = true;
  return sealDare(asBytes(payload), options);
}

Result<std::string> profileUdf(const model::Profile& profile) {
  if (!profile.key_offline_signature) return invalidArgument("profile has no KeyOfflineSignature");
  MESHGATE_ASSIGN_OR_RETURN(PublicKey root,
                            boundKey(*profile.key_offline_signature, "KeyOfflineSignature"));
  std::vector<PublicKey> roots{std::move(root)};
  return profileFingerprint(roots);
}

Result<SignedProfile<model::ProfileService>> makeServiceProfile(
    const PrivateKey& service_key, model::DateTime updated,
    const std::optional<PublicKey>& encryption) {
  if (!isSignatureKey(service_key.type())) {
    return invalidArgument("the service key must be a signature key (Ed25519 or Ed448)");
  }
  model::ProfileService profile;
  profile.updated = updated;
  profile.key_offline_signature = keyDataOf(service_key.publicKey());
  profile.key_authentication = keyDataOf(service_key.publicKey());
  if (encryption) {
    if (!isAgreementKey(encryption->type())) {
      return invalidArgument("the service encryption key must be X25519 or X448");
    }
    profile.key_encryption = keyDataOf(*encryption);
  }
  MESHGATE_ASSIGN_OR_RETURN(std::string udf, profileUdf(profile));
  const PrivateKey signers[] = {service_key};
  MESHGATE_ASSIGN_OR_RETURN(DareEnvelope envelope, sealAssertion(profile, signers));
  return SignedProfile<model::ProfileService>{std::move(profile), std::move(udf),
                                              std::move(envelope)};
}

Result<SignedProfile<model::ProfileAccount>> makeAccountProfile(
    const AccountProfileParams& params, const SignedProfile<model::ProfileService>& service,
    const PrivateKey& service_key) {
  if (params.addresses.empty()) return invalidArgument("an account profile needs an address");
  if (!isSignatureKey(params.offline_signature.type())) {
    return invalidArgument("the offline signature key must be Ed25519 or Ed448");
  }
  if (!isAgreementKey(params.encryption.type())) {
    return invalidArgument("the account encryption key must be X25519 or X448");
  }
  if (!service.profile.key_offline_signature ||
      !udfMatches(service.profile.key_offline_signature->udf.value_or(""), service_key.kid())) {
    return invalidArgument("the service key " + service_key.kid() +
                           " is not the key of the service profile " + service.udf);
  }
  model::ProfileAccount profile;
  profile.updated = params.updated;
  for (const auto& a : params.addresses) profile.account_addresses.push_back(toLowerAscii(a));
  profile.key_offline_signature = keyDataOf(params.offline_signature.publicKey());
  for (const auto& k : params.online_signature) {
    if (!isSignatureKey(k.type())) return invalidArgument("online signature keys must be Ed25519 or Ed448");
    profile.keys_online_signature.push_back(keyDataOf(k));
  }
  profile.key_encryption = keyDataOf(params.encryption);
  profile.key_authentication = keyDataOf(params.authentication);
  profile.enveloped_profile_service = service.envelope;
  MESHGATE_ASSIGN_OR_RETURN(std::string udf, profileUdf(profile));
  const PrivateKey signers[] = {params.offline_signature, service_key};
  MESHGATE_ASSIGN_OR_RETURN(DareEnvelope envelope, sealAssertion(profile, signers));
  return SignedProfile<model::ProfileAccount>{std::move(profile), std::move(udf),
                                              std::move(envelope)};
}

Result<SignedProfile<model::ProfileDevice>> makeDeviceProfile(const PrivateKey& offline_signature,
                                                              const PublicKey& encryption,
                                                              const PublicKey& authentication,
                                                              std::string description,
                                                              model::DateTime updated) {
  if (!isSignatureKey(offline_signature.type())) {
    return invalidArgument("the device's offline signature key must be Ed25519 or Ed448");
  }
  model::ProfileDevice profile;
  profile.updated = updated;
  if (!description.empty()) profile.description = std::move(description);
  profile.key_offline_signature = keyDataOf(offline_signature.publicKey());
  profile.key_encryption = keyDataOf(encryption);
  profile.key_authentication = keyDataOf(authentication);
  MESHGATE_ASSIGN_OR_RETURN(std::string udf, profileUdf(profile));
  const PrivateKey signers[] = {offline_signature};
  MESHGATE_ASSIGN_OR_RETURN(DareEnvelope envelope, sealAssertion(profile, signers));
  return SignedProfile<model::ProfileDevice>{std::move(profile), std::move(udf),
                                             std::move(envelope)};
}

Result<SignedProfile<model::ConnectionDevice>> makeDeviceConnection(
    const DeviceConnectionParams& params, const PrivateKey& administration_key) {
  model::ConnectionDevice connection;
  connection.updated = params.updated;
  connection.authority_udf = params.master_udf;
  connection.subject_udf = params.device_udf;
  connection.permissions = params.permissions;
  connection.key_signature = keyDataOf(params.signature);
  connection.key_encryption = keyDataOf(params.encryption);
  connection.key_authentication = keyDataOf(params.authentication);
  const PrivateKey signers[] = {administration_key};
  MESHGATE_ASSIGN_OR_RETURN(DareEnvelope envelope, sealAssertion(connection, signers));
  return SignedProfile<model::ConnectionDevice>{std::move(connection), "", std::move(envelope)};
}

Result<SignedProfile<model::CatalogedDevice>> makeCatalogedDevice(
    const SignedProfile<model::ProfileDevice>& device,
    const SignedProfile<model::ConnectionDevice>& connection,
    const PrivateKey& administration_key) {
  model::CatalogedDevice entry;
  entry.device_udf = device.udf;
  if (connection.profile.key_signature) entry.udf = connection.profile.key_signature->udf;
  entry.enveloped_profile_device = device.envelope;
  entry.enveloped_connection_device = connection.envelope;
  const PrivateKey signers[] = {administration_key};
  MESHGATE_ASSIGN_OR_RETURN(DareEnvelope envelope, sealAssertion(entry, signers));
  return SignedProfile<model::CatalogedDevice>{std::move(entry), "", std::move(envelope)};
}

// ---- Rules ----------------------------------------------------------------------------------

Status checkKeyBinding(const model::KeyData& key, std::string_view field) {
  return boundKey(key, field).status();
}

Status checkKeyValidity(const model::KeyData& key, model::DateTime now, std::string_view field) {
  const std::string who = std::string(field) + " (kid " + key.udf.value_or("?") + ")";
  if (key.not_before && now < *key.not_before) {
    return failedPrecondition(who + ": not valid before " + model::formatDateTime(*key.not_before) +
                              " (NotBefore; now " + model::formatDateTime(now) + ")");
  }
  if (key.not_on_or_after && now >= *key.not_on_or_after) {
    return failedPrecondition(who + ": expired at " + model::formatDateTime(*key.not_on_or_after) +
                              " (NotOnOrAfter; now " + model::formatDateTime(now) + ")");
  }
  return Status();
}

Result<std::vector<DareSignatureCheck>> checkSignatures(const DareEnvelope& envelope,
                                                        std::span<const PublicKey> trusted,
                                                        std::string_view what) {
  if (!envelope.trailer || !envelope.trailer->signatures || envelope.trailer->signatures->empty()) {
    return dataLoss(std::string(what) + ": not signed");
  }
  DareVerifyOptions options;
  options.allow_embedded_keys = true;  // authorization is decided by kid below, not here
  Result<std::vector<DareSignatureCheck>> checks = verifyDare(envelope, trusted, options);
  if (!checks.ok()) return checks.status().withContext(what);
  return checks;
}

Result<std::string> checkSignedByProfile(const model::Profile& profile,
                                         std::span<const DareSignatureCheck> signatures,
                                         model::DateTime now, std::string_view what) {
  const std::string w(what);
  Status first_invalid;
  auto consider = [&](const model::KeyData& key, const std::string& field) -> bool {
    if (!key.udf || signatureBy(signatures, *key.udf) == nullptr) return false;
    Status valid = checkKeyValidity(key, now, field);
    if (valid.ok()) return true;
    if (first_invalid.ok()) first_invalid = valid;
    return false;
  };
  if (profile.key_offline_signature &&
      consider(*profile.key_offline_signature, "KeyOfflineSignature")) {
    return *profile.key_offline_signature->udf;
  }
  for (size_t i = 0; i < profile.keys_online_signature.size(); ++i) {
    const auto& key = profile.keys_online_signature[i];
    if (consider(key, "KeysOnlineSignature[" + std::to_string(i) + "]")) return *key.udf;
  }
  if (!first_invalid.ok()) return first_invalid.withContext(w + ": signed with a key not valid now");
  std::string offline = profile.key_offline_signature
                            ? profile.key_offline_signature->udf.value_or("?")
                            : std::string("none");
  return permissionDenied(w + ": not signed by its offline signature key (" + offline +
                          ") or an online signature key it lists; signed by " +
                          joinKids(signatures));
}

Status checkFingerprint(std::string_view actual_udf, std::string_view claimed_udf,
                        std::string_view what) {
  if (udfMatches(actual_udf, claimed_udf)) return Status();
  return dataLoss(std::string(what) + ": fingerprint " + std::string(actual_udf) +
                  " does not match the claimed UDF " + std::string(claimed_udf));
}

Status checkServiceCountersignature(std::span<const DareSignatureCheck> signatures,
                                    const VerifiedProfile<model::ProfileService>& service,
                                    model::DateTime now, std::string_view what) {
  const model::Profile& p = service.profile;
  std::vector<const model::KeyData*> keys;
  if (p.key_offline_signature) keys.push_back(&*p.key_offline_signature);
  for (const auto& k : p.keys_online_signature) keys.push_back(&k);
  Status first_invalid;
  for (const model::KeyData* key : keys) {
    if (!key->udf || signatureBy(signatures, *key->udf) == nullptr) continue;
    Status valid = checkKeyValidity(*key, now, "service key");
    if (valid.ok()) return Status();
    if (first_invalid.ok()) first_invalid = valid;
  }
  if (!first_invalid.ok()) {
    return first_invalid.withContext(std::string(what) + ": countersigned with a service key not "
                                                         "valid now");
  }
  std::string service_key =
      p.key_offline_signature ? p.key_offline_signature->udf.value_or("?") : std::string("?");
  return permissionDenied(std::string(what) + ": not countersigned by its service " + service.udf +
                          " (service key " + service_key + "); signed by " + joinKids(signatures));
}

Result<std::string> checkSignedByAdministrator(const model::Profile& master,
                                               std::string_view master_udf,
                                               std::span<const DareSignatureCheck> signatures,
                                               model::DateTime now, std::string_view what) {
  const std::string w(what);
  if (master.keys_online_signature.empty()) {
    return permissionDenied(w + ": profile " + std::string(master_udf) +
                            " lists no administration key (KeysOnlineSignature), so nothing it "
                            "signs is authorized");
  }
  Status first_invalid;
  for (size_t i = 0; i < master.keys_online_signature.size(); ++i) {
    const auto& key = master.keys_online_signature[i];
    if (!key.udf || signatureBy(signatures, *key.udf) == nullptr) continue;
    Status valid = checkKeyValidity(key, now, "administration key KeysOnlineSignature[" +
                                                  std::to_string(i) + "]");
    if (valid.ok()) return *key.udf;
    if (first_invalid.ok()) first_invalid = valid;
  }
  if (!first_invalid.ok()) return first_invalid.withContext(w);
  return permissionDenied(w + ": not signed by an administration device of profile " +
                          std::string(master_udf) + " (its administration keys: " +
                          joinKeyUdfs(master.keys_online_signature) + "); signed by " +
                          joinKids(signatures));
}

Status checkConnectionBinding(const model::ConnectionDevice& connection,
                              std::string_view master_udf, std::string_view device_udf) {
  if (!connection.authority_udf || !udfMatches(*connection.authority_udf, master_udf)) {
    return dataLoss("ConnectionDevice: AuthorityUDF " + connection.authority_udf.value_or("(none)") +
                    " is not the master profile " + std::string(master_udf));
  }
  if (!device_udf.empty() &&
      (!connection.subject_udf || !udfMatches(*connection.subject_udf, device_udf))) {
    return dataLoss("ConnectionDevice: SubjectUDF " + connection.subject_udf.value_or("(none)") +
                    " is not the device profile " + std::string(device_udf));
  }
  return Status();
}

Status checkListsAddress(const model::ProfileAccount& profile, std::string_view address) {
  for (const auto& a : profile.account_addresses) {
    if (equalsIgnoreCase(a, address)) return Status();
  }
  return permissionDenied("ProfileAccount does not list the address " + std::string(address) +
                          " (it lists: " + joinList(profile.account_addresses, ", ") + ")");
}

// ---- Whole checks ---------------------------------------------------------------------------

Result<VerifiedProfile<model::ProfileService>> verifyServiceProfile(const DareEnvelope& envelope,
                                                                    const ProfileCheck& check) {
  MESHGATE_ASSIGN_OR_RETURN(auto verified,
                            verifyProfileCommon<model::ProfileService>(envelope, check, {}));
  const std::string what = "ProfileService " + verified.udf;
  MESHGATE_RETURN_IF_ERROR(
      checkOptionalKey(verified.profile.key_authentication, what + ".KeyAuthentication", check.now));
  MESHGATE_RETURN_IF_ERROR(
      checkOptionalKey(verified.profile.key_encryption, what + ".KeyEncryption", check.now));
  return verified;
}

Result<VerifiedProfile<model::ProfileAccount>> verifyAccountProfile(
    const DareEnvelope& envelope, const ProfileCheck& check,
    const VerifiedProfile<model::ProfileService>* service) {
  std::vector<PublicKey> extra;
  if (service != nullptr) extra = serviceKeys(*service);
  MESHGATE_ASSIGN_OR_RETURN(auto verified,
                            verifyProfileCommon<model::ProfileAccount>(envelope, check, extra));
  const std::string what = "ProfileAccount " + verified.udf;
  const model::ProfileAccount& p = verified.profile;
  if (p.account_addresses.empty()) return invalidArgument(what + ": lists no AccountAddresses");
  if (!p.key_encryption) return invalidArgument(what + ": no KeyEncryption");
  MESHGATE_ASSIGN_OR_RETURN(PublicKey encryption,
                            boundKey(*p.key_encryption, what + ".KeyEncryption"));
  if (!isAgreementKey(encryption.type())) {
    return invalidArgument(what + ".KeyEncryption: " + std::string(keyTypeName(encryption.type())) +
                           " is not an encryption (key agreement) key");
  }
  MESHGATE_RETURN_IF_ERROR(checkKeyValidity(*p.key_encryption, check.now, what + ".KeyEncryption"));
  MESHGATE_RETURN_IF_ERROR(
      checkOptionalKey(p.key_authentication, what + ".KeyAuthentication", check.now));
  if (service != nullptr) {
    MESHGATE_RETURN_IF_ERROR(
        checkServiceCountersignature(verified.signatures, *service, check.now, what));
    if (p.enveloped_profile_service) {
      MESHGATE_ASSIGN_OR_RETURN(
          model::ProfileService embedded,
          assertionPayload<model::ProfileService>(*p.enveloped_profile_service));
      Result<std::string> embedded_udf = profileUdf(embedded);
      if (!embedded_udf.ok()) {
        return embedded_udf.status().withContext(what + ".EnvelopedProfileService");
      }
      MESHGATE_RETURN_IF_ERROR(
          checkFingerprint(*embedded_udf, service->udf, what + ".EnvelopedProfileService"));
    }
  }
  return verified;
}

Result<VerifiedProfile<model::ProfileAccount>> verifyAccountProfileWithEmbeddedService(
    const DareEnvelope& envelope, const ProfileCheck& check) {
  MESHGATE_ASSIGN_OR_RETURN(model::ProfileAccount profile,
                            assertionPayload<model::ProfileAccount>(envelope));
  if (!profile.enveloped_profile_service) {
    return permissionDenied("ProfileAccount carries no EnvelopedProfileService, so its service's "
                            "countersignature cannot be checked");
  }
  Result<VerifiedProfile<model::ProfileService>> service =
      verifyServiceProfile(*profile.enveloped_profile_service, ProfileCheck{.now = check.now});
  if (!service.ok()) return service.status().withContext("ProfileAccount.EnvelopedProfileService");
  return verifyAccountProfile(envelope, check, &*service);
}

Result<VerifiedProfile<model::ProfileDevice>> verifyDeviceProfile(const DareEnvelope& envelope,
                                                                  const ProfileCheck& check) {
  MESHGATE_ASSIGN_OR_RETURN(auto verified,
                            verifyProfileCommon<model::ProfileDevice>(envelope, check, {}));
  const std::string what = "ProfileDevice " + verified.udf;
  MESHGATE_RETURN_IF_ERROR(
      checkOptionalKey(verified.profile.key_encryption, what + ".KeyEncryption", check.now));
  MESHGATE_RETURN_IF_ERROR(
      checkOptionalKey(verified.profile.key_authentication, what + ".KeyAuthentication", check.now));
  return verified;
}

Result<VerifiedProfile<model::ConnectionDevice>> verifyDeviceConnection(
    const DareEnvelope& envelope, const model::Profile& master, std::string_view master_udf,
    std::string_view device_udf, model::DateTime now) {
  MESHGATE_ASSIGN_OR_RETURN(model::ConnectionDevice connection,
                            assertionPayload<model::ConnectionDevice>(envelope));
  const std::string what = "ConnectionDevice of " + connection.subject_udf.value_or("(no subject)");
  std::vector<PublicKey> admin_keys;
  for (size_t i = 0; i < master.keys_online_signature.size(); ++i) {
    MESHGATE_ASSIGN_OR_RETURN(
        PublicKey k, boundKey(master.keys_online_signature[i],
                              "master KeysOnlineSignature[" + std::to_string(i) + "]"));
    admin_keys.push_back(std::move(k));
  }
  MESHGATE_ASSIGN_OR_RETURN(std::vector<DareSignatureCheck> signatures,
                            checkSignatures(envelope, admin_keys, what));
  MESHGATE_ASSIGN_OR_RETURN(std::string signer, checkSignedByAdministrator(
                                                    master, master_udf, signatures, now, what));
  MESHGATE_RETURN_IF_ERROR(checkConnectionBinding(connection, master_udf, device_udf));
  if (!connection.key_signature) return invalidArgument(what + ": no KeySignature");
  MESHGATE_RETURN_IF_ERROR(checkOptionalKey(connection.key_signature, what + ".KeySignature", now));
  MESHGATE_RETURN_IF_ERROR(checkOptionalKey(connection.key_encryption, what + ".KeyEncryption", now));
  MESHGATE_RETURN_IF_ERROR(
      checkOptionalKey(connection.key_authentication, what + ".KeyAuthentication", now));
  return VerifiedProfile<model::ConnectionDevice>{std::move(connection), "", std::move(signer),
                                                  std::move(signatures)};
}

Result<VerifiedDevice> verifyCatalogedDevice(const DareEnvelope& envelope,
                                             const model::Profile& master,
                                             std::string_view master_udf, model::DateTime now) {
  MESHGATE_ASSIGN_OR_RETURN(model::CatalogedDevice entry,
                            assertionPayload<model::CatalogedDevice>(envelope));
  const std::string what = "CatalogedDevice " + entry.device_udf.value_or("(no DeviceUDF)");
  std::vector<PublicKey> admin_keys;
  for (size_t i = 0; i < master.keys_online_signature.size(); ++i) {
    MESHGATE_ASSIGN_OR_RETURN(
        PublicKey k, boundKey(master.keys_online_signature[i],
                              "master KeysOnlineSignature[" + std::to_string(i) + "]"));
    admin_keys.push_back(std::move(k));
  }
  MESHGATE_ASSIGN_OR_RETURN(std::vector<DareSignatureCheck> signatures,
                            checkSignatures(envelope, admin_keys, what));
  MESHGATE_ASSIGN_OR_RETURN(std::string signer, checkSignedByAdministrator(
                                                    master, master_udf, signatures, now, what));
  if (!entry.enveloped_profile_device) return invalidArgument(what + ": no EnvelopedProfileDevice");
  if (!entry.enveloped_connection_device) {
    return invalidArgument(what + ": no EnvelopedConnectionDevice");
  }
  if (!entry.device_udf) return invalidArgument(what + ": no DeviceUDF");
  Result<VerifiedProfile<model::ProfileDevice>> device = verifyDeviceProfile(
      *entry.enveloped_profile_device, ProfileCheck{.now = now, .expected_udf = entry.device_udf});
  if (!device.ok()) return device.status().withContext(what);
  Result<VerifiedProfile<model::ConnectionDevice>> connection = verifyDeviceConnection(
      *entry.enveloped_connection_device, master, master_udf, device->udf, now);
  if (!connection.ok()) return connection.status().withContext(what);
  const auto& key_signature = connection->profile.key_signature;
  if (!entry.udf || !key_signature || !udfMatches(*entry.udf, key_signature->udf.value_or(""))) {
    return dataLoss(what + ": UDF " + entry.udf.value_or("(none)") +
                    " is not the device's signature key in its connection (" +
                    (key_signature ? key_signature->udf.value_or("?") : std::string("none")) + ")");
  }
  VerifiedProfile<model::CatalogedDevice> verified_entry{std::move(entry), "", std::move(signer),
                                                         std::move(signatures)};
  return VerifiedDevice{std::move(verified_entry), std::move(device).value(),
                        std::move(connection).value()};
}

Result<std::vector<VerifiedDevice>> verifyDeviceCatalog(std::span<const DareEnvelope> entries,
                                                        const model::Profile& master,
                                                        std::string_view master_udf,
                                                        model::DateTime now) {
  std::vector<VerifiedDevice> out;
  for (size_t i = 0; i < entries.size(); ++i) {
    Result<VerifiedDevice> device = verifyCatalogedDevice(entries[i], master, master_udf, now);
    if (!device.ok()) {
      return device.status().withContext("device catalog entry " + std::to_string(i));
    }
    out.push_back(std::move(device).value());
  }
  return out;
}

}  // namespace meshgate::mesh
