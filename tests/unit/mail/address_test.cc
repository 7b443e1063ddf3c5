// Envelope addresses, IDN domains and RFC 5322 mailbox lists: table-driven, each row a case
// that a milter meets (or that an attacker writes).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/mail/address.h"

namespace meshgate::mail {
namespace {

struct EnvelopeCase {
  std::string input;
  bool ok;
  std::string local;           // expected local part (unquoted)
  std::string domain;          // expected A-label domain
  std::string domain_unicode;  // expected U-label domain
};

void PrintTo(const EnvelopeCase& c, std::ostream* os) { *os << c.input; }

class EnvelopeTest : public ::testing::TestWithParam<EnvelopeCase> {};

TEST_P(EnvelopeTest, Parses) {
  const EnvelopeCase& c = GetParam();
  Result<Address> a = parseEnvelopeAddress(c.input);
  ASSERT_EQ(a.ok(), c.ok) << c.input << ": " << a.status().toString();
  if (!c.ok) return;
  EXPECT_EQ(a->localPart(), c.local) << c.input;
  EXPECT_EQ(a->domain(), c.domain) << c.input;
  EXPECT_EQ(a->domainUnicode(), c.domain_unicode) << c.input;
}

INSTANTIATE_TEST_SUITE_P(
    Envelope, EnvelopeTest,
    ::testing::Values(
        EnvelopeCase{"<alice@example.com>", true, "alice", "example.com", "example.com"},
        EnvelopeCase{"alice@example.com", true, "alice", "example.com", "example.com"},
        EnvelopeCase{"  <Alice@EXAMPLE.Com>  ", true, "Alice", "example.com", "example.com"},
        EnvelopeCase{"<>", true, "", "", ""}, EnvelopeCase{"", true, "", "", ""},
        EnvelopeCase{"<\"john doe\"@example.com>", true, "john doe", "example.com", "example.com"},
        EnvelopeCase{"<\"a\\\"b\"@example.com>", true, "a\"b", "example.com", "example.com"},
        EnvelopeCase{"<@relay.example,@other.example:bob@example.org>", true, "bob", "example.org",
                     "example.org"},
        EnvelopeCase{"<user@Bücher.Example>", true, "user", "xn--bcher-kva.example",
                     "bücher.example"},
        EnvelopeCase{"<user@xn--bcher-kva.example>", true, "user", "xn--bcher-kva.example",
                     "bücher.example"},
        EnvelopeCase{"<user@XN--BCHER-KVA.example>", true, "user", "xn--bcher-kva.example",
                     "bücher.example"},
        EnvelopeCase{"<δοκιμή@παράδειγμα.δοκιμή>", true, "δοκιμή",
                     "xn--hxajbheg2az3al.xn--jxalpdlp", "παράδειγμα.δοκιμή"},
        EnvelopeCase{"<user@example.com.>", true, "user", "example.com", "example.com"},
        EnvelopeCase{"<user@[192.0.2.1]>", true, "user", "[192.0.2.1]", "[192.0.2.1]"},
        EnvelopeCase{"<user@[IPv6:2001:DB8::1]>", true, "user", "[ipv6:2001:db8::1]",
                     "[ipv6:2001:db8::1]"},
        EnvelopeCase{"<Postmaster>", true, "Postmaster", "", ""},
        EnvelopeCase{"<srs0=abc=de=example.org=user@fwd.example>", true,
                     "srs0=abc=de=example.org=user", "fwd.example", "fwd.example"},
        EnvelopeCase{"<john..doe@example.com>", true, "john..doe", "example.com", "example.com"},
        // Refused.
        EnvelopeCase{"<alice@example.com", false, "", "", ""},
        EnvelopeCase{"alice@example.com>", false, "", "", ""},
        EnvelopeCase{"<alice>", false, "", "", ""}, EnvelopeCase{"<alice@>", false, "", "", ""},
        EnvelopeCase{"<@example.com>", false, "", "", ""},
        EnvelopeCase{"<a b@example.com>", false, "", "", ""},
        EnvelopeCase{"<alice@exa mple.com>", false, "", "", ""},
        EnvelopeCase{"<alice@exa_mple.com>", false, "", "", ""},
        EnvelopeCase{"<alice@-example.com>", false, "", "", ""},
        EnvelopeCase{"<alice@example..com>", false, "", "", ""},
        EnvelopeCase{"<alice@xn--a.com>", false, "", "", ""},  // bad punycode
        EnvelopeCase{"<alice@xn--.com>", false, "", "", ""},
        EnvelopeCase{"<alice@a\u200db.com>", false, "", "", ""},  // ZWJ fails ContextJ
        EnvelopeCase{std::string("<al\0ice@example.com>", 20), false, "", "", ""},
        EnvelopeCase{"<alice@" + std::string(64, 'a') + ".com>", false, "", "", ""},
        EnvelopeCase{"<alice@" + std::string(250, 'a') + "." + "com>", false, "", "", ""},
        EnvelopeCase{"<\"unterminated@example.com>", false, "", "", ""},
        EnvelopeCase{"<\xff\xfe@example.com>", false, "", "", ""}));

TEST(Address, EqualityLowercasesTheDomainOnly) {
  Result<Address> a = parseEnvelopeAddress("<Alice@Example.COM>");
  Result<Address> b = parseEnvelopeAddress("Alice@example.com");
  Result<Address> c = parseEnvelopeAddress("alice@example.com");
  Result<Address> d = parseEnvelopeAddress("<\"Alice\"@example.com>");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(*a == *c);
  EXPECT_EQ(*a, *d);  // "Alice" quoted or not is the same local part
  EXPECT_EQ(Address(), *parseEnvelopeAddress("<>"));
  EXPECT_TRUE(parseEnvelopeAddress("<>")->isNull());
}

TEST(Address, IdnFormsAreTheSameAddress) {
  Result<Address> u = parseEnvelopeAddress("user@bücher.example");
  Result<Address> a = parseEnvelopeAddress("user@xn--bcher-kva.example");
  ASSERT_TRUE(u.ok() && a.ok());
  EXPECT_EQ(*u, *a);
  EXPECT_EQ(u->toString(), "user@xn--bcher-kva.example");
  EXPECT_EQ(u->toUnicodeString(), "user@bücher.example");
}

TEST(Address, ToStringQuotesWhenNeeded) {
  EXPECT_EQ(parseEnvelopeAddress("<\"john doe\"@example.com>")->toString(),
            "\"john doe\"@example.com");
  EXPECT_EQ(parseEnvelopeAddress("<\"a\\\"b\"@example.com>")->toString(), "\"a\\\"b\"@example.com");
  EXPECT_EQ(parseEnvelopeAddress("<a.b+c@example.com>")->toString(), "a.b+c@example.com");
  EXPECT_EQ(parseEnvelopeAddress("<john..doe@example.com>")->toString(),
            "\"john..doe\"@example.com");
  EXPECT_EQ(Address().toString(), "");
}

TEST(Address, NonTransitionalIdna) {
  // IDNA2008: "ß" is kept, not mapped to "ss" (which would be a different domain).
  Result<Domain> d = normalizeDomain("faß.de");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ascii, "xn--fa-hia.de");
  EXPECT_EQ(d->unicode, "faß.de");
  // Full-width dot and upper-case letters are mapped by UTS #46.
  d = normalizeDomain("ＥＸＡＭＰＬＥ。com");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ascii, "example.com");
}

