// Brand accountability (seed 7.2.3.1): the Mesh-Brand-Assertion format (sign, parse, verify,
// every altered field), the brand filter outbound (which mail speaks for a brand, the sender
// notice once per interval) and inbound (trusted assertions, unverified claims), the
// configuration section and the trust list's setup errors.
#include <gtest/gtest.h>

#include "gateway/policy/brand_assertion.h"
#include "gateway/policy/brand_filter.h"
#include "gateway/policy/engine.h"
#include "gateway/policy/security_signal.h"
#include "gateway/util/strings.h"
#include "tests/support/subprocess.h"
#include "tests/unit/decision/content_test_support.h"

namespace meshgate::policy {
namespace {

using content_testing::checkDetail;
using content_testing::checkNames;
using content_testing::hasCheck;
using content_testing::parse;
using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

constexpr int64_t kNow = 1'800'000'000;

mesh::PrivateKey newKey() { return *mesh::PrivateKey::generate(mesh::KeyType::kEd25519); }

mail::HeaderList headersOf(const std::string& from) {
  mail::HeaderList h;
  h.add("From", from);
  h.add("To", "customer@example.net");
  h.add("Subject", "Your statement");
  h.add("Date", "Sat, 28 Nov 2026 10:00:00 +0000");
  h.add("Message-ID", "<1@examplebank.com>");
  return h;
}

BrandAssertion assertion() {
  BrandAssertion a;
  a.brand = "Example Bank";
  a.organization = "Example Bank plc; Zürich";
  a.logo_url = "https://examplebank.com/logo.svg";
  a.address = "news@examplebank.com";
  a.gateway = "mx.example.com";
  a.time = kNow;
  return a;
}

// ---- format

TEST(BrandAssertionFormat, SignParseVerifyRoundTrip) {
  auto key = newKey();
  auto headers = headersOf("Example Bank <news@examplebank.com>");
  BrandAssertion a = assertion();
  auto value = signBrandAssertion(a, headers, key);
  ASSERT_TRUE(value.ok()) << value.status().toString();
  EXPECT_EQ(value->find('\r'), std::string::npos);
  EXPECT_NE(value->find("brand=Example%20Bank;"), std::string::npos) << *value;
  auto parsed = parseBrandAssertion(*value);
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  EXPECT_EQ(parsed->brand, "Example Bank");
  EXPECT_EQ(parsed->organization, "Example Bank plc; Zürich");
  EXPECT_EQ(parsed->logo_url, "https://examplebank.com/logo.svg");
  EXPECT_EQ(parsed->address, "news@examplebank.com");
  EXPECT_EQ(parsed->gateway, "mx.example.com");
  EXPECT_EQ(parsed->time, kNow);
  EXPECT_EQ(parsed->kid, key.publicKey().kid());
  EXPECT_TRUE(verifyBrandAssertion(*parsed, headers, key.publicKey()).ok());
}

TEST(BrandAssertionFormat, EveryAlteredFieldFailsVerification) {
  auto key = newKey();
  auto headers = headersOf("news@examplebank.com");
  BrandAssertion a = assertion();
  auto value = signBrandAssertion(a, headers, key);
  ASSERT_TRUE(value.ok());
  struct Edit {
    const char* from;
    const char* to;
  };
  const Edit edits[] = {
      {"brand=Example%20Bank", "brand=Example%20Bonk"},
      {"org=Example%20Bank%20plc", "org=Evil%20Corp%20plc"},
      {"logo=https://examplebank.com/logo.svg", "logo=https://evil.example/logo.svg"},
      {"gw=mx.example.com", "gw=mx.evil.example"},
      {"t=1800000000", "t=1900000000"},
  };
  for (const auto& e : edits) {
    std::string altered = *value;
    auto pos = altered.find(e.from);
    ASSERT_NE(pos, std::string::npos) << e.from << " in " << altered;
    altered.replace(pos, std::string(e.from).size(), e.to);
    auto parsed = parseBrandAssertion(altered);
    ASSERT_TRUE(parsed.ok()) << e.to;
    Status st = verifyBrandAssertion(*parsed, headers, key.publicKey());
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << e.to;
  }
  // The message's bound headers changed.
  auto parsed = parseBrandAssertion(*value);
  ASSERT_TRUE(parsed.ok());
  auto other = headersOf("news@examplebank.com");
  other.add("To", "second@example.net");
  EXPECT_NE(verifyBrandAssertion(*parsed, other, key.publicKey()).message().find("changed"),
            std::string::npos);
  // Another gateway's key.
  EXPECT_NE(verifyBrandAssertion(*parsed, headers, newKey().publicKey()).message().find("signed by key"),
            std::string::npos);
}

TEST(BrandAssertionFormat, TheAssertionMustNameTheFromAddress) {
  auto key = newKey();
  auto headers = headersOf("Support <help@examplebank.com>");
  BrandAssertion a = assertion();  // addr=news@..., but From: is help@...
  auto value = signBrandAssertion(a, headers, key);
  ASSERT_TRUE(value.ok());
  auto parsed = parseBrandAssertion(*value);
  ASSERT_TRUE(parsed.ok());
  Status st = verifyBrandAssertion(*parsed, headers, key.publicKey());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("help@examplebank.com"), std::string::npos) << st.message();
}

TEST(BrandAssertionFormat, TagValuesEncodeAndDecode) {
  for (std::string v : {"Example Bank", "a;b=c", "Zürich AG", "100%", "tab\there", "", "plain-1.x"}) {
    std::string e = encodeTagValue(v);
    EXPECT_EQ(e.find_first_of(" ;=\t"), std::string::npos) << e;
    auto d = decodeTagValue(e);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, v);
  }
  EXPECT_FALSE(decodeTagValue("abc%2").ok());
  EXPECT_FALSE(decodeTagValue("abc%zz").ok());
  EXPECT_FALSE(decodeTagValue("%").ok());
}

