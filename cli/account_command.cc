// account_command.cc - `meshgate account create|delete|list|show|set|provision|app`.
// Creating an account also gives it its Mesh keys, its signed profile, its gateway device and
// its mail application entry (policy/accounts/account_provisioner.h); deleting it removes its
// key folder.
#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/policy/ingress_filter.h"
#include "gateway/ports/clock.h"
#include "gateway/util/strings.h"
#include "meshgate/mesh_model.h"
#include "policy/accounts/account_provisioner.h"

namespace meshgate::cli {
namespace {

int accountCreate(const Args& args) {
  const std::string cmd = "meshgate account create";
  std::string config_path = kDefaultConfigPath, address, ingress, name;
  ArgParser p(cmd, "Create a local account: the address whose contacts catalog decides who may "
                   "reach it (seed 7.2.1), with its Mesh keys (under gateway.data_dir/accounts/) "
                   "and its profile signed by them and by the gateway key.");
  p.positional("ADDRESS", "the account's address, e.g. bob@example.com (a local domain)", &address);
  p.option("ingress", "POLICY",
           "open, tag-unknown, quarantine-unknown or contacts-only (default: ingress.default)",
           &ingress);
  p.option("name", "TEXT", "display name, e.g. \"Bob Example\" (for impersonation checks)", &name);
  p.option("config", "FILE", std::string("configuration (default ") + kDefaultConfigPath + ")",
           &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (!ingress.empty() && !policy::parseIngressPolicy(ingress)) {
    return p.usageError("--ingress: unknown value \"" + ingress +
                        "\" (expected one of: open, tag-unknown, quarantine-unknown, "
                        "contacts-only)");
  }
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAdmin(cmd, config_path, StoreAbsent::kCreate);
  if (!ctx) return 1;
  if (!ctx->config->isLocalDomain(addressDomain(*addr))) {
    return reportError(cmd, invalidArgument(addressDomain(*addr) +
                                            " is not a local domain (gateway.domains in " +
                                            config_path + ")"));
  }
  AccountRecord r;
  r.address = *addr;
  r.ingress_policy = ingress;
  r.display_name = name;
  r.created = r.updated = nowSeconds();
  SystemClock clock;
  auto provisioner = accounts::AccountProvisioner::open(*ctx->config, clock);
  if (!provisioner.ok()) return reportError(cmd, provisioner.status());
  Result<accounts::ProvisionedAccount> made = unavailable("not created");
  Status audited = auditedAdminChange(*ctx, "account-create", r.address,
                                      "ingress=" + (ingress.empty() ? "default" : ingress), [&] {
                                        made = provisioner->createAccount(*ctx->store, r);
                                        return made.ok() ? Status() : made.status();
                                      });
  if (!audited.ok()) return reportError(cmd, audited);
  std::cout << "created account " << r.address << " (ingress "
            << (ingress.empty() ? "default: " + std::string(config::ingressPolicyName(
                                                    ctx->config->ingress.default_policy))
                                : ingress)
            << ")\n"
            << "profile " << made->record.profile_udf << " (keys in " << made->key_folder
            << ")\n";
  return 0;
}

int accountDelete(const Args& args) {
  const std::string cmd = "meshgate account delete";
  std::string config_path = kDefaultConfigPath, address;
  ArgParser p(cmd, "Delete a local account with its catalogs (contacts, applications, devices) "
                   "and its Mesh keys.");
  p.positional("ADDRESS", "the account's address", &address);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  SystemClock clock;
  auto provisioner = accounts::AccountProvisioner::open(*ctx->config, clock);
  if (!provisioner.ok()) return reportError(cmd, provisioner.status());
  Status st = auditedAdminChange(*ctx, "account-delete", *addr, "",
                                 [&] { return provisioner->deleteAccount(*ctx->store, *addr); });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << "deleted account " << *addr << " and its keys\n";
  return 0;
}

int accountProvision(const Args& args) {
  const std::string cmd = "meshgate account provision";
  std::string config_path = kDefaultConfigPath, address;
  bool renew = false;
  ArgParser p(cmd, "Give an existing account its Mesh keys and signed profile (accounts created "
                   "before profiles existed). The keys already in its key folder are used if "
                   "there are some.");
  p.positional("ADDRESS", "the account's address", &address);
  p.flag("renew", "sign the profile again (same keys, same UDF, current service profile) even "
                  "if the account has one", &renew);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAdmin(cmd, config_path, StoreAbsent::kCreate);
  if (!ctx) return 1;
  SystemClock clock;
  auto provisioner = accounts::AccountProvisioner::open(*ctx->config, clock);
  if (!provisioner.ok()) return reportError(cmd, provisioner.status());
  Result<accounts::ProvisionedAccount> made = internalError("not provisioned");
  Status st = auditedAdminChange(*ctx, renew ? "profile-renew" : "profile", *addr, "", [&] {
    made = provisioner->provisionAccount(*ctx->store, *addr, renew);
    return made.status();
  });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << "account " << *addr << ": profile " << made->record.profile_udf
            << (made->new_keys ? " (new keys in " : " (keys from ") << made->key_folder << ")\n";
  return 0;
}

int accountList(const Args& args) {
  const std::string cmd = "meshgate account list";
  std::string config_path = kDefaultConfigPath;
  ArgParser p(cmd, "List the local accounts with their ingress policy and the fingerprint (UDF) "
                   "of their Mesh profile (\"-\" when they have none).");
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  auto list = ctx->store->listAccounts();
  if (!list.ok()) return reportError(cmd, list.status());
  std::string fallback(config::ingressPolicyName(ctx->config->ingress.default_policy));
  for (const auto& a : *list) {
    std::cout << std::left << std::setw(40) << a.address << " " << std::setw(28)
              << (a.ingress_policy.empty() ? fallback + " (default)" : a.ingress_policy) << " "
              << (a.profile_udf.empty() ? "-" : a.profile_udf);
    if (!a.display_name.empty()) std::cout << "  \"" << a.display_name << "\"";
    std::cout << "\n";
  }
  std::cerr << list->size() << " account(s)\n";
  return 0;
}

int accountSet(const Args& args) {
  const std::string cmd = "meshgate account set";
  std::string config_path = kDefaultConfigPath, address, ingress, name;
  bool clear_ingress = false;
  ArgParser p(cmd, "Change an account's ingress policy or display name.");
  p.positional("ADDRESS", "the account's address", &address);
  p.option("ingress", "POLICY", "open, tag-unknown, quarantine-unknown or contacts-only", &ingress);
  p.flag("default-ingress", "use ingress.default from the configuration again", &clear_ingress);
  p.option("name", "TEXT", "display name", &name);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (!ingress.empty() && !policy::parseIngressPolicy(ingress)) {
    return p.usageError("--ingress: unknown value \"" + ingress + "\"");
  }
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  auto a = ctx->store->getAccount(*addr);
  if (!a.ok()) return reportError(cmd, a.status());
  const AccountRecord as_read = *a;
  if (!ingress.empty()) a->ingress_policy = ingress;
  if (clear_ingress) a->ingress_policy.clear();
  if (!name.empty()) a->display_name = name;
  a->updated = nowSeconds();
  // The record says what the account is now, the name included (a change of name alters the
  // display-name impersonation check).
  Status st = auditedAdminChange(
      *ctx, "account-set", *addr,
      "ingress=" + (a->ingress_policy.empty() ? std::string("default") : a->ingress_policy) +
          " name=\"" + printable(a->display_name) + "\"",
      [&] { return ctx->store->updateAccount(*a, as_read); });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << "updated account " << *addr << "\n";
  return 0;
}

std::string formatTime(int64_t t) {
  if (t <= 0) return "-";
  return mesh::model::formatDateTime(mesh::model::DateTime(std::chrono::seconds(t)));
}

int accountShow(const Args& args) {
  const std::string cmd = "meshgate account show";
  std::string config_path = kDefaultConfigPath, address;
  ArgParser p(cmd, "Show a local account: ingress policy, profile fingerprint, devices and "
                   "applications catalogs. (`meshgate profile show` verifies the profile.)");
  p.positional("ADDRESS", "the account's address", &address);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  auto a = ctx->store->getAccount(*addr);
  if (!a.ok()) return reportError(cmd, a.status());
  auto devices = accounts::listDevices(*ctx->store, *addr);
  if (!devices.ok()) return reportError(cmd, devices.status());
  auto apps = accounts::listApplications(*ctx->store, *addr);
  if (!apps.ok()) return reportError(cmd, apps.status());
  std::cout << "account:    " << a->address << "\n"
            << "ingress:    "
            << (a->ingress_policy.empty()
                    ? std::string(config::ingressPolicyName(ctx->config->ingress.default_policy)) +
                          " (default)"
                    : a->ingress_policy)
            << "\n";
  if (!a->display_name.empty()) std::cout << "name:       " << a->display_name << "\n";
  std::cout << "profile:    " << (a->profile_udf.empty() ? "- (none)" : a->profile_udf) << "\n"
            << "created:    " << formatTime(a->created) << "\n"
            << "devices:    " << devices->size() << "\n";
  for (const auto& d : *devices) {
    std::cout << "  " << d.kid << "  " << (d.role.empty() ? "device" : d.role) << "  "
              << (d.description.empty() ? "" : "\"" + d.description + "\"  ")
              << "profile " << (d.device_udf.empty() ? "-" : d.device_udf) << "\n";
  }
  std::cout << "applications: " << apps->size() << "\n";
  for (const auto& app : *apps) {
    std::cout << "  " << std::left << std::setw(8) << accounts::applicationKindName(app.kind)
              << app.name;
    if (!app.labels.empty()) std::cout << "  [" << joinList(app.labels, ",") << "]";
    for (const auto& k : app.keys) {
      std::cout << "  " << mesh::keyTypeName(k.type()) << " " << k.kid();
    }
    std::cout << "\n";
  }
  return 0;
}

int appAdd(const Args& args) {
  const std::string cmd = "meshgate account app add";
  std::string config_path = kDefaultConfigPath, address, type, name;
  std::vector<std::string> key_files, labels;
  ArgParser p(cmd, "Add (or replace) an entry of an account's applications catalog: an SSH, mail "
                   "or network application, with the public keys it may use (each sealed by "
                   "the account's administration key).");
  p.positional("ADDRESS", "the account's address", &address);
  p.option("type", "TYPE", "ssh, mail or network", &type, true);
  p.option("name", "NAME", "the entry's key, unique in the account (e.g. ssh:laptop)", &name, true);
  p.repeated("key", "FILE", "a public key file (Mesh JSON or PEM) the application uses", &key_files);
  p.repeated("label", "TEXT", "a label for the entry", &labels);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto kind = accounts::parseApplicationKind(type);
  if (!kind) return p.usageError("--type must be ssh, mail or network, not \"" + type + "\"");
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  accounts::ApplicationEntry entry;
  entry.kind = *kind;
  entry.name = name;
  entry.labels = labels;
  for (const auto& f : key_files) {
    auto key = mesh::loadPublicKeyFile(f);
    if (!key.ok()) return reportError(cmd, key.status().withContext("--key " + f));
    entry.keys.push_back(*key);
  }
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  SystemClock clock;
  auto provisioner = accounts::AccountProvisioner::open(*ctx->config, clock);
  if (!provisioner.ok()) return reportError(cmd, provisioner.status());
  entry.updated = nowSeconds();
  Status st = auditedAdminChange(
      *ctx, "app-add", *addr,
      "name=" + name + " type=" + std::string(accounts::applicationKindName(*kind)) +
          " keys=" + std::to_string(entry.keys.size()),
      [&] { return provisioner->putApplication(*ctx->store, *addr, entry); });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << "account " << *addr << ": " << accounts::applicationKindName(*kind)
            << " application " << name << " (" << entry.keys.size() << " key(s))\n";
  return 0;
}

int appRemove(const Args& args) {
  const std::string cmd = "meshgate account app remove";
  std::string config_path = kDefaultConfigPath, address, name;
  ArgParser p(cmd, "Remove an entry from an account's applications catalog.");
  p.positional("ADDRESS", "the account's address", &address);
  p.option("name", "NAME", "the entry's key", &name, true);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  SystemClock clock;
  auto provisioner = accounts::AccountProvisioner::open(*ctx->config, clock);
  if (!provisioner.ok()) return reportError(cmd, provisioner.status());
  Status st = auditedAdminChange(*ctx, "app-remove", *addr, "name=" + name, [&] {
    return provisioner->removeApplication(*ctx->store, *addr, name);
  });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << "account " << *addr << ": removed application " << name << "\n";
  return 0;
}

int app(const Args& args) {
  return runGroup("meshgate account app",
                  "An account's applications catalog (SSH, mail, network entries).",
                  {{"add", "add or replace an application entry", appAdd},
                   {"remove", "remove an application entry", appRemove}},
                  args);
}

int account(const Args& args) {
  return runGroup("meshgate account", "Manage local accounts (one per protected address).",
                  {{"create", "create an account", accountCreate},
                   {"delete", "delete an account and its catalogs", accountDelete},
                   {"list", "list accounts", accountList},
                   {"show", "show an account with its devices and applications", accountShow},
                   {"set", "change an account's ingress policy or name", accountSet},
                   {"provision", "give an account its Mesh keys and profile", accountProvision},
                   {"app", "add or remove applications catalog entries", app}},
                  args);
}

}  // namespace

MESHGATE_COMMAND(account, "account", "manage local accounts and their ingress policy", account, 40);

}  // namespace meshgate::cli
