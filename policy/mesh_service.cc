// mesh_service.cc - placeholder until its issue lands: says so instead of pretending.
#include "gateway/util/log.h"
#include "policy/mesh_service.h"

namespace meshgate::policy {
namespace {

class NotBuilt : public Service {
 public:
  std::string name() const override { return "policy"; }
  Status start(std::shared_ptr<const config::Config>) override {
    // Says so instead of pretending: the rest of `meshgate run` still starts.
    log::warning("%s", "the Mesh service is not built yet; it does nothing (set mesh_service.enabled: false to silence this)");
    return Status();
  }
  Status reload(std::shared_ptr<const config::Config>) override { return Status(); }
  void stop() override {}
};

}  // namespace

std::unique_ptr<Service> makeMeshService() { return std::make_unique<NotBuilt>(); }

}  // namespace meshgate::policy
