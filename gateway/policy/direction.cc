// direction.cc - see direction.h.
#include "gateway/policy/direction.h"

#include "gateway/util/network.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {

Direction classifyDirection(const config::Config& config, const ClientInfo& client) {
  const config::OutboundDetection& o = config.egress.outbound;
  if (o.authenticated && !client.auth_user.empty()) return Direction::kOutbound;
  if (!client.daemon_name.empty()) {
    for (const auto& name : o.daemon_names) {
      if (equalsIgnoreCase(name, client.daemon_name)) return Direction::kOutbound;
    }
  }
  if (!client.address.empty() && inAnyNetwork(o.networks, client.address)) {
    return Direction::kOutbound;
  }
  return Direction::kInbound;
}

std::string_view directionName(Direction d) {
  return d == Direction::kOutbound ? "outbound" : "inbound";
}

}  // namespace meshgate::policy
