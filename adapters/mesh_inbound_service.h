// NAME
//   mesh_inbound_service.h - the Service that runs MeshInboundDelivery passes (Mesh -> SMTP)
//   in `meshgate policy` and `meshgate run` when mesh_to_smtp.enabled.
//
// DESCRIPTION
//   One thread: a pass every mesh_to_smtp.interval with the current configuration (a reload
//   applies to the next pass), the store and the gateway key of the Runtime. A pass that
//   fails (store unavailable) is logged and the next one starts over: nothing is dropped,
//   every undelivered envelope stays in its account's inbound catalog. stop() wakes the thread
//   and waits for the pass in progress (each SMTP wait is bounded by mesh_to_smtp.timeout).
#pragma once

#include <memory>

#include "gateway/ports/service.h"
#include "policy/runtime.h"

namespace meshgate::adapters {

std::unique_ptr<Service> makeMeshInboundService(std::shared_ptr<Runtime> runtime);

}  // namespace meshgate::adapters
