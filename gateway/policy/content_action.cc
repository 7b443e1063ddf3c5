// content_action.cc - see content_action.h.
#include "gateway/policy/content_action.h"

#include "gateway/util/strings.h"

namespace meshgate::policy {

void addCheck(Decision& decision, std::string_view name, std::string_view detail) {
  for (const auto& c : decision.checks) {
    if (c.name == name && c.detail == detail) return;
  }
  decision.checks.push_back({std::string(name), std::string(detail)});
}

void addSubjectTag(Decision& decision, std::string_view tag) {
  if (tag.empty() || decision.subject_tag.find(tag) != std::string::npos) return;
  if (!decision.subject_tag.empty()) decision.subject_tag += ' ';
  decision.subject_tag += tag;
}

void holdFor(Decision& decision, std::string_view rule, std::string_view reason) {
  decision.escalate(Verdict::kHold, rule);
  if (decision.verdict != Verdict::kHold) return;  // a reject or tempfail already decided
  // Another filter may have held the message already: keep every reason for the reviewer.
  if (decision.hold_reason.find(reason) != std::string::npos) return;
  if (!decision.hold_reason.empty()) decision.hold_reason += "; ";
  decision.hold_reason += reason;
}

void applyCheckAction(Decision& decision, config::CheckAction action, std::string_view rule,
                      const config::CheckSetting& setting, std::string_view hold_reason) {
  switch (action) {
    case config::CheckAction::kSignal:
      break;
    case config::CheckAction::kTag:
      addSubjectTag(decision, setting.subject_tag);
      break;
    case config::CheckAction::kQuarantine:
      holdFor(decision, rule, hold_reason);
      break;
    case config::CheckAction::kReject:
      decision.escalate(Verdict::kReject, rule, Reply{"550", "5.7.1", setting.reject_text});
      break;
  }
}

bool isSameOrSubdomain(std::string_view domain, std::string_view parent) {
  if (parent.empty() || domain.size() < parent.size()) return false;
  if (domain.size() == parent.size()) return domain == parent;
  return domain.compare(domain.size() - parent.size(), parent.size(), parent) == 0 &&
         domain[domain.size() - parent.size() - 1] == '.';
}

bool isInternalDomain(const config::Config& config, std::string_view domain) {
  std::string d = toLowerAscii(domain);
  for (const auto& own : config.gateway.domains) {
    if (isSameOrSubdomain(d, own)) return true;
  }
  return false;
}

std::vector<std::string> acceptedRecipients(const MessageRequest& req, const Decision& decision) {
  if (decision.recipients.empty()) return req.recipients;
  std::vector<std::string> out;
  for (const auto& r : decision.recipients) {
    if (r.verdict == Verdict::kAccept || r.verdict == Verdict::kHold) out.push_back(r.recipient);
  }
  return out;
}

}  // namespace meshgate::policy
