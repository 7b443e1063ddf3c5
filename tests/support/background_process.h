// NAME
//   background_process.h - run a server (usually the real `meshgate`) for an integration test,
//   watch its log output, signal it, stop it; plus loopback socket helpers.
//
// DESCRIPTION
//   stdout and stderr of the child are collected by a reader thread. The destructor sends
//   SIGTERM, waits up to 10 s, then SIGKILLs, so a failing test never leaves a server behind.
#pragma once

#include <sys/types.h>

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace meshgate::testing {

class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::vector<std::string>& argv);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // True once `needle` appeared in the output (after `from` bytes), within timeout_ms.
  bool waitForOutput(const std::string& needle, int timeout_ms = 10000, size_t from = 0);
  std::string output();
  size_t outputSize();
  void sendSignal(int sig);
  // Exit code once it exits within timeout_ms; -1 if killed by a signal; -2 on timeout.
  int waitForExit(int timeout_ms = 10000);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::string output_;
  int exit_code_ = -3;  // not yet reaped
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int freeTcpPort();
// A socket listening on 127.0.0.1 (any free port) the way Postfix's master and smtp-sink
// listen: SO_REUSEADDR and SO_REUSEPORT set. Closed by the destructor.
class ReusePortListener {
 public:
  ReusePortListener();
  ~ReusePortListener();
  ReusePortListener(const ReusePortListener&) = delete;
  ReusePortListener& operator=(const ReusePortListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Connects to 127.0.0.1:port; -1 on failure (retrying for up to timeout_ms).
// With `source_ip` ("127.0.0.2"), the connection comes from that local address.
int connectTcp(int port, int timeout_ms = 5000, const char* source_ip = nullptr);
// Sends all of data; false on error.
bool sendAll(int fd, const std::string& data);
// Reads until `terminator` is seen, EOF, or timeout; returns what was read.
std::string readUntil(int fd, const std::string& terminator, int timeout_ms = 5000);

// Polls `done` every `interval_ms` until it holds (true) or timeout_ms has passed (false). For
// what another thread or process finishes some time later; a liveness limit, not a speed one.
bool waitUntil(const std::function<bool()>& done, int timeout_ms, int interval_ms = 10);

}  // namespace meshgate::testing
