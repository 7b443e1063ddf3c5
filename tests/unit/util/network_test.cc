// network_test.cc - which addresses are not on the public Internet (isNonPublicAddress): a
// Mesh service found in DNS must not lead the gateway to one of them.
#include "gateway/util/network.h"

#include <gtest/gtest.h>

namespace meshgate {
namespace {

TEST(NonPublicAddress, LoopbackPrivateLinkLocalAndReservedAreNotPublic) {
  for (const char* a : {"127.0.0.1",
                        "127.255.0.9",
                        "10.1.2.3",
                        "172.16.0.1",
                        "172.31.255.255",
                        "192.168.1.1",
                        "169.254.169.254",
                        "100.64.0.1",
                        "0.0.0.0",
                        "224.0.0.1",
                        "255.255.255.255",
                        "::1",
                        "::",
                        "fd00::1",
                        "fe80::1",
                        "ff02::1",
                        "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1",
                        "not an address",
                        ""}) {
    EXPECT_TRUE(isNonPublicAddress(a)) << a;
  }
}

TEST(NonPublicAddress, PublicAddressesArePublic) {
  for (const char* a : {"192.0.2.1", "198.51.100.7", "203.0.113.9", "8.8.8.8", "172.32.0.1",
                        "100.128.0.1", "2001:db8::1", "2a00:1450::1", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(isNonPublicAddress(a)) << a;
  }
}

}  // namespace
}  // namespace meshgate
