// payment_filter.cc - see payment_filter.h.
#include "gateway/policy/payment_filter.h"

#include "gateway/mail/mime.h"
#include "gateway/policy/content_action.h"
#include "gateway/policy/content_patterns.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {

PaymentFilter::PaymentFilter(std::shared_ptr<const config::Config> config)
    : config_(std::move(config)) {
  const auto& lists = config_->payment.phrases;
  for (size_t i = 0; i < lists.size() && i < PhraseMatcher::kMaxCategories; ++i) {
    for (const auto& w : lists[i].words) phrases_.add(w, static_cast<unsigned>(i));
  }
}

PaymentFilter::Finding PaymentFilter::examine(const mail::MessageView& view) const {
  const config::PaymentSection& p = config_->payment;
  uint64_t lists = 0;
  bool iban = false, bic = false, routing = false, wallet = false;
  std::vector<std::string_view> words;
  auto look = [&](std::string_view text) {
    if (text.empty()) return;
    std::string folded = foldForMatching(text);
    const std::string numbers = detectorText(text);
    if (!phrases_.empty()) {
      splitWords(folded, &words);
      lists |= phrases_.scanWords(words);
    }
    if (p.iban_weight > 0 && !iban) iban = findIban(numbers).has_value();
    // BICs and routing numbers only count next to their label: without the label anywhere in
    // the text there is nothing to scan for.
    if (p.bic_weight > 0 && !bic &&
        (folded.find("bic") != std::string::npos || folded.find("swift") != std::string::npos)) {
      bic = findBic(numbers).has_value();
    }
    if (p.routing_number_weight > 0 && !routing &&
        (folded.find("routing") != std::string::npos || folded.find("aba") != std::string::npos ||
         folded.find("rtn") != std::string::npos || folded.find("ach") != std::string::npos ||
         folded.find("transit") != std::string::npos)) {
      routing = findRoutingNumber(numbers).has_value();
    }
    if (p.crypto_wallet_weight > 0 && !wallet) wallet = findCryptoWallet(numbers).has_value();
  };
  look(view.subject());
  for (const auto& part : view.textParts()) look(part.text);

  Finding f;
  for (size_t i = 0; i < p.phrases.size() && i < PhraseMatcher::kMaxCategories; ++i) {
    if (lists & (uint64_t{1} << i)) {
      f.score += p.phrases[i].weight;
      f.found.push_back(p.phrases[i].name);
    }
  }
  auto add = [&](bool hit, int weight, const char* name) {
    if (hit && weight > 0) {
      f.score += weight;
      f.found.emplace_back(name);
    }
  };
  add(iban, p.iban_weight, "iban");
  add(bic, p.bic_weight, "bic");
  add(routing, p.routing_number_weight, "routing-number");
  add(wallet, p.crypto_wallet_weight, "crypto-wallet");
  return f;
}

std::string PaymentFilter::replyToMismatch(const mail::MessageView& view) {
  std::string from;
  for (const auto& m : view.from()) {
    if (!m.address.isNull() && !m.address.domain().empty()) {
      from = m.address.domain();
      break;
    }
  }
  if (from.empty()) return "";
  for (const auto& r : view.replyTo()) {
    const std::string& d = r.address.domain();
    if (d.empty()) continue;
    // Replies to billing.example.com for mail from example.com stay with one organization;
    // a one-label "parent" (a top-level domain) is no organization.
    bool related = isSameOrSubdomain(d, from) ||
                   (d.find('.') != std::string::npos && isSameOrSubdomain(from, d));
    if (!related) return d;
  }
  return "";
}

Status PaymentFilter::onMessage(const MessageRequest& req, Decision& decision) {
  if (req.direction != Direction::kInbound || req.content == nullptr) return Status();
  const config::PaymentSection& p = config_->payment;
  Finding f = examine(*req.content);
  if (f.score < p.min_score) return Status();
  addCheck(decision, "payment-request", joinList(f.found, ","));

  bool first_contact = false;
  for (const auto& r : decision.recipients) {
    if (r.verdict != Verdict::kAccept) continue;
    if (r.contact == ContactStatus::kFirstContact || r.contact == ContactStatus::kQuarantined) {
      first_contact = true;
    }
  }
  std::string mismatch = replyToMismatch(*req.content);
  if (!mismatch.empty()) addCheck(decision, "reply-to-mismatch", mismatch);
  if (p.apply_when == config::PaymentApplyWhen::kSuspicious && !first_contact && mismatch.empty()) {
    return Status();
  }
  config::CheckSetting setting;
  setting.subject_tag = p.subject_tag;
  std::string why = first_contact     ? "payment request from a first contact"
                    : !mismatch.empty() ? "payment request with Reply-To " + mismatch
                                        : "payment request";
  applyCheckAction(decision, p.action, "payment.request", setting, why);
  return Status();
}

}  // namespace meshgate::policy
