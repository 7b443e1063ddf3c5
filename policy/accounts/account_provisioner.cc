// account_provisioner.cc - see account_provisioner.h.
#include "policy/accounts/account_provisioner.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "gateway/mesh/dare.h"
#include "gateway/util/strings.h"
#include "policy/runtime.h"

namespace meshgate::accounts {
namespace {

namespace fs = std::filesystem;

mesh::model::DateTime toDateTime(int64_t seconds) {
  return mesh::model::DateTime(std::chrono::seconds(seconds));
}

Status makePrivateFolder(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return unavailable("cannot create " + path + ": " + ec.message());
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return unavailable("cannot set mode 0700 on " + path + ": " + ec.message());
  return Status();
}

}  // namespace

Result<std::string> accountKeyFolder(const std::string& data_dir, std::string_view address) {
  std::string a = toLowerAscii(address);
  bool bad = a.empty() || a.size() > 320 || a.front() == '.' || a.find('@') == std::string::npos;
  for (unsigned char c : a) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) bad = true;
  }
  if (bad) {
    return invalidArgument("\"" + std::string(address) +
                           "\" cannot name an account key folder (expected user@domain without "
                           "'/', control characters or a leading '.')");
  }
  return (fs::path(data_dir) / "accounts" / a).string();
}

Result<AccountKeys> generateAccountKeys() {
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey offline,
                            mesh::PrivateKey::generate(mesh::KeyType::kEd25519));
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey administration,
                            mesh::PrivateKey::generate(mesh::KeyType::kEd25519));
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey encryption,
                            mesh::PrivateKey::generate(mesh::KeyType::kX25519));
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey authentication,
                            mesh::PrivateKey::generate(mesh::KeyType::kEd25519));
  return AccountKeys{std::move(offline), std::move(administration), std::move(encryption),
                     std::move(authentication)};
}

Status saveAccountKeys(const AccountKeys& keys, const std::string& folder) {
  std::error_code ec;
  if (fs::exists(folder, ec)) {
    return failedPrecondition("account key folder " + folder + " already exists");
  }
  const fs::path parent = fs::path(folder).parent_path();
  MESHGATE_RETURN_IF_ERROR(makePrivateFolder(parent.string()));
  std::string templ = (parent / (".new-" + fs::path(folder).filename().string() + "-XXXXXX")).string();
  if (mkdtemp(templ.data()) == nullptr) {  // mode 0700
    return unavailable("cannot create a folder in " + parent.string() + ": " + std::strerror(errno));
  }
  const std::string tmp = templ;
  auto fail = [&](Status st) {
    fs::remove_all(tmp, ec);
    return st;
  };
  const std::pair<const mesh::PrivateKey*, const char*> files[] = {
      {&keys.offline, kOfflineKeyFile},
      {&keys.administration, kAdministrationKeyFile},
      {&keys.encryption, kEncryptionKeyFile},
      {&keys.authentication, kAuthenticationKeyFile}};
  for (const auto& [key, name] : files) {
    Status st = mesh::savePrivateKeyFile(*key, (fs::path(tmp) / name).string());
    if (!st.ok()) return fail(st);
  }
  // rename(2) does not replace a non-empty folder, and the check above covers the rest.
  if (std::rename(tmp.c_str(), folder.c_str()) != 0) {
    return fail(unavailable("cannot move the new keys to " + folder + ": " + std::strerror(errno)));
  }
  return Status();
}

Result<AccountKeys> loadAccountKeys(const std::string& folder) {
  auto load = [&](const char* name) {
    return mesh::loadPrivateKeyFile((fs::path(folder) / name).string());
  };
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey offline, load(kOfflineKeyFile));
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey administration, load(kAdministrationKeyFile));
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey encryption, load(kEncryptionKeyFile));
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey authentication, load(kAuthenticationKeyFile));
  if (!mesh::isSignatureKey(offline.type()) || !mesh::isSignatureKey(administration.type()) ||
      !mesh::isAgreementKey(encryption.type())) {
    return invalidArgument(folder + ": the account keys have the wrong types (offline and "
                                    "administration must sign, encryption must be X25519/X448)");
  }
  return AccountKeys{std::move(offline), std::move(administration), std::move(encryption),
                     std::move(authentication)};
}

Status removeAccountKeys(const std::string& folder) {
  std::error_code ec;
  fs::remove_all(folder, ec);
  if (ec) return unavailable("cannot remove " + folder + ": " + ec.message());
  return Status();
}

