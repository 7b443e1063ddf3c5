// NAME
//   policyd_session.h - one Postfix policy connection: requests -> core decisions -> actions.
//
// DESCRIPTION
//   Turns each policy request into the core MessageRequest and asks the DecisionEngine:
//     RCPT             abuse limits (once per message "instance"), then ingress control for
//                      the recipient: a contacts-only stranger is refused before DATA
//     END-OF-MESSAGE   per-message accounting (instance, recipient_count, size) in the log
//     anything else    DUNNO
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

  EngineSource engine_;
  // Per message (Postfix "instance"): the MAIL-stage decision, computed at the first RCPT.
  std::string instance_;
  policy::Decision sender_decision_;
};

policy::MessageRequest toMessageRequest(const PolicyRequest& request);

}  // namespace meshgate::policyd
