// NAME
//   network.h - IPv4/IPv6 networks in CIDR notation ("192.0.2.0/24", "2001:db8::/32").
//
// DESCRIPTION
//   Used by the configuration (networks exempt from rate limits, networks whose mail is
//   outbound). Parsing is strict: host bits set below the prefix are an error, so that
//   "10.1.2.3/8" is not silently read as 10.0.0.0/8.
//
// THREAD SAFETY
//   Value types.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/status.h"

namespace meshgate {

class Network {
 public:
  // "a.b.c.d/n", "v6/n", or a bare address (a /32 or /128).
  static Result<Network> parse(std::string_view cidr);

  // True when `address` (textual IPv4 or IPv6; IPv4-mapped IPv6 counts as IPv4) is inside.
  bool contains(std::string_view address) const;
  std::string toString() const { return text_; }

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
  int prefix_ = 0;
  std::string text_;
};

// True when address is inside any of networks.
bool inAnyNetwork(const std::vector<Network>& networks, std::string_view address);

// True for an address that is not on the public Internet: loopback, private (RFC 1918, ULA),
// shared (100.64/10), link-local, unspecified, multicast and reserved ranges (IPv4-mapped IPv6
// as IPv4). Text that is not an address is not public either.
bool isNonPublicAddress(std::string_view address);

// The client an address stands for, as one text: an IPv4 address (IPv4-mapped IPv6 included)
// as a.b.c.d; an IPv6 address as its network of `v6_prefix` bits ("2001:db8:1:2::/64"), since
// one IPv6 customer holds a whole /64 (or more) and can send from a new address each time.
// Text that is not an address is returned as given.
std::string clientKeyAddress(std::string_view address, int v6_prefix);

}  // namespace meshgate
