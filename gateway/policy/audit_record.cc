// audit_record.cc - see audit_record.h.
#include "gateway/policy/audit_record.h"

#include "gateway/mail/codec.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

AuditRecord base(const MessageRequest& req, const std::string& node, int64_t now) {
  AuditRecord a;
  a.time = now;
  a.node = node;
  a.kind = "message";
  // From the network: stored as valid UTF-8 whatever the bytes (see sanitizeUtf8).
  a.message_id = mail::sanitizeUtf8(req.message_id);
  a.queue_id = req.queue_id.empty() ? "NOQUEUE" : mail::sanitizeUtf8(req.queue_id);
  a.sender = mail::sanitizeUtf8(req.sender);
  a.detail = "front_end=" + req.front_end + " client=" + req.client.address +
             (req.client.auth_user.empty() ? "" : " auth=" + req.client.auth_user);
  return a;
}

}  // namespace

AuditRecord auditRecordForMessage(const MessageRequest& req, const Decision& decision,
                                  const std::string& node, int64_t now) {
  AuditRecord a = base(req, node, now);
  std::vector<std::string> rcpts;
  std::vector<std::string> contacts;
  for (const auto& r : decision.recipients) {
    rcpts.push_back(r.recipient);
    contacts.push_back(r.recipient + ":" + std::string(contactStatusName(r.contact)));
  }
  a.recipients = mail::sanitizeUtf8(joinList(rcpts, ","));
  a.rule = decision.rule.empty() ? "default" : decision.rule;
  a.action = std::string(verdictName(decision.verdict));
  std::vector<std::string> checks;
  for (const auto& c : decision.checks) checks.push_back(c.name);
  a.signals = "contact=" + mail::sanitizeUtf8(joinList(contacts, ",")) +
              " checks=" + (checks.empty() ? "none" : joinList(checks, ","));
  if (!decision.hold_reason.empty()) a.detail += " hold=\"" + decision.hold_reason + "\"";
  return a;
}

AuditRecord auditRecordForRecipient(const MessageRequest& req, const RecipientDecision& rcpt,
                                    const std::string& node, int64_t now) {
  AuditRecord a = base(req, node, now);
  a.recipients = mail::sanitizeUtf8(rcpt.recipient);
  a.rule = rcpt.rule.empty() ? "default" : rcpt.rule;
  a.action = std::string(verdictName(rcpt.verdict));
  a.signals = "contact=" + mail::sanitizeUtf8(rcpt.recipient) + ":" +
              std::string(contactStatusName(rcpt.contact));
  return a;
}

}  // namespace meshgate::policy
