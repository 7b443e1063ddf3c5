// Impersonation checks on inbound mail: display names equal to an account's or a protected
// name, lookalike sender domains; actions; the account-name cache and store failures.
#include "gateway/policy/impersonation_filter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "gateway/policy/engine.h"
#include "tests/unit/decision/content_test_support.h"

namespace meshgate::policy {
namespace {

using namespace content_testing;
using ::testing::NiceMock;
using ::testing::Return;

std::vector<AccountRecord> accounts() {
  std::vector<AccountRecord> a(3);
  a[0].address = "alice@example.com";
  a[0].display_name = "Alice Example";
  a[1].address = "bob@example.com";
  a[1].display_name = "Doe, John";
  a[2].address = "carol@example.com";  // no display name
  return a;
}

class ImpersonationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ON_CALL(store_, listAccounts()).WillByDefault([this]() -> Result<std::vector<AccountRecord>> {
      ++list_calls_;
      return accounts();
    });
  }
  Decision run(const std::string& sections, const std::string& from, const std::string& sender,
               Direction direction = Direction::kInbound) {
    ImpersonationFilter filter(loadConfig(sections), store_, clock_);
    mail::MessageView view = parse(textMessage(from, "hello", "Hi Bob, see you."));
    MessageRequest req;
    req.direction = direction;
    req.sender = sender;
    req.content = &view;
    Decision d;
    EXPECT_TRUE(filter.onSender(req, d).ok());
    Status s = filter.onMessage(req, d);
    EXPECT_TRUE(s.ok()) << s.toString();
    return d;
  }

  NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'000};
  int list_calls_ = 0;
};

struct NameCase {
  const char* name;
  const char* from;
  const char* detail;  // of display-name-impersonation, "<none>" if the check must not fire
};

void PrintTo(const NameCase& c, std::ostream* os) { *os << c.name; }

class DisplayNames : public ImpersonationTest, public ::testing::WithParamInterface<NameCase> {};

TEST_P(DisplayNames, MatchInternalAndProtectedNamesFromOutside) {
  Decision d = run("impersonation:\n  protected_names: [\"PayPal Security\"]\n", GetParam().from,
                   "x@outside.example");
  EXPECT_EQ(checkDetail(d, "display-name-impersonation"), GetParam().detail);
}

const NameCase kNameCases[] = {
    {"same_name", "Alice Example <alice.example@gmail.com>", "alice@example.com"},
    {"case_and_spacing", "\"ALICE   example\" <x@gmail.com>", "alice@example.com"},
    {"last_first_in_the_directory", "John Doe <jd@evil.example>", "bob@example.com"},
    {"last_first_in_the_mail", "\"Doe, John\" <jd@evil.example>", "bob@example.com"},
    {"digit_zero_for_o", "J0hn D0e <jd@evil.example>", "bob@example.com"},
    {"cyrillic_a", "\xD0\x90lice Example <x@evil.example>", "alice@example.com"},
    {"encoded_word", "=?utf-8?b?QWxpY2UgRXhhbXBsZQ==?= <x@evil.example>", "alice@example.com"},
    {"decoration_in_parentheses", "\"Alice Example (CEO)\" <x@evil.example>", "alice@example.com"},
    {"address_in_the_name", "\"alice@example.com\" <x@evil.example>", "address-in-name"},
    {"name_with_our_address", "\"Alice Example alice@example.com\" <x@evil.example>",
     "address-in-name"},
    {"protected_name", "Paypal  SECURITY <service@evil.example>", "name:PayPal Security"},
    // Not impersonation.
    {"from_our_own_domain", "Alice Example <alice@example.com>", "<none>"},
    {"from_our_subdomain", "Alice Example <alice@lists.example.com>", "<none>"},
    {"a_longer_name", "Alice Examples <x@gmail.com>", "<none>"},
    {"first_name_only", "Alice <x@gmail.com>", "<none>"},
    {"account_without_a_name", "carol@example.com <x@gmail.com>", "address-in-name"},
    // What the reader sees first is our address; that the name goes on does not make it safe.
    {"our_address_as_a_prefix", "\"alice@example.com.evil.example\" <x@evil.example>",
     "address-in-name"},
    {"a_similar_address_in_the_name", "\"alice@example.community\" <x@evil.example>", "<none>"},
    {"our_subdomain_in_the_name", "\"ceo@hr.example.com\" <k@evil.example>", "address-in-name"},
    {"no_display_name", "x@gmail.com", "<none>"},
    {"punctuation_only", "\"...\" <x@gmail.com>", "<none>"},
};

