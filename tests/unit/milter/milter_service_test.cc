// milter_service_test.cc - the libmilter glue as a Service: what start() leaves behind when it
// fails. (The callbacks are exercised against the real binary by the miltertest scripts and
// the Postfix integration tests.)
#include "milter/milter_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "gateway/config/config_loader.h"

namespace meshgate::milter {
namespace {

std::shared_ptr<const config::Config> configWithSocket(const std::string& socket) {
  auto loaded = config::loadConfigString(
      "gateway:\n  node: mx.example.com\n  domains: [example.com]\nmilter:\n  socket: " + socket +
          "\n",
      "t.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
  return loaded.config;
}

TEST(MilterService, AStartThatFailsLeavesRoomForTheNextOne) {
  // A socket that cannot be opened (no folder can be made under /proc).
  auto failing = makeMilterService(MilterContext{});
  Status first = failing->start(configWithSocket("unix:/proc/meshgate-test/milter.sock"));
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.message().find("cannot open milter socket"), std::string::npos)
      << first.toString();
  failing.reset();
  // The process's one milter slot was left taken ("only one milter per process").
  const auto dir =
      std::filesystem::temp_directory_path() / ("mg-milter-service-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto working = makeMilterService(MilterContext{});
  Status second = working->start(configWithSocket("unix:" + (dir / "milter.sock").string()));
  EXPECT_TRUE(second.ok()) << second.toString();
  working->stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meshgate::milter
