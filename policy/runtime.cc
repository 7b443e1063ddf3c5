// runtime.cc - see runtime.h.
#include "policy/runtime.h"

#include <filesystem>

#include "gateway/policy/audit_checkpoint.h"
#include "gateway/util/log.h"
#include "policy/resolver/resolver.h"
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
  auto key = loadOrCreateGatewayKey(config->gateway.key_file);
  if (!key.ok()) return key.status().withContext("gateway.key_file");
  auto opened = store::openStore(config->store);
  if (!opened.ok()) return opened.status();
  store_ = std::move(opened).value();
  std::lock_guard<std::mutex> lock(mutex_);
  gateway_key_ = std::make_shared<const mesh::PrivateKey>(std::move(key).value());
  abuse_counters_ = std::make_unique<policy::AbuseCounters>(*store_, /*batched=*/true);
  account_cache_ = std::make_unique<policy::AccountCache>(*store_);
  audit_writer_ = std::make_unique<policy::AuditGroupCommit>(*store_);
  engine_ = makeEngine(config);
  if (!engine_->setupStatus().ok()) return engine_->setupStatus();
  MESHGATE_ASSIGN_OR_RETURN(resolver_, makeResolver(config, gateway_key_->publicKey()));
  stopping_ = false;
  checkpointer_ = std::thread([this] {
    std::unique_lock<std::mutex> guard(mutex_);
    for (;;) {
      auto interval = engine_->config().audit.checkpoint_interval;
      if (wake_.wait_for(guard, interval, [this] { return stopping_; })) return;
      guard.unlock();
      Status st = checkpointAudit();
      if (!st.ok()) log::error("audit checkpoint: %s", st.toString().c_str());
      guard.lock();
    }
  });
  counter_flusher_ = std::thread([this] {
    std::unique_lock<std::mutex> guard(mutex_);
    for (;;) {
      // With flush_interval 0 nothing new is batched; what a reload left pending is still
      // written within a second.
      auto interval = engine_->config().abuse.flush_interval;
      if (interval.count() == 0) interval = std::chrono::seconds(1);
      if (wake_.wait_for(guard, interval, [this] { return stopping_; })) return;
      guard.unlock();
      Status st = abuse_counters_->flush(clock_.now());
      if (!st.ok()) {
        log::warning("abuse: cannot add %lld rate-limit count(s) to the store, retrying: %s",
                     static_cast<long long>(abuse_counters_->pending()), st.toString().c_str());
      }
      guard.lock();
    }
  });
  log::info("store: %s; gateway key %s", config->store.backend == config::StoreBackend::kSqlite
                                             ? ("sqlite " + config->store.sqlite.path).c_str()
                                             : "postgresql",
            gateway_key_->kid().c_str());
  return Status();
}

Result<mesh::PrivateKey> loadOrCreateGatewayKey(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return mesh::loadPrivateKeyFile(path);
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return unavailable("cannot create " + dir.string() + ": " + ec.message());
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  auto key = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  if (!key.ok()) return key.status();
  if (Status saved = mesh::savePrivateKeyFile(*key, path); !saved.ok()) {
    // Another process sharing this key_file created it first (two services started at
    // once): the file it linked into place is complete, so use that key, not ours.
    if (saved.code() == StatusCode::kAlreadyExists) return mesh::loadPrivateKeyFile(path);
    return saved;
  }
  MESHGATE_RETURN_IF_ERROR(mesh::savePublicKeyFile(key->publicKey(), path + ".pub"));
  log::info("created gateway signing key %s (%s)", path.c_str(), key->kid().c_str());
  return key;
}

Status Runtime::checkpointAudit() {
  auto key = gatewayKey();
  auto cfg = config();
  if (!key || !cfg || !store_) return failedPrecondition("runtime not started");
  auto to_sign = policy::readAuditHeadToSign(*store_);
  if (!to_sign.ok()) return to_sign.status();
  const auto& [head, latest] = *to_sign;
  if (!head || (latest && latest->sequence == head->sequence)) return Status();
  auto c = policy::makeAuditCheckpoint(*head, clock_.now(), cfg->gateway.node, *key);
  if (!c.ok()) return c.status();
  MESHGATE_RETURN_IF_ERROR(store_->putCheckpoint(*c));
  log::info("audit: checkpoint at record %lld", static_cast<long long>(c->sequence));
  return Status();
}

Result<AuditRecord> Runtime::appendAudit(const AuditRecord& record) {
  if (!audit_writer_) return failedPrecondition("runtime not started");
  return audit_writer_->append(record);
}

std::shared_ptr<const mesh::PrivateKey> Runtime::gatewayKey() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return gateway_key_;
}

std::shared_ptr<ProfileResolver> Runtime::profileResolver() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return resolver_;
}

Result<std::shared_ptr<ProfileResolver>> Runtime::makeResolver(
    std::shared_ptr<const config::Config> config, const mesh::PublicKey& service_key) {
  resolver::ResolverDeps deps;
  deps.config = std::move(config);
  deps.store = store_.get();
  deps.clock = &clock_;
  deps.service_key = service_key;
  auto made = resolver::makeProfileResolver(std::move(deps));
  if (!made.ok()) return made.status();
  return std::shared_ptr<ProfileResolver>(std::move(made).value());
}

std::shared_ptr<const policy::DecisionEngine> Runtime::makeEngine(
    std::shared_ptr<const config::Config> config) {
  policy::AbuseCounters* batched =
      config->abuse.flush_interval.count() > 0 ? abuse_counters_.get() : nullptr;
  return std::make_shared<policy::DecisionEngine>(config, *store_, clock_, batched,
                                                 account_cache_.get());
}

Status Runtime::reload(std::shared_ptr<const config::Config> config) {
  {
    // Whether the milter runs decides who counts the abuse limits (the milter at MAIL FROM,
    // else the policy service), but the milter starts and stops only with the process: a
    // reload that flipped it would leave nobody counting, or everybody twice.
    std::lock_guard<std::mutex> lock(mutex_);
    if (engine_ && engine_->config().milter.enabled != config->milter.enabled) {
      return failedPrecondition(
          "milter.enabled changed; restart meshgate to start or stop the milter (the running "
          "configuration stays in force until then)");
    }
  }
  auto engine = makeEngine(config);
  if (!engine->setupStatus().ok()) return engine->setupStatus();  // keep the running engine
  auto resolver = makeResolver(config, gatewayKey()->publicKey());  // a new cache: the resolver settings may have changed
  if (!resolver.ok()) return resolver.status();
  std::lock_guard<std::mutex> lock(mutex_);
  resolver_ = std::move(resolver).value();
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (counter_flusher_.joinable()) counter_flusher_.join();
  // The records since the last checkpoint are signed before the gateway goes, so that
  // `audit verify` while it is stopped does not find an unsigned tail.
  if (store_ && gateway_key_ && engine_) {
    Status st = checkpointAudit();
    if (!st.ok()) log::warning("audit: no checkpoint at stop: %s", st.toString().c_str());
  }
  if (abuse_counters_) {
    Status st = abuse_counters_->flush(clock_.now());
    if (!st.ok()) {
      log::warning("abuse: %lld rate-limit count(s) not added to the store at stop: %s",
                   static_cast<long long>(abuse_counters_->pending()), st.toString().c_str());
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  engine_.reset();
  gateway_key_.reset();
  abuse_counters_.reset();
  account_cache_.reset();
  audit_writer_.reset();
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
