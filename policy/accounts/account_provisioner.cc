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
#include "gateway/util/log.h"
#include "meshgate/mesh_model.h"
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
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey device,
                            mesh::PrivateKey::generate(mesh::KeyType::kEd25519));
  return AccountKeys{std::move(offline), std::move(administration), std::move(encryption),
                     std::move(authentication), std::move(device)};
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
      {&keys.authentication, kAuthenticationKeyFile},
      {&keys.device, kDeviceKeyFile}};
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
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey device, load(kDeviceKeyFile));
  if (!mesh::isSignatureKey(offline.type()) || !mesh::isSignatureKey(administration.type()) ||
      !mesh::isSignatureKey(device.type()) || !mesh::isAgreementKey(encryption.type())) {
    return invalidArgument(folder + ": the account keys have the wrong types (offline, "
                                    "administration and device must sign, encryption must be "
                                    "X25519/X448)");
  }
  return AccountKeys{std::move(offline), std::move(administration), std::move(encryption),
                     std::move(authentication), std::move(device)};
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
  MESHGATE_ASSIGN_OR_RETURN(std::vector<CatalogEntry> entries,
                            provisionedEntries(record.address, keys, profile));
  record.profile_udf = profile.udf;
  record.profile = mesh::serializeDareEnvelope(profile.envelope);
  MESHGATE_RETURN_IF_ERROR(saveAccountKeys(keys, folder));
  Status st = store.createAccount(record);
  if (!st.ok()) {
    Status removed = removeAccountKeys(folder);
    (void)removed;  // the store's error is the one to report
    return st;
  }
  for (const CatalogEntry& e : entries) {
    Result<int64_t> put = store.putEntry(e, std::nullopt);
    if (!put.ok()) {
      // Undo: an account is created whole or not at all (deleting it removes its entries).
      Status undone = store.deleteAccount(record.address);
      (void)undone;
      Status removed = removeAccountKeys(folder);
      (void)removed;
      return put.status().withContext("writing the " + e.catalog + " catalog of " +
                                      record.address);
    }
  }
  return ProvisionedAccount{std::move(record), folder, true};
}

Result<ProvisionedAccount> AccountProvisioner::provisionAccount(Store& store,
                                                                std::string_view address,
                                                                bool renew) const {
  MESHGATE_ASSIGN_OR_RETURN(std::string folder, accountKeyFolder(data_dir_, address));
  MESHGATE_ASSIGN_OR_RETURN(AccountRecord record, store.getAccount(address));
  const AccountRecord as_read = record;
  if (!record.profile.empty() && !renew) {
    return alreadyExists("account " + record.address + " already has the profile " +
                         record.profile_udf + " (--renew signs it again with the same keys)");
  }
  std::error_code ec;
  bool new_keys = !fs::exists(folder, ec);
  Result<AccountKeys> keys = new_keys ? generateAccountKeys() : loadAccountKeys(folder);
  if (!keys.ok()) return keys.status();
  MESHGATE_ASSIGN_OR_RETURN(auto profile, signProfile(record.address, *keys));
  MESHGATE_ASSIGN_OR_RETURN(std::vector<CatalogEntry> entries,
                            provisionedEntries(record.address, *keys, profile));
  if (new_keys) MESHGATE_RETURN_IF_ERROR(saveAccountKeys(*keys, folder));
  record.profile_udf = profile.udf;
  record.profile = mesh::serializeDareEnvelope(profile.envelope);
  record.updated = clock_->now();
  Status st = store.updateAccount(record, as_read);
  if (!st.ok()) {
    if (new_keys) {
      Status removed = removeAccountKeys(folder);
      (void)removed;
    }
    return st;
  }
  // The gateway device and the mail entry are re-signed with the profile (same keys, same
  // keys in the catalogs); other applications are left as they are.
  for (const CatalogEntry& e : entries) {
    Result<int64_t> put = store.putEntry(e, std::nullopt);
    if (!put.ok()) {
      return put.status().withContext("profile stored, but writing the " + e.catalog +
                                      " catalog of " + record.address + " failed; run "
                                      "`meshgate account provision --renew` again");
    }
  }
  return ProvisionedAccount{std::move(record), folder, new_keys};
}

