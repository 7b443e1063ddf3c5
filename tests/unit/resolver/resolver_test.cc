// resolver_test.cc - the profile resolver (policy/resolver/resolver.h): local accounts first,
// other domains through the locator and a Mesh client; verification of what comes back (seed
// 7.1.5), the cache with its three lifetimes (FixedClock), one lookup shared by concurrent
// callers, and the time budget. The transport is a fake here; mesh_client_test.cc and the
// integration test (tests/integration/resolver_tests.py) use real HTTPS servers.
#include "policy/resolver/resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "gateway/mesh/profile.h"
#include "gateway/ports/deadline.h"
#include "gateway/util/metrics.h"
#include "tests/support/mock_store.h"

namespace meshgate::resolver {
namespace {

using ::testing::_;
using ::testing::Return;
using meshgate::testing::FixedClock;
using meshgate::testing::MockStore;
using namespace std::chrono_literals;

constexpr int64_t kStart = 1'750'000'000;

mesh::PrivateKey newKey(mesh::KeyType type = mesh::KeyType::kEd25519) {
  auto k = mesh::PrivateKey::generate(type);
  EXPECT_TRUE(k.ok());
  return *k;
}

mesh::model::DateTime at(int64_t seconds) {
  return mesh::model::DateTime(std::chrono::seconds(seconds));
}

// One organization: its service key and profile; accounts made as account create makes them.
struct Org {
  mesh::PrivateKey service_key = newKey();
  mesh::SignedProfile<mesh::model::ProfileService> service =
      *mesh::makeServiceProfile(service_key, at(kStart));

  mesh::SignedProfile<mesh::model::ProfileAccount> account(std::vector<std::string> addresses) {
    auto p = mesh::makeAccountProfile({.addresses = std::move(addresses),
                                       .offline_signature = newKey(),
                                       .online_signature = {newKey().publicKey()},
                                       .encryption = newKey(mesh::KeyType::kX25519).publicKey(),
                                       .authentication = newKey().publicKey(),
                                       .updated = at(kStart)},
                                      service, service_key);
    EXPECT_TRUE(p.ok()) << p.status().toString();
    return *p;
  }
};

std::string getResponseWith(const mesh::DareEnvelope& envelope, const std::string& key) {
  mesh::model::GetResponse r;
  r.status = 201;
  r.status_description = "OK";
  mesh::model::DataItem item;
  item.key = key;
  item.envelope = envelope;
  r.data_items.push_back(item);
  return mesh::model::serialize(r);
}

std::string errorResponse(int status, const std::string& description) {
  nlohmann::json j = {{"MeshResponse", {{"Status", status}, {"StatusDescription", description}}}};
  return j.dump();
}

// Answers every post with the reply (or error) set by the test, counting calls.
class FakeTransport : public MeshTransport {
 public:
  Result<MeshReply> post(const ServiceEndpoint& endpoint, std::string_view service_name,
                         std::string_view body, Deadline deadline) const override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++calls_;
    last_body_ = std::string(body);
    last_host_ = endpoint.host;
    last_service_name_ = std::string(service_name);
    if (block_) {
      blocked_ = true;
      cv_.notify_all();
      cv_.wait_until(lock, deadline, [this] { return !block_; });
    }
    return reply_;
  }

