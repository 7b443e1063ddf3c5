// service_host.cc - start, reload on SIGHUP, stop on SIGINT/SIGTERM.
#include "cli/service_host.h"

#include <csignal>

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
  log::info("meshgate ready: %zu service(s), configuration %s", services_.size(),
            config_path_.c_str());

  sigset_t set = hostSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    log::info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    (*it)->stop();
    log::info("%s: stopped", (*it)->name().c_str());
  }
  // Destroy in reverse too: later services may refer to earlier ones (the runtime's store).
  while (!services_.empty()) services_.pop_back();
  return 0;
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