Result<std::vector<CatalogEntry>> AccountProvisioner::provisionedEntries(
    const std::string& address, const AccountKeys& keys,
    const mesh::SignedProfile<mesh::model::ProfileAccount>& profile) const {
  const int64_t now = clock_->now();
  const mesh::model::DateTime when = toDateTime(now);
  MESHGATE_ASSIGN_OR_RETURN(
      auto device, mesh::makeDeviceProfile(keys.device, keys.encryption.publicKey(),
                                           keys.authentication.publicKey(),
                                           "meshgate gateway for " + address, when));
  MESHGATE_ASSIGN_OR_RETURN(
      auto connection,
      mesh::makeDeviceConnection({.master_udf = profile.udf,
                                  .device_udf = device.udf,
                                  .signature = keys.device.publicKey(),
                                  .encryption = keys.encryption.publicKey(),
                                  .authentication = keys.authentication.publicKey(),
                                  .permissions = {},
                                  .updated = when},
                                 keys.administration));
  MESHGATE_ASSIGN_OR_RETURN(auto cataloged,
                            mesh::makeCatalogedDevice(device, connection, keys.administration));
  const std::string kid = keys.device.publicKey().kid();
  nlohmann::json device_entry = {
      {"DeviceKid", kid},
      {"DeviceKey", mesh::publicKeyToMeshJson(keys.device.publicKey())},
      {"Role", "gateway"},
      {"CatalogedDevice", mesh::model::toJson(cataloged.profile)},
      {"Envelope", mesh::dareToJson(cataloged.envelope)},
      {"Accepted", now}};
  std::vector<CatalogEntry> out;
  out.push_back(CatalogEntry{address, kDevicesCatalog, kid,
                             mesh::model::dumpJson(device_entry), now, 0});
  ApplicationEntry mail;
  mail.kind = ApplicationKind::kMail;
  mail.name = "mail:" + address;
  mail.labels = {"smtp", "gateway"};
  mail.keys = {keys.encryption.publicKey()};
  mail.updated = now;
  MESHGATE_ASSIGN_OR_RETURN(CatalogEntry app,
                            applicationCatalogEntry(address, mail, keys.administration));
  out.push_back(std::move(app));
  return out;
}

Result<CatalogEntry> AccountProvisioner::applicationCatalogEntry(
    std::string_view address, const ApplicationEntry& entry,
    const mesh::PrivateKey& administration) const {
  if (entry.name.empty() || entry.name.size() > 256) {
    return invalidArgument("an application entry needs a name of 1 to 256 characters");
  }
  for (unsigned char c : entry.name) {
    if (c <= 0x20 || c == 0x7f) {
      return invalidArgument("application name \"" + log::sanitize(entry.name) +
                             "\": no spaces or control characters");
    }
  }
  // Each capability key is carried as a KeyData assertion signed by the administration key,
  // so a reader can check it was the account that granted it (seed 7.1.5).
  std::vector<mesh::DareEnvelope> capabilities;
  for (const mesh::PublicKey& key : entry.keys) {
    const std::vector<mesh::PrivateKey> signers{administration};
    MESHGATE_ASSIGN_OR_RETURN(mesh::DareEnvelope sealed,
                              mesh::sealAssertion(mesh::keyDataOf(key), signers));
    capabilities.push_back(std::move(sealed));
  }
  auto fill = [&](auto& app) {
    app.key = entry.name;
    app.labels = entry.labels;
    app.enveloped_capabilities = capabilities;
    return mesh::model::serialize(app);
  };
  std::string data;
  switch (entry.kind) {
    case ApplicationKind::kMail: {
      mesh::model::CatalogedApplicationMail app;
      data = fill(app);
      break;
    }
    case ApplicationKind::kSsh: {
      mesh::model::CatalogedApplicationSSH app;
      data = fill(app);
      break;
    }
    case ApplicationKind::kNetwork: {
      mesh::model::CatalogedApplicationNetwork app;
      data = fill(app);
      break;
    }
  }
  return CatalogEntry{toLowerAscii(address), kApplicationsCatalog, entry.name, std::move(data),
                      entry.updated != 0 ? entry.updated : clock_->now(), 0};
}

Status AccountProvisioner::putApplication(Store& store, std::string_view address,
                                          const ApplicationEntry& entry) const {
  MESHGATE_ASSIGN_OR_RETURN(std::string folder, accountKeyFolder(data_dir_, address));
  MESHGATE_ASSIGN_OR_RETURN(AccountRecord record, store.getAccount(toLowerAscii(address)));
  MESHGATE_ASSIGN_OR_RETURN(AccountKeys keys, loadAccountKeys(folder));
  MESHGATE_ASSIGN_OR_RETURN(CatalogEntry e,
                            applicationCatalogEntry(record.address, entry, keys.administration));
  Result<int64_t> put = store.putEntry(e, std::nullopt);
  if (!put.ok()) return put.status();
  return Status();
}

