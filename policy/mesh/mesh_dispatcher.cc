// mesh_dispatcher.cc - see mesh_dispatcher.h: parsing, authentication, the response envelope,
// and the checks every handler shares. The handlers are in mesh_tx_*.cc.
#include "policy/mesh/mesh_dispatcher.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "policy/mesh/dispatcher_internal.h"
#include "policy/mesh/status_table.h"

namespace meshgate::meshsvc {

// ---- settings -------------------------------------------------------------------------------

Result<std::shared_ptr<const DispatcherSettings>> makeDispatcherSettings(
    std::shared_ptr<const config::Config> config) {
  auto s = std::make_shared<DispatcherSettings>();
  const auto& m = config->mesh_service;
  s->service_name = toLowerAscii(m.service_name);
  s->replay_window_seconds =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(m.replay_window).count());
  s->max_body_bytes = m.max_body_bytes;
  for (const std::string& path : m.admin_keys) {
    auto key = mesh::loadPublicKeyFile(path);
    if (!key.ok()) return key.status().withContext("mesh_service.admin_keys");
    if (!mesh::isSignatureKey(key->type())) {
      return invalidArgument("mesh_service.admin_keys: " + path + " is a " +
                             std::string(mesh::keyTypeName(key->type())) +
                             " key; administrators sign requests (Ed25519 or Ed448)");
    }
    s->admin_keys.push_back(*key);
  }
  s->config = std::move(config);
  return std::shared_ptr<const DispatcherSettings>(std::move(s));
}

// ---- helpers shared by the handlers ----------------------------------------------------------

model::DateTime toDateTime(int64_t seconds) { return model::DateTime(std::chrono::seconds(seconds)); }
int64_t toSeconds(model::DateTime t) { return t.time_since_epoch().count(); }

bool isCatalogName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool isEntryKey(std::string_view key) {
  if (key.empty() || key.size() > 256) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c <= '~'; });
}

Result<std::string> localAccountAddress(const Call& call, const std::optional<std::string>& value,
                                        std::string_view field) {
  if (!value || value->empty()) return invalidArgument(std::string(field) + " is required");
  std::string a = toLowerAscii(*value);
  auto at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size() || a.size() > 320 ||
      std::any_of(a.begin(), a.end(), [](char c) { return c <= ' ' || c > '~'; })) {
    return invalidArgument(std::string(field) + ": not an address");
  }
  if (!call.config().isLocalDomain(a.substr(at + 1))) {
    return notFound(std::string(field) + ": not an account of this service (its domain is not "
                                         "a local domain)");
  }
  return a;
}

Status requireSigned(Call& call, std::string_view transaction) {
  if (call.isSigned()) return Status();
  return unauthenticated(std::string(transaction) +
                         " must be a signed request (a DARE envelope signed by a key authorized "
                         "for the account, with a nonce and a timestamp)");
}

Status requireAdmin(Call& call) {
  MESHGATE_RETURN_IF_ERROR(requireSigned(call, "this request"));
  for (const auto& signer : call.signed_request->signers) {
    if (containsKey(call.settings.admin_keys, signer)) {
      call.principal = "admin:" + signer.kid();
      return Status();
    }
  }
  return unauthenticated("not signed by an administrator key (mesh_service.admin_keys)");
}

Status requireAccount(Call& call, const std::string& account) {
  MESHGATE_RETURN_IF_ERROR(requireSigned(call, "this request"));
  for (const auto& signer : call.signed_request->signers) {
    if (containsKey(call.settings.admin_keys, signer)) {
      call.principal = "admin:" + signer.kid();
      auto exists = call.store().getAccount(account);
      if (!exists.ok()) return exists.status();
      return Status();
    }
  }
  auto record = call.store().getAccount(account);
  if (!record.ok()) {
    // A stranger learns nothing about which accounts exist.
    if (record.status().code() == StatusCode::kNotFound) {
      return unauthenticated("not signed by a key authorized for " + account);
    }
    return record.status();
  }
  auto authority = loadAccountAuthority(call.store(), *record);
  if (!authority.ok()) return authority.status();
  for (const auto& signer : call.signed_request->signers) {
    if (authority->authorizes(signer)) {
      call.principal = "account:" + account + ":" + signer.kid();
      return Status();
    }
  }
  return unauthenticated("not signed by a key authorized for " + account);
}