  void answer(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mutex_);
    MeshReply r;
    r.http_status = status;
    r.body = std::move(body);
    r.peer = "192.0.2.1:443";
    reply_ = r;
  }
  void fail(Status st) {
    std::lock_guard<std::mutex> lock(mutex_);
    reply_ = std::move(st);
  }
  void setBlocking(bool block) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      block_ = block;
    }
    cv_.notify_all();
  }
  void waitUntilBlocked() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, 10s, [this] { return blocked_; });
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  std::string lastBody() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_body_;
  }
  std::string lastServiceName() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_service_name_;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  mutable int calls_ = 0;
  mutable std::string last_body_, last_host_, last_service_name_;
  mutable bool blocked_ = false;
  bool block_ = false;
  Result<MeshReply> reply_ = unavailable("no reply set");
};

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = std::make_shared<config::Config>();
    c->gateway.domains = {"example.com"};
    c->resolver.cache_ttl = 3600s;
    c->resolver.negative_ttl = 600s;
    c->resolver.failure_ttl = 60s;
    c->resolver.total_timeout = 2s;
    c->resolver.discovery = false;
    config::ServiceUrl url;
    url.text = "https://mmm.example.net:8443/.well-known/mmm/";
    url.host = "mmm.example.net";
    url.port = 8443;
    c->resolver.services["example.net"] = url;
    config = c;
  }

  std::unique_ptr<ProfileResolver> make() {
    ResolverDeps deps;
    deps.config = config;
    deps.store = &store;
    deps.clock = &clock;
    deps.service_key = local.service_key.publicKey();
    deps.client = transport;
    auto r = makeProfileResolver(std::move(deps));
    EXPECT_TRUE(r.ok()) << r.status().toString();
    return std::move(r).value();
  }

  std::shared_ptr<const config::Config> config;
  ::testing::NiceMock<MockStore> store;
  FixedClock clock{kStart + 10};
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  Org local;   // example.com, this gateway
  Org remote;  // example.net
};

// ---- Other domains ------------------------------------------------------------------------

// `org`'s account profile for `address` whose encryption key is valid until `expires`.
mesh::DareEnvelope profileExpiringAt(Org& org, const std::string& address, int64_t expires) {
  auto offline_key = newKey();
  auto made = mesh::makeAccountProfile({.addresses = {address},
                                        .offline_signature = offline_key,
                                        .online_signature = {},
                                        .encryption = newKey(mesh::KeyType::kX25519).publicKey(),
                                        .authentication = newKey().publicKey(),
                                        .updated = at(kStart)},
                                       org.service, org.service_key);
  EXPECT_TRUE(made.ok());
  mesh::model::ProfileAccount q = made->profile;
  q.key_encryption->not_on_or_after = at(expires);
  std::vector<mesh::PrivateKey> signers{offline_key, org.service_key};
  auto resealed = mesh::sealAssertion(q, signers);
  EXPECT_TRUE(resealed.ok());
  return *resealed;
}

TEST_F(ResolverTest, RemoteProfileIsFetchedFromTheListedServiceAndVerified) {
  auto bob = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, "bob@example.net"));
  auto resolver = make();
  auto r = resolver->resolve("Bob@Example.NET");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ((*r)->address, "bob@example.net");
  EXPECT_EQ((*r)->udf, bob.udf);
  EXPECT_EQ((*r)->service_udf, remote.service.udf);
  EXPECT_EQ((*r)->source, ProfileSource::kMeshService);
  EXPECT_NE((*r)->origin.find("https://mmm.example.net:8443/.well-known/mmm/"), std::string::npos);
  EXPECT_NE((*r)->origin.find("resolver.services"), std::string::npos);
  EXPECT_TRUE(mesh::isAgreementKey((*r)->encryption_key.type()));
  // The request was a Get by Account, with the domain as the service name (Host).
  EXPECT_EQ(transport->lastBody(), R"({"GetRequest":{"Account":"bob@example.net"}})");
  EXPECT_EQ(transport->lastServiceName(), "example.net");
}

TEST_F(ResolverTest, ProfileIsReadFromDataWhenNotEnveloped) {
  auto bob = remote.account({"bob@example.net"});
  mesh::model::GetResponse resp;
  resp.status = 201;
  mesh::model::DataItem item;
  item.key = bob.udf;  // a UDF key must be the profile's fingerprint
  item.data = toBytes(mesh::serializeDareEnvelope(bob.envelope));
  resp.data_items.push_back(item);
  transport->answer(201, mesh::model::serialize(resp));
  auto r = make()->resolve("bob@example.net");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ((*r)->udf, bob.udf);
}

