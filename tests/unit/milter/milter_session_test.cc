// The milter's message path without an MTA: MilterSession driven as libmilter would drive it.
// (tests/integration/ runs the same paths through miltertest and a real Postfix.)
#include "milter/milter_session.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "gateway/config/config_loader.h"
#include "gateway/mail/codec.h"
#include "gateway/policy/brand_assertion.h"
#include "gateway/policy/security_signal.h"
#include "gateway/ports/deadline.h"
#include "gateway/util/metrics.h"
#include "tests/support/mock_store.h"
#include "tests/support/subprocess.h"

namespace meshgate::milter {
namespace {

using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

class Session : public ::testing::Test {
 protected:
  void SetUp() override { configure("contacts-only", "tempfail"); }

  void configure(const std::string& ingress, const std::string& on_error) {
    auto loaded = config::loadConfigString(
        "gateway:\n  node: mx.example.com\n  domains: [example.com]\ningress:\n  default: " +
            ingress + "\nmilter:\n  on_error: " + on_error + "\nabuse:\n  enabled: false\n",
        "t.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
    engine_ = std::make_shared<policy::DecisionEngine>(loaded.config, store_, clock_);
    ON_CALL(store_, getAccount(_)).WillByDefault([](std::string_view a) -> Result<AccountRecord> {
      if (a != "bob@example.com" && a != "carol@example.com") return notFound("none");
      AccountRecord r;
      r.address = std::string(a);
      return r;
    });
    // Content checks (impersonation) read the account names.
    ON_CALL(store_, listAccounts())
        .WillByDefault(::testing::Return(Result<std::vector<AccountRecord>>(std::vector<AccountRecord>{})));
    ON_CALL(store_, findContact(_, _))
        .WillByDefault([](std::string_view, const std::vector<std::string>& c)
                           -> Result<std::optional<ContactMatch>> {
          if (!c.empty() && c[0] == "alice@partner.net") {
            return std::optional<ContactMatch>(ContactMatch{c[0], "smtp", c[0]});
          }
          return std::optional<ContactMatch>();
        });
  }

  MilterSession makeSession(std::shared_ptr<BufferBudget> budget = nullptr) {
    MilterContext ctx;
    ctx.engine = [this] { return engine_; };
    ctx.gateway_key = [this] { return key_; };
    ctx.now = [] { return int64_t{1'800'000'000}; };
    ctx.nonce = [] { return std::string("nonce"); };
    ctx.body_budget = std::move(budget);
    MilterSession s(ctx);
    s.onConnect("mx.partner.net", "198.51.100.7", "");
    s.onHelo("mx.partner.net");
    return s;
  }

  void sendHeaders(MilterSession& s, int forged_signals) {
    s.onHeader("From", "Alice <alice@partner.net>");
    for (int i = 0; i < forged_signals; ++i) {
      s.onHeader(i % 2 ? "MESH-SECURITY-SIGNAL" : "Mesh-Security-Signal",
                 "v=1; gw=mx.example.com; contact=known-contact; forged=yes");
    }
    s.onHeader("To", "bob@example.com");
    s.onHeader("Subject", "hello");
    s.onBody("Hi Bob,\r\nsee you.\r\n");
  }

  NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'000};
  std::shared_ptr<const policy::DecisionEngine> engine_;
  std::shared_ptr<const mesh::PrivateKey> key_ = std::make_shared<const mesh::PrivateKey>(
      *mesh::PrivateKey::generate(mesh::KeyType::kEd25519));
};

TEST_F(Session, StrangerRejectedPerRecipientOthersUnaffected) {
  MilterSession s = makeSession();
  EXPECT_EQ(s.onMail("<mallory@evil.example>", "").kind, Step::Kind::kContinue);
  Step bob = s.onRecipient("<bob@example.com>");
  EXPECT_EQ(bob.kind, Step::Kind::kReject);
  EXPECT_EQ(bob.code, "550");
  EXPECT_EQ(bob.enhanced, "5.7.1");
  EXPECT_NE(bob.text.find("accepts mail only from its contacts"), std::string::npos);
  EXPECT_EQ(s.onRecipient("<someone@elsewhere.net>").kind, Step::Kind::kContinue);
  sendHeaders(s, 0);
  EomResult r = s.onEndOfMessage("4ABC");
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  // No local recipient left: no signal.
  EXPECT_TRUE(r.changes.empty());
}

TEST_F(Session, BodiesOverTheSharedBudgetAreTempfailedNotJudgedOnPart) {
  // Two connections share one budget of 1 MiB; each message may keep 768 KiB (max_scan_bytes).
  auto loaded = config::loadConfigString(
      "gateway:\n  node: mx.example.com\n  domains: [example.com]\ningress:\n  default: "
      "tag-unknown\nmilter:\n  max_scan_bytes: 768k\n  max_buffered_bytes: 1M\nabuse:\n  "
      "enabled: false\n",
      "t.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
  engine_ = std::make_shared<policy::DecisionEngine>(loaded.config, store_, clock_);
  auto budget = std::make_shared<BufferBudget>();
  auto startMessage = [](MilterSession& s, size_t body_bytes) {
    ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
    ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
    s.onHeader("From", "alice@partner.net");
    s.onHeader("Subject", "big");
    const std::string chunk(64 * 1024, 'x');
    for (size_t sent = 0; sent < body_bytes; sent += chunk.size()) s.onBody(chunk);
  };
  MilterSession first = makeSession(budget);
  MilterSession second = makeSession(budget);
  // Its header fields (From, Subject) and 768 KiB of body: its max_scan_bytes.
  const uint64_t kFirstHolds = std::string("Fromalice@partner.netSubjectbig").size() + 768 * 1024;
  startMessage(first, 2 * 1024 * 1024);
  EXPECT_EQ(budget->used(), kFirstHolds);
  startMessage(second, 512 * 1024);  // 256 KiB fit, the rest does not
  EomResult refused = second.onEndOfMessage("4SECOND");
  EXPECT_EQ(refused.step.kind, Step::Kind::kTempfail);
  EXPECT_EQ(refused.step.code, "452");
  EXPECT_EQ(refused.step.enhanced, "4.3.1");
  EXPECT_TRUE(refused.changes.empty());     // no signal on a message that was not judged
  EXPECT_EQ(budget->used(), kFirstHolds);   // the second gave its share back
  // The first is judged whole within its own limit, and its end frees the budget.
  EomResult judged = first.onEndOfMessage("4FIRST");
  EXPECT_EQ(judged.step.kind, Step::Kind::kContinue);
  EXPECT_EQ(budget->used(), 0u);
  // The retry now fits.
  startMessage(second, 512 * 1024);
  EXPECT_EQ(second.onEndOfMessage("4RETRY").step.kind, Step::Kind::kContinue);
  // Header fields count too: a header section past the budget is tempfailed the same way.
  startMessage(first, 0);
  const std::string big(64 * 1024, 'h');
  for (int i = 0; i < 20; ++i) first.onHeader("X-Big", big);  // 1.25 MiB > 1 MiB
  EXPECT_EQ(first.onEndOfMessage("4HEADERS").step.code, "452");
  EXPECT_EQ(budget->used(), 0u);
  // An aborted message gives its share back too.
  startMessage(first, 100 * 1024);
  EXPECT_GT(budget->used(), 0u);
  first.onAbort();
  EXPECT_EQ(budget->used(), 0u);
  // What the header limits drop costs nothing: a 600 KiB field is kept (and counted) only up
  // to the limit of one value (128 KiB).
  startMessage(first, 0);
  first.onHeader("X-Huge", std::string(600 * 1024, 'h'));
  EXPECT_LT(budget->used(), 200u * 1024);
  EXPECT_GT(budget->used(), 100u * 1024);
  first.onAbort();
  EXPECT_EQ(budget->used(), 0u);
}

TEST_F(Session, EveryFormPostfixDeliversToBobIsJudgedAsBob) {
  // A trailing dot, a quoted local part or a source route: Postfix delivers each to
  // bob@example.com, so bob's contacts-only policy refuses a stranger in each.
  for (const char* form : {"<bob@example.com.>", "<\"bob\"@example.com>",
                           "<@relay.example:bob@example.com>", "<BOB@EXAMPLE.COM.>"}) {
    MilterSession s = makeSession();
    ASSERT_EQ(s.onMail("<mallory@evil.example.>", "").kind, Step::Kind::kContinue);
    Step step = s.onRecipient(form);
    EXPECT_EQ(step.kind, Step::Kind::kReject) << form;
    EXPECT_EQ(step.code, "550") << form;
  }
  // And the known contact's mail in those forms is known.
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<\"alice\"@Partner.NET.>", "").kind, Step::Kind::kContinue);
  EXPECT_EQ(s.onRecipient("<bob@example.com.>").kind, Step::Kind::kContinue);
}

TEST_F(Session, KnownContactGetsASignalThatVerifiesAndForgedCopiesAreDeletedLastFirst) {
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 3);
  EomResult r = s.onEndOfMessage("4ABC");
  ASSERT_EQ(r.step.kind, Step::Kind::kContinue);
  ASSERT_EQ(r.changes.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.changes[static_cast<size_t>(i)].kind, HeaderChange::Kind::kDelete);
    EXPECT_EQ(r.changes[static_cast<size_t>(i)].index, 3 - i);  // 3, 2, 1
  }
  const HeaderChange& ins = r.changes[3];
  EXPECT_EQ(ins.kind, HeaderChange::Kind::kInsert);
  EXPECT_EQ(ins.index, 0);
  EXPECT_EQ(ins.name, "Mesh-Security-Signal");
  auto parsed = policy::parseSignal(ins.value);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->contact, "known-contact");
  EXPECT_EQ(parsed->gateway, "mx.example.com");
  mail::HeaderList delivered;
  delivered.add("Mesh-Security-Signal", ins.value);
  delivered.add("From", "Alice <alice@partner.net>");
  delivered.add("To", "bob@example.com");
  delivered.add("Subject", "hello");
  EXPECT_TRUE(policy::verifySignal(*parsed, delivered, key_->publicKey()).ok());
  EXPECT_FALSE(r.quarantine_reason.has_value());
}

TEST_F(Session, ForgedBridgeHeadersAreDeletedAndNotSigned) {
  // Only the gateway's Mesh -> SMTP bridge writes these (on a port without the milter): on
  // mail that arrives by SMTP every copy is a forgery.
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  s.onHeader("Mesh-Message-Type", "RequestContact");
  s.onHeader("From", "Alice <alice@partner.net>");
  s.onHeader("mesh-envelope-id", "MDAA-FAKE");
  s.onHeader("MESH-MESSAGE-TYPE", "ReplyContact");
  s.onHeader("Mesh-Message-Id", "fake");
  s.onHeader("Subject", "hello");
  s.onBody("Hi\r\n");
  EomResult r = s.onEndOfMessage("Q");
  ASSERT_EQ(r.step.kind, Step::Kind::kContinue);
  std::vector<std::pair<std::string, int>> deleted;
  for (const auto& c : r.changes) {
    if (c.kind == HeaderChange::Kind::kDelete) deleted.emplace_back(c.name, c.index);
  }
  EXPECT_EQ(deleted, (std::vector<std::pair<std::string, int>>{{"Mesh-Message-Type", 2},
                                                               {"Mesh-Message-Type", 1},
                                                               {"Mesh-Envelope-Id", 1},
                                                               {"Mesh-Message-Id", 1}}));
  ASSERT_FALSE(r.changes.empty());
  const HeaderChange& ins = r.changes.back();
  ASSERT_EQ(ins.name, "Mesh-Security-Signal");
  auto parsed = policy::parseSignal(ins.value);
  ASSERT_TRUE(parsed.ok());
  mail::HeaderList delivered;  // the message as Postfix will deliver it
  delivered.add("Mesh-Security-Signal", ins.value);
  delivered.add("From", "Alice <alice@partner.net>");
  delivered.add("Subject", "hello");
  EXPECT_TRUE(policy::verifySignal(*parsed, delivered, key_->publicKey()).ok());
}

TEST_F(Session, QuarantineUnknownHoldsWithReasonAndSignalSaysQuarantined) {
  configure("quarantine-unknown", "tempfail");
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<mallory@evil.example>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 0);
  EomResult r = s.onEndOfMessage("4ABC");
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  ASSERT_TRUE(r.quarantine_reason.has_value());
  EXPECT_EQ(*r.quarantine_reason, "meshgate: first contact for bob@example.com");
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(policy::parseSignal(r.changes[0].value)->contact, "quarantined");
}

