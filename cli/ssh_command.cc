// NAME
//   ssh_command.cc - `meshgate ssh`: sshd's AuthorizedKeysCommand and the administrator's
//   commands for SSH keys in the catalog (adapters/ssh_*.h, docs/ssh.md).
//
// SYNOPSIS
//   meshgate ssh authorized-keys LOGIN [KEYTYPE KEY]   (AuthorizedKeysCommand ... %u %t %k)
//   meshgate ssh known-hosts
//   meshgate ssh allow --account ADDRESS --key FILE.pub [--option OPT]...
//   meshgate ssh remove --account ADDRESS (--key FILE.pub | --udf UDF)
//   meshgate ssh revoke (--key FILE.pub | --udf UDF) [--reason TEXT]
//   meshgate ssh unrevoke --udf UDF
//   meshgate ssh add-host-ca --key FILE.pub --hosts PATTERN / remove-host-ca --udf UDF
//   meshgate ssh list [--account ADDRESS]
//   meshgate ssh refresh
//
// DIAGNOSTICS
//   authorized-keys and known-hosts log to syslog (mail facility, ident meshgate/ssh) one line
//   per answer; they exit 0 with the lines on stdout, or 1 with nothing on stdout when nothing
//   trustworthy is known (sshd then refuses the key). The administrator's commands are
//   recorded in the audit log (kind admin, rule ssh.<command>).
//
// SECURITY
//   authorized-keys runs as sshd's AuthorizedKeysCommandUser: it reads the configuration and
//   the cache, and opens the store only when the cache is stale.
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "adapters/ssh_authorized_keys.h"
#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/config/config_loader.h"
#include "gateway/mesh/udf.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "policy/store/store_factory.h"

namespace meshgate::cli {
namespace {

using adapters::SshKeyEntry;

adapters::StoreOpener storeOpener(const config::Config& c) {
  config::StoreSection section = c.store;
  return [section]() { return store::openStore(section); };
}

// The first key line of a .pub file (blank lines and # comments skipped).
Result<adapters::SshPublicKey> readPublicKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return notFound(path + ": cannot open: " + std::strerror(errno));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string_view t = trimWhitespace(line);
    if (t.empty() || t.front() == '#') continue;
    auto key = adapters::parseSshPublicKey(t);
    if (!key.ok()) {
      return key.status().withContext(path + ":" + std::to_string(n) +
                                      " (expected an OpenSSH public key, e.g. id_ed25519.pub)");
    }
    return key;
  }
  return invalidArgument(path + ": no public key in the file");
}

// The audit record of an ssh administration command, written before its change.
AuditRecord sshAuditRecord(const std::string& command, const std::string& account,
                           const std::string& detail) {
  AuditRecord a;
  a.recipients = account;
  a.rule = "ssh." + command;
  a.action = command;
  a.detail = detail;
  return a;
}

// After a change, bring the local cache up to date at once so a revocation does not wait for
// ssh.cache_refresh. Not fatal: the change is in the store either way.
void updateCache(const std::string& cmd, AdminContext& ctx, const std::string& account) {
  Status st = adapters::updateSshCache(*ctx.store, ctx.config->ssh.cache_file, account,
                                       nowSeconds(), adapters::SshKeySource::kAdminLockWait);
  if (!st.ok()) {
    std::cerr << cmd << ": warning: the SSH cache was not updated (" << st.message()
              << "); run meshgate ssh refresh\n";
  }
}

Result<std::string> parseUdfOption(const std::string& text) {
  std::string t = text;
  if (t.rfind("udf:", 0) == 0) t = t.substr(4);
  auto udf = mesh::canonicalUdf(t);
  if (!udf.ok()) return invalidArgument("--udf: \"" + text + "\" is not a fingerprint");
  return udf;
}

// --key FILE or --udf UDF -> the fingerprint (and the key when a file was given).
Result<std::string> keyOrUdf(const std::string& key_file, const std::string& udf_text,
                             std::optional<adapters::SshPublicKey>* key) {
  if (key_file.empty() == udf_text.empty()) {
    return invalidArgument("give exactly one of --key FILE.pub and --udf FINGERPRINT");
  }
  if (!udf_text.empty()) return parseUdfOption(udf_text);
  MESHGATE_ASSIGN_OR_RETURN(adapters::SshPublicKey k, readPublicKeyFile(key_file));
  if (key) *key = k;
  return adapters::sshKeyFingerprint(k);
}

