// ssh_authorized_keys.cc - see ssh_authorized_keys.h.
#include "adapters/ssh_authorized_keys.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "gateway/ports/deadline.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"

namespace meshgate::adapters {
namespace {

using nlohmann::json;

constexpr int kCacheFormat = 1;

json entryToJson(const SshKeyEntry& e) {
  json j = {{"Udf", e.udf}, {"Permit", e.permit}, {"Updated", e.updated}};
  if (!e.key.type.empty()) j["Key"] = e.key.line();
  if (!e.options.empty()) j["Options"] = e.options;
  if (!e.hosts.empty()) j["Hosts"] = e.hosts;
  if (!e.reason.empty()) j["Reason"] = e.reason;
  return j;
}

// The cache is meshgate's own file: entries are not re-fingerprinted on every login (that
// would cost a hash per key), but every part that reaches an output line is checked again.
Result<SshKeyEntry> entryFromJson(const json& j) {
  if (!j.is_object() || !j.contains("Udf") || !j["Udf"].is_string()) {
    return dataLoss("an entry without Udf");
  }
  SshKeyEntry e;
  e.udf = j["Udf"].get<std::string>();
  e.permit = j.value("Permit", false);
  e.updated = j.value("Updated", int64_t{0});
  if (j.contains("Key")) {
    auto key = parseSshPublicKey(j["Key"].get<std::string>());
    if (!key.ok()) return dataLoss("entry " + e.udf + ": " + key.status().message());
    e.key = std::move(key).value();
  }
  std::vector<std::string> options = j.value("Options", std::vector<std::string>{});
  auto normalized = normalizeSshOptions(options);
  if (!normalized.ok()) return dataLoss("entry " + e.udf + ": " + normalized.status().message());
  e.options = std::move(normalized).value();
  e.hosts = j.value("Hosts", std::string());
  if (!e.hosts.empty() && !isValidSshHostsPattern(e.hosts)) {
    return dataLoss("entry " + e.udf + ": host pattern is not a known_hosts pattern list");
  }
  e.reason = j.value("Reason", std::string());
  return e;
}

Result<std::vector<SshKeyEntry>> entriesFromJson(const json& j, const char* what) {
  std::vector<SshKeyEntry> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return dataLoss(std::string(what) + ": expected a list");
  for (const auto& item : j) {
    auto e = entryFromJson(item);
    if (!e.ok()) return e.status().withContext(what);
    out.push_back(std::move(e).value());
  }
  return out;
}

std::string describeAge(int64_t fetched, int64_t now) {
  if (fetched == 0) return "never read from the store";
  return "read " + std::to_string(now - fetched) + "s ago";
}

// Fresh enough to be trusted at all: not older than max_age and not from the future (a clock
// set back must not keep a cache alive forever).
bool trusted(int64_t fetched, int64_t now, int64_t max_age) {
  return fetched > 0 && fetched <= now + 300 && now - fetched <= max_age;
}

}  // namespace

// The file is one line per part so that a login decodes only what it needs: the header line,
// the service line (revocations and host CAs), and the line of the one account asked about;
// other accounts' lines are carried verbatim. Each part is compact JSON (no raw line breaks).
//   MeshgateSshCache 1
//   S <fetched> {"Revoked":[...],"Hosts":[...]}
//   A <account> <fetched> <exists 0|1> [keys...]
std::string serializeSshCache(const SshCache& cache) {
  json revoked = json::array(), hosts = json::array();
  for (const auto& e : cache.revoked) revoked.push_back(entryToJson(e));
  for (const auto& e : cache.hosts) hosts.push_back(entryToJson(e));
  std::string out = "MeshgateSshCache " + std::to_string(kCacheFormat) + "\n";
  out += "S " + std::to_string(cache.service_fetched) + " " +
         json{{"Revoked", revoked}, {"Hosts", hosts}}.dump() + "\n";
  std::map<std::string, std::string> lines = cache.other_accounts;
  for (const auto& [name, a] : cache.accounts) {
    if (name.empty() || name.find_first_of(" \t\r\n") != std::string::npos) continue;
    json keys = json::array();
    for (const auto& e : a.keys) keys.push_back(entryToJson(e));
    lines[name] = "A " + name + " " + std::to_string(a.fetched) + " " + (a.exists ? "1" : "0") +
                  " " + keys.dump();
  }
  for (const auto& [name, line] : lines) out += line + "\n";
  return out;
}

namespace {

// Splits off the next space-separated word of `rest`.
std::string_view nextWord(std::string_view& rest) {
  auto sp = rest.find(' ');
  std::string_view word = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  return word;
}

bool parseInt(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

Result<SshCache> parseSshCacheLines(std::string_view text, const std::string* only_account) {
  SshCache cache;
  size_t pos = 0;
  int line_no = 0;
  bool seen_header = false, seen_service = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return dataLoss("truncated (no final line end)");
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const std::string where = "line " + std::to_string(line_no);
    if (!seen_header) {
      if (line != "MeshgateSshCache " + std::to_string(kCacheFormat)) {
        return dataLoss("not a meshgate SSH cache (format " + std::to_string(kCacheFormat) + ")");
      }
      seen_header = true;
      continue;
    }
    std::string_view rest = line;
    std::string_view kind = nextWord(rest);
    if (kind == "A") {
      std::string_view name = nextWord(rest);
      if (name.empty()) return dataLoss(where + ": account line without an account");
      if (only_account && name != *only_account) {
        cache.other_accounts[std::string(name)] = std::string(line);
        continue;
      }
      SshCache::Account account;
      if (!parseInt(nextWord(rest), account.fetched)) return dataLoss(where + ": bad time");
      std::string_view exists = nextWord(rest);
      if (exists != "0" && exists != "1") return dataLoss(where + ": malformed account line");
      account.exists = exists == "1";
      json keys = json::parse(rest, nullptr, false);
      if (keys.is_discarded()) return dataLoss(where + ": keys are not JSON");
      MESHGATE_ASSIGN_OR_RETURN(account.keys, entriesFromJson(keys, "Keys"));
      cache.accounts[std::string(name)] = std::move(account);
    } else if (kind == "S") {
      if (!parseInt(nextWord(rest), cache.service_fetched)) return dataLoss(where + ": bad time");
      json service = json::parse(rest, nullptr, false);
      if (service.is_discarded() || !service.is_object()) {
        return dataLoss(where + ": service lists are not JSON");
      }
      MESHGATE_ASSIGN_OR_RETURN(cache.revoked,
                                entriesFromJson(service.value("Revoked", json()), "Revoked"));
      MESHGATE_ASSIGN_OR_RETURN(cache.hosts, entriesFromJson(service.value("Hosts", json()), "Hosts"));
      seen_service = true;
    } else {
      return dataLoss(where + ": unknown line");
    }
  }
  if (!seen_header) return dataLoss("empty");
  // Without the service line there is no revocation list: nothing may be trusted.
  if (!seen_service) return dataLoss("no revocation list");
  return cache;
}

}  // namespace

Result<SshCache> parseSshCache(std::string_view text, const std::string* only_account) {
  // A value of the wrong type ({"Key":5}, "Permit":"yes") makes nlohmann throw: that is a
  // damaged cache like any other (the login falls back to the store), not the end of sshd's
  // AuthorizedKeysCommand.
  try {
    return parseSshCacheLines(text, only_account);
  } catch (const json::exception& e) {
    return dataLoss(std::string("a value of the wrong type: ") + e.what());
  }
}

Result<SshCache> readSshCacheFile(const std::string& path, const std::string* only_account) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return notFound(path + ": no SSH cache yet");
    return unavailable(path + ": cannot open: " + std::strerror(errno));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto cache = parseSshCache(buf.str(), only_account);
  if (!cache.ok()) {
    return cache.status().withContext(path + " (remove it; the next lookup that reaches the "
                                              "store rewrites it)");
  }
  return cache;
}

