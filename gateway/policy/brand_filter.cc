// brand_filter.cc - see brand_filter.h and docs/brand-assertion.md.
#include "gateway/policy/brand_filter.h"

#include <algorithm>
#include <cctype>

#include "gateway/mail/mime.h"
#include "gateway/policy/brand_assertion.h"
#include "gateway/policy/content_action.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

// Whole-word containment of one name key in another ("example bank" in "example bank support").
bool containsWords(const std::string& haystack, const std::string& needle) {
  if (needle.empty() || haystack.empty()) return false;
  return (" " + haystack + " ").find(" " + needle + " ") != std::string::npos;
}

std::string fill(std::string text, const config::Brand& brand, const std::string& organization,
                 const std::string& address, const std::string& subject) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    switch (text[++i]) {
      case 'b': out += brand.name; break;
      case 'o': out += organization; break;
      case 'a': out += address; break;
      case 's': out += subject; break;
      case '%': out += '%'; break;
      default: out += '%'; out += text[i]; break;
    }
  }
  return out;
}

}  // namespace

BrandFilter::BrandFilter(std::shared_ptr<const config::Config> config, Store& store,
                         const Clock& clock)
    : config_(std::move(config)), store_(store), clock_(clock) {
  const config::BrandsSection& s = config_->brands;
  for (size_t i = 0; i < s.trusted_gateways.size(); ++i) {
    const auto& gw = s.trusted_gateways[i];
    const std::string where = "brands.trusted_gateways[" + std::to_string(i) + "] (" + gw.name +
                              "): key_file " + gw.key_file;
    auto key = mesh::loadPublicKeyFile(gw.key_file);
    if (!key.ok()) {
      if (setup_.ok()) {
        setup_ = key.status().withContext(where + ": cannot load the gateway's public key; copy "
                                                  "its gateway.key.pub there or remove the entry");
      }
      continue;
    }
    if (!mesh::isSignatureKey(key->type())) {
      if (setup_.ok()) {
        setup_ = invalidArgument(where + ": is a " + std::string(mesh::keyTypeName(key->type())) +
                                 " key; brand assertions are signed with Ed25519 or Ed448 keys");
      }
      continue;
    }
    trusted_.push_back({gw.name, std::move(*key)});
  }
  for (const auto& brand : s.list) {
    Protected p{&brand, mail::displayNameKey(brand.name), {}};
    for (const auto& d : brand.domains) p.domains.push_back(mail::LookalikeDomain::make(d));
    protected_.push_back(std::move(p));
  }
  lookalike_options_.max_edit_distance =
      static_cast<size_t>(config_->impersonation.max_edit_distance);
}

const config::Brand* BrandFilter::brandOfAddress(std::string_view address) const {
  std::string a = toLowerAscii(address);
  if (a.empty()) return nullptr;
  for (const auto& brand : config_->brands.list) {
    if (std::find(brand.addresses.begin(), brand.addresses.end(), a) != brand.addresses.end()) {
      return &brand;
    }
  }
  std::string domain = addressDomain(a);
  for (const auto& brand : config_->brands.list) {
    for (const auto& d : brand.domains) {
      if (isSameOrSubdomain(domain, d)) return &brand;
    }
  }
  return nullptr;
}

bool BrandFilter::maySendAs(const config::Brand& brand, std::string_view sender) const {
  if (sender.empty()) return false;  // a bounce speaks for nobody
  const std::string domain = addressDomain(sender);
  auto inAny = [&](const std::vector<std::string>& domains) {
    return std::any_of(domains.begin(), domains.end(),
                       [&](const std::string& d) { return isSameOrSubdomain(domain, d); });
  };
  if (!brand.senders.empty() || !brand.sender_domains.empty()) {
    return std::find(brand.senders.begin(), brand.senders.end(), sender) != brand.senders.end() ||
           inAny(brand.sender_domains);
  }
  return brandOfAddress(sender) == &brand || inAny(config_->gateway.domains);
}

Status BrandFilter::onMessage(const MessageRequest& req, Decision& decision) {
  if (req.content == nullptr) return Status();
  if (req.direction == Direction::kOutbound) return onOutbound(req, decision);
  onInbound(req, decision);
  return Status();
}

