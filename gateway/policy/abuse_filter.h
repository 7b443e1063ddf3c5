// NAME
//   abuse_filter.h - rate limits on inbound mail (seed 7.2.1, "Mesh Services should perform
//   abuse filtering on inbound mail").
//
// DESCRIPTION
//   At MAIL FROM, counts the message against every configured limit (per client address, per
//   sender, per sender domain) in fixed windows kept in the store, so that several nodes on
//   one store share the counts (through AbuseCounters: batched, abuse.flush_interval). Exempt: SASL-authenticated clients (when configured) and
//   clients in abuse.exempt_networks. Over a limit, the limit's action applies: tempfail
//   (451 4.7.1), reject (550 5.7.1), hold, or tag (the check "rate-limit" in the signal).
//
// ERRORS
//   A store failure is returned: the front-end tempfails (a rate limiter that cannot count must
//   not let mail through uncounted, nor reject it).
//
// THREAD SAFETY
//   Stateless after construction.
#pragma once

#include <memory>

#include "gateway/config/config.h"
#include "gateway/policy/abuse_counters.h"
#include "gateway/policy/filter.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"

namespace meshgate::policy {

class AbuseFilter : public Filter {
 public:
  AbuseFilter(std::shared_ptr<const config::Config> config, AbuseCounters& counters,
              const Clock& clock);
  std::string_view name() const override { return "abuse"; }
  Status onSender(const MessageRequest& req, Decision& decision) override;

  // The counter key for a limit and request, e.g. "per-client|ip|192.0.2.1" or
  // "per-client|ip|2001:db8:1:2::/64" (abuse.ipv6_prefix); "" when the request has nothing to
  // count under that key (null sender for a per-sender limit).
  static std::string counterKey(const config::RateLimit& limit, const MessageRequest& req,
                                int ipv6_prefix);

 private:
  std::shared_ptr<const config::Config> config_;
  AbuseCounters& counters_;
  const Clock& clock_;
};

}  // namespace meshgate::policy
