// NAME
//   time_format.h - a Unix time as UTC text, in a strftime format.
#pragma once

#include <cstdint>
#include <string>

namespace meshgate {

// e.g. formatUtc(t, "%Y-%m-%dT%H:%M:%SZ") -> "2026-11-29T18:00:00Z".
std::string formatUtc(int64_t unix_seconds, const char* format);

}  // namespace meshgate
