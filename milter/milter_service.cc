// milter_service.cc - placeholder until the Milter issue lands: says so instead of pretending.
#include "milter/milter_service.h"

namespace meshgate::milter {
namespace {

class NotBuiltMilter : public Service {
 public:
  std::string name() const override { return "milter"; }
  Status start(std::shared_ptr<const config::Config>) override {
    return unavailable("the milter is not built yet (disable milter.enabled to run the rest)");
  }
  Status reload(std::shared_ptr<const config::Config>) override { return Status(); }
  void stop() override {}
};

}  // namespace

std::unique_ptr<Service> makeMilterService() { return std::make_unique<NotBuiltMilter>(); }

}  // namespace meshgate::milter
