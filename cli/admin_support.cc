// admin_support.cc - see admin_support.h.
#include "cli/admin_support.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "gateway/config/config_loader.h"
#include "gateway/util/strings.h"
#include "gateway/util/time_format.h"
#include "policy/store/store_factory.h"

namespace meshgate::cli {

std::unique_ptr<AdminContext> openAdmin(const std::string& command, const std::string& config_path,
                                        StoreAbsent absent) {
  config::LoadResult loaded = config::loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e << "\n";
    std::cerr << command << ": the configuration has errors; fix them first (meshgate "
              << "check-config " << config_path << ")\n";
    return nullptr;
  }
  const config::StoreSection& s = loaded.config->store;
  if (absent == StoreAbsent::kRefuse && s.backend == config::StoreBackend::kSqlite &&
      ::access(s.sqlite.path.c_str(), F_OK) != 0 && errno == ENOENT) {
    std::cerr << command << ": the store " << s.sqlite.path
              << " does not exist (store.sqlite.path, "
              << "or gateway.data_dir, in " << config_path << "); correct the path, or create "
              << "it: start meshgate once, or create the first account (meshgate account create or "
                 "provision)\n";
    return nullptr;
  }
  auto store = store::openStore(s);
  if (!store.ok()) {
    std::cerr << command << ": cannot open the store: " << store.status().message() << "\n";
    return nullptr;
  }
  auto ctx = std::make_unique<AdminContext>();
  ctx->config = loaded.config;
  ctx->store = std::move(store).value();
  return ctx;
}

int64_t nowSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

int reportError(const std::string& command, const Status& status) {
  std::cerr << command << ": " << status.message() << "\n";
  return 1;
}

Result<std::string> parseAccountAddress(const std::string& text) {
  std::string a = toLowerAscii(normalizeAddress(text));
  auto at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 >= a.size() ||
      a.find_first_of(" \t\r\n<>,;") != std::string::npos) {
    return invalidArgument("\"" + text + "\" is not an address (expected user@domain)");
  }
  return a;
}

bool isCatalogKeyText(const std::string& key) {
  if (key.empty() || key.size() > 256) return false;
  for (char c : key) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

Result<CatalogEntry> findAccountEntry(Store& store, std::string_view catalog,
                                      const std::string& account, const std::string& key) {
  if (!account.empty()) return store.getEntry(account, catalog, key);
  MESHGATE_ASSIGN_OR_RETURN(std::vector<AccountRecord> accounts, store.listAccounts());
  std::vector<CatalogEntry> found;
  for (const auto& a : accounts) {
    auto e = store.getEntry(a.address, catalog, key);
    if (e.ok()) {
      found.push_back(std::move(e).value());
    } else if (e.status().code() != StatusCode::kNotFound) {
      return e.status();
    }
  }
  if (found.empty()) return notFound(key + " is in no account's " + std::string(catalog));
  if (found.size() > 1) {
    return failedPrecondition(key + " is in the " + std::string(catalog) + " catalog of " +
                              std::to_string(found.size()) + " accounts: say which with --account");
  }
  return found.front();
}

std::string adminUser() {
  const char* user = std::getenv("SUDO_USER");
  if (!user) user = std::getenv("USER");
  return user ? user : "unknown";
}

Status appendAdminAudit(Store& store, const config::Config& c, AuditRecord record) {
  record.time = nowSeconds();
  record.node = c.gateway.node;
  record.kind = "admin";
  record.detail = "by=" + adminUser() + (record.detail.empty() ? "" : " " + record.detail);
  auto r = store.appendAudit(record);
  return r.ok() ? Status() : r.status();
}

Status auditedChange(AdminContext& ctx, AuditRecord record, const std::function<Status()>& change) {
  if (Status st = appendAdminAudit(*ctx.store, *ctx.config, record); !st.ok()) {
    return st.withContext("audit log; nothing was changed");
  }
  Status changed = change();
  if (!changed.ok()) {
    record.rule += "-failed";
    record.action += "-failed";
    (void)appendAdminAudit(*ctx.store, *ctx.config, std::move(record));
  }
  return changed;
}

Status auditedAdminChange(AdminContext& ctx, const std::string& action, const std::string& account,
                          const std::string& detail, const std::function<Status()>& change) {
  AuditRecord record;
  record.recipients = account;
  record.rule = "admin." + action;
  record.action = action;
  record.detail = detail;
  return auditedChange(ctx, std::move(record), change);
}

std::string utcTime(int64_t t) { return formatUtc(t, "%Y-%m-%dT%H:%M:%SZ"); }

Result<int64_t> parseTimeOrAge(const std::string& option, const std::string& text, int64_t now) {
  auto notATime = [&] {
    return invalidArgument(option + ": \"" + text +
                           "\" is not a time (expected 2026-11-27, 2026-11-27T10:00:00Z, Unix "
                           "seconds, or an age such as 2h or 7d)");
  };
  // No sign: "-1d" would be tomorrow, and every request "received before" it.
  if (text.empty() || text[0] == '-' || text[0] == '+') return notATime();
  int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && p == text.data() + text.size()) return n;
  if (ec == std::errc() && p + 1 == text.data() + text.size()) {
    int64_t unit = 0;
    switch (*p) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        break;
    }
    // An age beyond the epoch is a typing error, and n * unit must not overflow.
    if (unit != 0 && n <= now / unit) return now - n * unit;
    if (unit != 0) return invalidArgument(option + ": \"" + text + "\" is older than 1970");
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) {
    tm = std::tm{};
    end = strptime(text.c_str(), "%Y-%m-%d", &tm);
  }
  if (!end || *end) return notATime();
  // strptime takes 2026-02-31 and timegm makes it 3 March: refuse a date that does not exist.
  const std::tm asked = tm;
  const time_t t = timegm(&tm);
  if (tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon || tm.tm_year != asked.tm_year) {
    return invalidArgument(option + ": \"" + text + "\" is not a date that exists");
  }
  return static_cast<int64_t>(t);
}

}  // namespace meshgate::cli
