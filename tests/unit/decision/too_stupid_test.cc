// "Mail too stupid to send": reply-all, missing attachment (per language, quotes and
// disclaimers ignored), secrets, card numbers, lookalike recipient domains against the sender's
// history in the store; actions; store failures are errors.
#include "gateway/policy/too_stupid_filter.h"

#include <gtest/gtest.h>

#include "gateway/policy/correspondents.h"
#include "gateway/policy/engine.h"
#include "tests/unit/decision/content_test_support.h"

namespace meshgate::policy {
namespace {

using namespace content_testing;
using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

class TooStupid : public ::testing::Test {
 protected:
  void SetUp() override {
    ON_CALL(store_, listEntries(_, _, _))
        .WillByDefault([this](std::string_view account, std::string_view catalog,
                              const EntryQuery& q) -> Result<Page<CatalogEntry>> {
          EXPECT_EQ(catalog, CorrespondentLog::kCatalog);
          ++list_calls_;
          Page<CatalogEntry> page;
          auto it = history_.find(std::string(account));
          if (it == history_.end()) return page;
          for (const auto& d : it->second) {
            if (static_cast<int>(page.items.size()) >= q.max_entries) break;
            page.items.push_back(CatalogEntry{std::string(account), std::string(catalog), d, "{}", 0, 0});
          }
          return page;
        });
    ON_CALL(store_, putEntry(_, _))
        .WillByDefault([this](const CatalogEntry& e, const std::optional<std::vector<ContactMatch>>& m)
                           -> Result<int64_t> {
          EXPECT_EQ(e.catalog, CorrespondentLog::kCatalog);
          EXPECT_FALSE(m.has_value());
          recorded_.push_back(e.account + ">" + e.key);
          history_[e.account].push_back(e.key);
          return int64_t{1};
        });
  }

  Result<Decision> run(const std::string& sections, const std::string& eml,
                       const std::vector<std::string>& to,
                       const std::string& sender = "alice@example.com",
                       Direction direction = Direction::kOutbound) {
    TooStupidFilter filter(loadConfig(sections), store_, clock_);
    mail::MessageView view = parse(eml);
    MessageRequest req;
    req.direction = direction;
    req.sender = sender;
    req.content = &view;
    Decision d;
    for (const auto& r : to) d.recipients.push_back(recipient(r));
    Status s = filter.onMessage(req, d);
    if (!s.ok()) return s;
    return d;
  }

  NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'000};
  std::map<std::string, std::vector<std::string>> history_ = {
      {"alice@example.com", {"partner.net", "bigcorp.example"}}};
  std::vector<std::string> recorded_;
  int list_calls_ = 0;
};

std::vector<std::string> externals(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("p" + std::to_string(i) + "@partner.net");
  return out;
}

// ---- reply-all

struct ReplyCase {
  const char* name;
  const char* headers;
  int external;
  int internal;
  bool fires;
};

void PrintTo(const ReplyCase& c, std::ostream* os) { *os << c.name; }

class ReplyAll : public TooStupid, public ::testing::WithParamInterface<ReplyCase> {};

TEST_P(ReplyAll, ManyExternalRecipientsOfAReply) {
  const ReplyCase& c = GetParam();
  std::vector<std::string> to = externals(c.external);
  for (int i = 0; i < c.internal; ++i) to.push_back("i" + std::to_string(i) + "@example.com");
  auto d = run("", std::string("From: alice@example.com\n") + c.headers + "\nok, thanks\n", to);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(hasCheck(*d, "reply-all"), c.fires) << checkNames(*d);
}

const ReplyCase kReplyCases[] = {
    {"in_reply_to", "Subject: budget\nIn-Reply-To: <a@b>\n", 11, 0, true},
    {"references", "Subject: budget\nReferences: <a@b> <c@d>\n", 11, 0, true},
    {"re_subject", "Subject: RE: budget\n", 11, 0, true},
    {"aw_subject", "Subject: Aw: Angebot\n", 11, 0, true},
    {"sv_subject", "Subject: SV: tilbud\n", 11, 0, true},
    {"at_the_limit", "Subject: Re: budget\n", 10, 5, false},
    {"internal_do_not_count", "Subject: Re: budget\n", 3, 40, false},
    {"not_a_reply", "Subject: Newsletter\n", 50, 0, false},
    {"re_inside_the_subject", "Subject: Pre: launch\n", 50, 0, false},
};

INSTANTIATE_TEST_SUITE_P(All, ReplyAll, ::testing::ValuesIn(kReplyCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST_F(TooStupid, ReplyAllLimitIsConfigurable) {
  auto d = run("too_stupid:\n  reply_all: {max_external_recipients: 2}\n",
               "From: alice@example.com\nSubject: Re: x\n\nok\n", externals(3));
  EXPECT_EQ(checkDetail(*d, "reply-all"), "3 external");
}

// ---- missing attachment

struct AttachmentCase {
  const char* name;
  std::string eml;
  const char* language;  // "" = the check must not fire
};

void PrintTo(const AttachmentCase& c, std::ostream* os) { *os << c.name; }

class MissingAttachment : public TooStupid,
                          public ::testing::WithParamInterface<AttachmentCase> {};

TEST_P(MissingAttachment, MentionedButNotAttached) {
  auto d = run("", GetParam().eml, {"bob@example.com"});
  ASSERT_TRUE(d.ok());
  std::string detail = checkDetail(*d, "missing-attachment");
  EXPECT_EQ(detail, *GetParam().language ? GetParam().language : "<none>");
}

std::string text(const std::string& subject, const std::string& body) {
  return "From: alice@example.com\nSubject: " + subject +
         "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body;
}

const AttachmentCase kAttachmentCases[] = {
    {"en", text("report", "Hi Bob,\nplease find attached the Q3 report.\nAlice\n"), "en"},
    {"de", text("Bericht", "Hallo Bob,\nanbei der Bericht.\nGruß\n"), "de"},
    {"fr_quoted_printable_latin1",
     "From: a@example.com\nSubject: rapport\nMIME-Version: 1.0\n"
     "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
     "Bonjour,\nveuillez trouver ci-joint le rapport trimestriel.\nCordialement\n",
     "fr"},
    {"es", text("informe", "Hola,\nte adjunto el informe.\n"), "es"},
    {"subject_only", text("Report attached", "see subject\n"), "en"},
    {"html_only",
     "From: a@example.com\nSubject: x\nContent-Type: text/html; charset=utf-8\n\n"
     "<p>Anbei die Unterlagen.</p>\n",
     "de"},
    {"attached_for_real",
     "From: a@example.com\nSubject: report\nMIME-Version: 1.0\n"
     "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
     "please find attached the report\n--b\nContent-Type: application/pdf\n"
     "Content-Disposition: attachment; filename=r.pdf\n\n%PDF-1.7\n--b--\n",
     ""},
    {"only_an_inline_logo",
     "From: a@example.com\nSubject: report\nMIME-Version: 1.0\n"
     "Content-Type: multipart/related; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
     "see attached\n--b\nContent-Type: image/png\nContent-Disposition: inline; filename=image001.png\n"
     "Content-ID: <logo>\n\nPNG\n--b--\n",
     "en"},
    {"quoted_only", text("Re: report", "Thanks, got it.\n\n> please find attached the report\n"),
     ""},
    {"inline_reply_keeps_new_text",
     text("Re: report", "> did you get it?\nyes, and I attached my comments now\n"), "en"},
    {"outlook_original_message",
     text("RE: report", "Thanks!\n\n-----Original Message-----\nFrom: Bob\n"
                        "please find attached the report\n"),
     ""},
    {"outlook_from_sent_block",
     text("AW: Bericht", "Danke!\n\nVon: Bob <bob@partner.net>\nGesendet: Montag, 1. Juni\n"
                         "An: Alice\nBetreff: Bericht\n\nanbei der Bericht\n"),
     ""},
    {"gmail_forward", text("Fwd: x", "fyi\n\n---------- Forwarded message ---------\n"
                                     "see attached\n"),
     ""},
    {"signature", text("hello", "See you.\n-- \nAlice\nAttachments are scanned.\n"), ""},
    {"disclaimer",
     text("hello", "See you at 10.\n\nThis email and any attachments are confidential and "
                   "intended solely for the addressee.\n"),
     ""},
    {"german_disclaimer",
     text("Hallo", "Bis morgen.\n\nDiese E-Mail und ihre Anhänge sind vertraulich. Falls Sie "
                   "nicht der richtige Adressat sind, ...\n"),
     ""},
    {"word_inside_a_word", text("hello", "The house is unattached and detached.\n"), ""},
    {"forwarded_message_part",
     "From: a@example.com\nSubject: fyi\nMIME-Version: 1.0\n"
     "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nbelow\n"
     "--b\nContent-Type: message/rfc822\n\nFrom: x@y.example\nSubject: r\n\nsee attached\n--b--\n",
     ""},
};

INSTANTIATE_TEST_SUITE_P(All, MissingAttachment, ::testing::ValuesIn(kAttachmentCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST_F(TooStupid, AttachmentWordsAreConfigurablePerLanguage) {
  const std::string sections =
      "too_stupid:\n  missing_attachment:\n    words:\n      nl: [bijgevoegd, \"bijlage*\"]\n";
  EXPECT_EQ(checkDetail(*run(sections, text("x", "zie bijlagen"), {"b@example.com"}),
                        "missing-attachment"),
            "nl");
  // Giving words replaces the defaults.
  EXPECT_FALSE(hasCheck(*run(sections, text("x", "see attached"), {"b@example.com"}),
                        "missing-attachment"));
}

// ---- secrets

struct SecretCase {
  const char* name;
  const char* sections;
  std::string eml;
  const char* kind;  // "" = none
};

void PrintTo(const SecretCase& c, std::ostream* os) { *os << c.name; }

class Secrets : public TooStupid, public ::testing::WithParamInterface<SecretCase> {};

TEST_P(Secrets, InTextOrAsKeyFiles) {
  auto d = run(GetParam().sections, GetParam().eml, {"bob@example.com"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(checkDetail(*d, "secret"), *GetParam().kind ? GetParam().kind : "<none>");
}

std::string withAttachment(const std::string& filename, const std::string& content) {
  return "From: a@example.com\nSubject: x\nMIME-Version: 1.0\n"
         "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhere\n"
         "--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=" +
         filename + "\n\n" + content + "\n--b--\n";
}

const SecretCase kSecretCases[] = {
    {"pem", "", text("key", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"),
     "private-key"},
    {"password", "", text("access", "server: db1\npassword: Tr0ub4dor&3\n"), "password"},
    {"aws_in_html", "",
     "From: a@example.com\nSubject: x\nContent-Type: text/html\n\n<p>key <b>AKIAIOSFODNN7EXAMPLE</b></p>\n",
     "aws-access-key"},
    {"token_in_subject", "", text("ghp_0123456789abcdefghijABCDEFGHIJ012345", "hi"), "github-token"},
    {"id_rsa", "", withAttachment("id_rsa", "-----"), "key-file"},
    {"p12", "", withAttachment("alice.p12", "0\x82"), "key-file"},
    {"keynote_is_not_a_key", "", withAttachment("talk.key", "PK\x03\x04rest"), ""},
    {"nothing", "", text("hello", "password policy: change it every year, use 12 characters\n"),
     ""},
    {"passwords_off", "too_stupid:\n  secrets: {password_lines: false}\n",
     text("access", "password: Tr0ub4dor&3\n"), ""},
    {"key_files_off", "too_stupid:\n  secrets: {key_files: false}\n", withAttachment("id_rsa", "-"),
     ""},
    {"disabled", "too_stupid:\n  secrets: {enabled: false}\n",
     text("k", "-----BEGIN RSA PRIVATE KEY-----\n"), ""},
};

INSTANTIATE_TEST_SUITE_P(All, Secrets, ::testing::ValuesIn(kSecretCases),
                         [](const auto& p) { return std::string(p.param.name); });

// ---- card numbers

TEST_F(TooStupid, CardNumbersOnlyMatterGoingOutside) {
  std::string eml = text("order", "Card: 4111 1111 1111 1111, exp 12/27\n");
  EXPECT_TRUE(hasCheck(*run("", eml, {"bob@example.com", "x@partner.net"}), "card-number"));
  EXPECT_FALSE(hasCheck(*run("", eml, {"bob@example.com"}), "card-number"));
  EXPECT_FALSE(hasCheck(*run("", text("order", "Order 4111111111111111 shipped\n"),
                             {"x@partner.net"}),
                        "card-number"));
  auto d = run("", eml, {"x@partner.net"});
  EXPECT_EQ(checkDetail(*d, "card-number"), "");  // never the number itself
}

// ---- lookalike recipients

struct LookalikeCase {
  const char* name;
  std::vector<std::string> to;
  const char* detail;                   // of lookalike-recipient, "<none>" if none
  std::vector<std::string> recorded;    // domains written to the history
};

void PrintTo(const LookalikeCase& c, std::ostream* os) { *os << c.name; }

class LookalikeRecipients : public TooStupid,
                            public ::testing::WithParamInterface<LookalikeCase> {};

TEST_P(LookalikeRecipients, AgainstTheSendersHistoryAndOurDomains) {
  auto d = run("", text("hi", "hello"), GetParam().to);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(checkDetail(*d, "lookalike-recipient"), GetParam().detail);
  std::vector<std::string> expected;
  for (const auto& r : GetParam().recorded) expected.push_back("alice@example.com>" + r);
  EXPECT_EQ(recorded_, expected);
}

const LookalikeCase kLookalikeCases[] = {
    {"typo_of_a_correspondent", {"x@partnr.net"}, "partnr.net~partner.net", {}},
    {"confusable_of_a_correspondent", {"x@bigc0rp.example"}, "bigc0rp.example~bigcorp.example", {}},
    {"known_correspondent", {"x@partner.net"}, "<none>", {}},
    {"new_unrelated_domain_is_remembered", {"x@newco.example", "y@newco.example"}, "<none>",
     {"newco.example"}},
    {"our_own_domain_imitated", {"x@examp1e.com"}, "examp1e.com~example.com", {}},
    {"internal_recipients_only", {"bob@example.com", "carol@sub.example.com"}, "<none>", {}},
    // The message left (signal only): the unflagged new domain is learnt, the flagged one not.
    {"one_flagged_one_new", {"x@partnr.net", "y@newco.example"}, "partnr.net~partner.net",
     {"newco.example"}},
};

INSTANTIATE_TEST_SUITE_P(All, LookalikeRecipients, ::testing::ValuesIn(kLookalikeCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST_F(TooStupid, TheSecondMessageToANewDomainIsKnown) {
  ASSERT_TRUE(run("", text("hi", "hello"), {"x@newco.example"}).ok());
  ASSERT_TRUE(run("", text("hi", "hello"), {"x@newco.example"}).ok());
  EXPECT_EQ(recorded_, std::vector<std::string>{"alice@example.com>newco.example"});
  // And a typo of it is now caught.
  EXPECT_EQ(checkDetail(*run("", text("hi", "hello"), {"x@newc0.example"}), "lookalike-recipient"),
            "newc0.example~newco.example");
}

TEST_F(TooStupid, NoStoreAccessWithoutExternalRecipientsOrSender) {
  EXPECT_CALL(store_, listEntries(_, _, _)).Times(0);
  EXPECT_CALL(store_, putEntry(_, _)).Times(0);
  ASSERT_TRUE(run("", text("hi", "x"), {"bob@example.com"}).ok());
  ASSERT_TRUE(run("", text("hi", "x"), {"x@partner.net"}, "").ok());  // bounce
  ASSERT_TRUE(run("too_stupid:\n  lookalike_recipient: {enabled: false}\n", text("hi", "x"),
                  {"x@partner.net"})
                  .ok());
  ASSERT_TRUE(run("", text("hi", "x"), {"x@partner.net"}, "alice@example.com", Direction::kInbound)
                  .ok());
}

TEST_F(TooStupid, StoreFailuresAreErrors) {
  EXPECT_CALL(store_, listEntries(_, _, _))
      .WillOnce(Return(Result<Page<CatalogEntry>>(unavailable("db down"))));
  auto r = run("", text("hi", "x"), {"x@partner.net"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);

  EXPECT_CALL(store_, listEntries(_, _, _))
      .WillOnce(Return(Result<Page<CatalogEntry>>(Page<CatalogEntry>{})));
  EXPECT_CALL(store_, putEntry(_, _)).WillOnce(Return(Result<int64_t>(unavailable("locked"))));
  auto w = run("", text("hi", "x"), {"x@newco.example"});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kUnavailable);
}

TEST_F(TooStupid, StoreFailureThroughTheEngineIsNeverAnAccept) {
  EXPECT_CALL(store_, listEntries(_, _, _))
      .WillRepeatedly(Return(Result<Page<CatalogEntry>>(unavailable("db down"))));
  DecisionEngine engine(loadConfig(""), store_, clock_);
  mail::MessageView view = parse(text("hi", "x"));
  MessageRequest req;
  req.client.auth_user = "alice";
  req.direction = Direction::kOutbound;
  req.sender = "alice@example.com";
  req.recipients = {"x@partner.net"};
  req.content = &view;
  Decision so_far;
  so_far.recipients = {recipient("x@partner.net")};
  auto d = engine.onMessage(req, so_far);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("too-stupid"), std::string::npos) << d.status().message();
}

TEST_F(TooStupid, HeldMailDoesNotTeachTheHistory) {
  auto d = run("too_stupid:\n  secrets: {action: quarantine}\n",
               text("x", "password: Tr0ub4dor&3\n"), {"x@newco.example"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kHold);
  EXPECT_TRUE(recorded_.empty());
}

TEST_F(TooStupid, ActionsTellTheSenderWhatToFix) {
  auto rejected = run("too_stupid:\n  missing_attachment: {action: reject}\n",
                      text("report", "please find attached the report"), {"bob@example.com"});
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->verdict, Verdict::kReject);
  EXPECT_EQ(rejected->rule, "too-stupid.missing-attachment");
  EXPECT_EQ(rejected->reply.code, "550");
  EXPECT_EQ(rejected->reply.enhanced, "5.7.1");
  EXPECT_EQ(rejected->reply.text,
            "your message mentions an attachment but has none; attach the file and send again");
  auto held = run("too_stupid:\n  card_numbers: {action: quarantine}\n",
                  text("card", "4111 1111 1111 1111"), {"x@partner.net"});
  EXPECT_EQ(held->verdict, Verdict::kHold);
  EXPECT_EQ(held->rule, "too-stupid.card-number");
  EXPECT_EQ(held->hold_reason, "card-number");
  auto signalled = run("", text("card", "4111 1111 1111 1111"), {"x@partner.net"});
  EXPECT_EQ(signalled->verdict, Verdict::kAccept);
  EXPECT_TRUE(hasCheck(*signalled, "card-number"));
}

TEST_F(TooStupid, InboundAndDisabledDoNothing) {
  const std::string eml = text("Re: x", "see attached\npassword: Tr0ub4dor&3\n");
  auto inbound = run("", eml, externals(20), "x@partner.net", Direction::kInbound);
  EXPECT_TRUE(inbound->checks.empty());
  NiceMock<testing::MockStore> store;
  DecisionEngine engine(loadConfig("too_stupid:\n  enabled: false\n"), store, clock_);
  mail::MessageView view = parse(eml);
  MessageRequest req;
  req.direction = Direction::kOutbound;
  req.sender = "alice@example.com";
  req.content = &view;
  Decision so_far;
  so_far.recipients = {recipient("bob@example.com")};
  auto d = engine.onMessage(req, so_far);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->checks.empty());
}

}  // namespace
}  // namespace meshgate::policy
