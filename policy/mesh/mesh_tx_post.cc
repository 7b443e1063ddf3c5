// mesh_tx_post.cc - Post (meshgate): another service delivers Mesh Messages to a local
// account, subject to that account's contact-catalog ingress control (seed 7.2.1).
//
// Each envelope is judged on its own: it must carry an EnvelopeId and verify (its signer's key
// embedded); the sender's identity is what can be verified about that signer (verifySender
// below); DecisionEngine::onRecipient(protocol "mesh") decides as it does for SMTP. Accepted
// envelopes are stored in the account's "inbound" catalog (first contacts held by
// quarantine-unknown in "held") keyed by EnvelopeId, so a retried Post stores nothing twice; a
// refused envelope gets a MessageError (ErrorCode "ContactRequired" when the account accepts
// only its contacts). A decision is not an error: the Post itself succeeds (201) with
// Accepted/Rejected/Errors. An error (the store or the engine cannot decide) answers the
// whole Post with its Status; envelopes stored before it stay stored, and the retry finds them.
#include "gateway/mesh/crypto.h"
#include "gateway/policy/decision.h"
#include "gateway/policy/quarantine_confirmation.h"
#include "gateway/ports/deadline.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "policy/mesh/dispatcher_internal.h"

namespace meshgate::meshsvc {
namespace {

struct Outcome {
  bool accepted = false;
  std::string envelope_id;
  model::MessageError error;  // when !accepted
};

Outcome refuse(std::string id, std::string code, const std::optional<std::string>& message_id,
               const std::string& account) {
  Outcome o;
  o.envelope_id = std::move(id);
  o.error.error_code = std::move(code);
  o.error.recipient = account;
  if (message_id) {
    model::Reference ref;
    ref.message_id = *message_id;
    ref.relationship = "Reject";
    o.error.references.push_back(std::move(ref));
  }
  return o;
}

// Who the message is from, as far as the signer's key proves it:
//  - always its Mesh identity: the profile fingerprint of the signing key (the key is its own
//    proof; contacts anchored "udf:MB..." match it);
//  - the claimed Sender address only when that address's profile lists the key: a local
//    account's from the store, another domain's through verify_remote_sender (the resolver).
//    An unverified address is NOT given to ingress control, which then sees a first contact.
Result<VerifiedSender> verifySender(Call& call, const std::string& claimed,
                                    const mesh::PublicKey& signer) {
  VerifiedSender v;
  std::vector<mesh::PublicKey> root{signer};
  auto self = mesh::profileFingerprint(root);
  if (self.ok()) v.profile_udf = *self;
  if (claimed.empty()) return v;
  const std::string address = toLowerAscii(claimed);
  const std::string domain = addressDomain(address);
  if (domain.empty()) return v;
  if (call.config().isLocalDomain(domain)) {
    auto record = call.store().getAccount(address);
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) return v;
      return record.status();
    }
    auto authority = loadAccountAuthority(call.store(), *record);
    if (!authority.ok()) return authority.status();
    if (authority->authorizes(signer)) {
      v.address = address;
      if (!record->profile_udf.empty()) v.profile_udf = record->profile_udf;
    }
    return v;
  }
  if (call.env.verify_remote_sender) {
    auto remote = call.env.verify_remote_sender(address, signer);
    if (!remote.ok()) return remote.status();
    if (!remote->address.empty()) {
      v.address = remote->address;
      if (remote->profile_udf) v.profile_udf = remote->profile_udf;
    }
  }
  return v;
}

// At most an address's length (RFC 5321: 254 for the path; some slack for a display form),
// without control characters. Empty (no sender claimed) is fine.
bool isPlausibleSenderText(std::string_view text) {
  return text.size() <= 512 && !hasControlCharacter(text);
}

