// NAME
//   filter.h - one check in the decision chain (ingress, abuse limits, payment, impersonation,
//   egress, brand, ...).
//
// DESCRIPTION
//   Filters are built once per configuration by DecisionEngine and shared by every connection;
//   they hold no per-message state (that lives in the request and the decision). Each stage
//   hook may refine the decision; returning a non-OK Status means "could not decide" and stops
//   the chain: the front-end then applies its error table (tempfail by default). A filter never
//   turns its own failure into an accept.
//
// THREAD SAFETY
//   Hooks are called concurrently from many connections; implementations must be thread-safe
//   (they only read their configuration and call thread-safe ports).
#pragma once

#include <string_view>

#include "gateway/policy/decision.h"
#include "gateway/policy/request.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;

  // MAIL FROM (the envelope sender is known; no recipient yet).
  virtual Status onSender(const MessageRequest& req, Decision& decision) { return Status(); }
  // RCPT TO, once per recipient; `rcpt` starts as accept.
  virtual Status onRecipient(const MessageRequest& req, RecipientDecision& rcpt) {
    return Status();
  }
  // End of message: req.content is set; decision.recipients holds the RCPT outcomes.
  virtual Status onMessage(const MessageRequest& req, Decision& decision) { return Status(); }
};

}  // namespace meshgate::policy