TEST(BrandAssertionFormat, MalformedValuesAreErrorsNotCrashes) {
  const std::string ok = "v=1; brand=B; org=O; addr=a@b.example; gw=g; kid=K; t=1; h=from; bh=x; s=y";
  ASSERT_TRUE(parseBrandAssertion(ok).ok());
  struct Case {
    std::string value;
    const char* error;
  };
  const Case cases[] = {
      {"v=2; brand=B", "version"},
      {"v=1; brand=B; org=O; addr=a@b.example; gw=g; kid=K; t=1; h=from; bh=x", "missing tag s"},
      {"v=1; brand=B; brand=C; org=O", "repeated"},
      {"v=1; brand=B%G1; org=O; addr=a; gw=g; kid=K; t=1; h=from; bh=x; s=y", "escape"},
      {"v=1; brand=B; org=O; addr=a; gw=g; kid=K; t=soon; h=from; bh=x; s=y", "number"},
      {"v=1; brand=B; org=O; addr=a; gw=g; kid=K; t=1; h=to:subject; bh=x; s=y", "From"},
      {"garbage", "without '='"},
      {std::string(9000, 'x'), "8 KiB"},
  };
  for (const auto& c : cases) {
    auto r = parseBrandAssertion(c.value);
    ASSERT_FALSE(r.ok()) << c.value.substr(0, 60);
    EXPECT_NE(r.status().message().find(c.error), std::string::npos)
        << c.value.substr(0, 60) << " -> " << r.status().message();
  }
}

// ---- configuration

