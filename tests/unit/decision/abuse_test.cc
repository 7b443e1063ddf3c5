// Abuse limits: counted in the store per key and window; exemptions; each action.
#include <gtest/gtest.h>

#include <map>

#include "gateway/config/config_loader.h"
#include "gateway/policy/engine.h"
#include "tests/support/mock_store.h"

namespace meshgate::policy {
namespace {

using ::testing::_;
using ::testing::NiceMock;

class AbuseLimits : public ::testing::Test {
 protected:
  void configure(const std::string& abuse_yaml) {
    auto loaded = config::loadConfigString(
        "gateway:\n  domains: [example.com]\nabuse:\n" + abuse_yaml, "t.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
    config_ = loaded.config;
    ON_CALL(store_, addToCounter(_, _, _, _))
        .WillByDefault([this](std::string_view key, int64_t window_start, int64_t amount,
                              int64_t) -> Result<int64_t> {
          calls_.push_back(std::string(key) + "@" + std::to_string(window_start));
          return counters_[std::string(key) + "@" + std::to_string(window_start)] += amount;
        });
  }
  Result<Decision> send(const std::string& sender, const std::string& ip,
                        const std::string& auth = "") {
    DecisionEngine engine(config_, store_, clock_);
    MessageRequest req;
    req.sender = sender;
    req.client.address = ip;
    req.client.auth_user = auth;
    return engine.onSender(req);
  }

  NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'030};
  std::shared_ptr<const config::Config> config_;
  std::map<std::string, int64_t> counters_;
  std::vector<std::string> calls_;
};

TEST_F(AbuseLimits, TempfailsOverTheLimitWithinOneWindow) {
  configure("  limits:\n    - {name: per-client, key: client_address, window: 1m, max: 2, action: tempfail}\n");
  for (int i = 0; i < 2; ++i) {
    auto d = send("a@example.org", "192.0.2.7");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->verdict, Verdict::kAccept);
  }
  auto d = send("a@example.org", "192.0.2.7");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kTempfail);
  EXPECT_EQ(d->rule, "abuse.per-client");
  EXPECT_EQ(d->reply.code, "451");
  EXPECT_EQ(d->reply.enhanced, "4.7.1");
  // The window starts on a multiple of its length: 1'800'000'030 - 30.
  EXPECT_EQ(calls_.back(), "per-client|ip|192.0.2.7@1800000000");
  // Another client is counted separately.
  EXPECT_EQ(send("a@example.org", "192.0.2.8")->verdict, Verdict::kAccept);
  // The next window starts from zero.
  clock_.set(1'800'000'060);
  EXPECT_EQ(send("a@example.org", "192.0.2.7")->verdict, Verdict::kAccept);
}

TEST_F(AbuseLimits, EachActionAndKey) {
  configure(
      "  limits:\n"
      "    - {name: s, key: sender, window: 1h, max: 1, action: reject}\n"
      "    - {name: d, key: sender_domain, window: 1h, max: 1, action: tag}\n");
  EXPECT_EQ(send("a@Example.ORG", "192.0.2.1")->verdict, Verdict::kAccept);
  auto d = send("a@example.org", "192.0.2.2");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kReject);
  EXPECT_EQ(d->reply.code, "550");
  EXPECT_EQ(d->rule, "abuse.s");
  ASSERT_EQ(d->checks.size(), 1u);
  EXPECT_EQ(d->checks[0].name, "rate-limit");
  EXPECT_EQ(d->checks[0].detail, "d");
  // Another sender of the same domain: only the domain limit (tag) applies.
  auto e = send("b@example.org", "192.0.2.3");
  EXPECT_EQ(e->verdict, Verdict::kAccept);
  EXPECT_EQ(e->checks.size(), 1u);
}

TEST_F(AbuseLimits, HoldAction) {
  configure("  limits:\n    - {name: h, key: sender, window: 1h, max: 1, action: hold}\n");
  ASSERT_TRUE(send("a@example.org", "192.0.2.1").ok());
  auto d = send("a@example.org", "192.0.2.1");
  EXPECT_EQ(d->verdict, Verdict::kHold);
  EXPECT_EQ(d->hold_reason, "rate limit h");
}

TEST_F(AbuseLimits, ExemptionsAreNotCounted) {
  configure(
      "  limits:\n    - {name: c, key: client_address, window: 1m, max: 1}\n"
      "  exempt_networks: [10.0.0.0/8, \"2001:db8::/32\"]\n");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(send("a@example.org", "10.1.2.3")->verdict, Verdict::kAccept);
    EXPECT_EQ(send("a@example.org", "2001:db8::1")->verdict, Verdict::kAccept);
    EXPECT_EQ(send("a@example.org", "192.0.2.9", "alice")->verdict, Verdict::kAccept);
  }
  EXPECT_TRUE(calls_.empty());
}

TEST_F(AbuseLimits, NullSenderIsNotCountedPerSender) {
  configure("  limits:\n    - {name: s, key: sender, window: 1m, max: 1}\n");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(send("", "192.0.2.9")->verdict, Verdict::kAccept);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(AbuseLimits, StoreFailureIsAnError) {
  configure("  limits:\n    - {name: c, key: client_address, window: 1m, max: 1}\n");
  EXPECT_CALL(store_, addToCounter(_, _, _, _))
      .WillOnce(::testing::Return(Result<int64_t>(unavailable("locked"))));
  auto d = send("a@example.org", "192.0.2.9");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
}

TEST(AbuseConfig, BadLimitsAreReportedWithTheirPath) {
  auto r = config::loadConfigString(
      "gateway:\n  domains: [example.com]\nabuse:\n  limits:\n    - {name: a, key: ip}\n"
      "    - {name: a, window: 0s}\n  exempt_networks: [10.1.2.3/8]\n",
      "t.yaml");
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0],
            "t.yaml:5:22: abuse.limits[0].key: unknown value \"ip\" (expected one of: "
            "client_address, sender, sender_domain)");
  EXPECT_EQ(r.errors[1], "t.yaml:6:14: abuse.limits[1].name: \"a\" is used by another limit");
  EXPECT_EQ(r.errors[2],
            "t.yaml:6:25: abuse.limits[1].window: duration 0s is out of range (expected 1000ms "
            "to 604800000ms)");
  EXPECT_NE(r.errors[3].find("abuse.exempt_networks: \"10.1.2.3/8\" has host bits set"),
            std::string::npos)
      << r.errors[3];
}

}  // namespace
}  // namespace meshgate::policy
