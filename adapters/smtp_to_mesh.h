// NAME
//   smtp_to_mesh.h - outbound mail for a Mesh recipient, sent end-to-end encrypted to the
//   recipient's Mesh service instead of as cleartext SMTP (issue 7 item 1).
//
// SYNOPSIS
//   SmtpToMeshDelivery mesh({.resolver = resolver, .locator = locator, .transport = client,
//                            .now = [] { return time(nullptr); }});
//   Result<MeshPostResult> r = mesh.deliver({.sender = "alice@example.com",
//                                            .recipient = "bob@example.net",
//                                            .message = original_bytes},
//                                           gateway_key, std::chrono::seconds(30));
//
// DESCRIPTION
//   deliver() for one recipient:
//     1. resolves the recipient's Mesh profile (resolver.h: verified, from the recipient's own
//        service, or the store for a local account);
//     2. wraps the message bytes as they are, unmodified, as the payload of a DARE envelope
//        encrypted to the profile's KeyEncryption and signed (header-bound) by this gateway;
//        the header carries the EnvelopeId (meshEnvelopeId below) and ContentMetaData
//        {"cty":"message/rfc822","Sender":"<envelope sender>"}, both covered by the signature;
//     3. sends {"PostRequest":{"Account":recipient,"Envelopes":[envelope]}}, signed by this
//        gateway (policy/mesh/wire.h), to the recipient domain's Mesh service (the resolver's
//        service locator and TLS checks);
//     4. accepts the answer only if it is signed by the service that countersigned the
//        recipient's profile and answers this very request (nonce), and the envelope is in
//        its Accepted list.
//   Only kDelivered / kAlreadyDelivered mean the recipient's service has the message; the
//   caller removes the SMTP copy only then.
//
//   The EnvelopeId is derived from the sender, the recipient and the message without its
//   trace fields (Received, Return-Path), so a client that retries a deferred message makes
//   the same id: a service that stored it already answers DuplicateEnvelopeId, which counts
//   as delivered, and the receiving gateway delivers an EnvelopeId once.
//
// SECURITY
//   No cleartext fallback happens here: every failure is an error or a kRefused/kNoProfile
//   result, and what to do with it is the egress rule's (cleartext_fallback).
//
// THREAD SAFETY
//   deliver() may be called from any number of threads (resolver, locator and transport are).
//
// ERRORS
//   kUnavailable / kDeadlineExceeded / kUnauthenticated: the profile or the service could not
//   be reached or trusted now (try later). kDataLoss: an answer that does not verify.
//   kInvalidArgument: a message over the limit or an address without a domain.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/mesh/keys.h"
#include "gateway/ports/profile_resolver.h"
#include "gateway/util/status.h"
#include "policy/resolver/mesh_client.h"
#include "policy/resolver/service_locator.h"
#include "policy/runtime.h"

namespace meshgate::adapters {

struct MeshPostRequest {
  std::string sender;     // envelope sender ("" = <>)
  std::string recipient;  // envelope recipient, lower case
  std::string message;    // RFC 5322 bytes, CRLF line ends
};

enum class MeshPostOutcome {
  kDelivered,         // the recipient's service accepted it now
  kAlreadyDelivered,  // it had this EnvelopeId already (a retried message)
  kNoProfile,         // the recipient has no verified Mesh profile (detail: why)
  kLocalAccount,      // a local account: the mail never leaves; SMTP delivers it
  kRefused,           // the recipient's service refused it (detail: its ErrorCode)
  kReachable,         // check() only: a verified profile of another domain; nothing sent
};
std::string_view meshPostOutcomeName(MeshPostOutcome outcome);  // "delivered", ...

struct MeshPostResult {
  MeshPostOutcome outcome = MeshPostOutcome::kNoProfile;
  std::string envelope_id;
  std::string detail;   // the reason (no profile, refused) or the service's URL
};

// The EnvelopeId for a message to a recipient: "MGSM-" + 40 base32 characters of
// HMAC-SHA-512(K, sender NUL recipient NUL message without Received/Return-Path fields), K an
// HMAC of the gateway's private key. The same for a retry of the message (so the recipient's
// service answers DuplicateEnvelopeId, and the copy counts as delivered), and keyed so that no
// one else - a co-recipient holding the same message - can post something else under it first.
Result<std::string> meshEnvelopeId(const mesh::PrivateKey& gateway_key, std::string_view sender,
                                   std::string_view recipient, std::string_view message);

struct SmtpToMeshDeps {
  std::shared_ptr<ProfileResolver> resolver;
  std::shared_ptr<resolver::ServiceLocator> locator;
  std::shared_ptr<resolver::MeshTransport> transport;
  std::function<int64_t()> now;  // Unix seconds: request Created, response freshness
};

class SmtpToMeshDelivery {
 public:
  explicit SmtpToMeshDelivery(SmtpToMeshDeps deps) : deps_(std::move(deps)) {}

  Result<MeshPostResult> deliver(const MeshPostRequest& request,
                                 const mesh::PrivateKey& gateway_key,
                                 std::chrono::milliseconds timeout) const;
  // Step 1 alone: kReachable, kNoProfile or kLocalAccount; sends nothing.
  Result<MeshPostResult> check(std::string_view recipient) const;
  // Steps 1, 3 and 4 for an envelope the caller made (it must carry an EnvelopeId): the Mesh
  // messages `meshgate contacts request|accept` send (RequestContact, ReplyContact).
  Result<MeshPostResult> postEnvelope(std::string_view recipient,
                                      const mesh::DareEnvelope& envelope,
                                      const mesh::PrivateKey& gateway_key,
                                      std::chrono::milliseconds timeout) const;

 private:
  Result<MeshPostResult> post(std::string_view recipient, const ResolvedProfile& profile,
                              const mesh::DareEnvelope& envelope,
                              const mesh::PrivateKey& gateway_key,
                              std::chrono::steady_clock::time_point deadline) const;
  Result<std::shared_ptr<const ResolvedProfile>> resolve(std::string_view recipient,
                                                         MeshPostResult& result) const;

  SmtpToMeshDeps deps_;
};

// The locator and the HTTPS client from the resolver section (CA file and pinned
// certificates are loaded here; errors name them).
Result<SmtpToMeshDeps> smtpToMeshDepsFromConfig(std::shared_ptr<ProfileResolver> resolver,
                                                const config::Config& config,
                                                std::function<int64_t()> now);

// MilterContext::mesh_deliver for a running process: the Runtime's profile resolver, the
// resolver section's service locator and TLS settings (rebuilt after a reload), the gateway
// key, smtp_to_mesh.timeout per recipient.
using MeshDeliverFunction =
    std::function<Result<MeshPostResult>(const MeshPostRequest&, bool resolve_only)>;
MeshDeliverFunction makeMeshDeliverFunction(std::shared_ptr<Runtime> runtime);

}  // namespace meshgate::adapters
