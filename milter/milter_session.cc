// milter_session.cc - see milter_session.h.
#include "milter/milter_session.h"

#include <algorithm>
#include <exception>
#include <limits>

#include "gateway/mail/address.h"
#include "gateway/mail/codec.h"
#include "gateway/mail/mime.h"
#include "gateway/policy/audit_record.h"
#include "gateway/policy/brand_assertion.h"
#include "gateway/policy/content_action.h"
#include "gateway/policy/direction.h"
#include "gateway/policy/egress_filter.h"
#include "gateway/policy/security_signal.h"
#include "gateway/ports/deadline.h"
#include "gateway/util/log.h"
#include "gateway/util/metrics.h"
#include "gateway/util/strings.h"

namespace meshgate::milter {

using policy::Verdict;

namespace {

// The one mapping from a core verdict to a milter step; replies always match the step.
Step stepFor(Verdict verdict, const policy::Reply& reply) {
  Step s;
  switch (verdict) {
    case Verdict::kAccept:
    case Verdict::kHold:  // hold is applied at end of message with smfi_quarantine
      s.kind = Step::Kind::kContinue;
      return s;
    case Verdict::kReject:
      s.kind = Step::Kind::kReject;
      s.code = reply.code.size() == 3 && reply.code[0] == '5' ? reply.code : "550";
      s.enhanced = reply.enhanced.rfind("5.", 0) == 0 ? reply.enhanced : "5.7.1";
      s.text = reply.text.empty() ? "rejected by meshgate policy" : reply.text;
      return s;
    case Verdict::kTempfail:
      s.kind = Step::Kind::kTempfail;
      s.code = reply.code.size() == 3 && reply.code[0] == '4' ? reply.code : "451";
      s.enhanced = reply.enhanced.rfind("4.", 0) == 0 ? reply.enhanced : "4.7.1";
      s.text = reply.text.empty() ? "try again later" : reply.text;
      return s;
    case Verdict::kDiscard:
      s.kind = Step::Kind::kDiscard;
      return s;
  }
  return s;
}

// Time from end-of-message to the reply: the per-message decision latency (bench/RESULTS.md).
metrics::Histogram& eomLatency() {
  static metrics::Histogram& h = metrics::histogram(
      "meshgate_decision_seconds", "Time to decide, by front-end and protocol stage.",
      {{"frontend", "milter"}, {"stage", "eom"}});
  return h;
}

std::string qidOrNoqueue(const std::string& qid) { return qid.empty() ? "NOQUEUE" : log::sanitize(qid); }

// milter.max_buffered_bytes is full: a resource shortage, so tempfail whatever on_error says.
Step bufferFullStep() {
  return {Step::Kind::kTempfail, "452", "4.3.1",
          "meshgate: insufficient system storage, try again later"};
}

}  // namespace

Step MilterSession::errorStep(config::FailureAction action, const Status& status) {
  Step s;
  switch (action) {
    case config::FailureAction::kTempfail:
      s.kind = Step::Kind::kTempfail;
      s.code = "451";
      s.enhanced = "4.3.0";
      s.text = "meshgate: temporary failure, try again later";
      break;
    case config::FailureAction::kAccept:
      s.kind = Step::Kind::kContinue;
      break;
    case config::FailureAction::kReject:
      s.kind = Step::Kind::kReject;
      s.code = "550";
      s.enhanced = "5.3.0";
      s.text = "meshgate: cannot process this message";
      break;
  }
  return s;
}

Step MilterSession::fail(const Status& status, const char* stage) {
  config::FailureAction action = config::FailureAction::kTempfail;
  if (msg_.engine) action = msg_.engine->config().milter.on_error;
  metrics::counter("meshgate_errors_total", "Decisions that failed, by front-end, stage and the action taken.",
                   {{"frontend", "milter"}, {"stage", stage},
                    {"action", std::string(config::failureActionName(action))}})
      .inc();
  log::error("%s: milter: %s: cannot decide: %s; action=%s", qidOrNoqueue(msg_.request.queue_id).c_str(),
             stage, log::sanitize(status.toString()).c_str(),
             std::string(config::failureActionName(action)).c_str());
  return errorStep(action, status);
}

Status MilterSession::record(const AuditRecord& rec) {
  if (!context_.audit || !msg_.engine || !msg_.engine->config().audit.enabled) return Status();
  Status st = context_.audit(rec);
  if (st.ok()) return st;
  if (msg_.engine->config().audit.on_failure == config::AuditSection::OnFailure::kLog) {
    log::error("%s: milter: audit log append failed: %s (audit.on_failure=log: going on)",
               rec.queue_id.c_str(), log::sanitize(st.toString()).c_str());
    return Status();
  }
  return st.withContext("audit log");
}

void MilterSession::onConnect(std::string hostname, std::string address, std::string daemon_name) {
  client_ = policy::ClientInfo{};
  connect_lost_ = false;
  client_.hostname = std::move(hostname);
  client_.address = std::move(address);
  client_.daemon_name = std::move(daemon_name);
}

void MilterSession::onHelo(std::string helo) { client_.helo = std::move(helo); }

Step MilterSession::onMail(std::string_view sender, std::string auth_user) {
  onAbort();
  msg_.active = true;
  msg_.body_share = BudgetShare(context_.body_budget);
  try {
    if (connect_lost_) return fail(internalError("the connect step failed"), "mail");
    msg_.engine = context_.engine();
    if (!msg_.engine) return fail(unavailable("no decision engine"), "mail");
    client_.auth_user = std::move(auth_user);
    msg_.request.front_end = "milter";
    msg_.request.client = client_;
    // Outbound (egress rules, too-stupid, brand assertion) or inbound (ingress, payment,
    // impersonation): from {auth_authen}, {daemon_name} and the client address.
    msg_.request.direction = policy::classifyDirection(msg_.engine->config(), client_);
    msg_.request.sender = mail::canonicalEnvelopeAddress(sender);
    msg_.request.mesh_delivery_available =
        context_.mesh_deliver && may_remove_recipients_ && msg_.engine->config().smtp_to_mesh.enabled &&
        msg_.request.direction == policy::Direction::kOutbound;
    msg_.headers = std::make_unique<mail::HeaderList>();
    DeadlineScope budget(msg_.engine->config().milter.decision_timeout);
    static metrics::Histogram& mail_latency = metrics::histogram(
        "meshgate_decision_seconds", "Time to decide, by front-end and protocol stage.",
        {{"frontend", "milter"}, {"stage", "mail"}});
    metrics::ScopedTimer timer(mail_latency);
    auto d = msg_.engine->onSender(msg_.request);
    if (!d.ok()) return fail(d.status(), "mail");
    msg_.sender_decision = std::move(*d);
    Step s = stepFor(msg_.sender_decision.verdict, msg_.sender_decision.reply);
    if (s.kind != Step::Kind::kContinue) {
      log::info("NOQUEUE: milter: from=<%s> client=%s action=%s rule=%s",
                log::sanitize(msg_.request.sender).c_str(), log::sanitize(client_.address).c_str(),
                std::string(policy::verdictName(msg_.sender_decision.verdict)).c_str(),
                msg_.sender_decision.rule.c_str());
    }
    return s;
  } catch (const std::exception& e) {
    return fail(internalError(e.what()), "mail");
  }
}

Step MilterSession::onRecipient(std::string_view recipient) {
  try {
    if (!msg_.active || !msg_.engine) return fail(internalError("RCPT before MAIL"), "rcpt");
    std::string rcpt = mail::canonicalEnvelopeAddress(recipient);
    DeadlineScope budget(msg_.engine->config().milter.decision_timeout);
    static metrics::Histogram& rcpt_latency = metrics::histogram(
        "meshgate_decision_seconds", "Time to decide, by front-end and protocol stage.",
        {{"frontend", "milter"}, {"stage", "rcpt"}});
    metrics::ScopedTimer timer(rcpt_latency);
    auto r = msg_.engine->onRecipient(msg_.request, rcpt);
    if (!r.ok()) {
      Step s = fail(r.status(), "rcpt");
      if (s.kind == Step::Kind::kContinue) {
        // milter.on_error: accept. The recipient is the message's like any other (the client
        // was told 250), as a first contact: no signal may claim a contact nobody checked.
        policy::RecipientDecision undecided;
        undecided.recipient = rcpt;
        undecided.contact = policy::ContactStatus::kFirstContact;
        undecided.rule = "milter.on_error";
        msg_.request.recipients.push_back(rcpt);
        msg_.rcpt_as_given.emplace_back(recipient);
        msg_.recipients.push_back(std::move(undecided));
      }
      return s;
    }
    Step s = stepFor(r->verdict, r->reply);
    if (s.kind == Step::Kind::kContinue) {
      msg_.request.recipients.push_back(rcpt);
      msg_.rcpt_as_given.emplace_back(recipient);
      msg_.recipients.push_back(std::move(*r));
    } else {
      Status audited = record(policy::auditRecordForRecipient(
          msg_.request, *r, msg_.engine->config().gateway.node, context_.now()));
      // An unrecorded refusal is still a refusal: with milter.on_error accept it stands.
      if (!audited.ok()) {
        if (Step e = fail(audited, "rcpt"); e.kind != Step::Kind::kContinue) return e;
      }
      log::info("NOQUEUE: milter: from=<%s> to=<%s> client=%s action=%s rule=%s contact=%s",
                log::sanitize(msg_.request.sender).c_str(), log::sanitize(rcpt).c_str(),
                log::sanitize(client_.address).c_str(),
                std::string(policy::verdictName(r->verdict)).c_str(), r->rule.c_str(),
                std::string(policy::contactStatusName(r->contact)).c_str());
    }
    return s;
  } catch (const std::exception& e) {
    return fail(internalError(e.what()), "rcpt");
  }
}

void MilterSession::onHeader(std::string_view name, std::string_view value) {
  if (!msg_.active || msg_.over_budget) return;
  // Header fields count against milter.max_buffered_bytes like the body, as far as they are
  // kept (the header limits keep at most 4 MiB a message; what they drop costs nothing): past
  // it the message is tempfailed at end of message.
  const uint64_t limit = msg_.engine ? msg_.engine->config().milter.max_buffered_bytes
                                     : std::numeric_limits<uint64_t>::max();
  const size_t before = msg_.headers->bytes();
  msg_.headers->add(name, value);
  if (!msg_.body_share.take(msg_.headers->bytes() - before, limit)) msg_.over_budget = true;
}

void MilterSession::onBody(std::string_view chunk) {
  if (!msg_.active || !msg_.engine) return;
  msg_.body_seen += chunk.size();
  const config::Config& cfg = msg_.engine->config();
  // A copy sent over the Mesh must be the whole message, so outbound mail that may be is kept
  // up to smtp_to_mesh.max_message_bytes.
  size_t limit = msg_.request.mesh_delivery_available
                     ? std::max<size_t>(cfg.milter.max_scan_bytes, cfg.smtp_to_mesh.max_message_bytes)
                     : cfg.milter.max_scan_bytes;
  if (msg_.body.size() >= limit || msg_.over_budget) return;
  std::string_view keep = chunk.substr(0, limit - msg_.body.size());
  if (!msg_.body_share.take(keep.size(), cfg.milter.max_buffered_bytes)) {
    // Judging the message on part of its body, or sending part of it over the Mesh, would
    // let through what the whole might stop: it is tempfailed at end of message.
    msg_.over_budget = true;
    return;
  }
  msg_.body.append(keep);
}

void MilterSession::onAbort() {
  msg_.engine.reset();
  msg_.request = policy::MessageRequest{};
  msg_.sender_decision = policy::Decision{};
  msg_.recipients.clear();
  msg_.rcpt_as_given.clear();
  msg_.headers = std::make_unique<mail::HeaderList>();
  msg_.body.clear();
  msg_.body.shrink_to_fit();
  msg_.body_share = BudgetShare();
  msg_.over_budget = false;
  msg_.body_seen = 0;
  msg_.active = false;
  msg_.content_lost = nullptr;
  msg_.mesh_required = false;
}

EomResult MilterSession::onEndOfMessage(std::string queue_id) {
  EomResult r;
  try {
    DeadlineScope budget(msg_.engine ? msg_.engine->config().milter.decision_timeout
                                     : std::chrono::milliseconds(5000));
    metrics::ScopedTimer timer(eomLatency());
    msg_.request.queue_id = std::move(queue_id);
    if (msg_.over_budget) {
      r.step = bufferFullStep();
      log::warning(
          "%s: milter: from=<%s> action=tempfail rule=milter.max_buffered_bytes: the "
          "messages under way fill it (%llu bytes); the MTA retries",
          qidOrNoqueue(msg_.request.queue_id).c_str(), log::sanitize(msg_.request.sender).c_str(),
          static_cast<unsigned long long>(
              msg_.engine ? msg_.engine->config().milter.max_buffered_bytes : 0));
    } else if (msg_.content_lost != nullptr) {
      r = failedEom(
          internalError(std::string("a ") + msg_.content_lost + " step of this message failed"),
          std::move(r));
    } else {
      decideEndOfMessage(msg_.request.queue_id, r);
    }
  } catch (const std::exception& e) {
    try {
      r = failedEom(internalError(e.what()), std::move(r));
    } catch (const std::exception&) {
      r = EomResult{};
      r.step = errorStep(config::FailureAction::kTempfail, internalError(e.what()));
    }
  }
  onAbort();
  return r;
}

std::vector<HeaderChange> MilterSession::forgedCopyDeletions(
    const std::vector<size_t>& keep_brand) const {
  // From the last copy back to the first: each deletion shifts the indexes of the copies after it.
  std::vector<HeaderChange> out;
  for (size_t index : msg_.headers->deletionIndexes(policy::kSignalHeader)) {
    out.push_back({HeaderChange::Kind::kDelete, std::string(policy::kSignalHeader),
                   static_cast<int>(index), ""});
  }
  for (std::string_view bridge : policy::kBridgeHeaders) {
    for (size_t index : msg_.headers->deletionIndexes(bridge)) {
      out.push_back(
          {HeaderChange::Kind::kDelete, std::string(bridge), static_cast<int>(index), ""});
    }
  }
  for (size_t index : msg_.headers->deletionIndexes(policy::kBrandAssertionHeader)) {
    if (std::find(keep_brand.begin(), keep_brand.end(), index) != keep_brand.end()) continue;
    out.push_back({HeaderChange::Kind::kDelete, std::string(policy::kBrandAssertionHeader),
                   static_cast<int>(index), ""});
  }
  return out;
}

std::string MilterSession::mtaReplyText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '%') {
      out += "%%";
    } else if (c == '\r' || c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  if (out.size() <= kMaxReplyText) return out;
  out.resize(kMaxReplyText - 3);
  // Not inside a "%%" (every '%' is doubled, so an odd run at the end was split) ...
  size_t percents = 0;
  while (percents < out.size() && out[out.size() - 1 - percents] == '%') ++percents;
  if (percents % 2 == 1) out.pop_back();
  // ... nor inside a UTF-8 character: its continuation bytes and its lead byte go.
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80) != 0) out.pop_back();
  return out + "...";
}

