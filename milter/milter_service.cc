// milter_service.cc - placeholder until the Milter issue lands: says so instead of pretending.
#include "gateway/util/log.h"
#include "milter/milter_service.h"

namespace meshgate::milter {
namespace {

class NotBuiltMilter : public Service {
 public:
  std::string name() const override { return "milter"; }
  Status start(std::shared_ptr<const config::Config>) override {
    // Says so instead of pretending: the rest of `meshgate run` still starts.
    log::warning("%s", "the milter is not built yet; it does nothing (set milter.enabled: false to silence this)");
    return Status();
  }
  Status reload(std::shared_ptr<const config::Config>) override { return Status(); }
  void stop() override {}
};

}  // namespace

std::unique_ptr<Service> makeMilterService() { return std::make_unique<NotBuiltMilter>(); }

}  // namespace meshgate::milter
