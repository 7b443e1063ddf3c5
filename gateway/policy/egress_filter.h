// NAME
//   egress_filter.h - egress rules for outbound mail (seed 7.2.2 "Mesh Services MUST apply
//   egress control"; issue 6 item 2).
//
// DESCRIPTION
//   egress.rules are evaluated in order for each recipient of an outbound message; the first
//   rule whose conditions all hold decides for that recipient (config::EgressMatch):
//     sender      sender_address / sender_domain / sender_group together: the envelope sender
//                 is one of the listed addresses, in one of the domains (or a subdomain), or a
//                 member of one of the groups
//     recipient   the same, for the recipient; and recipient_scope internal (a gateway domain
//                 or a subdomain) or external
//     labels      the message carries one of the labels: a Sensitivity: value, a Microsoft
//                 msip_labels "MSIP_Label_<GUID>_Enabled=true" entry, an RFC 7444 SIO-Label
//                 marking word, a word in a configured header, a subject marker ("[SECRET]"; in
//                 the Subject or the subject of an attached message)
//     attachments one has a detected type in attachment_types or a file name extension in
//                 attachment_extensions; one is larger than attachment_larger_than; all
//                 together are larger than attachments_total_larger_than
//     counts      min_recipients, min_external_recipients (accepted envelope recipients)
//   No rule: allow.
//
//   At RCPT (onRecipient) a rule that needs only sender and recipient conditions acts at once
//   when it is the first that can match: reject refuses that recipient before DATA (550 5.7.1).
//   When the first rule that can match also needs the content, nothing is decided until the
//   end of message, so first-match order is kept.
//
//   At end of message the actions of the rules that decided combine over the recipients:
//     allow               nothing
//     reject              the message is refused (550 5.7.1, reject_text; %r = the recipients
//                         the rule decided for, %n = the rule's name)
//     hold                the message is held (quarantine)
//     require-encryption  the check "encryption-required" (detail "<rule>:<recipients>"); when
//                         the front-end can deliver over the Mesh (MessageRequest
//                         .mesh_delivery_available) the recipients go to Decision.mesh_delivery
//                         and the front-end applies the rule per recipient; otherwise the
//                         rule's `else` (reject or hold) applies here
//     prefer-encryption   likewise ("encryption-preferred"); without Mesh delivery, or for a
//                         recipient without a Mesh profile, the mail goes by SMTP
//     add-header, remove-header (or add_headers / remove_headers on any rule): Decision
//                         .header_edits
//   If the body was cut before the end (milter.max_scan_bytes) a blocking rule's attachment
//   conditions count as met: mail that a rule would stop is not let through unexamined.
//
// ERRORS
//   None: no store access.
//
// THREAD SAFETY
//   Immutable after construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/policy/filter.h"

namespace meshgate::mail {
class MessageView;
}

namespace meshgate::policy {

// The reply of an egress rule: `text_template` (the rule's reject_text; "" = a default saying
// what happened) with %r = the recipients (at most three shown) and %n = the rule's name.
std::string egressReplyText(std::string_view text_template, std::string_view rule_name,
                            const std::vector<std::string>& rcpts, bool encryption);

class EgressFilter : public Filter {
 public:
  explicit EgressFilter(std::shared_ptr<const config::Config> config);
  std::string_view name() const override { return "egress"; }
  Status onRecipient(const MessageRequest& req, RecipientDecision& rcpt) override;
  Status onMessage(const MessageRequest& req, Decision& decision) override;

  // Names of the egress.labels the message carries, in configuration order.
  std::vector<std::string> labelsOf(const mail::MessageView& view) const;

 private:
  struct CompiledLabel {
    std::vector<std::string> sensitivity;      // lower-case
    std::vector<std::string> msip_label_ids;   // lower-case
    std::vector<std::string> sio_markings;     // folded
    std::string header_name;
    std::vector<std::string> header_values;    // folded
    std::vector<std::string> subject_markers;  // folded
  };
  struct CompiledRule {
    const config::EgressRule* rule = nullptr;
    std::vector<std::string> senders;     // addresses and domains, groups expanded
    std::vector<std::string> recipients;  // idem
    bool has_sender = false;
    bool has_recipient = false;
    std::vector<size_t> labels;  // indexes into labels_
    bool needs_content = false;
    bool blocking = false;  // reject, hold or require-encryption
  };
  struct Facts;

  static bool memberMatches(const std::vector<std::string>& members, std::string_view address);
  bool senderMatches(const CompiledRule& r, std::string_view sender) const;
  bool recipientMatches(const CompiledRule& r, std::string_view recipient) const;
  bool contentMatches(const CompiledRule& r, const Facts& facts) const;
  std::vector<bool> labelMask(const mail::MessageView& view) const;
  std::string replyText(const config::EgressRule& rule, const std::vector<std::string>& rcpts,
                        bool encryption) const;

  std::shared_ptr<const config::Config> config_;
  std::vector<CompiledLabel> labels_;
  std::vector<CompiledRule> rules_;
};

}  // namespace meshgate::policy
