// NAME
//   policyd_session.h - one Postfix policy connection: requests -> core decisions -> actions.
//
// DESCRIPTION
//   Turns each policy request into the core MessageRequest and asks the DecisionEngine:
//     RCPT             abuse limits (once per message "instance"), then ingress control for
//                      the recipient: a contacts-only stranger is refused before DATA
//     END-OF-MESSAGE   per-message accounting: one log line with instance, sender, client,
//                      SASL user, direction, recipient_count, size, and how many recipients
//                      this connection accepted and refused at RCPT for that instance
//     anything else    DUNNO
//   Direction (egress rules at RCPT: a blocked recipient domain is refused before DATA) comes
//   from sasl_username, policy_context (the milter's {daemon_name}) and client_address through
//   policy::classifyDirection.
//
//   Decisions map to access(5) actions through ONE table (actionFor): reject -> "550 5.7.1
//   text", tempfail -> "451 4.7.1 text", hold -> HOLD, discard -> DISCARD, accept -> DUNNO
//   (never OK: an OK would skip the restrictions that follow in Postfix). An error ("could not
//   decide") is returned as a Status: the server then logs it, sends NO reply and disconnects,
//   and Postfix applies smtpd_policy_service_default_action (451 4.3.5 by default).
//
// THREAD SAFETY
//   One session per connection; not shared.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "gateway/policy/engine.h"
#include "policy/policyd/policy_protocol.h"

namespace meshgate::policyd {

using EngineSource = std::function<std::shared_ptr<const policy::DecisionEngine>()>;

class PolicydSession {
 public:
  explicit PolicydSession(EngineSource engine) : engine_(std::move(engine)) {}

  // The reply to send ("action=...\n\n"), or an error after which the connection is closed.
  Result<std::string> handle(const PolicyRequest& request);

  // The single decision -> action table.
  static std::string actionFor(policy::Verdict verdict, const policy::Reply& reply,
                               std::string_view default_text);

 private:
  Result<std::string> onRecipient(const PolicyRequest& request,
                                  const policy::DecisionEngine& engine);
  Result<std::string> onEndOfMessage(const PolicyRequest& request,
                                     const policy::DecisionEngine& engine);

  EngineSource engine_;
  // Per message (Postfix "instance"): the MAIL-stage decision, computed at the first RCPT.
  std::string instance_;
  policy::Decision sender_decision_;
  int accepted_ = 0;  // recipients of instance_ answered DUNNO/HOLD
  int rejected_ = 0;  // ... and refused (reject or tempfail)
};

// The core request for one policy request (no direction: the configuration decides it).
policy::MessageRequest toMessageRequest(const PolicyRequest& request);
// The same with req.direction from policy::classifyDirection.
policy::MessageRequest toMessageRequest(const PolicyRequest& request, const config::Config& config);

}  // namespace meshgate::policyd