TEST_F(ResolverTest, ItemKeyedByAnotherFingerprintIsRefused) {
  auto bob = remote.account({"bob@example.net"});
  auto other = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, other.udf));
  auto r = make()->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().toString();
}

TEST_F(ResolverTest, VerifiedProfileIsCachedForCacheTtl) {
  auto bob = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, "bob@example.net"));
  auto resolver = make();
  auto& hits = metrics::counter("meshgate_cache_lookups_total", "",
                                {{"cache", "resolver"}, {"result", "hit"}});
  auto& misses = metrics::counter("meshgate_cache_lookups_total", "",
                                  {{"cache", "resolver"}, {"result", "miss"}});
  const auto hits_before = hits.value(), misses_before = misses.value();
  ASSERT_TRUE(resolver->resolve("bob@example.net").ok());
  clock.set(kStart + 10 + 3599);
  auto again = resolver->resolve("bob@example.net");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(transport->calls(), 1) << "answered from the cache within cache_ttl";
  EXPECT_EQ(hits.value() - hits_before, 1u);  // the hit rate on /metrics
  EXPECT_EQ(misses.value() - misses_before, 1u);
  clock.set(kStart + 10 + 3600);
  ASSERT_TRUE(resolver->resolve("bob@example.net").ok());
  EXPECT_EQ(transport->calls(), 2) << "asked again once cache_ttl has passed";
}

