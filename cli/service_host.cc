// service_host.cc - start, reload on SIGHUP, stop on SIGINT/SIGTERM.
#include "cli/service_host.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <filesystem>

#include <cerrno>
#include <csignal>

#include <cstring>

#include "gateway/config/config_loader.h"
#include "gateway/util/log.h"

namespace meshgate::cli {
namespace {

sigset_t hostSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Self-pipe: the handler only writes the signal number; the main thread does the work.
int g_signal_pipe[2] = {-1, -1};

extern "C" void onHostSignal(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t ignored = write(g_signal_pipe[1], &b, 1);
  (void)ignored;
  errno = saved;
}

}  // namespace

ServiceHost::ServiceHost(std::string config_path, std::shared_ptr<const config::Config> config)
    : config_path_(std::move(config_path)), config_(std::move(config)) {}

void ServiceHost::add(std::unique_ptr<Service> service) { services_.push_back(std::move(service)); }

void ServiceHost::blockSignals() {
  sigset_t set = hostSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a peer closing a socket is an error return, not a death
}

int ServiceHost::run() {
  size_t started = 0;
  for (; started < services_.size(); ++started) {
    Service& s = *services_[started];
    Status st = s.start(config_);
    if (!st.ok()) {
      log::fatal("%s: cannot start: %s", s.name().c_str(), st.message().c_str());
      break;
    }
    log::info("%s: started", s.name().c_str());
  }
  if (started < services_.size()) {
    while (started-- > 0) services_[started]->stop();
    return 1;
  }
  Status dropped = dropPrivileges(config_->gateway.user, config_->gateway.data_dir);
  if (!dropped.ok()) {
    log::fatal("%s", dropped.message().c_str());
    for (auto it = services_.rbegin(); it != services_.rend(); ++it) (*it)->stop();
    return 1;
  }
  log::info("meshgate ready: %zu service(s), configuration %s", services_.size(),
            config_path_.c_str());

  // Signals are handled on the main thread, which is the only thread that leaves them
  // unblocked. libmilter starts its own thread that sigwait()s for SIGHUP/SIGTERM/SIGINT and
  // would stop the milter on SIGHUP; Linux delivers a process-directed signal to the thread
  // group leader (this thread) whenever it does not block the signal, so libmilter's thread
  // never sees them. (OpenDKIM avoids the same conflict by reloading on SIGUSR1 instead.)
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    log::fatal("cannot create signal pipe: %s", std::strerror(errno));
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = onHostSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGHUP, SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
  sigset_t set = hostSignals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  for (;;) {
    unsigned char sig = 0;
    ssize_t n = read(g_signal_pipe[0], &sig, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1) break;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    log::info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    (*it)->stop();
    log::info("%s: stopped", (*it)->name().c_str());
  }
  // Destroy in reverse too: later services may refer to earlier ones (the runtime's store).
  while (!services_.empty()) services_.pop_back();
  return 0;
}

Status ServiceHost::dropPrivileges(const std::string& user, const std::string& data_dir) {
  if (user.empty()) return Status();
  if (geteuid() != 0) {
    log::info("gateway.user %s: not running as root; keeping the current user", user.c_str());
    return Status();
  }
  struct passwd* pw = getpwnam(user.c_str());
  if (!pw) return invalidArgument("gateway.user: no such user \"" + user + "\" (create it, e.g. adduser --system " + user + ")");
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  if (uid == 0) return invalidArgument("gateway.user must not be root");
  // The store, keys and sockets created at start belong to root; hand them to the user so the
  // dropped process can keep writing (new WAL files, per-account keys).
  std::error_code ec;
  if (lchown(data_dir.c_str(), uid, gid) != 0) {
    return unavailable("chown " + data_dir + ": " + std::strerror(errno));
  }
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (lchown(it->path().c_str(), uid, gid) != 0) {
      return unavailable("chown " + it->path().string() + ": " + std::strerror(errno));
    }
  }
  if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
    return unavailable("cannot drop privileges to " + user + ": " + std::strerror(errno));
  }
  if (setuid(0) == 0) return internalError("dropped to " + user + " but could regain root");
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // no core dumps with keys in them
  log::info("running as user %s (uid %u)", user.c_str(), static_cast<unsigned>(uid));
  return Status();
}

void ServiceHost::reload() {
  config::LoadResult loaded = config::loadConfigFile(config_path_);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) log::error("reload rejected: %s", e.c_str());
    log::error("reload rejected: %zu error(s) in %s; the running configuration stays",
               loaded.errors.size(), config_path_.c_str());
    return;
  }
  log::setDebug(loaded.config->logging.debug);
  for (auto& s : services_) {
    Status st = s->reload(loaded.config);
    if (!st.ok()) log::warning("%s: reload: %s", s->name().c_str(), st.message().c_str());
  }
  config_ = loaded.config;
  log::info("reload: configuration from %s applied", config_path_.c_str());
}

}  // namespace meshgate::cli