Status writeSshCacheFile(const std::string& path, const SshCache& cache) {
  const std::string text = serializeSshCache(cache);
  std::string tmpl = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    return unavailable(path + ": cannot create a temporary file beside it: " +
                       std::strerror(errno));
  }
  auto fail = [&](const char* what) {
    Status s = unavailable(path + ": " + what + ": " + std::strerror(errno));
    ::close(fd);
    ::unlink(tmpl.c_str());
    return s;
  };
  if (::fchmod(fd, 0640) != 0) return fail("chmod");
  // Written by root (an administrator's command): give it to the owner of the folder, the
  // gateway user, who answers sshd (AuthorizedKeysCommandUser) and must be able to read it.
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  struct stat dir_stat {};
  if (::geteuid() == 0 && ::stat(dir.c_str(), &dir_stat) == 0 &&
      ::fchown(fd, dir_stat.st_uid, dir_stat.st_gid) != 0) {
    return fail("chown");
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return unavailable(path + ": close: " + std::strerror(errno));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    Status s = unavailable(path + ": rename: " + std::strerror(errno));
    ::unlink(tmpl.c_str());
    return s;
  }
  // Make the rename itself durable.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status();
}

Status refreshServiceLists(Store& store, SshCache& cache, int64_t now) {
  std::vector<std::string> problems;
  MESHGATE_ASSIGN_OR_RETURN(auto revoked, listSshKeys(store, "", kSshRevokedCatalog, &problems));
  MESHGATE_ASSIGN_OR_RETURN(auto hosts, listSshKeys(store, "", kSshHostsCatalog, &problems));
  for (const auto& p : problems) log::warning("ssh: skipped catalog entry: %s", log::sanitize(p).c_str());
  cache.revoked = std::move(revoked);
  cache.hosts = std::move(hosts);
  cache.service_fetched = now;
  return Status();
}