// A post that would add to `catalog` of `account` once it holds kMaxWaitingPerAccount entries
// is refused for now: TryLater, audited and logged under `rule`. nullopt when there is room.
Result<std::optional<Outcome>> refuseWhenFull(Call& call, const std::string& account,
                                              std::string_view catalog, std::string_view rule,
                                              const nlohmann::json& detail, const std::string& id,
                                              const std::string& sender,
                                              const std::optional<std::string>& message_id) {
  MESHGATE_ASSIGN_OR_RETURN(int64_t n,
                            call.store().countEntries(account, catalog, kMaxWaitingPerAccount));
  if (n < kMaxWaitingPerAccount) return std::optional<Outcome>();
  MESHGATE_RETURN_IF_ERROR(auditChange(call, "tempfail", account, detail, rule, id, sender));
  // The line names the way out: the administrator answers (or clears) what waits.
  const std::string fix = catalog == kContactRequestsCatalog
                              ? "meshgate contacts pending --account " + account +
                                    ", or meshgate contacts reject --account " + account +
                                    " --received-before 30d"
                              : "meshgate quarantine mesh list --account " + account;
  log::warning(
      "mesh: post %s from=<%s> to=<%s> action=tempfail rule=%s (%d entries of %s "
      "await a decision; see %s)",
      log::sanitize(id).c_str(), log::sanitize(sender).c_str(), account.c_str(),
      std::string(rule).c_str(), kMaxWaitingPerAccount, std::string(catalog).c_str(), fix.c_str());
  return std::optional<Outcome>(refuse(id, "TryLater", message_id, account));
}

std::string errorCodeFor(const policy::RecipientDecision& d) {
  if (d.verdict == policy::Verdict::kTempfail) return "TryLater";
  if (d.rule == "ingress.contacts-only") return "ContactRequired";
  return "Refused";
}

// The quarantine ID a ResponseConfirmation answers: its first reference, else the MessageID
// of the RequestConfirmation it carries.
std::string confirmedId(const model::ResponseConfirmation& response) {
  for (const auto& ref : response.references) {
    if (ref.message_id && !ref.message_id->empty()) return *ref.message_id;
  }
  if (response.request) {
    auto request = model::parseMessage(toString(response.request->payload));
    if (request.ok()) {
      if (const auto* m = request->get<model::Message>(); m && m->message_id) return *m->message_id;
    }
  }
  return "";
}

// The account itself (a key its profile or devices authorize) answers for a message held for
// it (seed 7.2.3: confirmation of payment requests): Accept records the confirmation, as the
// quarantine page does, and `meshgate quarantine release-confirmed` releases it; a refusal is
// recorded and the message stays with the administrator.
Result<Outcome> confirmHeld(Call& call, const std::string& account, const std::string& id,
                            const model::ResponseConfirmation& response,
                            const std::optional<std::string>& message_id) {
  const std::string held = confirmedId(response);
  auto record = held.empty() ? Result<QuarantineRecord>(notFound("no reference"))
                             : call.store().getQuarantine(held);
  if (!record.ok()) {
    if (record.status().code() != StatusCode::kNotFound) return record.status();
    return refuse(id, "UnknownConfirmation", message_id, account);
  }
  const bool accept = response.accept.value_or(false);
  if (accept && !policy::recipientMayConfirm(*record, account)) {
    log::info("mesh: post %s: refused confirmation of %s by <%s>: state %s, reason \"%s\"",
              log::sanitize(id).c_str(), log::sanitize(held).c_str(), account.c_str(),
              record->state.c_str(), log::sanitize(record->reason).c_str());
    return refuse(id, "NotConfirmable", message_id, account);
  }
  nlohmann::json detail = {{"envelope_id", id}, {"quarantine_id", held}, {"via", "mesh"}};
  const char* action = accept ? "confirm" : "decline";
  MESHGATE_RETURN_IF_ERROR(auditChange(call, action, account, detail, "quarantine.confirm",
                                       record->message_id, record->sender));
  if (accept) {
    Status st = call.store().confirmQuarantine(held, account, call.now);
    if (!st.ok()) {
      auditFailed(call, action, account, st);
      return st;
    }
  }
  log::info("quarantine: %s: %s by <%s> (Mesh ResponseConfirmation %s)%s",
            log::sanitize(held).c_str(), accept ? "confirmed" : "declined", account.c_str(),
            log::sanitize(id).c_str(),
            accept ? "; release with meshgate quarantine release-confirmed" : "");
  Outcome o;
  o.accepted = true;
  o.envelope_id = id;
  return o;
}

