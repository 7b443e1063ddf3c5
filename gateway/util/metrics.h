// NAME
//   metrics.h - process-wide counters, gauges and latency histograms, rendered as Prometheus text.
//
// SYNOPSIS
//   static auto& decisions = metrics::counter("meshgate_milter_decisions_total",
//       "Milter decisions by action.", {{"action", "reject"}});
//   decisions.inc();
//   metrics::histogram("meshgate_decision_seconds", "Time to decide one message.",
//                      {{"frontend", "milter"}}).observe(0.00042);
//   std::string page = metrics::renderPrometheus();   // GET /metrics on the policy server
//
// DESCRIPTION
//   A family is a metric name with its help text and type; each distinct label set is one
//   series within it. counter()/gauge()/histogram() find or create the series and return a
//   reference that stays valid for the life of the process, so hot paths may keep it in a
//   static. Updating a series is a few relaxed atomic operations; only finding or creating
//   one takes the registry lock.
//
//   Histograms use one fixed set of buckets from 50 us to 10 s (latencies of a mail gateway
//   span that range); quantile() estimates a quantile from them the way Prometheus's
//   histogram_quantile does (linear within the bucket), which is what bench reports quote.
//
//   Metrics are per process: `meshgate run` shows every service at the policy server's
//   /metrics; a service started alone (`meshgate milter`) keeps its own.
//
// THREAD SAFETY
//   Every function may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshgate::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Histogram {
 public:
  // Upper bounds in seconds; an implicit +Inf bucket follows.
  static constexpr std::array<double, 17> kBounds = {
      0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
      0.05,    0.1,    0.2,    0.5,    1.0,   2.0,   5.0,   10.0};

  void observe(double seconds);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;
  // Non-cumulative count of bucket i (i == kBounds.size() is +Inf).
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  // Estimated q-quantile (0 < q < 1) in seconds; 0 when nothing was observed.
  double quantile(double q) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanos_{0};
};

// Find or create a series. A name used with two different types is a programming error: the
// second call gets a detached series that is never rendered, and a warning is logged once.
Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels = {});

// One lookup in one of meshgate's caches: meshgate_cache_lookups_total{cache, result="hit"|
// "miss"}; the hit rate is hit / (hit + miss) (rate() of both in Prometheus).
void countCacheLookup(std::string_view cache, bool hit);

// Every family in name order, series in creation order, in the Prometheus text exposition
// format (version 0.0.4).
std::string renderPrometheus();

// Measures the time from construction to destruction into a histogram.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram& into);
  ~ScopedTimer();
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram& into_;
  int64_t start_nanos_;
};

}  // namespace meshgate::metrics
