// NAME
//   clock.h - the time source the core reads, so tests can pin it.
//
// THREAD SAFETY
//   Implementations are safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>

namespace meshgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch, UTC.
  virtual int64_t now() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t now() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace meshgate