Status refreshAccount(Store& store, SshCache& cache, const std::string& account, int64_t now) {
  SshCache::Account a;
  a.fetched = now;
  auto rec = store.getAccount(account);
  if (!rec.ok() && rec.status().code() != StatusCode::kNotFound) return rec.status();
  a.exists = rec.ok();
  if (a.exists) {
    std::vector<std::string> problems;
    MESHGATE_ASSIGN_OR_RETURN(a.keys, listSshKeys(store, account, kSshCatalog, &problems));
    for (const auto& p : problems) log::warning("ssh: skipped catalog entry: %s", log::sanitize(p).c_str());
  }
  cache.accounts[account] = std::move(a);
  return Status();
}

std::string accountForLogin(const config::SshSection& ssh, std::string_view login) {
  auto it = ssh.users.find(std::string(login));
  if (it != ssh.users.end()) return it->second;
  if (login.empty() || ssh.domain.empty()) return "";
  // Lower-case only: Linux tells `Alice` from `alice`, so folding would give one user's keys to
  // another's login (an explicit ssh.users entry can map either).
  for (char c : login) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::islower(u) && !std::isdigit(u) && c != '.' && c != '_' && c != '-') return "";
  }
  return std::string(login) + "@" + ssh.domain;
}

Result<AuthorizedKeysAnswer> answerAuthorizedKeys(const SshCache& cache, const std::string& account,
                                                  const std::optional<std::string>& key_udf,
                                                  int64_t now, int64_t max_age_seconds) {
  if (!trusted(cache.service_fetched, now, max_age_seconds)) {
    return failedPrecondition("the SSH revocation list is not trustworthy (" +
                              describeAge(cache.service_fetched, now) +
                              ", ssh.cache_max_age " + std::to_string(max_age_seconds) +
                              "s): refusing every key until the store answers");
  }
  auto it = cache.accounts.find(account);
  if (it == cache.accounts.end() || !trusted(it->second.fetched, now, max_age_seconds)) {
    return failedPrecondition(
        "no trustworthy SSH grants for " + account + " (" +
        describeAge(it == cache.accounts.end() ? 0 : it->second.fetched, now) +
        "): refusing every key until the store answers");
  }
  std::set<std::string> revoked;
  for (const auto& r : cache.revoked) revoked.insert(r.udf);
  AuthorizedKeysAnswer answer;
  for (const auto& e : it->second.keys) {
    if (!e.permit || e.key.type.empty()) continue;
    if (key_udf && e.udf != *key_udf) continue;
    if (revoked.count(e.udf)) {
      answer.revoked_udfs.push_back(e.udf);
      continue;
    }
    answer.lines.push_back(authorizedKeysLine(e.key, e.options, e.udf, account));
  }
  return answer;
}

