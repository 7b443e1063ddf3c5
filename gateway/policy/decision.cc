// decision.cc - names and verdict ordering.
#include "gateway/policy/decision.h"

namespace meshgate::policy {
namespace {

int severity(Verdict v) {
  switch (v) {
    case Verdict::kAccept: return 0;
    case Verdict::kHold: return 1;
    case Verdict::kDiscard: return 2;
    case Verdict::kTempfail: return 3;
    case Verdict::kReject: return 4;
  }
  return 0;
}

}  // namespace

std::string_view verdictName(Verdict v) {
  switch (v) {
    case Verdict::kAccept: return "accept";
    case Verdict::kReject: return "reject";
    case Verdict::kTempfail: return "tempfail";
    case Verdict::kHold: return "hold";
    case Verdict::kDiscard: return "discard";
  }
  return "?";
}

std::string_view contactStatusName(ContactStatus s) {
  switch (s) {
    case ContactStatus::kNotApplicable: return "none";
    case ContactStatus::kKnownContact: return "known-contact";
    case ContactStatus::kFirstContact: return "first-contact";
    case ContactStatus::kQuarantined: return "quarantined";
  }
  return "?";
}

void Decision::escalate(Verdict v, std::string_view rule_name, Reply r) {
  if (severity(v) <= severity(verdict)) return;
  verdict = v;
  rule = std::string(rule_name);
  reply = std::move(r);
}

}  // namespace meshgate::policy
