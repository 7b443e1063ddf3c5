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

TEST_F(AbuseLimits, ThePolicyServiceCountsOnlyWhereNoMilterDoes) {
  // The milter counts each message at MAIL FROM; the policy service, asked at RCPT about the
  // same message, must not count it again.
  configure(
      "  limits:\n    - {name: per-client, key: client_address, window: 1m, max: 1, action: "
      "tempfail}\n");
  DecisionEngine engine(config_, store_, clock_);
  MessageRequest req;
  req.sender = "a@example.org";
  req.client.address = "192.0.2.7";
  req.front_end = "milter";
  EXPECT_EQ(engine.onSender(req)->verdict, Verdict::kAccept);
  req.front_end = "policyd";
  EXPECT_EQ(engine.onSender(req)->verdict, Verdict::kAccept);
  EXPECT_EQ(calls_.size(), 1u) << "counted once, by the milter";
  // Without a milter the policy service is the one that counts.
  auto loaded = config::loadConfigString(
      "gateway:\n  domains: [example.com]\nmilter:\n  enabled: false\nabuse:\n  limits:\n    - "
      "{name: per-client, key: client_address, window: 1m, max: 1, action: tempfail}\n",
      "t.yaml");
  ASSERT_TRUE(loaded.ok());
  DecisionEngine alone(loaded.config, store_, clock_);
  EXPECT_EQ(alone.onSender(req)->verdict, Verdict::kTempfail);  // the milter's count + this one
  EXPECT_EQ(calls_.size(), 2u);
}

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

TEST_F(AbuseLimits, AnIPv6ClientIsCountedByItsNetworkNotEachAddress) {
  // One customer's /64 sending each message from a new address is one client; the mapped and
  // plain forms of an IPv4 address are one client too.
  configure(
      "  limits:\n    - {name: per-client, key: client_address, window: 1m, max: 2, action: "
      "tempfail}\n");
  EXPECT_EQ(send("a@example.org", "2001:db8:1:2::1")->verdict, Verdict::kAccept);
  EXPECT_EQ(send("a@example.org", "2001:DB8:1:2:ffff:0:0:9")->verdict, Verdict::kAccept);
  EXPECT_EQ(send("a@example.org", "2001:db8:1:2:1234:5678:9abc:def0")->verdict, Verdict::kTempfail);
  EXPECT_EQ(calls_.back(), "per-client|ip|2001:db8:1:2::/64@1800000000");
  EXPECT_EQ(send("a@example.org", "2001:db8:1:3::1")->verdict, Verdict::kAccept)
      << "the next /64 is another client";
  EXPECT_EQ(send("a@example.org", "192.0.2.9")->verdict, Verdict::kAccept);
  EXPECT_EQ(send("a@example.org", "::ffff:192.0.2.9")->verdict, Verdict::kAccept);
  EXPECT_EQ(send("a@example.org", "192.0.2.9")->verdict, Verdict::kTempfail);
  EXPECT_EQ(calls_.back(), "per-client|ip|192.0.2.9@1800000000");
  // A narrower setting: a /128 counts each address.
  configure(
      "  ipv6_prefix: 128\n  limits:\n    - {name: per-client, key: client_address, "
      "window: 1m, max: 2, action: tempfail}\n");
  EXPECT_EQ(send("a@example.org", "2001:db8:9::1")->verdict, Verdict::kAccept);
  EXPECT_EQ(calls_.back(), "per-client|ip|2001:db8:9::1/128@1800000000");
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

// ---- AbuseCounters: counts batched in memory, added to the shared store counter at flush.

// The store's counters as two nodes sharing one store see them.
class SharedCounters : public ::testing::Test {
 protected:
  SharedCounters() {
    for (auto* s : {&node_a_store_, &node_b_store_}) {
      ON_CALL(*s, addToCounter(_, _, _, _))
          .WillByDefault([this](std::string_view key, int64_t window_start, int64_t amount,
                                int64_t) -> Result<int64_t> {
            if (!failure_.ok()) return failure_;
            ++writes_;
            return store_[std::string(key) + "@" + std::to_string(window_start)] += amount;
          });
    }
  }
  NiceMock<testing::MockStore> node_a_store_, node_b_store_;
  std::map<std::string, int64_t> store_;
  int writes_ = 0;
  Status failure_;
};

TEST_F(SharedCounters, OneWriteAtFirstCountThenOnePerFlush) {
  AbuseCounters a(node_a_store_, /*batched=*/true);
  for (int64_t i = 1; i <= 5; ++i) EXPECT_EQ(*a.add("k", 60, 1, 120), i);
  EXPECT_EQ(writes_, 1);  // the first count, at once
  EXPECT_EQ(store_["k@60"], 1);
  EXPECT_EQ(a.pending(), 4);
  ASSERT_TRUE(a.flush(70).ok());
  EXPECT_EQ(writes_, 2);  // the four others in one write
  EXPECT_EQ(store_["k@60"], 5);
  EXPECT_EQ(a.pending(), 0);
  ASSERT_TRUE(a.flush(71).ok());
  EXPECT_EQ(writes_, 2) << "nothing pending: nothing written";
}

TEST_F(SharedCounters, NodesSeeEachOthersCountsWithinOneFlush) {
  AbuseCounters a(node_a_store_, true), b(node_b_store_, true);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.add("k", 60, 1, 120).ok());
  ASSERT_TRUE(a.flush(70).ok());
  EXPECT_EQ(*b.add("k", 60, 1, 120), 4) << "B's first count starts from the store's total";
  EXPECT_EQ(*a.add("k", 60, 1, 120), 4) << "A does not see B's count before B flushes";
  ASSERT_TRUE(b.flush(70).ok());
  ASSERT_TRUE(a.flush(70).ok());
  EXPECT_EQ(store_["k@60"], 5);
  EXPECT_EQ(*a.add("k", 60, 1, 120), 6) << "after both flushed, A's total includes B's count";
}