std::unique_ptr<AdminContext> openWithAccount(const std::string& cmd, const std::string& config,
                                              std::string& account, int* rc) {
  auto ctx = openAdmin(cmd, config);
  if (!ctx) {
    *rc = 1;
    return nullptr;
  }
  auto a = ctx->store->getAccount(account);
  if (!a.ok()) {
    *rc = reportError(cmd, a.status().code() == StatusCode::kNotFound
                               ? notFound("no account " + account +
                                          " (create it with: meshgate account create " + account +
                                          ")")
                               : a.status());
    return nullptr;
  }
  return ctx;
}

// ---- sshd's side ---------------------------------------------------------------------------

int sshAuthorizedKeys(const Args& args) {
  const std::string cmd = "meshgate ssh authorized-keys";
  std::string login, key_type, key_text, config_path = kDefaultConfigPath;
  ArgParser p(cmd,
              "Print the authorized_keys lines of the keys a local login may use, for sshd's "
              "AuthorizedKeysCommand (conf/sshd/sshd_config.snippet). Each line starts with "
              "`restrict` plus the options the catalog grants and carries the key's Mesh "
              "fingerprint in its comment.");
  p.positional("LOGIN", "the local user sshd asks about (%u)", &login);
  p.positional("KEYTYPE", "the offered key's type (%t); with KEY, only that key is printed",
               &key_type, false);
  p.positional("KEY", "the offered key, base64 (%k)", &key_text, false);
  p.option("config", "FILE", std::string("configuration (default ") + kDefaultConfigPath + ")",
           &config_path);
  p.epilog(
      "The login is the account ssh.users[LOGIN], else LOGIN@ssh.domain. Answers come from\n"
      "the cache ssh.cache_file; the store is asked when the cache is older than\n"
      "ssh.cache_refresh. Exit status: 0 answered (possibly no line); 1 nothing trustworthy is\n"
      "known (cache older than ssh.cache_max_age and the store unavailable, or bad input):\n"
      "nothing is printed and sshd refuses the key.");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  log::open("ssh", false);
  if (key_type.empty() != key_text.empty()) return p.usageError("give both KEYTYPE and KEY, or neither");

  config::LoadResult loaded = config::loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::cerr << e << "\n";
      log::error("ssh: %s", log::sanitize(e).c_str());
    }
    return 1;
  }
  const config::Config& c = *loaded.config;
  const std::string safe_login = log::sanitize(login);
  const std::string account = adapters::accountForLogin(c.ssh, login);
  if (account.empty()) {
    log::info("ssh: login=%s action=refuse reason=no-account", safe_login.c_str());
    return 1;
  }
  std::optional<std::string> key_udf;
  if (!key_type.empty()) {
    auto key = adapters::sshPublicKeyFromParts(key_type, key_text);
    auto udf = key.ok() ? adapters::sshKeyFingerprint(*key) : Result<std::string>(key.status());
    if (!udf.ok()) {
      log::warning("ssh: login=%s account=%s action=refuse reason=bad-key: %s", safe_login.c_str(),
                   account.c_str(), log::sanitize(udf.status().message()).c_str());
      return 1;
    }
    key_udf = *udf;
  }
  adapters::SshKeySource source(c.ssh, storeOpener(c));
  auto view = source.forAccount(account);
  Result<adapters::AuthorizedKeysAnswer> answer =
      view.ok() ? adapters::answerAuthorizedKeys(view->cache, account, key_udf, source.now(),
                                                 c.ssh.cache_max_age.count() / 1000)
                : Result<adapters::AuthorizedKeysAnswer>(view.status());
  const std::string key_field = key_udf ? " key=udf:" + *key_udf : "";
  const std::string src = view.ok() ? log::sanitize(view->source) : "none";
  if (!answer.ok()) {
    log::error("ssh: login=%s account=%s%s action=refuse reason=untrusted source=%s: %s",
               safe_login.c_str(), account.c_str(), key_field.c_str(), src.c_str(),
               log::sanitize(answer.status().message()).c_str());
    std::cerr << cmd << ": " << answer.status().message() << "\n";
    return 1;
  }
  for (const auto& line : answer->lines) std::cout << line << "\n";
  std::cout.flush();
  const char* action = answer->lines.empty() ? "refuse" : "permit";
  std::string reason;
  if (answer->lines.empty()) reason = answer->revoked_udfs.empty() ? " reason=not-permitted" : " reason=revoked";
  log::info("ssh: login=%s account=%s%s action=%s%s keys=%zu source=%s", safe_login.c_str(),
            account.c_str(), key_field.c_str(), action, reason.c_str(), answer->lines.size(),
            src.c_str());
  return std::cout.good() ? 0 : 1;
}

