// NAME
//   impersonation_filter.h - inbound mail that imitates the organization: a From: display name
//   equal to an internal account's or a protected name, and sender domains that look like a
//   protected domain (issue 5 item 6).
//
// DESCRIPTION
//   Inbound mail only (req.direction). Two checks, each with its own action
//   (impersonation.display_name / .lookalike_domain: signal, tag, quarantine, reject):
//
//   display-name-impersonation  a From: mailbox whose address is outside the protected
//     domains (gateway.domains, impersonation.protected_domains, and their subdomains) has a
//     display name that sameDisplayName() considers equal (case, whitespace, "Last, First",
//     confusables: "J0HN  DOE") to an account's display name (AccountNameIndex, refreshed
//     every account_cache_ttl) or to one of impersonation.protected_names. The name is also
//     compared with parenthesized parts and addresses removed ("John Doe (john@example.com)"),
//     and a display name that contains an address in a protected domain counts as well.
//     Detail: the account's address, or "name:<protected name>", or "address-in-name".
//
//   lookalike-domain  the envelope sender's domain (with action reject already at MAIL FROM,
//     so that the reject happens before DATA) or a From: domain is not a protected domain nor a subdomain of one,
//     but looksLike() one (UTS #39 skeleton, or edit distance <= max_edit_distance with the
//     label rules of gateway/mail/lookalike.h). Detail: "<domain>~<protected domain>".
//
//   Rules: "impersonation.display-name", "impersonation.lookalike-domain".
//
// ERRORS
//   Reading account names can fail (store down): the Status is returned, the front-end
//   tempfails. The name check asks the store only for mail from outside with a display name.
//
// THREAD SAFETY
//   The protected lists are immutable after construction; AccountNameIndex locks itself.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/mail/lookalike.h"
#include "gateway/policy/account_names.h"
#include "gateway/policy/filter.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"
#include "gateway/util/bounded_memo.h"

namespace meshgate::policy {

class ImpersonationFilter : public Filter {
 public:
  ImpersonationFilter(std::shared_ptr<const config::Config> config, Store& store,
                      const Clock& clock);
  std::string_view name() const override { return "impersonation"; }
  Status onSender(const MessageRequest& req, Decision& decision) override;
  Status onMessage(const MessageRequest& req, Decision& decision) override;

  // The protected domain `domain` imitates, or "" (also "" for a protected domain itself).
  std::string lookalikeOf(std::string_view domain) const;
  // The keys a display name is compared under: as written, and without "(...)", "<...>" and
  // address-like words. Empty keys are left out.
  static std::vector<std::string> nameKeys(std::string_view display_name);

 private:
  bool isProtectedDomain(std::string_view ascii_domain) const;
  void checkDomain(std::string_view domain, Decision& decision) const;
  Status checkDisplayNames(const MessageRequest& req, Decision& decision);

  std::shared_ptr<const config::Config> config_;
  std::vector<std::string> protected_ascii_;  // lower-case A-labels
  std::vector<mail::LookalikeDomain> protected_prepared_;
  std::unordered_map<std::string, std::string> protected_names_;  // key -> name as written
  mail::LookalikeOptions lookalike_options_;
  AccountNameIndex accounts_;
  // Verdicts and keys of senders seen before (ICU work per message otherwise; the protected
  // sets are fixed for this filter's lifetime, a new configuration builds a new filter).
  mutable BoundedMemo<std::string> lookalike_memo_;
  BoundedMemo<std::vector<std::string>> name_keys_memo_;
};

}  // namespace meshgate::policy
