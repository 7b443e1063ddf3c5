// time_format.cc - see time_format.h.
#include "gateway/util/time_format.h"

#include <ctime>

namespace meshgate {

std::string formatUtc(int64_t unix_seconds, const char* format) {
  std::time_t tt = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  // Callers pass literal formats; the warning cannot see through the parameter.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  size_t n = std::strftime(buf, sizeof buf, format, &tm);
#pragma GCC diagnostic pop
  return std::string(buf, n);
}

}  // namespace meshgate