int sshKnownHosts(const Args& args) {
  const std::string cmd = "meshgate ssh known-hosts";
  std::string config_path = kDefaultConfigPath;
  ArgParser p(cmd,
              "Print known_hosts lines from the catalog: @cert-authority for each host CA "
              "(meshgate ssh add-host-ca) and @revoked for each revoked key.");
  p.option("config", "FILE", std::string("configuration (default ") + kDefaultConfigPath + ")",
           &config_path);
  p.epilog("Use as /etc/ssh/ssh_known_hosts content, e.g.\n"
           "  meshgate ssh known-hosts > /etc/ssh/ssh_known_hosts.d/meshgate\n"
           "Exit status 1 (nothing printed) when the lists are older than ssh.cache_max_age and\n"
           "the store is unavailable.");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  log::open("ssh", false);
  config::LoadResult loaded = config::loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e << "\n";
    return 1;
  }
  const config::Config& c = *loaded.config;
  adapters::SshKeySource source(c.ssh, storeOpener(c));
  auto view = source.forAccount("");
  auto lines = view.ok() ? adapters::knownHostsLines(view->cache, source.now(),
                                                     c.ssh.cache_max_age.count() / 1000)
                         : Result<std::vector<std::string>>(view.status());
  if (!lines.ok()) {
    log::error("ssh: known-hosts: %s", log::sanitize(lines.status().message()).c_str());
    return reportError(cmd, lines.status());
  }
  for (const auto& l : *lines) std::cout << l << "\n";
  return 0;
}

// ---- the administrator's side --------------------------------------------------------------

int sshAllow(const Args& args) {
  const std::string cmd = "meshgate ssh allow";
  std::string account, key_file, config_path = kDefaultConfigPath;
  std::vector<std::string> options;
  ArgParser p(cmd,
              "Permit a device key to log in as the account's users over SSH (adds it to the "
              "account's SSH catalog, or replaces its options).");
  p.option("account", "ADDRESS", "the account", &account, true);
  p.option("key", "FILE", "the OpenSSH public key file (e.g. id_ed25519.pub)", &key_file, true);
  p.repeated("option", "OPT",
             "an sshd option to re-enable after `restrict`: agent-forwarding, port-forwarding, "
             "pty, user-rc, X11-forwarding, no-touch-required, verify-required, "
             "command=CMD, from=PATTERNS, permitopen=HOST:PORT, permitlisten=[HOST:]PORT, "
             "environment=NAME=VALUE, expiry-time=TIMESPEC",
             &options);
  p.option("config", "FILE", "configuration file", &config_path);
  p.epilog("Example:\n  meshgate ssh allow --account alice@example.com --key alice.pub --option pty");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(account);
  if (!addr.ok()) return p.usageError(addr.status().message());
  account = *addr;
  auto key = readPublicKeyFile(key_file);
  if (!key.ok()) return reportError(cmd, key.status());
  auto normalized = adapters::normalizeSshOptions(options);
  if (!normalized.ok()) return p.usageError(normalized.status().message());
  auto entry = adapters::makeSshKeyEntry(*key);
  if (!entry.ok()) return reportError(cmd, entry.status());
  entry->options = *normalized;
  int rc = 0;
  auto ctx = openWithAccount(cmd, config_path, account, &rc);
  if (!ctx) return rc;
  auto revoked = ctx->store->getEntry("", adapters::kSshRevokedCatalog, entry->udf);
  if (revoked.ok()) {
    return reportError(cmd, failedPrecondition("key udf:" + entry->udf +
                                               " is revoked (meshgate ssh unrevoke --udf " +
                                               entry->udf + " first, if that is really meant)"));
  }
  const int64_t now = nowSeconds();
  Status st = auditedChange(
      *ctx,
      sshAuditRecord("allow", account,
                     "udf=" + entry->udf + " options=" + joinList(entry->options, ",")),
      [&] {
        return adapters::putSshKey(*ctx->store, account, adapters::kSshCatalog, *entry, now);
      });
  if (!st.ok()) return reportError(cmd, st);
  updateCache(cmd, *ctx, account);
  std::string granted = "restrict";
  for (const auto& o : entry->options) granted += "," + o;
  std::cout << account << ": ssh key udf:" << entry->udf << " (" << key->type
            << ") permitted with " << granted << "\n";
  return 0;
}

