// account_names.cc - see account_names.h.
#include "gateway/policy/account_names.h"

#include <algorithm>

#include "gateway/mail/lookalike.h"
#include "gateway/util/metrics.h"

namespace meshgate::policy {

AccountNameIndex::AccountNameIndex(Store& store, const Clock& clock,
                                   std::chrono::milliseconds ttl)
    : store_(store),
      clock_(clock),
      ttl_seconds_(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(ttl).count())) {}

Result<std::shared_ptr<const AccountNameIndex::Snapshot>> AccountNameIndex::current() {
  const int64_t now = clock_.now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_ && (now - snapshot_->loaded_at < ttl_seconds_ || refreshing_)) {
      metrics::countCacheLookup("account-names", true);
      return snapshot_;
    }
    refreshing_ = true;
  }
  metrics::countCacheLookup("account-names", false);
  // Whatever happens below (an exception included), the next caller may refresh again.
  struct ClearRefreshing {
    AccountNameIndex* self;
    ~ClearRefreshing() {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->refreshing_ = false;
    }
  } clear{this};
  // The store is read without the lock: other threads keep answering from the old snapshot.
  auto accounts = store_.listAccounts();
  std::shared_ptr<Snapshot> fresh;
  if (accounts.ok()) {
    fresh = std::make_shared<Snapshot>();
    fresh->loaded_at = now;
    for (const auto& a : *accounts) {
      std::string key = mail::displayNameKey(a.display_name);
      if (!key.empty()) fresh->by_key.emplace(std::move(key), a.address);
    }
  }
  if (!accounts.ok()) return accounts.status().withContext("reading account names");
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = fresh;
  return std::shared_ptr<const Snapshot>(fresh);
}

Result<std::string> AccountNameIndex::accountFor(std::string_view name_key) {
  if (name_key.empty()) return std::string();
  auto snapshot = current();
  if (!snapshot.ok()) return snapshot.status();
  auto it = (*snapshot)->by_key.find(std::string(name_key));
  return it == (*snapshot)->by_key.end() ? std::string() : it->second;
}

}  // namespace meshgate::policy