EomResult MilterSession::failedEom(const Status& status, EomResult partial) {
  EomResult out;
  out.step = fail(status, "eom");
  if (out.step.kind != Step::Kind::kContinue) return out;
  const bool header_lost =
      msg_.content_lost != nullptr && std::string_view(msg_.content_lost) == "header";
  if (header_lost || msg_.headers->overflowed()) {
    // A header we never saw (lost, or past the header limit) may be a forged copy of ours
    // that nothing would delete.
    out.step = errorStep(config::FailureAction::kTempfail, status);
    log::warning(
        "%s: milter: action=tempfail despite milter.on_error accept: %s, so forged copies of "
        "%s cannot all be deleted",
        qidOrNoqueue(msg_.request.queue_id).c_str(),
        header_lost ? "a header step was lost" : "the header limit was passed",
        std::string(policy::kSignalHeader).c_str());
    return out;
  }
  if (msg_.mesh_required && out.step.kind == Step::Kind::kContinue) {
    // Recipients that an encryption rule sends over the Mesh: some may not have been posted.
    // Copies already posted are recognised on the retry (the same EnvelopeId).
    out.step = errorStep(config::FailureAction::kTempfail, status);
    log::warning(
        "%s: milter: action=tempfail despite milter.on_error accept: the message has recipients "
        "that only the Mesh may reach",
        qidOrNoqueue(msg_.request.queue_id).c_str());
    return out;
  }
  out.step = partial.step;  // what was decided before the failure, kContinue if nothing
  out.changes = forgedCopyDeletions({});  // without a decision every copy counts as forged
  out.removed_recipients = std::move(partial.removed_recipients);
  out.quarantine_reason = std::move(partial.quarantine_reason);
  if (!out.quarantine_reason) {
    // A hold decided before the failure (at MAIL, or quarantine-unknown at RCPT: the end of
    // message only carries it out) stays a hold.
    std::string rule;
    if (msg_.sender_decision.verdict == Verdict::kHold) rule = msg_.sender_decision.rule;
    for (const auto& rc : msg_.recipients) {
      if (rule.empty() && rc.contact == policy::ContactStatus::kQuarantined) rule = rc.rule;
    }
    if (!rule.empty()) {
      out.quarantine_reason = "meshgate: " + rule + " (decided before an error at end of message)";
    }
  }
  return out;
}

