// The Postfix policy protocol parser: strict, incremental, bounded.
#include "policy/policyd/policy_protocol.h"

#include <gtest/gtest.h>

#include <vector>

namespace meshgate::policyd {
namespace {

TEST(PolicyProtocol, ParsesOneRequest) {
  PolicyStreamParser p(65536);
  p.append("request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b\nrecipient=c@d\n\n");
  auto r = p.next();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->get("protocol_state"), "RCPT");
  EXPECT_EQ((*r)->get("sender"), "a@b");
  EXPECT_EQ((*r)->get("missing"), "");
  EXPECT_EQ(p.pending(), 0u);
}

TEST(PolicyProtocol, WaitsForTheEmptyLineAcrossChunks) {
  PolicyStreamParser p(65536);
  std::string req = "request=smtpd_access_policy\nsender=\nrecipient=x@y\n\n";
  for (size_t i = 0; i + 1 < req.size(); ++i) {
    p.append(req.substr(i, 1));
    auto r = p.next();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value()) << "complete after " << i + 1 << " bytes";
  }
  p.append(req.substr(req.size() - 1));
  auto r = p.next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->get("sender"), "");  // empty value = unknown, allowed
  EXPECT_TRUE((*r)->has("sender"));
}

TEST(PolicyProtocol, ByteAtATimeWithMixedLineEndsThenTheNextRequest) {
  // The parser keeps its place between calls (it no longer rescans what it has seen): an end
  // split anywhere, CR LF or LF, is still found, and the request after it starts afresh.
  PolicyStreamParser p(65536);
  const std::string two =
      "request=smtpd_access_policy\r\nsender=a@b.example\n\r\n"
      "request=smtpd_access_policy\ninstance=2\r\n\n";
  std::vector<PolicyRequest> got;
  for (char c : two) {
    p.append(std::string(1, c));
    auto r = p.next();
    ASSERT_TRUE(r.ok()) << r.status().toString();
    if (r->has_value()) got.push_back(std::move(**r));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].get("sender"), "a@b.example");
  EXPECT_FALSE(got[0].has("instance"));
  EXPECT_EQ(got[1].get("instance"), "2");
  EXPECT_EQ(p.pending(), 0u);
}

TEST(PolicyProtocol, PipelinedRequestsComeOutInOrder) {
  PolicyStreamParser p(65536);
  p.append("request=smtpd_access_policy\ninstance=1\n\nrequest=smtpd_access_policy\ninstance=2\n\nreq");
  auto a = p.next();
  auto b = p.next();
  auto c = p.next();
  ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value() && c.ok());
  EXPECT_EQ((*a)->get("instance"), "1");
  EXPECT_EQ((*b)->get("instance"), "2");
  EXPECT_FALSE(c->has_value());
  EXPECT_EQ(p.pending(), 3u);
}

TEST(PolicyProtocol, ToleratesCrLf) {
  PolicyStreamParser p(65536);
  p.append("request=smtpd_access_policy\r\nsender=a@b\r\n\r\n");
  auto r = p.next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->get("sender"), "a@b");
}

TEST(PolicyProtocol, ValuesMayContainEqualsSigns) {
  PolicyStreamParser p(65536);
  p.append("ccert_subject=CN=x,O=y\n\n");
  auto r = p.next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->get("ccert_subject"), "CN=x,O=y");
}

struct BadRequest {
  const char* name;
  std::string bytes;
  StatusCode code;
  const char* message;
};
void PrintTo(const BadRequest& b, std::ostream* os) { *os << b.name; }

class PolicyProtocolErrors : public ::testing::TestWithParam<BadRequest> {};

TEST_P(PolicyProtocolErrors, AreErrorsNotCrashes) {
  PolicyStreamParser p(1024);
  p.append(GetParam().bytes);
  auto r = p.next();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), GetParam().code);
  EXPECT_EQ(r.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, PolicyProtocolErrors,
    ::testing::Values(
        BadRequest{"NoEquals", "request=smtpd_access_policy\ngarbage\n\n",
                   StatusCode::kInvalidArgument, "line 2: expected name=value"},
        BadRequest{"EmptyName", "=value\n\n", StatusCode::kInvalidArgument,
                   "line 1: invalid attribute name"},
        BadRequest{"BadNameCharacters", "na me=value\n\n", StatusCode::kInvalidArgument,
                   "line 1: invalid attribute name"},
        BadRequest{"Repeated", "sender=a\nsender=b\n\n", StatusCode::kInvalidArgument,
                   "line 2: attribute sender repeated"},
        BadRequest{"NulByte", std::string("sender=a\0b\n\n", 12), StatusCode::kInvalidArgument,
                   "line 1: NUL byte in request"},
        BadRequest{"OversizedWithoutEnd", "sender=" + std::string(2000, 'a'),
                   StatusCode::kResourceExhausted, "policy request larger than 1024 bytes"},
        BadRequest{"OversizedComplete", "sender=" + std::string(2000, 'a') + "\n\n",
                   StatusCode::kResourceExhausted, "policy request larger than 1024 bytes"}),
    [](const ::testing::TestParamInfo<BadRequest>& tp) { return tp.param.name; });

TEST(PolicyProtocol, ReplyIsOneActionLineAndCannotBeInjected) {
  EXPECT_EQ(formatReply("DUNNO"), "action=DUNNO\n\n");
  EXPECT_EQ(formatReply("550 5.7.1", "no\r\naction=OK"), "action=550 5.7.1 no  action=OK\n\n");
}

}  // namespace
}  // namespace meshgate::policyd
