// policyd_session.cc - see policyd_session.h.
#include "policy/policyd/policyd_session.h"

#include <algorithm>
#include <atomic>
#include <iterator>

#include "gateway/mail/address.h"
#include "gateway/policy/direction.h"
#include "gateway/util/log.h"
#include "gateway/util/metrics.h"
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
  // check_policy_service { inet:..., policy_context=ORIGINATING } on the submission service
  // plays the part of the milter's {daemon_name} (conf/postfix/master.cf).
  req.client.daemon_name = r.get("policy_context");
  req.queue_id = r.get("queue_id");
  req.instance = r.get("instance");
  req.sender = mail::canonicalEnvelopeAddress(r.get("sender"));
  if (!r.get("recipient").empty()) {
    req.recipients.push_back(mail::canonicalEnvelopeAddress(r.get("recipient")));
  }
  const std::string& size = r.get("size");
  req.size = 0;
  for (char c : size) {
    if (c < '0' || c > '9' || req.size > (int64_t{1} << 50)) break;
    req.size = req.size * 10 + (c - '0');
  }
  return req;
}

policy::MessageRequest toMessageRequest(const PolicyRequest& request,
                                        const config::Config& config) {
  policy::MessageRequest req = toMessageRequest(request);
  req.direction = policy::classifyDirection(config, req.client);
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
  if (state == "RCPT") {
    static metrics::Histogram& rcpt_latency = metrics::histogram(
        "meshgate_decision_seconds", "Time to decide, by front-end and protocol stage.",
        {{"frontend", "policyd"}, {"stage", "rcpt"}});
    metrics::ScopedTimer timer(rcpt_latency);
    return onRecipient(request, *engine);
  }
  if (state == "END-OF-MESSAGE") return onEndOfMessage(request, *engine);
  // Postfix's other stages: nothing is decided there (ingress control needs the recipient).
  // Asked at one of them, the service is in the wrong restriction list; said once per process.
  static constexpr std::string_view kOtherStates[] = {"CONNECT", "EHLO", "HELO", "MAIL",
                                                      "DATA",    "BDAT", "VRFY", "ETRN"};
  if (std::find(std::begin(kOtherStates), std::end(kOtherStates), state) ==
      std::end(kOtherStates)) {
    // Not Postfix's policy protocol: no answer, so that Postfix applies its default (defer).
    return invalidArgument("protocol_state=" + log::sanitize(state) +
                           " (expected RCPT or END-OF-MESSAGE)");
  }
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    log::warning(
        "policyd: asked at protocol_state=%s, where meshgate decides nothing; put "
        "check_policy_service in smtpd_recipient_restrictions (and "
        "smtpd_end_of_data_restrictions)",
        state.c_str());
  }
  return formatReply("DUNNO");
}

Result<std::string> PolicydSession::onRecipient(const PolicyRequest& request,
                                                const policy::DecisionEngine& engine) {
  policy::MessageRequest req = toMessageRequest(request, engine.config());
  if (req.recipients.empty()) return invalidArgument("RCPT request without recipient");
  const std::string qid = req.queue_id.empty() ? "NOQUEUE" : log::sanitize(req.queue_id);

  // Abuse limits count messages, not recipients: once per instance.
  if (req.instance.empty() || req.instance != instance_) {
    auto sender = engine.onSender(req);
    if (!sender.ok()) return sender.status();
    sender_decision_ = std::move(*sender);
    instance_ = req.instance;
    accepted_ = rejected_ = 0;
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
  if (verdict == Verdict::kReject || verdict == Verdict::kTempfail) {
    ++rejected_;
  } else {
    ++accepted_;
  }
  metrics::counter("meshgate_decisions_total", "Message decisions, by front-end and action.",
                   {{"frontend", "policyd"}, {"action", std::string(policy::verdictName(verdict))}})
      .inc();
  log::info("%s: policyd: from=<%s> to=<%s> client=%s action=%s rule=%s contact=%s direction=%s",
            qid.c_str(), log::sanitize(req.sender).c_str(),
            log::sanitize(req.recipients.front()).c_str(),
            log::sanitize(req.client.address).c_str(),
            std::string(policy::verdictName(verdict)).c_str(),
            rule.empty() ? "default" : rule.c_str(), contact.c_str(),
            std::string(policy::directionName(req.direction)).c_str());
  return actionFor(verdict, reply, verdict == Verdict::kHold ? "held by meshgate" : "");
}

Result<std::string> PolicydSession::onEndOfMessage(const PolicyRequest& request,
                                                   const policy::DecisionEngine& engine) {
  // One accounting line per message: Postfix's own count of accepted recipients
  // (recipient_count) beside what this connection answered at RCPT for the same instance.
  policy::MessageRequest req = toMessageRequest(request, engine.config());
  const bool same = !req.instance.empty() && req.instance == instance_;
  int64_t nrcpt = 0;
  for (char c : request.get("recipient_count")) {
    if (c < '0' || c > '9' || nrcpt > 1'000'000'000) break;
    nrcpt = nrcpt * 10 + (c - '0');
  }
  log::info("%s: policyd: accounting instance=%s from=<%s> client=%s sasl_username=%s "
            "direction=%s nrcpt=%lld size=%lld rcpt_accepted=%s rcpt_refused=%s",
            req.queue_id.empty() ? "NOQUEUE" : log::sanitize(req.queue_id).c_str(),
            req.instance.empty() ? "-" : log::sanitize(req.instance).c_str(),
            log::sanitize(req.sender).c_str(),
            req.client.address.empty() ? "-" : log::sanitize(req.client.address).c_str(),
            req.client.auth_user.empty() ? "-" : log::sanitize(req.client.auth_user).c_str(),
            std::string(policy::directionName(req.direction)).c_str(),
            static_cast<long long>(nrcpt), static_cast<long long>(req.size),
            same ? std::to_string(accepted_).c_str() : "-",
            same ? std::to_string(rejected_).c_str() : "-");
  instance_.clear();
  sender_decision_ = policy::Decision{};
  accepted_ = rejected_ = 0;
  return formatReply("DUNNO");
}

}  // namespace meshgate::policyd
