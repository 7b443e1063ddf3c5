// NAME
//   brand_filter.h - brand accountability (seed 7.2.3.1, issue 6 item 4): outbound mail from a
//   brand's address gets a signed Mesh-Brand-Assertion; inbound assertions from trusted
//   gateways are believed; inbound mail that claims a brand without one is flagged.
//
// DESCRIPTION
//   Outbound (req.direction) at end of message: the From: address (else the envelope sender)
//   is one of a brand's `addresses`, or its domain is one of the brand's `domains` or a
//   subdomain. Then Decision.brand names the brand, its accountable organization and logo;
//   the milter signs the assertion with the gateway key over the headers as delivered and
//   inserts it at the top (brand_assertion.h). The check "brand-assertion" (detail: the brand)
//   is recorded. A sender notice is due when brands.sender_notice is on and the store counter
//   "brand-notice:<sender>" for the current interval (one day by default) was 0: at most one
//   per sender address per interval, across nodes sharing the store.
//
//   Inbound at end of message: every Mesh-Brand-Assertion field is parsed and verified
//   against the trust list (brands.trusted_gateways, by key id), the headers, the From:
//   address and max_assertion_age. The fields that verify are kept (Decision.brand.
//   keep_incoming), the first names the verified brand (check "brand-verified", detail
//   "<brand>@<gateway name>"; the security signal carries brand=); the milter deletes all
//   others, last first. Mail that claims a brand of brands.list (From: display name contains
//   the brand's name as whole words, confusables folded; From: domain is the brand's domain,
//   a subdomain, or looks like one) without a verified assertion for that brand gets the check
//   "brand-unverified" (detail "<brand>:<display-name|domain|lookalike-domain>") and the
//   action of brands.unverified_claim (rule "brands.unverified-claim").
//
// ERRORS
//   setupStatus(): a trusted key file that cannot be read, or is not a signature key, names
//   the file and the key to fix; the runtime refuses to start or reload with it. onMessage
//   returns the store's error when the notice counter cannot be read (the front-end's error
//   table applies, as for every store failure).
//
// THREAD SAFETY
//   Immutable after construction; the Store and Clock are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/mail/lookalike.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/filter.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"

namespace meshgate::policy {

class BrandFilter : public Filter {
 public:
  BrandFilter(std::shared_ptr<const config::Config> config, Store& store, const Clock& clock);
  std::string_view name() const override { return "brands"; }
  Status onMessage(const MessageRequest& req, Decision& decision) override;

  const Status& setupStatus() const { return setup_; }

  // The brand `address` (lower-case) speaks for, or nullptr.
  const config::Brand* brandOfAddress(std::string_view address) const;
  // Whether the envelope sender `sender` (lower-case) may send as `brand`: its `senders` and
  // `sender_domains`, or, with neither set, anyone in the gateway's or the brand's domains.
  bool maySendAs(const config::Brand& brand, std::string_view sender) const;

 private:
  struct Trusted {
    std::string name;
    mesh::PublicKey key;
  };
  struct Protected {
    const config::Brand* brand;
    std::string name_key;  // displayNameKey(brand name)
    std::vector<mail::LookalikeDomain> domains;
  };

  Status onOutbound(const MessageRequest& req, Decision& decision);
  void onInbound(const MessageRequest& req, Decision& decision) const;
  // Which brand the From: claims and how ("" if none).
  std::pair<const config::Brand*, std::string> claimedBrand(const MessageRequest& req) const;

  std::shared_ptr<const config::Config> config_;
  Store& store_;
  const Clock& clock_;
  std::vector<Trusted> trusted_;
  std::vector<Protected> protected_;
  mail::LookalikeOptions lookalike_options_;
  Status setup_;
};

// The notice as an RFC 5322 message for `sendmail -i -f <from> -- <to>`: From, To, Subject
// (RFC 2047 base64 when not ASCII), Auto-Submitted: auto-generated, UTF-8 text/plain.
std::string senderNoticeMessage(const SenderNotice& notice);

}  // namespace meshgate::policy
