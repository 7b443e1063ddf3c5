// mesh_inbound_service.cc - a MeshInboundDelivery pass every mesh_to_smtp.interval.
#include "adapters/mesh_inbound_service.h"

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>

#include "adapters/mesh_inbound.h"
#include "gateway/util/log.h"

namespace meshgate::adapters {
namespace {

class MeshInboundService final : public Service {
 public:
  explicit MeshInboundService(std::shared_ptr<Runtime> runtime)
      : runtime_(std::move(runtime)) {}
  ~MeshInboundService() override { stop(); }

  std::string name() const override { return "mesh-to-smtp"; }

  Status start(std::shared_ptr<const config::Config>) override {
    // The Runtime (added to the host first) has opened the store by now.
    delivery_.emplace(runtime_->store());
    thread_ = std::thread([this] { loop(); });
    return Status();
  }
  Status reload(std::shared_ptr<const config::Config>) override { return Status(); }
  void stop() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    for (;;) {
      auto config = runtime_->config();
      auto key = runtime_->gatewayKey();
      if (config && key) runPass(*config, *key);
      const auto interval =
          config ? config->mesh_to_smtp.interval : config::MeshToSmtpSection{}.interval;
      std::unique_lock<std::mutex> lock(mutex_);
      if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
    }
  }

  void runPass(const config::Config& config, const mesh::PrivateKey& key) {
    SmtpClientSubmitter smtp(smtpOptionsFromConfig(config));
    MeshInboundOptions options{
        .gateway_node = config.gateway.node,
        .key_folder_root = config.gateway.data_dir,
        .delivered_retention_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                           config.mesh_to_smtp.delivered_retention)
                                           .count()};
    auto pass = delivery_->runPass(options, smtp, key, static_cast<int64_t>(std::time(nullptr)));
    if (!pass.ok()) {
      log::warning("mesh-to-smtp: pass failed, retried in %lld ms: %s",
                   static_cast<long long>(config.mesh_to_smtp.interval.count()),
                   log::sanitize(pass.status().message()).c_str());
      return;
    }
    if (pass->delivered + pass->duplicates + pass->deferred + pass->refused > 0) {
      log::info("mesh-to-smtp: pass delivered=%d duplicates=%d deferred=%d refused=%d "
                "encrypted=%d", pass->delivered, pass->duplicates, pass->deferred, pass->refused,
                pass->left_for_devices);
    }
    if (pass->forgotten > 0) {
      log::info("mesh-to-smtp: %d delivery records older than delivered_retention deleted",
                pass->forgotten);
    }
  }

  std::shared_ptr<Runtime> runtime_;
  std::optional<MeshInboundDelivery> delivery_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace

std::unique_ptr<Service> makeMeshInboundService(std::shared_ptr<Runtime> runtime) {
  return std::make_unique<MeshInboundService>(std::move(runtime));
}

}  // namespace meshgate::adapters
