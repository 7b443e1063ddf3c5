// NAME
//   ingress_filter.h - contact-catalog ingress control (seed 7.2.1: "Mesh Services MUST apply
//   user specified ingress control as specified in their contacts catalog").
//
// DESCRIPTION
//   At RCPT, for a recipient in a local domain with a meshgate account, looks the sender up in
//   the account's contact index (address, then @domain, then the verified Mesh identity; the
//   most specific entry decides) and checks that the entry permits the request's protocol.
//   Then applies the account's policy (or the configured default):
//     open                -> accept, no lookup, contact status "none"
//     tag-unknown         -> accept; known-contact or first-contact
//     quarantine-unknown  -> accept; a first contact is marked quarantined (held at EOM)
//     contacts-only       -> a first contact is rejected: 550 5.7.1 with ingress.reject_text
//   At end of message, any quarantined recipient holds the message (Postfix cannot hold a
//   copy for one recipient only; the hold reason names the recipients).
//
// ERRORS
//   A store failure is returned (the front-end tempfails); never treated as "unknown sender".
//
// THREAD SAFETY
//   Stateless after construction (the AccountCache, when given, is safe for concurrent use).
#pragma once

#include <memory>

#include "gateway/config/config.h"
#include "gateway/policy/account_cache.h"
#include "gateway/policy/filter.h"
#include "gateway/ports/store.h"

namespace meshgate::policy {

class IngressFilter : public Filter {
 public:
  // With `accounts`, account lookups go through it (kept store.account_cache_ttl); without, to
  // the store every time.
  IngressFilter(std::shared_ptr<const config::Config> config, Store& store,
                AccountCache* accounts = nullptr);
  std::string_view name() const override { return "ingress"; }
  Status onRecipient(const MessageRequest& req, RecipientDecision& rcpt) override;
  Status onMessage(const MessageRequest& req, Decision& decision) override;

  // The candidate keys for a sender, most specific first: "bob@example.net", "@example.net",
  // "udf:MB...". Exposed for the admin CLI's "why" output and tests.
  static std::vector<std::string> candidates(const MessageRequest& req);
  // True when a catalog entry's protocol list permits `protocol`.
  static bool permits(std::string_view protocols, std::string_view protocol);

 private:
  std::string rejectText(std::string_view recipient) const;
  Result<AccountRecord> account(const std::string& address);

  std::shared_ptr<const config::Config> config_;
  Store& store_;
  AccountCache* accounts_;
};

// Parses an ingress policy name as stored on an account; nullopt for "" or an unknown word.
std::optional<config::IngressPolicy> parseIngressPolicy(std::string_view name);

}  // namespace meshgate::policy