TEST_F(Session, StoreDownFollowsTheErrorTable) {
  struct Case {
    const char* on_error;
    Step::Kind kind;
    const char* code;
    const char* enhanced;
  };
  for (const Case& c : {Case{"tempfail", Step::Kind::kTempfail, "451", "4.3.0"},
                        Case{"reject", Step::Kind::kReject, "550", "5.3.0"},
                        Case{"accept", Step::Kind::kContinue, "", ""}}) {
    configure("contacts-only", c.on_error);
    EXPECT_CALL(store_, getAccount(_))
        .WillOnce(Return(Result<AccountRecord>(unavailable("database is locked"))));
    MilterSession s = makeSession();
    ASSERT_EQ(s.onMail("<a@partner.net>", "").kind, Step::Kind::kContinue);
    Step st = s.onRecipient("<bob@example.com>");
    EXPECT_EQ(st.kind, c.kind) << c.on_error;
    EXPECT_EQ(st.code, c.code) << c.on_error;
    EXPECT_EQ(st.enhanced, c.enhanced) << c.on_error;
    ::testing::Mock::VerifyAndClearExpectations(&store_);
  }
}

TEST_F(Session, ReplyCodeAlwaysMatchesTheStep) {
  // A 4xx code must never go with a reject, nor a 5xx with a tempfail (libmilter would
  // silently drop the reply).
  for (auto on_error : {config::FailureAction::kTempfail, config::FailureAction::kReject,
                        config::FailureAction::kAccept}) {
    Step s = MilterSession::errorStep(on_error, unavailable("x"));
    if (s.kind == Step::Kind::kReject) {
      EXPECT_EQ(s.code[0], '5');
    }
    if (s.kind == Step::Kind::kTempfail) {
      EXPECT_EQ(s.code[0], '4');
    }
    EXPECT_EQ(s.text.find('%'), std::string::npos);
  }
}