Status requireAnySigner(Call& call, std::string_view role) {
  MESHGATE_RETURN_IF_ERROR(requireSigned(call, "this request"));
  const auto& signer = call.signed_request->signers.front();
  if (containsKey(call.settings.admin_keys, signer)) {
    call.principal = "admin:" + signer.kid();
  } else {
    call.principal = std::string(role) + ":" + signer.kid();
  }
  return Status();
}

Status consumeNonce(Call& call) {
  if (!call.signed_request || call.nonce_consumed) return Status();
  const auto& meta = call.signed_request->meta;
  // Remembered until the request could no longer pass the timestamp check.
  const int64_t expires = std::max(meta.created, call.now) + call.settings.replay_window_seconds + 1;
  auto fresh = call.store().rememberNonce("mesh:" + meta.unique_id, expires, call.now);
  if (!fresh.ok()) return fresh.status();
  if (!*fresh) return unauthenticated("replayed request (its nonce was seen before)");
  call.nonce_consumed = true;
  return Status();
}

Status auditChange(Call& call, std::string_view action, const std::string& account,
                   const nlohmann::json& detail, std::string_view rule,
                   std::string_view message_id, std::string_view sender) {
  const config::Config& c = call.config();
  if (!c.audit.enabled) return Status();
  AuditRecord r;
  r.time = call.now;
  r.node = c.gateway.node;
  r.kind = "mesh";
  r.message_id = message_id.empty() ? call.nonce() : std::string(message_id);
  r.sender = sender.empty() ? call.principal : std::string(sender);
  r.recipients = account;
  r.rule = rule.empty() ? "mesh." + std::string(action) : std::string(rule);
  r.action = std::string(action);
  nlohmann::json d = detail.is_object() ? detail : nlohmann::json::object();
  if (!call.context.peer.empty()) d["peer"] = call.context.peer;
  if (!call.principal.empty()) d["by"] = call.principal;
  r.detail = model::dumpJson(d);
  auto appended = call.store().appendAudit(r);
  if (appended.ok()) {
    std::lock_guard<std::mutex> lock(call.state.head_mutex);
    if (appended->sequence > call.state.head_sequence) {
      call.state.head_sequence = appended->sequence;
      call.state.head_time = appended->time;
    }
    return Status();
  }
  // A record the store refuses as a value (kInvalidArgument) is a bug upstream, not an outage:
  // audit.on_failure=log must not let the change through unrecorded because of it.
  if (c.audit.on_failure == config::AuditSection::OnFailure::kLog &&
      appended.status().code() != StatusCode::kInvalidArgument) {
    log::error("mesh: audit log append failed: %s (audit.on_failure=log: going on)",
               appended.status().toString().c_str());
    return Status();
  }
  if (appended.status().code() == StatusCode::kInvalidArgument) {
    log::error("mesh: audit record refused by the store: %s; refusing the change",
               appended.status().toString().c_str());
    return internalError("the audit record could not be stored; nothing was changed");
  }
  log::error("mesh: audit log append failed: %s; refusing the change (audit.on_failure=tempfail)",
             appended.status().toString().c_str());
  return unavailable("the audit log cannot be written; nothing was changed, try again later");
}

