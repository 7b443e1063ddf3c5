// NAME
//   service_host.h - runs one or more Services in this process until a signal stops them.
//
// DESCRIPTION
//   ServiceHost owns the services' life cycle: it blocks SIGHUP/SIGINT/SIGTERM before any
//   thread exists (so every service thread inherits the block), starts each service (stopping
//   those already started if one fails), then handles the signals on the main thread only. SIGHUP re-reads the configuration file: a valid file
//   is handed to every service's reload(); an invalid one is rejected, every error is logged,
//   and the running configuration stays. SIGINT and SIGTERM stop the services in reverse order
//   and return.
//
// THREAD SAFETY
//   run() is called once, from the main thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/ports/service.h"

namespace meshgate::cli {

class ServiceHost {
 public:
  ServiceHost(std::string config_path, std::shared_ptr<const config::Config> config);

  void add(std::unique_ptr<Service> service);

  // Blocks until SIGINT/SIGTERM. Returns 0 after a clean stop, 1 if a service failed to start.
  int run();

  // Blocks the signals the host waits for; call before creating any thread.
  static void blockSignals();

  // Stack size of the services' threads (setDefaultThreadStackSize: every thread created
  // with default attributes, libmilter's one thread per MTA connection among them). glibc
  // keeps 40 MiB of exited threads' stacks for reuse: with its 8 MiB default only five are, so
  // with more concurrent SMTP sessions each new milter thread maps, faults in and unmaps a
  // fresh stack (~190 us of CPU against ~60 us, measured with 20 concurrent threads). 1 MiB
  // keeps 40 for reuse; our deepest call chains are bounded (MIME nesting, DARE and JSON
  // depth limits). ASan builds keep 8 MiB.
#if defined(__SANITIZE_ADDRESS__)
  static constexpr size_t kThreadStackBytes = size_t{8} << 20;  // ASan's redzones grow frames
#else
  static constexpr size_t kThreadStackBytes = size_t{1} << 20;
#endif

  // When running as root and `user` is not empty: hands `data_dir` (recursively) to the user,
  // then sets the user's groups, gid and uid, and checks root cannot be regained. Called once
  // every service has opened its sockets and read its keys.
  static Status dropPrivileges(const std::string& user, const std::string& data_dir);

 private:
  void reload();

  std::string config_path_;
  std::shared_ptr<const config::Config> config_;
  std::vector<std::unique_ptr<Service>> services_;
};

}  // namespace meshgate::cli