TEST_F(ResolverTest, NoSuchAccountIsCachedNegativelyForNegativeTtl) {
  transport->answer(404, errorResponse(404, "Not found: no account nobody@example.net"));
  auto resolver = make();
  auto r = resolver->resolve("nobody@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().toString();
  EXPECT_NE(r.status().message().find("no account nobody@example.net"), std::string::npos);
  clock.set(kStart + 10 + 599);
  EXPECT_EQ(resolver->resolve("nobody@example.net").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(transport->calls(), 1);
  // The account appears; it is seen once negative_ttl has passed.
  auto made = remote.account({"nobody@example.net"});
  transport->answer(201, getResponseWith(made.envelope, "nobody@example.net"));
  clock.set(kStart + 10 + 600);
  EXPECT_TRUE(resolver->resolve("nobody@example.net").ok());
  EXPECT_EQ(transport->calls(), 2);
}

TEST_F(ResolverTest, NegativeTtlIsCappedByCacheTtl) {
  auto c = std::make_shared<config::Config>(*config);
  c->resolver.cache_ttl = 30s;
  c->resolver.negative_ttl = 600s;
  config = c;
  transport->answer(404, errorResponse(404, "Not found"));
  auto resolver = make();
  ASSERT_FALSE(resolver->resolve("x@example.net").ok());
  clock.set(kStart + 10 + 30);
  ASSERT_FALSE(resolver->resolve("x@example.net").ok());
  EXPECT_EQ(transport->calls(), 2);
}

TEST_F(ResolverTest, UnreachableServiceIsRememberedOnlyForFailureTtl) {
  transport->fail(unavailable("https://mmm.example.net:8443/.well-known/mmm/: connection refused"));
  auto resolver = make();
  auto r = resolver->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  clock.set(kStart + 10 + 59);
  EXPECT_EQ(resolver->resolve("bob@example.net").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(transport->calls(), 1);
  auto bob = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, "bob@example.net"));
  clock.set(kStart + 10 + 60);
  EXPECT_TRUE(resolver->resolve("bob@example.net").ok());
  EXPECT_EQ(transport->calls(), 2);
}

TEST_F(ResolverTest, ServiceErrorIsAFailureNotAnAnswer) {
  transport->answer(503, errorResponse(503, "Service unavailable: store down"));
  auto r = make()->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().toString();
}

TEST_F(ResolverTest, PayloadStatusIsAuthoritative) {
  // HTTP says 200 but the payload says 404: no profile.
  transport->answer(200, errorResponse(404, "Not found"));
  EXPECT_EQ(make()->resolve("bob@example.net").status().code(), StatusCode::kNotFound);
}

TEST_F(ResolverTest, TamperedProfileIsRefusedAndCachedNegatively) {
  auto bob = remote.account({"bob@example.net"});
  mesh::DareEnvelope tampered = bob.envelope;
  ASSERT_FALSE(tampered.payload.empty());
  // One byte of the signed payload: "bob" -> "cob" in the address list.
  std::string text = toString(tampered.payload);
  size_t pos = text.find("bob@example.net");
  ASSERT_NE(pos, std::string::npos);
  text[pos] = 'c';
  tampered.payload = toBytes(text);
  transport->answer(201, getResponseWith(tampered, "bob@example.net"));
  auto resolver = make();
  auto r = resolver->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().toString();
  // The payload no longer matches what was signed (its digest, then its signatures).
  EXPECT_TRUE(r.status().message().find("PayloadDigest does not match") != std::string::npos ||
              r.status().message().find("does not verify") != std::string::npos)
      << r.status().toString();
  EXPECT_NE(r.status().message().find("mmm.example.net"), std::string::npos)
      << "the error names where the profile came from: " << r.status().toString();
  clock.set(kStart + 10 + 599);
  EXPECT_EQ(resolver->resolve("bob@example.net").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(transport->calls(), 1) << "a refused profile is a negative answer";
}

TEST_F(ResolverTest, ProfileOfAnotherAddressIsRefused) {
  auto alice = remote.account({"alice@example.net"});
  transport->answer(201, getResponseWith(alice.envelope, "bob@example.net"));
  auto r = make()->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().toString();
  EXPECT_NE(r.status().message().find("does not list the address bob@example.net"),
            std::string::npos)
      << r.status().toString();
}

TEST_F(ResolverTest, ProfileCountersignedByAnotherServiceThanItCarriesIsRefused) {
  // Mallory re-signs Bob's payload with her own service key but keeps the real service
  // profile inside.
  Org mallory;
  auto offline = newKey();
  auto made = mesh::makeAccountProfile(
      {.addresses = {"bob@example.net"}, .offline_signature = offline, .online_signature = {},
       .encryption = newKey(mesh::KeyType::kX25519).publicKey(),
       .authentication = newKey().publicKey(), .updated = at(kStart)},
      mallory.service, mallory.service_key);
  ASSERT_TRUE(made.ok()) << made.status().toString();
  mesh::model::ProfileAccount p = made->profile;
  p.enveloped_profile_service = remote.service.envelope;
  std::vector<mesh::PrivateKey> signers{offline, mallory.service_key};
  auto forged = mesh::sealAssertion(p, signers);
  ASSERT_TRUE(forged.ok());
  transport->answer(201, getResponseWith(*forged, "bob@example.net"));
  auto r = make()->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().toString();
}

TEST_F(ResolverTest, ResponseWithoutProfileIsRefused) {
  mesh::model::GetResponse resp;
  resp.status = 201;
  transport->answer(201, mesh::model::serialize(resp));
  auto r = make()->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().toString();
}

TEST_F(ResolverTest, GarbageBodyIsRefused) {
  transport->answer(201, "<html>hello</html>");
  auto r = make()->resolve("bob@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().toString();
}

TEST_F(ResolverTest, ExpiredProfileKeyIsRefused) {
  // A profile whose encryption key was valid only until kStart + 5, judged at kStart + 10.
  auto offline_key = newKey();
  auto expiring = mesh::makeAccountProfile(
      {.addresses = {"carol@example.net"}, .offline_signature = offline_key,
       .online_signature = {}, .encryption = newKey(mesh::KeyType::kX25519).publicKey(),
       .authentication = newKey().publicKey(), .updated = at(kStart)},
      remote.service, remote.service_key);
  ASSERT_TRUE(expiring.ok());
  mesh::model::ProfileAccount q = expiring->profile;
  q.key_encryption->not_on_or_after = at(kStart + 5);
  std::vector<mesh::PrivateKey> signers{offline_key, remote.service_key};
  auto resealed = mesh::sealAssertion(q, signers);
  ASSERT_TRUE(resealed.ok());
  transport->answer(201, getResponseWith(*resealed, "carol@example.net"));
  auto r = make()->resolve("carol@example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().toString();
}

TEST_F(ResolverTest, CachedProfileIsNotUsedPastItsFirstKeyExpiry) {
  // cache_ttl is an hour; the encryption key expires 90 s after the lookup.
  transport->answer(201,
                    getResponseWith(profileExpiringAt(remote, "carol@example.net", kStart + 100),
                                    "carol@example.net"));
  auto resolver = make();
  auto first = resolver->resolve("carol@example.net");
  ASSERT_TRUE(first.ok()) << first.status().toString();
  EXPECT_EQ((*first)->valid_until, kStart + 100);
  clock.set(kStart + 99);
  ASSERT_TRUE(resolver->resolve("carol@example.net").ok());
  EXPECT_EQ(transport->calls(), 1) << "still valid: from the cache";
  clock.set(kStart + 100);
  auto expired = resolver->resolve("carol@example.net");
  EXPECT_EQ(transport->calls(), 2) << "asked again once a key it relied on expired";
  ASSERT_FALSE(expired.ok()) << "the same profile is refused now";
  EXPECT_EQ(expired.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ResolverTest, AFailureCutShortByTheCallersBudgetIsNotCached) {
  transport->fail(deadlineExceeded("no answer in time"));
  transport->setBlocking(true);  // waits to the caller's deadline, then fails
  auto resolver = make();
  {
    DeadlineScope short_budget(100ms);  // less than total_timeout (2 s)
    EXPECT_FALSE(resolver->resolve("bob@example.net").ok());
  }
  auto bob = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, "bob@example.net"));
  transport->setBlocking(false);
  auto later = resolver->resolve("bob@example.net");
  EXPECT_TRUE(later.ok()) << "the next caller asks; it is not failed for failure_ttl: "
                          << later.status().toString();
  EXPECT_EQ(transport->calls(), 2);
}

TEST_F(ResolverTest, AWaiterWithTimeLeftAsksAgainWhenTheLeadersBudgetRanOut) {
  transport->fail(deadlineExceeded("no answer in time"));
  transport->setBlocking(true);
  auto resolver = make();
  std::thread hurried([&] {
    DeadlineScope short_budget(300ms);
    EXPECT_FALSE(resolver->resolve("bob@example.net").ok());
  });
  transport->waitUntilBlocked();
  Result<std::shared_ptr<const ResolvedProfile>> patient = unavailable("not run");
  std::thread waiter([&] { patient = resolver->resolve("bob@example.net"); });  // 2 s budget
  hurried.join();
  auto bob = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, "bob@example.net"));
  transport->setBlocking(false);
  waiter.join();
  EXPECT_TRUE(patient.ok()) << patient.status().toString();
}

TEST_F(ResolverTest, ConcurrentCallersShareOneLookup) {
  auto bob = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, "bob@example.net"));
  transport->setBlocking(true);
  auto resolver = make();
  std::atomic<int> ok{0};
  std::thread first([&] { ok += resolver->resolve("bob@example.net").ok() ? 1 : 0; });
  transport->waitUntilBlocked();
  std::thread second([&] { ok += resolver->resolve("bob@example.net").ok() ? 1 : 0; });
  std::this_thread::sleep_for(50ms);  // let the second caller reach the wait
  transport->setBlocking(false);
  first.join();
  second.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(transport->calls(), 1);
}

