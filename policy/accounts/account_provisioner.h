// NAME
//   account_provisioner.h - gives a local account its Mesh keys and its signed ProfileAccount.
//
// SYNOPSIS
//   Result<AccountProvisioner> p = AccountProvisioner::open(config, clock);
//   Result<ProvisionedAccount> made = p->createAccount(store, record);  // meshgate account create
//   p->provisionAccount(store, "bob@example.com", false);             // an older account
//   p->deleteAccount(store, "bob@example.com");                       // store row + key folder
//
// DESCRIPTION
//   An account's keys (docs/mesh-formats.md, "Profiles"):
//     offline.key         Ed25519  KeyOfflineSignature: signs the profile; its fingerprint is
//                                  the profile's UDF
//     administration.key  Ed25519  KeysOnlineSignature[0]: signs device connections and the
//                                  device catalog (the account's administration device)
//     encryption.key      X25519   KeyEncryption: Mesh messages to the account
//     authentication.key  Ed25519  KeyAuthentication
//     device.key          Ed25519  the gateway's own device under the account: its device
//                                  profile's offline key and its connection's KeySignature
//   They are kept in gateway.data_dir/accounts/<address>/ (folder 0700, files 0600): the gateway
//   holds them because it bridges the account's Mesh messages to and from SMTP. The profile is
//   signed by the offline key and countersigned by the service (gateway) key, carries the
//   service profile, and is stored in the account's record (AccountRecord.profile, DARE JSON
//   text; profile_udf).
//
//   Catalogs written with the account (Store entries of the account):
//     devices       the gateway device: its ProfileDevice, a ConnectionDevice signed by the
//                   administration key, and the CatalogedDevice signed by the administration
//                   key (seed 7.1.5: device credentials and the device catalog are signed by
//                   an administration device), keyed by the device's KeySignature kid, with
//                   DeviceKid/DeviceKey as the Mesh service's ConnectComplete writes them
//     applications  a CatalogedApplicationMail for the address (the gateway bridges its mail);
//                   `meshgate account app add` adds SSH and network entries
//
//   The key folder is written under a temporary name and renamed into place, and the store is
//   written last: a failure at any step leaves neither a half-written folder nor an account
//   whose profile names keys that are not there.
//
// SECURITY
//   Private keys never leave the folder; files are created 0600 by keys.h (mkstemp + rename).
//   Addresses become folder names only after a check that they cannot name another path (no
//   '/', no leading '.', no control characters). Admin commands run as the invoking user;
//   the services hand data_dir to gateway.user when they start.
//
// THREAD SAFETY
//   An AccountProvisioner is immutable after open(); its methods may run concurrently for
//   different addresses.
//
// ERRORS
//   kAlreadyExists: the account exists (create), or already has a profile (provision without
//   renew). kNotFound: no such account. kFailedPrecondition: a key folder is already there for
//   an account that does not exist. kInvalidArgument: an address that cannot be a folder name.
//   kUnavailable / kPermissionDenied: files or store.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/mesh/keys.h"
#include "gateway/mesh/profile.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::accounts {

struct AccountKeys {
  mesh::PrivateKey offline;
  mesh::PrivateKey administration;
  mesh::PrivateKey encryption;
  mesh::PrivateKey authentication;
  mesh::PrivateKey device;
};

inline constexpr const char* kOfflineKeyFile = "offline.key";
inline constexpr const char* kAdministrationKeyFile = "administration.key";
inline constexpr const char* kEncryptionKeyFile = "encryption.key";
inline constexpr const char* kAuthenticationKeyFile = "authentication.key";
inline constexpr const char* kDeviceKeyFile = "device.key";

inline constexpr const char* kDevicesCatalog = "devices";
inline constexpr const char* kApplicationsCatalog = "applications";

// The kinds of applications catalog entry (seed 2.8 CatalogedApplication*).
enum class ApplicationKind { kMail, kSsh, kNetwork };
std::string_view applicationKindName(ApplicationKind kind);  // "mail", "ssh", "network"
std::optional<ApplicationKind> parseApplicationKind(std::string_view name);