int sshRemove(const Args& args) {
  const std::string cmd = "meshgate ssh remove";
  std::string account, key_file, udf_text, config_path = kDefaultConfigPath;
  ArgParser p(cmd, "Withdraw an account's permission for a device key.");
  p.option("account", "ADDRESS", "the account", &account, true);
  p.option("key", "FILE", "the public key file", &key_file);
  p.option("udf", "UDF", "or the key's fingerprint (as `meshgate ssh list` shows it)", &udf_text);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(account);
  if (!addr.ok()) return p.usageError(addr.status().message());
  account = *addr;
  auto udf = keyOrUdf(key_file, udf_text, nullptr);
  if (!udf.ok()) return p.usageError(udf.status().message());
  int rc = 0;
  auto ctx = openWithAccount(cmd, config_path, account, &rc);
  if (!ctx) return rc;
  Status st = auditedChange(*ctx, sshAuditRecord("remove", account, "udf=" + *udf), [&] {
    return ctx->store->deleteEntry(account, adapters::kSshCatalog, *udf);
  });
  if (!st.ok()) return reportError(cmd, st);
  updateCache(cmd, *ctx, account);
  std::cout << account << ": ssh key udf:" << *udf << " removed\n";
  return 0;
}

// The key with fingerprint `udf` from any account's SSH catalog.
std::optional<adapters::SshPublicKey> findKeyAnywhere(Store& store, const std::string& udf) {
  auto accounts = store.listAccounts();
  if (!accounts.ok()) return std::nullopt;
  for (const auto& a : *accounts) {
    auto keys = adapters::listSshKeys(store, a.address, adapters::kSshCatalog);
    if (!keys.ok()) continue;
    for (const auto& e : *keys) {
      if (e.udf == udf) return e.key;
    }
  }
  return std::nullopt;
}