bool MilterSession::refusedAfterError(const Status& status, EomResult& result) {
  Step s = fail(status, "eom");
  if (s.kind == Step::Kind::kContinue) return false;
  result = EomResult{};
  result.step = s;
  return true;
}

void MilterSession::decideEndOfMessage(std::string queue_id, EomResult& result) {
  if (!msg_.active || !msg_.engine) {
    result = failedEom(internalError("end of message without MAIL"), std::move(result));
    return;
  }
  const config::Config& cfg = msg_.engine->config();

  // Past the header limit some copies of a forged signal may not have been seen, so their
  // deletion cannot be guaranteed: refuse rather than deliver a forgery.
  if (msg_.headers->overflowed()) {
    result.step.kind = Step::Kind::kReject;
    result.step.code = "552";
    result.step.enhanced = "5.3.4";
    result.step.text = "message header too large (too many header fields)";
    log::warning("%s: milter: from=<%s> action=reject rule=limits.headers (over %zu header fields)",
                 qidOrNoqueue(queue_id).c_str(), log::sanitize(msg_.request.sender).c_str(),
                 msg_.headers->size());
    return;
  }

  mail::MessageView view = mail::parseMime(*msg_.headers, msg_.body);
  msg_.request.content = &view;
  if (const std::string* mid = msg_.headers->find("Message-ID")) {
    msg_.request.message_id = std::string(trimWhitespace(*mid));
  }
  msg_.request.size = static_cast<int64_t>(msg_.body_seen);
  policy::Decision so_far = msg_.sender_decision;
  so_far.recipients = msg_.recipients;
  auto decided = msg_.engine->onMessage(msg_.request, so_far);
  msg_.request.content = nullptr;
  if (!decided.ok()) {
    result = failedEom(decided.status(), std::move(result));
    return;
  }
  policy::Decision& d = *decided;
  // What was decided stands if a later step fails (failedEom keeps a reject, a hold, and
  // recipients that only the Mesh may reach).
  result.step = stepFor(d.verdict, d.reply);
  if (d.verdict == Verdict::kHold) {
    result.quarantine_reason = "meshgate: " + (d.hold_reason.empty() ? d.rule : d.hold_reason);
  }
  msg_.mesh_required = std::any_of(d.mesh_delivery.begin(), d.mesh_delivery.end(),
                                   [](const auto& m) { return !m.cleartext_fallback; });
  // Forged copies of our headers go first, whatever else happens. Incoming brand assertions
  // that a trusted gateway signed for this very message stay (a client may check them itself;
  // only inbound mail has any).
  const std::vector<size_t>& keep_brand = d.brand.keep_incoming;
  result.changes = forgedCopyDeletions(keep_brand);
  // The copies sent over the Mesh carry the same headers as SMTP delivery: without forged
  // copies of ours, with the egress edits and the Subject tag.
  mail::HeaderList delivered = deliveredHeaders(d, keep_brand, result);
  std::optional<DeadlineOverride> after_mesh;
  if (!d.mesh_delivery.empty()) {
    deliverOverMesh(d, delivered, result, qidOrNoqueue(queue_id));
    // The Mesh copies had budgets of their own (smtp_to_mesh.timeout each). What follows (the
    // audit record, a hold's record, the signal) gets the decision budget anew: it would
    // otherwise find the callback's spent and tempfail a message whose copies went out.
    after_mesh.emplace(cfg.milter.decision_timeout);
  }
  result.step = stepFor(d.verdict, d.reply);
  if (d.verdict == Verdict::kHold) {
    result.quarantine_reason = "meshgate: " + (d.hold_reason.empty() ? d.rule : d.hold_reason);
  }
  Status audited = record(policy::auditRecordForMessage(msg_.request, d, cfg.gateway.node,
                                                        context_.now()));
  if (!audited.ok() && refusedAfterError(audited, result)) return;
  if (result.step.kind == Step::Kind::kReject || result.step.kind == Step::Kind::kTempfail) {
    logDecision(d, queue_id);
    return;
  }

  // Outbound mail that speaks for a brand: the gateway's signed assertion, bound to the headers
  // as delivered (brand_assertion.h), at the top.
  // Without the key (or a signature) the message may still go, per milter.on_error, but then
  // without the header that needs it.
  std::shared_ptr<const mesh::PrivateKey> brand_key =
      d.brand.assert_brand.empty() ? nullptr : context_.gateway_key();
  if (!d.brand.assert_brand.empty() && !brand_key &&
      refusedAfterError(unavailable("the gateway signing key is not loaded"), result)) {
    return;
  }
  if (brand_key) {
    policy::BrandAssertion a;
    a.brand = d.brand.assert_brand;
    a.organization = d.brand.organization;
    a.logo_url = d.brand.logo_url;
    a.address = d.brand.address;
    a.gateway = cfg.gateway.node;
    a.time = context_.now();
    auto value = policy::signBrandAssertion(a, delivered, *brand_key);
    if (value.ok()) {
      result.changes.push_back(
          {HeaderChange::Kind::kInsert, std::string(policy::kBrandAssertionHeader), 0, *value});
    } else if (refusedAfterError(value.status().withContext("brand assertion"), result)) {
      return;
    }
  }

  bool local = false;
  for (const auto& rc : d.recipients) {
    if (!rc.account.empty() || cfg.isLocalDomain(addressDomain(rc.recipient))) local = true;
  }
  std::shared_ptr<const mesh::PrivateKey> signal_key = local ? context_.gateway_key() : nullptr;
  if (local && !signal_key &&
      refusedAfterError(unavailable("the gateway signing key is not loaded"), result)) {
    return;
  }
  if (signal_key) {
    policy::SecuritySignal signal =
        policy::signalFromDecision(d, cfg.gateway.node, context_.now(), context_.nonce);
    if (d.verdict == Verdict::kHold && signal.contact != "mixed") signal.contact = "quarantined";
    auto value = policy::signSignal(signal, delivered, *signal_key);
    if (value.ok()) {
      result.changes.push_back(
          {HeaderChange::Kind::kInsert, std::string(policy::kSignalHeader), 0, *value});
    } else if (refusedAfterError(value.status(), result)) {
      return;
    }
  }
  if (d.verdict == Verdict::kHold) {
    if (context_.quarantine) {
      QuarantineRecord q;
      q.id = queue_id.empty() ? msg_.request.message_id : queue_id;
      q.queue_id = queue_id;
      q.message_id = mail::sanitizeUtf8(msg_.request.message_id);
      q.sender = mail::sanitizeUtf8(msg_.request.sender);
      std::vector<std::string> rcpts;
      for (const auto& rc : d.recipients) rcpts.push_back(rc.recipient);
      q.recipients = mail::sanitizeUtf8(joinList(rcpts, ","));
      q.reason = d.hold_reason.empty() ? d.rule : d.hold_reason;
      q.subject = mail::sanitizeUtf8(view.subject(), 200);  // whole characters only
      q.time = context_.now();
      q.state = "held";
      // Without its record an administrator could not find the message with meshgate's
      // quarantine commands: tempfail (milter.on_error) rather than hold it unlisted. With
      // on_error accept it is held all the same (postqueue -p lists it).
      Status st = context_.quarantine(q);
      if (!st.ok() && refusedAfterError(st.withContext("quarantine record"), result)) return;
    }
  }
  if (d.brand.notice) {
    // A reminder, not a condition of delivery: a failure to send it is logged only.
    const policy::SenderNotice& n = *d.brand.notice;
    Status sent = unavailable("no notice delivery configured");
    if (context_.notify) {
      try {
        sent = context_.notify(n);
      } catch (const std::exception& e) {
        sent = internalError(std::string("notice delivery failed: ") + e.what());
      }
    }
    if (sent.ok()) {
      log::info("%s: milter: brand notice to <%s> for %s", qidOrNoqueue(queue_id).c_str(),
                log::sanitize(n.to).c_str(), log::sanitize(d.brand.assert_brand).c_str());
    } else {
      log::warning("%s: milter: brand notice to <%s> not sent: %s", qidOrNoqueue(queue_id).c_str(),
                   log::sanitize(n.to).c_str(), log::sanitize(sent.toString()).c_str());
    }
  }
  logDecision(d, queue_id);
}

