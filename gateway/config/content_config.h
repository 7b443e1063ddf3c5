// NAME
//   content_config.h - configuration of the content checks: payment requests, impersonation,
//   egress rules, "mail too stupid to send", brands.
//
// DESCRIPTION
//   Part of Config (config.h); read by readContentSections() (content_config.cc) with the same
//   strict YamlMap rules as every other section. Every field has the default shown in
//   conf/meshgate.yaml and docs/configuration.md. Word lists are kept as written; the filters
//   fold case and normalize them once per configuration (gateway/policy/text_scan.h).
//
//   Addresses and domains in lists are lower-cased by the reader; domains are A-labels.
//
// THREAD SAFETY
//   Immutable once loaded, like the rest of Config.
//
// ERRORS
//   None here; the reader reports every problem with file:line:column.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/util/network.h"

namespace meshgate::config {

// What a content check does when it fires. Each section accepts a subset (see the reader):
//   signal      only the check's name in Decision.checks (the security signal, logs)
//   tag         also prefix the Subject with the check's subject_tag
//   quarantine  also hold the message (Postfix hold queue)
//   reject      refuse the message with 550 5.7.1 and the check's reject_text
enum class CheckAction { kSignal, kTag, kQuarantine, kReject };

std::string_view checkActionName(CheckAction a);

// The settings every switchable check has.
struct CheckSetting {
  bool enabled = true;
  CheckAction action = CheckAction::kSignal;
  std::string subject_tag;  // for action tag
  std::string reject_text;  // for action reject (one line, without the status codes)
};

// ---- payment (seed 7.2.3 "Confirmation messages requiring payments")

// A named list of phrases. A phrase matches whole words, case-, accent-form- and
// whitespace-insensitively; a trailing '*' on its last word matches any word starting so
// ("rechnung*" matches "Rechnungsnummer").
struct PhraseList {
  std::string name;  // appears in the check's detail: "payment-request: invoice,iban"
  int weight = 1;
  std::vector<std::string> words;
};

// When the payment action applies (a payment request is always recorded as a check).
enum class PaymentApplyWhen {
  kSuspicious,  // first contact for an accepted recipient, or Reply-To domain != From domain
  kAlways,
};

struct PaymentSection {
  bool enabled = true;
  CheckAction action = CheckAction::kTag;  // signal | tag | quarantine
  std::string subject_tag = "[PAYMENT?]";
  PaymentApplyWhen apply_when = PaymentApplyWhen::kSuspicious;
  // A message is a payment request when the weights of what it contains add up to this.
  int min_score = 2;
  // Weights of the built-in identifier detectors; 0 turns one off.
  int iban_weight = 2;            // an IBAN whose mod-97 check holds
  int bic_weight = 1;             // a SWIFT/BIC code next to the word BIC or SWIFT
  int routing_number_weight = 1;  // a US ABA routing number (checksum) next to "routing"/"ABA"
  int crypto_wallet_weight = 2;   // BTC base58check / bech32(m), ETH 0x + 40 hex
  std::vector<PhraseList> phrases = defaultPaymentPhrases();

