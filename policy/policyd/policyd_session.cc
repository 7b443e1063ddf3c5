// policyd_session.cc - see policyd_session.h.
#include "policy/policyd/policyd_session.h"

#include "gateway/util/log.h"
#include "gateway/util/strings.h"

namespace meshgate::policyd {

using policy::Verdict;

policy::MessageRequest toMessageRequest(const PolicyRequest& r) {
  policy::MessageRequest req;
  req.front_end = "policyd";
  req.protocol = "smtp";
  req.client.address = r.get("client_address");
  req.client.hostname = r.get("client_name");
  req.client.helo = r.get("helo_name");
  req.client.auth_user = r.get("sasl_username");
  req.queue_id = r.get("queue_id");
  req.instance = r.get("instance");
  req.sender = normalizeAddress(r.get("sender"));
  if (!r.get("recipient").empty()) req.recipients.push_back(normalizeAddress(r.get("recipient")));
  const std::string& size = r.get("size");
  req.size = 0;
  for (char c : size) {
    if (c < '0' || c > '9' || req.size > (int64_t{1} << 50)) break;
    req.size = req.size * 10 + (c - '0');
  }
  return req;
}

std::string PolicydSession::actionFor(Verdict verdict, const policy::Reply& reply,
                                      std::string_view default_text) {
  std::string text = reply.text.empty() ? std::string(default_text) : reply.text;
  switch (verdict) {
    case Verdict::kAccept:
      return formatReply("DUNNO");
    case Verdict::kReject:
      return formatReply((reply.code.empty() ? std::string("550") : reply.code) + " " +
                         (reply.enhanced.empty() ? std::string("5.7.1") : reply.enhanced),
                         text);
    case Verdict::kTempfail:
      return formatReply((reply.code.empty() ? std::string("451") : reply.code) + " " +
                         (reply.enhanced.empty() ? std::string("4.7.1") : reply.enhanced),
                         text);
    case Verdict::kHold:
      return formatReply("HOLD", text);
    case Verdict::kDiscard:
      return formatReply("DISCARD", text);
  }
  return formatReply("DUNNO");
}

Result<std::string> PolicydSession::handle(const PolicyRequest& request) {
  if (request.get("request") != "smtpd_access_policy") {
    return invalidArgument("request=" + log::sanitize(request.get("request")) +
                           " (expected smtpd_access_policy)");
  }
  std::shared_ptr<const policy::DecisionEngine> engine = engine_();
  if (!engine) return unavailable("no decision engine");
  const std::string& state = request.get("protocol_state");
  if (state == "RCPT") return onRecipient(request, *engine);
  if (state == "END-OF-MESSAGE") {
    log::info("%s: policyd: instance=%s from=<%s> nrcpt=%s size=%s",
              request.get("queue_id").empty() ? "NOQUEUE" : log::sanitize(request.get("queue_id")).c_str(),
              log::sanitize(request.get("instance")).c_str(),
              log::sanitize(request.get("sender")).c_str(),
              log::sanitize(request.get("recipient_count")).c_str(),
              log::sanitize(request.get("size")).c_str());
    instance_.clear();
  }
  return formatReply("DUNNO");
}

Result<std::string> PolicydSession::onRecipient(const PolicyRequest& request,
                                                const policy::DecisionEngine& engine) {
  policy::MessageRequest req = toMessageRequest(request);
  if (req.recipients.empty()) return invalidArgument("RCPT request without recipient");
  const std::string qid = req.queue_id.empty() ? "NOQUEUE" : log::sanitize(req.queue_id);

  // Abuse limits count messages, not recipients: once per instance.
  if (req.instance.empty() || req.instance != instance_) {
    auto sender = engine.onSender(req);
    if (!sender.ok()) return sender.status();
    sender_decision_ = std::move(*sender);
    instance_ = req.instance;
  }
  Verdict verdict = Verdict::kAccept;
  policy::Reply reply;
  std::string rule;
  std::string contact = "none";
  if (sender_decision_.verdict == Verdict::kReject || sender_decision_.verdict == Verdict::kTempfail) {
    verdict = sender_decision_.verdict;
    reply = sender_decision_.reply;
    rule = sender_decision_.rule;
  } else {
    auto rcpt = engine.onRecipient(req, req.recipients.front());
    if (!rcpt.ok()) return rcpt.status();
    verdict = rcpt->verdict;
    reply = rcpt->reply;
    rule = rcpt->rule;
    contact = std::string(policy::contactStatusName(rcpt->contact));
    if (verdict == Verdict::kAccept && rcpt->contact == policy::ContactStatus::kQuarantined) {
      verdict = Verdict::kHold;
      reply.text = "first contact for " + rcpt->recipient;
    } else if (verdict == Verdict::kAccept && sender_decision_.verdict == Verdict::kHold) {
      verdict = Verdict::kHold;
      reply.text = sender_decision_.hold_reason;
      rule = sender_decision_.rule;
    }
  }
  log::info("%s: policyd: from=<%s> to=<%s> client=%s action=%s rule=%s contact=%s", qid.c_str(),
            log::sanitize(req.sender).c_str(), log::sanitize(req.recipients.front()).c_str(),
            log::sanitize(req.client.address).c_str(),
            std::string(policy::verdictName(verdict)).c_str(),
            rule.empty() ? "default" : rule.c_str(), contact.c_str());
  return actionFor(verdict, reply, verdict == Verdict::kHold ? "held by meshgate" : "");
}

}  // namespace meshgate::policyd