mail::HeaderList MilterSession::deliveredHeaders(const policy::Decision& d,
                                                 const std::vector<size_t>& keep_brand,
                                                 EomResult& result) const {
  mail::HeaderList delivered;
  size_t brand_occurrence = 0;
  for (const auto& h : *msg_.headers) {
    if (policy::isGatewayOnlyHeader(h.name)) continue;
    if (equalsIgnoreCase(h.name, policy::kBrandAssertionHeader) &&
        std::find(keep_brand.begin(), keep_brand.end(), ++brand_occurrence) == keep_brand.end()) {
      continue;
    }
    delivered.add(h.name, h.value);
  }
  applyHeaderEdits(d, delivered, result);
  if (!d.subject_tag.empty()) {
    std::string subject = msg_.headers->find("Subject") ? *msg_.headers->find("Subject") : "";
    std::string tagged = d.subject_tag + " " + std::string(trimWhitespace(subject));
    result.changes.push_back({HeaderChange::Kind::kChange, "Subject", 1, tagged});
    mail::HeaderList retagged;
    bool done = false;
    for (const auto& h : delivered) {
      if (!done && equalsIgnoreCase(h.name, "Subject")) {
        retagged.add(h.name, tagged);
        done = true;
      } else {
        retagged.add(h.name, h.value);
      }
    }
    if (!done) retagged.add("Subject", tagged);
    delivered = std::move(retagged);
  }
  return delivered;
}

