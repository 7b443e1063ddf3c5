// Configuration of the content checks (payment, impersonation, egress, too_stupid): the shipped
// examples load and show the defaults, and every kind of mistake is reported with
// file:line:column, the key path and what was expected.
#include <gtest/gtest.h>

#include "gateway/config/config_loader.h"
#include "gateway/mail/filetype.h"
#include "tests/unit/decision/content_test_support.h"

namespace meshgate::config {
namespace {

using policy::content_testing::allErrors;
using policy::content_testing::firstError;

std::shared_ptr<const Config> loadFile(const std::string& name) {
  LoadResult r = loadConfigFile(std::string(MESHGATE_SOURCE_DIR) + "/conf/" + name);
  std::string errors;
  for (const auto& e : r.errors) errors += e + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  return r.config;
}

bool samePhrases(const std::vector<PhraseList>& a, const std::vector<PhraseList>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].weight != b[i].weight || a[i].words != b[i].words) {
      return false;
    }
  }
  return true;
}

bool sameCheck(const CheckSetting& a, const CheckSetting& b) {
  return a.enabled == b.enabled && a.action == b.action && a.subject_tag == b.subject_tag &&
         a.reject_text == b.reject_text;
}

TEST(ContentConfig, ShippedExampleShowsTheBuiltInDefaults) {
  auto full = loadFile("meshgate.yaml");
  ASSERT_TRUE(full);
  Config defaults;  // what a file without the content sections gets
  const Config& a = *full;
  EXPECT_EQ(a.payment.enabled, defaults.payment.enabled);
  EXPECT_EQ(a.payment.action, defaults.payment.action);
  EXPECT_EQ(a.payment.subject_tag, defaults.payment.subject_tag);
  EXPECT_EQ(a.payment.apply_when, defaults.payment.apply_when);
  EXPECT_EQ(a.payment.min_score, defaults.payment.min_score);
  EXPECT_EQ(a.payment.iban_weight, defaults.payment.iban_weight);
  EXPECT_EQ(a.payment.bic_weight, defaults.payment.bic_weight);
  EXPECT_EQ(a.payment.routing_number_weight, defaults.payment.routing_number_weight);
  EXPECT_EQ(a.payment.crypto_wallet_weight, defaults.payment.crypto_wallet_weight);
  EXPECT_TRUE(samePhrases(a.payment.phrases, defaults.payment.phrases));

  EXPECT_EQ(a.impersonation.enabled, defaults.impersonation.enabled);
  EXPECT_TRUE(sameCheck(a.impersonation.display_name, defaults.impersonation.display_name));
  EXPECT_TRUE(sameCheck(a.impersonation.lookalike_domain, defaults.impersonation.lookalike_domain));
  EXPECT_EQ(a.impersonation.protected_names, defaults.impersonation.protected_names);
  EXPECT_EQ(a.impersonation.protected_domains, defaults.impersonation.protected_domains);
  EXPECT_EQ(a.impersonation.account_cache_ttl, defaults.impersonation.account_cache_ttl);
  EXPECT_EQ(a.impersonation.max_edit_distance, defaults.impersonation.max_edit_distance);

  EXPECT_EQ(a.egress.enabled, defaults.egress.enabled);
  EXPECT_EQ(a.egress.outbound.authenticated, defaults.egress.outbound.authenticated);
  EXPECT_EQ(a.egress.outbound.daemon_names, defaults.egress.outbound.daemon_names);
  EXPECT_TRUE(a.egress.outbound.networks.empty());
  EXPECT_TRUE(a.egress.groups.empty());
  EXPECT_TRUE(a.egress.labels.empty());
  EXPECT_TRUE(a.egress.rules.empty());

  const TooStupidSection& t = a.too_stupid;
  const TooStupidSection& d = defaults.too_stupid;
  EXPECT_EQ(t.enabled, d.enabled);
  EXPECT_TRUE(sameCheck(t.reply_all, d.reply_all));
  EXPECT_EQ(t.reply_all.max_external_recipients, d.reply_all.max_external_recipients);
  EXPECT_TRUE(sameCheck(t.missing_attachment, d.missing_attachment));
  EXPECT_EQ(t.missing_attachment.words, d.missing_attachment.words);
  EXPECT_TRUE(sameCheck(t.secrets, d.secrets));
  EXPECT_EQ(t.secrets.private_keys, d.secrets.private_keys);
  EXPECT_EQ(t.secrets.password_lines, d.secrets.password_lines);
  EXPECT_EQ(t.secrets.api_tokens, d.secrets.api_tokens);
  EXPECT_EQ(t.secrets.key_files, d.secrets.key_files);
  EXPECT_TRUE(sameCheck(t.card_numbers, d.card_numbers));
  EXPECT_TRUE(sameCheck(t.lookalike_recipient, d.lookalike_recipient));
  EXPECT_EQ(t.lookalike_recipient.max_remembered_domains,
            d.lookalike_recipient.max_remembered_domains);

  const BrandsSection& b = a.brands;
  const BrandsSection& bd = defaults.brands;
  EXPECT_EQ(b.enabled, bd.enabled);
  EXPECT_EQ(b.organization, a.gateway.domains.front());  // "" in the file = the first domain
  EXPECT_TRUE(b.list.empty());
  EXPECT_TRUE(b.trusted_gateways.empty());
  EXPECT_EQ(b.max_assertion_age, bd.max_assertion_age);
  EXPECT_EQ(b.sender_notice.enabled, bd.sender_notice.enabled);
  EXPECT_EQ(b.sender_notice.interval, bd.sender_notice.interval);
  EXPECT_EQ(b.sender_notice.from, bd.sender_notice.from);
  EXPECT_EQ(b.sender_notice.subject, bd.sender_notice.subject);
  EXPECT_EQ(b.sender_notice.text, bd.sender_notice.text);
  EXPECT_TRUE(sameCheck(b.unverified_claim, bd.unverified_claim));
}