Result<Outcome> postOne(Call& call, const policy::DecisionEngine& engine,
                        const std::string& account, const mesh::DareEnvelope& env, size_t index) {
  const std::string fallback_id = "#" + std::to_string(index);
  if (!env.header.envelope_id || !isEntryKey(*env.header.envelope_id)) {
    return refuse(fallback_id, "InvalidEnvelope", std::nullopt, account);
  }
  const std::string id = *env.header.envelope_id;
  if (!env.trailer || !env.trailer->signatures || env.trailer->signatures->empty()) {
    return refuse(id, "NotSigned", std::nullopt, account);
  }
  mesh::DareVerifyOptions options;
  options.allow_embedded_keys = true;
  auto checks = mesh::verifyDare(env, {}, options);
  if (!checks.ok()) return refuse(id, "BadSignature", std::nullopt, account);
  std::optional<mesh::PublicKey> signer;
  for (const auto& s : *env.trailer->signatures) {
    if (!s.signature_key) continue;
    auto k = mesh::publicKeyFromDareKey(*s.signature_key);
    if (k.ok()) {
      signer = *k;
      break;
    }
  }
  if (!signer) return refuse(id, "NotSigned", std::nullopt, account);

  std::string claimed;
  std::optional<std::string> message_id;
  bool contact_request = false;
  bool bridged_mail = false;  // encrypted mail another gateway bridged from SMTP
  model::AnyMessage parsed;
  if (!env.header.enc) {
    auto message = model::parseMessage(toString(env.payload));
    const model::Message* m = message.ok() ? message->get<model::Message>() : nullptr;
    if (m == nullptr) return refuse(id, "InvalidMessage", std::nullopt, account);
    claimed = m->sender.value_or("");
    message_id = m->message_id;
    contact_request = message->type() == model::TypeId::kRequestContact;
    parsed = std::move(message).value();
  } else if (env.header.content_meta_data) {
    auto content_type = mesh::dareContentType(env.header);
    bridged_mail = content_type.ok() && *content_type && **content_type == "message/rfc822";
    // End-to-end encrypted: the service cannot read the message; the sender may say who it is
    // in the (signed, header-bound) metadata.
    auto meta = model::parseJsonText(toString(*env.header.content_meta_data),
                                     {.max_bytes = 16 * 1024, .max_depth = 8});
    if (meta.ok() && meta->is_object() && meta->contains("Sender") && (*meta)["Sender"].is_string()) {
      claimed = (*meta)["Sender"].get<std::string>();
    }
  }

  // The claimed sender goes into the audit log, the catalogs and log lines as text: an
  // address, not control bytes (a NUL would make every record of it unstorable).
  if (!isPlausibleSenderText(claimed)) return refuse(id, "InvalidMessage", message_id, account);

  const std::string digest = hexEncode(mesh::sha512(asBytes(model::dumpJson(mesh::dareToJson(env)))));
  for (std::string_view catalog : {kInboundCatalog, kHeldCatalog}) {
    auto existing = call.store().getEntry(account, catalog, id);
    if (existing.ok()) {
      auto data = model::parseJsonText(existing->data);
      if (data.ok() && data->is_object() && data->contains("Digest") &&
          (*data)["Digest"] == digest) {
        Outcome o;  // a retry of an envelope already delivered: not stored twice
        o.accepted = true;
        o.envelope_id = id;
        return o;
      }
      return refuse(id, "DuplicateEnvelopeId", message_id, account);
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  }

  MESHGATE_ASSIGN_OR_RETURN(VerifiedSender sender, verifySender(call, claimed, *signer));
  if (const auto* response = parsed.get<model::ResponseConfirmation>();
      response != nullptr && sender.address == account) {
    return confirmHeld(call, account, id, *response, message_id);
  }
  policy::MessageRequest req;
  req.front_end = "mesh";
  // Mail a gateway bridged from SMTP (message/rfc822) is mail: a contact allowed to reach the
  // account by smtp may reach it this way too. Everything else is a Mesh message.
  req.protocol = bridged_mail ? "smtp" : "mesh";
  req.client.address = call.context.peer;
  req.message_id = message_id.value_or(id);
  req.sender = sender.address;
  req.mesh_sender_udf = sender.profile_udf;
  req.recipients = {account};
  // The abuse limits (per client address, sender, sender domain) count each envelope as the
  // milter counts a message, contact requests included: without them anyone could fill an
  // account's catalogs. A refusal there decides, as at SMTP's MAIL FROM.
  auto sender_decision = engine.onSender(req);
  if (!sender_decision.ok()) return sender_decision.status();
  policy::RecipientDecision d;
  if (sender_decision->verdict == policy::Verdict::kReject ||
      sender_decision->verdict == policy::Verdict::kTempfail) {
    d.recipient = account;
    d.verdict = sender_decision->verdict;
    d.rule = sender_decision->rule;
    d.reply = sender_decision->reply;
  } else {
    auto decision = engine.onRecipient(req, account);
    if (!decision.ok()) return decision.status();
    d = std::move(*decision);
    // A hold decided for the sender (an abuse limit with action hold) holds what the
    // recipient's ingress control lets through, as the milter holds at end of message.
    if (sender_decision->verdict == policy::Verdict::kHold &&
        d.verdict == policy::Verdict::kAccept) {
      d.verdict = policy::Verdict::kHold;
      d.rule = sender_decision->rule;
    }
  }
  nlohmann::json detail = {{"envelope_id", id},
                           {"claimed_sender", claimed},
                           {"sender_udf", sender.profile_udf.value_or("")},
                           {"signer", signer->kid()},
                           {"contact", std::string(policy::contactStatusName(d.contact))}};
  const std::string audited_sender = sender.address.empty() ? claimed : sender.address;
  if (contact_request) {
    // A contact request is how a stranger asks to become a contact (the text of a
    // contacts-only refusal says so): ingress control does not stop it, the account's answer
    // does. It waits in contact-requests; where ingress control lets the sender through, it is
    // also delivered (inbound) so that the account sees it as mail. Abuse limits and errors
    // still stop it.
    const bool ingress_only = d.rule.rfind("ingress.", 0) == 0 || d.rule.empty();
    if ((d.verdict == policy::Verdict::kReject || d.verdict == policy::Verdict::kTempfail) &&
        !ingress_only) {
      MESHGATE_RETURN_IF_ERROR(auditChange(call, "reject", account, detail, d.rule, id, audited_sender));
      return refuse(id, errorCodeFor(d), message_id, account);
    }
    const std::string key = message_id && isEntryKey(*message_id) ? *message_id : id;
    auto existing = call.store().getEntry(account, kContactRequestsCatalog, key);
    if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) return existing.status();
    if (!existing.ok()) {
      MESHGATE_ASSIGN_OR_RETURN(auto full, refuseWhenFull(call, account, kContactRequestsCatalog,
                                                          "contacts.requests-full", detail, id,
                                                          audited_sender, message_id));
      if (full) return *std::move(full);
      nlohmann::json pending = {{"EnvelopeId", id},
                                {"MessageId", key},
                                {"Envelope", mesh::dareToJson(env)},
                                {"Sender", sender.address},
                                {"ClaimedSender", claimed},
                                {"SenderUdf", sender.profile_udf.value_or("")},
                                {"Via", call.principal},
                                {"Received", call.now}};
      MESHGATE_RETURN_IF_ERROR(auditChange(call, "contact-request", account, detail, d.rule, id,
                                           audited_sender));
      CatalogEntry entry{account, std::string(kContactRequestsCatalog), key,
                         model::dumpJson(pending), call.now, 0};
      auto put = call.store().putEntry(entry, std::nullopt);
      if (!put.ok()) {
        auditFailed(call, "contact-request", account, put.status());
        return put.status();
      }
      log::info("mesh: post %s from=<%s> to=<%s> action=contact-request pending=%s",
                log::sanitize(id).c_str(), log::sanitize(audited_sender).c_str(), account.c_str(),
                log::sanitize(key).c_str());
    }
    // Refused or held by ingress control: the request waits, nothing is delivered.
    if (d.verdict != policy::Verdict::kAccept || d.contact == policy::ContactStatus::kQuarantined) {
      Outcome o;
      o.accepted = true;
      o.envelope_id = id;
      return o;
    }
  }
  if (d.verdict == policy::Verdict::kReject || d.verdict == policy::Verdict::kTempfail) {
    MESHGATE_RETURN_IF_ERROR(auditChange(call, d.verdict == policy::Verdict::kReject ? "reject" : "tempfail",
                                         account, detail, d.rule, id, audited_sender));
    log::info("mesh: post %s from=<%s> to=<%s> action=%s rule=%s", log::sanitize(id).c_str(),
              log::sanitize(audited_sender).c_str(), account.c_str(),
              std::string(policy::verdictName(d.verdict)).c_str(), d.rule.c_str());
    return refuse(id, errorCodeFor(d), message_id, account);
  }
  Outcome o;
  o.accepted = true;
  o.envelope_id = id;
  if (d.verdict == policy::Verdict::kDiscard) {
    MESHGATE_RETURN_IF_ERROR(auditChange(call, "discard", account, detail, d.rule, id, audited_sender));
    return o;
  }
  const bool held = d.verdict == policy::Verdict::kHold || d.contact == policy::ContactStatus::kQuarantined;
  const std::string action = held ? "hold" : "accept";
  if (held) {
    MESHGATE_ASSIGN_OR_RETURN(
        auto full, refuseWhenFull(call, account, kHeldCatalog, "quarantine.full", detail, id,
                                  audited_sender, message_id));
    if (full) return *std::move(full);
  }
  MESHGATE_RETURN_IF_ERROR(auditChange(call, action, account, detail, d.rule, id, audited_sender));
  nlohmann::json data = {{"EnvelopeId", id},
                         {"Envelope", mesh::dareToJson(env)},
                         {"Digest", digest},
                         {"Sender", sender.address},
                         {"ClaimedSender", claimed},
                         {"SenderUdf", sender.profile_udf.value_or("")},
                         {"Contact", std::string(policy::contactStatusName(d.contact))},
                         {"Rule", d.rule},
                         {"Via", call.principal},
                         {"Received", call.now}};
  CatalogEntry entry{account, std::string(held ? kHeldCatalog : kInboundCatalog), id,
                     model::dumpJson(data), call.now, 0};
  auto put = call.store().putEntry(entry, std::nullopt);
  if (!put.ok()) {
    auditFailed(call, action, account, put.status());
    return put.status();
  }
  log::info("mesh: post %s from=<%s> to=<%s> action=%s rule=%s", log::sanitize(id).c_str(),
            log::sanitize(audited_sender).c_str(), account.c_str(), action.c_str(), d.rule.c_str());
  return o;
}

}  // namespace

