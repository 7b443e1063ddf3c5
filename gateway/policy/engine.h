// NAME
//   engine.h - DecisionEngine: the chain of filters every front-end asks.
//
// SYNOPSIS
//   DecisionEngine engine(config, store, clock);
//   Result<Decision> s = engine.onSender(req);              // MAIL FROM
//   Result<RecipientDecision> r = engine.onRecipient(req, "bob@example.com");   // RCPT TO
//   sender_decision.recipients = rcpt_decisions;
//   Result<Decision> d = engine.onMessage(req, sender_decision);   // end of message
//
// DESCRIPTION
//   Built once per configuration (a reload builds a new engine and front-ends swap the
//   shared_ptr), the engine runs its filters in order: abuse limits, ingress control, then the
//   content checks, brand accountability last. A filter's non-OK Status stops the chain and is returned as is: the caller
//   maps it through its error table (tempfail by default). Decisions are never errors.
//
// THREAD SAFETY
//   All methods may be called concurrently; the engine is immutable after construction. The
//   Store and Clock must outlive it.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/policy/abuse_counters.h"
#include "gateway/policy/account_cache.h"
#include "gateway/policy/decision.h"
#include "gateway/policy/filter.h"
#include "gateway/policy/request.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"

namespace meshgate::policy {

class DecisionEngine {
 public:
  // `counters` (which must outlive the engine) batches the rate-limit counts; without it every
  // count is written to the store at once. `accounts` (which must outlive it too) keeps the
  // ingress check's account lookups for store.account_cache_ttl; without it each is read.
  DecisionEngine(std::shared_ptr<const config::Config> config, Store& store, const Clock& clock,
                 AbuseCounters* counters = nullptr, AccountCache* accounts = nullptr);

  Result<Decision> onSender(const MessageRequest& req) const;
  Result<RecipientDecision> onRecipient(const MessageRequest& req, std::string_view rcpt) const;
  // `so_far` is the decision from onSender (its checks and holds carry over) with the
  // accepted recipients' RecipientDecisions in so_far.recipients.
  Result<Decision> onMessage(const MessageRequest& req, Decision so_far) const;

  // Why the engine cannot be used as configured (a trusted brand key file that cannot be
  // read, ...), or OK. Front-ends refuse to start or reload with an engine that is not OK.
  const Status& setupStatus() const { return setup_; }

  const config::Config& config() const { return *config_; }
  std::shared_ptr<const config::Config> configPtr() const { return config_; }

  // Adds a filter at the end of the chain (used by front-ends that contribute checks, and by
  // tests). Only before the engine is shared.
  void addFilter(std::unique_ptr<Filter> filter) { filters_.push_back(std::move(filter)); }

 private:
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<AbuseCounters> own_counters_;  // write-through, when none was given
  std::vector<std::unique_ptr<Filter>> filters_;
  Status setup_;
};

}  // namespace meshgate::policy
