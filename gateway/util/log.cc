// log.cc - syslog (LOG_MAIL) plus optional stderr.
#include "gateway/util/log.h"

#include <syslog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace meshgate::log {
namespace {

std::mutex g_mutex;
std::string g_ident = "meshgate";  // syslog keeps the pointer: must outlive openlog
bool g_foreground = false;
std::atomic<bool> g_debug{false};
std::function<void(Level, const std::string&)> g_sink;

int syslogPriority(Level level) {
  switch (level) {
    case Level::kDebug: return LOG_DEBUG;
    case Level::kInfo: return LOG_INFO;
    case Level::kWarning: return LOG_WARNING;
    case Level::kError: return LOG_ERR;
    case Level::kFatal: return LOG_CRIT;
  }
  return LOG_INFO;
}

const char* prefix(Level level) {
  switch (level) {
    case Level::kWarning: return "warning: ";
    case Level::kError: return "error: ";
    case Level::kFatal: return "fatal: ";
    default: return "";
  }
}

__attribute__((format(printf, 2, 0))) void vwrite(Level level, const char* fmt, va_list ap) {
  if (level == Level::kDebug && !g_debug.load(std::memory_order_relaxed)) return;
  char buf[2048];
  vsnprintf(buf, sizeof buf, fmt, ap);
  write(level, buf);
}

}  // namespace

void open(std::string_view service, bool foreground) {
  std::lock_guard<std::mutex> lock(g_mutex);
  closelog();
  g_ident = "meshgate/" + std::string(service);
  g_foreground = foreground;
  openlog(g_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void setDebug(bool enabled) { g_debug.store(enabled); }

void setSinkForTesting(std::function<void(Level, const std::string&)> sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sink = std::move(sink);
}

void write(Level level, std::string_view line) {
  std::string text = std::string(prefix(level)) + std::string(line);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) {
    g_sink(level, text);
    return;
  }
  syslog(syslogPriority(level), "%s", text.c_str());
  if (g_foreground) fprintf(stderr, "%s: %s\n", g_ident.c_str(), text.c_str());
}

#define MESHGATE_LOG_FN(name, level) \
  void name(const char* fmt, ...) {  \
    va_list ap;                      \
    va_start(ap, fmt);               \
    vwrite(level, fmt, ap);          \
    va_end(ap);                      \
  }
MESHGATE_LOG_FN(debug, Level::kDebug)
MESHGATE_LOG_FN(info, Level::kInfo)
MESHGATE_LOG_FN(warning, Level::kWarning)
MESHGATE_LOG_FN(error, Level::kError)
MESHGATE_LOG_FN(fatal, Level::kFatal)
#undef MESHGATE_LOG_FN

std::string sanitize(std::string_view value) {
  constexpr size_t kMax = 512;
  std::string out;
  out.reserve(std::min(value.size(), kMax));
  for (char c : value.substr(0, kMax)) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (value.size() > kMax) out += "...";
  return out;
}

}  // namespace meshgate::log
