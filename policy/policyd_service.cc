// policyd_service.cc - placeholder until its issue lands: says so instead of pretending.
#include "policy/policyd_service.h"

namespace meshgate::policy {
namespace {

class NotBuilt : public Service {
 public:
  std::string name() const override { return "policyd"; }
  Status start(std::shared_ptr<const config::Config>) override {
    return unavailable("the Postfix policy service is not built yet (disable policyd.enabled to run the rest)");
  }
  Status reload(std::shared_ptr<const config::Config>) override { return Status(); }
  void stop() override {}
};

}  // namespace

std::unique_ptr<Service> makePolicydService() { return std::make_unique<NotBuilt>(); }

}  // namespace meshgate::policy
