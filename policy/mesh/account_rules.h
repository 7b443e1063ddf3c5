// NAME
//   account_rules.h - what makes an acceptable Mesh account name at this service
//   (ValidateAccount, seed 3.6; also enforced by CreateAccount).
//
// DESCRIPTION
//   An account is an address in one of the service's local domains (gateway.domains):
//   "alice@example.com". Its local part is 1 to 64 characters of a-z, 0-9, '.', '_' and '-',
//   neither starting nor ending with '.', with no "..". Upper case is folded. '+' is refused:
//   it is the recipient delimiter, and bob+tag@ is bob@'s mail (ingress control maps it so).
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "gateway/config/config.h"

namespace meshgate::meshsvc {

inline constexpr int kMinLocalPart = 1;
inline constexpr int kMaxLocalPart = 64;

struct NameCheck {
  bool valid = false;
  std::string normalized;          // lower case address when valid
  std::string invalid_characters;  // the offending characters found, each once
  std::string reason;              // why not, for people
};

NameCheck checkAccountName(std::string_view proposed, const config::Config& config);

}  // namespace meshgate::meshsvc
