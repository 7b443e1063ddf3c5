// Ingress control (seed 7.2.1) decided from the recipient's contacts catalog, table-driven.
#include <gtest/gtest.h>

#include <map>

#include "gateway/config/config_loader.h"
#include "gateway/policy/engine.h"
#include "gateway/policy/quarantine_confirmation.h"
#include "tests/support/mock_store.h"

namespace meshgate::policy {
namespace {

using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

// The catalog of bob@example.com in these tests: match -> protocols.
const std::map<std::string, std::string> kBobCatalog = {
    {"alice@partner.net", "smtp"},     {"@friends.org", "smtp,xmpp"},
    {"sshonly@friends.org", "ssh"},    {"udf:MBQX-MESH-IDEN-TITY", "*"},
    {"@bücher.example", "smtp"},  // stored in U-label form by an earlier version
    {"sshonly@bücher.example", "ssh"},
};

struct IngressCase {
  const char* name;
  const char* policy;  // bob's own policy; "" = the default (tag-unknown)
  const char* sender;
  const char* protocol;
  const char* mesh_udf;  // "" = none
  Verdict verdict;
  ContactStatus contact;
  const char* rule;
};

void PrintTo(const IngressCase& c, std::ostream* os) { *os << c.name; }

class IngressTable : public ::testing::TestWithParam<IngressCase> {
 protected:
  void SetUp() override {
    auto loaded = config::loadConfigString(
        "gateway:\n  domains: [example.com]\ningress:\n  default: tag-unknown\nabuse:\n  "
        "enabled: false\n",
        "t.yaml");
    ASSERT_TRUE(loaded.ok());
    config_ = loaded.config;
    ON_CALL(store_, getAccount(_)).WillByDefault([](std::string_view a) -> Result<AccountRecord> {
      if (a != "bob@example.com") return notFound("no account");
      AccountRecord r;
      r.address = "bob@example.com";
      r.ingress_policy = GetParam().policy;
      return r;
    });
    ON_CALL(store_, findContact(_, _))
        .WillByDefault([](std::string_view account, const std::vector<std::string>& candidates)
                           -> Result<std::optional<ContactMatch>> {
          EXPECT_EQ(account, "bob@example.com");
          for (const auto& c : candidates) {
            auto it = kBobCatalog.find(c);
            if (it != kBobCatalog.end()) return std::optional<ContactMatch>(ContactMatch{c, it->second, c});
          }
          return std::optional<ContactMatch>();
        });
  }

  NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'000};
  std::shared_ptr<const config::Config> config_;
};

TEST_P(IngressTable, DecidesFromTheCatalog) {
  const IngressCase& c = GetParam();
  DecisionEngine engine(config_, store_, clock_);
  MessageRequest req;
  req.sender = c.sender;
  req.protocol = c.protocol;
  if (*c.mesh_udf) req.mesh_sender_udf = c.mesh_udf;
  auto r = engine.onRecipient(req, "bob@example.com");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->verdict, c.verdict);
  EXPECT_EQ(r->contact, c.contact);
  EXPECT_EQ(r->rule, c.rule);
  if (c.verdict == Verdict::kReject) {
    EXPECT_EQ(r->reply.code, "550");
    EXPECT_EQ(r->reply.enhanced, "5.7.1");
    EXPECT_EQ(r->reply.text,
              "<bob@example.com> accepts mail only from its contacts; ask the recipient to add "
              "you, or send a Mesh contact request (see https://mmm.example.com/)");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Policies, IngressTable,
    ::testing::Values(
        IngressCase{"KnownByAddress", "contacts-only", "alice@partner.net", "smtp", "",
                    Verdict::kAccept, ContactStatus::kKnownContact, "ingress.known-contact"},
        IngressCase{"KnownByAddressCaseInsensitiveDomain", "contacts-only", "alice@PARTNER.net",
                    "smtp", "", Verdict::kAccept, ContactStatus::kKnownContact,
                    "ingress.known-contact"},
        IngressCase{"KnownByDomainEntry", "contacts-only", "carol@friends.org", "smtp", "",
                    Verdict::kAccept, ContactStatus::kKnownContact, "ingress.known-contact"},
        IngressCase{"KnownByAnIdnDomainEntryStoredInUnicode", "contacts-only",
                    "ann@xn--bcher-kva.example", "smtp", "", Verdict::kAccept,
                    ContactStatus::kKnownContact, "ingress.known-contact"},
        IngressCase{"AnIdnAddressEntryStoredInUnicodeOverridesItsDomain", "contacts-only",
                    "sshonly@xn--bcher-kva.example", "smtp", "", Verdict::kReject,
                    ContactStatus::kFirstContact, "ingress.contacts-only"},
        IngressCase{"KnownByMeshIdentity", "contacts-only", "anyone@elsewhere.example", "smtp",
                    "MBQX-MESH-IDEN-TITY", Verdict::kAccept, ContactStatus::kKnownContact,
                    "ingress.known-contact"},
        IngressCase{"AddressEntryWithoutSmtpOverridesDomain", "contacts-only",
                    "sshonly@friends.org", "smtp", "", Verdict::kReject,
                    ContactStatus::kFirstContact, "ingress.contacts-only"},
        IngressCase{"ProtocolNotPermitted", "contacts-only", "alice@partner.net", "xmpp", "",
                    Verdict::kReject, ContactStatus::kFirstContact, "ingress.contacts-only"},
        IngressCase{"DomainEntryPermitsXmpp", "contacts-only", "dave@friends.org", "xmpp", "",
                    Verdict::kAccept, ContactStatus::kKnownContact, "ingress.known-contact"},
        IngressCase{"StrangerContactsOnly", "contacts-only", "mallory@evil.example", "smtp", "",
                    Verdict::kReject, ContactStatus::kFirstContact, "ingress.contacts-only"},
        IngressCase{"NullSenderIsAStranger", "contacts-only", "", "smtp", "", Verdict::kReject,
                    ContactStatus::kFirstContact, "ingress.contacts-only"},
        IngressCase{"StrangerQuarantine", "quarantine-unknown", "mallory@evil.example", "smtp", "",
                    Verdict::kAccept, ContactStatus::kQuarantined, "ingress.quarantine-unknown"},
        IngressCase{"StrangerTag", "tag-unknown", "mallory@evil.example", "smtp", "",
                    Verdict::kAccept, ContactStatus::kFirstContact, "ingress.tag-unknown"},
        IngressCase{"StrangerDefaultPolicy", "", "mallory@evil.example", "smtp", "",
                    Verdict::kAccept, ContactStatus::kFirstContact, "ingress.tag-unknown"},
        IngressCase{"OpenSkipsTheCatalog", "open", "mallory@evil.example", "smtp", "",
                    Verdict::kAccept, ContactStatus::kNotApplicable, "ingress.open"},
        IngressCase{"KnownUnderQuarantinePolicy", "quarantine-unknown", "alice@partner.net", "smtp",
                    "", Verdict::kAccept, ContactStatus::kKnownContact, "ingress.known-contact"}),
    [](const ::testing::TestParamInfo<IngressCase>& tp) { return tp.param.name; });

class IngressEngine : public ::testing::Test {
 protected:
  std::shared_ptr<const config::Config> load(const std::string& extra) {
    auto loaded = config::loadConfigString(
        "gateway:\n  domains: [example.com]\nabuse:\n  enabled: false\n" + extra, "t.yaml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
    return loaded.config;
  }
  ::testing::StrictMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'000};
};

TEST_F(IngressEngine, NonLocalRecipientIsNotLookedUp) {
  DecisionEngine engine(load(""), store_, clock_);  // StrictMock: any store call fails
  MessageRequest req;
  req.sender = "a@example.org";
  auto r = engine.onRecipient(req, "someone@elsewhere.net");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kAccept);
  EXPECT_EQ(r->contact, ContactStatus::kNotApplicable);
}

TEST_F(IngressEngine, StoreFailureIsAnErrorNeverAnAccept) {
  DecisionEngine engine(load(""), store_, clock_);
  EXPECT_CALL(store_, getAccount(std::string_view("bob@example.com")))
      .WillOnce(Return(Result<AccountRecord>(unavailable("database is locked"))));
  MessageRequest req;
  req.sender = "a@example.org";
  auto r = engine.onRecipient(req, "bob@example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "ingress: database is locked");
}

TEST_F(IngressEngine, ContactLookupFailureIsAnError) {
  DecisionEngine engine(load("ingress:\n  default: contacts-only\n"), store_, clock_);
  AccountRecord bob;
  bob.address = "bob@example.com";
  EXPECT_CALL(store_, getAccount(_)).WillOnce(Return(Result<AccountRecord>(bob)));
  EXPECT_CALL(store_, findContact(_, _))
      .WillOnce(Return(Result<std::optional<ContactMatch>>(deadlineExceeded("timeout"))));
  MessageRequest req;
  req.sender = "a@example.org";
  auto r = engine.onRecipient(req, "bob@example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(IngressEngine, RecipientDelimiterFindsTheAccount) {
  DecisionEngine engine(load("ingress:\n  default: contacts-only\n"), store_, clock_);
  AccountRecord bob;
  bob.address = "bob@example.com";
  EXPECT_CALL(store_, getAccount(std::string_view("bob+lists@example.com")))
      .WillOnce(Return(Result<AccountRecord>(notFound("no"))));
  EXPECT_CALL(store_, getAccount(std::string_view("bob@example.com")))
      .WillOnce(Return(Result<AccountRecord>(bob)));
  EXPECT_CALL(store_, findContact(std::string_view("bob@example.com"), _))
      .WillOnce(Return(Result<std::optional<ContactMatch>>(std::optional<ContactMatch>())));
  MessageRequest req;
  req.sender = "a@example.org";
  auto r = engine.onRecipient(req, "Bob+Lists@example.com");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kReject);
  EXPECT_EQ(r->account, "bob@example.com");
}

TEST_F(IngressEngine, PercentHackFindsTheAccountWhenTheDomainIsOurs) {
  // Postfix delivers bob%example.com@example.com to bob@example.com (allow_percent_hack).
  DecisionEngine engine(load("ingress:\n  default: contacts-only\n  unlisted_recipients: pass\n"),
                        store_, clock_);
  AccountRecord bob;
  bob.address = "bob@example.com";
  EXPECT_CALL(store_, getAccount(std::string_view("bob%example.com@example.com")))
      .WillOnce(Return(Result<AccountRecord>(notFound("no"))));
  EXPECT_CALL(store_, getAccount(std::string_view("bob@example.com")))
      .WillOnce(Return(Result<AccountRecord>(bob)));
  EXPECT_CALL(store_, findContact(std::string_view("bob@example.com"), _))
      .WillOnce(Return(Result<std::optional<ContactMatch>>(std::optional<ContactMatch>())));
  MessageRequest req;
  req.sender = "mallory@evil.example";
  auto r = engine.onRecipient(req, "bob%example.com@example.com");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kReject);
  EXPECT_EQ(r->account, "bob@example.com");
  // Relayed elsewhere, it is not ours to look up.
  EXPECT_CALL(store_, getAccount(std::string_view("bob%elsewhere.net@example.com")))
      .WillOnce(Return(Result<AccountRecord>(notFound("no"))));
  auto relayed = engine.onRecipient(req, "bob%elsewhere.net@example.com");
  ASSERT_TRUE(relayed.ok());
  EXPECT_EQ(relayed->verdict, Verdict::kAccept);
}

TEST_F(IngressEngine, UnlistedRecipientPassesOrGetsTheDefault) {
  MessageRequest req;
  req.sender = "a@example.org";
  {
    DecisionEngine engine(load("ingress:\n  default: contacts-only\n"), store_, clock_);
    EXPECT_CALL(store_, getAccount(_)).WillOnce(Return(Result<AccountRecord>(notFound("no"))));
    auto r = engine.onRecipient(req, "nobody@example.com");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->verdict, Verdict::kAccept);
  }
  {
    DecisionEngine engine(
        load("ingress:\n  default: contacts-only\n  unlisted_recipients: default-policy\n"),
        store_, clock_);
    EXPECT_CALL(store_, getAccount(_)).WillOnce(Return(Result<AccountRecord>(notFound("no"))));
    auto r = engine.onRecipient(req, "nobody@example.com");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->verdict, Verdict::kReject);
    EXPECT_EQ(r->rule, "ingress.contacts-only");
  }
}