void MilterSession::applyHeaderEdits(const policy::Decision& d, mail::HeaderList& delivered,
                                     EomResult& result) const {
  // Egress add-header / remove-header rules. Our own headers are not theirs to edit.
  // Removals first: the MTA deletes by the index a header had as received, so a header
  // added here is never among those removed, whatever the order of the edits; the view of
  // the delivered message (what the Mesh copy carries and the signal covers) must agree.
  std::vector<const policy::HeaderEdit*> ordered;
  for (const auto& e : d.header_edits) {
    if (e.kind == policy::HeaderEdit::Kind::kRemoveAll) ordered.push_back(&e);
  }
  for (const auto& e : d.header_edits) {
    if (e.kind != policy::HeaderEdit::Kind::kRemoveAll) ordered.push_back(&e);
  }
  for (const policy::HeaderEdit* edit : ordered) {
    const policy::HeaderEdit& e = *edit;
    if (policy::isGatewayOnlyHeader(e.name) ||
        equalsIgnoreCase(e.name, policy::kBrandAssertionHeader)) {
      continue;
    }
    switch (e.kind) {
      case policy::HeaderEdit::Kind::kRemoveAll: {
        for (size_t index : msg_.headers->deletionIndexes(e.name)) {
          result.changes.push_back({HeaderChange::Kind::kDelete, e.name, static_cast<int>(index), ""});
        }
        mail::HeaderList kept;
        for (const auto& h : delivered) {
          if (!equalsIgnoreCase(h.name, e.name)) kept.add(h.name, h.value);
        }
        delivered = std::move(kept);
        break;
      }
      case policy::HeaderEdit::Kind::kAdd:
        result.changes.push_back({HeaderChange::Kind::kAdd, e.name, 0, e.value});
        delivered.add(e.name, e.value);
        break;
      case policy::HeaderEdit::Kind::kInsertTop: {
        result.changes.push_back({HeaderChange::Kind::kInsert, e.name, 0, e.value});
        mail::HeaderList top;
        top.add(e.name, e.value);
        for (const auto& h : delivered) top.add(h.name, h.value);
        delivered = std::move(top);
        break;
      }
    }
  }
}

