// NAME
//   mesh_dispatcher.h - the Mesh service's transactions: one request body in, one response
//   body (and its status) out. No sockets: the HTTPS front-end (mesh_http_server.h), the fuzz
//   target and the tests call it the same way.
//
// SYNOPSIS
//   MeshDispatcher d(env);
//   d.setSettings(*makeDispatcherSettings(config));      // at start and on every reload
//   DispatchResult r = d.dispatch(body, {.peer = "192.0.2.7"});
//   // r.status is the MeshResponse Status, also the HTTP status; r.body the JSON to send
//
// DESCRIPTION
//   The body is JSON: either a plain request wrapped by its type name ({"HelloRequest":{}}) or
//   a signed request, {"DareEnvelope":[...]} whose payload is the request (wire.h). The type
//   tag names the transaction (seed section 3, plus meshgate's Post):
//
//     transaction       signed?   who may                       changes
//     Hello             optional  anyone                        -
//     ValidateAccount   optional  anyone                        -
//     Get (Account,     optional  anyone (profiles are public   -
//       Identifier)               and signed by their owners)
//     Status            optional  anyone                        -
//     Get (KeyValues)   required  the account or an admin       -
//     CreateAccount     required  an admin                      account
//     DeleteAccount     required  the account or an admin       account and its catalogs
//     Publish           required  an account (metadata Account) publication
//                                 or an admin
//     ConnectStart      required  the device (any key; its own  pending-connections entry
//                                 request is signed by it)
//     ConnectStatus     required  that device, the account, an  -
//                                 admin
//     ConnectPending    required  the account or an admin       -
//     ConnectComplete   required  the account or an admin; the  pending entry; devices entry
//                                 Result signed by an account
//                                 administration key
//     Transfer          required  an admin                      -
//     Post              required  any sending service (its key  account's "inbound" catalog
//                                 is recorded); each message
//                                 judged by ingress control
//
//   "admin" = a key of mesh_service.admin_keys; "the account" = a key account_authority.h
//   lists for it. A signed request is checked in this order, and the first failure answers:
//   envelope signature (header-bound) -> metadata -> payload type = MessageType -> Portal =
//   this service -> Created within mesh_service.replay_window -> authorization -> nonce unseen
//   (Store::rememberNonce) -> the transaction. So a request that fails authentication writes
//   nothing at all, not even its nonce.
//
//   Every change is recorded in the audit log (kind "mesh") BEFORE it is made; when that
//   append fails and audit.on_failure is tempfail, the request gets 503 and nothing changes.
//   A change that then fails gets a second record with action "failed".
//
//   Responses: a signed request gets a signed response bound to its nonce (wire.h) - also for
//   errors, whenever the nonce could be read; a plain request a plain response. The response
//   type is the request's with "Request" replaced by "Response"; a body that names no
//   transaction gets {"MeshResponse":{...}}. Status codes: status_table.h, the only table.
//
// SECURITY
//   Trusts nothing in the body. Parsing is bounded (mesh_service.max_body_bytes, depth 64).
//   Authorization keys: mesh_service.admin_keys (loaded at start/reload) and the accounts'
//   stored profiles. Post does not trust a message's Sender address: see docs/mesh-service.md
//   ("Post and ingress control").
//
// THREAD SAFETY
//   dispatch() may be called from many threads at once; setSettings() from any thread (the
//   settings are swapped atomically; a request in flight keeps the ones it started with).
//
// ERRORS
//   dispatch() never throws and never returns an error: every failure is a response.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/engine.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::meshsvc {