TEST(MtaReplyText, FitsLibmiltersLimitWithoutBreakingACharacterOrAnEscape) {
  // libmilter refuses a reply over 980 bytes and the client then sees the MTA's generic text:
  // a long recipient in the ingress text, many recipients in an egress text, a remote detail.
  EXPECT_EQ(MilterSession::mtaReplyText("100% sure\r\nor not"), "100%% sure  or not");
  EXPECT_EQ(MilterSession::mtaReplyText(std::string(900, 'a')), std::string(900, 'a'))
      << "a text that fits is not cut";
  const std::string plain = MilterSession::mtaReplyText(std::string(2000, 'a'));
  EXPECT_EQ(plain.size(), MilterSession::kMaxReplyText);
  EXPECT_TRUE(plain.ends_with("...")) << plain;
  const std::string percents = MilterSession::mtaReplyText(std::string(1000, '%'));
  EXPECT_LE(percents.size(), MilterSession::kMaxReplyText);
  EXPECT_EQ((percents.size() - 3) % 2, 0u) << "no lone % before the cut";
  std::string accents;
  for (int i = 0; i < 600; ++i) accents += "\u00e9";  // two bytes each
  const std::string cut = MilterSession::mtaReplyText("x" + accents);
  EXPECT_LE(cut.size(), MilterSession::kMaxReplyText);
  EXPECT_TRUE(mail::isValidUtf8(cut)) << "cut inside a character";
}

TEST_F(Session, NoEngineIsATempfailNotAnAccept) {
  MilterContext ctx;
  ctx.engine = [] { return std::shared_ptr<const policy::DecisionEngine>(); };
  ctx.gateway_key = [this] { return key_; };
  ctx.now = [] { return int64_t{1}; };
  ctx.nonce = [] { return std::string("n"); };
  MilterSession s(ctx);
  s.onConnect("h", "192.0.2.1", "");
  EXPECT_EQ(s.onMail("<a@b.example>", "").kind, Step::Kind::kTempfail);
}

TEST_F(Session, MissingKeyAtEomTempfails) {
  key_.reset();
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 1);
  EXPECT_EQ(s.onEndOfMessage("Q").step.kind, Step::Kind::kTempfail);
}

TEST_F(Session, StateIsResetBetweenMessagesAndOnAbort) {
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 2);
  s.onAbort();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<carol@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 0);
  EomResult r = s.onEndOfMessage("Q2");
  ASSERT_EQ(r.changes.size(), 1u);  // no deletions carried over from the aborted message
  EXPECT_EQ(r.changes[0].kind, HeaderChange::Kind::kInsert);
  // After EOM, a stray EOM without MAIL is an error, not a delivery with stale state.
  EXPECT_EQ(s.onEndOfMessage("Q3").step.kind, Step::Kind::kTempfail);
}

TEST_F(Session, AHeaderLostWithoutAReplyTempfailsThatMessageOnly) {
  // With SMFIP_NR_HDR the glue cannot answer a failed header step: the session must not judge
  // (and sign) a message it did not see whole.
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 0);
  s.onContentLost("header");
  EomResult lost = s.onEndOfMessage("Q1");
  EXPECT_EQ(lost.step.kind, Step::Kind::kTempfail);
  EXPECT_EQ(lost.step.code, "451");
  EXPECT_TRUE(lost.changes.empty());
  // The next message on the connection is judged normally.
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 0);
  EXPECT_EQ(s.onEndOfMessage("Q2").step.kind, Step::Kind::kContinue);
}

TEST_F(Session, ALostHeaderStillCountsWhenABodyChunkIsLostAfterIt) {
  // milter.on_error accept lets a message whose body chunk was lost go (nothing in the body
  // can be a forged signal), but never one with a header unseen: a later lost body chunk must
  // not hide the lost header.
  configure("contacts-only", "accept");
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 1);
  s.onContentLost("header");
  s.onBody("Hello\r\n");
  s.onContentLost("body");
  EomResult both = s.onEndOfMessage("Q1");
  EXPECT_EQ(both.step.kind, Step::Kind::kTempfail);
  EXPECT_EQ(both.step.code, "451");
  // The body lost alone: accepted per on_error, every forged copy seen deleted.
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 1);
  s.onContentLost("body");
  EomResult body = s.onEndOfMessage("Q2");
  EXPECT_EQ(body.step.kind, Step::Kind::kContinue);
  ASSERT_FALSE(body.changes.empty());
  EXPECT_EQ(body.changes[0].kind, HeaderChange::Kind::kDelete);
  EXPECT_EQ(body.changes[0].name, "Mesh-Security-Signal");
}

TEST_F(Session, AConnectLostWithoutAReplyTempfailsEveryMessageOfTheConnection) {
  // With SMFIP_NR_CONN a failed connect step cannot be answered: without the client's address
  // the direction (outbound networks) and the per-IP limits would be judged wrong, so MAIL
  // FROM tempfails until the MTA connects again.
  MilterSession s = makeSession();
  s.onConnectLost();
  Step first = s.onMail("<alice@partner.net>", "");
  EXPECT_EQ(first.kind, Step::Kind::kTempfail);
  EXPECT_EQ(first.code, "451");
  EXPECT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kTempfail);
  // A new connection on the same session object (libmilter reuses none, but reset must hold).
  s.onConnect("mx.partner.net", "198.51.100.7", "");
  EXPECT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
}

}  // namespace
}  // namespace meshgate::milter