std::string MilterSession::messageAsDelivered(const mail::HeaderList& delivered) const {
  std::string out;
  out.reserve(msg_.body.size() + 4096);
  auto appendCrlf = [&out](std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out.push_back('\r');
      out.push_back(text[i]);
    }
  };
  for (const auto& h : delivered) {
    out.append(h.name).append(":");
    // libmilter strips the space after the colon (SMFIP_HDR_LEADSPC is not asked for).
    if (!h.value.empty() && h.value[0] != ' ' && h.value[0] != '\t') out.push_back(' ');
    appendCrlf(h.value);
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(msg_.body);
  return out;
}

void MilterSession::deliverOverMesh(policy::Decision& d, const mail::HeaderList& delivered,
                                    EomResult& result, std::string_view qid) {
  const config::Config& cfg = msg_.engine->config();
  if (d.verdict == Verdict::kReject || d.verdict == Verdict::kTempfail) return;
  if (d.verdict == Verdict::kHold) {
    // Held mail goes nowhere now; released from the hold queue it would go by SMTP, so the
    // reason tells the administrator who releases it.
    d.hold_reason += "; not sent over the Mesh (" + d.mesh_delivery.front().rule +
                     " requires encryption): releasing it delivers cleartext";
    return;
  }
  const std::string id = std::string(qid);
  auto tempfail = [&](const std::string& rule, const std::string& why) {
    log::warning("%s: milter: smtp-to-mesh: %s; action=tempfail rule=%s", id.c_str(),
                 log::sanitize(why).c_str(), rule.c_str());
    d.escalate(Verdict::kTempfail, rule,
               policy::Reply{"451", "4.4.3", "encrypted delivery over the Mesh failed; try again later"});
  };
  const bool whole = msg_.body_seen <= msg_.body.size() &&
                     msg_.body_seen <= cfg.smtp_to_mesh.max_message_bytes;
  const std::string message = whole ? messageAsDelivered(delivered) : std::string();

  // Phase 1, no side effect: who has a Mesh profile. A recipient without one may stop the
  // whole message (require-encryption), and nothing may have been posted by then.
  struct Target {
    std::string rcpt;
    const policy::MeshDeliveryRequirement* rule;
  };
  std::vector<Target> targets;
  std::vector<std::string> seen;
  for (const auto& m : d.mesh_delivery) {
    std::vector<std::string> missing;
    for (const auto& rcpt : m.recipients) {
      if (std::find(seen.begin(), seen.end(), rcpt) != seen.end()) continue;
      seen.push_back(rcpt);
      Result<adapters::MeshPostResult> r = [&]() -> Result<adapters::MeshPostResult> {
        DeadlineOverride budget(cfg.smtp_to_mesh.timeout);
        return context_.mesh_deliver({msg_.request.sender, rcpt, std::string()}, true);
      }();
      if (!r.ok()) {
        if (m.cleartext_fallback) {
          log::warning("%s: milter: smtp-to-mesh: to=<%s> %s; cleartext_fallback: SMTP",
                       id.c_str(), log::sanitize(rcpt).c_str(), log::sanitize(r.status().message()).c_str());
          continue;
        }
        return tempfail(m.rule, "to=<" + rcpt + ">: " + r.status().message());
      }
      if (r->outcome == adapters::MeshPostOutcome::kLocalAccount) continue;  // stays inside
      if (r->outcome == adapters::MeshPostOutcome::kNoProfile) {
        if (m.no_profile == Verdict::kAccept) continue;  // prefer-encryption: plain SMTP
        missing.push_back(rcpt);
        continue;
      }
      targets.push_back({rcpt, &m});
    }
    if (missing.empty()) continue;
    const std::string who = joinList(missing, ",");
    addCheck(d, "mesh-no-profile", who);
    if (m.no_profile == Verdict::kHold) {
      d.escalate(Verdict::kHold, m.rule);
      d.hold_reason = m.rule + ": no Mesh profile for " + who;
    } else {
      d.escalate(Verdict::kReject, m.rule,
                 policy::Reply{"550", "5.7.1",
                               policy::egressReplyText(m.reject_text, m.rule.substr(7), missing, true)});
    }
  }
  if (d.verdict != Verdict::kAccept || targets.empty()) return;
  if (!whole) {
    d.escalate(Verdict::kReject, targets.front().rule->rule,
               policy::Reply{"552", "5.3.4",
                             "message too large to send encrypted over the Mesh (smtp_to_mesh."
                             "max_message_bytes is " + std::to_string(cfg.smtp_to_mesh.max_message_bytes) + ")"});
    return;
  }

  // Phase 2: post each copy; the SMTP copy goes only once its service confirmed it.
  std::vector<std::string> removed;
  for (const Target& t : targets) {
    Result<adapters::MeshPostResult> r = [&]() -> Result<adapters::MeshPostResult> {
      DeadlineOverride budget(cfg.smtp_to_mesh.timeout);
      return context_.mesh_deliver({msg_.request.sender, t.rcpt, message}, false);
    }();
    if (!r.ok() || r->outcome == adapters::MeshPostOutcome::kRefused ||
        r->outcome == adapters::MeshPostOutcome::kNoProfile) {
      const std::string why = !r.ok() ? r.status().message()
                                      : std::string(adapters::meshPostOutcomeName(r->outcome)) +
                                            " (" + r->detail + ")";
      if (t.rule->cleartext_fallback) {
        log::warning("%s: milter: smtp-to-mesh: to=<%s> %s; cleartext_fallback: SMTP", id.c_str(),
                     log::sanitize(t.rcpt).c_str(), log::sanitize(why).c_str());
        continue;
      }
      if (r.ok() && r->outcome == adapters::MeshPostOutcome::kRefused) {
        log::info("%s: milter: smtp-to-mesh: to=<%s> action=reject rule=%s: the recipient's Mesh "
                  "service refused it (%s)", id.c_str(), log::sanitize(t.rcpt).c_str(),
                  t.rule->rule.c_str(), log::sanitize(r->detail).c_str());
        d.escalate(Verdict::kReject, t.rule->rule,
                   policy::Reply{"550", "5.7.1",
                                 "the Mesh service of <" + log::sanitize(t.rcpt) + "> refused the message (" +
                                     log::sanitize(r->detail) + "); it was not sent to that recipient"});
        return;
      }
      return tempfail(t.rule->rule, "to=<" + t.rcpt + ">: " + why);
    }
    log::info("%s: milter: smtp-to-mesh: from=<%s> to=<%s> envelope=%s action=%s via=%s",
              id.c_str(), log::sanitize(msg_.request.sender).c_str(), log::sanitize(t.rcpt).c_str(),
              r->envelope_id.c_str(), std::string(adapters::meshPostOutcomeName(r->outcome)).c_str(),
              log::sanitize(r->detail).c_str());
    addCheck(d, "mesh-delivered", t.rcpt + ":" + r->envelope_id);
    removed.push_back(t.rcpt);
  }
  if (removed.empty()) return;
  if (removed.size() == msg_.request.recipients.size()) {
    // Every copy went over the Mesh: nothing is left for SMTP.
    d.verdict = Verdict::kDiscard;
    d.rule = targets.front().rule->rule;
    return;
  }
  for (size_t i = 0; i < msg_.request.recipients.size(); ++i) {
    if (std::find(removed.begin(), removed.end(), msg_.request.recipients[i]) != removed.end()) {
      result.removed_recipients.push_back(msg_.rcpt_as_given[i]);
    }
  }
}

