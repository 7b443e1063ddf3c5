// abuse_filter.cc - see abuse_filter.h.
#include "gateway/policy/abuse_filter.h"

#include "gateway/util/network.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {

AbuseFilter::AbuseFilter(std::shared_ptr<const config::Config> config, AbuseCounters& counters,
                         const Clock& clock)
    : config_(std::move(config)), counters_(counters), clock_(clock) {}

namespace {

// Counter keys hold what the client sent (sender addresses): bytes outside printable ASCII,
// and '%', as %XX, so that every key is text every store accepts (PostgreSQL refuses invalid
// UTF-8) and two spellings cannot collide.
std::string keyText(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x21 || u >= 0x7f || ch == '%') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

std::string AbuseFilter::counterKey(const config::RateLimit& limit, const MessageRequest& req,
                                    int ipv6_prefix) {
  using Key = config::RateLimit::Key;
  switch (limit.key) {
    case Key::kClientAddress:
      return req.client.address.empty()
                 ? ""
                 : limit.name + "|ip|" + keyText(clientKeyAddress(req.client.address, ipv6_prefix));
    case Key::kSender:
      return req.sender.empty() ? "" : limit.name + "|from|" + keyText(toLowerAscii(req.sender));
    case Key::kSenderDomain: {
      std::string d = addressDomain(req.sender);
      return d.empty() ? "" : limit.name + "|domain|" + keyText(d);
    }
  }
  return "";
}

Status AbuseFilter::onSender(const MessageRequest& req, Decision& decision) {
  const auto& abuse = config_->abuse;
  // Where the milter runs too (milter.enabled in the configuration both read), it counts each
  // message at MAIL FROM, before the policy service is asked at RCPT: counting again here made
  // every message count twice, and a limit of N refused at N/2.
  if (req.front_end == "policyd" && config_->milter.enabled) return Status();
  if (abuse.exempt_authenticated && !req.client.auth_user.empty()) return Status();
  if (!req.client.address.empty() && inAnyNetwork(abuse.exempt_networks, req.client.address)) {
    return Status();
  }
  const int64_t now = clock_.now();
  for (const auto& limit : abuse.limits) {
    std::string key = counterKey(limit, req, abuse.ipv6_prefix);
    if (key.empty()) continue;
    const int64_t window = std::max<int64_t>(1, limit.window.count() / 1000);
    const int64_t window_start = now - now % window;
    auto total = counters_.add(key, window_start, 1, window_start + window);
    if (!total.ok()) return total.status();
    if (*total <= limit.max) continue;
    const std::string rule = "abuse." + limit.name;
    const std::string text = "too much mail from you; try again later (" + limit.name + ")";
    switch (limit.action) {
      case config::LimitAction::kTempfail:
        decision.escalate(Verdict::kTempfail, rule, Reply{"451", "4.7.1", text});
        break;
      case config::LimitAction::kReject:
        decision.escalate(Verdict::kReject, rule, Reply{"550", "5.7.1", text});
        break;
      case config::LimitAction::kHold:
        decision.escalate(Verdict::kHold, rule);
        if (decision.verdict == Verdict::kHold) decision.hold_reason = "rate limit " + limit.name;
        break;
      case config::LimitAction::kTag:
        decision.checks.push_back({"rate-limit", limit.name});
        break;
    }
  }
  return Status();
}

}  // namespace meshgate::policy