TEST(BrandConfig, DefaultsAndAFullSection) {
  auto cfg = content_testing::loadConfig("");
  EXPECT_TRUE(cfg->brands.enabled);
  EXPECT_EQ(cfg->brands.organization, "example.com");  // the first gateway domain
  EXPECT_TRUE(cfg->brands.list.empty());
  EXPECT_EQ(cfg->brands.sender_notice.interval, std::chrono::hours(24));
  EXPECT_EQ(cfg->brands.unverified_claim.action, config::CheckAction::kTag);
  cfg = content_testing::loadConfig(
      "brands:\n  organization: Example Holdings\n  list:\n    - name: Example Bank\n"
      "      domains: [ExampleBank.com]\n      addresses: [News@examplebank.com]\n"
      "      logo_url: https://examplebank.com/logo.svg\n      organization: Example Bank plc\n"
      "  trusted_gateways:\n    - {name: partner, key_file: /etc/meshgate/partner.pub}\n"
      "  max_assertion_age: 2d\n  sender_notice:\n    enabled: false\n    interval: 12h\n"
      "    from: brand-office@example.com\n  unverified_claim: {action: quarantine}\n");
  ASSERT_TRUE(cfg);
  ASSERT_EQ(cfg->brands.list.size(), 1u);
  EXPECT_EQ(cfg->brands.organization, "Example Holdings");
  EXPECT_EQ(cfg->brands.list[0].domains[0], "examplebank.com");
  EXPECT_EQ(cfg->brands.list[0].addresses[0], "news@examplebank.com");
  EXPECT_EQ(cfg->brands.list[0].organization, "Example Bank plc");
  EXPECT_EQ(cfg->brands.trusted_gateways[0].key_file, "/etc/meshgate/partner.pub");
  EXPECT_EQ(cfg->brands.max_assertion_age, std::chrono::hours(48));
  EXPECT_FALSE(cfg->brands.sender_notice.enabled);
  EXPECT_EQ(cfg->brands.sender_notice.interval, std::chrono::hours(12));
  EXPECT_EQ(cfg->brands.unverified_claim.action, config::CheckAction::kQuarantine);
}

TEST(BrandConfig, ErrorsNameFileLineAndWhatToFix) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"brands:\n  list:\n    - name: B\n", "needs domains or addresses"},
      {"brands:\n  list:\n    - {domains: [b.example]}\n", "name"},
      {"brands:\n  list:\n    - {name: B, domains: [\"not a domain\"]}\n", "is not a domain name"},
      {"brands:\n  list:\n    - {name: B, addresses: [nobody]}\n", "is not an address"},
      {"brands:\n  list:\n    - {name: B, domains: [b.example], senders: [nobody]}\n",
       "is not an address"},
      {"brands:\n  list:\n    - {name: B, domains: [b.example], sender_domains: [\"a b\"]}\n",
       "is not a domain name"},
      {"brands:\n  list:\n    - {name: B, domains: [b.example], logo_url: "
       "http://b.example/l.png}\n",
       "https://"},
      {"brands:\n  list:\n    - {name: B, domains: [b.example]}\n    - {name: B, domains: "
       "[c.example]}\n",
       "listed twice"},
      {"brands:\n  trusted_gateways:\n    - {name: partner}\n", "key_file"},
      {"brands:\n  trusted_gateways:\n    - {name: \"a b\", key_file: /x}\n", "use letters"},
      {"brands:\n  sender_notice:\n    from: nobody\n", "not an address"},
      {"brands:\n  unverified_claim: {action: shout}\n", "shout"},
      {"brands:\n  colour: blue\n", "colour"},
  };
  for (const auto& c : cases) {
    std::string e = content_testing::allErrors(c.yaml);
    EXPECT_NE(e.find("t.yaml:"), std::string::npos) << c.yaml << " -> " << e;
    EXPECT_NE(e.find(c.error), std::string::npos) << c.yaml << " -> " << e;
  }
}

// ---- filter

