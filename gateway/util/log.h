// NAME
//   log.h - syslog logging in the one-line style Postfix administrators grep.
//
// SYNOPSIS
//   log::open("milter", /*foreground=*/true);
//   log::info("%s: from=<%s> to=<%s> action=%s rule=%s", qid, from, to, action, rule);
//
// DESCRIPTION
//   Every line goes to syslog with facility LOG_MAIL and ident "meshgate/<service>", the way
//   Postfix's own daemons log ("postfix/smtpd"). With foreground set, each line is also written
//   to stderr. A test may install a capture sink to assert on log lines.
//
//   Severity follows Postfix: info for decisions, warning for bad input or a degraded peer,
//   error for a failed operation we recover from, fatal only at start-up on bad configuration
//   (the caller exits), panic for a broken invariant.
//
//   Lines are sent to /dev/log directly, as syslog(3) formats them ("<PRI>Mmm dd hh:mm:ss
//   meshgate/milter[pid]: text"), without syslog(3)'s process-wide lock (log.cc says why); a
//   syslog daemon that restarts is reconnected to, and while none listens lines are dropped
//   (as syslog(3) drops them) with at most one connect attempt a second.
//
// THREAD SAFETY
//   open() is called once, before other threads log; every other function may be called from
//   any thread once open() has returned.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace meshgate::log {

enum class Level { kDebug, kInfo, kWarning, kError, kFatal };

// Sets the syslog ident to "meshgate/<service>" and whether lines are copied to stderr.
void open(std::string_view service, bool foreground);
void setDebug(bool enabled);

// Replaces output with a capture function (tests); pass nullptr to restore syslog.
void setSinkForTesting(std::function<void(Level, const std::string&)> sink);
// Sends to the datagram socket at `path` instead of /dev/log ("" restores /dev/log).
void setSocketPathForTesting(std::string path);

void write(Level level, std::string_view line);

void debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Makes a value safe for one log line: control characters become '?', and the text is cut at
// 512 bytes, so that a hostile header cannot inject fake log lines or flood the log.
std::string sanitize(std::string_view value);

}  // namespace meshgate::log
