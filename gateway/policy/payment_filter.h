// NAME
//   payment_filter.h - payment requests in inbound mail (seed 7.2.3 "Confirmation messages
//   requiring payments"): invoices, changed bank details, bank identifiers, gift cards and
//   crypto-currency wallets, from a first contact or with a Reply-To elsewhere.
//
// DESCRIPTION
//   At end of message, on inbound mail with content, scores the decoded Subject and every
//   text part (gateway/mail MessageView: transfer encodings and charsets already decoded,
//   HTML reduced to text): each phrase list of payment.phrases that occurs adds its weight
//   once, and so does each kind of identifier found (content_patterns.h: IBAN, BIC, routing
//   number, wallet; weights in payment.identifiers). A score of payment.min_score or more is a
//   payment request: the check "payment-request" with the names of what was found as detail.
//
//   The configured action (signal / tag / quarantine) applies when the request is suspicious:
//   an accepted recipient has no contact with the sender (first-contact or quarantined), or a
//   Reply-To: address is in a domain that is neither the From: domain nor related to it by
//   subdomain (then the check "reply-to-mismatch" is added as well). With
//   payment.apply_when = always, every payment request gets the action.
//
//   Phrases are compiled once per configuration into a PhraseMatcher (text_scan.h).
//
// ERRORS
//   None of its own: no store access. Mail without content (a policyd request) is skipped.
//
// THREAD SAFETY
//   Immutable after construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/policy/filter.h"
#include "gateway/policy/text_scan.h"

namespace meshgate::mail {
class MessageView;
}

namespace meshgate::policy {

class PaymentFilter : public Filter {
 public:
  explicit PaymentFilter(std::shared_ptr<const config::Config> config);
  std::string_view name() const override { return "payment"; }
  Status onMessage(const MessageRequest& req, Decision& decision) override;

  struct Finding {
    int score = 0;
    std::vector<std::string> found;  // phrase list and identifier names, in config order
  };
  // What the message contains, whatever its sender (for tests, the benchmark and the CLI).
  Finding examine(const mail::MessageView& view) const;

  // "reply.example" when a Reply-To: domain is unrelated to the From: domain, else "".
  static std::string replyToMismatch(const mail::MessageView& view);

 private:
  std::shared_ptr<const config::Config> config_;
  PhraseMatcher phrases_;
};

}  // namespace meshgate::policy
