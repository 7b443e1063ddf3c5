// NAME
//   decision.h - what the core decided about one recipient or one message.
//
// DESCRIPTION
//   A Decision is a policy outcome, never an error: "reject this recipient with 550 5.7.1",
//   "accept and add this signal", "hold". When the core cannot decide (store down, timeout) it
//   returns a Status instead, and each front-end maps that through its own error table.
//
//   Contact status and checks feed the security signal (seed 7.2.3) that the milter signs and
//   inserts; rule names ("ingress.contacts-only", "abuse.per-sender") appear in logs, the audit
//   log and metrics.
//
// THREAD SAFETY
//   Value types.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshgate::policy {

enum class Verdict {
  kAccept,    // go on (for a recipient) / deliver (for a message)
  kReject,    // permanent refusal (5xx)
  kTempfail,  // temporary refusal (4xx): the client retries
  kHold,      // accept, then put in the quarantine (Postfix hold queue)
  kDiscard,   // accept and drop silently (only where an administrator's rule says so)
};

// The sender's standing with a recipient, from the recipient's contacts catalog.
enum class ContactStatus {
  kNotApplicable,  // not a local recipient (outbound, or relayed)
  kKnownContact,   // the catalog has an entry that permits this sender over this protocol
  kFirstContact,   // no permitting entry
  kQuarantined,    // first contact, held
};

std::string_view verdictName(Verdict v);
std::string_view contactStatusName(ContactStatus s);

// An SMTP reply: "550", "5.7.1", text. Empty code = the front-end's default for the verdict.
struct Reply {
  std::string code;
  std::string enhanced;
  std::string text;
};

struct RecipientDecision {
  std::string recipient;
  Verdict verdict = Verdict::kAccept;
  ContactStatus contact = ContactStatus::kNotApplicable;
  std::string rule;   // which rule decided; "" = default accept
  Reply reply;
  std::string account;         // the local account, "" if not local
  std::string matched_entry;   // catalog entry key that matched, if any
};

struct HeaderEdit {
  enum class Kind { kInsertTop, kAdd, kRemoveAll } kind = Kind::kAdd;
  std::string name;
  std::string value;
};

// A check that fired, for the security signal and the logs: name ("payment-request",
// "reply-to-mismatch", "display-name-impersonation", "lookalike-domain", "brand-verified") and
// a short detail.
struct CheckResult {
  std::string name;
  std::string detail;
};

// A reminder to someone who sent mail as a brand (brand_filter.h); the front-end delivers it.
struct SenderNotice {
  std::string to;       // the sender's address
  std::string from;     // the notice's sender (brands.sender_notice.from or postmaster@...)
  std::string subject;  // placeholders already filled in
  std::string text;
};

// What brand accountability (seed 7.2.3.1) decided for one message.
struct BrandOutcome {
  // Outbound: sign a Mesh-Brand-Assertion for this brand ("" = the mail speaks for none).
  std::string assert_brand;
  std::string organization;
  std::string logo_url;
  std::string address;  // the From: address the brand speaks through
  // Inbound: the brand a trusted gateway asserted, and that gateway's trust-list name.
  std::string verified;
  std::string verified_by;
  // Inbound: occurrences (1-based, among Mesh-Brand-Assertion fields) that verified; every
  // other incoming copy is deleted.
  std::vector<size_t> keep_incoming;
  std::optional<SenderNotice> notice;
};

// Recipients an egress encryption rule sends over the Mesh (issue 7 item 1). The front-end
// resolves each recipient's profile, posts the message, and removes the SMTP copy only after
// the recipient's service accepted it.
struct MeshDeliveryRequirement {
  std::string rule;                     // "egress.<name>"
  std::vector<std::string> recipients;  // envelope recipients, as the request has them
  // No Mesh profile: kReject / kHold the message (require-encryption's `else`), or kAccept =
  // ordinary SMTP for that recipient (prefer-encryption).
  Verdict no_profile = Verdict::kReject;
  std::string reject_text;        // the rule's reply when no_profile is kReject
  bool cleartext_fallback = false;  // a failed delivery sends the SMTP copy instead of deferring
};

struct Decision {
  Verdict verdict = Verdict::kAccept;
  std::string rule;
  Reply reply;
  std::vector<RecipientDecision> recipients;
  std::vector<CheckResult> checks;
  std::vector<HeaderEdit> header_edits;
  std::string subject_tag;   // prepended to Subject: when not empty
  std::string hold_reason;   // set with Verdict::kHold
  BrandOutcome brand;
  std::vector<MeshDeliveryRequirement> mesh_delivery;

  // Moves the message verdict to `v` if it is more severe than the current one
  // (accept < hold < tempfail < reject; discard only from an explicit rule).
  void escalate(Verdict v, std::string_view rule_name, Reply r = {});
};

}  // namespace meshgate::policy