int sshRevoke(const Args& args) {
  const std::string cmd = "meshgate ssh revoke";
  std::string key_file, udf_text, reason, config_path = kDefaultConfigPath;
  ArgParser p(cmd,
              "Revoke a key everywhere: no account's grant lets it log in any more (also from "
              "the cache while the store is down), and known-hosts lists it as @revoked.");
  p.option("key", "FILE", "the public key file", &key_file);
  p.option("udf", "UDF", "or the fingerprint of a key some account permits", &udf_text);
  p.option("reason", "TEXT", "why (kept in the catalog and the audit log)", &reason);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (reason.find_first_of("\r\n") != std::string::npos) return p.usageError("--reason: one line");
  std::optional<adapters::SshPublicKey> key;
  auto udf = keyOrUdf(key_file, udf_text, &key);
  if (!udf.ok()) return p.usageError(udf.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  if (!key) key = findKeyAnywhere(*ctx->store, *udf);
  if (!key) {
    return reportError(cmd, notFound("no account permits a key udf:" + *udf +
                                     "; give the key itself with --key FILE.pub"));
  }
  auto entry = adapters::makeSshKeyEntry(*key);
  if (!entry.ok()) return reportError(cmd, entry.status());
  entry->permit = false;
  entry->reason = reason.empty() ? "revoked" : reason;
  Status st = auditedChange(
      *ctx,
      sshAuditRecord("revoke", "", "udf=" + entry->udf + " reason=" + log::sanitize(entry->reason)),
      [&] {
        return adapters::putSshKey(*ctx->store, "", adapters::kSshRevokedCatalog, *entry,
                                   nowSeconds());
      });
  if (!st.ok()) return reportError(cmd, st);
  updateCache(cmd, *ctx, "");
  std::cout << "ssh key udf:" << entry->udf << " revoked\n";
  return 0;
}

int sshUnrevoke(const Args& args) {
  const std::string cmd = "meshgate ssh unrevoke";
  std::string udf_text, config_path = kDefaultConfigPath;
  ArgParser p(cmd, "Take a key off the revocation list (its grants apply again).");
  p.option("udf", "UDF", "the key's fingerprint", &udf_text, true);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto udf = parseUdfOption(udf_text);
  if (!udf.ok()) return p.usageError(udf.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  Status st = auditedChange(*ctx, sshAuditRecord("unrevoke", "", "udf=" + *udf), [&] {
    return ctx->store->deleteEntry("", adapters::kSshRevokedCatalog, *udf);
  });
  if (!st.ok()) return reportError(cmd, st);
  updateCache(cmd, *ctx, "");
  std::cout << "ssh key udf:" << *udf << " no longer revoked\n";
  return 0;
}

int sshAddHostCa(const Args& args) {
  const std::string cmd = "meshgate ssh add-host-ca";
  std::string key_file, hosts, config_path = kDefaultConfigPath;
  ArgParser p(cmd, "Trust a host certificate authority for the hosts matching a pattern "
                   "(printed by known-hosts as @cert-authority).");
  p.option("key", "FILE", "the CA's public key file", &key_file, true);
  p.option("hosts", "PATTERN", "known_hosts host pattern(s), e.g. *.example.com", &hosts, true);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (!adapters::isValidSshHostsPattern(hosts)) {
    return p.usageError(
        "--hosts: a comma list of host patterns (letters, digits, . - _ * ? ! "
        "[ ] :), without spaces");
  }
  auto key = readPublicKeyFile(key_file);
  if (!key.ok()) return reportError(cmd, key.status());
  auto entry = adapters::makeSshKeyEntry(*key);
  if (!entry.ok()) return reportError(cmd, entry.status());
  entry->permit = false;
  entry->hosts = hosts;
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  Status st = auditedChange(
      *ctx, sshAuditRecord("add-host-ca", "", "udf=" + entry->udf + " hosts=" + hosts), [&] {
        return adapters::putSshKey(*ctx->store, "", adapters::kSshHostsCatalog, *entry,
                                   nowSeconds());
      });
  if (!st.ok()) return reportError(cmd, st);
  updateCache(cmd, *ctx, "");
  std::cout << "host CA udf:" << entry->udf << " trusted for " << hosts << "\n";
  return 0;
}

int sshRemoveHostCa(const Args& args) {
  const std::string cmd = "meshgate ssh remove-host-ca";
  std::string udf_text, config_path = kDefaultConfigPath;
  ArgParser p(cmd, "Stop trusting a host certificate authority.");
  p.option("udf", "UDF", "the CA key's fingerprint", &udf_text, true);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto udf = parseUdfOption(udf_text);
  if (!udf.ok()) return p.usageError(udf.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  Status st = auditedChange(*ctx, sshAuditRecord("remove-host-ca", "", "udf=" + *udf), [&] {
    return ctx->store->deleteEntry("", adapters::kSshHostsCatalog, *udf);
  });
  if (!st.ok()) return reportError(cmd, st);
  updateCache(cmd, *ctx, "");
  std::cout << "host CA udf:" << *udf << " removed\n";
  return 0;
}

void printEntries(const std::string& title, const std::vector<SshKeyEntry>& entries) {
  for (const auto& e : entries) {
    std::cout << std::left << std::setw(24) << title << " udf:" << e.udf << " "
              << (e.key.type.empty() ? "(unreadable)" : e.key.type);
    if (!e.options.empty()) std::cout << " options=" << joinList(e.options, ",");
    if (!e.hosts.empty()) std::cout << " hosts=" << e.hosts;
    if (!e.reason.empty()) std::cout << " reason=" << e.reason;
    if (!e.key.comment.empty()) std::cout << " # " << e.key.comment;
    std::cout << "\n";
  }
}

int sshList(const Args& args) {
  const std::string cmd = "meshgate ssh list";
  std::string account, config_path = kDefaultConfigPath;
  ArgParser p(cmd, "List SSH keys: one account's grants, or every account's grants, the "
                   "revoked keys and the host CAs.");
  p.option("account", "ADDRESS", "only this account", &account);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  std::vector<std::string> accounts;
  if (!account.empty()) {
    auto addr = parseAccountAddress(account);
    if (!addr.ok()) return p.usageError(addr.status().message());
    accounts.push_back(*addr);
  }
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  if (accounts.empty()) {
    auto all = ctx->store->listAccounts();
    if (!all.ok()) return reportError(cmd, all.status());
    for (const auto& a : *all) accounts.push_back(a.address);
  }
  std::vector<std::string> problems;
  for (const auto& a : accounts) {
    auto keys = adapters::listSshKeys(*ctx->store, a, adapters::kSshCatalog, &problems);
    if (!keys.ok()) return reportError(cmd, keys.status());
    printEntries(a, *keys);
  }
  if (account.empty()) {
    auto revoked = adapters::listSshKeys(*ctx->store, "", adapters::kSshRevokedCatalog, &problems);
    if (!revoked.ok()) return reportError(cmd, revoked.status());
    printEntries("(revoked)", *revoked);
    auto hosts = adapters::listSshKeys(*ctx->store, "", adapters::kSshHostsCatalog, &problems);
    if (!hosts.ok()) return reportError(cmd, hosts.status());
    printEntries("(host CA)", *hosts);
  }
  for (const auto& pr : problems) std::cerr << cmd << ": " << pr << "\n";
  return problems.empty() ? 0 : 1;
}

int sshRefresh(const Args& args) {
  const std::string cmd = "meshgate ssh refresh";
  std::string config_path = kDefaultConfigPath;
  ArgParser p(cmd, "Rewrite the SSH cache (ssh.cache_file) from the store: every account's "
                   "grants, the revocation list and the host CAs. Run it from cron or a timer "
                   "so logins keep working for ssh.cache_max_age while the store is down.");
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  config::LoadResult loaded = config::loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e << "\n";
    return 1;
  }
  adapters::SshKeySource source(loaded.config->ssh, storeOpener(*loaded.config));
  auto view = source.refreshAll();
  if (!view.ok()) return reportError(cmd, view.status());
  size_t keys = 0;
  for (const auto& [name, a] : view->cache.accounts) keys += a.keys.size();
  std::cout << loaded.config->ssh.cache_file << ": " << view->cache.accounts.size()
            << " account(s), " << keys << " key(s), " << view->cache.revoked.size()
            << " revoked, " << view->cache.hosts.size() << " host CA(s)\n";
  return 0;
}

int ssh(const Args& args) {
  return runGroup(
      "meshgate ssh",
      "SSH keys from the Mesh catalog: sshd's AuthorizedKeysCommand, known_hosts lines, and "
      "the administrator's commands (docs/ssh.md).",
      {{"authorized-keys", "print the keys a login may use (AuthorizedKeysCommand)", sshAuthorizedKeys},
       {"known-hosts", "print @cert-authority and @revoked known_hosts lines", sshKnownHosts},
       {"allow", "permit a device key for an account", sshAllow},
       {"remove", "withdraw an account's permission for a key", sshRemove},
       {"revoke", "revoke a key everywhere", sshRevoke},
       {"unrevoke", "take a key off the revocation list", sshUnrevoke},
       {"add-host-ca", "trust a host certificate authority", sshAddHostCa},
       {"remove-host-ca", "stop trusting a host certificate authority", sshRemoveHostCa},
       {"list", "list grants, revoked keys and host CAs", sshList},
       {"refresh", "rewrite the local cache from the store", sshRefresh}},
      args);
}

}  // namespace

MESHGATE_COMMAND(ssh, "ssh", "SSH authorized keys and known hosts from the catalog", ssh, 50);

}  // namespace meshgate::cli