void auditFailed(Call& call, std::string_view action, const std::string& account,
                 const Status& why) {
  AuditRecord r;
  const config::Config& c = call.config();
  if (!c.audit.enabled) return;
  r.time = call.now;
  r.node = c.gateway.node;
  r.kind = "mesh";
  r.message_id = call.nonce();
  r.sender = call.principal;
  r.recipients = account;
  r.rule = "mesh." + std::string(action);
  r.action = "failed";
  r.detail = model::dumpJson({{"error", why.toString()}});
  auto appended = call.store().appendAudit(r);
  if (!appended.ok()) {
    log::error("mesh: %s for %s failed (%s) and the audit record of the failure could not be "
               "written: %s",
               std::string(action).c_str(), log::sanitize(account).c_str(),
               why.toString().c_str(), appended.status().toString().c_str());
  }
}

// ---- paging ---------------------------------------------------------------------------------

Result<EntryQuery> entryQueryFrom(const std::optional<model::SearchConstraints>& constraints) {
  EntryQuery q;
  if (!constraints) return q;
  const auto& c = *constraints;
  if (c.max_entries) {
    if (*c.max_entries <= 0) return invalidArgument("SearchConstraints.MaxEntries must be positive");
    q.max_entries = static_cast<int>(std::min<int64_t>(*c.max_entries, 1000));
  }
  if (c.max_bytes) {
    if (*c.max_bytes <= 0) return invalidArgument("SearchConstraints.MaxBytes must be positive");
    q.max_bytes = std::min<int64_t>(*c.max_bytes, 16 << 20);
  }
  if (c.page_key && !c.page_key->empty()) {
    // Seed 3.4.2: with a page key every other constraint but MaxEntries/MaxBytes is ignored;
    // meshgate's page key carries the original time window, so the next page keeps it.
    auto raw = base64UrlDecode(*c.page_key);
    if (!raw.ok()) return invalidArgument("SearchConstraints.PageKey: malformed");
    auto json = model::parseJsonText(toString(*raw), {.max_bytes = 1024, .max_depth = 2});
    if (!json.ok() || !json->is_object() || !json->contains("k") || !(*json)["k"].is_string()) {
      return invalidArgument("SearchConstraints.PageKey: malformed");
    }
    q.page_key = (*json)["k"].get<std::string>();
    if (json->contains("nb") && (*json)["nb"].is_number_integer()) {
      q.not_before = (*json)["nb"].get<int64_t>();
    }
    if (json->contains("b") && (*json)["b"].is_number_integer()) {
      q.before = (*json)["b"].get<int64_t>();
    }
    return q;
  }
  if (c.not_before) q.not_before = toSeconds(*c.not_before);
  if (c.before) q.before = toSeconds(*c.before);
  return q;
}

std::string meshPageKey(const EntryQuery& query, const std::string& store_page_key) {
  if (store_page_key.empty()) return {};
  nlohmann::json j = {{"k", store_page_key}};
  if (query.not_before) j["nb"] = *query.not_before;
  if (query.before) j["b"] = *query.before;
  return base64UrlEncode(asBytes(model::dumpJson(j)));
}

// ---- dispatch -------------------------------------------------------------------------------

namespace {

// The window a signed request Created at `created` is held to.
int64_t replayWindowFor(const DispatcherSettings& s, int64_t created) {
  if (created < s.narrower_until)
    return std::min(s.replay_window_seconds, s.narrower_window_seconds);
  return s.replay_window_seconds;
}

// "CreateRequest" -> "CreateResponse" when that is a response type of the schema.
std::string responseTypeFor(std::string_view request_type) {
  constexpr std::string_view kSuffix = "Request";
  if (request_type.size() > kSuffix.size() && request_type.ends_with(kSuffix)) {
    std::string name(request_type.substr(0, request_type.size() - kSuffix.size()));
    name += "Response";
    auto id = model::typeIdFromName(name);
    if (id && model::inheritsFrom(*id, model::TypeId::kMeshResponse)) return name;
  }
  return "MeshResponse";
}

struct Peek {
  std::string nonce;
  std::string type;
};

// What an envelope's metadata claims, before anything is verified: only to bind the error
// response to the nonce and name its type. Never used for a decision.
Peek peekMetadata(const mesh::DareEnvelope& env) {
  Peek p;
  if (!env.header.content_meta_data) return p;
  auto json = model::parseJsonText(toString(*env.header.content_meta_data),
                                   {.max_bytes = 16 * 1024, .max_depth = 8});
  if (!json.ok() || !json->is_object()) return p;
  auto id = json->find("UniqueId");
  if (id != json->end() && id->is_string() && isAcceptableNonce(id->get<std::string>())) {
    p.nonce = id->get<std::string>();
  }
  auto type = json->find("MessageType");
  if (type != json->end() && type->is_string()) p.type = type->get<std::string>();
  return p;
}

class Responder {
 public:
  Responder(const DispatcherEnv& env, int64_t now) : env_(env), now_(now) {}

