// The gateway signing key is created on first start. Services started together (meshgate run
// and an admin command, or parallel tests) may race to create it: every one must end up with
// the same key, never with an error or a key that is not the one on disk.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "policy/runtime.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

TEST(GatewayKey, FirstStartCreatesTheKeyAndLaterStartsLoadIt) {
  testing::TempDir dir;
  const std::string path = dir.file("keys/gateway.key");
  auto created = loadOrCreateGatewayKey(path);
  ASSERT_TRUE(created.ok()) << created.status().message();
  auto loaded = loadOrCreateGatewayKey(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(created->kid(), loaded->kid());
}

TEST(GatewayKey, ConcurrentFirstStartsAgreeOnOneKey) {
  for (int round = 0; round < 20; ++round) {
    testing::TempDir dir;
    const std::string path = dir.file("keys/gateway.key");
    constexpr int kStarters = 8;
    std::vector<std::string> kids(kStarters);
    std::vector<std::string> errors(kStarters);
    std::vector<std::thread> starters;
    for (int i = 0; i < kStarters; ++i) {
      starters.emplace_back([&, i] {
        auto key = loadOrCreateGatewayKey(path);
        if (key.ok()) {
          kids[i] = key->kid();
        } else {
          errors[i] = key.status().message();
        }
      });
    }
    for (auto& t : starters) t.join();
    for (const auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
    std::set<std::string> distinct(kids.begin(), kids.end());
    ASSERT_EQ(distinct.size(), 1u) << "round " << round;
    auto on_disk = loadOrCreateGatewayKey(path);
    ASSERT_TRUE(on_disk.ok());
    EXPECT_EQ(on_disk->kid(), *distinct.begin());
  }
}

}  // namespace
}  // namespace meshgate