class BrandFilterTest : public ::testing::Test {
 protected:
  // extra: more of the brands section; brand_extra: more of the brand's entry.
  void load(const std::string& extra = "", bool notices = true,
            const std::string& brand_extra = "") {
    cfg_ = content_testing::loadConfig(
        "brands:\n  organization: Example Holdings\n  list:\n    - name: Example Bank\n"
        "      domains: [examplebank.com]\n      addresses: [news@example.com]\n"
        "      organization: Example Bank plc\n"
        "      logo_url: https://examplebank.com/logo.svg\n" +
        brand_extra + "  sender_notice:\n    enabled: " + std::string(notices ? "true" : "false") +
        "\n" + extra);
    ASSERT_TRUE(cfg_);
    filter_ = std::make_unique<BrandFilter>(cfg_, store_, clock_);
    ASSERT_TRUE(filter_->setupStatus().ok()) << filter_->setupStatus().toString();
  }
  Result<Decision> run(const std::string& eml, Direction direction,
                       const std::string& sender = "alice@example.com") {
    view_ = parse(eml);
    MessageRequest req;
    req.direction = direction;
    req.sender = sender;
    req.content = &view_;
    Decision d;
    Status st = filter_->onMessage(req, d);
    if (!st.ok()) return st;
    return d;
  }

  NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{kNow};
  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<BrandFilter> filter_;
  mail::MessageView view_;
};

TEST_F(BrandFilterTest, OutboundMailFromABrandAddressOrDomainIsAsserted) {
  load("", /*notices=*/false);
  struct Case {
    const char* from;
    const char* brand;  // "" = none
  };
  const Case cases[] = {
      {"Example Bank <news@example.com>", "Example Bank"},  // a listed address
      {"NEWS@Example.com", "Example Bank"},                 // case does not matter
      {"Support <help@examplebank.com>", "Example Bank"},   // the brand's domain
      {"help@mail.examplebank.com", "Example Bank"},        // a subdomain
      {"Alice <alice@example.com>", ""},                    // a person, not the brand
      {"x@examplebank.com.evil.example", ""},               // not a subdomain
      {"a@examplebank.com, b@examplebank.com", ""},         // several From: mailboxes
  };
  for (const auto& c : cases) {
    auto d = run(content_testing::textMessage(c.from, "Hello", "Hi\n"), Direction::kOutbound);
    ASSERT_TRUE(d.ok()) << c.from;
    EXPECT_EQ(d->brand.assert_brand, c.brand) << c.from;
    if (*c.brand) {
      EXPECT_EQ(d->brand.organization, "Example Bank plc");
      EXPECT_EQ(d->brand.logo_url, "https://examplebank.com/logo.svg");
      EXPECT_EQ(checkDetail(*d, "brand-assertion"), "Example Bank");
    } else {
      EXPECT_FALSE(hasCheck(*d, "brand-assertion")) << c.from;
    }
    EXPECT_FALSE(d->brand.notice.has_value());
  }
  // The same From: on inbound mail is not asserted (it is checked as a claim instead).
  auto in = run(content_testing::textMessage("news@example.com", "Hello", "Hi\n"),
                Direction::kInbound);
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(in->brand.assert_brand.empty());
}

// The From: header is the sender's to write: only mail whose envelope sender may send as the
// brand is signed for it (by default anyone in the gateway's domains, example.com here, or the
// brand's own; with senders/sender_domains, only those).
TEST_F(BrandFilterTest, OnlyASenderWhoMaySendAsTheBrandGetsTheAssertion) {
  struct Case {
    const char* extra;  // appended to the brand's entry
    const char* sender;
    bool asserted;
  };
  const Case cases[] = {
      {"", "alice@example.com", true},            // the organization's own user
      {"", "Alice@EXAMPLE.com", true},            // case does not matter
      {"", "help@examplebank.com", true},         // the brand's domain
      {"", "web@forms.examplebank.com", true},    // and its subdomains
      {"", "mallory@otherco.example", false},     // a host on the outbound networks, say
      {"", "x@example.com.evil.example", false},  // not a subdomain
      {"", "", false},                            // a bounce speaks for nobody
      {"      senders: [comms@example.com]\n", "comms@example.com", true},
      {"      senders: [comms@example.com]\n", "alice@example.com", false},
      {"      sender_domains: [marketing.example.com]\n", "bob@marketing.example.com", true},
      {"      sender_domains: [marketing.example.com]\n", "help@examplebank.com", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.extra) + " sender=" + c.sender);
    load("", /*notices=*/false, c.extra);
    auto d = run(content_testing::textMessage("Example Bank <news@example.com>", "Offer", "Hi\n"),
                 Direction::kOutbound, c.sender);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->brand.assert_brand, c.asserted ? "Example Bank" : "");
    EXPECT_EQ(hasCheck(*d, "brand-assertion"), c.asserted);
    EXPECT_EQ(hasCheck(*d, "brand-assertion-refused"), !c.asserted);
    if (!c.asserted) {
      EXPECT_EQ(checkDetail(*d, "brand-assertion-refused"), "Example Bank");
    }
  }
}