  DispatchResult plain(const Status& error, std::string transaction = "") const {
    logServerError(transaction, error);
    DispatchResult r;
    r.status = meshStatusFor(error.code()).status;
    r.body = model::dumpJson(meshErrorBody(error));
    r.transaction = std::move(transaction);
    return r;
  }

  // `object` already holds the response members; Status is set here.
  DispatchResult respond(const std::string& request_type, nlohmann::json object,
                         const Status& status, const std::string& nonce) const {
    const std::string type = responseTypeFor(request_type);
    logServerError(request_type, status);
    if (!object.is_object()) object = nlohmann::json::object();
    setMeshStatus(object, status);
    DispatchResult r;
    r.status = meshStatusFor(status.code()).status;
    r.transaction = request_type;
    nlohmann::json wrapped = {{type, std::move(object)}};
    std::string text = model::dumpJson(wrapped);
    if (nonce.empty()) {
      r.body = std::move(text);
      return r;
    }
    auto key = env_.service_key ? env_.service_key() : nullptr;
    if (!key) {
      log::error("%s", "mesh: no service key to sign the response with");
      return plain(unavailable("the service key is not loaded"), request_type);
    }
    auto sealed = sealResponse(text, {newNonce(), type, now_, nonce}, *key);
    if (!sealed.ok()) {
      log::error("mesh: cannot sign the response: %s", sealed.status().toString().c_str());
      return plain(internalError("cannot sign the response"), request_type);
    }
    r.body = mesh::serializeDareEnvelope(*sealed);
    return r;
  }

 private:
  // The client may get only "Internal error" (status_table.h); the operator gets the reason.
  static void logServerError(std::string_view transaction, const Status& status) {
    if (meshStatusFor(status.code()).status < 500) return;
    log::error("mesh: %s: %s", transaction.empty() ? "(no transaction)" : std::string(transaction).c_str(),
               log::sanitize(status.toString()).c_str());
  }

