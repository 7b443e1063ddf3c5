// abuse_counters.cc - see abuse_counters.h.
#include "gateway/policy/abuse_counters.h"

#include <vector>

#include "gateway/util/log.h"

namespace meshgate::policy {

Result<int64_t> AbuseCounters::add(std::string_view key, int64_t window_start, int64_t amount,
                                   int64_t window_end) {
  if (!batched_) return store_.addToCounter(key, window_start, amount, window_end);
  CounterKey id{std::string(key), window_start};
  std::unique_lock<std::mutex> lock(mutex_);
  if (store_failing_) {
    lock.unlock();
    return writeThrough(key, window_start, amount, window_end);
  }
  auto [it, first] = counters_.try_emplace(id);
  Counter& c = it->second;
  if (!first) {
    c.pending += amount;
    return c.base + c.in_flight + c.pending;
  }
  // First count of this window here: written at once, so that the total includes what other
  // nodes on the store already counted. flush() neither writes nor erases a counter that is
  // writing, so `c` stays valid.
  c.window_end = window_end;
  c.writing = true;
  c.in_flight = amount;
  lock.unlock();
  auto total = store_.addToCounter(key, window_start, amount, window_end);
  lock.lock();
  c.writing = false;
  c.in_flight = 0;
  if (!total.ok()) {
    // This message is not counted (its sender gets a tempfail); counts others added meanwhile
    // belong to accepted messages and stay pending. A value the store refuses is this key's
    // problem, not the store's.
    if (total.status().code() != StatusCode::kInvalidArgument) store_failing_ = true;
    if (c.pending == 0) counters_.erase(it);
    return total.status();
  }
  c.base = *total;
  return c.base + c.pending;
}

Result<int64_t> AbuseCounters::writeThrough(std::string_view key, int64_t window_start,
                                            int64_t amount, int64_t window_end) {
  auto total = store_.addToCounter(key, window_start, amount, window_end);
  if (!total.ok()) return total.status();
  std::lock_guard<std::mutex> lock(mutex_);
  store_failing_ = false;
  auto [it, first] = counters_.try_emplace(CounterKey{std::string(key), window_start});
  Counter& c = it->second;
  if (first) c.window_end = window_end;
  // A write in flight sets base itself when it returns; its total may or may not include this
  // amount, so until the next write the local total may lag by it.
  if (!c.writing) c.base = *total;
  return *total + c.pending;
}

Status AbuseCounters::flush(int64_t now) {
  if (!batched_) return Status();
  struct Write {
    CounterKey id;
    int64_t amount;
    int64_t window_end;
  };
  std::vector<Write> writes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = counters_.begin(); it != counters_.end();) {
      Counter& c = it->second;
      if (c.writing) {
        ++it;
      } else if (c.pending > 0) {
        c.writing = true;
        c.in_flight = c.pending;
        c.pending = 0;
        writes.push_back({it->first, c.in_flight, c.window_end});
        ++it;
      } else if (now >= c.window_end) {
        it = counters_.erase(it);  // nothing pending and nothing more will be counted in it
      } else {
        ++it;
      }
    }
  }
  Status first_failure;
  for (const auto& w : writes) {
    // After a store failure the rest are not tried (each could wait out the store's busy
    // timeout); a key the store refuses as a value does not stop the others.
    Result<int64_t> total =
        first_failure.ok() ? store_.addToCounter(w.id.first, w.id.second, w.amount, w.window_end)
                           : Result<int64_t>(first_failure);
    std::lock_guard<std::mutex> lock(mutex_);
    Counter& c = counters_.at(w.id);
    c.writing = false;
    if (total.ok()) {
      c.base = *total;
      c.in_flight = 0;
      store_failing_ = false;
    } else if (total.status().code() == StatusCode::kInvalidArgument) {
      // Never storable: kept, it would fail every flush and grow without end.
      log::warning("abuse: count of %s dropped: the store refuses it: %s",
                   log::sanitize(w.id.first).c_str(), total.status().toString().c_str());
      counters_.erase(w.id);
    } else {
      c.pending += c.in_flight;
      c.in_flight = 0;
      store_failing_ = true;
      if (first_failure.ok()) first_failure = total.status();
    }
  }
  return first_failure;
}

int64_t AbuseCounters::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t sum = 0;
  for (const auto& [id, c] : counters_) sum += c.pending + c.in_flight;
  return sum;
}

}  // namespace meshgate::policy