TEST_F(BrandFilterTest, TheSenderIsRemindedOncePerIntervalThroughTheStoreCounter) {
  load();
  const std::string eml = content_testing::textMessage("news@example.com", "Winter offers", "Hi\n");
  // The counter key is the sender's address; the window is the current day.
  EXPECT_CALL(store_, addToCounter("brand-notice:alice@example.com", kNow - kNow % 86400, 1, _))
      .WillOnce(Return(Result<int64_t>(1)))
      .WillOnce(Return(Result<int64_t>(2)));
  auto first = run(eml, Direction::kOutbound);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->brand.notice.has_value());
  EXPECT_EQ(first->brand.notice->to, "alice@example.com");
  EXPECT_EQ(first->brand.notice->from, "postmaster@example.com");
  EXPECT_EQ(first->brand.notice->subject, "You are sending mail on behalf of Example Bank");
  EXPECT_NE(first->brand.notice->text.find("\"Winter offers\" was sent from news@example.com"),
            std::string::npos) << first->brand.notice->text;
  EXPECT_NE(first->brand.notice->text.find("Example Bank plc is accountable"), std::string::npos);
  auto second = run(eml, Direction::kOutbound);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->brand.notice.has_value());
  EXPECT_EQ(second->brand.assert_brand, "Example Bank");  // the assertion is on every message
}

TEST_F(BrandFilterTest, ACounterFailureIsAnErrorForTheFrontEndsTable) {
  load();
  EXPECT_CALL(store_, addToCounter(_, _, _, _))
      .WillOnce(Return(Result<int64_t>(unavailable("database is locked"))));
  auto d = run(content_testing::textMessage("news@example.com", "x", "y\n"), Direction::kOutbound);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().toString().find("brand notice counter"), std::string::npos);
}

TEST_F(BrandFilterTest, NoNoticeAndNoStoreCallWhenNoticesAreOff) {
  load("", /*notices=*/false);
  EXPECT_CALL(store_, addToCounter(_, _, _, _)).Times(0);
  auto d = run(content_testing::textMessage("news@example.com", "x", "y\n"), Direction::kOutbound);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->brand.notice.has_value());
}

class InboundBrandTest : public BrandFilterTest {
 protected:
  void SetUp() override {
    partner_ = std::make_unique<mesh::PrivateKey>(newKey());
    ASSERT_TRUE(mesh::savePublicKeyFile(partner_->publicKey(), dir_.file("partner.pub")).ok());
    load("  trusted_gateways:\n    - {name: partner-gw, key_file: " + dir_.file("partner.pub") +
         "}\n");
  }
  // A message From: `from` with an assertion for `brand` signed by `key` at `time`.
  std::string assertedMessage(const std::string& from, const std::string& brand,
                              const mesh::PrivateKey& key, int64_t time = kNow,
                              const std::string& address = "") {
    mail::HeaderList h;
    h.add("From", from);
    h.add("To", "bob@example.com");
    h.add("Subject", "Statement");
    BrandAssertion a;
    a.brand = brand;
    a.organization = "Partner Org";
    auto list = mail::parseMailboxList(from);
    a.address = address.empty() ? toLowerAscii(list.mailboxes.at(0).address.toString()) : address;
    a.gateway = "mx.partner.example";
    a.time = time;
    auto value = signBrandAssertion(a, h, key);
    EXPECT_TRUE(value.ok());
    std::string folded = *value;  // continuation lines already start with a tab
    return "Mesh-Brand-Assertion: v=1; brand=Forged; org=X; addr=a@b.example; gw=x; kid=K; t=1; "
           "h=from; bh=x; s=y\nMesh-Brand-Assertion: " + folded + "\nFrom: " + from +
           "\nTo: bob@example.com\nSubject: Statement\nMIME-Version: 1.0\n"
           "Content-Type: text/plain\n\nHello\n";
  }