  static std::vector<PhraseList> defaultPaymentPhrases();
};

// ---- impersonation

struct ImpersonationSection {
  bool enabled = true;
  // From: display name equal to an internal account's name or a protected name, on inbound
  // mail whose From: address is outside the local and protected domains.
  CheckSetting display_name{.enabled = true,
                            .action = CheckAction::kSignal,
                            .subject_tag = "[IMPERSONATION?]",
                            .reject_text = "the sender's name imitates a person or brand of this "
                                           "organization; message refused"};
  // Envelope or From: domain that looks like a protected domain but is not one.
  CheckSetting lookalike_domain{.enabled = true,
                                .action = CheckAction::kSignal,
                                .subject_tag = "[LOOKALIKE?]",
                                .reject_text = "the sender's domain imitates a domain of this "
                                               "organization; message refused"};
  std::vector<std::string> protected_names;    // brand or executive names besides accounts
  std::vector<std::string> protected_domains;  // besides gateway.domains
  std::chrono::milliseconds account_cache_ttl{300'000};  // account display names are re-read
  int max_edit_distance = 2;                             // for lookalike domains (0-3)
};

// ---- egress (seed 7.2.2)

// Which mail is outbound (gateway/policy/direction.h).
struct OutboundDetection {
  bool authenticated = true;  // a SASL-authenticated client
  std::vector<std::string> daemon_names = {"ORIGINATING"};  // {daemon_name} macro values
  std::vector<Network> networks;                            // client address in these
};

// A classification label and every way a message can carry it.
struct EgressLabel {
  std::string name;
  std::vector<std::string> sensitivity;     // Sensitivity: values, lower-case
  std::vector<std::string> msip_label_ids;  // Microsoft MSIP label GUIDs, lower-case
  std::vector<std::string> sio_markings;    // RFC 7444 SIO-Label marking words
  std::string header_name;                  // any other header ...
  std::vector<std::string> header_values;   // ... whose value contains one of these words
  std::vector<std::string> subject_markers;  // "[SECRET]", case-insensitive, anywhere
};

enum class RecipientScope { kAny, kInternal, kExternal };

// Every condition given must hold; within one list any entry may match. Recipient conditions
// are evaluated per recipient (see egress_filter.h).
struct EgressMatch {
  std::vector<std::string> sender_address;    // lower-case addresses
  std::vector<std::string> sender_domain;     // a domain matches itself and its subdomains
  std::vector<std::string> sender_group;      // names in EgressSection::groups
  std::vector<std::string> recipient_address;
  std::vector<std::string> recipient_domain;
  std::vector<std::string> recipient_group;
  RecipientScope recipient_scope = RecipientScope::kAny;
  std::vector<std::string> labels;                 // names in EgressSection::labels
  std::vector<std::string> attachment_types;       // detected types: exe, zip, docx, ...
  std::vector<std::string> attachment_extensions;  // lower-case, without the dot
  uint64_t attachment_larger_than = 0;             // 0 = no condition; any one attachment
  uint64_t attachments_total_larger_than = 0;      // 0 = no condition
  int min_recipients = 0;                          // 0 = no condition
  int min_external_recipients = 0;                 // 0 = no condition
};

enum class EgressAction {
  kAllow,
  kReject,
  kHold,
  kRequireEncryption,  // Mesh delivery (smtp_to_mesh); no Mesh profile: the rule's `else`
  kPreferEncryption,   // Mesh delivery when the recipient has a profile, else SMTP
  kAddHeader,          // allow, with add_headers
  kRemoveHeader,       // allow, with remove_headers
};

std::string_view egressActionName(EgressAction a);

// The attachment type names rules may use: the names gateway/mail/filetype.h gives detected
// types (kept here because the configuration does not depend on the mail library; a unit test
// keeps the two lists equal).
const std::vector<std::string_view>& attachmentTypeNames();

struct HeaderToAdd {
  std::string name;
  std::string value;
};

struct EgressRule {
  std::string name;  // rule "egress.<name>"
  EgressMatch match;
  EgressAction action = EgressAction::kAllow;
  EgressAction otherwise = EgressAction::kReject;  // `else` of require-encryption: reject|hold
  // require-/prefer-encryption: a Mesh delivery that fails (service down, refused) sends the
  // ordinary SMTP copy instead of deferring the message. Off unless the rule says so.
  bool cleartext_fallback = false;
  std::string reject_text;  // "" = a default naming the rule
  std::vector<HeaderToAdd> add_headers;
  std::vector<std::string> remove_headers;
};

struct EgressSection {
  bool enabled = true;
  OutboundDetection outbound;
  // Named lists of addresses ("a@example.com") and domains ("example.com" = it and its
  // subdomains), lower-case.
  std::map<std::string, std::vector<std::string>> groups;
  std::vector<EgressLabel> labels;
  std::vector<EgressRule> rules;
};

// ---- "mail too stupid to send"

struct ReplyAllCheck : CheckSetting {
  int max_external_recipients = 10;
};

struct MissingAttachmentCheck : CheckSetting {
  // Words and phrases per language (PhraseList syntax); the key is the language's name.
  std::map<std::string, std::vector<std::string>> words = defaultAttachmentWords();

