// NAME
//   ssh_authorized_keys.h - sshd's AuthorizedKeysCommand answered from the catalog through a
//   local cache: which keys may log in as a local user; known_hosts lines for host CAs.
//
// SYNOPSIS
//   SshKeySource source(config.ssh, [&] { return store::openStore(config.store); });
//   Result<SshView> view = source.forAccount("alice@example.com");
//   Result<AuthorizedKeysAnswer> a =
//       answerAuthorizedKeys(view->cache, "alice@example.com", key_udf, now, max_age);
//   for (const auto& line : a->lines) std::cout << line << "\n";
//
// DESCRIPTION
//   A login is `ssh.users[login]`, else `login@ssh.domain` (accountForLogin). The cache file
//   holds, per account asked about, its SSH grants (ssh_catalog.h) and when they were read,
//   and the service-wide revocation list and host CAs with when they were read. A lookup:
//     1. reads the cache; if the parts it needs are younger than ssh.cache_refresh, answers
//        from it alone (no store, no network: a few milliseconds);
//     2. otherwise asks the store within ssh.store_timeout, merges what it read into the cache,
//        rewrites the file atomically (temporary file, fsync, rename; mode 0640) and answers;
//     3. if the store does not answer, answers from the cache as it is.
//   answerAuthorizedKeys then fails closed: parts older than ssh.cache_max_age (or missing, or
//   an unreadable file) give an error and no line; a key on the revocation list is never
//   printed, whatever the account's grants say, from the cache as from the store.
//
// SECURITY
//   The cache is trusted as written by meshgate: keep it in gateway.data_dir (owned by the
//   gateway user, who is also sshd's AuthorizedKeysCommandUser). Printed lines are rebuilt
//   from checked parts (key type and base64, normalized options), never copied as text.
//
// THREAD SAFETY
//   SshKeySource is for one thread (one lookup per process); the free functions are pure.
//
// ERRORS
//   kFailedPrecondition "the SSH cache ... is older than ssh.cache_max_age" and the like when
//   nothing trustworthy is known; kNotFound when the login maps to no account.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/ssh_catalog.h"
#include "gateway/config/config.h"
#include "gateway/ports/store.h"

namespace meshgate::adapters {

struct SshCache {
  struct Account {
    int64_t fetched = 0;
    bool exists = true;  // false: the store has no such account (nothing is permitted)
    std::vector<SshKeyEntry> keys;
    friend bool operator==(const Account&, const Account&) = default;
  };
  int64_t service_fetched = 0;  // when `revoked` and `hosts` were read; 0 = never
  std::vector<SshKeyEntry> revoked;
  std::vector<SshKeyEntry> hosts;
  std::map<std::string, Account> accounts;
  // Accounts read but not decoded (parseSshCache with only_account): their lines, verbatim.
  std::map<std::string, std::string> other_accounts;

  friend bool operator==(const SshCache&, const SshCache&) = default;
};

// The cache file: a header line, one line for the service-wide lists, one line per account,
// so a login decodes only the account it asks about (only_account; the other accounts' lines
// are kept verbatim in other_accounts and written back unchanged).
std::string serializeSshCache(const SshCache& cache);
Result<SshCache> parseSshCache(std::string_view text, const std::string* only_account = nullptr);
// kNotFound when the file does not exist; other errors name the file.
Result<SshCache> readSshCacheFile(const std::string& path,
                                  const std::string* only_account = nullptr);
// Temporary file in the same folder, fsync, rename over `path`, mode 0640; when run as root
// the file gets the folder's owner and group (the gateway user's data_dir).
Status writeSshCacheFile(const std::string& path, const SshCache& cache);

// Held by whoever reads the store to rewrite the cache, from before that read until the new
// file is in place (flock on CACHE.lock; the cache itself is replaced by rename, so it cannot
// carry a lock). Without it a login that read the store just before an administrator's
// revocation could write its older copy over the one with the revocation.
class SshCacheLock {
 public:
  // `wait` 0: one try. kUnavailable when another process holds it for longer than `wait`.
  static Result<SshCacheLock> acquire(const std::string& cache_file,
                                      std::chrono::milliseconds wait);
  SshCacheLock(SshCacheLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SshCacheLock& operator=(SshCacheLock&&) = delete;
  SshCacheLock(const SshCacheLock&) = delete;
  ~SshCacheLock();

 private:
  explicit SshCacheLock(int fd) : fd_(fd) {}
  int fd_;
};

// After an administrator's change: under the lock (waiting up to `wait`), re-reads the cache,
// brings the service-wide lists and `account` ("" = none) up to date from `store`, writes it.
Status updateSshCache(Store& store, const std::string& cache_file, const std::string& account,
                      int64_t now, std::chrono::milliseconds wait);

// Reads the service-wide lists (revocations, host CAs) / one account into the cache.
Status refreshServiceLists(Store& store, SshCache& cache, int64_t now);
Status refreshAccount(Store& store, SshCache& cache, const std::string& account, int64_t now);

// The account a local login stands for; "" when there is none (no domain configured).
std::string accountForLogin(const config::SshSection& ssh, std::string_view login);

struct AuthorizedKeysAnswer {
  std::vector<std::string> lines;         // authorized_keys lines, in catalog order
  std::vector<std::string> revoked_udfs;  // granted keys withheld because they are revoked
};

// `key_udf`: only the line of that key (sshd's %t %k); nullopt: every permitted key.
Result<AuthorizedKeysAnswer> answerAuthorizedKeys(const SshCache& cache, const std::string& account,
                                                  const std::optional<std::string>& key_udf,
                                                  int64_t now, int64_t max_age_seconds);

// known_hosts lines: "@cert-authority PATTERN TYPE KEY udf:UDF" per host CA and
// "@revoked * TYPE KEY udf:UDF" per revoked key.
Result<std::vector<std::string>> knownHostsLines(const SshCache& cache, int64_t now,
                                                 int64_t max_age_seconds);

using StoreOpener = std::function<Result<std::unique_ptr<Store>>()>;

struct SshView {
  SshCache cache;
  std::string source;  // "cache", "store", or "cache (store unavailable: ...)"
};

class SshKeySource {
 public:
  SshKeySource(config::SshSection config, StoreOpener open_store,
               std::function<int64_t()> now = nullptr);

  // The cache brought up to date for `account` ("" = only the service-wide lists) as far as
  // the store allows; see DESCRIPTION.
  Result<SshView> forAccount(const std::string& account);
  // Reads everything from the store (every account with SSH keys) and rewrites the cache,
  // holding its lock (waiting up to kAdminLockWait for it).
  Result<SshView> refreshAll();
  static constexpr std::chrono::milliseconds kAdminLockWait{30000};

  int64_t now() const { return now_(); }

 private:
  config::SshSection config_;
  StoreOpener open_store_;
  std::function<int64_t()> now_;
};

}  // namespace meshgate::adapters