  testing::TempDir dir_;
  std::unique_ptr<mesh::PrivateKey> partner_;
};

TEST_F(InboundBrandTest, ATrustedAssertionIsVerifiedAndKeptForgedCopiesAreNot) {
  auto d = run(assertedMessage("Partner News <news@partner.example>", "Partner", *partner_),
               Direction::kInbound);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->brand.verified, "Partner");
  EXPECT_EQ(d->brand.verified_by, "partner-gw");
  EXPECT_EQ(d->brand.keep_incoming, std::vector<size_t>{2});  // the forged first copy goes
  EXPECT_EQ(checkDetail(*d, "brand-verified"), "Partner@partner-gw");
  // The security signal carries the verified brand.
  EXPECT_EQ(signalFromDecision(*d, "mx.example.com", kNow, [] { return std::string("n"); }).brand,
            "Partner");
}

TEST_F(InboundBrandTest, AssertionsThatDoNotHoldAreNotBelieved) {
  struct Case {
    const char* name;
    std::string eml;
  };
  auto stranger = newKey();
  const Case cases[] = {
      {"untrusted gateway key", assertedMessage("news@partner.example", "Partner", stranger)},
      {"older than max_assertion_age",
       assertedMessage("news@partner.example", "Partner", *partner_, kNow - 8 * 86400)},
      {"from the future", assertedMessage("news@partner.example", "Partner", *partner_, kNow + 3600)},
      {"for another From: address",
       assertedMessage("news@partner.example", "Partner", *partner_, kNow, "ceo@partner.example")},
  };
  for (const auto& c : cases) {
    auto d = run(c.eml, Direction::kInbound);
    ASSERT_TRUE(d.ok()) << c.name;
    EXPECT_TRUE(d->brand.verified.empty()) << c.name;
    EXPECT_TRUE(d->brand.keep_incoming.empty()) << c.name;
    EXPECT_FALSE(hasCheck(*d, "brand-verified")) << c.name;
  }
}

TEST_F(InboundBrandTest, ClaimsOfAProtectedBrandWithoutAValidAssertionAreFlagged) {
  struct Case {
    const char* from;
    const char* detail;  // "" = no claim
  };
  const Case cases[] = {
      {"Example Bank <alerts@secure-login.example>", "Example Bank:display-name"},
      {"\"EXAMPLE  BANK Support\" <x@mailer.example>", "Example Bank:display-name"},
      {"Ex\xD0\xB0mple Bank <x@mailer.example>", "Example Bank:display-name"},  // Cyrillic a
      {"Alerts <alerts@examplebank.com>", "Example Bank:domain"},
      {"Alerts <alerts@examp1ebank.com>", "Example Bank:lookalike-domain"},
      {"Alerts <alerts@exarnplebank.com>", "Example Bank:lookalike-domain"},
      {"Example Banking Weekly <x@news.example>", ""},  // not the brand's words
      {"Bob <bob@partner.example>", ""},
  };
  for (const auto& c : cases) {
    auto d = run(content_testing::textMessage(c.from, "Your account", "Hi\n"), Direction::kInbound);
    ASSERT_TRUE(d.ok()) << c.from;
    if (*c.detail) {
      EXPECT_EQ(checkDetail(*d, "brand-unverified"), c.detail) << c.from;
      EXPECT_EQ(d->subject_tag, "[UNVERIFIED BRAND]") << c.from;
    } else {
      EXPECT_FALSE(hasCheck(*d, "brand-unverified")) << c.from << ": " << checkNames(*d);
    }
  }
}

