// ssh_test_keys.h - two real OpenSSH public keys and the helpers the SSH adapter tests share.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "adapters/ssh_catalog.h"

namespace meshgate::adapters::testing_keys {

inline constexpr const char* kAlice =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINpAD8ObLaowLdHI7Rwy697t0tWAm5uMGoILELxBVepq "
    "alice-laptop";
inline constexpr const char* kBob =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBR0KxzGWvRjyYzBYX6JvMzX3ucwEOLCE4lLht1zX13K bob";

inline AccountRecord account(const std::string& address) {
  AccountRecord a;
  a.address = address;
  return a;
}

// The catalog entry for an authorized_keys line, with these options.
inline SshKeyEntry entryFor(const char* line, std::vector<std::string> options = {}) {
  auto key = parseSshPublicKey(line);
  EXPECT_TRUE(key.ok());
  auto e = makeSshKeyEntry(*key);
  EXPECT_TRUE(e.ok());
  e->options = std::move(options);
  return *e;
}

}  // namespace meshgate::adapters::testing_keys
