// NAME
//   account_names.h - AccountNameIndex: which internal account has a given display name, for
//   the display-name impersonation check, without a store query per message.
//
// SYNOPSIS
//   AccountNameIndex index(store, clock, std::chrono::minutes(5));
//   Result<std::string> account = index.accountFor(mail::displayNameKey("Alice Example"));
//   if (account.ok() && !account->empty()) ...   // "alice@example.com"
//
// DESCRIPTION
//   A snapshot of every account's displayNameKey (gateway/mail/lookalike.h), read with
//   Store::listAccounts() on first use and again once it is older than the TTL. While one
//   thread re-reads, the others answer from the previous snapshot, so an expiry costs one
//   store round trip, not one per connection. Accounts without a display name are not listed.
//   A name shared by several accounts maps to the first (any one of them makes the name
//   internal).
//
//   The store has no "accounts by display name" lookup; with very many accounts a dedicated
//   store method (an indexed name-key column) would replace the full listing.
//
// ERRORS
//   accountFor returns the store's Status when the snapshot must be (re)read and the read
//   fails: the caller must not treat that as "no such name".
//
// THREAD SAFETY
//   accountFor may be called concurrently; snapshots are immutable and shared.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

class AccountNameIndex {
 public:
  AccountNameIndex(Store& store, const Clock& clock, std::chrono::milliseconds ttl);

  // The account whose display name has this key (mail::displayNameKey), "" if none.
  Result<std::string> accountFor(std::string_view name_key);

 private:
  struct Snapshot {
    std::unordered_map<std::string, std::string> by_key;
    int64_t loaded_at = 0;
  };
  Result<std::shared_ptr<const Snapshot>> current();

  Store& store_;
  const Clock& clock_;
  const int64_t ttl_seconds_;
  std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by mu_
  bool refreshing_ = false;                   // guarded by mu_
};

}  // namespace meshgate::policy
