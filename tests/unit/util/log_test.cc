#include "gateway/util/log.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"

namespace meshgate::log {
namespace {

// A syslog daemon's /dev/log: a datagram socket bound at a path.
class FakeSyslog {
 public:
  explicit FakeSyslog(std::string path) : path_(std::move(path)) { bind(); }
  ~FakeSyslog() { close(); }

  void bind() {
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    int big = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
  }
  // The next line, or "" after 2 s without one.
  std::string next() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class SyslogOutput : public ::testing::Test {
 protected:
  void TearDown() override { setSocketPathForTesting(""); }
  meshgate::testing::TempDir dir_;
  std::string path_ = dir_.file("log");
};

TEST_F(SyslogOutput, EachLineIsOneDatagramInSyslogFormatWithFacilityMail) {
  FakeSyslog daemon(path_);
  setSocketPathForTesting(path_);
  open("unit", false);
  info("%s: milter: from=<%s> action=%s", "4ABC", "alice@example.net", "accept");
  warning("bad input: %d", 7);
  // LOG_MAIL (2 << 3) | LOG_INFO (6) = 22; | LOG_WARNING (4) = 20. Postfix-style ident[pid].
  const std::string pid = std::to_string(::getpid());
  const std::regex info_line("<22>[A-Z][a-z]{2} [ 123][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} meshgate/unit\\[" +
                             pid + "\\]: 4ABC: milter: from=<alice@example.net> action=accept");
  const std::regex warning_line("<20>.* meshgate/unit\\[" + pid + "\\]: warning: bad input: 7");
  std::string first = daemon.next();
  EXPECT_TRUE(std::regex_match(first, info_line)) << first;
  std::string second = daemon.next();
  EXPECT_TRUE(std::regex_match(second, warning_line)) << second;
}

TEST_F(SyslogOutput, ConcurrentThreadsEachLineArrivesWhole) {
  FakeSyslog daemon(path_);
  setSocketPathForTesting(path_);
  open("unit", false);
  constexpr int kThreads = 8, kLines = 400;
  std::set<std::string> seen;
  std::thread reader([&] {
    for (int i = 0; i < kThreads * kLines; ++i) {
      std::string line = daemon.next();
      if (line.empty()) return;
      auto at = line.find("]: ");
      if (at != std::string::npos) seen.insert(line.substr(at + 3));
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) info("thread=%d line=%d %s", t, i, std::string(100, 'x').c_str());
    });
  }
  for (auto& w : writers) w.join();
  reader.join();
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines));
  EXPECT_TRUE(seen.count("thread=3 line=399 " + std::string(100, 'x')));
}

TEST_F(SyslogOutput, ARestartedDaemonGetsTheNextLine) {
  FakeSyslog daemon(path_);
  setSocketPathForTesting(path_);
  open("unit", false);
  info("before");
  EXPECT_NE(daemon.next().find("before"), std::string::npos);
  // The daemon restarts: a new socket at the same path. The old connection is refused.
  daemon.close();
  daemon.bind();
  info("after");
  EXPECT_NE(daemon.next().find("after"), std::string::npos);
}

TEST_F(SyslogOutput, NoDaemonDropsLinesQuietlyAndOneStartedLaterIsFound) {
  setSocketPathForTesting(path_);  // nothing listens there
  open("unit", false);
  for (int i = 0; i < 1000; ++i) info("nobody hears %d", i);  // no connect per line, no crash
  FakeSyslog daemon(path_);
  // Connect attempts are at most one a second while nothing listens.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  info("heard");
  EXPECT_NE(daemon.next().find("heard"), std::string::npos);
}

TEST_F(SyslogOutput, ASinkReplacesSyslog) {
  FakeSyslog daemon(path_);
  setSocketPathForTesting(path_);
  open("unit", false);
  std::vector<std::string> captured;
  setSinkForTesting([&](Level, const std::string& line) { captured.push_back(line); });
  error("captured %d", 1);
  setSinkForTesting(nullptr);
  ASSERT_EQ(captured.size(), 1u);
  EXPECT_EQ(captured[0], "error: captured 1");
  info("to syslog");
  EXPECT_NE(daemon.next().find("to syslog"), std::string::npos);
}

}  // namespace
}  // namespace meshgate::log
