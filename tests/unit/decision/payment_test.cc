// Payment-request detection (seed 7.2.3): messages in several languages, charsets and transfer
// encodings through the real MIME parser; when the action applies (first contact, Reply-To
// elsewhere) and what it does.
#include "gateway/policy/payment_filter.h"

#include <gtest/gtest.h>

#include "gateway/policy/engine.h"
#include "tests/unit/decision/content_test_support.h"

namespace meshgate::policy {
namespace {

using namespace content_testing;

struct ScoreCase {
  const char* name;
  const char* eml;
  const char* found;  // PaymentFilter::Finding::found joined, "" = nothing
  int score;
};

void PrintTo(const ScoreCase& c, std::ostream* os) { *os << c.name; }

class PaymentScore : public ::testing::TestWithParam<ScoreCase> {};

TEST_P(PaymentScore, FindsPaymentLanguageAndIdentifiers) {
  PaymentFilter filter(loadConfig(""));
  mail::MessageView view = parse(GetParam().eml);
  PaymentFilter::Finding f = filter.examine(view);
  std::string found;
  for (const auto& s : f.found) found += (found.empty() ? "" : ",") + s;
  EXPECT_EQ(found, GetParam().found);
  EXPECT_EQ(f.score, GetParam().score);
}

const ScoreCase kScoreCases[] = {
    {"en_invoice_urgent_iban",
     "From: a@vendor.example\nSubject: Invoice 4471 OVERDUE\n\n"
     "Please pay urgently to IBAN GB82 WEST 1234 5698 7654 32.\n",
     "invoice,urgency,iban", 4},
    {"de_quoted_printable_latin1",
     "From: a@vendor.example\nSubject: =?iso-8859-1?q?Wichtig:_neue_Bankverbindung?=\n"
     "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
     "Content-Transfer-Encoding: quoted-printable\n\n"
     "Sehr geehrte Damen und Herren,\nunsere neue Bankverbindung lautet ab sofort:\n"
     "IBAN DE89 3704 0044 0532 0130 00\nBitte die n=E4chste =DCberweisung dorthin.\n",
     "invoice,urgency,bank-change,iban", 6},
    {"fr_base64_utf8",
     "From: a@vendor.example\nSubject: Facture\nMIME-Version: 1.0\n"
     "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
     "Qm9uam91ciwNCnZldWlsbGV6IHRyb3V2ZXIgY2ktZGVzc291cyBub3RyZSBmYWN0dXJlIG7CsCAy\n"
     "MjMxLg0KTWVyY2kgZCdlZmZlY3R1ZXIgbGUgdmlyZW1lbnQgc3VyIG5vcyBub3V2ZWxsZXMgY29v\n"
     "cmRvbm7DqWVzIGJhbmNhaXJlcy4NCg==\n",
     "invoice,bank-change", 3},
    {"es_html_windows1252",
     "From: jefe@vendor.example\nSubject: =?windows-1252?q?Una_petici=F3n?=\nMIME-Version: 1.0\n"
     "Content-Type: multipart/alternative; boundary=b\n\n--b\n"
     "Content-Type: text/html; charset=windows-1252\n\n"
     "<p>Necesito que compres <b>tarjetas de regalo</b> de Google Play hoy mismo. "
     "Env\xED"
     "ame los c\xF3"
     "digos.</p>\n--b--\n",
     "urgency,gift-card", 3},
    {"crypto_wallet",
     "From: a@x.example\nSubject: your account\n\n"
     "Send 0.5 bitcoin to bc1qqqqsyqcyq5rqwzqfpg9scrgwpugpzysn4v0345 to unlock it.\n",
     "crypto,crypto-wallet", 3},
    {"us_wire",
     "From: a@x.example\nSubject: payment\n\n"
     "Please wire transfer the amount to routing number 021000021 (SWIFT: CHASUS33).\n",
     "invoice,bic,routing-number", 3},
    {"gift_card_in_html_split_by_tags",
     "From: a@x.example\nSubject: quick favour\nContent-Type: text/html\n\n"
     "<div>can you buy some gift<span> </span>cards for me?</div>\n",
     "gift-card", 2},
    // False-positive guards.
    {"lone_invoice_is_business_as_usual",
     "From: a@vendor.example\nSubject: Invoice 4471\n\nYour invoice for March is attached.\n",
     "invoice", 1},
    {"bad_iban_checksum",
     "From: a@x.example\nSubject: Invoice\n\nIBAN DE89 3704 0044 0532 0130 01\n", "invoice", 1},
    {"order_numbers_and_prices",
     "From: shop@x.example\nSubject: Your order 4111111111111111\n\n"
     "Order 021000021 of 2024-03-01: 3 items, total 129.90 EUR. Tracking 1Z999AA10123456784.\n",
     "", 0},
    {"words_inside_other_words",
     "From: a@x.example\nSubject: Abrechnungsmodell\n\nThe gifted cardiologist said hello.\n", "",
     0},
    {"quoted_newsletter",
     "From: news@x.example\nSubject: Our newsletter\n\nWe updated our policy.\n", "", 0},
    // How IBANs arrive outside plain ASCII: a no-break space (Word, Outlook), a narrow one, an
    // invisible operator, fullwidth characters, dashes.
    {"iban_with_no_break_spaces",
     "From: a@x.example\nSubject: Details\nMIME-Version: 1.0\n"
     "Content-Type: text/plain; charset=utf-8\n\n"
     "IBAN DE89\xC2\xA0"
     "3704\xC2\xA0"
     "0044\xE2\x80\xAF"
     "0532\xE2\x81\xA2"
     "0130 00\n",
     "iban", 2},
    {"iban_fullwidth",
     "From: a@x.example\nSubject: Details\nMIME-Version: 1.0\n"
     "Content-Type: text/plain; charset=utf-8\n\n"
     "\xEF\xBC\xA4\xEF\xBC\xA5\xEF\xBC\x98\xEF\xBC\x99"
     "370400440532013000\n",
     "iban", 2},
    {"iban_with_dashes", "From: a@x.example\nSubject: Details\n\nDE89-3704-0044-0532-0130-00\n",
     "iban", 2},
};

INSTANTIATE_TEST_SUITE_P(All, PaymentScore, ::testing::ValuesIn(kScoreCases),
                         [](const auto& p) { return std::string(p.param.name); });

// ---- when the action applies

struct ActionCase {
  const char* name;
  const char* payment_yaml;  // the payment section ("" = defaults)
  ContactStatus contact;
  const char* reply_to;  // "" = none
  Direction direction;
  Verdict verdict;
  const char* subject_tag;
  const char* checks;
};

void PrintTo(const ActionCase& c, std::ostream* os) { *os << c.name; }

class PaymentAction : public ::testing::TestWithParam<ActionCase> {};

constexpr const char* kUrgentInvoice = "Urgent: invoice 4471 is overdue, please pay today.";

TEST_P(PaymentAction, AppliesWhenSuspicious) {
  const ActionCase& c = GetParam();
  PaymentFilter filter(loadConfig(c.payment_yaml));
  std::string extra = *c.reply_to ? std::string("Reply-To: ") + c.reply_to + "\n" : "";
  mail::MessageView view =
      parse(textMessage("Billing <billing@vendor.example>", "Invoice 4471", kUrgentInvoice, extra));
  MessageRequest req;
  req.direction = c.direction;
  req.sender = "billing@vendor.example";
  req.content = &view;
  Decision d;
  d.recipients = {recipient("bob@example.com", c.contact)};
  ASSERT_TRUE(filter.onMessage(req, d).ok());
  EXPECT_EQ(d.verdict, c.verdict);
  EXPECT_EQ(d.subject_tag, c.subject_tag);
  EXPECT_EQ(checkNames(d), c.checks);
  if (d.verdict == Verdict::kHold) {
    EXPECT_EQ(d.rule, "payment.request");
    EXPECT_FALSE(d.hold_reason.empty());
  }
}

const ActionCase kActionCases[] = {
    {"first_contact_is_tagged", "", ContactStatus::kFirstContact, "", Direction::kInbound,
     Verdict::kAccept, "[PAYMENT?]", "payment-request"},
    {"quarantined_contact_is_tagged", "", ContactStatus::kQuarantined, "", Direction::kInbound,
     Verdict::kAccept, "[PAYMENT?]", "payment-request"},
    {"known_contact_only_signal", "", ContactStatus::kKnownContact, "", Direction::kInbound,
     Verdict::kAccept, "", "payment-request"},
    {"reply_to_elsewhere_is_tagged", "", ContactStatus::kKnownContact, "pay@other.example",
     Direction::kInbound, Verdict::kAccept, "[PAYMENT?]", "payment-request,reply-to-mismatch"},
    {"reply_to_subdomain_is_the_same_organization", "", ContactStatus::kKnownContact,
     "accounts@billing.vendor.example", Direction::kInbound, Verdict::kAccept, "",
     "payment-request"},
    {"reply_to_top_level_domain_is_no_organization", "", ContactStatus::kKnownContact, "x@example", Direction::kInbound,
     Verdict::kAccept, "[PAYMENT?]", "payment-request,reply-to-mismatch"},
    {"quarantine_action", "payment:\n  action: quarantine\n", ContactStatus::kFirstContact, "",
     Direction::kInbound, Verdict::kHold, "", "payment-request"},
    {"signal_action", "payment:\n  action: signal\n", ContactStatus::kFirstContact, "",
     Direction::kInbound, Verdict::kAccept, "", "payment-request"},
    {"own_tag", "payment:\n  subject_tag: \"[ZAHLUNG?]\"\n", ContactStatus::kFirstContact, "",
     Direction::kInbound, Verdict::kAccept, "[ZAHLUNG?]", "payment-request"},
    {"always", "payment:\n  apply_when: always\n", ContactStatus::kKnownContact, "",
     Direction::kInbound, Verdict::kAccept, "[PAYMENT?]", "payment-request"},
    {"not_outbound", "", ContactStatus::kFirstContact, "", Direction::kOutbound, Verdict::kAccept,
     "", ""},
    {"higher_threshold", "payment:\n  min_score: 5\n", ContactStatus::kFirstContact, "",
     Direction::kInbound, Verdict::kAccept, "", ""},
    {"own_phrases_replace_the_defaults",
     "payment:\n  phrases:\n    - {name: fee, weight: 2, words: [processing fee]}\n",
     ContactStatus::kFirstContact, "", Direction::kInbound, Verdict::kAccept, "", ""},
};

INSTANTIATE_TEST_SUITE_P(All, PaymentAction, ::testing::ValuesIn(kActionCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(PaymentFilterRules, RejectedRecipientsDoNotMakeAFirstContact) {
  PaymentFilter filter(loadConfig(""));
  mail::MessageView view = parse(textMessage("b@vendor.example", "Invoice", kUrgentInvoice));
  MessageRequest req;
  req.content = &view;
  Decision d;
  d.recipients = {recipient("bob@example.com", ContactStatus::kKnownContact),
                  recipient("eve@example.com", ContactStatus::kFirstContact)};
  d.recipients[1].verdict = Verdict::kReject;
  ASSERT_TRUE(filter.onMessage(req, d).ok());
  EXPECT_EQ(d.subject_tag, "");
  EXPECT_TRUE(hasCheck(d, "payment-request"));
}

TEST(PaymentFilterRules, IdentifierWeightZeroTurnsItOff) {
  auto on = loadConfig("payment:\n  min_score: 2\n");
  auto off = loadConfig("payment:\n  identifiers: {iban: 0}\n");
  mail::MessageView view =
      parse(textMessage("a@x.example", "hello", "IBAN GB82 WEST 1234 5698 7654 32"));
  EXPECT_EQ(PaymentFilter(on).examine(view).score, 2);
  EXPECT_EQ(PaymentFilter(off).examine(view).score, 0);
}

TEST(PaymentFilterRules, NoContentNoCheck) {
  PaymentFilter filter(loadConfig(""));
  MessageRequest req;  // a policyd request: no content
  Decision d;
  d.recipients = {recipient("bob@example.com", ContactStatus::kFirstContact)};
  ASSERT_TRUE(filter.onMessage(req, d).ok());
  EXPECT_TRUE(d.checks.empty());
}

TEST(PaymentFilterRules, TagIsAddedOnceAndKeepsOtherTags) {
  PaymentFilter filter(loadConfig(""));
  mail::MessageView view = parse(textMessage("b@vendor.example", "Invoice", kUrgentInvoice));
  MessageRequest req;
  req.content = &view;
  Decision d;
  d.subject_tag = "[EXTERNAL]";
  d.recipients = {recipient("bob@example.com", ContactStatus::kFirstContact)};
  ASSERT_TRUE(filter.onMessage(req, d).ok());
  ASSERT_TRUE(filter.onMessage(req, d).ok());
  EXPECT_EQ(d.subject_tag, "[EXTERNAL] [PAYMENT?]");
  EXPECT_EQ(d.checks.size(), 1u);
}

TEST(PaymentFilterRules, DisabledSectionIsNotInTheChain) {
  ::testing::NiceMock<testing::MockStore> store;
  testing::FixedClock clock(1'800'000'000);
  auto config = loadConfig(
      "payment:\n  enabled: false\nimpersonation:\n  enabled: false\n");
  DecisionEngine engine(config, store, clock);
  mail::MessageView view = parse(textMessage("b@vendor.example", "Invoice", kUrgentInvoice));
  MessageRequest req;
  req.content = &view;
  Decision so_far;
  so_far.recipients = {recipient("bob@elsewhere.example", ContactStatus::kFirstContact)};
  auto d = engine.onMessage(req, so_far);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->checks.empty());
}

}  // namespace
}  // namespace meshgate::policy