INSTANTIATE_TEST_SUITE_P(All, DisplayNames, ::testing::ValuesIn(kNameCases),
                         [](const auto& p) { return std::string(p.param.name); });

struct DomainCase {
  const char* name;
  const char* from;
  const char* sender;
  const char* detail;  // of lookalike-domain
};

void PrintTo(const DomainCase& c, std::ostream* os) { *os << c.name; }

class LookalikeDomains : public ImpersonationTest,
                         public ::testing::WithParamInterface<DomainCase> {};

TEST_P(LookalikeDomains, FlagDomainsThatLookLikeOursButAreNot) {
  Decision d = run("impersonation:\n  protected_domains: [example-bank.com]\n", GetParam().from,
                   GetParam().sender);
  EXPECT_EQ(checkDetail(d, "lookalike-domain"), GetParam().detail);
}

const DomainCase kDomainCases[] = {
    {"from_digit_one", "x@examp1e.com", "x@partner.net", "examp1e.com~example.com"},
    {"envelope_rn_for_m", "x@partner.net", "x@exarnple.com", "exarnple.com~example.com"},
    {"transposition", "x@exampel.com", "", "exampel.com~example.com"},
    {"idn_cyrillic_a", "x@xn--exmple-4nf.com", "", "xn--exmple-4nf.com~example.com"},
    {"embedded", "x@example.com.evil.example", "", "example.com.evil.example~example.com"},
    {"protected_list", "x@examp1e-bank.com", "", "examp1e-bank.com~example-bank.com"},
    {"ours", "x@example.com", "x@example.com", "<none>"},
    {"our_subdomain", "x@mail.example.com", "x@bounce.example-bank.com", "<none>"},
    {"unrelated", "x@partner.net", "x@partner.net", "<none>"},
    {"short_unrelated", "x@exa.com", "", "<none>"},
};