inline constexpr std::string_view kPublicationsCatalog = "publications";
inline constexpr std::string_view kPendingCatalog = "pending-connections";
inline constexpr std::string_view kInboundCatalog = "inbound";
inline constexpr std::string_view kHeldCatalog = "held";
// Contact requests (RequestContact) waiting for the account's answer (`meshgate contacts
// pending|accept|reject`), keyed by the request's MessageID (its EnvelopeId when it has none).
inline constexpr std::string_view kContactRequestsCatalog = "contact-requests";
// The service's own state in the store (account ""): the replay window last in force, so that
// a restart that raises it knows the window its remembered nonces were kept for.
inline constexpr std::string_view kServiceStateCatalog = "service-state";
inline constexpr std::string_view kReplayWindowKey = "mesh-replay-window";
inline constexpr int kMaxPendingPerAccount = 100;
// A connection request unanswered this long no longer counts toward kMaxPendingPerAccount.
inline constexpr int64_t kPendingLifetimeSeconds = 7 * 24 * 3600;
inline constexpr int kMaxEnvelopesPerPost = 100;
// What others' posts put in an account's held and contact-requests catalogs waits there for a
// decision; past this many a post to them is refused for now (TryLater), so that strangers
// cannot fill the store.
inline constexpr int kMaxWaitingPerAccount = 1000;

struct DispatcherSettings {
  std::shared_ptr<const config::Config> config;  // local domains, node, audit settings
  std::string service_name;
  int64_t replay_window_seconds = 300;
  // Set by setSettings() when a reload raises replay_window: a request Created before
  // `narrower_until` may have been accepted while nonces were remembered for only
  // `narrower_window_seconds`, so it is held to that window (else a replay would pass once
  // its nonce was forgotten). 0 = none.
  int64_t narrower_until = 0;
  int64_t narrower_window_seconds = 0;
  size_t max_body_bytes = 1024 * 1024;
  std::vector<mesh::PublicKey> admin_keys;
};

// Reads mesh_service.admin_keys (public key files). kInvalidArgument/kNotFound naming the file.
Result<std::shared_ptr<const DispatcherSettings>> makeDispatcherSettings(
    std::shared_ptr<const config::Config> config);

// Who a Mesh Message is from, as far as it can be verified.
struct VerifiedSender {
  std::string address;                     // "" when the claimed address could not be verified
  std::optional<std::string> profile_udf;  // the sender's Mesh identity
};
// Verifies that `signer` (the key that signed a message envelope) may speak for `claimed`, an
// address in another domain (the resolver: fetch and verify that address's profile). Errors
// mean "could not decide" (the Post gets 503); "not verified" is an empty address.
using RemoteSenderVerifier =
    std::function<Result<VerifiedSender>(std::string_view claimed, const mesh::PublicKey& signer)>;

struct DispatcherEnv {
  Store* store = nullptr;
  const Clock* clock = nullptr;
  std::function<std::shared_ptr<const policy::DecisionEngine>()> engine;
  std::function<std::shared_ptr<const mesh::PrivateKey>()> service_key;
  // The service's own signed profile (Hello), if there is one.
  std::function<std::optional<mesh::DareEnvelope>()> service_profile;
  // Optional; without it a remote sender's address is never trusted (only its key's identity).
  RemoteSenderVerifier verify_remote_sender;
};

struct RequestContext {
  std::string peer;  // client IP address, for logs and the abuse limits
};

struct DispatchResult {
  int status = 500;         // MeshResponse.Status = HTTP status
  std::string body;         // JSON text
  std::string transaction;  // "CreateRequest", "" when none could be read (for logs)
};

class MeshDispatcher {
 public:
  explicit MeshDispatcher(DispatcherEnv env);
  ~MeshDispatcher();
  MeshDispatcher(const MeshDispatcher&) = delete;
  MeshDispatcher& operator=(const MeshDispatcher&) = delete;

  // Swaps the settings (at start and on reload); see DispatcherSettings::narrower_until.
  void setSettings(std::shared_ptr<const DispatcherSettings> settings);
  std::shared_ptr<const DispatcherSettings> settings() const;

  DispatchResult dispatch(std::string_view body, const RequestContext& context) noexcept;

  // Internal state the transactions share (the audit head, the profile index); opaque here.
  struct State;

 private:
  DispatcherEnv env_;
  mutable std::mutex mutex_;
  std::shared_ptr<const DispatcherSettings> settings_;
  std::unique_ptr<State> state_;
};

}  // namespace meshgate::meshsvc
