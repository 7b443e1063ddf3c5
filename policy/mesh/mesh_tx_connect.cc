// mesh_tx_connect.cc - connecting a device to an account (seed 3.12-3.15): ConnectStart,
// ConnectStatus, ConnectPending, ConnectComplete.
//
// A new device has no credentials at the service yet: it signs both its RequestConnection
// (SignedRequest) and the ConnectStart request with its own key, which proves possession of
// that key and gives the request a nonce and a timestamp. The request waits in the account's
// "pending-connections" catalog, keyed by the RequestConnection's MessageID. An account
// administrator lists it (ConnectPending) and answers with a RespondConnection signed by an
// administration key of the account's profile (ConnectComplete); an accepted device's key is
// then in the account's "devices" catalog and may sign requests for the account
// (account_authority.h). The device collects the signed answer with ConnectStatus.
#include "gateway/mesh/udf.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "policy/mesh/dispatcher_internal.h"

namespace meshgate::meshsvc {
namespace {

struct Pending {
  CatalogEntry entry;
  nlohmann::json data;
};

Result<nlohmann::json> entryJson(const CatalogEntry& e) {
  auto json = model::parseJsonText(e.data);
  if (!json.ok() || !json->is_object()) return dataLoss("stored connection request is unreadable");
  return json;
}

std::string stringMember(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<mesh::DareEnvelope> envelopeMember(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return notFound(std::string(name) + " absent");
  auto env = mesh::dareFromJson(*it);
  if (!env.ok()) return dataLoss(std::string("stored ") + name + " is unreadable");
  return env;
}

// Verifies an envelope's signatures with its embedded keys; returns those keys.
Result<std::vector<mesh::PublicKey>> envelopeSigners(const mesh::DareEnvelope& env,
                                                     std::string_view field) {
  mesh::DareVerifyOptions options;
  options.allow_embedded_keys = true;
  auto checks = mesh::verifyDare(env, {}, options);
  if (!checks.ok()) {
    return unauthenticated(std::string(field) + ": " + checks.status().message());
  }
  std::vector<mesh::PublicKey> keys;
  for (const auto& s : *env.trailer->signatures) {
    if (!s.signature_key) continue;
    auto k = mesh::publicKeyFromDareKey(*s.signature_key);
    if (k.ok()) keys.push_back(*k);
  }
  if (keys.empty()) {
    return unauthenticated(std::string(field) + ": the signer's key must be embedded "
                                                "(SignatureKey)");
  }
  return keys;
}

}  // namespace

Result<nlohmann::json> handleConnectStart(Call& call, const model::ConnectStartRequest& request) {
  MESHGATE_RETURN_IF_ERROR(requireAnySigner(call, "device"));
  MESHGATE_ASSIGN_OR_RETURN(
      std::string account, localAccountAddress(call, request.account_id, "ConnectStartRequest.AccountID"));
  if (!request.signed_request) {
    return invalidArgument("ConnectStartRequest.SignedRequest is required");
  }
  const mesh::DareEnvelope& signed_request = *request.signed_request;
  MESHGATE_ASSIGN_OR_RETURN(auto signers, envelopeSigners(signed_request, "SignedRequest"));
  const mesh::PublicKey& device = call.signed_request->signers.front();
  if (!containsKey(signers, device)) {
    return unauthenticated("SignedRequest is not signed by the key that signs this request");
  }
  auto connection = model::parse<model::RequestConnection>(toString(signed_request.payload));
  if (!connection.ok()) {
    return invalidArgument("SignedRequest payload: " + connection.status().message());
  }
  if (!connection->message_id || !isEntryKey(*connection->message_id)) {
    return invalidArgument("SignedRequest: RequestConnection.MessageID is required");
  }
  if (connection->account_address && toLowerAscii(*connection->account_address) != account) {
    return invalidArgument("SignedRequest: AccountAddress names another account");
  }
  auto record = call.store().getAccount(account);
  if (!record.ok()) return record.status();
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  const std::string& id = *connection->message_id;
  auto existing = call.store().getEntry(account, kPendingCatalog, id);
  if (existing.ok()) {
    MESHGATE_ASSIGN_OR_RETURN(nlohmann::json data, entryJson(*existing));
    if (stringMember(data, "DeviceKid") == device.kid()) {
      return model::toJson(model::ConnectStartResponse{});  // the same request again
    }
    return alreadyExists("a connection request with this MessageID exists");
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  // Only requests still waiting count toward the limit, and only recent ones: the catalog
  // keeps answered requests too (their devices read the answer), which once made an account
  // that had seen 100 requests in its life refuse every new device. A flood of requests is
  // cleared by rejecting them (ConnectPending lists them), or expires.
  EntryQuery q;
  q.not_before = call.now - kPendingLifetimeSeconds;
  int waiting = 0;
  do {
    auto page = call.store().listEntries(account, kPendingCatalog, q);
    if (!page.ok()) return page.status();
    for (const CatalogEntry& e : page->items) {
      auto data = entryJson(e);
      if (data.ok() && stringMember(*data, "State") == "pending") ++waiting;
    }
    q.page_key = page->next_page_key;
  } while (!q.page_key.empty() && waiting < kMaxPendingPerAccount);
  if (waiting >= kMaxPendingPerAccount) {
    return failedPrecondition("too many connection requests wait for this account");
  }
  nlohmann::json data = {{"MessageID", id},
                         {"DeviceKid", device.kid()},
                         {"DeviceKey", mesh::publicKeyToMeshJson(device)},
                         {"Request", mesh::dareToJson(signed_request)},
                         {"State", "pending"},
                         {"Created", call.now}};
  MESHGATE_RETURN_IF_ERROR(auditChange(call, "connect-start", account,
                                       {{"message_id", id}, {"device", device.kid()}}));
  CatalogEntry entry{account, std::string(kPendingCatalog), id, model::dumpJson(data), call.now, 0};
  auto put = call.store().putEntry(entry, std::nullopt);
  if (!put.ok()) {
    auditFailed(call, "connect-start", account, put.status());
    return put.status();
  }
  log::info("mesh: connection request %s from device %s for %s", log::sanitize(id).c_str(),
            device.kid().c_str(), account.c_str());
  return model::toJson(model::ConnectStartResponse{});
}

Result<nlohmann::json> handleConnectStatus(Call& call, const model::ConnectStatusRequest& request) {
  MESHGATE_RETURN_IF_ERROR(requireSigned(call, "ConnectStatusRequest"));
  MESHGATE_ASSIGN_OR_RETURN(
      std::string account, localAccountAddress(call, request.account_id, "ConnectStatusRequest.AccountID"));
  if (!request.device_id || !isEntryKey(*request.device_id)) {
    return invalidArgument("ConnectStatusRequest.DeviceID is required (the device key's kid)");
  }
  const std::string& device_id = *request.device_id;
  bool by_device = false;
  for (const auto& signer : call.signed_request->signers) {
    if (mesh::udfMatches(signer.kid(), device_id)) {
      by_device = true;
      call.principal = "device:" + signer.kid();
    }
  }
  if (!by_device) MESHGATE_RETURN_IF_ERROR(requireAccount(call, account));
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  // The device's latest request (bounded scan: at most kMaxPendingPerAccount wait).
  std::optional<Pending> found;
  EntryQuery q;
  q.max_entries = 1000;
  for (int pages = 0; pages < 4; ++pages) {
    auto page = call.store().listEntries(account, kPendingCatalog, q);
    if (!page.ok()) return page.status();
    for (const CatalogEntry& e : page->items) {
      auto data = entryJson(e);
      if (!data.ok()) continue;
      if (mesh::udfMatches(stringMember(*data, "DeviceKid"), device_id)) {
        found = Pending{e, std::move(data).value()};
      }
    }
    if (page->next_page_key.empty()) break;
    q.page_key = page->next_page_key;
  }
  if (!found) return notFound("no connection request from that device");
  model::ConnectStatusResponse r;
  auto result = envelopeMember(found->data, "Result");
  if (result.ok()) {
    r.result = std::move(result).value();
  } else if (result.status().code() != StatusCode::kNotFound) {
    return result.status();
  }
  // No Result yet: the request is still pending.
  return model::toJson(r);
}

Result<nlohmann::json> handleConnectPending(Call& call,
                                            const model::ConnectPendingRequest& request) {
  MESHGATE_ASSIGN_OR_RETURN(
      std::string account, localAccountAddress(call, request.account_id, "ConnectPendingRequest.AccountID"));
  MESHGATE_ASSIGN_OR_RETURN(EntryQuery query, entryQueryFrom(request.search_constraints));
  MESHGATE_RETURN_IF_ERROR(requireAccount(call, account));
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  auto page = call.store().listEntries(account, kPendingCatalog, query);
  if (!page.ok()) return page.status();
  model::ConnectPendingResponse r;
  for (const CatalogEntry& e : page->items) {
    auto data = entryJson(e);
    if (!data.ok() || stringMember(*data, "State") != "pending") continue;
    auto env = envelopeMember(*data, "Request");
    if (env.ok()) r.pending.push_back(std::move(env).value());
  }
  std::string next = meshPageKey(query, page->next_page_key);
  if (!next.empty()) r.page_key = next;
  return model::toJson(r);
}

Result<nlohmann::json> handleConnectComplete(Call& call,
                                             const model::ConnectCompleteRequest& request) {
  MESHGATE_ASSIGN_OR_RETURN(
      std::string account,
      localAccountAddress(call, request.account_id, "ConnectCompleteRequest.AccountID"));
  if (!request.result) return invalidArgument("ConnectCompleteRequest.Result is required");
  MESHGATE_RETURN_IF_ERROR(requireAccount(call, account));
  const mesh::DareEnvelope& result = *request.result;
  MESHGATE_ASSIGN_OR_RETURN(auto result_signers, envelopeSigners(result, "Result"));
  auto record = call.store().getAccount(account);
  if (!record.ok()) return record.status();
  MESHGATE_ASSIGN_OR_RETURN(AccountAuthority authority,
                            loadAccountAuthority(call.store(), *record));
  std::string admin_kid;
  for (const auto& k : result_signers) {
    if (authority.administers(k)) admin_kid = k.kid();
  }
  if (admin_kid.empty()) {
    return permissionDenied("Result must be signed by an administration key of " + account +
                            "'s profile (KeyOfflineSignature or KeysOnlineSignature)");
  }
  auto respond = model::parse<model::RespondConnection>(toString(result.payload));
  if (!respond.ok()) return invalidArgument("Result payload: " + respond.status().message());
  const std::string verdict = respond->result.value_or("");
  if (verdict != "Accept" && verdict != "Reject" && verdict != "Pending") {
    return invalidArgument("RespondConnection.Result must be Accept, Reject or Pending");
  }
  if (respond->references.empty() || !respond->references.front().message_id ||
      !isEntryKey(*respond->references.front().message_id)) {
    return invalidArgument("RespondConnection.References[0].MessageID must name the request");
  }
  if (verdict == "Accept" && !respond->cataloged_device) {
    return invalidArgument("RespondConnection.CatalogedDevice is required to Accept");
  }
  const std::string id = *respond->references.front().message_id;
  auto pending = call.store().getEntry(account, kPendingCatalog, id);
  if (!pending.ok()) {
    if (pending.status().code() == StatusCode::kNotFound) {
      return notFound("no connection request " + id + " for " + account);
    }
    return pending.status();
  }
  MESHGATE_ASSIGN_OR_RETURN(nlohmann::json data, entryJson(*pending));
  // Decisions only move forward: pending -> accepted or rejected, accepted -> rejected (a
  // withdrawal). A Result carries no time of its own, so without this an old Accept (or
  // Pending) anyone could have read from the request would bring a rejected device back.
  const std::string state = stringMember(data, "State");
  if (state == "rejected") {
    return failedPrecondition("connection request " + id + " of " + account +
                              " was rejected; the device must ask to connect again");
  }
  if (state == "accepted" && verdict == "Pending") {
    return failedPrecondition("connection request " + id + " of " + account +
                              " was accepted; send Reject to withdraw it");
  }
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  const std::string device_kid = stringMember(data, "DeviceKid");
  MESHGATE_RETURN_IF_ERROR(auditChange(call, "connect-complete", account,
                                       {{"message_id", id},
                                        {"device", device_kid},
                                        {"result", verdict},
                                        {"signed_by", admin_kid}}));
  data["State"] = verdict == "Accept" ? "accepted" : verdict == "Reject" ? "rejected" : "pending";
  data["Result"] = mesh::dareToJson(result);
  data["Completed"] = call.now;
  // The device entry first, then the request's new state: if the second write fails the
  // request still reads "pending" and the administrator's retry writes both again (each put
  // replaces), so the two never disagree in the direction that matters (a device shown
  // accepted whose key is not authorized).
  if (verdict == "Accept") {
    nlohmann::json device = {{"DeviceKid", device_kid},
                             {"DeviceKey", stringMember(data, "DeviceKey")},
                             {"CatalogedDevice", model::toJson(*respond->cataloged_device)},
                             {"Result", mesh::dareToJson(result)},
                             {"Accepted", call.now}};
    CatalogEntry entry{account, std::string(kDevicesCatalog), device_kid, model::dumpJson(device),
                       call.now, 0};
    auto put_device = call.store().putEntry(entry, std::nullopt);
    if (!put_device.ok()) {
      auditFailed(call, "connect-complete", account, put_device.status());
      return put_device.status();
    }
  }
  if (verdict == "Reject" && !device_kid.empty()) {
    // A later Reject withdraws an earlier Accept: the key no longer speaks for the account.
    Status removed = call.store().deleteEntry(account, kDevicesCatalog, device_kid);
    if (!removed.ok() && removed.code() != StatusCode::kNotFound) {
      auditFailed(call, "connect-complete", account, removed);
      return removed;
    }
  }
  CatalogEntry updated{account, std::string(kPendingCatalog), id, model::dumpJson(data), call.now, 0};
  auto put = call.store().putEntry(updated, std::nullopt);
  if (!put.ok()) {
    auditFailed(call, "connect-complete", account, put.status());
    return put.status();
  }
  log::info("mesh: connection request %s for %s: %s (signed by %s)", log::sanitize(id).c_str(),
            account.c_str(), verdict.c_str(), admin_kid.c_str());
  return model::toJson(model::ConnectCompleteResponse{});
}

}  // namespace meshgate::meshsvc
