// network.cc - CIDR parsing and matching with inet_pton.
#include "gateway/util/network.h"

#include <arpa/inet.h>

#include <cstring>

namespace meshgate {
namespace {

// Parses an address into 16 bytes; IPv4 (and IPv4-mapped IPv6) into the first 4.
bool parseAddress(std::string_view text, bool& v6, std::array<uint8_t, 16>& out) {
  std::string s(text);
  out.fill(0);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    v6 = false;
    std::memcpy(out.data(), &a4, 4);
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(&a6, kMapped, 12) == 0) {
      v6 = false;
      std::memcpy(out.data(), reinterpret_cast<const uint8_t*>(&a6) + 12, 4);
      return true;
    }
    v6 = true;
    std::memcpy(out.data(), &a6, 16);
    return true;
  }
  return false;
}

bool prefixEqual(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (b[static_cast<size_t>(full)] & mask);
}

}  // namespace

Result<Network> Network::parse(std::string_view cidr) {
  Network n;
  n.text_ = std::string(cidr);
  std::string_view addr = cidr;
  int prefix = -1;
  if (auto slash = cidr.find('/'); slash != std::string_view::npos) {
    addr = cidr.substr(0, slash);
    std::string_view p = cidr.substr(slash + 1);
    if (p.empty() || p.size() > 3) return invalidArgument("bad prefix length in \"" + n.text_ + "\"");
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return invalidArgument("bad prefix length in \"" + n.text_ + "\"");
      prefix = prefix * 10 + (c - '0');
    }
  }
  if (!parseAddress(addr, n.v6_, n.bytes_)) {
    return invalidArgument("\"" + std::string(addr) + "\" is not an IPv4 or IPv6 address");
  }
  int max = n.v6_ ? 128 : 32;
  if (prefix < 0) prefix = max;
  if (prefix > max) {
    return invalidArgument("prefix /" + std::to_string(prefix) + " is longer than " +
                           std::to_string(max) + " bits in \"" + n.text_ + "\"");
  }
  std::array<uint8_t, 16> masked = n.bytes_;
  for (int bit = prefix; bit < max; ++bit) {
    masked[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  if (masked != n.bytes_) {
    return invalidArgument("\"" + n.text_ + "\" has host bits set (did you mean a network such as " +
                           "the /" + std::to_string(prefix) + " that contains it?)");
  }
  n.prefix_ = prefix;
  return n;
}

bool Network::contains(std::string_view address) const {
  bool v6 = false;
  std::array<uint8_t, 16> a{};
  if (!parseAddress(address, v6, a) || v6 != v6_) return false;
  return prefixEqual(a, bytes_, prefix_);
}

std::string clientKeyAddress(std::string_view address, int v6_prefix) {
  bool v6 = false;
  std::array<uint8_t, 16> a{};
  if (!parseAddress(address, v6, a)) return std::string(address);
  char buf[INET6_ADDRSTRLEN] = {0};
  if (!v6) {
    inet_ntop(AF_INET, a.data(), buf, sizeof buf);
    return buf;
  }
  const int bits = v6_prefix < 0 ? 0 : v6_prefix > 128 ? 128 : v6_prefix;
  for (int i = 0; i < 16; ++i) {
    const int keep = bits - 8 * i;
    if (keep >= 8) continue;
    a[static_cast<size_t>(i)] &= keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
  }
  inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(bits);
}

bool inAnyNetwork(const std::vector<Network>& networks, std::string_view address) {
  for (const auto& n : networks) {
    if (n.contains(address)) return true;
  }
  return false;
}

bool isNonPublicAddress(std::string_view address) {
  static const std::vector<Network> kNonPublic = [] {
    std::vector<Network> out;
    for (const char* cidr : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                             "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16",
                             "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128",
                             "64:ff9b:1::/48", "100::/64", "fc00::/7", "fe80::/10", "ff00::/8"}) {
      out.push_back(Network::parse(cidr).value());
    }
    return out;
  }();
  if (!Network::parse(address).ok()) return true;
  return inAnyNetwork(kNonPublic, address);
}

}  // namespace meshgate