  static std::map<std::string, std::vector<std::string>> defaultAttachmentWords();
};

struct SecretsCheck : CheckSetting {
  bool private_keys = true;    // PEM/OpenSSH/PGP private key blocks
  bool password_lines = true;  // "password: ...", "passwd=..."
  bool api_tokens = true;      // AWS, GitHub, Slack, Google, Stripe, JWT
  bool key_files = true;       // attachments named id_rsa, *.key, *.p12, *.pfx, *.ppk
};

struct LookalikeRecipientCheck : CheckSetting {
  int max_remembered_domains = 1000;  // per sender; the oldest are compared first
};

// A check of type T with its default reject text.
template <typename T>
T checkWithText(std::string text) {
  T t;
  t.reject_text = std::move(text);
  return t;
}

struct TooStupidSection {
  bool enabled = true;
  ReplyAllCheck reply_all = checkWithText<ReplyAllCheck>(
      "your reply goes to many people outside the organization; check the recipients and send "
      "again");
  MissingAttachmentCheck missing_attachment = checkWithText<MissingAttachmentCheck>(
      "your message mentions an attachment but has none; attach the file and send again");
  SecretsCheck secrets = checkWithText<SecretsCheck>(
      "your message seems to contain a password, private key or access token; remove it and "
      "send again");
  CheckSetting card_numbers = checkWithText<CheckSetting>(
      "your message contains a payment card number; remove it and send again");
  LookalikeRecipientCheck lookalike_recipient = checkWithText<LookalikeRecipientCheck>(
      "a recipient domain looks like, but is not, a domain you write to; check the address");
};

// ---- brand accountability (seed 7.2.3.1; gateway/policy/brand_filter.h)

// A brand the organization sends mail for, and protects against imitation.
struct Brand {
  std::string name;                    // as people know it ("Example Bank"); UTF-8
  std::vector<std::string> domains;    // lower-case A-labels; each covers its subdomains
  std::vector<std::string> addresses;  // lower-case; mail From: these speaks for the brand
  std::string logo_url;                // optional https:// URL, carried in the assertion
  std::string organization;            // accountable organization; "" = brands.organization
  // Who may send as the brand (envelope sender): these addresses, and addresses in these
  // domains (each with its subdomains). Both empty: anyone in the gateway's domains or the
  // brand's own domains and addresses.
  std::vector<std::string> senders;         // lower-case addresses
  std::vector<std::string> sender_domains;  // lower-case A-labels
};

// A gateway whose Mesh-Brand-Assertion headers are believed on inbound mail.
struct TrustedGateway {
  std::string name;      // for logs and the check detail
  std::string key_file;  // its public signing key (Mesh JSON or PEM), e.g. gateway.key.pub
};

// The reminder to people who send as a brand (delivered by the milter through
// quarantine.sendmail; at most once per sender address per interval, counted in the store).
struct BrandSenderNotice {
  bool enabled = true;
  std::chrono::milliseconds interval{86'400'000};
  std::string from;  // "" = postmaster@<first gateway domain>
  std::string subject = "You are sending mail on behalf of %b";
  std::string text =
      "Your message \"%s\" was sent from %a, an address of %b. Mail from this address carries "
      "a signed statement that %o is accountable for it: write as %b would, and do not send "
      "personal or unapproved content from it.\n\nThis reminder is sent at most once a day.";
};

struct BrandsSection {
  bool enabled = true;
  std::string organization;  // accountable organization; "" = the first gateway domain
  std::vector<Brand> list;
  std::vector<TrustedGateway> trusted_gateways;
  // Inbound assertions older than this (by their t=) are not believed.
  std::chrono::milliseconds max_assertion_age{7 * 86'400'000LL};
  BrandSenderNotice sender_notice;
  // Inbound mail that names a brand of `list` (display name, the brand's domain, or a
  // lookalike of it) without a valid assertion for it.
  CheckSetting unverified_claim = [] {
    CheckSetting c;
    c.action = CheckAction::kTag;
    c.subject_tag = "[UNVERIFIED BRAND]";
    c.reject_text = "this message claims to come from a brand but carries no valid brand assertion";
    return c;
  }();
};

}  // namespace meshgate::config