struct ApplicationEntry {
  ApplicationKind kind = ApplicationKind::kMail;
  std::string name;  // the entry's Key, unique within the account ("mail:bob@example.com")
  std::vector<std::string> labels;
  std::vector<mesh::PublicKey> keys;  // capabilities: each enveloped (signed by the
                                      // administration key) in EnvelopedCapabilities
  int64_t updated = 0;
};

// The account's applications catalog, parsed (entries that do not parse are skipped with a
// warning in the log).
Result<std::vector<ApplicationEntry>> listApplications(Store& store, std::string_view address);

struct DeviceEntry {
  std::string kid;          // DeviceKid: the device's KeySignature
  std::string device_udf;   // its ProfileDevice fingerprint
  std::string description;  // ProfileDevice.Description
  std::string role;         // "gateway" for the one provisioning makes; "" for others
  int64_t accepted = 0;
};
Result<std::vector<DeviceEntry>> listDevices(Store& store, std::string_view address);

// gateway.data_dir/accounts/<address>; kInvalidArgument if the address cannot be a folder name.
Result<std::string> accountKeyFolder(const std::string& data_dir, std::string_view address);

Result<AccountKeys> generateAccountKeys();
// Writes the four key files into a new folder `folder` (mode 0700), atomically;
// kFailedPrecondition if it exists.
Status saveAccountKeys(const AccountKeys& keys, const std::string& folder);
// Refuses files readable by group or others (keys.h).
Result<AccountKeys> loadAccountKeys(const std::string& folder);
// Removes the folder and its files; OK if it does not exist.
Status removeAccountKeys(const std::string& folder);

struct ProvisionedAccount {
  AccountRecord record;  // as stored, with profile and profile_udf
  std::string key_folder;
  bool new_keys = false;  // false: the keys already in the folder were used
};

class AccountProvisioner {
 public:
  // Loads the service (gateway) key from gateway.key_file, creating it as the services do when
  // it does not exist yet.
  static Result<AccountProvisioner> open(const config::Config& config, const Clock& clock);
  AccountProvisioner(std::string data_dir, mesh::PrivateKey service_key, const Clock& clock);

  // Creates `record` in the store with new keys and a new profile. kAlreadyExists if the
  // account exists (then nothing is written).
  Result<ProvisionedAccount> createAccount(Store& store, AccountRecord record) const;
  // Gives an existing account a profile: with the keys in its folder if there are some, else
  // new ones. An account that has a profile is refused unless `renew` (re-sign: same keys, same
  // UDF, current service profile).
  Result<ProvisionedAccount> provisionAccount(Store& store, std::string_view address,
                                              bool renew) const;
  // Deletes the account from the store, then its key folder. A folder left by an account that
  // is gone from the store is removed too (kNotFound is still returned).
  Status deleteAccount(Store& store, std::string_view address) const;

  // Adds or replaces an applications catalog entry; the capabilities are sealed with the
  // account's administration key (from its key folder). kNotFound: no such account.
  Status putApplication(Store& store, std::string_view address, const ApplicationEntry& entry) const;
  Status removeApplication(Store& store, std::string_view address, std::string_view name) const;

  // This gateway's service profile, signed now.
  Result<mesh::SignedProfile<mesh::model::ProfileService>> serviceProfile() const;
  const mesh::PrivateKey& serviceKey() const { return service_key_; }

 private:
  Result<mesh::SignedProfile<mesh::model::ProfileAccount>> signProfile(
      std::string_view address, const AccountKeys& keys) const;
  // The devices and applications catalog entries provisioning writes.
  Result<std::vector<CatalogEntry>> provisionedEntries(
      const std::string& address, const AccountKeys& keys,
      const mesh::SignedProfile<mesh::model::ProfileAccount>& profile) const;
  Result<CatalogEntry> applicationCatalogEntry(std::string_view address,
                                               const ApplicationEntry& entry,
                                               const mesh::PrivateKey& administration) const;

  std::string data_dir_;
  mesh::PrivateKey service_key_;
  const Clock* clock_;
};

}  // namespace meshgate::accounts
