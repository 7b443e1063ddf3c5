// NAME
//   deadline.h - the time budget of the decision being made on this thread.
//
// SYNOPSIS
//   DeadlineScope scope(std::chrono::milliseconds(5000));   // in a front-end callback
//   ... store calls ...   // a store reads Deadline::remaining() to bound its waits
//
// DESCRIPTION
//   A front-end sets a deadline around one callback (milter.decision_timeout), so that every
//   store or network wait inside it is bounded by what is left of the budget rather than by
//   its own fixed timeout: a hung database tempfails the message in time instead of holding
//   the MTA past its own timeout. The scope is strictly nested within one call on one thread
//   (set on entry, restored on exit), so it never carries state between connections.
//
// THREAD SAFETY
//   Per thread by design.
#pragma once

#include <chrono>
#include <optional>

namespace meshgate {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // The current thread's deadline, if a scope is active.
  static std::optional<Clock::time_point> current() { return slot(); }

  // What is left of the budget (never negative), or `fallback` when there is no deadline; the
  // smaller of the two when both apply.
  static std::chrono::milliseconds remaining(std::chrono::milliseconds fallback) {
    auto d = slot();
    if (!d) return fallback;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*d - Clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    return std::min(left, fallback);
  }

 private:
  friend class DeadlineScope;
  friend class DeadlineOverride;
  static std::optional<Clock::time_point>& slot() {
    static thread_local std::optional<Clock::time_point> deadline;
    return deadline;
  }
};

class DeadlineScope {
 public:
  explicit DeadlineScope(std::chrono::milliseconds budget) : saved_(Deadline::slot()) {
    auto d = Deadline::Clock::now() + budget;
    if (!saved_ || d < *saved_) Deadline::slot() = d;
  }
  ~DeadlineScope() { Deadline::slot() = saved_; }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  std::optional<Deadline::Clock::time_point> saved_;
};

// A step with its own configured budget inside a callback (the milter's Mesh delivery,
// smtp_to_mesh.timeout per recipient): replaces the deadline for its duration, restores it
// after. Use only where the MTA's own timeout for the callback is longer than the step's.
class DeadlineOverride {
 public:
  explicit DeadlineOverride(std::chrono::milliseconds budget) : saved_(Deadline::slot()) {
    Deadline::slot() = Deadline::Clock::now() + budget;
  }
  ~DeadlineOverride() { Deadline::slot() = saved_; }
  DeadlineOverride(const DeadlineOverride&) = delete;
  DeadlineOverride& operator=(const DeadlineOverride&) = delete;

 private:
  std::optional<Deadline::Clock::time_point> saved_;
};

}  // namespace meshgate