  const DispatcherEnv& env_;
  int64_t now_;
};

template <typename T>
Result<nlohmann::json> call(Result<nlohmann::json> (*handler)(Call&, const T&), Call& c,
                            const model::AnyMessage& message) {
  const T* request = message.get<T>();
  if (request == nullptr) return internalError("dispatch: type mismatch");
  return handler(c, *request);
}

Result<nlohmann::json> route(Call& c, const model::AnyMessage& m) {
  using model::TypeId;
  switch (m.type()) {
    case TypeId::kHelloRequest: return call(handleHello, c, m);
    case TypeId::kValidateRequest: return call(handleValidate, c, m);
    case TypeId::kCreateRequest: return call(handleCreate, c, m);
    case TypeId::kDeleteRequest: return call(handleDelete, c, m);
    case TypeId::kGetRequest: return call(handleGet, c, m);
    case TypeId::kPublishRequest: return call(handlePublish, c, m);
    case TypeId::kStatusRequest: return call(handleStatus, c, m);
    case TypeId::kConnectStartRequest: return call(handleConnectStart, c, m);
    case TypeId::kConnectStatusRequest: return call(handleConnectStatus, c, m);
    case TypeId::kConnectPendingRequest: return call(handleConnectPending, c, m);
    case TypeId::kConnectCompleteRequest: return call(handleConnectComplete, c, m);
    case TypeId::kTransferRequest: return call(handleTransfer, c, m);
    case TypeId::kPostRequest: return call(handlePost, c, m);
    default:
      return invalidArgument("unknown transaction " + std::string(m.typeName()));
  }
}

DispatchResult dispatchBody(const DispatcherEnv& env, const DispatcherSettings& settings,
                            MeshDispatcher::State& state, std::string_view body,
                            const RequestContext& context, int64_t now) {
  Responder responder(env, now);
  const model::ParseLimits limits{.max_bytes = settings.max_body_bytes, .max_depth = 64};
  auto json = model::parseJsonText(body, limits);
  if (!json.ok()) {
    // Too deep is malformed input (400); only a body over the size limit is 413.
    if (json.status().code() == StatusCode::kResourceExhausted && body.size() <= limits.max_bytes) {
      return responder.plain(invalidArgument(json.status().message()));
    }
    return responder.plain(json.status());
  }
  if (!json->is_object() || json->size() != 1) {
    return responder.plain(invalidArgument(
        "a request is one JSON object wrapped by its type name, e.g. {\"HelloRequest\":{}}"));
  }
  Call c(settings, env, state, context, now);
  model::AnyMessage message;
  std::string nonce;
  if (json->begin().key() == "DareEnvelope") {
    auto envelope = mesh::dareFromJson(json->begin().value());
    if (!envelope.ok()) {
      return responder.plain(invalidArgument("malformed DARE envelope: " +
                                             envelope.status().message()));
    }
    Peek peek = peekMetadata(*envelope);
    nonce = peek.nonce;
    auto opened = openRequest(*envelope, limits);
    if (!opened.ok()) {
      return responder.respond(peek.type, nlohmann::json::object(), opened.status(), nonce);
    }
    c.signed_request = std::move(opened).value();
    message = c.signed_request->message;
  } else {
    auto decoded = model::fromTaggedJson(*json);
    if (!decoded.ok()) return responder.plain(decoded.status());
    message = std::move(decoded).value();
  }
  const std::string type(message.typeName());
  const auto* request = message.get<model::MeshRequest>();
  if (request == nullptr) {
    return responder.respond(type, nlohmann::json::object(),
                             invalidArgument(type + " is not a Mesh service request"), nonce);
  }
  if (c.signed_request) {
    // Bound to this service: a request signed for another service is not replayable here.
    if (!request->portal || toLowerAscii(*request->portal) != settings.service_name) {
      return responder.respond(
          type, nlohmann::json::object(),
          unauthenticated("a signed request must name this service (" + settings.service_name +
                          ") in Portal"),
          nonce);
    }
    const int64_t created = c.signed_request->meta.created;
    const int64_t window = replayWindowFor(settings, created);
    if (created > now + window || created < now - window) {
      return responder.respond(
          type, nlohmann::json::object(),
          unauthenticated("request timestamp (Created) is outside the "
                          "accepted window of " +
                          std::to_string(window) + " s; check the client's clock"),
          nonce);
    }
  }
  Result<nlohmann::json> result = route(c, message);
  if (result.ok()) {
    if (c.signed_request && !c.nonce_consumed) {
      // A handler that forgot to consume the nonce would make its request replayable.
      log::error("mesh: %s: handler did not consume the nonce", type.c_str());
      return responder.respond(type, nlohmann::json::object(),
                               internalError("request handling incomplete"), nonce);
    }
    return responder.respond(type, std::move(result).value(), Status(), nonce);
  }
  return responder.respond(type, nlohmann::json::object(), result.status(), nonce);
}

}  // namespace

MeshDispatcher::MeshDispatcher(DispatcherEnv env)
    : env_(std::move(env)), state_(std::make_unique<State>()) {}

MeshDispatcher::~MeshDispatcher() = default;