Status AccountProvisioner::removeApplication(Store& store, std::string_view address,
                                             std::string_view name) const {
  return store.deleteEntry(toLowerAscii(address), kApplicationsCatalog, name);
}

std::string_view applicationKindName(ApplicationKind kind) {
  switch (kind) {
    case ApplicationKind::kMail:
      return "mail";
    case ApplicationKind::kSsh:
      return "ssh";
    case ApplicationKind::kNetwork:
      return "network";
  }
  return "?";
}

std::optional<ApplicationKind> parseApplicationKind(std::string_view name) {
  if (name == "mail") return ApplicationKind::kMail;
  if (name == "ssh") return ApplicationKind::kSsh;
  if (name == "network") return ApplicationKind::kNetwork;
  return std::nullopt;
}

namespace {

// Reads every page of one catalog.
Result<std::vector<CatalogEntry>> allEntries(Store& store, std::string_view address,
                                             std::string_view catalog) {
  std::vector<CatalogEntry> out;
  EntryQuery q;
  q.max_entries = 1000;
  while (true) {
    MESHGATE_ASSIGN_OR_RETURN(Page<CatalogEntry> page, store.listEntries(address, catalog, q));
    for (auto& e : page.items) out.push_back(std::move(e));
    if (page.next_page_key.empty()) break;
    q.page_key = page.next_page_key;
  }
  return out;
}

}  // namespace

Result<std::vector<ApplicationEntry>> listApplications(Store& store, std::string_view address) {
  MESHGATE_ASSIGN_OR_RETURN(std::vector<CatalogEntry> entries,
                            allEntries(store, toLowerAscii(address), kApplicationsCatalog));
  std::vector<ApplicationEntry> out;
  for (const CatalogEntry& e : entries) {
    Result<mesh::model::AnyMessage> any = mesh::model::parseMessage(e.data);
    const mesh::model::CatalogedApplication* app =
        any.ok() ? any->get<mesh::model::CatalogedApplication>() : nullptr;
    if (app == nullptr) {
      log::warning("accounts: %s: applications entry %s is not a CatalogedApplication",
                   std::string(address).c_str(), log::sanitize(e.key).c_str());
      continue;
    }
    ApplicationEntry a;
    a.kind = any->get<mesh::model::CatalogedApplicationSSH>() != nullptr ? ApplicationKind::kSsh
             : any->get<mesh::model::CatalogedApplicationNetwork>() != nullptr
                 ? ApplicationKind::kNetwork
                 : ApplicationKind::kMail;
    a.name = app->key.value_or(e.key);
    a.labels = app->labels;
    for (const mesh::DareEnvelope& cap : app->enveloped_capabilities) {
      Result<mesh::model::KeyData> kd = mesh::assertionPayload<mesh::model::KeyData>(cap);
      if (!kd.ok()) continue;
      Result<mesh::PublicKey> key = mesh::publicKeyOf(*kd, "EnvelopedCapabilities");
      if (key.ok()) a.keys.push_back(std::move(key).value());
    }
    a.updated = e.updated;
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<DeviceEntry>> listDevices(Store& store, std::string_view address) {
  MESHGATE_ASSIGN_OR_RETURN(std::vector<CatalogEntry> entries,
                            allEntries(store, toLowerAscii(address), kDevicesCatalog));
  std::vector<DeviceEntry> out;
  for (const CatalogEntry& e : entries) {
    Result<nlohmann::json> json = mesh::model::parseJsonText(e.data);
    if (!json.ok() || !json->is_object()) continue;
    DeviceEntry d;
    d.kid = json->value("DeviceKid", e.key);
    d.role = json->value("Role", "");
    d.accepted = json->value("Accepted", int64_t{0});
    auto cd = json->find("CatalogedDevice");
    if (cd != json->end()) {
      auto device = mesh::model::fromJson<mesh::model::CatalogedDevice>(*cd, "CatalogedDevice");
      if (device.ok()) {
        d.device_udf = device->device_udf.value_or("");
        if (device->enveloped_profile_device) {
          auto p = mesh::assertionPayload<mesh::model::ProfileDevice>(
              *device->enveloped_profile_device);
          if (p.ok()) d.description = p->description.value_or("");
        }
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

Status AccountProvisioner::deleteAccount(Store& store, std::string_view address) const {
  MESHGATE_ASSIGN_OR_RETURN(std::string folder, accountKeyFolder(data_dir_, address));
  Status st = store.deleteAccount(address);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  MESHGATE_RETURN_IF_ERROR(removeAccountKeys(folder));
  return st;
}

}  // namespace meshgate::accounts