TEST(ContentConfig, DefaultsCoverFourLanguagesAndHoldNothing) {
  Config c;
  EXPECT_EQ(c.too_stupid.missing_attachment.words.size(), 4u);
  for (const char* lang : {"en", "de", "fr", "es"}) {
    EXPECT_FALSE(c.too_stupid.missing_attachment.words[lang].empty()) << lang;
  }
  // A demo configuration must not hold or refuse ordinary mail.
  EXPECT_NE(c.payment.action, CheckAction::kQuarantine);
  const std::vector<const CheckSetting*> checks = {
      &c.impersonation.display_name, &c.impersonation.lookalike_domain, &c.too_stupid.reply_all,
      &c.too_stupid.missing_attachment, &c.too_stupid.secrets, &c.too_stupid.card_numbers,
      &c.too_stupid.lookalike_recipient};
  for (const CheckSetting* s : checks) {
    EXPECT_TRUE(s->action == CheckAction::kSignal || s->action == CheckAction::kTag);
  }
}

TEST(ContentConfig, ClassifiedExampleLoadsWithEveryLabelMechanism) {
  auto c = loadFile("classified.yaml");
  ASSERT_TRUE(c);
  ASSERT_FALSE(c->egress.labels.empty());
  const EgressLabel& secret = c->egress.labels[0];
  EXPECT_EQ(secret.name, "secret");
  EXPECT_FALSE(secret.msip_label_ids.empty());
  EXPECT_FALSE(secret.sio_markings.empty());
  EXPECT_FALSE(secret.header_name.empty());
  EXPECT_FALSE(secret.subject_markers.empty());
  ASSERT_FALSE(c->egress.rules.empty());
  EXPECT_EQ(c->egress.rules[0].name, "secret-stays-inside");
  EXPECT_EQ(c->egress.rules[0].action, EgressAction::kReject);
  EXPECT_EQ(c->egress.rules[0].match.recipient_scope, RecipientScope::kExternal);
}

