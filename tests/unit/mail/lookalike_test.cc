// Confusable keys, edit distance, lookalike domains and display-name matching.
#include <gtest/gtest.h>

#include <string>

#include "gateway/mail/lookalike.h"

namespace meshgate::mail {
namespace {

TEST(Skeleton, Uts39) {
  EXPECT_EQ(confusableSkeleton("paypal"), confusableSkeleton("pаypal"));  // Cyrillic а
  EXPECT_EQ(confusableSkeleton("rn"), confusableSkeleton("m"));
  EXPECT_EQ(confusableSkeleton("l"), confusableSkeleton("1"));
  EXPECT_NE(confusableSkeleton("paypal"), confusableSkeleton("paypol"));
  EXPECT_EQ(confusableSkeleton(""), "");
  EXPECT_EQ(confusableKey("PAYPAL"), confusableKey("paypa1"));
  EXPECT_EQ(confusableKey("G00GLE"), confusableKey("google"));
  EXPECT_EQ(confusableKey("\xFF\xFE"), confusableKey("\xEF\xBF\xBD\xEF\xBF\xBD"));  // repaired
}

struct DistanceCase {
  std::string a;
  std::string b;
  size_t max;
  size_t expected;
};

void PrintTo(const DistanceCase& c, std::ostream* os) { *os << c.a << " / " << c.b; }

class DistanceTest : public ::testing::TestWithParam<DistanceCase> {};

TEST_P(DistanceTest, Bounded) {
  const DistanceCase& c = GetParam();
  EXPECT_EQ(editDistance(c.a, c.b, c.max), c.expected);
  EXPECT_EQ(editDistance(c.b, c.a, c.max), c.expected);  // symmetric
}

INSTANTIATE_TEST_SUITE_P(
    Distance, DistanceTest,
    ::testing::Values(DistanceCase{"", "", 2, 0}, DistanceCase{"abc", "abc", 2, 0},
                      DistanceCase{"abc", "abd", 2, 1},
                      DistanceCase{"abc", "acb", 2, 1},  // transposition
                      DistanceCase{"abc", "ab", 2, 1}, DistanceCase{"", "ab", 2, 2},
                      DistanceCase{"", "abc", 2, 3},  // more than max: max + 1
                      DistanceCase{"kitten", "sitting", 5, 3},
                      DistanceCase{"kitten", "sitting", 2, 3},
                      DistanceCase{"paypal", "paypa1", 2, 1},
                      DistanceCase{"bücher", "bucher", 2, 1},  // code points, not bytes
                      DistanceCase{"ca", "abc", 3, 3},         // OSA, not unrestricted Damerau
                      DistanceCase{"abcdefgh", "hgfedcba", 2, 3}));

TEST(Distance, HugeInputsAreCheap) {
  std::string a(1 << 20, 'a');
  std::string b = a;
  b[500] = 'b';
  EXPECT_EQ(editDistance(a, std::string(10, 'a'), 2), 3u);  // length difference alone
  EXPECT_LE(editDistance(a, b, 2), 3u);                     // bounded to 256 code points
}

struct LookalikeCase {
  std::string a;
  std::string b;
  bool alike;
};

void PrintTo(const LookalikeCase& c, std::ostream* os) { *os << c.a << " vs " << c.b; }

class LookalikeTest : public ::testing::TestWithParam<LookalikeCase> {};

TEST_P(LookalikeTest, Domains) {
  const LookalikeCase& c = GetParam();
  EXPECT_EQ(looksLike(c.a, c.b), c.alike) << c.a << " vs " << c.b;
  EXPECT_EQ(looksLike(c.b, c.a), c.alike) << c.b << " vs " << c.a;
}

INSTANTIATE_TEST_SUITE_P(
    Domains, LookalikeTest,
    ::testing::Values(
        // The same domain (any case, any IDN form, trailing dot) is never a lookalike.
        LookalikeCase{"paypal.com", "paypal.com", false},
        LookalikeCase{"PayPal.COM.", "paypal.com", false},
        LookalikeCase{"bücher.example", "xn--bcher-kva.example", false},
        // Subdomains belong to the domain.
        LookalikeCase{"mail.paypal.com", "paypal.com", false},
        // Confusables (UTS #39 skeleton).
        LookalikeCase{"pаypal.com", "paypal.com", true},         // Cyrillic а
        LookalikeCase{"xn--pypal-4ve.com", "paypal.com", true},  // the same as an A-label
        LookalikeCase{"rnicrosoft.com", "microsoft.com", true},
        LookalikeCase{"paypa1.com", "paypal.com", true},
        LookalikeCase{"examp1e.com", "example.com", true},
        // Edit distance <= 2.
        LookalikeCase{"paypai.com", "paypal.com", true},
        LookalikeCase{"paypal.co", "paypal.com", true},
        LookalikeCase{"gogle.com", "google.com", true},
        LookalikeCase{"googel.com", "google.com", true},  // transposition
        LookalikeCase{"exarnple.com", "example.com", true},
        LookalikeCase{"bucher.example", "bücher.example", true},
        LookalikeCase{"ibn.com", "ibm.com", true},
        // Embedded protected domain.
        LookalikeCase{"paypal.com.evil.example", "paypal.com", true},
        LookalikeCase{"paypal.com-secure.example", "paypal.com", true},
        // Labels in front of a lookalike are free to its owner.
        LookalikeCase{"secure.paypa1.com", "paypal.com", true},
        LookalikeCase{"mail.examp1e.com", "example.com", true},
        LookalikeCase{"login.examp1e.co.uk", "example.co.uk", true},
        LookalikeCase{"a.b.rnicrosoft.com", "microsoft.com", true},
        // ... but a subdomain of a different enough domain is still different.
        LookalikeCase{"mail.ebay.com", "paypal.com", false},
        LookalikeCase{"www.amazon.com", "amazing.org", false},
        LookalikeCase{"mail.example.net", "example.com", false},
        // Different enough.
        LookalikeCase{"ab.com", "cd.com", false},
        LookalikeCase{"hp.com", "hq.com", false},  // too short for an edit to mean "alike"
        LookalikeCase{"example.com", "example.net", false},
        LookalikeCase{"ebay.com", "paypal.com", false},
        LookalikeCase{"amazon.com", "amazing.org", false},
        LookalikeCase{"mycompany.com", "yourcompany.com", false},
        LookalikeCase{"", "paypal.com", false}));

TEST(Lookalike, OptionsAreHonoured) {
  LookalikeOptions strict;
  strict.max_edit_distance = 0;
  EXPECT_FALSE(looksLike("paypai.com", "paypal.com", strict));
  EXPECT_TRUE(looksLike("pаypal.com", "paypal.com", strict));  // skeletons still count
  LookalikeOptions loose;
  loose.min_chars_per_edit = 1;
  EXPECT_TRUE(looksLike("hp.com", "hq.com", loose));
  LookalikeOptions no_embedded;
  no_embedded.embedded_domain_is_lookalike = false;
  EXPECT_FALSE(looksLike("paypal.com.evil.example", "paypal.com", no_embedded));
}

TEST(Lookalike, PreparedDomains) {
  LookalikeDomain protected_domain = LookalikeDomain::make("Bücher.Example");
  EXPECT_TRUE(protected_domain.valid());
  EXPECT_EQ(protected_domain.ascii(), "xn--bcher-kva.example");
  EXPECT_EQ(protected_domain.unicode(), "bücher.example");
  EXPECT_TRUE(looksLike(LookalikeDomain::make("bucher.example"), protected_domain));
  LookalikeDomain junk = LookalikeDomain::make("not a domain!");
  EXPECT_FALSE(junk.valid());
  EXPECT_FALSE(looksLike(junk, protected_domain));
}

struct NameCase {
  std::string a;
  std::string b;
  bool same;
};

void PrintTo(const NameCase& c, std::ostream* os) { *os << c.a << " vs " << c.b; }

class DisplayNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(DisplayNameTest, Matches) {
  EXPECT_EQ(sameDisplayName(GetParam().a, GetParam().b), GetParam().same);
  EXPECT_EQ(sameDisplayName(GetParam().b, GetParam().a), GetParam().same);
}

INSTANTIATE_TEST_SUITE_P(
    Names, DisplayNameTest,
    ::testing::Values(
        NameCase{"John Doe", "John Doe", true}, NameCase{"JOHN   DOE", "john doe", true},
        NameCase{"Doe, John", "John Doe", true}, NameCase{"\"John Doe\"", "John Doe", true},
        NameCase{"John Q. Doe", "John Q Doe", true},
        NameCase{"J0hn Doe", "John Doe", true},         // digit zero
        NameCase{"Jоhn Dое", "John Doe", true},         // Cyrillic о, е
        NameCase{"John\u200B Doe", "John Doe", true},   // zero-width space
        NameCase{"Ｊｏｈｎ Ｄｏｅ", "John Doe", true},  // full width
        NameCase{"John\u3164Doe", "John Doe", true},    // Hangul filler, shown as a blank
        NameCase{"John\uFFA0Doe", "John Doe", true},    // halfwidth Hangul filler
        NameCase{"John\u2800Doe", "John Doe", true},    // Braille blank
        NameCase{"Jörg Müller", "JÖRG MÜLLER", true}, NameCase{"Jane Doe", "John Doe", false},
        NameCase{"John Doe Jr", "John Doe", false}, NameCase{"", "", false},
        NameCase{"!!!", "???", false}));

TEST(DisplayName, Key) {
  EXPECT_EQ(displayNameKey("  Doe ,  John "), displayNameKey("john doe"));
  EXPECT_EQ(displayNameKey("---"), "");
  EXPECT_LE(displayNameKey(std::string(100000, 'a')).size(), 2048u);
}

}  // namespace
}  // namespace meshgate::mail
