// service_locator_test.cc - where a domain's Mesh service is: the resolver.services override,
// discovery switched off, SRV answers as res_nquery returns them (built byte by byte here,
// with name compression), their RFC 2782 order, malformed answers, and runWithTimeout.
#include "policy/resolver/service_locator.h"

#include <gtest/gtest.h>

#include <arpa/nameser.h>

#include <chrono>
#include <thread>

namespace meshgate::resolver {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<unsigned char>;

void put16(Bytes& b, int v) {
  b.push_back(static_cast<unsigned char>((v >> 8) & 0xff));
  b.push_back(static_cast<unsigned char>(v & 0xff));
}

void putName(Bytes& b, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<unsigned char>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
}

struct Srv {
  int priority, weight, port;
  std::string target;  // "" = the root name "."
  bool compressed_target = false;  // target written as a pointer to the question name's domain
};

// A DNS response: header, the question _mmm._tcp.<domain> SRV IN, then the answers (owner
// name as a pointer to the question), optionally a CNAME first.
Bytes srvResponse(const std::string& domain, const std::vector<Srv>& answers, bool cname = false) {
  Bytes b;
  put16(b, 0x1234);  // id
  put16(b, 0x8180);  // response, recursion desired/available, no error
  put16(b, 1);       // questions
  put16(b, static_cast<int>(answers.size()) + (cname ? 1 : 0));
  put16(b, 0);
  put16(b, 0);
  putName(b, "_mmm._tcp." + domain);  // at offset 12
  put16(b, ns_t_srv);
  put16(b, ns_c_in);
  if (cname) {
    put16(b, 0xc00c);
    put16(b, ns_t_cname);
    put16(b, ns_c_in);
    put16(b, 0);
    put16(b, 300);
    Bytes target;
    putName(target, "alias." + domain);
    put16(b, static_cast<int>(target.size()));
    b.insert(b.end(), target.begin(), target.end());
  }
  for (const Srv& s : answers) {
    put16(b, 0xc00c);
    put16(b, ns_t_srv);
    put16(b, ns_c_in);
    put16(b, 0);
    put16(b, 300);  // TTL
    Bytes rdata;
    put16(rdata, s.priority);
    put16(rdata, s.weight);
    put16(rdata, s.port);
    if (s.compressed_target) {
      // "mmm" + pointer to "example.net" inside the question (offset 12 + len("_mmm._tcp.")).
      rdata.push_back(3);
      rdata.insert(rdata.end(), {'m', 'm', 'm'});
      put16(rdata, 0xc000 | (12 + 10));
    } else {
      putName(rdata, s.target);
    }
    put16(b, static_cast<int>(rdata.size()));
    b.insert(b.end(), rdata.begin(), rdata.end());
  }
  return b;
}

Result<std::vector<SrvRecord>> parse(const Bytes& b) {
  return parseSrvAnswer(b.data(), static_cast<int>(b.size()));
}

TEST(SrvAnswer, ReadsEveryRecordWithPortAndTarget) {
  Bytes b = srvResponse("example.net", {{10, 5, 15099, "mesh1.example.net"},
                                        {20, 0, 443, "Mesh2.Example.NET"}});
  auto r = parse(b);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].priority, 10);
  EXPECT_EQ((*r)[0].weight, 5);
  EXPECT_EQ((*r)[0].port, 15099);
  EXPECT_EQ((*r)[0].target, "mesh1.example.net");
  EXPECT_EQ((*r)[1].target, "mesh2.example.net") << "names are lower-cased";
}

TEST(SrvAnswer, FollowsCompressionPointersInTheTarget) {
  auto r = parse(srvResponse("example.net", {{0, 0, 443, "", true}}));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].target, "mmm.example.net");
}

TEST(SrvAnswer, RootTargetMeansNoService) {
  auto r = parse(srvResponse("example.net", {{0, 0, 0, ""}}));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].target, ".");
}