TEST(ContentConfig, AttachmentTypeNamesAreTheMailLibrarys) {
  std::vector<std::string_view> from_mail;
  for (int t = 0; t <= static_cast<int>(mail::FileType::kEmail); ++t) {
    from_mail.push_back(mail::fileTypeName(static_cast<mail::FileType>(t)));
  }
  EXPECT_EQ(attachmentTypeNames(), from_mail);
}

TEST(ContentConfig, ListsAndTextsAreNormalized) {
  auto c = policy::content_testing::loadConfig(
      "impersonation:\n  protected_domains: [\"@Example-Bank.COM\"]\n"
      "  display_name:\n    reject_text: \"5.7.1 go away\"\n"
      "egress:\n  groups:\n    g: [Boss@Example.com, \"@Partner.NET\"]\n"
      "  labels:\n    - name: s\n      msip_label_ids: [\"{7C1E4B1A-0D3E-4F2B-9A4C-2F1E0C8B5D6A}\"]\n"
      "      sensitivity: [Company-Confidential]\n"
      "  rules:\n    - name: r\n      match: {attachment_extensions: [.EXE], "
      "attachment_types: [EXE]}\n      action: reject\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->impersonation.protected_domains, std::vector<std::string>{"example-bank.com"});
  EXPECT_EQ(c->impersonation.display_name.reject_text, "go away");
  EXPECT_EQ(c->egress.groups.at("g"), (std::vector<std::string>{"boss@example.com", "partner.net"}));
  EXPECT_EQ(c->egress.labels[0].msip_label_ids[0], "7c1e4b1a-0d3e-4f2b-9a4c-2f1e0c8b5d6a");
  EXPECT_EQ(c->egress.labels[0].sensitivity[0], "company-confidential");
  EXPECT_EQ(c->egress.rules[0].match.attachment_extensions[0], "exe");
  EXPECT_EQ(c->egress.rules[0].match.attachment_types[0], "exe");
}

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* expected;  // the whole first error line
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ContentConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ContentConfigErrors, NameFileLineColumnPathAndExpectation) {
  EXPECT_EQ(firstError(GetParam().yaml), GetParam().expected) << allErrors(GetParam().yaml);
}

