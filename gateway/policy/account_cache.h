// NAME
//   account_cache.h - account records as the ingress decision reads them, kept for a short time
//   (store.account_cache_ttl, default 1 s).
//
// DESCRIPTION
//   Every RCPT of every message looks its recipient's account up (policy, existence). Read from
//   SQLite each time, that one row was a fifth of the policy service's CPU per request and the
//   place its connection threads waited on each other (SQLite's file locks, taken and released
//   per read; bench/RESULTS.md, policyd). The answers change rarely, so the milter and the
//   policy service keep them for account_cache_ttl: "no such account" too, which is what a
//   dictionary attack on a local domain asks for again and again.
//
//   What it costs: an account created, deleted or given another ingress policy by another
//   process (the CLI, another node) is seen by the running gateway up to account_cache_ttl
//   later. Contacts are not kept: who may reach an account is read at every RCPT.
//
// ERRORS
//   A store failure is returned and not kept: the next lookup asks the store again.
//
// THREAD SAFETY
//   get() may be called concurrently. Entries are spread over shards, each with its own lock,
//   so that connection threads do not queue on one mutex; the store is called without a lock.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

class AccountCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // `now` is the time source (tests pin it); the store must outlive the cache.
  explicit AccountCache(Store& store,
                        std::function<TimePoint()> now = [] {
                          return std::chrono::steady_clock::now();
                        });

  // The account at `address` (lower case), or kNotFound, as the store answered at most `ttl`
  // ago; `ttl` 0 asks the store every time. Only what the ingress check reads is returned and
  // kept (address, ingress_policy, display_name, created, updated): not the Mesh profile, which
  // is kilobytes of DARE JSON per account.
  Result<AccountRecord> get(const std::string& address, std::chrono::milliseconds ttl);

  // Entries per shard before expired ones are dropped (and, if none are, the shard emptied):
  // bounds the memory a flood of made-up recipients can take.
  static constexpr size_t kMaxEntriesPerShard = 4096;
  static constexpr size_t kShards = 16;

 private:
  struct Entry {
    TimePoint read;
    Result<AccountRecord> account;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;
  };

  Store& store_;
  std::function<TimePoint()> now_;
  std::array<Shard, kShards> shards_;
};

}  // namespace meshgate::policy
