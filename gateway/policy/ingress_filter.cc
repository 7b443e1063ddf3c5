// ingress_filter.cc - see ingress_filter.h.
#include "gateway/policy/ingress_filter.h"

#include "gateway/mail/address.h"
#include "gateway/policy/contact_catalog.h"
#include "gateway/policy/content_action.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {

using config::IngressPolicy;

std::optional<IngressPolicy> parseIngressPolicy(std::string_view name) {
  if (name == "open") return IngressPolicy::kOpen;
  if (name == "tag-unknown") return IngressPolicy::kTagUnknown;
  if (name == "quarantine-unknown") return IngressPolicy::kQuarantineUnknown;
  if (name == "contacts-only") return IngressPolicy::kContactsOnly;
  return std::nullopt;
}

IngressFilter::IngressFilter(std::shared_ptr<const config::Config> config, Store& store,
                             AccountCache* accounts)
    : config_(std::move(config)), store_(store), accounts_(accounts) {}

Result<AccountRecord> IngressFilter::account(const std::string& address) {
  if (accounts_) return accounts_->get(address, config_->store.account_cache_ttl);
  return store_.getAccount(address);
}

std::vector<std::string> IngressFilter::candidates(const MessageRequest& req) {
  std::vector<std::string> out;
  if (!req.sender.empty()) {
    const std::string sender = toLowerAscii(req.sender);
    const std::string domain = addressDomain(sender);
    // Contacts are stored with A-label domains (as senders arrive); entries that an earlier
    // version stored in U-label form (bücher.example) are matched too, each after its
    // A-label twin (an address before a domain either way).
    for (auto& k : storedContactKeys(sender)) out.push_back(std::move(k));
    if (!domain.empty()) {
      for (auto& k : storedContactKeys("@" + domain)) out.push_back(std::move(k));
    }
  }
  if (req.mesh_sender_udf && !req.mesh_sender_udf->empty()) {
    out.push_back("udf:" + *req.mesh_sender_udf);
  }
  return out;
}

bool IngressFilter::permits(std::string_view protocols, std::string_view protocol) {
  for (const auto& p : splitList(protocols, ',')) {
    if (p == "*" || equalsIgnoreCase(p, protocol)) return true;
  }
  return false;
}

std::string IngressFilter::rejectText(std::string_view recipient) const {
  std::string url = config_->ingress.contact_request_url;
  if (url.empty()) url = "https://mmm." + addressDomain(recipient) + "/";
  std::string out;
  const std::string& t = config_->ingress.reject_text;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '%' && i + 1 < t.size()) {
      if (t[i + 1] == 'r') {
        out += recipient;
        ++i;
        continue;
      }
      if (t[i + 1] == 'u') {
        out += url;
        ++i;
        continue;
      }
    }
    out += t[i];
  }
  // The enhanced status code written at the start of the configured text is the reply's.
  if (out.rfind("5.7.1 ", 0) == 0) out = out.substr(6);
  return out;
}

Status IngressFilter::onRecipient(const MessageRequest& req, RecipientDecision& rcpt) {
  const std::string domain = addressDomain(rcpt.recipient);
  if (domain.empty() || !config_->isLocalDomain(domain)) return Status();  // not ours

  // The account whose mail this address is, in the forms Postfix delivers to one account.
  auto lookup = [this](const std::string& address) {
    Result<AccountRecord> found = this->account(address);
    if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
      // bob+tag@example.com is bob@example.com's mail (Postfix's recipient_delimiter).
      auto plus = address.find('+');
      auto at = address.rfind('@');
      if (plus != std::string::npos && plus < at) {
        found = this->account(address.substr(0, plus) + address.substr(at));
      }
    }
    return found;
  };
  const std::string address = toLowerAscii(rcpt.recipient);
  Result<AccountRecord> account = lookup(address);
  if (!account.ok() && account.status().code() == StatusCode::kNotFound) {
    // bob%example.com@example.com is bob@example.com's mail (Postfix's allow_percent_hack,
    // on by default) when that domain is ours too.
    const auto at = address.rfind('@');
    const auto percent = address.rfind('%', at);
    if (percent != std::string::npos && percent < at) {
      std::string hacked =
          address.substr(0, percent) + "@" + address.substr(percent + 1, at - percent - 1);
      if (config_->isLocalDomain(addressDomain(hacked))) account = lookup(hacked);
    }
  }
  IngressPolicy policy = config_->ingress.default_policy;
  if (account.ok()) {
    rcpt.account = account->address;
    if (auto own = parseIngressPolicy(account->ingress_policy)) policy = *own;
  } else if (account.status().code() != StatusCode::kNotFound) {
    return account.status();  // the store is down: could not decide
  } else if (config_->ingress.unlisted_recipients == config::UnlistedRecipients::kPass) {
    return Status();
  }

  if (policy == IngressPolicy::kOpen) {
    rcpt.contact = ContactStatus::kNotApplicable;
    rcpt.rule = "ingress.open";
    return Status();
  }

  bool known = false;
  if (!rcpt.account.empty()) {
    auto found = store_.findContact(rcpt.account, candidates(req));
    if (!found.ok()) return found.status();
    if (found->has_value() && permits((*found)->protocols, req.protocol)) {
      known = true;
      rcpt.matched_entry = (*found)->entry_key;
    }
  }
  if (known) {
    rcpt.contact = ContactStatus::kKnownContact;
    rcpt.rule = "ingress.known-contact";
    return Status();
  }
  switch (policy) {
    case IngressPolicy::kOpen:
    case IngressPolicy::kTagUnknown:
      rcpt.contact = ContactStatus::kFirstContact;
      rcpt.rule = "ingress.tag-unknown";
      break;
    case IngressPolicy::kQuarantineUnknown:
      rcpt.contact = ContactStatus::kQuarantined;
      rcpt.rule = "ingress.quarantine-unknown";
      break;
    case IngressPolicy::kContactsOnly:
      rcpt.contact = ContactStatus::kFirstContact;
      rcpt.verdict = Verdict::kReject;
      rcpt.rule = "ingress.contacts-only";
      rcpt.reply = Reply{"550", "5.7.1", rejectText(rcpt.recipient)};
      break;
  }
  return Status();
}

Status IngressFilter::onMessage(const MessageRequest& req, Decision& decision) {
  std::vector<std::string> held;
  for (const auto& r : decision.recipients) {
    if (r.verdict == Verdict::kAccept && r.contact == ContactStatus::kQuarantined) {
      held.push_back(r.recipient);
    }
  }
  // Added to the reasons already given (a rate-limit hold must stay one: only a hold whose
  // every reason a recipient may judge can be released by that recipient).
  if (!held.empty()) {
    holdFor(decision, "ingress.quarantine-unknown", "first contact for " + joinList(held, ","));
  }
  return Status();
}

}  // namespace meshgate::policy