const ErrorCase kErrorCases[] = {
    // payment
    {"payment_action", "payment:\n  action: reject\n",
     "t.yaml:4:11: payment.action: unknown value \"reject\" (expected one of: signal, tag, "
     "quarantine)"},
    {"payment_apply_when", "payment:\n  apply_when: sometimes\n",
     "t.yaml:4:15: payment.apply_when: unknown value \"sometimes\" (expected one of: "
     "first-contact-or-reply-to, always)"},
    {"payment_min_score", "payment:\n  min_score: 0\n",
     "t.yaml:4:14: payment.min_score: value 0 is out of range (expected 1 to 100)"},
    {"payment_subject_tag_8bit", "payment:\n  subject_tag: \"[ZAHLUNG\xE2\x82\xAC]\"\n",
     "t.yaml:4:16: payment.subject_tag: must be at most 64 characters of printable ASCII (it is "
     "put into the raw Subject header)"},
    {"payment_identifier_weight", "payment:\n  identifiers:\n    iban: -1\n",
     "t.yaml:5:11: payment.identifiers.iban: value -1 is out of range (expected 0 to 100)"},
    {"payment_identifier_unknown", "payment:\n  identifiers:\n    swift: 1\n",
     "t.yaml:5:5: payment.identifiers.swift: unknown key (known keys here: bic, crypto_wallet, "
     "iban, routing_number)"},
    {"payment_phrases_without_words", "payment:\n  phrases:\n    - name: x\n",
     "t.yaml:5:7: payment.phrases[0].words: missing required key"},
    {"payment_phrase_star_inside",
     "payment:\n  phrases:\n    - {name: x, words: [\"gift*card\"]}\n",
     "t.yaml:5:24: payment.phrases[0].words: \"gift*card\": '*' is only allowed at the end of a "
     "phrase (a prefix match)"},
    {"payment_phrase_duplicate_name",
     "payment:\n  phrases:\n    - {name: x, words: [a]}\n    - {name: x, words: [b]}\n",
     "t.yaml:6:14: payment.phrases[1].name: \"x\" is used by another list"},
    {"payment_phrase_bad_name", "payment:\n  phrases:\n    - {name: \"a b\", words: [a]}\n",
     "t.yaml:5:14: payment.phrases[0].name: \"a b\": use letters, digits, '-', '_' (it appears "
     "in logs)"},
    // impersonation
    {"impersonation_action", "impersonation:\n  display_name:\n    action: hold\n",
     "t.yaml:5:13: impersonation.display_name.action: unknown value \"hold\" (expected one of: "
     "signal, tag, quarantine, reject)"},
    {"impersonation_domain", "impersonation:\n  protected_domains: [\"not a domain\"]\n",
     "t.yaml:4:22: impersonation.protected_domains: \"not a domain\" is not a domain name "
     "(expected e.g. example.com; write IDNs as A-labels, xn--...)"},
    {"impersonation_idn_as_u_label",
     "impersonation:\n  protected_domains: [b\xC3\xBC"
     "cher.example]\n",
     "t.yaml:4:22: impersonation.protected_domains: \"b\xC3\xBC"
     "cher.example\" is not a domain "
     "name (expected e.g. example.com; write IDNs as A-labels, xn--...)"},
    {"impersonation_distance", "impersonation:\n  max_edit_distance: 5\n",
     "t.yaml:4:22: impersonation.max_edit_distance: value 5 is out of range (expected 0 to 3)"},
    {"impersonation_ttl", "impersonation:\n  account_cache_ttl: 0s\n",
     "t.yaml:4:22: impersonation.account_cache_ttl: duration 0s is out of range (expected "
     "1s to 1d)"},
    {"impersonation_reject_text_two_lines",
     "impersonation:\n  lookalike_domain:\n    reject_text: \"a\\nb\"\n",
     "t.yaml:5:18: impersonation.lookalike_domain.reject_text: must be one line of printable "
     "ASCII (it goes into an SMTP reply)"},
    {"impersonation_unknown_key", "impersonation:\n  display_names: {}\n",
     "t.yaml:4:3: impersonation.display_names: unknown key (known keys here: account_cache_ttl, "
     "display_name, enabled, lookalike_domain, max_edit_distance, protected_domains, "
     "protected_names)"},
    // egress
    {"egress_network", "egress:\n  outbound:\n    networks: [10.1.2.3/8]\n",
     "t.yaml:5:15: egress.outbound.networks: \"10.1.2.3/8\" has host bits set (did you mean "
     "a network such as the /8 that contains it?)"},
    {"egress_group_member", "egress:\n  groups:\n    g: [\"not valid\"]\n",
     "t.yaml:5:8: egress.groups.g: \"not valid\" is neither an address (user@example.com) nor a "
     "domain (example.com)"},
    {"egress_label_without_a_way", "egress:\n  labels:\n    - name: s\n",
     "t.yaml:5:13: egress.labels[0].name: label \"s\" has no way to be recognized (give "
     "sensitivity, msip_label_ids, sio_markings, header_name/header_values or subject_markers)"},
    {"egress_label_guid", "egress:\n  labels:\n    - {name: s, msip_label_ids: [secret]}\n",
     "t.yaml:5:33: egress.labels[0].msip_label_ids: \"secret\" is not a label GUID (expected e.g. "
     "7c1e4b1a-0d3e-4f2b-9a4c-2f1e0c8b5d6a)"},
    {"egress_label_header_without_values",
     "egress:\n  labels:\n    - {name: s, header_name: X-C}\n",
     "t.yaml:5:30: egress.labels[0].header_name: header_name and header_values go together"},
    {"egress_rule_unknown_group",
     "egress:\n  rules:\n    - name: r\n      match: {sender_group: [board]}\n",
     "t.yaml:6:29: egress.rules[0].match.sender_group: unknown group \"board\" (defined: none)"},
    {"egress_rule_unknown_label",
     "egress:\n  labels:\n    - {name: secret, subject_markers: [\"[S]\"]}\n"
     "  rules:\n    - name: r\n      match: {labels: [sekret]}\n",
     "t.yaml:8:23: egress.rules[0].match.labels: unknown label \"sekret\" (defined: secret)"},
    {"egress_rule_attachment_type",
     "egress:\n  rules:\n    - name: r\n      match: {attachment_types: [docm]}\n",
     "t.yaml:6:33: egress.rules[0].match.attachment_types: unknown type \"docm\" (expected one "
     "of: unknown, zip, docx, xlsx, pptx, ooxml, opendocument, jar, ole2, pdf, rtf, onenote, exe, "
     "elf, macho, lnk, script, rar, 7z, gzip, bzip2, xz, tar, cab, iso, png, jpeg, gif, html, "
     "email)"},
    {"egress_rule_action", "egress:\n  rules:\n    - {name: r, action: deny}\n",
     "t.yaml:5:25: egress.rules[0].action: unknown value \"deny\" (expected one of: allow, "
     "reject, hold, require-encryption, prefer-encryption, add-header, remove-header)"},
    {"egress_rule_add_header_without_headers",
     "egress:\n  rules:\n    - {name: r, action: add-header}\n",
     "t.yaml:5:25: egress.rules[0].action: add-header needs add_headers"},
    {"egress_rule_else_without_encryption",
     "egress:\n  rules:\n    - {name: r, action: reject, else: hold}\n",
     "t.yaml:5:39: egress.rules[0].else: only a require-encryption rule has an else"},
    {"egress_rule_else_value",
     "egress:\n  rules:\n    - {name: r, action: require-encryption, else: allow}\n",
     "t.yaml:5:51: egress.rules[0].else: unknown value \"allow\" (expected one of: reject, hold)"},
    {"egress_rule_fallback_without_encryption",
     "egress:\n  rules:\n    - {name: r, action: hold, cleartext_fallback: true}\n",
     "t.yaml:5:51: egress.rules[0].cleartext_fallback: only a require-encryption or "
     "prefer-encryption rule has one"},
    {"smtp_to_mesh_size", "smtp_to_mesh:\n  max_message_bytes: 10\n",
     "t.yaml:4:22: smtp_to_mesh.max_message_bytes: size 10 bytes is out of range (expected 1024 "
     "to 1073741824 bytes)"},
    {"egress_rule_duplicate", "egress:\n  rules:\n    - {name: r}\n    - {name: r}\n",
     "t.yaml:6:14: egress.rules[1].name: \"r\" is used by another rule"},
    {"egress_rule_unknown_match_key", "egress:\n  rules:\n    - name: r\n      match: {to: x}\n",
     "t.yaml:6:15: egress.rules[0].match.to: unknown key (known keys here: attachment_extensions, "
     "attachment_larger_than, attachment_types, attachments_total_larger_than, labels, "
     "min_external_recipients, min_recipients, recipient_address, recipient_domain, "
     "recipient_group, recipient_scope, sender_address, sender_domain, sender_group)"},
    {"egress_rule_scope",
     "egress:\n  rules:\n    - name: r\n      match: {recipient_scope: outside}\n",
     "t.yaml:6:32: egress.rules[0].match.recipient_scope: unknown value \"outside\" (expected one "
     "of: any, internal, external)"},
    {"egress_rule_size",
     "egress:\n  rules:\n    - name: r\n      match: {attachment_larger_than: 10 parsecs}\n",
     "t.yaml:6:39: egress.rules[0].match.attachment_larger_than: expected a size such as 1048576, "
     "64k or 1M, got \"10 parsecs\""},
    {"egress_rule_address",
     "egress:\n  rules:\n    - name: r\n      match: {recipient_address: [example.net]}\n",
     "t.yaml:6:34: egress.rules[0].match.recipient_address: \"example.net\" is not an address "
     "(expected user@example.com)"},
    {"egress_rule_our_header",
     "egress:\n  rules:\n    - name: r\n      action: add-header\n"
     "      add_headers: [{name: Mesh-Security-Signal, value: x}]\n",
     "t.yaml:7:28: egress.rules[0].add_headers[0].name: \"Mesh-Security-Signal\" is written by "
     "meshgate itself"},
    {"egress_rule_reject_text_8bit",
     "egress:\n  rules:\n    - {name: r, action: reject, reject_text: \"nicht erlaubt \xE2\x80\x93 "
     "Regel\"}\n",
     "t.yaml:5:46: egress.rules[0].reject_text: must be one line of printable ASCII (it goes into "
     "an SMTP reply)"},
    // too_stupid
    {"too_stupid_no_tag", "too_stupid:\n  reply_all:\n    action: tag\n",
     "t.yaml:5:13: too_stupid.reply_all.action: unknown value \"tag\" (expected one of: signal, "
     "quarantine, reject)"},
    {"too_stupid_no_subject_tag", "too_stupid:\n  secrets:\n    subject_tag: \"[X]\"\n",
     "t.yaml:5:5: too_stupid.secrets.subject_tag: unknown key (known keys here: action, "
     "api_tokens, enabled, key_files, password_lines, private_keys, reject_text)"},
    {"too_stupid_max_recipients", "too_stupid:\n  reply_all:\n    max_external_recipients: 0\n",
     "t.yaml:5:30: too_stupid.reply_all.max_external_recipients: value 0 is out of range "
     "(expected 1 to 100000)"},
    {"too_stupid_word", "too_stupid:\n  missing_attachment:\n    words:\n      en: [\"a*b\"]\n",
     "t.yaml:6:11: too_stupid.missing_attachment.words.en: \"a*b\": '*' is only allowed at the "
     "end of a phrase (a prefix match)"},
    {"too_stupid_words_not_a_list",
     "too_stupid:\n  missing_attachment:\n    words:\n      en: {a: b}\n",
     "t.yaml:6:11: too_stupid.missing_attachment.words.en: expected a list of strings, got a "
     "mapping"},
    {"too_stupid_bool", "too_stupid:\n  secrets:\n    api_tokens: maybe\n",
     "t.yaml:5:17: too_stupid.secrets.api_tokens: expected true or false, got \"maybe\""},
    {"too_stupid_remembered",
     "too_stupid:\n  lookalike_recipient:\n    max_remembered_domains: 0\n",
     "t.yaml:5:29: too_stupid.lookalike_recipient.max_remembered_domains: value 0 is out of range "
     "(expected 1 to 100000)"},
};

INSTANTIATE_TEST_SUITE_P(All, ContentConfigErrors, ::testing::ValuesIn(kErrorCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(ContentConfigErrorsAll, EveryMistakeIsListedNotJustTheFirst) {
  std::string errors = allErrors(
      "payment:\n  action: x\n  min_score: 0\nimpersonation:\n  max_edit_distance: 9\n"
      "egress:\n  rules:\n    - {name: r, action: y}\ntoo_stupid:\n  reply_all:\n    action: z\n");
  EXPECT_NE(errors.find("payment.action"), std::string::npos) << errors;
  EXPECT_NE(errors.find("payment.min_score"), std::string::npos) << errors;
  EXPECT_NE(errors.find("impersonation.max_edit_distance"), std::string::npos) << errors;
  EXPECT_NE(errors.find("egress.rules[0].action"), std::string::npos) << errors;
  EXPECT_NE(errors.find("too_stupid.reply_all.action"), std::string::npos) << errors;
}

}  // namespace
}  // namespace meshgate::config
