// The hand-written detectors of the content checks, table-driven: every detector with texts
// that must match and look-alike texts that must not (the false-positive guards).
#include "gateway/policy/content_patterns.h"

#include <gtest/gtest.h>

#include <chrono>

#include "gateway/policy/text_scan.h"

namespace meshgate::policy {
namespace {

struct PatternCase {
  const char* name;
  const char* detector;  // iban, bic, routing, wallet, card, secret
  const char* text;
  const char* expected;  // what is found ("" = nothing)
};

void PrintTo(const PatternCase& c, std::ostream* os) { *os << c.name; }

std::string run(const PatternCase& c) {
  std::string d = c.detector;
  if (d == "iban") return findIban(c.text).value_or("");
  if (d == "bic") return findBic(c.text).value_or("");
  if (d == "routing") return findRoutingNumber(c.text).value_or("");
  if (d == "wallet") {
    auto w = findCryptoWallet(c.text);
    return w ? w->kind + ":" + w->address : "";
  }
  if (d == "card") return findCardNumber(c.text).value_or("");
  if (d == "secret") {
    auto s = findSecret(c.text, SecretKinds{});
    return s ? s->kind : "";
  }
  ADD_FAILURE() << "unknown detector " << d;
  return "";
}

class Patterns : public ::testing::TestWithParam<PatternCase> {};

TEST_P(Patterns, FindsWhatIsThereAndNothingElse) {
  EXPECT_EQ(run(GetParam()), GetParam().expected) << GetParam().text;
}

const PatternCase kPatternCases[] = {
    // IBAN: registered length + mod-97.
    {"iban_de_compact", "iban", "IBAN DE89370400440532013000 bitte", "DE89370400440532013000"},
    {"iban_de_printed", "iban", "IBAN: DE89 3704 0044 0532 0130 00.", "DE89370400440532013000"},
    {"iban_gb", "iban", "to GB82 WEST 1234 5698 7654 32 today", "GB82WEST12345698765432"},
    {"iban_fr_letters_inside", "iban", "RIB FR14 2004 1010 0505 0001 3M02 606",
     "FR1420041010050500013M02606"},
    {"iban_no_shortest", "iban", "konto NO9386011117947", "NO9386011117947"},
    {"iban_lower_case", "iban", "iban: de89370400440532013000", "DE89370400440532013000"},
    {"iban_bad_checksum", "iban", "DE89370400440532013001", ""},
    {"iban_wrong_length", "iban", "DE8937040044053201300", ""},
    {"iban_unknown_country", "iban", "XX89370400440532013000", ""},
    {"iban_inside_a_word", "iban", "REFDE89370400440532013000", ""},
    {"iban_longer_run", "iban", "DE893704004405320130001", ""},
    // BIC: only next to its label.
    {"bic_labelled", "bic", "BIC: DEUTDEFF", "DEUTDEFF"},
    {"bic_swift_11", "bic", "SWIFT code COBADEFFXXX", "COBADEFFXXX"},
    {"bic_unlabelled_word", "bic", "OUR BUSINESS PARTNERS", ""},
    {"bic_label_far_away", "bic",
     "BIC is explained on our website, which you can read whenever you like: DEUTDEFF", ""},
    {"bic_unknown_country", "bic", "BIC DEUTQQFF", ""},
    {"bic_lower_case", "bic", "bic: deutdeff", ""},
    // US routing numbers: label, Federal Reserve prefix, checksum.
    {"routing_chase", "routing", "Routing number: 021000021", "021000021"},
    {"routing_aba", "routing", "ABA 011000015, account 12345", "011000015"},
    {"routing_unlabelled", "routing", "Order 021000021 shipped", ""},
    {"routing_bad_checksum", "routing", "routing 021000022", ""},
    {"routing_bad_prefix", "routing", "routing 991000013", ""},
    {"routing_label_inside_word", "routing", "each 021000021", ""},
    // Wallets: checksums verified.
    {"btc_p2pkh", "wallet", "send to 112D2adLM3UKy4Z4giRbReR6gjWuvHUqB now",
     "btc:112D2adLM3UKy4Z4giRbReR6gjWuvHUqB"},
    {"btc_p2sh", "wallet", "(31nM1WuowNDzocNxPPW9NQWJEtwWpjfcLj)",
     "btc:31nM1WuowNDzocNxPPW9NQWJEtwWpjfcLj"},
    {"btc_bad_checksum", "wallet", "112D2adLM3UKy4Z4giRbReR6gjWuvHUqC", ""},
    {"btc_bech32", "wallet", "bc1qqqqsyqcyq5rqwzqfpg9scrgwpugpzysn4v0345",
     "btc:bc1qqqqsyqcyq5rqwzqfpg9scrgwpugpzysn4v0345"},
    {"btc_bech32m", "wallet", "bc1pqqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sg5tmnz",
     "btc:bc1pqqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sg5tmnz"},
    {"btc_v1_with_bech32_checksum", "wallet",
     "bc1pqqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sagmhkq", ""},
    {"btc_bech32_typo", "wallet", "bc1qqqqsyqcyq5rqwzqfpg9scrgwpugpzysn4v0346", ""},
    {"eth", "wallet", "ETH: 0x52908400098527886E0F7030069857D2E4169EE7",
     "eth:0x52908400098527886E0F7030069857D2E4169EE7"},
    {"eth_tx_hash_is_not_an_address", "wallet",
     "tx 0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060", ""},
    {"long_number_is_not_base58", "wallet", "1234567890123456789012345678", ""},
    // Cards: Luhn + issuer + layout or context.
    {"visa_grouped", "card", "4111 1111 1111 1111", "4111111111111111"},
    {"visa_dashes", "card", "4111-1111-1111-1111 exp", "4111111111111111"},
    {"visa_ungrouped_with_word", "card", "Card: 4111111111111111", "4111111111111111"},
    {"visa_ungrouped_with_expiry", "card", "4111111111111111 12/27", "4111111111111111"},
    {"amex", "card", "3782 822463 10005", "378282246310005"},
    {"mastercard", "card", "5555 5555 5555 4444", "5555555555554444"},
    {"mastercard_2_series", "card", "2223 0031 2200 3222", "2223003122003222"},
    {"german_context", "card", "Kreditkarte 5555555555554444", "5555555555554444"},
    {"order_id_ungrouped", "card", "Order 4111111111111111 shipped", ""},
    {"order_id_hash", "card", "card #4111111111111111", ""},
    {"luhn_fails", "card", "4111 1111 1111 1112", ""},
    {"no_issuer", "card", "1234 5678 9012 3452", ""},
    {"odd_layout", "card", "41 1111 1111 1111 11", ""},
    {"mixed_separators", "card", "4111 1111-1111 1111", ""},
    {"too_long", "card", "card 41111111111111111111", ""},
    {"inside_reference", "card", "INV-4111111111111111", ""},
    {"visa_19_not_grouped_like_16", "card", "4111 1111 1111 1111 22", ""},
    // Secrets.
    {"pem_rsa", "secret", "here:\n-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "private-key"},
    {"openssh", "secret", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl", "private-key"},
    {"pgp", "secret", "-----BEGIN PGP PRIVATE KEY BLOCK-----", "private-key"},
    {"certificate_is_public", "secret", "-----BEGIN CERTIFICATE-----\nMIIC", ""},
    {"public_key", "secret", "-----BEGIN PUBLIC KEY-----\nMIIB", ""},
    {"password_line", "secret", "Hi,\nuser: bob\npassword: hunter2x\n", "password"},
    {"passwd_equals", "secret", "db_passwd=S3cr3t!", "password"},
    {"passwort", "secret", "Passwort: Sommer2024!", "password"},
    {"mot_de_passe", "secret", "mot de passe : Azerty123", "password"},
    {"password_placeholder", "secret", "password: <your password>", ""},
    {"password_stars", "secret", "Password: ********", ""},
    {"password_variable", "secret", "password=${DB_PASSWORD}", ""},
    {"password_sentence", "secret", "Your password: is the one you chose last week", ""},
    {"password_in_quote", "secret", "> password: hunter2x", ""},
    {"password_word_in_prose", "secret", "I forgot my password again, can you reset it?", ""},
    {"aws", "secret", "key AKIAIOSFODNN7EXAMPLE", "aws-access-key"},
    {"aws_too_short", "secret", "AKIA1234", ""},
    {"github", "secret", "token ghp_0123456789abcdefghijABCDEFGHIJ012345", "github-token"},
    {"github_pat", "secret", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
     "github-token"},
    {"slack", "secret", "xoxb-123456789012-abcdefABCDEF", "slack-token"},
    {"google", "secret", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "google-api-key"},
    {"stripe_live", "secret", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"},
    {"stripe_test_is_fine", "secret", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", ""},
    {"jwt", "secret",
     "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "jwt"},
    {"not_jwt", "secret", "eyJhbGciOiJIUzI1NiJ9 alone", ""},
};

INSTANTIATE_TEST_SUITE_P(All, Patterns, ::testing::ValuesIn(kPatternCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(Validators, KnownValues) {
  EXPECT_TRUE(ibanChecksumValid("GB82WEST12345698765432"));
  EXPECT_FALSE(ibanChecksumValid("GB82WEST12345698765433"));
  EXPECT_TRUE(abaChecksumValid("021000021"));
  EXPECT_FALSE(abaChecksumValid("021000022"));
  EXPECT_TRUE(luhnValid("79927398713"));
  EXPECT_FALSE(luhnValid("79927398710"));
  EXPECT_FALSE(luhnValid(""));
  EXPECT_TRUE(bech32Valid("BC1QQQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSN4V0345"));  // upper case is valid
  EXPECT_FALSE(bech32Valid("bc1QQQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSN4V0345"));  // mixed is not
  EXPECT_TRUE(base58checkValid("112D2adLM3UKy4Z4giRbReR6gjWuvHUqB"));
  EXPECT_FALSE(base58checkValid("12D2adLM3UKy4Z4giRbReR6gjWuvHUqB"));  // a leading zero lost
}

// Every "-" is a word boundary, so each prefix in "xoxb-xoxb-..." starts a token: the scan
// must not walk the rest of the run from each of them (quadratic: a 1 MiB part took minutes).
// The bound is generous (sanitizer builds); it catches that, not a slowdown.
TEST(SecretScan, RepeatedTokenPrefixesAreScannedInLinearTime) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr double kBoundSeconds = 120.0;
#else
  constexpr double kBoundSeconds = 10.0;
#endif
  for (const char* unit : {"xoxb-", "eyJa-", "AIza-", "github_pat_", "eyJa.eyJa-"}) {
    std::string text;
    while (text.size() < (1u << 20)) text += unit;
    const auto start = std::chrono::steady_clock::now();
    auto found = findSecret(text, SecretKinds{});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, kBoundSeconds) << unit;
    (void)found;
  }
  // Still found where they are real.
  EXPECT_TRUE(findSecret("xoxb-xoxb-123456789012-abcdefABCDEF", SecretKinds{}).has_value());
  EXPECT_TRUE(findSecret("a eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", SecretKinds{})
                  .has_value());
}

TEST(SecretKindsSwitch, EachKindCanBeTurnedOff) {
  SecretKinds none{false, false, false};
  EXPECT_FALSE(findSecret("-----BEGIN RSA PRIVATE KEY-----", none).has_value());
  EXPECT_FALSE(findSecret("password: hunter2x", none).has_value());
  EXPECT_FALSE(findSecret("AKIAIOSFODNN7EXAMPLE", none).has_value());
  SecretKinds tokens_only{false, false, true};
  EXPECT_FALSE(findSecret("password: hunter2x", tokens_only).has_value());
  EXPECT_TRUE(findSecret("AKIAIOSFODNN7EXAMPLE", tokens_only).has_value());
}

// ---- phrase matching

struct PhraseCase {
  const char* name;
  const char* text;
  uint64_t expected;
};

void PrintTo(const PhraseCase& c, std::ostream* os) { *os << c.name; }

class Phrases : public ::testing::TestWithParam<PhraseCase> {
 protected:
  void SetUp() override {
    m_.add("new bank details", 0);
    m_.add("rechnung*", 1);
    m_.add("carte cadeau", 2);
    m_.add("überweisung", 3);
    m_.add("gift card*", 4);
    m_.add("straße", 5);
  }
  PhraseMatcher m_;
};

TEST_P(Phrases, MatchWholeWordsAcrossCaseSpacingAndPunctuation) {
  EXPECT_EQ(m_.scan(foldForMatching(GetParam().text)), GetParam().expected);
}

const PhraseCase kPhraseCases[] = {
    {"plain", "our new bank details are", 1},
    {"case_and_line_break", "Our NEW\r\n  Bank   Details:", 1},
    {"not_a_prefix_of_the_middle_word", "new banking details", 0},
    {"prefix_word", "Ihre Rechnungsnummer 42", 2},
    {"prefix_word_exact", "die Rechnung", 2},
    {"prefix_only_at_word_start", "Abrechnung", 0},
    {"hyphen_separates", "une carte-cadeau", 4},
    {"accented_upper_case", "ÜBERWEISUNG", 8},
    {"decomposed_accent", "U\xCC\x88" "berweisung", 8},  // U + COMBINING DIAERESIS
    {"fullwidth", "\xEF\xBC\xA7\xEF\xBD\x89\xEF\xBD\x86\xEF\xBD\x94 card", 16},  // ｇｉｆｔ
    {"plural_by_prefix", "gift cards", 16},
    {"sharp_s_folds_to_ss", "STRASSE", 32},
    {"several", "new bank details and a gift card", 17},
    {"nothing", "hello world", 0},
    {"empty", "", 0},
};

INSTANTIATE_TEST_SUITE_P(All, Phrases, ::testing::ValuesIn(kPhraseCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(PhraseMatcherBuild, EmptyPhrasesAreRefused) {
  PhraseMatcher m;
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(m.add("  ...  ", 0));
  EXPECT_FALSE(m.add("*", 0));
  EXPECT_FALSE(m.add("word", PhraseMatcher::kMaxCategories));
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.add("word", 0));
  EXPECT_FALSE(m.empty());
}

TEST(WordSplitting, InvalidUtf8IsNotAnObstacle) {
  PhraseMatcher m;
  m.add("pay now", 0);
  // A broken byte reads as U+FFFD, which separates words like punctuation does.
  EXPECT_EQ(m.scan(foldForMatching("\xff\xfe pay \xc3 now")), 1u);
  EXPECT_EQ(m.scan(foldForMatching("pa\xc3y now")), 0u);
}

}  // namespace
}  // namespace meshgate::policy