TEST(Address, CanonicalEnvelopeFormIsTheOnePostfixDeliversTo) {
  // Each is bob@example.com's mail to Postfix; policy must see the same address.
  for (const char* form :
       {"<bob@example.com>", "bob@example.com", "<bob@Example.COM.>", "<\"bob\"@example.com>",
        "<@relay.example,@b.example:bob@example.com>", " <bob@example.com.> "}) {
    EXPECT_EQ(canonicalEnvelopeAddress(form), "bob@example.com") << form;
  }
  EXPECT_EQ(canonicalEnvelopeAddress("<Bob@B\xc3\xbc"
                                     "cher.example>"),
            "Bob@xn--bcher-kva.example");
  EXPECT_EQ(canonicalEnvelopeAddress("<>"), "");
  EXPECT_EQ(canonicalEnvelopeAddress("<postmaster>"), "postmaster");
  // What does not parse is still judged: brackets off, domain lower-cased, no trailing dot.
  EXPECT_EQ(canonicalEnvelopeAddress("<bob@EXAMPLE..com.>"), "bob@example..com");
}

TEST(Address, DomainOf) {
  EXPECT_EQ(domainOf("<a@B.Example>"), "b.example");
  EXPECT_EQ(domainOf("a@bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(domainOf("John <j@Example.org>"), "example.org");
  EXPECT_EQ(domainOf("<>"), "");
  EXPECT_EQ(domainOf("nodomain"), "");
  EXPECT_EQ(domainOf("a@bad_domain"), "");
}

struct MailboxCase {
  std::string value;
  std::vector<std::string> displays;   // display names in order
  std::vector<std::string> addresses;  // toUnicodeString(), "" = no address
  bool malformed;
};

void PrintTo(const MailboxCase& c, std::ostream* os) { *os << c.value; }

class MailboxListTest : public ::testing::TestWithParam<MailboxCase> {};

TEST_P(MailboxListTest, Parses) {
  const MailboxCase& c = GetParam();
  MailboxList list = parseMailboxList(c.value);
  std::vector<std::string> displays;
  std::vector<std::string> addresses;
  for (const Mailbox& m : list.mailboxes) {
    displays.push_back(m.display_name);
    addresses.push_back(m.address.toUnicodeString());
  }
  EXPECT_EQ(displays, c.displays) << c.value;
  EXPECT_EQ(addresses, c.addresses) << c.value;
  EXPECT_EQ(list.malformed, c.malformed) << c.value;
}

INSTANTIATE_TEST_SUITE_P(
    Mailboxes, MailboxListTest,
    ::testing::Values(
        MailboxCase{"alice@example.com", {""}, {"alice@example.com"}, false},
        MailboxCase{"Alice <alice@example.com>", {"Alice"}, {"alice@example.com"}, false},
        MailboxCase{"\"Doe, John\" <jd@Example.COM>", {"Doe, John"}, {"jd@example.com"}, false},
        MailboxCase{
            "John Q. Public <jqp@example.com>", {"John Q. Public"}, {"jqp@example.com"}, false},
        MailboxCase{"a@example.com, B <b@example.org>,c@example.net",
                    {"", "B", ""},
                    {"a@example.com", "b@example.org", "c@example.net"},
                    false},
        MailboxCase{"jd@example.com (John Doe)", {"John Doe"}, {"jd@example.com"}, false},
        MailboxCase{"John (the man) Doe <jd@example.com>", {"John Doe"}, {"jd@example.com"}, false},
        MailboxCase{"=?UTF-8?B?SsO2cmc=?= <j@example.com>", {"Jörg"}, {"j@example.com"}, false},
        MailboxCase{"=?iso-8859-1?q?J=F6rg?= =?iso-8859-1?q?_M=FCller?= <j@example.com>",
                    {"Jörg Müller"},
                    {"j@example.com"},
                    false},
        // Clients decode encoded words inside quotes; so must we.
        MailboxCase{"\"=?utf-8?q?PayPal_Service?=\" <x@evil.example>",
                    {"PayPal Service"},
                    {"x@evil.example"},
                    false},
        MailboxCase{"Friends: a@example.com, b@example.com;, c@example.com",
                    {"", "", ""},
                    {"a@example.com", "b@example.com", "c@example.com"},
                    false},
        MailboxCase{"undisclosed-recipients:;", {}, {}, false},
        MailboxCase{"<@route.example:user@example.com>", {""}, {"user@example.com"}, false},
        MailboxCase{"user @ example . com", {""}, {"user@example.com"}, false},
        MailboxCase{"\"john doe\"@example.com", {""}, {"\"john doe\"@example.com"}, false},
        MailboxCase{"Jörg <jörg@bücher.example>", {"Jörg"}, {"jörg@bücher.example"}, false},
        // Hostile or broken.
        MailboxCase{"ceo@company.example <attacker@evil.example>",
                    {"ceo@company.example"},
                    {"attacker@evil.example"},
                    true},
        MailboxCase{"PayPal Security", {"PayPal Security"}, {""}, true},
        MailboxCase{"Alice <alice@example.com", {"Alice"}, {"alice@example.com"}, true},
        MailboxCase{"\"Unterminated <a@example.com>", {"Unterminated <a@example.com>"}, {""}, true},
        MailboxCase{"a@b@example.com", {""}, {""}, true}, MailboxCase{"<>", {""}, {""}, true},
        MailboxCase{"Bad <a@exa_mple.com>", {"Bad"}, {""}, true},
        MailboxCase{
            std::string("Al\0ice <a@example.com>", 22), {"Al ice"}, {"a@example.com"}, true},
        MailboxCase{"", {}, {}, false}, MailboxCase{",,,", {}, {}, false}));

TEST(MailboxList, GroupNameIsKept) {
  MailboxList list = parseMailboxList("Team: a@example.com;");
  ASSERT_EQ(list.mailboxes.size(), 1u);
  EXPECT_EQ(list.mailboxes[0].group, "Team");
}

TEST(MailboxList, LimitsTheNumberOfMailboxes) {
  std::string value;
  for (int i = 0; i < 5000; ++i) value += "u" + std::to_string(i) + "@example.com, ";
  Limits limits;
  limits.max_mailboxes = 100;
  MailboxList list = parseMailboxList(value, limits);
  EXPECT_EQ(list.mailboxes.size(), 100u);
  EXPECT_TRUE(list.truncated);
}

}  // namespace
}  // namespace meshgate::mail
