// AccountCache: the ingress check's account lookups kept for store.account_cache_ttl.
#include "gateway/policy/account_cache.h"

#include <gtest/gtest.h>

#include "gateway/config/config_loader.h"
#include "gateway/policy/engine.h"
#include "tests/support/mock_store.h"

namespace meshgate::policy {
namespace {

using ::testing::Return;
using ::testing::StrictMock;
using namespace std::chrono_literals;

AccountRecord accountAt(const std::string& address, const std::string& policy) {
  AccountRecord a;
  a.address = address;
  a.ingress_policy = policy;
  return a;
}

class AccountCacheTest : public ::testing::Test {
 protected:
  StrictMock<testing::MockStore> store_;
  AccountCache::TimePoint now_{};
  AccountCache cache_{store_, [this] { return now_; }};
};

TEST_F(AccountCacheTest, AnAccountIsReadOnceWithinTheTtlAndAgainAfterIt) {
  EXPECT_CALL(store_, getAccount(std::string_view("bob@example.com")))
      .WillOnce(Return(Result<AccountRecord>(accountAt("bob@example.com", "open"))))
      .WillOnce(Return(Result<AccountRecord>(accountAt("bob@example.com", "contacts-only"))));
  EXPECT_EQ(cache_.get("bob@example.com", 1000ms)->ingress_policy, "open");
  now_ += 999ms;
  EXPECT_EQ(cache_.get("bob@example.com", 1000ms)->ingress_policy, "open");
  now_ += 1ms;  // 1000 ms after the read: asked again, the change is seen
  EXPECT_EQ(cache_.get("bob@example.com", 1000ms)->ingress_policy, "contacts-only");
}

TEST_F(AccountCacheTest, TheMeshProfileIsNotKept) {
  AccountRecord full = accountAt("bob@example.com", "contacts-only");
  full.display_name = "Bob Example";
  full.profile_udf = "MB2Q-XXXX";
  full.profile = std::string(8192, 'p');  // a DARE envelope's worth of JSON
  EXPECT_CALL(store_, getAccount(std::string_view("bob@example.com")))
      .WillOnce(Return(Result<AccountRecord>(full)));
  for (int i = 0; i < 2; ++i) {  // as read, and as kept
    auto r = cache_.get("bob@example.com", 1000ms);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->ingress_policy, "contacts-only");
    EXPECT_EQ(r->display_name, "Bob Example");
    EXPECT_TRUE(r->profile.empty());
    EXPECT_TRUE(r->profile_udf.empty());
  }
}

TEST_F(AccountCacheTest, NoSuchAccountIsKeptToo) {
  EXPECT_CALL(store_, getAccount(std::string_view("nobody@example.com")))
      .WillOnce(Return(Result<AccountRecord>(notFound("no account nobody@example.com"))));
  for (int i = 0; i < 3; ++i) {
    auto r = cache_.get("nobody@example.com", 1000ms);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  }
}

TEST_F(AccountCacheTest, AStoreFailureIsNotKept) {
  EXPECT_CALL(store_, getAccount(std::string_view("bob@example.com")))
      .WillOnce(Return(Result<AccountRecord>(unavailable("database is locked"))))
      .WillOnce(Return(Result<AccountRecord>(accountAt("bob@example.com", "open"))));
  auto failed = cache_.get("bob@example.com", 1000ms);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  auto next = cache_.get("bob@example.com", 1000ms);  // same instant: the store is asked again
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->ingress_policy, "open");
}

TEST_F(AccountCacheTest, TtlZeroAsksTheStoreEveryTime) {
  EXPECT_CALL(store_, getAccount(std::string_view("bob@example.com")))
      .Times(3)
      .WillRepeatedly(Return(Result<AccountRecord>(accountAt("bob@example.com", "open"))));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(cache_.get("bob@example.com", 0ms).ok());
}

TEST_F(AccountCacheTest, AFloodOfMadeUpRecipientsDoesNotGrowItWithoutBound) {
  // Twice as many distinct addresses as all shards hold, none expired: each shard fills and is
  // emptied, so the first address is no longer kept and is read again.
  const int flood = static_cast<int>(2 * AccountCache::kShards * AccountCache::kMaxEntriesPerShard);
  EXPECT_CALL(store_, getAccount(::testing::_))
      .Times(flood + 1)
      .WillRepeatedly(Return(Result<AccountRecord>(notFound("no such account"))));
  for (int i = 0; i < flood; ++i) {
    (void)cache_.get("u" + std::to_string(i) + "@example.com", 60000ms);
  }
  (void)cache_.get("u0@example.com", 60000ms);
}

// Through the engine: two recipients of one account, one read; the engine's configuration
// says how long (store.account_cache_ttl).
TEST(AccountCacheEngine, TheIngressCheckReadsAnAccountOncePerTtl) {
  auto loaded = config::loadConfigString(
      "gateway:\n  domains: [example.com]\nstore:\n  account_cache_ttl: 5s\n"
      "abuse:\n  enabled: false\ningress:\n  default: tag-unknown\n",
      "t.yaml");
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
  EXPECT_EQ(loaded.config->store.account_cache_ttl, 5000ms);
  StrictMock<testing::MockStore> store;
  testing::FixedClock clock{1'800'000'000};
  AccountCache cache(store);
  DecisionEngine engine(loaded.config, store, clock, nullptr, &cache);
  EXPECT_CALL(store, getAccount(std::string_view("bob@example.com")))
      .WillOnce(Return(Result<AccountRecord>(accountAt("bob@example.com", "contacts-only"))));
  EXPECT_CALL(store, findContact(std::string_view("bob@example.com"), ::testing::_))
      .Times(2)
      .WillRepeatedly(Return(Result<std::optional<ContactMatch>>(std::nullopt)));
  MessageRequest req;
  req.sender = "stranger@example.org";
  req.protocol = "smtp";
  for (int i = 0; i < 2; ++i) {
    auto r = engine.onRecipient(req, "bob@example.com");
    ASSERT_TRUE(r.ok()) << r.status().toString();
    EXPECT_EQ(r->verdict, Verdict::kReject);  // contacts-only, from the kept record both times
  }
}

TEST(AccountCacheConfig, TheTtlDefaultsToOneSecondAndIsBounded) {
  auto plain = config::loadConfigString("gateway:\n  domains: [example.com]\n", "t.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.config->store.account_cache_ttl, 1000ms);
  auto huge = config::loadConfigString(
      "gateway:\n  domains: [example.com]\nstore:\n  account_cache_ttl: 2h\n", "t.yaml");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.errors[0].find("account_cache_ttl"), std::string::npos) << huge.errors[0];
}

}  // namespace
}  // namespace meshgate::policy
