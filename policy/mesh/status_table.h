// NAME
//   status_table.h - the Mesh service's ONE error-mapping table: Status code -> MeshResponse
//   Status / StatusDescription -> HTTP status.
//
// SYNOPSIS
//   MeshStatus s = meshStatusFor(StatusCode::kUnauthenticated);   // {401, "Unauthorized"}
//   nlohmann::json body = meshErrorBody(status);                  // {"MeshResponse":{...}}
//
// DESCRIPTION
//   Every answer of the Mesh service, from a transaction, from the HTTP layer (413, 408, 503,
//   404, 405) or from an exception caught at the boundary, takes its numbers from kMeshStatusTable
//   below and nowhere else. The payload's Status is authoritative (MESH-FORMATS section 4); the
//   HTTP status mirrors it exactly, 201 for OK included (the reference implementation's OK).
//
//     Status code          Mesh Status  StatusDescription        why
//     OK                   201          OK                       the reference's success code
//     kInvalidArgument     400          Bad request              malformed JSON, wrong types,
//                                                                unknown transaction
//     kUnauthenticated     401          Unauthorized             no valid signature, stale
//                                                                timestamp, replayed nonce
//     kPermissionDenied    403          Forbidden                signed, but not by a key
//                                                                authorized for that account
//     kNotFound            404          Not found                no such account, entry, path
//     (HTTP only)          405          Method not allowed       GET/PUT/... at /.well-known/mmm/
//     kDeadlineExceeded    408          Request timeout          request not received in time
//     kAlreadyExists       409          Already exists           account or entry exists
//     kFailedPrecondition  409          Conflict                 the state forbids it now
//     kResourceExhausted   413          Request too large        body or header over the limit
//     kDataLoss            500          Internal error           store integrity failure
//     kInternal            500          Internal error           a bug, an exception
//     kUnavailable         503          Service unavailable      store down, too many connections
//
//   The description is followed by ": " and the Status message when there is one, except for
//   kDataLoss and kInternal: their messages may name files, tables or hosts, so they go to the
//   log (the dispatcher logs every 5xx) and the client reads "Internal error" only.
//
// THREAD SAFETY
//   Constant data and pure functions.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gateway/util/status.h"

namespace meshgate::meshsvc {

struct MeshStatus {
  int status;                     // MeshResponse.Status and the HTTP status
  std::string_view description;   // MeshResponse.StatusDescription (before the detail)
};

inline constexpr int kMeshOk = 201;
inline constexpr int kMeshMethodNotAllowed = 405;

MeshStatus meshStatusFor(StatusCode code);
// The row for 405, which has no Status code (a transport condition only).
MeshStatus meshMethodNotAllowed();

// False for codes whose Status message is kept from clients (kDataLoss, kInternal).
bool meshDetailToClient(StatusCode code);

// "Unauthorized: replayed nonce" (description, then the message when not empty and
// meshDetailToClient).
std::string meshStatusDescription(const Status& status);

// Fills MeshResponse members of `object` (Status, StatusDescription) from `status`.
void setMeshStatus(nlohmann::json& object, const Status& status);

// {"MeshResponse":{"Status":..,"StatusDescription":".."}} for an error that has no transaction
// (malformed body, unknown transaction, transport limits) or as the fallback of any handler.
nlohmann::json meshErrorBody(const Status& status);
nlohmann::json meshErrorBody(const MeshStatus& row, std::string_view detail);

}  // namespace meshgate::meshsvc