TEST_F(IngressEngine, QuarantinedRecipientHoldsTheMessageAtEom) {
  DecisionEngine engine(load(""), store_, clock_);
  Decision so_far;
  RecipientDecision held;
  held.recipient = "bob@example.com";
  held.contact = ContactStatus::kQuarantined;
  RecipientDecision known;
  known.recipient = "carol@example.com";
  known.contact = ContactStatus::kKnownContact;
  so_far.recipients = {held, known};
  auto d = engine.onMessage(MessageRequest{}, so_far);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kHold);
  EXPECT_EQ(d->rule, "ingress.quarantine-unknown");
  EXPECT_EQ(d->hold_reason, "first contact for bob@example.com");
  // Held already by an abuse limit at MAIL FROM: that reason stays, so the recipient cannot
  // release what the administrator must judge.
  so_far.verdict = Verdict::kHold;
  so_far.rule = "abuse.flood";
  so_far.hold_reason = "rate limit flood";
  auto both = engine.onMessage(MessageRequest{}, so_far);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->hold_reason, "rate limit flood; first contact for bob@example.com");
  QuarantineRecord q;
  q.state = "held";
  q.recipients = "bob@example.com";
  q.reason = both->hold_reason;
  EXPECT_FALSE(recipientMayConfirm(q, "bob@example.com"));
}

TEST_F(IngressEngine, CustomRejectTextSubstitutesRecipientAndUrl) {
  DecisionEngine engine(load("ingress:\n  default: contacts-only\n  reject_text: \"5.7.1 %r is "
                             "private; see %u\"\n  contact_request_url: https://example.com/contact\n"),
                        store_, clock_);
  AccountRecord bob;
  bob.address = "bob@example.com";
  EXPECT_CALL(store_, getAccount(_)).WillOnce(Return(Result<AccountRecord>(bob)));
  EXPECT_CALL(store_, findContact(_, _))
      .WillOnce(Return(Result<std::optional<ContactMatch>>(std::optional<ContactMatch>())));
  MessageRequest req;
  req.sender = "x@y.example";
  auto r = engine.onRecipient(req, "bob@example.com");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reply.text, "bob@example.com is private; see https://example.com/contact");
}

}  // namespace
}  // namespace meshgate::policy
