#include "gateway/util/metrics.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "gateway/util/log.h"

namespace meshgate::metrics {
namespace {

enum class Type { kCounter, kGauge, kHistogram };

const char* typeName(Type type) {
  switch (type) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

struct Series {
  Labels labels;
  // Exactly one is used, per the family's type. deque-owned so references stay valid.
  Counter counter;
  Gauge gauge;
  Histogram histogram;
};

struct Family {
  std::string help;
  Type type;
  std::deque<Series> series;
};

struct Registry {
  std::mutex mutex;
  std::map<std::string, Family, std::less<>> families;
  std::deque<Series> detached;  // type clashes: updated, never rendered
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: series outlive static destructors
  return *r;
}

Series& findOrCreate(std::string_view name, std::string_view help, Type type,
                     const Labels& labels) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.families.find(name);
  if (it == r.families.end()) {
    it = r.families.emplace(std::string(name), Family{std::string(help), type, {}}).first;
  }
  Family& family = it->second;
  if (family.type != type) {
    log::warning("metrics: %.*s is a %s, not a %s; not rendered", static_cast<int>(name.size()),
                 name.data(), typeName(family.type), typeName(type));
    return r.detached.emplace_back();
  }
  for (Series& s : family.series) {
    if (s.labels == labels) return s;
  }
  Series& created = family.series.emplace_back();
  created.labels = labels;
  return created;
}

void appendNumber(std::string& out, double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, ec == std::errc() ? end : buf);
}

void appendEscaped(std::string& out, std::string_view text, bool quote_too) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote_too) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// {a="1",b="2"} plus an optional extra label (the histogram's le); nothing when empty.
void appendLabels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  auto one = [&](std::string_view k, std::string_view v) {
    if (!first) out += ',';
    first = false;
    out.append(k);
    out += "=\"";
    appendEscaped(out, v, true);
    out += '"';
  };
  for (const auto& [k, v] : labels) one(k, v);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out += '}';
}

int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Histogram::observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // also catches NaN
  size_t i = std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

double Histogram::sum() const {
  return static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
}

double Histogram::quantile(double q) const {
  std::array<uint64_t, kBounds.size() + 1> counts;
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = bucket(i);
    total += counts[i];
  }
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (static_cast<double>(below + counts[i]) >= rank && counts[i] > 0) {
      // +Inf has no upper edge: report the highest finite bound, as Prometheus does.
      if (i == kBounds.size()) return kBounds.back();
      const double lower = i == 0 ? 0.0 : kBounds[i - 1];
      const double upper = kBounds[i];
      const double within = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
      return lower + (upper - lower) * within;
    }
    below += counts[i];
  }
  return kBounds.back();
}

Counter& counter(std::string_view name, std::string_view help, const Labels& labels) {
  return findOrCreate(name, help, Type::kCounter, labels).counter;
}

Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return findOrCreate(name, help, Type::kGauge, labels).gauge;
}

Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels) {
  return findOrCreate(name, help, Type::kHistogram, labels).histogram;
}

std::string renderPrometheus() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::string out;
  for (const auto& [name, family] : r.families) {
    out += "# HELP " + name + ' ';
    appendEscaped(out, family.help, false);
    out += "\n# TYPE " + name + ' ' + typeName(family.type) + '\n';
    for (const Series& s : family.series) {
      switch (family.type) {
        case Type::kCounter:
          out += name;
          appendLabels(out, s.labels);
          out += ' ' + std::to_string(s.counter.value()) + '\n';
          break;
        case Type::kGauge:
          out += name;
          appendLabels(out, s.labels);
          out += ' ' + std::to_string(s.gauge.value()) + '\n';
          break;
        case Type::kHistogram: {
          uint64_t cumulative = 0;
          for (size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
            cumulative += s.histogram.bucket(i);
            std::string le = "+Inf";
            if (i < Histogram::kBounds.size()) {
              le.clear();
              appendNumber(le, Histogram::kBounds[i]);
            }
            out += name + "_bucket";
            appendLabels(out, s.labels, "le", le);
            out += ' ' + std::to_string(cumulative) + '\n';
          }
          out += name + "_sum";
          appendLabels(out, s.labels);
          out += ' ';
          appendNumber(out, s.histogram.sum());
          out += '\n' + name + "_count";
          appendLabels(out, s.labels);
          // The buckets were read one by one; _count is their total so the page is consistent.
          out += ' ' + std::to_string(cumulative) + '\n';
          break;
        }
      }
    }
  }
  return out;
}

ScopedTimer::ScopedTimer(Histogram& into) : into_(into), start_nanos_(nowNanos()) {}

ScopedTimer::~ScopedTimer() {
  into_.observe(static_cast<double>(nowNanos() - start_nanos_) / 1e9);
}

void countCacheLookup(std::string_view cache, bool hit) {
  counter("meshgate_cache_lookups_total",
          "Lookups in meshgate's caches (resolver: verified remote profiles, resolver-local: "
          "verified local profiles, account-names: display names for impersonation checks), "
          "by result.",
          {{"cache", std::string(cache)}, {"result", hit ? "hit" : "miss"}})
      .inc();
}

}  // namespace meshgate::metrics
