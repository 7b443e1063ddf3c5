// NAME
//   abuse_counters.h - rate-limit counters counted in memory and added to the store's shared
//   counters in batches (abuse.flush_interval).
//
// DESCRIPTION
//   A write transaction per message for each limit was most of the store work a message cost
//   (bench/RESULTS.md: the milter's CPU per message, policyd's p99). AbuseCounters keeps, per
//   (key, window), the store's total as of the last write plus what this node counted since,
//   and a flusher (Runtime's thread, every flush_interval) adds the pending amounts to the
//   store, one write per key rather than one per message.
//
//   The first count of a (key, window) on this node is written at once, so the total starts
//   from what other nodes already counted. After that, another node's counts reach this node's
//   total at its next flush: with several nodes on one store a sender can exceed a limit by
//   what the other nodes counted in one flush interval. flush_interval 0 writes every count at
//   once (the exact shared count; one write per message).
//
// ERRORS
//   A failed flush keeps the amounts pending and makes every add() write at once until a write
//   succeeds: while the store is unavailable add() fails (the front-end tempfails), as a rate
//   limiter that cannot count must not let mail through uncounted. A count held in memory when
//   the process dies is lost (at most one flush interval of counting; no mail is).
//
// THREAD SAFETY
//   add() and flush() may be called concurrently; the store is called without the lock held.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

class AbuseCounters {
 public:
  // batched=false: every add() writes through (flush_interval 0).
  AbuseCounters(Store& store, bool batched) : store_(store), batched_(batched) {}

  // Counts `amount` under (key, window_start) and returns the total this node knows.
  // `window_end`: when the counter's window closes (Store::addToCounter).
  Result<int64_t> add(std::string_view key, int64_t window_start, int64_t amount,
                      int64_t window_end);

  // Adds every pending amount to the store; forgets counters whose window ended before `now`.
  // Returns the first failure (the amounts stay pending).
  Status flush(int64_t now);

  // Amounts counted here and not yet in the store (for tests and the shutdown log).
  int64_t pending() const;

 private:
  struct Counter {
    int64_t window_end = 0;
    int64_t base = 0;           // the store's total at the last write
    int64_t in_flight = 0;      // sent to the store, answer not yet back
    int64_t pending = 0;        // counted here since
    bool writing = false;       // one write per counter at a time
  };
  using CounterKey = std::pair<std::string, int64_t>;

  Result<int64_t> writeThrough(std::string_view key, int64_t window_start, int64_t amount,
                               int64_t window_end);

  Store& store_;
  const bool batched_;
  mutable std::mutex mutex_;
  std::map<CounterKey, Counter> counters_;
  bool store_failing_ = false;  // the last write failed: write at once until one succeeds
};

}  // namespace meshgate::policy