Result<AccountProvisioner> AccountProvisioner::open(const config::Config& config,
                                                    const Clock& clock) {
  Result<mesh::PrivateKey> key = loadOrCreateGatewayKey(config.gateway.key_file);
  if (!key.ok()) return key.status().withContext("gateway.key_file " + config.gateway.key_file);
  if (!mesh::isSignatureKey(key->type())) {
    return invalidArgument("gateway.key_file " + config.gateway.key_file +
                           ": the service key must be Ed25519 or Ed448");
  }
  return AccountProvisioner(config.gateway.data_dir, std::move(key).value(), clock);
}

AccountProvisioner::AccountProvisioner(std::string data_dir, mesh::PrivateKey service_key,
                                       const Clock& clock)
    : data_dir_(std::move(data_dir)), service_key_(std::move(service_key)), clock_(&clock) {}

Result<mesh::SignedProfile<mesh::model::ProfileService>> AccountProvisioner::serviceProfile()
    const {
  return mesh::makeServiceProfile(service_key_, toDateTime(clock_->now()));
}

Result<mesh::SignedProfile<mesh::model::ProfileAccount>> AccountProvisioner::signProfile(
    std::string_view address, const AccountKeys& keys) const {
  MESHGATE_ASSIGN_OR_RETURN(auto service, serviceProfile());
  return mesh::makeAccountProfile(
      {.addresses = {toLowerAscii(address)},
       .offline_signature = keys.offline,
       .online_signature = {keys.administration.publicKey()},
       .encryption = keys.encryption.publicKey(),
       .authentication = keys.authentication.publicKey(),
       .updated = toDateTime(clock_->now())},
      service, service_key_);
}

Result<ProvisionedAccount> AccountProvisioner::createAccount(Store& store,
                                                             AccountRecord record) const {
  MESHGATE_ASSIGN_OR_RETURN(std::string folder, accountKeyFolder(data_dir_, record.address));
  Result<AccountRecord> existing = store.getAccount(record.address);
  if (existing.ok()) return alreadyExists("account " + record.address + " already exists");
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  std::error_code ec;
  if (fs::exists(folder, ec)) {
    return failedPrecondition("key folder " + folder + " already exists, but there is no account " +
                              record.address + " (left by an earlier one?); remove the folder, " +
                              "or create the account and reuse its keys with `meshgate account " +
                              "provision`");
  }
  MESHGATE_ASSIGN_OR_RETURN(AccountKeys keys, generateAccountKeys());
  MESHGATE_ASSIGN_OR_RETURN(auto profile, signProfile(record.address, keys));
  record.profile_udf = profile.udf;
  record.profile = mesh::serializeDareEnvelope(profile.envelope);
  MESHGATE_RETURN_IF_ERROR(saveAccountKeys(keys, folder));
  Status st = store.createAccount(record);
  if (!st.ok()) {
    Status removed = removeAccountKeys(folder);
    (void)removed;  // the store's error is the one to report
    return st;
  }
  return ProvisionedAccount{std::move(record), folder, true};
}

Result<ProvisionedAccount> AccountProvisioner::provisionAccount(Store& store,
                                                                std::string_view address,
                                                                bool renew) const {
  MESHGATE_ASSIGN_OR_RETURN(std::string folder, accountKeyFolder(data_dir_, address));
  MESHGATE_ASSIGN_OR_RETURN(AccountRecord record, store.getAccount(address));
  if (!record.profile.empty() && !renew) {
    return alreadyExists("account " + record.address + " already has the profile " +
                         record.profile_udf + " (--renew signs it again with the same keys)");
  }
  std::error_code ec;
  bool new_keys = !fs::exists(folder, ec);
  Result<AccountKeys> keys = new_keys ? generateAccountKeys() : loadAccountKeys(folder);
  if (!keys.ok()) return keys.status();
  MESHGATE_ASSIGN_OR_RETURN(auto profile, signProfile(record.address, *keys));
  if (new_keys) MESHGATE_RETURN_IF_ERROR(saveAccountKeys(*keys, folder));
  record.profile_udf = profile.udf;
  record.profile = mesh::serializeDareEnvelope(profile.envelope);
  record.updated = clock_->now();
  Status st = store.updateAccount(record);
  if (!st.ok()) {
    if (new_keys) {
      Status removed = removeAccountKeys(folder);
      (void)removed;
    }
    return st;
  }
  return ProvisionedAccount{std::move(record), folder, new_keys};
}

Status AccountProvisioner::deleteAccount(Store& store, std::string_view address) const {
  MESHGATE_ASSIGN_OR_RETURN(std::string folder, accountKeyFolder(data_dir_, address));
  Status st = store.deleteAccount(address);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  MESHGATE_RETURN_IF_ERROR(removeAccountKeys(folder));
  return st;
}

}  // namespace meshgate::accounts
