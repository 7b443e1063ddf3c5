// account_cache.cc - see account_cache.h.
#include "gateway/policy/account_cache.h"

namespace meshgate::policy {

AccountCache::AccountCache(Store& store, std::function<TimePoint()> now)
    : store_(store), now_(std::move(now)) {}

namespace {

Result<AccountRecord> withoutProfile(Result<AccountRecord> account) {
  if (account.ok()) {
    account->profile.clear();
    account->profile.shrink_to_fit();
    account->profile_udf.clear();
  }
  return account;
}

}  // namespace

Result<AccountRecord> AccountCache::get(const std::string& address,
                                        std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return withoutProfile(store_.getAccount(address));
  Shard& shard = shards_[std::hash<std::string>{}(address) % kShards];
  const TimePoint now = now_();
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(address);
    if (it != shard.entries.end() && now - it->second.read < ttl) return it->second.account;
  }
  Result<AccountRecord> account = withoutProfile(store_.getAccount(address));
  if (!account.ok() && account.status().code() != StatusCode::kNotFound) return account;
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.entries.size() >= kMaxEntriesPerShard && !shard.entries.contains(address)) {
    std::erase_if(shard.entries, [&](const auto& e) { return now - e.second.read >= ttl; });
    if (shard.entries.size() >= kMaxEntriesPerShard) shard.entries.clear();
  }
  shard.entries.insert_or_assign(address, Entry{now, account});
  return account;
}

}  // namespace meshgate::policy
