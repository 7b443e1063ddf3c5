// engine.cc - runs the filter chain; the order is the order of checks in docs/architecture.md.
#include "gateway/policy/engine.h"

#include "gateway/policy/abuse_filter.h"
#include "gateway/policy/brand_filter.h"
#include "gateway/policy/egress_filter.h"
#include "gateway/policy/impersonation_filter.h"
#include "gateway/policy/ingress_filter.h"
#include "gateway/policy/payment_filter.h"
#include "gateway/policy/too_stupid_filter.h"

namespace meshgate::policy {

DecisionEngine::DecisionEngine(std::shared_ptr<const config::Config> config, Store& store,
                               const Clock& clock, AbuseCounters* counters,
                               AccountCache* accounts)
    : config_(std::move(config)) {
  if (config_->abuse.enabled) {
    if (!counters) {
      own_counters_ = std::make_unique<AbuseCounters>(store, /*batched=*/false);
      counters = own_counters_.get();
    }
    filters_.push_back(std::make_unique<AbuseFilter>(config_, *counters, clock));
  }
  filters_.push_back(std::make_unique<IngressFilter>(config_, store, accounts));
  // Content checks; each looks at req.direction itself (inbound: payment, impersonation;
  // outbound: egress, then too-stupid, which learns correspondents only from mail that leaves).
  if (config_->payment.enabled) filters_.push_back(std::make_unique<PaymentFilter>(config_));
  if (config_->impersonation.enabled) {
    filters_.push_back(std::make_unique<ImpersonationFilter>(config_, store, clock));
  }
  if (config_->egress.enabled) filters_.push_back(std::make_unique<EgressFilter>(config_));
  if (config_->too_stupid.enabled) {
    filters_.push_back(std::make_unique<TooStupidFilter>(config_, store, clock));
  }
  // Last: a message another check refuses gets no brand assertion and no sender notice.
  if (config_->brands.enabled) {
    auto brands = std::make_unique<BrandFilter>(config_, store, clock);
    setup_ = brands->setupStatus();
    filters_.push_back(std::move(brands));
  }
}

Result<Decision> DecisionEngine::onSender(const MessageRequest& req) const {
  Decision d;
  for (const auto& f : filters_) {
    MESHGATE_RETURN_IF_ERROR(f->onSender(req, d).withContext(f->name()));
    if (d.verdict == Verdict::kReject || d.verdict == Verdict::kTempfail) break;
  }
  return d;
}

Result<RecipientDecision> DecisionEngine::onRecipient(const MessageRequest& req,
                                                      std::string_view rcpt) const {
  RecipientDecision r;
  r.recipient = std::string(rcpt);
  for (const auto& f : filters_) {
    MESHGATE_RETURN_IF_ERROR(f->onRecipient(req, r).withContext(f->name()));
    if (r.verdict == Verdict::kReject || r.verdict == Verdict::kTempfail) break;
  }
  return r;
}

Result<Decision> DecisionEngine::onMessage(const MessageRequest& req, Decision so_far) const {
  Decision d = std::move(so_far);
  for (const auto& f : filters_) {
    MESHGATE_RETURN_IF_ERROR(f->onMessage(req, d).withContext(f->name()));
  }
  return d;
}

}  // namespace meshgate::policy
