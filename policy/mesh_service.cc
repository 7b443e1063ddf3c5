// mesh_service.cc - placeholder until its issue lands: says so instead of pretending.
#include "policy/mesh_service.h"

namespace meshgate::policy {
namespace {

class NotBuilt : public Service {
 public:
  std::string name() const override { return "policy"; }
  Status start(std::shared_ptr<const config::Config>) override {
    return unavailable("the Mesh service is not built yet (disable mesh_service.enabled to run the rest)");
  }
  Status reload(std::shared_ptr<const config::Config>) override { return Status(); }
  void stop() override {}
};

}  // namespace

std::unique_ptr<Service> makeMeshService() { return std::make_unique<NotBuilt>(); }

}  // namespace meshgate::policy