Result<std::vector<std::string>> knownHostsLines(const SshCache& cache, int64_t now,
                                                 int64_t max_age_seconds) {
  if (!trusted(cache.service_fetched, now, max_age_seconds)) {
    return failedPrecondition("the SSH host list is not trustworthy (" +
                              describeAge(cache.service_fetched, now) + ")");
  }
  std::set<std::string> revoked;
  for (const auto& r : cache.revoked) revoked.insert(r.udf);
  std::vector<std::string> lines;
  for (const auto& h : cache.hosts) {
    if (h.key.type.empty() || h.hosts.empty() || revoked.count(h.udf)) continue;
    lines.push_back("@cert-authority " + h.hosts + " " + h.key.type + " " + h.key.base64 +
                    " udf:" + h.udf);
  }
  for (const auto& r : cache.revoked) {
    if (r.key.type.empty()) continue;
    lines.push_back("@revoked * " + r.key.type + " " + r.key.base64 + " udf:" + r.udf);
  }
  return lines;
}

Result<SshCacheLock> SshCacheLock::acquire(const std::string& cache_file,
                                           std::chrono::milliseconds wait) {
  const std::string path = cache_file + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0660);
  if (fd < 0 && errno == EACCES)
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // flock needs no write
  if (fd < 0) return unavailable(path + ": cannot open: " + std::strerror(errno));
  // Made by root (an administrator's command): give it to the gateway user as the cache is.
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  struct stat dir_stat {};
  if (::geteuid() == 0 && ::stat(dir.c_str(), &dir_stat) == 0) {
    (void)::fchown(fd, dir_stat.st_uid, dir_stat.st_gid);
  }
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return SshCacheLock(fd);
    if (errno != EWOULDBLOCK && errno != EINTR) {
      Status s = unavailable(path + ": cannot lock: " + std::strerror(errno));
      ::close(fd);
      return s;
    }
    if (std::chrono::steady_clock::now() >= until) {
      ::close(fd);
      return unavailable(path + ": another meshgate is rewriting the SSH cache");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

SshCacheLock::~SshCacheLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Status updateSshCache(Store& store, const std::string& cache_file, const std::string& account,
                      int64_t now, std::chrono::milliseconds wait) {
  MESHGATE_ASSIGN_OR_RETURN(SshCacheLock lock, SshCacheLock::acquire(cache_file, wait));
  SshCache cache;
  auto cached = readSshCacheFile(cache_file, &account);
  if (cached.ok()) cache = std::move(cached).value();
  MESHGATE_RETURN_IF_ERROR(refreshServiceLists(store, cache, now));
  if (!account.empty()) MESHGATE_RETURN_IF_ERROR(refreshAccount(store, cache, account, now));
  return writeSshCacheFile(cache_file, cache);
}

SshKeySource::SshKeySource(config::SshSection config, StoreOpener open_store,
                           std::function<int64_t()> now)
    : config_(std::move(config)), open_store_(std::move(open_store)), now_(std::move(now)) {
  if (!now_) now_ = [] { return static_cast<int64_t>(std::time(nullptr)); };
}

Result<SshView> SshKeySource::forAccount(const std::string& account) {
  const int64_t now = now_();
  const int64_t refresh = config_.cache_refresh.count() / 1000;
  SshView view;
  auto cached = readSshCacheFile(config_.cache_file, &account);
  if (cached.ok()) {
    view.cache = std::move(cached).value();
  } else if (cached.status().code() != StatusCode::kNotFound) {
    // Unreadable: trust nothing in it; the store may still answer.
    log::warning("ssh: %s", log::sanitize(cached.status().message()).c_str());
  }
  auto fresh = [&](int64_t fetched) { return fetched > 0 && fetched <= now && now - fetched < refresh; };
  bool need_service = !fresh(view.cache.service_fetched);
  bool need_account = false;
  if (!account.empty()) {
    auto it = view.cache.accounts.find(account);
    need_account = it == view.cache.accounts.end() || !fresh(it->second.fetched);
  }
  if (!need_service && !need_account) {
    view.source = "cache";
    return view;
  }
  // Only the holder of the lock writes the cache, and it re-reads the file first: a writer
  // that finished since the read above may have brought in a revocation or another account's
  // newer line. One try: a login does not wait for a refresh running elsewhere (it still
  // answers from the store, without writing).
  auto lock = SshCacheLock::acquire(config_.cache_file, std::chrono::milliseconds(0));
  if (lock.ok()) {
    auto reread = readSshCacheFile(config_.cache_file, &account);
    if (reread.ok()) view.cache = std::move(reread).value();
  }
  Status st;
  {
    // Every store wait below is bounded by what is left of this budget.
    DeadlineScope budget(config_.store_timeout);
    auto store = open_store_();
    if (!store.ok()) {
      st = store.status();
    } else {
      SshCache updated = view.cache;  // other accounts' lines are carried as they are
      st = refreshServiceLists(**store, updated, now);
      if (st.ok() && !account.empty()) st = refreshAccount(**store, updated, account, now);
      if (st.ok()) view.cache = std::move(updated);
    }
  }
  if (!st.ok()) {
    log::warning("ssh: store unavailable, answering from the cache %s: %s",
                 config_.cache_file.c_str(), log::sanitize(st.message()).c_str());
    view.source = "cache (store unavailable: " + st.message() + ")";
    return view;
  }
  view.source = "store";
  if (!lock.ok()) {
    log::info("ssh: answered from the store without updating the cache: %s",
              log::sanitize(lock.status().message()).c_str());
    return view;
  }
  Status w = writeSshCacheFile(config_.cache_file, view.cache);
  if (!w.ok()) log::warning("ssh: cannot update the cache: %s", log::sanitize(w.message()).c_str());
  return view;
}

Result<SshView> SshKeySource::refreshAll() {
  MESHGATE_ASSIGN_OR_RETURN(SshCacheLock lock,
                            SshCacheLock::acquire(config_.cache_file, kAdminLockWait));
  const int64_t now = now_();
  MESHGATE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, open_store_());
  SshView view;
  MESHGATE_RETURN_IF_ERROR(refreshServiceLists(*store, view.cache, now));
  MESHGATE_ASSIGN_OR_RETURN(auto accounts, store->listAccounts());
  for (const auto& a : accounts) {
    MESHGATE_RETURN_IF_ERROR(refreshAccount(*store, view.cache, a.address, now));
  }
  // Logins mapped in ssh.users to accounts that do not exist are remembered as such.
  for (const auto& [login, account] : config_.users) {
    if (!view.cache.accounts.count(account)) {
      MESHGATE_RETURN_IF_ERROR(refreshAccount(*store, view.cache, account, now));
    }
  }
  MESHGATE_RETURN_IF_ERROR(writeSshCacheFile(config_.cache_file, view.cache));
  view.source = "store";
  return view;
}

}  // namespace meshgate::adapters