TEST_F(InboundBrandTest, AValidAssertionForTheClaimedBrandClearsTheClaim) {
  auto ok = run(assertedMessage("Example Bank <news@examplebank.com>", "Example Bank", *partner_),
                Direction::kInbound);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->brand.verified, "Example Bank");
  EXPECT_FALSE(hasCheck(*ok, "brand-unverified")) << checkNames(*ok);
  // An assertion for another brand does not cover this one.
  auto other = run(assertedMessage("Example Bank <news@examplebank.com>", "Partner", *partner_),
                   Direction::kInbound);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(checkDetail(*other, "brand-unverified"), "Example Bank:display-name");
  // A trusted gateway that names our brand for an address that is not the brand's (its own
  // configuration calls something "Example Bank") does not clear the claim.
  auto borrowed =
      run(assertedMessage("Example Bank <promo@partner.example>", "Example Bank", *partner_),
          Direction::kInbound);
  ASSERT_TRUE(borrowed.ok());
  EXPECT_EQ(borrowed->brand.verified, "Example Bank");  // the signature holds
  EXPECT_EQ(checkDetail(*borrowed, "brand-unverified"), "Example Bank:display-name")
      << checkNames(*borrowed);
}

TEST_F(InboundBrandTest, TheClaimActionIsConfigurable) {
  load("  unverified_claim: {action: reject, reject_text: \"not from Example Bank\"}\n");
  auto d = run(content_testing::textMessage("Example Bank <x@mailer.example>", "x", "y\n"),
               Direction::kInbound);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kReject);
  EXPECT_EQ(d->rule, "brands.unverified-claim");
  EXPECT_EQ(d->reply.text, "not from Example Bank");
}

TEST(BrandSetup, AnUnreadableOrWrongTrustedKeyIsASetupErrorNamingTheFile) {
  testing::TempDir dir;
  NiceMock<testing::MockStore> store;
  testing::FixedClock clock(kNow);
  auto missing = content_testing::loadConfig(
      "brands:\n  trusted_gateways:\n    - {name: partner, key_file: " + dir.file("none.pub") + "}\n");
  DecisionEngine engine(missing, store, clock);
  EXPECT_FALSE(engine.setupStatus().ok());
  EXPECT_NE(engine.setupStatus().toString().find("brands.trusted_gateways[0] (partner): key_file " +
                                                 dir.file("none.pub")),
            std::string::npos)
      << engine.setupStatus().toString();

  auto x = *mesh::PrivateKey::generate(mesh::KeyType::kX25519);
  ASSERT_TRUE(mesh::savePublicKeyFile(x.publicKey(), dir.file("x.pub")).ok());
  auto agreement = content_testing::loadConfig(
      "brands:\n  trusted_gateways:\n    - {name: partner, key_file: " + dir.file("x.pub") + "}\n");
  DecisionEngine engine2(agreement, store, clock);
  EXPECT_NE(engine2.setupStatus().toString().find("Ed25519 or Ed448"), std::string::npos)
      << engine2.setupStatus().toString();

  DecisionEngine fine(content_testing::loadConfig(""), store, clock);
  EXPECT_TRUE(fine.setupStatus().ok());
}

TEST(BrandNotice, MessageHeadersAreOneLineAndEncodedWhenNotAscii) {
  SenderNotice n{"alice@example.com", "postmaster@example.com",
                 "Sie schreiben für Beispiel Bank\r\nBcc: evil@example.net", "Text ü\n"};
  std::string m = senderNoticeMessage(n);
  EXPECT_EQ(m.find("\nBcc:"), std::string::npos) << m;
  EXPECT_NE(m.find("Subject: =?UTF-8?Q?Sie_schreiben_f=C3=BCr_Beispiel_Bank"), std::string::npos) << m;
  EXPECT_NE(m.find("Auto-Submitted: auto-generated\n"), std::string::npos);
  EXPECT_NE(m.find("\n\nText ü\n"), std::string::npos);
}

}  // namespace
}  // namespace meshgate::policy
