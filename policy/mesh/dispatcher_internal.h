// NAME
//   dispatcher_internal.h - what the transaction handlers of mesh_dispatcher.cc share: the
//   per-request Call (who signed, what nonce, the settings in force) and its checks.
//
// DESCRIPTION
//   Private to policy/mesh/. A handler receives the parsed request and a Call, checks what it
//   needs (requireAdmin, requireAccount, ...), calls consumeNonce() once authorization has
//   succeeded and before anything is read or written on the caller's behalf, appends its audit
//   record with auditChange() before each change, and returns the response members (without
//   Status) or a Status error.
//
// THREAD SAFETY
//   A Call belongs to one request on one thread. State is shared and guards itself.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "meshgate/mesh_model.h"
#include "policy/mesh/account_authority.h"
#include "policy/mesh/mesh_dispatcher.h"
#include "policy/mesh/wire.h"

namespace meshgate::meshsvc {

namespace model = mesh::model;

struct MeshDispatcher::State {
  // The audit head as last seen (Status: LastWriteTime without re-reading the whole log).
  std::mutex head_mutex;
  int64_t head_sequence = 0;
  int64_t head_time = 0;
  // Profile UDF -> account address, for Get by Identifier; rebuilt at most once a minute.
  std::mutex index_mutex;
  std::shared_ptr<const std::unordered_map<std::string, std::string>> profile_index;
  int64_t profile_index_time = 0;
};

struct Call {
  Call(const DispatcherSettings& s, const DispatcherEnv& e, MeshDispatcher::State& st,
       const RequestContext& c, int64_t n)
      : settings(s), env(e), state(st), context(c), now(n) {}

  const DispatcherSettings& settings;
  const DispatcherEnv& env;
  MeshDispatcher::State& state;
  const RequestContext& context;
  int64_t now = 0;
  std::optional<OpenedRequest> signed_request;  // nullopt: a plain request
  std::string principal;  // who, for the audit log: "admin:<kid>", "account:<addr>", "key:<kid>"
  bool nonce_consumed = false;

  Store& store() const { return *env.store; }
  const config::Config& config() const { return *settings.config; }
  bool isSigned() const { return signed_request.has_value(); }
  // The nonce (for audit records), "" for plain requests.
  std::string nonce() const { return signed_request ? signed_request->meta.unique_id : ""; }
};

// kUnauthenticated unless the request is signed.
Status requireSigned(Call& call, std::string_view transaction);
// The request is signed by a mesh_service.admin_keys key. Sets call.principal.
Status requireAdmin(Call& call);
// The request is signed by an admin key or a key of `account` (loaded from the store).
// kNotFound when the account does not exist (only after the signer proved to be an admin or
// ... a non-admin learns nothing: kUnauthenticated either way). Sets call.principal.
Status requireAccount(Call& call, const std::string& account);
// Any valid signature will do (ConnectStart, Post): records the first signer as principal.
Status requireAnySigner(Call& call, std::string_view role);
// Store::rememberNonce for a signed request (once); kUnauthenticated("replayed nonce").
Status consumeNonce(Call& call);

// Appends the audit record of a change about to be made (see mesh_dispatcher.h). Returns
// kUnavailable when the record cannot be written and audit.on_failure is tempfail.
Status auditChange(Call& call, std::string_view action, const std::string& account,
                   const nlohmann::json& detail, std::string_view rule = "",
                   std::string_view message_id = "", std::string_view sender = "");
// Best effort: records that the change announced by auditChange did not happen.
void auditFailed(Call& call, std::string_view action, const std::string& account,
                 const Status& why);

// Normalizes an account address (lower case) and checks it is a local-domain address;
// kInvalidArgument naming `field` otherwise.
Result<std::string> localAccountAddress(const Call& call, const std::optional<std::string>& value,
                                        std::string_view field);

// Catalog names are the service's words: [a-z0-9-]{1,64}.
bool isCatalogName(std::string_view name);
// Keys and identifiers from requests: 1..256 printable ASCII characters.
bool isEntryKey(std::string_view key);

// SearchConstraints -> EntryQuery, with meshgate's page key (which keeps the time window).
Result<EntryQuery> entryQueryFrom(const std::optional<model::SearchConstraints>& constraints);
std::string meshPageKey(const EntryQuery& query, const std::string& store_page_key);

model::DateTime toDateTime(int64_t seconds);
int64_t toSeconds(model::DateTime t);

// Handlers: the response object's members (no Status) or an error. Each in its own file.
Result<nlohmann::json> handleHello(Call& call, const model::HelloRequest& request);
Result<nlohmann::json> handleValidate(Call& call, const model::ValidateRequest& request);
Result<nlohmann::json> handleCreate(Call& call, const model::CreateRequest& request);
Result<nlohmann::json> handleDelete(Call& call, const model::DeleteRequest& request);
Result<nlohmann::json> handleStatus(Call& call, const model::StatusRequest& request);
Result<nlohmann::json> handleTransfer(Call& call, const model::TransferRequest& request);
Result<nlohmann::json> handleGet(Call& call, const model::GetRequest& request);
Result<nlohmann::json> handlePublish(Call& call, const model::PublishRequest& request);
Result<nlohmann::json> handleConnectStart(Call& call, const model::ConnectStartRequest& request);
Result<nlohmann::json> handleConnectStatus(Call& call, const model::ConnectStatusRequest& request);
Result<nlohmann::json> handleConnectPending(Call& call,
                                            const model::ConnectPendingRequest& request);
Result<nlohmann::json> handleConnectComplete(Call& call,
                                             const model::ConnectCompleteRequest& request);
Result<nlohmann::json> handlePost(Call& call, const model::PostRequest& request);

}  // namespace meshgate::meshsvc
