// NAME
//   milter_service.h - the libmilter front-end as a Service.
#pragma once

#include <memory>

#include "gateway/ports/service.h"

namespace meshgate::milter {

std::unique_ptr<Service> makeMilterService();

}  // namespace meshgate::milter
