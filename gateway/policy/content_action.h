// NAME
//   content_action.h - how the content checks (payment, impersonation, egress, too-stupid)
//   record a check and apply their configured action to a Decision, the same way each; and
//   the two facts about a message every one of them asks.
//
// DESCRIPTION
//   addCheck records a fired check once (a check seen at MAIL FROM and again at end of message
//   is listed once). applyCheckAction turns a config::CheckAction into the decision:
//     signal      nothing more (the check is already listed)
//     tag         the subject tag is added to Decision.subject_tag (each tag once)
//     quarantine  Verdict::kHold (escalate: never lowers a reject), with a hold reason
//     reject      Verdict::kReject with 550 5.7.1 and the configured text
//
//   isInternalDomain: a gateway domain or a subdomain of one (mail.example.com is the
//   organization's when example.com is). acceptedRecipients: at end of message, the recipients
//   that RCPT accepted (Decision.recipients), or the request's when no front-end kept them.
//
// ERRORS
//   None.
//
// THREAD SAFETY
//   Functions of their arguments only.
#pragma once

#include <string>
#include <string_view>

#include <vector>

#include "gateway/config/config.h"
#include "gateway/policy/decision.h"
#include "gateway/policy/request.h"

namespace meshgate::policy {

void addCheck(Decision& decision, std::string_view name, std::string_view detail);
void addSubjectTag(Decision& decision, std::string_view tag);
void holdFor(Decision& decision, std::string_view rule, std::string_view reason);

void applyCheckAction(Decision& decision, config::CheckAction action, std::string_view rule,
                      const config::CheckSetting& setting, std::string_view hold_reason);

bool isInternalDomain(const config::Config& config, std::string_view domain);
bool isSameOrSubdomain(std::string_view domain, std::string_view parent);
std::vector<std::string> acceptedRecipients(const MessageRequest& req, const Decision& decision);

}  // namespace meshgate::policy
