// NAME
//   mesh_service.h - the Mesh service as a Service.
#pragma once

#include <memory>

#include "gateway/ports/service.h"

namespace meshgate::policy {

std::unique_ptr<Service> makeMeshService();

}  // namespace meshgate::policy
