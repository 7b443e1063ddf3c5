// status_table.cc - see status_table.h. The table is the only place these numbers appear.
#include "policy/mesh/status_table.h"

#include <array>
#include <utility>

namespace meshgate::meshsvc {
namespace {

struct Row {
  StatusCode code;
  MeshStatus mesh;
  // False: the Status message stays in the log (it may name files, tables, hosts) and the
  // client gets the description only.
  bool detail_to_client = true;
};

constexpr std::array<Row, 13> kMeshStatusTable{{
    {StatusCode::kOk, {kMeshOk, "OK"}},
    {StatusCode::kInvalidArgument, {400, "Bad request"}},
    {StatusCode::kUnauthenticated, {401, "Unauthorized"}},
    {StatusCode::kPermissionDenied, {403, "Forbidden"}},
    {StatusCode::kNotFound, {404, "Not found"}},
    {StatusCode::kDeadlineExceeded, {408, "Request timeout"}},
    {StatusCode::kAlreadyExists, {409, "Already exists"}},
    {StatusCode::kFailedPrecondition, {409, "Conflict"}},
    {StatusCode::kResourceExhausted, {413, "Request too large"}},
    {StatusCode::kDataLoss, {500, "Internal error"}, false},
    {StatusCode::kInternal, {500, "Internal error"}, false},
    // Mostly the store's own outage text (a PostgreSQL host, port and user): logged, not sent.
    // The code alone tells a peer to retry.
    {StatusCode::kUnavailable, {503, "Service unavailable"}, false},
    // A transport condition with no Status code of its own; found by meshMethodNotAllowed().
    {StatusCode::kOk, {kMeshMethodNotAllowed, "Method not allowed"}},
}};

}  // namespace

MeshStatus meshStatusFor(StatusCode code) {
  for (const Row& row : kMeshStatusTable) {
    if (row.code == code) return row.mesh;
  }
  return {500, "Internal error"};  // a code added to status.h but not here
}

MeshStatus meshMethodNotAllowed() {
  for (const Row& row : kMeshStatusTable) {
    if (row.mesh.status == kMeshMethodNotAllowed) return row.mesh;
  }
  return {kMeshMethodNotAllowed, "Method not allowed"};
}

bool meshDetailToClient(StatusCode code) {
  for (const Row& row : kMeshStatusTable) {
    if (row.code == code) return row.detail_to_client;
  }
  return false;
}

std::string meshStatusDescription(const Status& status) {
  std::string out(meshStatusFor(status.code()).description);
  if (!status.message().empty() && meshDetailToClient(status.code())) {
    out += ": " + status.message();
  }
  return out;
}

void setMeshStatus(nlohmann::json& object, const Status& status) {
  object["Status"] = meshStatusFor(status.code()).status;
  object["StatusDescription"] = meshStatusDescription(status);
}

nlohmann::json meshErrorBody(const Status& status) {
  nlohmann::json inner = nlohmann::json::object();
  setMeshStatus(inner, status);
  return {{"MeshResponse", std::move(inner)}};
}

nlohmann::json meshErrorBody(const MeshStatus& row, std::string_view detail) {
  std::string text(row.description);
  if (!detail.empty()) text += ": " + std::string(detail);
  return {{"MeshResponse", {{"Status", row.status}, {"StatusDescription", text}}}};
}

}  // namespace meshgate::meshsvc