TEST_F(SharedCounters, AFailedFlushKeepsTheCountsAndAddFailsUntilTheStoreIsBack) {
  AbuseCounters a(node_a_store_, true);
  ASSERT_TRUE(a.add("k", 60, 1, 120).ok());
  ASSERT_TRUE(a.add("k", 60, 1, 120).ok());
  failure_ = unavailable("database is locked");
  Status st = a.flush(70);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(a.pending(), 1) << "the unwritten count stays pending";
  // While the store fails, counting goes to the store at once and fails: the front-end
  // tempfails rather than let mail through uncounted.
  auto r = a.add("k", 60, 1, 120);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  failure_ = Status();
  EXPECT_EQ(*a.add("k", 60, 1, 120), 3) << "written at once (store 1 + 1) plus the pending one";
  ASSERT_TRUE(a.flush(70).ok());
  EXPECT_EQ(store_["k@60"], 3) << "the failed message is not counted, the pending one is";
  EXPECT_EQ(a.pending(), 0);
}

TEST_F(SharedCounters, AKeyTheStoreRefusesIsDroppedAndTheOthersAreStillWritten) {
  AbuseCounters a(node_a_store_, true);
  ASSERT_TRUE(a.add("bad", 60, 1, 120).ok());
  ASSERT_TRUE(a.add("bad", 60, 1, 120).ok());
  ASSERT_TRUE(a.add("k", 60, 1, 120).ok());
  ASSERT_TRUE(a.add("k", 60, 1, 120).ok());
  // From now on the store refuses "bad" as a value ("bad" sorts before "k": written first).
  ON_CALL(node_a_store_, addToCounter(::testing::Eq("bad"), _, _, _))
      .WillByDefault(::testing::Return(Result<int64_t>(invalidArgument("invalid UTF-8"))));
  EXPECT_TRUE(a.flush(70).ok()) << "a refused value is not a store failure";
  EXPECT_EQ(store_["k@60"], 2) << "the key after the refused one was written";
  EXPECT_EQ(a.pending(), 0) << "the refused count is dropped, not kept for every flush";
  EXPECT_EQ(*a.add("k", 60, 1, 120), 3) << "counting goes on batched (the store is not failing)";
  EXPECT_EQ(a.pending(), 1);
}

TEST_F(AbuseLimits, SenderKeysAreTextEveryStoreTakes) {
  configure("  limits:\n    - {name: s, key: sender, window: 1m, max: 5}\n");
  ASSERT_TRUE(send(std::string("J\xfcrgen%20\x01@Example.ORG"), "192.0.2.9").ok());
  EXPECT_EQ(calls_.back(), "s|from|j%FCrgen%2520%01@example.org@1800000000");
}

TEST_F(SharedCounters, TheFirstCountFailingIsAnErrorAndNotCounted) {
  AbuseCounters a(node_a_store_, true);
  failure_ = unavailable("database is locked");
  EXPECT_FALSE(a.add("k", 60, 1, 120).ok());
  EXPECT_EQ(a.pending(), 0);
  failure_ = Status();
  EXPECT_EQ(*a.add("k", 60, 1, 120), 1);
}

TEST_F(SharedCounters, CountersOfEndedWindowsAreForgotten) {
  AbuseCounters a(node_a_store_, true);
  ASSERT_TRUE(a.add("k", 60, 1, 120).ok());  // window 60..120
  ASSERT_TRUE(a.add("k", 60, 1, 120).ok());
  ASSERT_TRUE(a.flush(130).ok());  // ended, but the pending count is written first
  EXPECT_EQ(store_["k@60"], 2);
  ASSERT_TRUE(a.flush(130).ok());  // now forgotten
  const int before = writes_;
  store_["k@60"] = 50;  // another node's counts; a forgotten counter starts from the store
  EXPECT_EQ(*a.add("k", 60, 1, 120), 51);
  EXPECT_EQ(writes_, before + 1);
}

TEST_F(SharedCounters, WriteThroughWritesEveryCount) {
  AbuseCounters a(node_a_store_, /*batched=*/false);
  for (int64_t i = 1; i <= 3; ++i) EXPECT_EQ(*a.add("k", 60, 1, 120), i);
  EXPECT_EQ(writes_, 3);
  EXPECT_EQ(a.pending(), 0);
}

TEST_F(AbuseLimits, BatchedCountsEnforceTheLimitBeforeAnyFlush) {
  configure("  limits:\n    - {name: per-client, key: client_address, window: 1m, max: 2, action: tempfail}\n");
  AbuseCounters counters(store_, /*batched=*/true);
  DecisionEngine engine(config_, store_, clock_, &counters);
  MessageRequest req;
  req.sender = "a@example.org";
  req.client.address = "192.0.2.7";
  EXPECT_EQ(engine.onSender(req)->verdict, Verdict::kAccept);
  EXPECT_EQ(engine.onSender(req)->verdict, Verdict::kAccept);
  EXPECT_EQ(engine.onSender(req)->verdict, Verdict::kTempfail);
  EXPECT_EQ(calls_.size(), 1u) << "only the first count was written";
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
            "t.yaml:6:25: abuse.limits[1].window: duration 0s is out of range (expected 1s "
            "to 7d)");
  EXPECT_NE(r.errors[3].find("abuse.exempt_networks: \"10.1.2.3/8\" has host bits set"),
            std::string::npos)
      << r.errors[3];
}

}  // namespace
}  // namespace meshgate::policy
