// mesh_tx_service.cc - the service and account transactions: Hello, ValidateAccount,
// CreateAccount, DeleteAccount, Status, Transfer (seed 3.5-3.8, 3.11, 3.16).
#include <algorithm>
#include <charconv>

#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "policy/mesh/account_rules.h"
#include "policy/mesh/dispatcher_internal.h"

namespace meshgate::meshsvc {
namespace {

constexpr int kProtocolMajor = 3;
constexpr int kProtocolMinor = 0;
constexpr int kAuditBatch = 1000;

}  // namespace

Result<nlohmann::json> handleHello(Call& call, const model::HelloRequest&) {
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  model::HelloResponse r;
  model::Version v;
  v.major = kProtocolMajor;
  v.minor = kProtocolMinor;
  model::Encoding json_encoding;
  json_encoding.id.push_back("application/json");
  v.encodings.push_back(std::move(json_encoding));
  v.uri.push_back("https://" + call.settings.service_name + std::string(kWellKnownPath));
  r.version = std::move(v);
  if (call.env.service_profile) r.enveloped_profile_service = call.env.service_profile();
  return model::toJson(r);
}

Result<nlohmann::json> handleValidate(Call& call, const model::ValidateRequest& request) {
  if (!request.account) return invalidArgument("ValidateRequest.Account is required");
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  NameCheck check = checkAccountName(*request.account, call.config());
  model::ValidateResponse r;
  r.minimum = kMinLocalPart;
  r.maximum = kMaxLocalPart;
  if (!check.invalid_characters.empty()) r.invalid_characters = check.invalid_characters;
  if (check.valid) {
    auto existing = call.store().getAccount(check.normalized);
    if (existing.ok()) {
      check.valid = false;
      check.reason = "the account exists already";
    } else if (existing.status().code() != StatusCode::kNotFound) {
      return existing.status();
    }
  }
  r.valid = check.valid;
  if (!check.valid) r.reason = check.reason;
  // Reserve is not honored (the seed lets the service decline): CreateAccount decides.
  return model::toJson(r);
}

Result<nlohmann::json> handleCreate(Call& call, const model::CreateRequest& request) {
  MESHGATE_RETURN_IF_ERROR(requireAdmin(call));
  if (!request.account) return invalidArgument("CreateRequest.Account is required");
  NameCheck check = checkAccountName(*request.account, call.config());
  if (!check.valid) return invalidArgument("CreateRequest.Account: " + check.reason);
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  auto existing = call.store().getAccount(check.normalized);
  if (existing.ok()) return alreadyExists("account " + check.normalized + " exists");
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  MESHGATE_RETURN_IF_ERROR(auditChange(call, "create-account", check.normalized, {}));
  AccountRecord record;
  record.address = check.normalized;
  record.created = record.updated = call.now;
  Status st = call.store().createAccount(record);
  if (!st.ok()) {
    auditFailed(call, "create-account", check.normalized, st);
    return st;
  }
  log::info("mesh: account %s created by %s", record.address.c_str(), call.principal.c_str());
  return model::toJson(model::CreateResponse{});
}

Result<nlohmann::json> handleDelete(Call& call, const model::DeleteRequest& request) {
  MESHGATE_ASSIGN_OR_RETURN(std::string account,
                            localAccountAddress(call, request.account, "DeleteRequest.Account"));
  MESHGATE_RETURN_IF_ERROR(requireAccount(call, account));
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  MESHGATE_RETURN_IF_ERROR(auditChange(call, "delete-account", account, {}));
  Status st = call.store().deleteAccount(account);
  if (!st.ok()) {
    auditFailed(call, "delete-account", account, st);
    return st;
  }
  log::info("mesh: account %s deleted by %s", account.c_str(), call.principal.c_str());
  return model::toJson(model::DeleteResponse{});
}

Result<nlohmann::json> handleStatus(Call& call, const model::StatusRequest&) {
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  model::StatusResponse r;
  auto checkpoint = call.store().latestCheckpoint();
  if (!checkpoint.ok()) return checkpoint.status();
  int64_t from = 1;
  {
    std::lock_guard<std::mutex> lock(call.state.head_mutex);
    from = call.state.head_sequence + 1;
  }
  if (checkpoint->has_value()) {
    const AuditCheckpoint& c = **checkpoint;
    r.last_checkpoint_time = toDateTime(c.time);
    const auto interval = std::chrono::duration_cast<std::chrono::seconds>(
                              call.config().audit.checkpoint_interval)
                              .count();
    r.next_checkpoint_time = toDateTime(c.time + interval);
    r.checkpoint_value = c.signature;
    from = std::max(from, c.sequence);
  }
  // The head: read forward from what is already known (bounded per request; the rest is read
  // by the next Status).
  int64_t head_sequence = 0, head_time = 0;
  for (int batches = 0; batches < 16; ++batches) {
    auto records = call.store().readAudit(from, kAuditBatch);
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    head_sequence = records->back().sequence;
    head_time = records->back().time;
    from = head_sequence + 1;
    if (static_cast<int>(records->size()) < kAuditBatch) break;
  }
  {
    std::lock_guard<std::mutex> lock(call.state.head_mutex);
    if (head_sequence > call.state.head_sequence) {
      call.state.head_sequence = head_sequence;
      call.state.head_time = head_time;
    }
    if (call.state.head_sequence > 0) r.last_write_time = toDateTime(call.state.head_time);
  }
  return model::toJson(r);
}

Result<nlohmann::json> handleTransfer(Call& call, const model::TransferRequest& request) {
  MESHGATE_RETURN_IF_ERROR(requireAdmin(call));
  // The page key is the next sequence number (decimal), so a client may start anywhere.
  int64_t from = 1;
  int max_entries = 100;
  int64_t max_bytes = 1 << 20;
  std::optional<int64_t> not_before, before;
  if (request.search_constraints) {
    const auto& c = *request.search_constraints;
    if (c.max_entries) {
      if (*c.max_entries <= 0) return invalidArgument("SearchConstraints.MaxEntries must be positive");
      max_entries = static_cast<int>(std::min<int64_t>(*c.max_entries, kAuditBatch));
    }
    if (c.max_bytes) {
      if (*c.max_bytes <= 0) return invalidArgument("SearchConstraints.MaxBytes must be positive");
      max_bytes = std::min<int64_t>(*c.max_bytes, 16 << 20);
    }
    if (c.not_before) not_before = toSeconds(*c.not_before);
    if (c.before) before = toSeconds(*c.before);
    if (c.page_key && !c.page_key->empty()) {
      const std::string& k = *c.page_key;
      int64_t sequence = 0;
      auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), sequence);
      if (ec != std::errc() || end != k.data() + k.size() || k.front() == '-' || k.front() == '+') {
        // Not digits, or more than an int64 holds (std::stoll threw: a 500 for bad input).
        return invalidArgument("SearchConstraints.PageKey: a record sequence number is expected");
      }
      from = std::max<int64_t>(1, sequence);
    }
  }
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  model::TransferResponse r;
  int64_t bytes = 0;
  bool more = false;
  // Scans at most a few batches per request; the page key carries on from where it stopped.
  for (int batches = 0; batches < 8 && !more; ++batches) {
    auto records = call.store().readAudit(from, kAuditBatch);
    if (!records.ok()) return records.status();
    for (const AuditRecord& a : *records) {
      from = a.sequence + 1;
      if ((not_before && a.time < *not_before) || (before && a.time >= *before)) continue;
      nlohmann::json j = {{"Sequence", a.sequence}, {"Time", a.time},       {"Node", a.node},
                          {"Kind", a.kind},         {"MessageId", a.message_id},
                          {"QueueId", a.queue_id},  {"Sender", a.sender},   {"Recipients", a.recipients},
                          {"Rule", a.rule},         {"Action", a.action},   {"Signals", a.signals},
                          {"Detail", a.detail},     {"PrevHash", a.prev_hash}, {"Hash", a.hash}};
      std::string text = model::dumpJson(j);
      if (!r.data_items.empty() &&
          (static_cast<int>(r.data_items.size()) >= max_entries ||
           bytes + static_cast<int64_t>(text.size()) > max_bytes)) {
        from = a.sequence;
        more = true;
        break;
      }
      bytes += static_cast<int64_t>(text.size());
      model::DataItem item;
      item.key = std::to_string(a.sequence);
      item.updated = toDateTime(a.time);
      item.data = toBytes(text);
      r.data_items.push_back(std::move(item));
    }
    if (static_cast<int>(records->size()) < kAuditBatch) break;
    if (!more && batches == 7) more = true;  // scanned enough for one request
  }
  if (more) r.page_key = std::to_string(from);
  return model::toJson(r);
}

}  // namespace meshgate::meshsvc
