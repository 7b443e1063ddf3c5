// NAME
//   account_authority.h - which keys may act for a local account: read from its stored
//   ProfileAccount and its connected devices.
//
// SYNOPSIS
//   Result<AccountAuthority> a = loadAccountAuthority(store, record);
//   if (a->authorizes(signer)) ...              // may make requests for the account
//   if (a->administers(result_signer)) ...      // may sign a ConnectComplete result
//
// DESCRIPTION
//   An account's profile (AccountRecord.profile, a DARE envelope of a ProfileAccount written by
//   account provisioning) names its keys. For the Mesh service:
//     request keys        KeyAuthentication ("key used to authenticate requests made by the
//                         device"), the administration keys below, and the key of every device
//                         whose connection an administration key accepted (ConnectComplete
//                         stores it in the account's "devices" catalog as DeviceKey)
//     administration keys KeyOfflineSignature (the profile's root) and KeysOnlineSignature
//                         (administration devices): they may sign a ConnectComplete result
//   The profile comes from meshgate's own store, written by meshgate, so it is read, not
//   re-verified (the resolver verifies profiles that come from elsewhere).
//
// THREAD SAFETY
//   Pure functions over the store (which is thread-safe); AccountAuthority is a value.
//
// ERRORS
//   kDataLoss when the stored profile cannot be read (a corrupted store); the store's Status
//   when the devices catalog cannot be read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mesh/keys.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"
#include "meshgate/mesh_model.h"

namespace meshgate::meshsvc {

inline constexpr std::string_view kDevicesCatalog = "devices";

struct AccountAuthority {
  std::string address;
  std::string profile_udf;                   // "" when the account has no profile
  std::vector<mesh::PublicKey> request_keys;
  std::vector<mesh::PublicKey> admin_keys;

  bool authorizes(const mesh::PublicKey& key) const;
  bool administers(const mesh::PublicKey& key) const;
};

Result<AccountAuthority> loadAccountAuthority(Store& store, const AccountRecord& account);

// The key a typed KeyData carries (PublicParameters {"PublicKeyECDH":{"crv","Public"}});
// kInvalidArgument when it carries none or an unusable one.
Result<mesh::PublicKey> keyOfKeyData(const mesh::model::KeyData& key);

// The ProfileAccount inside an account's stored profile envelope text.
Result<mesh::model::ProfileAccount> storedAccountProfile(std::string_view envelope_text);

// True when `key` is one of `keys` (by kid).
bool containsKey(const std::vector<mesh::PublicKey>& keys, const mesh::PublicKey& key);

}  // namespace meshgate::meshsvc