namespace {

// The replay window the store says was last in force (0 when none is recorded or the store
// cannot say: a failure here must not stop the service from starting).
int64_t recordedReplayWindow(Store* store) {
  if (store == nullptr) return 0;
  auto e = store->getEntry("", kServiceStateCatalog, kReplayWindowKey);
  if (!e.ok()) {
    if (e.status().code() != StatusCode::kNotFound) {
      log::warning("mesh: cannot read the replay window last in force: %s",
                   e.status().toString().c_str());
    }
    return 0;
  }
  int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(e->data.data(), e->data.data() + e->data.size(), seconds);
  return ec == std::errc() && end == e->data.data() + e->data.size() ? seconds : 0;
}

void recordReplayWindow(Store* store, int64_t seconds, int64_t now) {
  if (store == nullptr) return;
  CatalogEntry e{"",
                 std::string(kServiceStateCatalog),
                 std::string(kReplayWindowKey),
                 std::to_string(seconds),
                 now,
                 0};
  auto put = store->putEntry(e, std::nullopt);
  if (!put.ok()) {
    log::warning("mesh: cannot record the replay window in force: %s",
                 put.status().toString().c_str());
  }
}

}  // namespace

void MeshDispatcher::setSettings(std::shared_ptr<const DispatcherSettings> settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!settings) {
    settings_ = nullptr;
    return;
  }
  const int64_t now = env_.clock->now();
  const int64_t recorded = recordedReplayWindow(env_.store);
  // The settings before: those in force, or at start the last run's, as far as the window goes.
  std::shared_ptr<const DispatcherSettings> before = settings_;
  if (!before && recorded > 0) {
    auto last_run = std::make_shared<DispatcherSettings>(*settings);
    last_run->replay_window_seconds = recorded;
    before = std::move(last_run);
  }
  auto s = std::make_shared<DispatcherSettings>(*settings);
  if (before) {
    const DispatcherSettings& old = *before;
    // A narrower window still in force (some request it covers could yet pass the new window)
    // is kept; a raise adds the old window, up to the last Created it could have accepted.
    if (old.narrower_until > 0 && old.narrower_until >= now - s->replay_window_seconds) {
      s->narrower_until = old.narrower_until;
      s->narrower_window_seconds = old.narrower_window_seconds;
    }
    if (s->replay_window_seconds > old.replay_window_seconds) {
      const int64_t until = now + old.replay_window_seconds + 1;
      s->narrower_window_seconds =
          s->narrower_until > 0 ? std::min(s->narrower_window_seconds, old.replay_window_seconds)
                                : old.replay_window_seconds;
      s->narrower_until = std::max(s->narrower_until, until);
    }
  }
  if (recorded != s->replay_window_seconds) {
    recordReplayWindow(env_.store, s->replay_window_seconds, now);
  }
  settings_ = std::move(s);
}

std::shared_ptr<const DispatcherSettings> MeshDispatcher::settings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return settings_;
}

DispatchResult MeshDispatcher::dispatch(std::string_view body,
                                        const RequestContext& context) noexcept {
  try {
    // The time is read before the settings are taken: a request still judged by settings that
    // a reload has just replaced then accepts nothing the new ones' narrower_until misses.
    const int64_t now = env_.clock->now();
    auto s = settings();
    if (!s) {
      DispatchResult r;
      r.status = meshStatusFor(StatusCode::kUnavailable).status;
      r.body = model::dumpJson(meshErrorBody(unavailable("the service is starting")));
      return r;
    }
    return dispatchBody(env_, *s, *state_, body, context, now);
  } catch (const std::exception& e) {
    log::error("mesh: internal error: %s", log::sanitize(e.what()).c_str());
  } catch (...) {
    log::error("%s", "mesh: internal error: unknown exception");
  }
  DispatchResult r;
  try {
    r.status = meshStatusFor(StatusCode::kInternal).status;
    r.body = model::dumpJson(meshErrorBody(internalError("")));
  } catch (...) {
    r.status = 500;
  }
  return r;
}

}  // namespace meshgate::meshsvc