TEST_F(ResolverTest, LookupIsBoundedByTheCallersDeadline) {
  transport->setBlocking(true);  // a service that never answers (the fake waits to the deadline)
  transport->answer(201, "{}");
  auto resolver = make();
  DeadlineScope scope(200ms);
  const auto started = std::chrono::steady_clock::now();
  auto r = resolver->resolve("bob@example.net");
  const auto took = std::chrono::steady_clock::now() - started;
  // The fake returns its reply after the deadline; the resolver must not wait past it for
  // anything else (no retries, no second endpoint). The bound is generous: correctness, not
  // speed.
  EXPECT_LT(took, 5s);
  (void)r;
}

TEST_F(ResolverTest, InvalidateForgetsTheCachedAnswer) {
  transport->answer(404, errorResponse(404, "Not found"));
  auto resolver = make();
  ASSERT_FALSE(resolver->resolve("bob@example.net").ok());
  auto bob = remote.account({"bob@example.net"});
  transport->answer(201, getResponseWith(bob.envelope, "bob@example.net"));
  resolver->invalidate("bob@example.net");
  EXPECT_TRUE(resolver->resolve("bob@example.net").ok());
  EXPECT_EQ(transport->calls(), 2);
}

TEST_F(ResolverTest, CacheKeepsAtMostMaxCacheEntries) {
  auto c = std::make_shared<config::Config>(*config);
  c->resolver.max_cache_entries = 2;
  config = c;
  transport->answer(404, errorResponse(404, "Not found"));
  auto resolver = make();
  for (const char* a : {"a@example.net", "b@example.net", "c@example.net"}) {
    ASSERT_FALSE(resolver->resolve(a).ok());
  }
  EXPECT_EQ(transport->calls(), 3);
  // At most two are remembered, so asking all three again asks the service at least once.
  for (const char* a : {"a@example.net", "b@example.net", "c@example.net"}) {
    ASSERT_FALSE(resolver->resolve(a).ok());
  }
  EXPECT_GE(transport->calls(), 4);
}

