// impersonation_filter.cc - see impersonation_filter.h.
#include "gateway/policy/impersonation_filter.h"

#include <cctype>

#include "gateway/mail/mime.h"
#include "gateway/policy/content_action.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {

ImpersonationFilter::ImpersonationFilter(std::shared_ptr<const config::Config> config,
                                         Store& store, const Clock& clock)
    : config_(std::move(config)),
      accounts_(store, clock, config_->impersonation.account_cache_ttl) {
  const auto& s = config_->impersonation;
  std::vector<std::string> domains = config_->gateway.domains;
  domains.insert(domains.end(), s.protected_domains.begin(), s.protected_domains.end());
  for (const auto& d : domains) {
    mail::LookalikeDomain prepared = mail::LookalikeDomain::make(d);
    protected_ascii_.push_back(prepared.ascii());
    protected_prepared_.push_back(std::move(prepared));
  }
  for (const auto& n : s.protected_names) {
    for (auto& key : nameKeys(n)) protected_names_.emplace(std::move(key), n);
  }
  lookalike_options_.max_edit_distance = static_cast<size_t>(s.max_edit_distance);
}

std::vector<std::string> ImpersonationFilter::nameKeys(std::string_view display_name) {
  std::vector<std::string> keys;
  std::string whole = mail::displayNameKey(display_name);
  if (!whole.empty()) keys.push_back(whole);
  // "John Doe (CEO)", "John Doe <john@example.com>", "John Doe via Partner": the name a reader
  // sees first is the part before the decoration.
  std::string plain;
  int depth = 0;
  for (char c : display_name) {
    if (c == '(' || c == '<' || c == '[') {
      ++depth;
    } else if ((c == ')' || c == '>' || c == ']') && depth > 0) {
      --depth;
    } else if (depth == 0) {
      plain.push_back(c);
    }
  }
  std::vector<std::string> words;
  for (const auto& w : splitList(plain, ' ')) {
    if (w.find('@') == std::string::npos) words.push_back(w);
  }
  std::string stripped = mail::displayNameKey(joinList(words, " "));
  if (!stripped.empty() && stripped != whole) keys.push_back(stripped);
  return keys;
}

bool ImpersonationFilter::isProtectedDomain(std::string_view ascii_domain) const {
  for (const auto& p : protected_ascii_) {
    if (isSameOrSubdomain(ascii_domain, p)) return true;
  }
  return false;
}

std::string ImpersonationFilter::lookalikeOf(std::string_view domain) const {
  if (domain.empty()) return "";
  return lookalike_memo_.get(domain, [&]() -> std::string {
    mail::LookalikeDomain candidate = mail::LookalikeDomain::make(domain);
    if (isProtectedDomain(candidate.ascii())) return "";
    for (const auto& p : protected_prepared_) {
      if (mail::looksLike(candidate, p, lookalike_options_)) return p.ascii();
    }
    return "";
  });
}

void ImpersonationFilter::checkDomain(std::string_view domain, Decision& decision) const {
  const config::CheckSetting& s = config_->impersonation.lookalike_domain;
  std::string imitated = lookalikeOf(domain);
  if (imitated.empty()) return;
  std::string d = toLowerAscii(domain);
  addCheck(decision, "lookalike-domain", d + "~" + imitated);
  applyCheckAction(decision, s.action, "impersonation.lookalike-domain", s,
                   "sender domain " + d + " looks like " + imitated);
}

Status ImpersonationFilter::onSender(const MessageRequest& req, Decision& decision) {
  const auto& s = config_->impersonation;
  // Only a reject gains from deciding before DATA; the other actions need the message anyway,
  // and onMessage checks the envelope sender again.
  if (req.direction != Direction::kInbound || !s.lookalike_domain.enabled ||
      s.lookalike_domain.action != config::CheckAction::kReject) {
    return Status();
  }
  checkDomain(addressDomain(req.sender), decision);
  return Status();
}

Status ImpersonationFilter::checkDisplayNames(const MessageRequest& req, Decision& decision) {
  const config::CheckSetting& s = config_->impersonation.display_name;
  for (const auto& m : req.content->from()) {
    if (m.display_name.empty()) continue;
    if (!m.address.isNull() && isProtectedDomain(m.address.domain())) continue;  // our own
    std::string detail;
    // An address of ours (a subdomain too) written into the name: "ceo@example.com" or
    // "ceo@hr.example.com" <x@elsewhere.example>; or one that starts like ours, since that is
    // what the reader sees ("ceo@example.com.evil.example").
    const std::string lowered = toLowerAscii(m.display_name);
    for (size_t at = lowered.find('@'); at != std::string::npos && detail.empty();
         at = lowered.find('@', at + 1)) {
      size_t end = at + 1;
      while (end < lowered.size() && (std::isalnum(static_cast<unsigned char>(lowered[end])) ||
                                      lowered[end] == '.' || lowered[end] == '-')) {
        ++end;
      }
      std::string_view domain = std::string_view(lowered).substr(at + 1, end - at - 1);
      while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
      if (!domain.empty() && isProtectedDomain(domain)) detail = "address-in-name";
      for (const auto& p : protected_ascii_) {
        if (detail.empty() && domain.substr(0, p.size()) == p &&
            (domain.size() == p.size() ||
             !std::isalnum(static_cast<unsigned char>(domain[p.size()])))) {
          detail = "address-in-name";
        }
      }
    }
    const std::vector<std::string> keys =
        name_keys_memo_.get(m.display_name, [&] { return nameKeys(m.display_name); });
    for (const auto& key : keys) {
      if (!detail.empty()) break;
      if (auto it = protected_names_.find(key); it != protected_names_.end()) {
        detail = "name:" + it->second;
        break;
      }
      auto account = accounts_.accountFor(key);
      if (!account.ok()) return account.status();
      if (!account->empty()) detail = *account;
    }
    if (detail.empty()) continue;
    addCheck(decision, "display-name-impersonation", detail);
    applyCheckAction(decision, s.action, "impersonation.display-name", s,
                     "From name imitates " + detail);
  }
  return Status();
}

Status ImpersonationFilter::onMessage(const MessageRequest& req, Decision& decision) {
  const auto& s = config_->impersonation;
  if (req.direction != Direction::kInbound) return Status();
  if (s.lookalike_domain.enabled) {
    // Again here: a front-end without a MAIL FROM stage (or that did not carry the sender
    // decision over) still gets the check; addCheck lists it once.
    checkDomain(addressDomain(req.sender), decision);
    if (req.content != nullptr) {
      for (const auto& m : req.content->from()) {
        if (!m.address.isNull()) checkDomain(m.address.domain(), decision);
      }
    }
  }
  if (s.display_name.enabled && req.content != nullptr) {
    MESHGATE_RETURN_IF_ERROR(checkDisplayNames(req, decision));
  }
  return Status();
}

}  // namespace meshgate::policy
