// PolicydSession without a socket: the request -> MessageRequest mapping (direction from
// sasl_username, policy_context, client_address) and the one rule for failures: an error is
// returned, never turned into an action (the server then closes without a reply).
#include "policy/policyd/policyd_session.h"

#include <gtest/gtest.h>

#include "gateway/config/config_loader.h"
#include "tests/support/mock_store.h"

namespace meshgate::policyd {
namespace {

using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

PolicyRequest request(std::initializer_list<std::pair<std::string, std::string>> attrs) {
  PolicyRequest r;
  for (const auto& [k, v] : attrs) r.attributes.emplace(k, v);
  return r;
}

std::shared_ptr<const config::Config> load(const std::string& yaml) {
  auto loaded = config::loadConfigString(yaml, "t.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
  return loaded.config;
}

struct DirectionCase {
  const char* name;
  std::initializer_list<std::pair<std::string, std::string>> attrs;
  policy::Direction expected;
};

TEST(PolicydSession, DirectionComesFromSaslUserPolicyContextAndNetworks) {
  auto cfg = load("gateway:\n  domains: [example.com]\negress:\n  outbound:\n"
                  "    daemon_names: [ORIGINATING]\n    networks: [10.1.0.0/16]\n");
  ASSERT_TRUE(cfg);
  const DirectionCase cases[] = {
      {"anonymous on port 25", {{"client_address", "203.0.113.9"}}, policy::Direction::kInbound},
      {"authenticated", {{"client_address", "203.0.113.9"}, {"sasl_username", "alice"}},
       policy::Direction::kOutbound},
      {"submission service", {{"client_address", "203.0.113.9"}, {"policy_context", "ORIGINATING"}},
       policy::Direction::kOutbound},
      {"other policy_context", {{"client_address", "203.0.113.9"}, {"policy_context", "MX"}},
       policy::Direction::kInbound},
      {"internal network", {{"client_address", "10.1.2.3"}}, policy::Direction::kOutbound},
      {"empty sasl_username", {{"client_address", "203.0.113.9"}, {"sasl_username", ""}},
       policy::Direction::kInbound},
  };
  for (const auto& c : cases) {
    PolicyRequest r;
    for (const auto& [k, v] : c.attrs) r.attributes.emplace(k, v);
    EXPECT_EQ(toMessageRequest(r, *cfg).direction, c.expected) << c.name;
  }
}

TEST(PolicydSession, MapsTheAttributesToTheCoreRequest) {
  auto r = toMessageRequest(request({{"sender", "Alice@Example.COM"},
                                     {"recipient", "bob@Partner.NET"},
                                     {"client_address", "192.0.2.7"},
                                     {"client_name", "mx.partner.net"},
                                     {"helo_name", "mx"},
                                     {"sasl_username", "alice"},
                                     {"policy_context", "ORIGINATING"},
                                     {"instance", "1a2b.3c"},
                                     {"queue_id", "4ABC"},
                                     {"size", "12345"}}));
  EXPECT_EQ(r.front_end, "policyd");
  EXPECT_EQ(r.sender, "Alice@example.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0], "bob@partner.net");
  EXPECT_EQ(r.client.address, "192.0.2.7");
  EXPECT_EQ(r.client.auth_user, "alice");
  EXPECT_EQ(r.client.daemon_name, "ORIGINATING");
  EXPECT_EQ(r.instance, "1a2b.3c");
  EXPECT_EQ(r.queue_id, "4ABC");
  EXPECT_EQ(r.size, 12345);
  EXPECT_EQ(toMessageRequest(request({{"size", "12x"}})).size, 12);
}

TEST(PolicydSession, AStoreFailureIsAnErrorNotAnAction) {
  auto cfg = load("gateway:\n  domains: [example.com]\ningress:\n  default: contacts-only\n"
                  "abuse:\n  enabled: false\n");
  ASSERT_TRUE(cfg);
  NiceMock<testing::MockStore> store;
  testing::FixedClock clock(1'800'000'000);
  auto engine = std::make_shared<const policy::DecisionEngine>(cfg, store, clock);
  EXPECT_CALL(store, getAccount(_))
      .WillRepeatedly(Return(Result<AccountRecord>(unavailable("database is locked"))));
  PolicydSession session([engine] { return engine; });
  auto reply = session.handle(request({{"request", "smtpd_access_policy"},
                                       {"protocol_state", "RCPT"},
                                       {"sender", "m@evil.example"},
                                       {"recipient", "bob@example.com"},
                                       {"instance", "X1"}}));
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().toString().find("database is locked"), std::string::npos);
}

TEST(PolicydSession, AMissingOrUnknownProtocolStateIsAnErrorNotDunno) {
  auto cfg = load(
      "gateway:\n  domains: [example.com]\ningress:\n  default: contacts-only\n"
      "abuse:\n  enabled: false\n");
  ASSERT_TRUE(cfg);
  NiceMock<testing::MockStore> store;
  testing::FixedClock clock(1'800'000'000);
  auto engine = std::make_shared<const policy::DecisionEngine>(cfg, store, clock);
  PolicydSession session([engine] { return engine; });
  // A request that would be refused at RCPT must not pass as DUNNO because its stage is
  // missing or misspelt: no answer, and Postfix defers.
  for (const char* state : {"", "rcpt", "RCPT-TO"}) {
    auto reply = session.handle(request({{"request", "smtpd_access_policy"},
                                         {"protocol_state", state},
                                         {"sender", "m@evil.example"},
                                         {"recipient", "bob@example.com"},
                                         {"instance", "X2"}}));
    ASSERT_FALSE(reply.ok()) << state;
    EXPECT_NE(reply.status().message().find("expected RCPT or END-OF-MESSAGE"), std::string::npos)
        << reply.status().toString();
  }
  // Postfix's own other stages are answered DUNNO (nothing is decided there).
  auto mail = session.handle(request({{"request", "smtpd_access_policy"},
                                      {"protocol_state", "MAIL"},
                                      {"sender", "m@evil.example"},
                                      {"instance", "X3"}}));
  ASSERT_TRUE(mail.ok()) << mail.status().toString();
  EXPECT_EQ(*mail, "action=DUNNO\n\n");
}

TEST(PolicydSession, NoEngineIsAnError) {
  PolicydSession session([] { return std::shared_ptr<const policy::DecisionEngine>(); });
  auto reply = session.handle(request({{"request", "smtpd_access_policy"},
                                       {"protocol_state", "RCPT"},
                                       {"recipient", "bob@example.com"}}));
  EXPECT_FALSE(reply.ok());
}

TEST(PolicydSession, ActionTableNeverAnswersOkAndKeepsCodesConsistent) {
  struct Row {
    policy::Verdict verdict;
    policy::Reply reply;
    const char* expected;
  };
  const Row rows[] = {
      {policy::Verdict::kAccept, {}, "action=DUNNO\n\n"},
      {policy::Verdict::kReject, {"", "", "no"}, "action=550 5.7.1 no\n\n"},
      {policy::Verdict::kReject, {"554", "5.7.0", "no"}, "action=554 5.7.0 no\n\n"},
      {policy::Verdict::kTempfail, {"", "", "later"}, "action=451 4.7.1 later\n\n"},
      {policy::Verdict::kHold, {"", "", "review"}, "action=HOLD review\n\n"},
      {policy::Verdict::kDiscard, {"", "", "x"}, "action=DISCARD x\n\n"},
      {policy::Verdict::kReject, {"", "", "a\r\naction=OK"}, "action=550 5.7.1 a  action=OK\n\n"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(PolicydSession::actionFor(r.verdict, r.reply, ""), r.expected);
  }
}

}  // namespace
}  // namespace meshgate::policyd