Result<nlohmann::json> handlePost(Call& call, const model::PostRequest& request) {
  MESHGATE_RETURN_IF_ERROR(requireAnySigner(call, "service"));
  MESHGATE_ASSIGN_OR_RETURN(std::string account,
                            localAccountAddress(call, request.account, "PostRequest.Account"));
  if (request.envelopes.empty()) return invalidArgument("PostRequest.Envelopes is empty");
  if (static_cast<int>(request.envelopes.size()) > kMaxEnvelopesPerPost) {
    return invalidArgument("PostRequest.Envelopes: at most " +
                           std::to_string(kMaxEnvelopesPerPost) + " per request");
  }
  auto record = call.store().getAccount(account);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kNotFound) return notFound("no account " + account);
    return record.status();
  }
  auto engine = call.env.engine ? call.env.engine() : nullptr;
  if (!engine) return unavailable("the decision engine is not ready");
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  // One budget for the whole Post: each envelope's claimed sender may be looked up at another
  // domain's service (up to resolver.total_timeout each), and a hundred envelopes naming a
  // hundred slow domains held a worker thread for minutes. Past it the Post fails as "could
  // not decide" (the sender retries; envelopes already delivered are recognized then).
  const auto budget_ms = 2 * call.config().resolver.total_timeout;
  DeadlineScope budget(budget_ms);
  model::PostResponse r;
  for (size_t i = 0; i < request.envelopes.size(); ++i) {
    Result<Outcome> one = postOne(call, *engine, account, request.envelopes[i], i);
    if (!one.ok() && one.status().code() == StatusCode::kDeadlineExceeded) {
      return unavailable("PostRequest: not every envelope could be decided within " +
                         std::to_string(budget_ms.count()) +
                         " ms (senders' services were slow); send it again later");
    }
    MESHGATE_ASSIGN_OR_RETURN(Outcome o, std::move(one));
    if (o.accepted) {
      r.accepted.push_back(o.envelope_id);
    } else {
      r.rejected.push_back(o.envelope_id);
      r.errors.push_back(std::move(o.error));
    }
  }
  return model::toJson(r);
}

}  // namespace meshgate::meshsvc