TEST(SrvAnswer, SkipsRecordsOfOtherTypes) {
  auto r = parse(srvResponse("example.net", {{1, 1, 8443, "mmm.example.net"}}, /*cname=*/true));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].port, 8443);
}

TEST(SrvAnswer, EmptyAnswerSectionGivesNoRecords) {
  auto r = parse(srvResponse("example.net", {}));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(SrvAnswer, EveryTruncationIsRefusedWithoutReadingPastTheEnd) {
  Bytes full = srvResponse("example.net", {{10, 5, 15099, "mesh1.example.net"}});
  for (size_t n = 0; n < full.size(); ++n) {
    Bytes cut(full.begin(), full.begin() + static_cast<long>(n));
    auto r = parse(cut);
    // A cut inside the header or any record must fail; nothing may be read past n bytes
    // (the sanitizer build checks that).
    EXPECT_FALSE(r.ok() && !r->empty()) << "accepted a record from " << n << " of "
                                        << full.size() << " bytes";
  }
}

TEST(SrvAnswer, RecordDataShorterThanAnSrvIsRefused) {
  Bytes b = srvResponse("example.net", {{10, 5, 15099, "x.example.net"}});
  // Set the record's RDLENGTH to 4 (the last record's length field is before its rdata).
  const size_t rdata_len = 2 + 2 + 2 + (1 + 1 + 1 + 7 + 1 + 3 + 1);
  const size_t at = b.size() - rdata_len - 2;
  b[at] = 0;
  b[at + 1] = 4;
  b.resize(at + 2 + 4);
  auto r = parse(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(SrvAnswer, PointerLoopIsRefused) {
  Bytes b = srvResponse("example.net", {});
  put16(b, 0xc000 | static_cast<int>(b.size()));  // an owner name pointing at itself
  b[7] = 1;                                       // one answer
  for (int i = 0; i < 10; ++i) b.push_back(0);
  auto r = parse(b);
  EXPECT_FALSE(r.ok());
}

TEST(SrvOrder, LowerPriorityFirstThenHigherWeight) {
  std::vector<SrvRecord> r = {{20, 100, 1, "c"}, {10, 1, 1, "b"}, {10, 50, 1, "a"}, {30, 0, 1, "d"}};
  sortSrvRecords(r);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].target, "a");
  EXPECT_EQ(r[1].target, "b");
  EXPECT_EQ(r[2].target, "c");
  EXPECT_EQ(r[3].target, "d");
}

TEST(ServiceLocator, ListedDomainUsesTheConfiguredUrlOnly) {
  config::ResolverSection s;
  config::ServiceUrl u;
  u.text = "https://127.0.0.1:15099/mmm/";
  u.host = "127.0.0.1";
  u.port = 15099;
  u.path = "/mmm/";
  s.services["example.net"] = u;
  auto locator = makeServiceLocator(s);
  auto r = locator->locate("Example.NET", 1s);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].url(), "https://127.0.0.1:15099/mmm/");
  EXPECT_NE((*r)[0].found_by.find("resolver.services"), std::string::npos);
}

TEST(ServiceLocator, UnlistedDomainWithDiscoveryOffHasNoService) {
  config::ResolverSection s;
  s.discovery = false;
  auto r = makeServiceLocator(s)->locate("example.org", 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(ServiceEndpoint, Ipv6AddressIsBracketed) {
  ServiceEndpoint e{"::1", 8443, "/.well-known/mmm/", ""};
  EXPECT_EQ(e.url(), "https://[::1]:8443/.well-known/mmm/");
}

TEST(RunWithTimeout, ReturnsTheResultInTime) {
  auto r = runWithTimeout<int>([] { return Result<int>(7); }, 1s, "seven");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
}

TEST(RunWithTimeout, AbandonsAHungCallAtTheTimeout) {
  auto r = runWithTimeout<int>(
      [] {
        std::this_thread::sleep_for(1500ms);
        return Result<int>(1);
      },
      100ms, "DNS SRV lookup of _mmm._tcp.example.net");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("took longer than 100 ms"), std::string::npos);
}

}  // namespace
}  // namespace meshgate::resolver
