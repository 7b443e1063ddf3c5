// The audit records the milter and policyd write: text from the network arrives as any bytes,
// and PostgreSQL refuses invalid UTF-8 in a text column - a record it refuses would tempfail
// the message on every retry.
#include "gateway/policy/audit_record.h"

#include <gtest/gtest.h>

#include "gateway/mail/codec.h"

namespace meshgate::policy {
namespace {

TEST(AuditRecordText, EightBitBytesFromTheNetworkAreStoredAsValidUtf8) {
  MessageRequest req;
  req.message_id = "<caf\xE9@example.net>";  // Latin-1, as old clients send it
  req.sender =
      "b\xFF"
      "ob@example.net";
  req.queue_id = "4XYZ";
  Decision d;
  RecipientDecision r;
  r.recipient = "al\xE9@example.com";
  d.recipients.push_back(r);
  for (const AuditRecord& a :
       {auditRecordForMessage(req, d, "mx1", 1), auditRecordForRecipient(req, r, "mx1", 1)}) {
    EXPECT_TRUE(mail::isValidUtf8(a.message_id)) << a.message_id;
    EXPECT_TRUE(mail::isValidUtf8(a.sender)) << a.sender;
    EXPECT_TRUE(mail::isValidUtf8(a.recipients)) << a.recipients;
    EXPECT_TRUE(mail::isValidUtf8(a.signals)) << a.signals;
    EXPECT_EQ(a.message_id, "<caf\xEF\xBF\xBD@example.net>");  // the byte marked, not dropped
  }
}

}  // namespace
}  // namespace meshgate::policy
