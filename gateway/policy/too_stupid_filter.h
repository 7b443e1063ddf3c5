// NAME
//   too_stupid_filter.h - "mail too stupid to send": outbound mistakes caught before they leave
//   (issue 6 item 3).
//
// DESCRIPTION
//   Outbound mail only, at end of message; each check is switched and acted on separately
//   (too_stupid.<check>.enabled / .action: signal, quarantine or reject with a text that
//   tells the sender what to fix; no subject tag, which the recipients would see):
//
//   reply-all            a reply (In-Reply-To:, References:, or a Subject starting with Re:,
//                        Aw:, Antw:, Sv:, Vs:, R:, Rif:, Réf:, Res:) to more than
//                        reply_all.max_external_recipients external recipients.
//   missing-attachment   the new text (Subject and text parts, without quoted lines "> ...",
//                        what follows an "-----Original Message-----"-style separator or an
//                        Outlook "From:/Sent:" block, a signature after "-- ", and disclaimer
//                        paragraphs) mentions an attachment in one of the configured languages,
//                        and the message has no attachment (inline images without a file
//                        name are not attachments).
//   secret               a private key block, a "password: x" line, or an API token in any
//                        text part or the Subject (content_patterns.h), or an attachment named
//                        like a key file (id_rsa, id_ed25519, *.key, *.p12, *.pfx, *.ppk).
//   card-number          a payment card number (Luhn, issuer range, layout) in the text of a
//                        message with an external recipient.
//   lookalike-recipient  an external recipient domain that looks like (gateway/mail
//                        lookalike.h) but is not one the sender has written to before, or a
//                        gateway domain. The sender's history is a CorrespondentLog in the
//                        store (correspondents.h): read once per message with external
//                        recipients, and each new external domain is recorded when the message
//                        leaves accepted (so a flagged domain never becomes "known").
//   Rules: "too-stupid.<check>"; checks carry the same names, with a short detail (never the
//   secret or the number itself).
//
// ERRORS
//   Reading or writing the sender's history can fail (store down): the Status is returned and
//   the front-end tempfails.
//
// THREAD SAFETY
//   Word lists are immutable after construction; the cache of prepared domains is locked.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/mail/lookalike.h"
#include "gateway/policy/correspondents.h"
#include "gateway/policy/filter.h"
#include "gateway/policy/text_scan.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"

namespace meshgate::mail {
class MessageView;
}

namespace meshgate::policy {

class TooStupidFilter : public Filter {
 public:
  TooStupidFilter(std::shared_ptr<const config::Config> config, Store& store, const Clock& clock);
  std::string_view name() const override { return "too-stupid"; }
  Status onMessage(const MessageRequest& req, Decision& decision) override;

  static bool isReply(const mail::MessageView& view);
  // The text a sender wrote in this message: quoted lines, forwarded blocks, signatures and
  // disclaimers removed.
  static std::string newText(std::string_view text);
  static bool hasRealAttachment(const mail::MessageView& view);
  // The language whose attachment word the new text uses, or "".
  std::string mentionedAttachment(const mail::MessageView& view) const;
  // The kind of secret found ("private-key", "aws-access-key", "key-file", ...), or "".
  std::string secretIn(const mail::MessageView& view) const;

 private:
  void act(Decision& decision, const config::CheckSetting& setting, std::string_view check,
           std::string_view detail) const;
  // The domain prepared for looksLike (ICU skeleton and U-label), from a cache: a sender's
  // history is compared on every message, and preparing it is most of the check's cost.
  std::shared_ptr<const mail::LookalikeDomain> prepared(const std::string& domain);

  std::shared_ptr<const config::Config> config_;
  CorrespondentLog correspondents_;
  PhraseMatcher attachment_words_;
  std::vector<std::string> languages_;  // category -> language
  PhraseMatcher disclaimer_words_;
  std::vector<std::shared_ptr<const mail::LookalikeDomain>> own_domains_;
  std::mutex prepared_mu_;
  // Cleared when it reaches kMaxPrepared entries (a bound, not an LRU: refilling is cheap).
  std::unordered_map<std::string, std::shared_ptr<const mail::LookalikeDomain>> prepared_;
};

}  // namespace meshgate::policy
