// log.cc - syslog (LOG_MAIL) plus optional stderr.
//
// Lines go to the syslog socket directly rather than through syslog(3): glibc's syslog takes
// one process-wide lock around formatting and the send, so every thread that logs (one line
// per policyd request, per milter message) queued behind whichever thread was in the kernel,
// and a thread descheduled while holding it stalled them all (bench/RESULTS.md, policyd). A
// connected datagram socket needs no lock: each send() is one whole line. The lock is taken
// only to (re)connect, at most once a second while nothing listens.
#include "gateway/util/log.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "gateway/util/strings.h"

namespace meshgate::log {
namespace {

constexpr const char* kSyslogSocket = "/dev/log";

std::mutex g_mutex;  // open(), the sink, (re)connecting
std::string g_ident = "meshgate";
std::string g_socket_path = kSyslogSocket;
std::atomic<bool> g_foreground{false};
std::atomic<bool> g_debug{false};
std::atomic<bool> g_has_sink{false};
std::function<void(Level, const std::string&)> g_sink;  // guarded by g_mutex
std::atomic<pid_t> g_pid{0};
// The connected socket. Replaced in place with dup2 on reconnect, so a thread sending
// concurrently uses either the old or the new socket, never a closed or reused descriptor.
std::atomic<int> g_fd{-1};
std::atomic<int64_t> g_next_connect_ms{0};  // no connect attempt per line while nothing listens
std::atomic<bool> g_use_libc{false};        // the socket is not a datagram socket: syslog(3)

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

int64_t steadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Connects a new socket to the syslog path and makes it g_fd. Returns g_fd, or -1.
// `broken` is the descriptor the caller saw fail: if another thread already replaced it,
// that one is used.
int reconnect(int broken) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int current = g_fd.load();
  if (current != broken && current >= 0) return current;
  if (steadyMillis() < g_next_connect_ms.load()) return -1;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    g_next_connect_ms = steadyMillis() + 1000;
    return -1;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", g_socket_path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    // A stream-type syslog socket (EPROTOTYPE) needs framing and a lock: glibc does that.
    if (errno == EPROTOTYPE) g_use_libc = true;
    close(fd);
    g_next_connect_ms = steadyMillis() + 1000;
    return -1;
  }
  if (current >= 0) {
    dup2(fd, current);  // atomically replaces the broken socket under the same number
    close(fd);
    return current;
  }
  g_fd = fd;
  return fd;
}

// "<PRI>Mmm dd hh:mm:ss ident[pid]: text", what syslog(3) sends with LOG_PID.
size_t formatLine(char* out, size_t size, int priority, const std::string& text) {
  thread_local time_t stamp_second = -1;
  thread_local char stamp[32];
  time_t now = time(nullptr);
  if (now != stamp_second) {
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%h %e %T", &tm);
    stamp_second = now;
  }
  int n = std::snprintf(out, size, "<%d>%s %s[%d]: %s", LOG_MAIL | priority, stamp,
                        g_ident.c_str(), static_cast<int>(g_pid.load()), text.c_str());
  if (n < 0) return 0;
  return std::min(static_cast<size_t>(n), size - 1);
}

void sendToSyslog(Level level, const std::string& text) {
  if (!g_use_libc.load(std::memory_order_relaxed)) {
    char line[2400];
    size_t n = formatLine(line, sizeof line, syslogPriority(level), text);
    int fd = g_fd.load(std::memory_order_acquire);
    if (fd >= 0 && send(fd, line, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n)) return;
    // Not connected yet, or the daemon restarted (ECONNREFUSED): reconnect, send once more;
    // if that fails too the line is dropped, as syslog(3) drops it.
    fd = reconnect(fd);
    if (fd >= 0) {
      (void)send(fd, line, n, MSG_NOSIGNAL);
      return;
    }
  }
  // A stream-type socket, found now or before: syslog(3) frames and locks.
  if (g_use_libc.load()) syslog(syslogPriority(level), "%s", text.c_str());
}

__attribute__((format(printf, 2, 0))) void vwrite(Level level, const char* fmt, va_list ap) {
  if (level == Level::kDebug && !g_debug.load(std::memory_order_relaxed)) return;
  char buf[2048];
  vsnprintf(buf, sizeof buf, fmt, ap);
  write(level, buf);
}

void resetConnection() {
  int fd = g_fd.exchange(-1);
  if (fd >= 0) close(fd);
  g_next_connect_ms = 0;
  g_use_libc = false;
}

}  // namespace

void open(std::string_view service, bool foreground) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    closelog();
    g_ident = "meshgate/" + std::string(service);
    g_foreground = foreground;
    g_pid = getpid();
    // For the syslog(3) fallback (a stream-type socket); unused otherwise.
    openlog(g_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
  reconnect(-1);  // at start, as LOG_NDELAY did: before a chroot or privilege drop
}

void setDebug(bool enabled) { g_debug.store(enabled); }

void setSinkForTesting(std::function<void(Level, const std::string&)> sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_has_sink = static_cast<bool>(sink);
  g_sink = std::move(sink);
}

void setSocketPathForTesting(std::string path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_socket_path = path.empty() ? kSyslogSocket : std::move(path);
  resetConnection();
}

void write(Level level, std::string_view line) {
  std::string text = std::string(prefix(level)) + std::string(line);
  if (g_has_sink.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_sink) {
      g_sink(level, text);
      return;
    }
  }
  sendToSyslog(level, text);
  if (g_foreground.load(std::memory_order_relaxed)) {
    fprintf(stderr, "%s: %s\n", g_ident.c_str(), text.c_str());
  }
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
  std::string out = printable(value.substr(0, kMax));
  if (value.size() > kMax) out += "...";
  return out;
}

}  // namespace meshgate::log
