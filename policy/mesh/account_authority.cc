// account_authority.cc - see account_authority.h.
#include "policy/mesh/account_authority.h"

#include "gateway/mesh/dare.h"

namespace meshgate::meshsvc {

namespace model = mesh::model;

bool containsKey(const std::vector<mesh::PublicKey>& keys, const mesh::PublicKey& key) {
  for (const auto& k : keys) {
    if (k.kid() == key.kid() && k.raw() == key.raw()) return true;
  }
  return false;
}

bool AccountAuthority::authorizes(const mesh::PublicKey& key) const {
  return containsKey(request_keys, key);
}

bool AccountAuthority::administers(const mesh::PublicKey& key) const {
  return containsKey(admin_keys, key);
}

Result<mesh::PublicKey> keyOfKeyData(const model::KeyData& key) {
  if (!key.public_parameters) return invalidArgument("KeyData has no PublicParameters");
  const auto* ecdh = std::get_if<model::PublicKeyECDH>(&*key.public_parameters);
  if (ecdh == nullptr || !ecdh->crv || !ecdh->public_key) {
    return invalidArgument("KeyData.PublicParameters is not a public key");
  }
  auto type = mesh::parseKeyType(*ecdh->crv);
  if (!type.ok()) return type.status();
  return mesh::PublicKey::fromRaw(*type, *ecdh->public_key);
}

Result<model::ProfileAccount> storedAccountProfile(std::string_view envelope_text) {
  auto env = mesh::parseDareEnvelope(envelope_text);
  if (!env.ok()) return dataLoss("stored profile is not a DARE envelope: " + env.status().message());
  auto profile = model::parse<model::ProfileAccount>(toString(env->payload));
  if (!profile.ok()) return dataLoss("stored profile: " + profile.status().message());
  return profile;
}

Result<AccountAuthority> loadAccountAuthority(Store& store, const AccountRecord& account) {
  AccountAuthority a;
  a.address = account.address;
  if (!account.profile.empty()) {
    MESHGATE_ASSIGN_OR_RETURN(model::ProfileAccount profile, storedAccountProfile(account.profile));
    a.profile_udf = account.profile_udf;
    auto add = [](std::vector<mesh::PublicKey>& to, const std::optional<model::KeyData>& kd) {
      if (!kd) return;
      auto k = keyOfKeyData(*kd);
      if (k.ok() && mesh::isSignatureKey(k->type())) to.push_back(*k);
    };
    add(a.admin_keys, profile.key_offline_signature);
    for (const auto& kd : profile.keys_online_signature) add(a.admin_keys, kd);
    a.request_keys = a.admin_keys;
    add(a.request_keys, profile.key_authentication);
  }
  // Devices an administration key accepted (ConnectComplete). Bounded: one page.
  EntryQuery q;
  q.max_entries = 1000;
  auto devices = store.listEntries(account.address, kDevicesCatalog, q);
  if (!devices.ok()) return devices.status();
  for (const CatalogEntry& e : devices->items) {
    auto json = model::parseJsonText(e.data);
    if (!json.ok() || !json->is_object()) continue;
    auto it = json->find("DeviceKey");
    if (it == json->end() || !it->is_string()) continue;
    auto key = mesh::parsePublicKey(it->get<std::string>());
    if (key.ok() && mesh::isSignatureKey(key->type())) a.request_keys.push_back(*key);
  }
  return a;
}

}  // namespace meshgate::meshsvc