void MilterSession::logDecision(const policy::Decision& d, std::string_view qid) {
  std::vector<std::string> to;
  std::vector<std::string> contacts;
  for (const auto& r : d.recipients) {
    to.push_back("<" + log::sanitize(r.recipient) + ">");
    contacts.emplace_back(policy::contactStatusName(r.contact));
  }
  std::vector<std::string> checks;
  for (const auto& c : d.checks) checks.push_back(c.name);
  metrics::counter("meshgate_decisions_total", "Message decisions, by front-end and action.",
                   {{"frontend", "milter"}, {"action", std::string(policy::verdictName(d.verdict))}})
      .inc();
  for (const auto& name : checks) {
    metrics::counter("meshgate_checks_total", "Checks that fired, by front-end and check.",
                     {{"frontend", "milter"}, {"check", name}})
        .inc();
  }
  log::info("%s: milter: from=<%s> to=%s client=%s action=%s rule=%s contact=%s checks=%s",
            qidOrNoqueue(std::string(qid)).c_str(), log::sanitize(msg_.request.sender).c_str(),
            joinList(to, ",").c_str(), log::sanitize(client_.address).c_str(),
            std::string(policy::verdictName(d.verdict)).c_str(),
            d.rule.empty() ? "default" : d.rule.c_str(), joinList(contacts, ",").c_str(),
            checks.empty() ? "none" : joinList(checks, ",").c_str());
}

}  // namespace meshgate::milter