namespace meshgate::milter {
namespace {

TEST_F(Session, TooManyHeadersIsRefusedNotDeliveredWithUnseenForgeries) {
  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  for (int i = 0; i < 10'001; ++i) s.onHeader("X-Filler", "x");
  s.onHeader("Mesh-Security-Signal", "v=1; forged");
  EomResult r = s.onEndOfMessage("Q");
  EXPECT_EQ(r.step.kind, Step::Kind::kReject);
  EXPECT_EQ(r.step.code, "552");
  EXPECT_EQ(r.step.enhanced, "5.3.4");
  EXPECT_TRUE(r.changes.empty());
}

}  // namespace
}  // namespace meshgate::milter

namespace meshgate::milter {
namespace {

TEST_F(Session, EveryDecisionIsAudited) {
  std::vector<AuditRecord> records;
  MilterContext ctx;
  ctx.engine = [this] { return engine_; };
  ctx.gateway_key = [this] { return key_; };
  ctx.now = [] { return int64_t{1'800'000'000}; };
  ctx.nonce = [] { return std::string("n"); };
  ctx.audit = [&records](const AuditRecord& r) {
    records.push_back(r);
    return Status();
  };
  MilterSession s(ctx);
  s.onConnect("h", "198.51.100.7", "");
  ASSERT_EQ(s.onMail("<mallory@evil.example>", "").kind, Step::Kind::kContinue);
  EXPECT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kReject);
  ASSERT_EQ(s.onRecipient("<x@elsewhere.net>").kind, Step::Kind::kContinue);
  s.onHeader("Message-ID", "<m1@evil.example>");
  s.onBody("x");
  ASSERT_EQ(s.onEndOfMessage("QID7").step.kind, Step::Kind::kContinue);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].queue_id, "NOQUEUE");
  EXPECT_EQ(records[0].action, "reject");
  EXPECT_EQ(records[0].rule, "ingress.contacts-only");
  EXPECT_EQ(records[0].recipients, "bob@example.com");
  EXPECT_EQ(records[0].sender, "mallory@evil.example");
  EXPECT_EQ(records[1].queue_id, "QID7");
  EXPECT_EQ(records[1].message_id, "<m1@evil.example>");
  EXPECT_EQ(records[1].action, "accept");
  EXPECT_EQ(records[1].recipients, "x@elsewhere.net");
  EXPECT_EQ(records[1].node, "mx.example.com");
  EXPECT_EQ(records[1].time, 1'800'000'000);
}

TEST_F(Session, AnUnrecordableDecisionTempfailsUnlessConfiguredToLog) {
  for (const char* on_failure : {"tempfail", "log"}) {
    auto loaded = config::loadConfigString(
        std::string("gateway:\n  node: mx.example.com\n  domains: [example.com]\nabuse:\n  "
                    "enabled: false\naudit:\n  on_failure: ") + on_failure + "\n",
        "t.yaml");
    ASSERT_TRUE(loaded.ok());
    engine_ = std::make_shared<policy::DecisionEngine>(loaded.config, store_, clock_);
    MilterContext ctx;
    ctx.engine = [this] { return engine_; };
    ctx.gateway_key = [this] { return key_; };
    ctx.now = [] { return int64_t{1}; };
    ctx.nonce = [] { return std::string("n"); };
    ctx.audit = [](const AuditRecord&) { return unavailable("database is locked"); };
    MilterSession s(ctx);
    s.onConnect("h", "198.51.100.7", "");
    ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
    ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
    s.onBody("x");
    EomResult r = s.onEndOfMessage("Q");
    EXPECT_EQ(r.step.kind, std::string(on_failure) == "tempfail" ? Step::Kind::kTempfail
                                                                  : Step::Kind::kContinue)
        << on_failure;
  }
}

// milter.on_error: accept lets mail through when meshgate fails, but never with less
// protection than was decided: forged copies of our headers still go, a refusal or a hold
// stands (docs/configuration.md, on_error).
TEST_F(Session, OnErrorAcceptNeverLoosensWhatWasDecided) {
  configure("quarantine-unknown", "accept");
  auto session = [this](std::vector<AuditRecord>* audited) {
    MilterContext ctx;
    ctx.engine = [this] { return engine_; };
    ctx.gateway_key = [this] { return key_; };
    ctx.now = [] { return int64_t{1'800'000'000}; };
    ctx.nonce = [] { return std::string("n"); };
    ctx.audit = [audited](const AuditRecord& r) {
      if (audited == nullptr) return unavailable("database is locked");
      audited->push_back(r);
      return Status();
    };
    ctx.quarantine = [](const QuarantineRecord&) { return unavailable("database is locked"); };
    MilterSession s(ctx);
    s.onConnect("mx.partner.net", "198.51.100.7", "");
    return s;
  };
  auto deletions = [](const EomResult& r) {
    int n = 0;
    for (const auto& c : r.changes) {
      if (c.kind == HeaderChange::Kind::kDelete && c.name == "Mesh-Security-Signal") ++n;
    }
    return n;
  };

  // The audit log is down (audit.on_failure: tempfail): the known contact's message goes, its
  // two forged signals deleted and a signal of ours in their place.
  MilterSession s = session(nullptr);
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 2);
  EomResult r = s.onEndOfMessage("Q1");
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  EXPECT_EQ(deletions(r), 2);
  ASSERT_FALSE(r.changes.empty());
  EXPECT_EQ(r.changes.back().kind, HeaderChange::Kind::kInsert);

  // A stranger's message is still held (its quarantine record failed too).
  ASSERT_EQ(s.onMail("<mallory@evil.example>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 1);
  r = s.onEndOfMessage("Q2");
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  EXPECT_TRUE(r.quarantine_reason.has_value());
  EXPECT_EQ(deletions(r), 1);

  // A lost body step: the message goes undecided, forged copies deleted all the same.
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 3);
  s.onContentLost("body");
  r = s.onEndOfMessage("Q3");
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  EXPECT_EQ(deletions(r), 3);

  // A stranger's message whose body step was lost is still held: quarantine-unknown decided
  // that at RCPT, and the end of message only carries it out.
  ASSERT_EQ(s.onMail("<mallory@evil.example>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 0);
  s.onContentLost("body");
  r = s.onEndOfMessage("Q3B");
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  ASSERT_TRUE(r.quarantine_reason.has_value());
  EXPECT_NE(r.quarantine_reason->find("ingress.quarantine-unknown"), std::string::npos)
      << *r.quarantine_reason;

  // Past the header limit, with a body step lost: a forged copy may be among the headers not
  // kept, so tempfail whatever on_error says.
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  for (size_t i = 0; i <= mail::Limits{}.max_headers; ++i) s.onHeader("X-Filler", "x");
  s.onContentLost("body");
  r = s.onEndOfMessage("Q3C");
  EXPECT_EQ(r.step.kind, Step::Kind::kTempfail);

  // A lost header step: a forged copy may be among the headers never seen, so nothing can
  // promise its deletion: tempfail whatever on_error says.
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 1);
  s.onContentLost("header");
  r = s.onEndOfMessage("Q4");
  EXPECT_EQ(r.step.kind, Step::Kind::kTempfail);
  EXPECT_EQ(r.step.code, "451");

  // A refused recipient whose refusal cannot be recorded is refused all the same.
  configure("contacts-only", "accept");
  MilterSession strict = session(nullptr);
  ASSERT_EQ(strict.onMail("<mallory@evil.example>", "").kind, Step::Kind::kContinue);
  EXPECT_EQ(strict.onRecipient("<bob@example.com>").kind, Step::Kind::kReject);

  // A recipient let through because its lookup failed is one of the message's recipients,
  // a first contact, never a known one.
  std::vector<AuditRecord> audited;
  MilterSession open = session(&audited);
  EXPECT_CALL(store_, getAccount(_))
      .WillOnce(Return(Result<AccountRecord>(unavailable("database is locked"))));
  ASSERT_EQ(open.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(open.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(open, 0);
  r = open.onEndOfMessage("Q5");
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].recipients, "bob@example.com");
  ASSERT_FALSE(r.changes.empty());
  auto signal = policy::parseSignal(r.changes.back().value);
  ASSERT_TRUE(signal.ok());
  EXPECT_EQ(signal->contact, "first-contact");
  ::testing::Mock::VerifyAndClearExpectations(&store_);
}

TEST_F(Session, DecisionsErrorsAndLatencyAreCountedInMetrics) {
  auto& accepted = metrics::counter("meshgate_decisions_total", "",
                                    {{"frontend", "milter"}, {"action", "accept"}});
  auto& errors = metrics::counter(
      "meshgate_errors_total", "",
      {{"frontend", "milter"}, {"stage", "rcpt"}, {"action", "tempfail"}});
  auto& eom = metrics::histogram("meshgate_decision_seconds", "",
                                 {{"frontend", "milter"}, {"stage", "eom"}});
  const uint64_t accepted_before = accepted.value();
  const uint64_t errors_before = errors.value();
  auto& mail = metrics::histogram("meshgate_decision_seconds", "",
                                  {{"frontend", "milter"}, {"stage", "mail"}});
  const uint64_t eom_before = eom.count();
  const uint64_t mail_before = mail.count();

  MilterSession s = makeSession();
  ASSERT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  sendHeaders(s, 0);
  ASSERT_EQ(s.onEndOfMessage("4ABC").step.kind, Step::Kind::kContinue);
  EXPECT_EQ(accepted.value(), accepted_before + 1);
  EXPECT_EQ(eom.count(), eom_before + 1);
  EXPECT_EQ(mail.count(), mail_before + 1);

  EXPECT_CALL(store_, getAccount(_))
      .WillOnce(Return(Result<AccountRecord>(unavailable("database is locked"))));
  MilterSession failing = makeSession();
  ASSERT_EQ(failing.onMail("<a@partner.net>", "").kind, Step::Kind::kContinue);
  EXPECT_EQ(failing.onRecipient("<bob@example.com>").kind, Step::Kind::kTempfail);
  EXPECT_EQ(errors.value(), errors_before + 1);
  EXPECT_NE(metrics::renderPrometheus().find("meshgate_decision_seconds_bucket{frontend=\"milter\","
                                             "stage=\"eom\",le=\"0.001\"}"),
            std::string::npos);
}

// ---- outbound detection (issue 6 item 1): {auth_authen}, {daemon_name}, client networks

class OutboundSession : public Session {
 protected:
  void SetUp() override {
    auto loaded = config::loadConfigString(
        "gateway:\n  node: mx.example.com\n  domains: [example.com]\nabuse:\n  enabled: false\n"
        "egress:\n  outbound:\n    networks: [10.9.0.0/16]\n  rules:\n    - name: no-rival\n"
        "      match: {recipient_domain: [rival.example]}\n      action: reject\n"
        "      reject_text: \"mail to %r is not allowed\"\n",
        "t.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
    engine_ = std::make_shared<policy::DecisionEngine>(loaded.config, store_, clock_);
    ON_CALL(store_, getAccount(_)).WillByDefault(Return(Result<AccountRecord>(notFound("none"))));
  }
  Step rcptFrom(const std::string& address, const std::string& daemon,
                const std::string& auth_user) {
    MilterContext ctx;
    ctx.engine = [this] { return engine_; };
    ctx.gateway_key = [this] { return key_; };
    ctx.now = [] { return int64_t{1'800'000'000}; };
    ctx.nonce = [] { return std::string("nonce"); };
    MilterSession s(ctx);
    s.onConnect("client.example", address, daemon);
    s.onHelo("client.example");
    Step mail = s.onMail("<alice@example.com>", auth_user);
    if (mail.kind != Step::Kind::kContinue) return mail;
    return s.onRecipient("<x@rival.example>");
  }
};

TEST_F(OutboundSession, EgressRulesApplyOnlyToOutboundMail) {
  struct Case {
    const char* name;
    const char* address;
    const char* daemon;
    const char* auth;
    Step::Kind expected;
  };
  const Case cases[] = {
      {"anonymous client on port 25 (inbound)", "203.0.113.9", "", "", Step::Kind::kContinue},
      {"{auth_authen} set", "203.0.113.9", "", "alice", Step::Kind::kReject},
      {"{daemon_name}=ORIGINATING (submission)", "203.0.113.9", "ORIGINATING", "",
       Step::Kind::kReject},
      {"{daemon_name} of another smtpd", "203.0.113.9", "MX", "", Step::Kind::kContinue},
      {"client in egress.outbound.networks", "10.9.1.2", "", "", Step::Kind::kReject},
  };
  for (const auto& c : cases) {
    Step s = rcptFrom(c.address, c.daemon, c.auth);
    EXPECT_EQ(s.kind, c.expected) << c.name;
    if (c.expected == Step::Kind::kReject) {
      EXPECT_EQ(s.code, "550") << c.name;
      EXPECT_NE(s.text.find("x@rival.example"), std::string::npos) << c.name << ": " << s.text;
    }
  }
}

// ---- brand accountability (issue 6 item 4) through the session

class BrandSession : public Session {
 protected:
  void SetUp() override {
    partner_ = std::make_unique<mesh::PrivateKey>(*mesh::PrivateKey::generate(mesh::KeyType::kEd25519));
    ASSERT_TRUE(mesh::savePublicKeyFile(partner_->publicKey(), dir_.file("partner.pub")).ok());
    auto loaded = config::loadConfigString(
        "gateway:\n  node: mx.example.com\n  domains: [example.com]\nabuse:\n  enabled: false\n"
        "ingress:\n  default: tag-unknown\ntoo_stupid:\n  enabled: false\nbrands:\n  list:\n    - name: Example Bank\n"
        "      domains: [examplebank.com]\n      addresses: [news@example.com]\n"
        "      organization: Example Bank plc\n  trusted_gateways:\n"
        "    - {name: partner-gw, key_file: " + dir_.file("partner.pub") + "}\n",
        "t.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
    engine_ = std::make_shared<policy::DecisionEngine>(loaded.config, store_, clock_);
    ASSERT_TRUE(engine_->setupStatus().ok());
    ON_CALL(store_, getAccount(_)).WillByDefault([](std::string_view a) -> Result<AccountRecord> {
      if (a != "bob@example.com") return notFound("none");
      AccountRecord r;
      r.address = std::string(a);
      return r;
    });
    ON_CALL(store_, listAccounts())
        .WillByDefault(Return(Result<std::vector<AccountRecord>>(std::vector<AccountRecord>{})));
    ON_CALL(store_, findContact(_, _)).WillByDefault(Return(Result<std::optional<ContactMatch>>(
        std::optional<ContactMatch>())));
    ON_CALL(store_, addToCounter(_, _, _, _))
        .WillByDefault([this](std::string_view key, int64_t, int64_t n, int64_t) -> Result<int64_t> {
          return counters_[std::string(key)] += n;
        });
  }
  MilterSession session(const std::string& address, const std::string& daemon) {
    MilterContext ctx;
    ctx.engine = [this] { return engine_; };
    ctx.gateway_key = [this] { return key_; };
    ctx.now = [] { return int64_t{1'800'000'000}; };
    ctx.nonce = [] { return std::string("nonce"); };
    ctx.notify = [this](const policy::SenderNotice& n) {
      notices_.push_back(n);
      return Status();
    };
    MilterSession s(ctx);
    s.onConnect("client.example", address, daemon);
    s.onHelo("client.example");
    return s;
  }

  testing::TempDir dir_;
  std::unique_ptr<mesh::PrivateKey> partner_;
  std::map<std::string, int64_t> counters_;
  std::vector<policy::SenderNotice> notices_;
};

TEST_F(BrandSession, OutboundBrandMailGetsAnAssertionThatVerifiesAndIncomingCopiesGo) {
  for (int message = 0; message < 2; ++message) {
    MilterSession s = session("203.0.113.9", "ORIGINATING");
    ASSERT_EQ(s.onMail("<alice@example.com>", "alice").kind, Step::Kind::kContinue);
    ASSERT_EQ(s.onRecipient("<customer@example.net>").kind, Step::Kind::kContinue);
    // The author's own client put two copies in: neither may leave.
    s.onHeader("Mesh-Brand-Assertion", "v=1; brand=Example%20Bank; org=Me");
    s.onHeader("From", "Example Bank <news@example.com>");
    s.onHeader("MESH-BRAND-ASSERTION", "v=1; brand=Other");
    s.onHeader("To", "customer@example.net");
    s.onHeader("Subject", "Winter offers");
    s.onBody("Dear customer,\r\n...\r\n");
    EomResult r = s.onEndOfMessage("4BRAND");
    ASSERT_EQ(r.step.kind, Step::Kind::kContinue);
    ASSERT_EQ(r.changes.size(), 3u);
    EXPECT_EQ(r.changes[0].kind, HeaderChange::Kind::kDelete);
    EXPECT_EQ(r.changes[0].index, 2);
    EXPECT_EQ(r.changes[1].kind, HeaderChange::Kind::kDelete);
    EXPECT_EQ(r.changes[1].index, 1);
    const HeaderChange& ins = r.changes[2];
    EXPECT_EQ(ins.kind, HeaderChange::Kind::kInsert);
    EXPECT_EQ(ins.index, 0);
    EXPECT_EQ(ins.name, "Mesh-Brand-Assertion");
    auto a = policy::parseBrandAssertion(ins.value);
    ASSERT_TRUE(a.ok()) << a.status().toString();
    EXPECT_EQ(a->brand, "Example Bank");
    EXPECT_EQ(a->organization, "Example Bank plc");
    EXPECT_EQ(a->address, "news@example.com");
    EXPECT_EQ(a->gateway, "mx.example.com");
    mail::HeaderList delivered;
    delivered.add("Mesh-Brand-Assertion", ins.value);
    delivered.add("From", "Example Bank <news@example.com>");
    delivered.add("To", "customer@example.net");
    delivered.add("Subject", "Winter offers");
    EXPECT_TRUE(policy::verifyBrandAssertion(*a, delivered, key_->publicKey()).ok());
  }
  // Two brand messages, one reminder.
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].to, "alice@example.com");
  EXPECT_EQ(notices_[0].subject, "You are sending mail on behalf of Example Bank");
}

TEST_F(BrandSession, InboundTrustedAssertionIsKeptAndTheSignalSaysVerified) {
  mail::HeaderList signed_headers;
  signed_headers.add("From", "Partner <news@partner.example>");
  signed_headers.add("To", "bob@example.com");
  signed_headers.add("Subject", "Statement");
  policy::BrandAssertion a;
  a.brand = "Partner";
  a.organization = "Partner Org";
  a.address = "news@partner.example";
  a.gateway = "mx.partner.example";
  a.time = 1'800'000'000 - 60;
  auto value = policy::signBrandAssertion(a, signed_headers, *partner_);
  ASSERT_TRUE(value.ok());

  MilterSession s = session("198.51.100.7", "");
  ASSERT_EQ(s.onMail("<news@partner.example>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  s.onHeader("Mesh-Brand-Assertion", "v=1; brand=Forged; org=X; addr=a@b.example; gw=x; kid=K; "
                                     "t=1; h=from; bh=x; s=y");
  s.onHeader("Mesh-Brand-Assertion", *value);
  s.onHeader("Mesh-Brand-Assertion", "not even a tag list");
  s.onHeader("From", "Partner <news@partner.example>");
  s.onHeader("To", "bob@example.com");
  s.onHeader("Subject", "Statement");
  s.onBody("Hello\r\n");
  EomResult r = s.onEndOfMessage("4IN");
  ASSERT_EQ(r.step.kind, Step::Kind::kContinue);
  // Copies 3 and 1 are deleted, last first; copy 2 verified and stays.
  ASSERT_EQ(r.changes.size(), 3u);
  EXPECT_EQ(r.changes[0].name, "Mesh-Brand-Assertion");
  EXPECT_EQ(r.changes[0].index, 3);
  EXPECT_EQ(r.changes[1].index, 1);
  EXPECT_EQ(r.changes[2].name, "Mesh-Security-Signal");
  auto signal = policy::parseSignal(r.changes[2].value);
  ASSERT_TRUE(signal.ok());
  EXPECT_EQ(signal->brand, "Partner");
  EXPECT_NE(std::find(signal->checks.begin(), signal->checks.end(), "brand-verified"),
            signal->checks.end());
  EXPECT_TRUE(notices_.empty());
}

TEST_F(BrandSession, InboundClaimWithoutAssertionIsTaggedAndEveryCopyDeleted) {
  MilterSession s = session("198.51.100.7", "");
  ASSERT_EQ(s.onMail("<alerts@examp1ebank.com>", "").kind, Step::Kind::kContinue);
  ASSERT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
  s.onHeader("Mesh-Brand-Assertion", "v=1; brand=Example%20Bank; forged=yes");
  s.onHeader("From", "Example Bank <alerts@examp1ebank.com>");
  s.onHeader("To", "bob@example.com");
  s.onHeader("Subject", "Verify your account");
  s.onBody("Click\r\n");
  EomResult r = s.onEndOfMessage("4CLAIM");
  ASSERT_EQ(r.step.kind, Step::Kind::kContinue);
  ASSERT_GE(r.changes.size(), 3u);
  EXPECT_EQ(r.changes[0].kind, HeaderChange::Kind::kDelete);
  EXPECT_EQ(r.changes[0].name, "Mesh-Brand-Assertion");
  EXPECT_EQ(r.changes[1].kind, HeaderChange::Kind::kChange);
  EXPECT_EQ(r.changes[1].name, "Subject");
  EXPECT_EQ(r.changes[1].value.rfind("[UNVERIFIED BRAND] ", 0), 0u) << r.changes[1].value;
  auto signal = policy::parseSignal(r.changes.back().value);
  ASSERT_TRUE(signal.ok());
  EXPECT_NE(std::find(signal->checks.begin(), signal->checks.end(), "brand-unverified"),
            signal->checks.end());
}

// ---- SMTP -> Mesh (issue 7 item 1): encryption rules through the session, with the Mesh
// delivery behind the MilterContext seam (adapters/smtp_to_mesh.h; the real one is exercised
// end to end in tests/integration/bridge_tests.py).

class MeshSession : public Session {
 protected:
  void SetUp() override { load(true); }
  void load(bool enabled, const std::string& on_error = "tempfail") {
    auto loaded = config::loadConfigString(
        "gateway:\n  node: mx.example.com\n  domains: [example.com]\nabuse:\n  enabled: false\n"
        "milter:\n  on_error: " +
            on_error + "\n" + milter_extra_ +
            "too_stupid:\n  enabled: false\n"
            "smtp_to_mesh:\n  enabled: " +
            std::string(enabled ? "true" : "false") +
            "\n  max_message_bytes: 2048\n"
            "egress:\n  rules:\n"
            "    - {name: secure, match: {recipient_domain: [secure.example]}, action: "
            "require-encryption}\n"
            "    - {name: held, match: {recipient_domain: [held.example]}, action: "
            "require-encryption, else: hold}\n"
            "    - {name: lenient, match: {recipient_domain: [lenient.example]}, action: "
            "require-encryption,"
            " cleartext_fallback: true}\n"
            "    - {name: maybe, match: {recipient_domain: [maybe.example]}, action: "
            "prefer-encryption}\n"
            "    - {name: strict, match: {recipient_domain: [strict.example]}, action: "
            "require-encryption, remove_headers: [X-Internal-Project], add_headers: [{name: "
            "X-Sent-By, value: mx}]}\n"
            "    - {name: replace, match: {recipient_domain: [replace.example]}, action: "
            "require-encryption, add_headers: [{name: Reply-To, value: desk@example.com}], "
            "remove_headers: [Reply-To]}\n",
        "t.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
    engine_ = std::make_shared<policy::DecisionEngine>(loaded.config, store_, clock_);
    ON_CALL(store_, getAccount(_)).WillByDefault(Return(Result<AccountRecord>(notFound("none"))));
    ON_CALL(store_, listAccounts())
        .WillByDefault(Return(Result<std::vector<AccountRecord>>(std::vector<AccountRecord>{})));
  }

  // Recipients by local part: "has" a profile (accepted), "none", "down" (service
  // unreachable), "refuses" (ContactRequired).
  Result<adapters::MeshPostResult> fakeMesh(const adapters::MeshPostRequest& r, bool resolve_only) {
    (resolve_only ? checked_ : posted_).push_back(r);
    if (!resolve_only) std::this_thread::sleep_for(post_delay_);
    const std::string local = r.recipient.substr(0, r.recipient.find('@'));
    adapters::MeshPostResult out;
    out.envelope_id = "MGSM-" + local;
    if (local == "throws") throw std::runtime_error("an unexpected failure in the Mesh client");
    if (local == "none") {
      out.outcome = adapters::MeshPostOutcome::kNoProfile;
    } else if (local == "down" && !resolve_only) {
      return unavailable("connect to mmm.secure.example:443 refused");
    } else if (resolve_only) {
      out.outcome = adapters::MeshPostOutcome::kReachable;
    } else if (local == "refuses") {
      out.outcome = adapters::MeshPostOutcome::kRefused;
      out.detail = "ContactRequired";
    } else {
      out.outcome = adapters::MeshPostOutcome::kDelivered;
    }
    return out;
  }

  EomResult send(const std::vector<std::string>& rcpts, const std::string& auth = "alice",
                 const std::string& body = "Figures attached.\r\n", bool delrcpt_granted = true) {
    MilterContext ctx;
    ctx.engine = [this] { return engine_; };
    ctx.gateway_key = [this] { return key_; };
    ctx.now = [] { return int64_t{1'800'000'000}; };
    ctx.nonce = [] { return std::string("nonce"); };
    ctx.mesh_deliver = [this](const adapters::MeshPostRequest& r, bool only) { return fakeMesh(r, only); };
    if (audit_down_)
      ctx.audit = [](const AuditRecord&) { return unavailable("database is locked"); };
    if (audit_needs_budget_) {
      // As a store does: a write with no time left fails at once.
      ctx.audit = [](const AuditRecord&) {
        return Deadline::remaining(std::chrono::hours(1)).count() > 0
                   ? Status()
                   : deadlineExceeded("no time left for the audit write");
      };
    }
    MilterSession s(ctx);
    s.setMayRemoveRecipients(delrcpt_granted);
    s.onConnect("client.example", "203.0.113.9", "");
    s.onHelo("client.example");
    EXPECT_EQ(s.onMail("<alice@example.com>", auth).kind, Step::Kind::kContinue);
    for (const auto& r : rcpts) EXPECT_EQ(s.onRecipient(r).kind, Step::Kind::kContinue) << r;
    for (const auto& [name, value] : extra_headers_) s.onHeader(name, value);
    s.onHeader("From", "Alice <alice@example.com>");
    s.onHeader("Subject", "Q3\n\tfigures");
    s.onBody(body);
    return s.onEndOfMessage("4AbCd");
  }
  std::vector<std::pair<std::string, std::string>> extra_headers_;  // before From and Subject
  std::vector<adapters::MeshPostRequest> checked_;
  std::vector<adapters::MeshPostRequest> posted_;
  bool audit_down_ = false;
  bool audit_needs_budget_ = false;
  std::chrono::milliseconds post_delay_{0};
  std::string milter_extra_;  // more keys of the milter section, each "  key: value\n"
};

TEST_F(MeshSession, TheRecordAfterSlowMeshCopiesHasABudgetOfItsOwn) {
  milter_extra_ = "  decision_timeout: 50ms\n";
  load(true);
  post_delay_ = std::chrono::milliseconds(150);  // within smtp_to_mesh.timeout, past 50 ms
  audit_needs_budget_ = true;
  EomResult r = send({"<bob@secure.example>"});
  EXPECT_EQ(r.step.kind, Step::Kind::kDiscard) << "posted, recorded, the SMTP copy dropped";
  EXPECT_EQ(posted_.size(), 1u);
}

TEST_F(MeshSession, EveryRecipientOverTheMeshDiscardsTheSmtpCopyAndPostsTheOriginalBytes) {
  EomResult r = send({"<bob@secure.example>", "<carol@maybe.example>"});
  EXPECT_EQ(r.step.kind, Step::Kind::kDiscard);
  ASSERT_EQ(posted_.size(), 2u);
  EXPECT_EQ(posted_[0].recipient, "bob@secure.example");
  EXPECT_EQ(posted_[0].sender, "alice@example.com");
  EXPECT_EQ(posted_[0].message,
            "From: Alice <alice@example.com>\r\nSubject: Q3\r\n\tfigures\r\n\r\nFigures attached.\r\n");
}

TEST_F(MeshSession, TheMeshCopyCarriesTheHeadersSmtpWouldDeliver) {
  // A sender's copy of our signal, and a header the egress rule removes: neither may reach the
  // recipient by the Mesh when it would not by SMTP; the header the rule adds does.
  extra_headers_ = {{"Mesh-Security-Signal", "v=1; gw=mx.example.com; contact=known-contact"},
                    {"X-Internal-Project", "Falcon"}};
  EomResult r = send({"<bob@strict.example>"});
  EXPECT_EQ(r.step.kind, Step::Kind::kDiscard);
  ASSERT_EQ(posted_.size(), 1u);
  EXPECT_EQ(posted_[0].message,
            "From: Alice <alice@example.com>\r\nSubject: Q3\r\n\tfigures\r\nX-Sent-By: mx\r\n"
            "\r\nFigures attached.\r\n");
}

TEST_F(MeshSession, ARuleThatReplacesAHeaderGivesTheMeshCopyWhatSmtpWouldDeliver) {
  // The MTA deletes the received Reply-To by its index and keeps the one the rule adds, in
  // whatever order the edits come; the Mesh copy (and the signal's view) must do the same.
  extra_headers_ = {{"Reply-To", "someone@elsewhere.example"}};
  EomResult r = send({"<bob@replace.example>"});
  EXPECT_EQ(r.step.kind, Step::Kind::kDiscard);
  ASSERT_EQ(posted_.size(), 1u);
  EXPECT_EQ(posted_[0].message,
            "From: Alice <alice@example.com>\r\nSubject: Q3\r\n\tfigures\r\nReply-To: "
            "desk@example.com\r\n\r\nFigures attached.\r\n");
}

TEST_F(MeshSession, MixedRecipientsOnlyTheMeshCopiesAreRemoved) {
  EomResult r = send({"<bob@secure.example>", "<dave@other.example>", "<none@maybe.example>"});
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  EXPECT_EQ(r.removed_recipients, std::vector<std::string>{"<bob@secure.example>"});
  ASSERT_EQ(posted_.size(), 1u) << "prefer-encryption without a profile goes by SMTP";
  EXPECT_EQ(checked_.size(), 2u) << "each encryption recipient is looked up once";
  EXPECT_FALSE(r.quarantine_reason.has_value());
}

TEST_F(MeshSession, WhatHappensWhenTheMeshPathFails) {
  struct Case {
    const char* name;
    std::vector<std::string> rcpts;
    Step::Kind step;
    const char* code;
    const char* text;
    size_t posted;
  };
  const Case cases[] = {
      {"required, no profile: rejected before anything is posted",
       {"<bob@secure.example>", "<none@secure.example>"}, Step::Kind::kReject, "550",
       "rule secure requires encryption", 0},
      {"required, service down: tempfail, never cleartext", {"<down@secure.example>"},
       Step::Kind::kTempfail, "451", "try again later", 1},
      {"required, refused by the recipient's service", {"<refuses@secure.example>"},
       Step::Kind::kReject, "550", "ContactRequired", 1},
      {"cleartext_fallback: the SMTP copy goes", {"<down@lenient.example>"},
       Step::Kind::kContinue, "", "", 1},
  };
  for (const auto& c : cases) {
    posted_.clear();
    EomResult r = send(c.rcpts);
    EXPECT_EQ(r.step.kind, c.step) << c.name;
    EXPECT_EQ(r.step.code, c.code) << c.name;
    EXPECT_NE(r.step.text.find(c.text), std::string::npos) << c.name << ": " << r.step.text;
    EXPECT_EQ(posted_.size(), c.posted) << c.name;
    EXPECT_TRUE(r.removed_recipients.empty()) << c.name;
  }
  // else: hold -> quarantined, nothing posted.
  posted_.clear();
  EomResult held = send({"<none@held.example>"});
  EXPECT_EQ(held.step.kind, Step::Kind::kContinue);
  ASSERT_TRUE(held.quarantine_reason.has_value());
  EXPECT_NE(held.quarantine_reason->find("no Mesh profile"), std::string::npos);
  EXPECT_TRUE(posted_.empty());
}

TEST_F(MeshSession, TooLargeForTheMeshIsRefusedNotSentInCleartext) {
  EomResult r = send({"<bob@secure.example>"}, "alice", std::string(4096, 'x') + "\r\n");
  EXPECT_EQ(r.step.kind, Step::Kind::kReject);
  EXPECT_EQ(r.step.code, "552");
  EXPECT_NE(r.step.text.find("max_message_bytes"), std::string::npos);
  EXPECT_TRUE(posted_.empty());
}

TEST_F(MeshSession, InboundMailAndADisabledBridgeNeverUseTheMesh) {
  EomResult inbound = send({"<bob@secure.example>"}, /*auth=*/"");
  EXPECT_EQ(inbound.step.kind, Step::Kind::kContinue) << "egress rules are for outbound mail";
  EXPECT_TRUE(checked_.empty());
  load(false);
  EomResult disabled = send({"<bob@secure.example>"});
  EXPECT_EQ(disabled.step.kind, Step::Kind::kReject) << "without smtp_to_mesh: the rule's else";
  EXPECT_NE(disabled.step.text.find("requires encryption"), std::string::npos);
  EXPECT_TRUE(checked_.empty());
  // Enabled, but the MTA did not grant SMFIF_DELRCPT on this connection: the SMTP copy could
  // not be removed, so nothing is posted and the rule's else applies.
  load(true);
  EomResult no_right = send({"<bob@secure.example>"}, "alice", "Figures attached.\r\n", false);
  EXPECT_EQ(no_right.step.kind, Step::Kind::kReject);
  EXPECT_TRUE(checked_.empty());
  EXPECT_TRUE(posted_.empty());
}

TEST_F(MeshSession, OnErrorAcceptNeverSendsAMeshCopyAgainBySmtp) {
  load(true, "accept");
  // carol's lookup fails and on_error lets her through: she is still a recipient of the SMTP
  // copy, so bob's Mesh copy removes bob only instead of discarding the message.
  EXPECT_CALL(store_, getAccount(_))
      .WillRepeatedly([](std::string_view a) -> Result<AccountRecord> {
        if (a == "carol@example.com") return unavailable("database is locked");
        return notFound("none");
      });
  EomResult r = send({"<bob@secure.example>", "<carol@example.com>"});
  EXPECT_EQ(r.step.kind, Step::Kind::kContinue);
  EXPECT_EQ(r.removed_recipients, std::vector<std::string>{"<bob@secure.example>"});
  ::testing::Mock::VerifyAndClearExpectations(&store_);
  load(true, "accept");

  // The audit log fails after the copies were posted: the decision stands.
  audit_down_ = true;
  EomResult mixed = send({"<bob@secure.example>", "<dave@other.example>"});
  EXPECT_EQ(mixed.step.kind, Step::Kind::kContinue);
  EXPECT_EQ(mixed.removed_recipients, std::vector<std::string>{"<bob@secure.example>"});
  EomResult all = send({"<bob@secure.example>"});
  EXPECT_EQ(all.step.kind, Step::Kind::kDiscard) << "every copy went over the Mesh already";
}

TEST_F(MeshSession, OnErrorAcceptNeverLetsAnEncryptionRecipientGoInCleartextAfterAFault) {
  load(true, "accept");
  // An exception while the Mesh copies are being made: on_error accept lets faults through,
  // but the decision said these recipients may only be reached over the Mesh.
  EomResult r = send({"<throws@secure.example>", "<dave@other.example>"});
  EXPECT_EQ(r.step.kind, Step::Kind::kTempfail);
  EXPECT_EQ(r.step.code, "451");
  EXPECT_TRUE(posted_.empty());
}

}  // namespace
}  // namespace meshgate::milter