INSTANTIATE_TEST_SUITE_P(All, LookalikeDomains, ::testing::ValuesIn(kDomainCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST_F(ImpersonationTest, EditDistanceIsConfigurable) {
  EXPECT_TRUE(hasCheck(run("", "x@exampel.com", ""), "lookalike-domain"));
  EXPECT_FALSE(hasCheck(run("impersonation:\n  max_edit_distance: 0\n", "x@exampel.com", ""),
                        "lookalike-domain"));
  // Confusables need no edit at all.
  EXPECT_TRUE(hasCheck(run("impersonation:\n  max_edit_distance: 0\n", "x@examp1e.com", ""),
                       "lookalike-domain"));
}

TEST_F(ImpersonationTest, OutboundMailIsNotChecked) {
  EXPECT_CALL(store_, listAccounts()).Times(0);
  Decision d = run("", "Alice Example <x@gmail.com>", "x@examp1e.com", Direction::kOutbound);
  EXPECT_TRUE(d.checks.empty());
}

TEST_F(ImpersonationTest, NoStoreAccessWithoutADisplayNameOrFromInside) {
  EXPECT_CALL(store_, listAccounts()).Times(0);
  run("", "x@gmail.com", "x@gmail.com");
  run("", "Alice Example <alice@example.com>", "alice@example.com");
  run("impersonation:\n  display_name: {enabled: false}\n", "Alice Example <x@gmail.com>", "");
}

struct ImpActionCase {
  const char* name;
  const char* yaml;
  const char* from;
  const char* sender;
  Verdict at_mail;  // verdict after onSender
  Verdict verdict;  // after onMessage
  const char* subject_tag;
  const char* rule;
};

void PrintTo(const ImpActionCase& c, std::ostream* os) { *os << c.name; }

class ImpersonationActions : public ImpersonationTest,
                             public ::testing::WithParamInterface<ImpActionCase> {};

TEST_P(ImpersonationActions, ApplyTheConfiguredAction) {
  const ImpActionCase& c = GetParam();
  ImpersonationFilter filter(loadConfig(c.yaml), store_, clock_);
  mail::MessageView view = parse(textMessage(c.from, "hello", "hi"));
  MessageRequest req;
  req.sender = c.sender;
  req.content = &view;
  Decision d;
  ASSERT_TRUE(filter.onSender(req, d).ok());
  EXPECT_EQ(d.verdict, c.at_mail);
  ASSERT_TRUE(filter.onMessage(req, d).ok());
  EXPECT_EQ(d.verdict, c.verdict);
  EXPECT_EQ(d.subject_tag, c.subject_tag);
  EXPECT_EQ(d.rule, c.rule);
  if (d.verdict == Verdict::kReject) {
    EXPECT_EQ(d.reply.code, "550");
    EXPECT_EQ(d.reply.enhanced, "5.7.1");
    EXPECT_NE(d.reply.text.find("imitates"), std::string::npos) << d.reply.text;
  }
  if (d.verdict == Verdict::kHold) {
    EXPECT_FALSE(d.hold_reason.empty());
  }
}

const ImpActionCase kImpActionCases[] = {
    {"lookalike_reject_at_mail_from", "impersonation:\n  lookalike_domain: {action: reject}\n",
     "x@partner.net", "x@examp1e.com", Verdict::kReject, Verdict::kReject, "",
     "impersonation.lookalike-domain"},
    {"lookalike_reject_from_header_at_eom",
     "impersonation:\n  lookalike_domain: {action: reject}\n", "x@examp1e.com", "x@partner.net",
     Verdict::kAccept, Verdict::kReject, "", "impersonation.lookalike-domain"},
    {"lookalike_tag", "impersonation:\n  lookalike_domain: {action: tag}\n", "x@partner.net",
     "x@examp1e.com", Verdict::kAccept, Verdict::kAccept, "[LOOKALIKE?]", ""},
    {"lookalike_quarantine", "impersonation:\n  lookalike_domain: {action: quarantine}\n",
     "x@partner.net", "x@examp1e.com", Verdict::kAccept, Verdict::kHold, "",
     "impersonation.lookalike-domain"},
    {"lookalike_signal", "", "x@partner.net", "x@examp1e.com", Verdict::kAccept, Verdict::kAccept,
     "", ""},
    {"name_reject", "impersonation:\n  display_name: {action: reject}\n",
     "Alice Example <x@gmail.com>", "x@gmail.com", Verdict::kAccept, Verdict::kReject, "",
     "impersonation.display-name"},
    {"name_tag", "impersonation:\n  display_name: {action: tag, subject_tag: \"[EXT]\"}\n",
     "Alice Example <x@gmail.com>", "x@gmail.com", Verdict::kAccept, Verdict::kAccept, "[EXT]",
     ""},
    {"name_quarantine", "impersonation:\n  display_name: {action: quarantine}\n",
     "Alice Example <x@gmail.com>", "x@gmail.com", Verdict::kAccept, Verdict::kHold, "",
     "impersonation.display-name"},
    {"both_tags",
     "impersonation:\n  display_name: {action: tag}\n  lookalike_domain: {action: tag}\n",
     "Alice Example <x@examp1e.com>", "x@examp1e.com", Verdict::kAccept, Verdict::kAccept,
     "[LOOKALIKE?] [IMPERSONATION?]", ""},
    {"disabled", "impersonation:\n  lookalike_domain: {enabled: false, action: reject}\n",
     "x@examp1e.com", "x@examp1e.com", Verdict::kAccept, Verdict::kAccept, "", ""},
};

INSTANTIATE_TEST_SUITE_P(All, ImpersonationActions, ::testing::ValuesIn(kImpActionCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST_F(ImpersonationTest, RejectAtMailFromStopsTheEngineBeforeData) {
  DecisionEngine engine(loadConfig("impersonation:\n  lookalike_domain: {action: reject}\n"),
                        store_, clock_);
  MessageRequest req;
  req.sender = "ceo@examp1e.com";
  auto d = engine.onSender(req);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kReject);
  EXPECT_EQ(checkDetail(*d, "lookalike-domain"), "examp1e.com~example.com");
}

TEST_F(ImpersonationTest, StoreFailureIsAnErrorNotAnAccept) {
  EXPECT_CALL(store_, listAccounts())
      .WillRepeatedly(Return(Result<std::vector<AccountRecord>>(unavailable("db down"))));
  DecisionEngine engine(loadConfig(""), store_, clock_);
  mail::MessageView view = parse(textMessage("Alice Example <x@gmail.com>", "hi", "hi"));
  MessageRequest req;
  req.sender = "x@gmail.com";
  req.content = &view;
  auto d = engine.onMessage(req, Decision{});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(d.status().message().find("account names"), std::string::npos);
}

TEST_F(ImpersonationTest, AccountNamesAreCachedForTheTtl) {
  ImpersonationFilter filter(loadConfig("impersonation:\n  account_cache_ttl: 60s\n"), store_,
                             clock_);
  mail::MessageView view = parse(textMessage("Alice Example <x@gmail.com>", "hi", "hi"));
  MessageRequest req;
  req.content = &view;
  for (int i = 0; i < 3; ++i) {
    Decision d;
    ASSERT_TRUE(filter.onMessage(req, d).ok());
    EXPECT_TRUE(hasCheck(d, "display-name-impersonation"));
  }
  EXPECT_EQ(list_calls_, 1);
  clock_.set(1'800'000'059);
  Decision d1;
  ASSERT_TRUE(filter.onMessage(req, d1).ok());
  EXPECT_EQ(list_calls_, 1);
  clock_.set(1'800'000'060);
  Decision d2;
  ASSERT_TRUE(filter.onMessage(req, d2).ok());
  EXPECT_EQ(list_calls_, 2);
  // A failed refresh is an error, not "no such name" from a stale list.
  clock_.set(1'800'000'200);
  EXPECT_CALL(store_, listAccounts())
      .WillOnce(Return(Result<std::vector<AccountRecord>>(unavailable("db down"))));
  Decision d3;
  EXPECT_FALSE(filter.onMessage(req, d3).ok());
}

TEST_F(ImpersonationTest, ANewAccountNameIsSeenAfterTheTtl) {
  AccountNameIndex index(store_, clock_, std::chrono::seconds(10));
  EXPECT_EQ(*index.accountFor(mail::displayNameKey("Dave New")), "");
  ON_CALL(store_, listAccounts()).WillByDefault([]() -> Result<std::vector<AccountRecord>> {
    auto a = accounts();
    a.push_back(AccountRecord{"dave@example.com", "", "Dave New", "", "", 0, 0});
    return a;
  });
  EXPECT_EQ(*index.accountFor(mail::displayNameKey("Dave New")), "");
  clock_.set(1'800'000'010);
  EXPECT_EQ(*index.accountFor(mail::displayNameKey("dave  new")), "dave@example.com");
}

TEST_F(ImpersonationTest, ConcurrentLookupsShareOneSnapshot) {
  AccountNameIndex index(store_, clock_, std::chrono::seconds(1));
  std::atomic<int> found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto r = index.accountFor(mail::displayNameKey("Alice Example"));
        if (r.ok() && *r == "alice@example.com") ++found;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(found.load(), 800);
  EXPECT_GE(list_calls_, 1);
  EXPECT_LE(list_calls_, 4);  // at most one per thread that found no snapshot at all
}

}  // namespace
}  // namespace meshgate::policy
