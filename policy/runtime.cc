// runtime.cc - see runtime.h.
#include "policy/runtime.h"

#include <filesystem>

#include "gateway/util/log.h"
#include "policy/store/store_factory.h"

namespace meshgate {

Runtime::~Runtime() { stop(); }

Status Runtime::start(std::shared_ptr<const config::Config> config) {
  std::error_code ec;
  std::filesystem::create_directories(config->gateway.data_dir, ec);
  if (ec) {
    return unavailable("cannot create gateway.data_dir " + config->gateway.data_dir + ": " +
                       ec.message());
  }
  auto opened = store::openStore(config->store);
  if (!opened.ok()) return opened.status();
  store_ = std::move(opened).value();
  std::lock_guard<std::mutex> lock(mutex_);
  engine_ = std::make_shared<policy::DecisionEngine>(config, *store_, clock_);
  return Status();
}

Status Runtime::reload(std::shared_ptr<const config::Config> config) {
  auto engine = std::make_shared<policy::DecisionEngine>(config, *store_, clock_);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto& old = engine_->config().store;
  const auto& now = config->store;
  Status st;
  if (old.backend != now.backend || old.sqlite.path != now.sqlite.path ||
      old.postgresql.dsn != now.postgresql.dsn) {
    st = failedPrecondition("store settings changed; restart meshgate to use the new store "
                            "(still using the one opened at start)");
  }
  engine_ = std::move(engine);
  return st;
}

void Runtime::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  engine_.reset();
  store_.reset();
}

std::shared_ptr<const policy::DecisionEngine> Runtime::engine() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return engine_;
}

std::shared_ptr<const config::Config> Runtime::config() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return engine_ ? engine_->configPtr() : nullptr;
}

}  // namespace meshgate
