// NAME
//   audit_record.h - the audit-log record of a decision (seed 7.2.4), built the same way by
//   every front-end.
//
// DESCRIPTION
//   One record per message decision (at end of message) and one per refusal before DATA (a
//   recipient or sender refused at RCPT/MAIL, queue id "NOQUEUE"). The store chains and hashes
//   them (gateway/util/audit_hash.h).
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "gateway/policy/decision.h"
#include "gateway/policy/request.h"
#include "gateway/ports/store.h"

namespace meshgate::policy {

AuditRecord auditRecordForMessage(const MessageRequest& req, const Decision& decision,
                                  const std::string& node, int64_t now);

AuditRecord auditRecordForRecipient(const MessageRequest& req, const RecipientDecision& rcpt,
                                    const std::string& node, int64_t now);

}  // namespace meshgate::policy
