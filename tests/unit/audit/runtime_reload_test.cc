// Runtime::reload: what a SIGHUP may change in place, and what needs a restart.
#include <gtest/gtest.h>

#include "gateway/config/config_loader.h"
#include "policy/runtime.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

class RuntimeReload : public ::testing::Test {
 protected:
  std::shared_ptr<const config::Config> load(const std::string& extra) {
    dir_.write("meshgate.yaml",
               "gateway:\n  node: mx1.example.com\n  domains: [example.com]\n"
               "  data_dir: " +
                   dir_.path() + "\n  key_file: " + dir_.file("keys/gateway.key") +
                   "\nstore:\n  sqlite:\n"
                   "    path: " +
                   dir_.file("store.db") + "\n" + extra);
    auto loaded = config::loadConfigFile(dir_.file("meshgate.yaml"));
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
    return loaded.config;
  }
  testing::TempDir dir_;
};

TEST_F(RuntimeReload, FlippingMilterEnabledNeedsARestartAndChangesNothing) {
  // Who counts the abuse limits follows milter.enabled (the milter, else the policy service),
  // and the milter starts only with the process: a reload must not move the counting.
  Runtime runtime;
  ASSERT_TRUE(runtime.start(load("milter:\n  enabled: true\n")).ok());
  Status flipped = runtime.reload(load("milter:\n  enabled: false\nabuse:\n  ipv6_prefix: 48\n"));
  EXPECT_EQ(flipped.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(flipped.message().find("restart meshgate"), std::string::npos) << flipped.message();
  EXPECT_TRUE(runtime.engine()->config().milter.enabled);
  EXPECT_EQ(runtime.engine()->config().abuse.ipv6_prefix, 64) << "nothing of it applied";
  // Other settings reload in place.
  ASSERT_TRUE(runtime.reload(load("milter:\n  enabled: true\nabuse:\n  ipv6_prefix: 48\n")).ok());
  EXPECT_EQ(runtime.engine()->config().abuse.ipv6_prefix, 48);
  runtime.stop();
}

}  // namespace
}  // namespace meshgate