Status BrandFilter::onOutbound(const MessageRequest& req, Decision& decision) {
  if (decision.verdict == Verdict::kReject || decision.verdict == Verdict::kTempfail) {
    return Status();  // nothing leaves
  }
  const auto& from = req.content->from();
  std::string address;
  if (from.size() == 1 && !from[0].address.isNull()) {
    address = toLowerAscii(from[0].address.toString());
  } else if (from.empty()) {
    address = toLowerAscii(req.sender);
  } else {
    return Status();  // several From: mailboxes: no single address to speak for
  }
  const config::Brand* brand = brandOfAddress(address);
  if (brand == nullptr) return Status();
  // A From: header is the sender's to write: the gateway signs for the brand only mail whose
  // envelope sender (what Postfix ties to the login, smtpd_sender_login_maps) may send as it.
  // Otherwise a host on the outbound networks, or a user of another domain this gateway
  // serves, would have its mail asserted as the brand's.
  const std::string sender = toLowerAscii(req.sender);
  if (!maySendAs(*brand, sender)) {
    addCheck(decision, "brand-assertion-refused", brand->name);
    return Status();
  }
  const config::BrandsSection& s = config_->brands;
  BrandOutcome& out = decision.brand;
  out.assert_brand = brand->name;
  out.organization = brand->organization.empty() ? s.organization : brand->organization;
  if (out.organization.empty()) out.organization = brand->name;
  out.logo_url = brand->logo_url;
  out.address = address;
  addCheck(decision, "brand-assertion", brand->name);

  if (!s.sender_notice.enabled) return Status();
  const int64_t now = clock_.now();
  const int64_t interval = std::max<int64_t>(60, s.sender_notice.interval.count() / 1000);
  const int64_t window_start = now - now % interval;
  auto sent =
      store_.addToCounter("brand-notice:" + sender, window_start, 1, window_start + interval);
  if (!sent.ok()) return sent.status().withContext("brand notice counter");
  if (*sent != 1) return Status();
  SenderNotice n;
  // To the person who sent: the envelope sender (an authenticated user's own address when
  // the brand address is shared; never empty here, see maySendAs).
  n.to = sender;
  n.from = s.sender_notice.from;
  if (n.from.empty() && !config_->gateway.domains.empty()) {
    n.from = "postmaster@" + config_->gateway.domains.front();
  }
  n.subject = fill(s.sender_notice.subject, *brand, out.organization, address,
                   req.content->subject());
  n.text = fill(s.sender_notice.text, *brand, out.organization, address, req.content->subject());
  out.notice = std::move(n);
  return Status();
}

std::pair<const config::Brand*, std::string> BrandFilter::claimedBrand(
    const MessageRequest& req) const {
  for (const auto& m : req.content->from()) {
    std::string name_key = mail::displayNameKey(m.display_name);
    std::string domain = m.address.isNull() ? "" : m.address.domain();
    mail::LookalikeDomain candidate = mail::LookalikeDomain::make(domain);
    for (const auto& p : protected_) {
      if (containsWords(name_key, p.name_key)) return {p.brand, "display-name"};
      if (domain.empty()) continue;
      for (const auto& d : p.domains) {
        if (isSameOrSubdomain(candidate.ascii(), d.ascii())) return {p.brand, "domain"};
        if (mail::looksLike(candidate, d, lookalike_options_)) return {p.brand, "lookalike-domain"};
      }
    }
  }
  return {nullptr, ""};
}

void BrandFilter::onInbound(const MessageRequest& req, Decision& decision) const {
  const mail::HeaderList& headers = req.content->headers();
  const int64_t now = clock_.now();
  const int64_t max_age = config_->brands.max_assertion_age.count() / 1000;
  size_t occurrence = 0;
  std::string verified_address;  // the From: address the first verified assertion speaks for
  for (const mail::Header* h : headers.all(kBrandAssertionHeader)) {
    ++occurrence;
    auto a = parseBrandAssertion(h->value);
    if (!a.ok()) continue;
    // Five minutes of clock skew towards the future; max_assertion_age towards the past.
    if (a->time > now + 300 || a->time < now - max_age) continue;
    for (const auto& t : trusted_) {
      if (t.key.kid() != a->kid) continue;
      if (!verifyBrandAssertion(*a, headers, t.key).ok()) break;
      decision.brand.keep_incoming.push_back(occurrence);
      if (decision.brand.verified.empty()) {
        decision.brand.verified = a->brand;
        decision.brand.verified_by = t.name;
        verified_address = a->address;
        addCheck(decision, "brand-verified", a->brand + "@" + t.name);
      }
      break;
    }
  }
  const config::CheckSetting& claim = config_->brands.unverified_claim;
  if (!claim.enabled || protected_.empty()) return;
  auto [brand, how] = claimedBrand(req);
  if (brand == nullptr) return;
  // A trusted gateway vouches for its own brands: one asserting a brand of ours by name, for an
  // address that is not that brand's, does not lift the claim (any trusted key could otherwise
  // name "Example Bank").
  if (!decision.brand.verified.empty() && decision.brand.verified == brand->name &&
      brandOfAddress(verified_address) == brand) {
    return;
  }
  addCheck(decision, "brand-unverified", brand->name + ":" + how);
  applyCheckAction(decision, claim.action, "brands.unverified-claim", claim,
                   "claims brand " + brand->name + " (" + how + ") without a valid assertion");
}

std::string senderNoticeMessage(const SenderNotice& n) {
  // Header values are one line whatever the configuration or the Subject held.
  auto oneLine = [](std::string v) {
    for (char& c : v) {
      if (c == '\r' || c == '\n') c = ' ';
    }
    return v;
  };
  std::string subject = oneLine(n.subject);
  bool ascii = std::all_of(subject.begin(), subject.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii) {
    // RFC 2047 "Q": letters and digits as they are, space as '_', every other byte =XX.
    static const char kHex[] = "0123456789ABCDEF";
    std::string q = "=?UTF-8?Q?";
    for (char ch : subject) {
      auto c = static_cast<unsigned char>(ch);
      if (std::isalnum(c) && c < 0x80) {
        q += ch;
      } else if (c == ' ') {
        q += '_';
      } else {
        q += '=';
        q += kHex[c >> 4];
        q += kHex[c & 0x0F];
      }
    }
    subject = q + "?=";
  }
  return "From: " + oneLine(n.from) + "\nTo: " + oneLine(n.to) + "\nSubject: " + subject +
         "\nAuto-Submitted: auto-generated\nMIME-Version: 1.0\n"
         "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" +
         n.text + "\n";
}

}  // namespace meshgate::policy
