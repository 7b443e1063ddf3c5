// account_rules.cc - see account_rules.h.
#include "policy/mesh/account_rules.h"

#include "gateway/util/strings.h"

namespace meshgate::meshsvc {
namespace {

bool allowedLocalChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

std::string printable(char c) {
  if (c >= 0x21 && c <= 0x7e) return std::string(1, c);
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto u = static_cast<unsigned char>(c);
  return std::string("\\x") + kHex[u >> 4] + kHex[u & 0x0f];
}

// At most 64 characters, each printable or as \xNN: hostile text for a reason string.
std::string safeText(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += printable(c);
  return out;
}

}  // namespace

NameCheck checkAccountName(std::string_view proposed, const config::Config& config) {
  NameCheck out;
  const std::string lower = toLowerAscii(proposed);
  const auto at = lower.rfind('@');
  if (lower.empty()) {
    out.reason = "no account name given";
    return out;
  }
  if (at == std::string::npos) {
    out.reason = "an account is an address in a local domain, e.g. " +
                 safeText(lower) + "@" +
                 (config.gateway.domains.empty() ? "example.com" : config.gateway.domains.front());
    return out;
  }
  const std::string local = lower.substr(0, at);
  const std::string domain = lower.substr(at + 1);
  // Each invalid byte listed once; a table, not a search of the list, so that a long name of
  // many different bytes (unauthenticated input) costs one pass.
  bool listed[256] = {};
  for (char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (!allowedLocalChar(c) && !listed[u]) {
      listed[u] = true;
      out.invalid_characters += printable(c);
    }
  }
  if (!config.isLocalDomain(domain)) {
    out.reason = "\"" + safeText(domain) + "\" is not a domain of this service";
    return out;
  }
  if (static_cast<int>(local.size()) < kMinLocalPart) {
    out.reason = "the name before @ is empty";
    return out;
  }
  if (static_cast<int>(local.size()) > kMaxLocalPart) {
    out.reason = "the name before @ is longer than " + std::to_string(kMaxLocalPart) + " characters";
    return out;
  }
  if (!out.invalid_characters.empty()) {
    out.reason = "the name before @ may hold only a-z, 0-9, '.', '_' and '-' ('+' is the "
                 "recipient delimiter)";
    return out;
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string::npos) {
    out.reason = "a '.' may not start or end the name, nor follow another '.'";
    return out;
  }
  out.valid = true;
  out.normalized = lower;
  return out;
}

}  // namespace meshgate::meshsvc