TEST_F(ResolverTest, DomainWithoutServiceAndDiscoveryOffIsNotFound) {
  auto r = make()->resolve("someone@example.org");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().toString();
  EXPECT_NE(r.status().message().find("resolver.discovery is off"), std::string::npos);
  EXPECT_EQ(transport->calls(), 0);
}

TEST_F(ResolverTest, MalformedAddressIsInvalid) {
  auto resolver = make();
  for (const char* bad : {"", "bob", "@example.net", "bob@", "bob@exa mple.net", "a/b@x.net"}) {
    EXPECT_EQ(resolver->resolve(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(transport->calls(), 0);
}

// ---- Local accounts -----------------------------------------------------------------------

AccountRecord recordOf(const std::string& address,
                       const mesh::SignedProfile<mesh::model::ProfileAccount>& p) {
  AccountRecord r;
  r.address = address;
  r.profile_udf = p.udf;
  r.profile = mesh::serializeDareEnvelope(p.envelope);
  return r;
}

TEST_F(ResolverTest, LocalAccountIsAnsweredFromTheStoreWithoutTheNetwork) {
  auto alice = local.account({"alice@example.com"});
  EXPECT_CALL(store, getAccount(std::string_view("alice@example.com")))
      .WillRepeatedly(Return(recordOf("alice@example.com", alice)));
  auto r = make()->resolve("alice@example.com");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ((*r)->udf, alice.udf);
  EXPECT_EQ((*r)->source, ProfileSource::kLocalStore);
  EXPECT_EQ((*r)->origin, "store");
  EXPECT_EQ(transport->calls(), 0);
}

TEST_F(ResolverTest, LocalProfileCountersignedByAnotherServiceIsRefused) {
  auto alice = remote.account({"alice@example.com"});  // a valid profile, but not ours
  EXPECT_CALL(store, getAccount(_)).WillRepeatedly(Return(recordOf("alice@example.com", alice)));
  auto r = make()->resolve("alice@example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().toString();
  EXPECT_NE(r.status().message().find("not by this gateway"), std::string::npos);
}

TEST_F(ResolverTest, LocalProfileNotMatchingItsStoredUdfIsRefused) {
  auto alice = local.account({"alice@example.com"});
  auto other = local.account({"alice@example.com"});
  AccountRecord rec = recordOf("alice@example.com", alice);
  rec.profile_udf = other.udf;
  EXPECT_CALL(store, getAccount(_)).WillRepeatedly(Return(rec));
  auto r = make()->resolve("alice@example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().toString();
}

TEST_F(ResolverTest, LocalAccountWithoutProfileOrAccountIsNotFound) {
  AccountRecord bare;
  bare.address = "old@example.com";
  EXPECT_CALL(store, getAccount(std::string_view("old@example.com"))).WillRepeatedly(Return(bare));
  EXPECT_CALL(store, getAccount(std::string_view("none@example.com")))
      .WillRepeatedly(Return(notFound("no account none@example.com")));
  auto resolver = make();
  auto old = resolver->resolve("old@example.com");
  EXPECT_EQ(old.status().code(), StatusCode::kNotFound);
  EXPECT_NE(old.status().message().find("meshgate account provision"), std::string::npos);
  EXPECT_EQ(resolver->resolve("none@example.com").status().code(), StatusCode::kNotFound);
}

TEST_F(ResolverTest, LocalStoreFailureIsUnavailableNotNotFound) {
  EXPECT_CALL(store, getAccount(_)).WillRepeatedly(Return(unavailable("database is locked")));
  EXPECT_EQ(make()->resolve("alice@example.com").status().code(), StatusCode::kUnavailable);
}

TEST_F(ResolverTest, LocalVerificationIsNotReusedPastItsFirstKeyExpiry) {
  AccountRecord rec;
  rec.address = "dave@example.com";
  rec.profile =
      mesh::serializeDareEnvelope(profileExpiringAt(local, "dave@example.com", kStart + 100));
  EXPECT_CALL(store, getAccount(_)).WillRepeatedly(Return(rec));
  auto resolver = make();
  ASSERT_TRUE(resolver->resolve("dave@example.com").ok());
  clock.set(kStart + 100);
  auto r = resolver->resolve("dave@example.com");
  ASSERT_FALSE(r.ok()) << "the stored text is unchanged, but its encryption key has expired";
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().toString();
}

TEST_F(ResolverTest, ReprovisionedLocalProfileIsSeenAtOnce) {
  auto first = local.account({"alice@example.com"});
  auto second = local.account({"alice@example.com"});
  AccountRecord rec = recordOf("alice@example.com", first);
  EXPECT_CALL(store, getAccount(_)).WillRepeatedly([&](std::string_view) {
    return Result<AccountRecord>(rec);
  });
  auto resolver = make();
  ASSERT_EQ((*resolver->resolve("alice@example.com"))->udf, first.udf);
  rec = recordOf("alice@example.com", second);
  ASSERT_EQ((*resolver->resolve("alice@example.com"))->udf, second.udf);
}

// ---- The free functions -------------------------------------------------------------------

TEST(GetResponse, MissingStatusFallsBackToHttpStatus) {
  Org org;
  auto bob = org.account({"bob@example.net"});
  mesh::model::GetResponse resp;  // no Status member
  mesh::model::DataItem item;
  item.envelope = bob.envelope;
  resp.data_items.push_back(item);
  auto ok = profileFromGetResponse("bob@example.net", 201, mesh::model::serialize(resp), kStart);
  EXPECT_TRUE(ok.ok()) << ok.status().toString();
  auto bad = profileFromGetResponse("bob@example.net", 500, mesh::model::serialize(resp), kStart);
  EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace meshgate::resolver
