// NAME
//   policyd_service.h - the Postfix policy service as a Service.
#pragma once

#include <memory>

#include "gateway/ports/service.h"

namespace meshgate::policy {

std::unique_ptr<Service> makePolicydService();

}  // namespace meshgate::policy
