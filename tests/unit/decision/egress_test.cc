// Outbound detection and egress rules (seed 7.2.2): every condition type with matching and
// non-matching messages, first-match order at RCPT and at end of message, every action, the
// fail-closed cut body, and the shipped classified example.
#include "gateway/policy/egress_filter.h"

#include <gtest/gtest.h>

#include "gateway/policy/direction.h"
#include "gateway/policy/engine.h"
#include "tests/unit/decision/content_test_support.h"

namespace meshgate::policy {
namespace {

using namespace content_testing;

// ---- outbound detection

struct DirectionCase {
  const char* name;
  const char* yaml;
  const char* auth_user;
  const char* daemon;
  const char* address;
  Direction expected;
};

void PrintTo(const DirectionCase& c, std::ostream* os) { *os << c.name; }

class Directions : public ::testing::TestWithParam<DirectionCase> {};

TEST_P(Directions, OutboundWhenTheClientIsOurs) {
  const DirectionCase& c = GetParam();
  auto config = loadConfig(c.yaml);
  ClientInfo client;
  client.auth_user = c.auth_user;
  client.daemon_name = c.daemon;
  client.address = c.address;
  EXPECT_EQ(classifyDirection(*config, client), c.expected);
}

const DirectionCase kDirectionCases[] = {
    {"stranger", "", "", "mx1", "198.51.100.7", Direction::kInbound},
    {"authenticated", "", "alice", "", "198.51.100.7", Direction::kOutbound},
    {"authenticated_not_trusted", "egress:\n  outbound: {authenticated: false}\n", "alice", "",
     "198.51.100.7", Direction::kInbound},
    {"originating_daemon", "", "", "ORIGINATING", "198.51.100.7", Direction::kOutbound},
    {"daemon_name_any_case", "", "", "originating", "198.51.100.7", Direction::kOutbound},
    {"own_daemon_names", "egress:\n  outbound: {daemon_names: [submission, smtps]}\n", "",
     "smtps", "", Direction::kOutbound},
    {"default_daemon_replaced", "egress:\n  outbound: {daemon_names: [submission]}\n", "",
     "ORIGINATING", "", Direction::kInbound},
    {"network_v4", "egress:\n  outbound: {networks: [10.20.0.0/16]}\n", "", "", "10.20.3.4",
     Direction::kOutbound},
    {"network_v6", "egress:\n  outbound: {networks: [\"2001:db8::/32\"]}\n", "", "",
     "2001:db8::25", Direction::kOutbound},
    {"outside_the_network", "egress:\n  outbound: {networks: [10.20.0.0/16]}\n", "", "",
     "10.21.0.1", Direction::kInbound},
};

INSTANTIATE_TEST_SUITE_P(All, Directions, ::testing::ValuesIn(kDirectionCases),
                         [](const auto& p) { return std::string(p.param.name); });

// ---- labels

constexpr const char* kLabels =
    "egress:\n  labels:\n"
    "    - name: secret\n"
    "      msip_label_ids: [3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61]\n"
    "      sio_markings: [SECRET]\n"
    "      header_name: X-Classification\n"
    "      header_values: [secret, top secret]\n"
    "      subject_markers: [\"[SECRET]\"]\n"
    "    - name: confidential\n"
    "      sensitivity: [company-confidential]\n";

struct LabelCase {
  const char* name;
  const char* headers;  // extra header lines
  const char* subject;
  const char* labels;
};

void PrintTo(const LabelCase& c, std::ostream* os) { *os << c.name; }

class Labels : public ::testing::TestWithParam<LabelCase> {};

TEST_P(Labels, EveryMechanism) {
  EgressFilter filter(loadConfig(kLabels));
  mail::MessageView view = parse(std::string("From: a@example.com\nSubject: ") +
                                 GetParam().subject + "\n" + GetParam().headers + "\nbody\n");
  std::string found;
  for (const auto& l : filter.labelsOf(view)) found += (found.empty() ? "" : ",") + l;
  EXPECT_EQ(found, GetParam().labels);
}

const LabelCase kLabelCases[] = {
    {"none", "", "plans", ""},
    {"sensitivity", "Sensitivity: Company-Confidential\n", "plans", "confidential"},
    {"sensitivity_other", "Sensitivity: Personal\n", "plans", ""},
    {"msip_enabled",
     "msip_labels: MSIP_Label_3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61_Enabled=true;\n"
     " MSIP_Label_3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61_SiteId=0f1e2d3c-aaaa-bbbb-cccc-0123456789ab;\n"
     " MSIP_Label_3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61_Method=Privileged\n",
     "plans", "secret"},
    {"msip_upper_case_guid_and_spaces",
     "msip_labels: MSIP_Label_3F4C9A2E-6B1D-4E8F-9C2A-5D7E1F0B8A61_Enabled = True\n", "plans",
     "secret"},
    {"msip_disabled", "msip_labels: MSIP_Label_3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61_Enabled=false\n",
     "plans", ""},
    {"msip_other_label",
     "msip_labels: MSIP_Label_00000000-6b1d-4e8f-9c2a-5d7e1f0b8a61_Enabled=true\n", "plans", ""},
    {"msip_guid_only_in_another_attribute",
     "msip_labels: MSIP_Label_00000000-6b1d-4e8f-9c2a-5d7e1f0b8a61_Enabled=true; "
     "ParentId=3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61\n",
     "plans", ""},
    {"sio_label", "SIO-Label: marking=\"TOP SECRET\"; fgcolor=black; bgcolor=red; type=\":ess\"; "
                  "label=MQYGASkCAQM=\n",
     "plans", "secret"},
    {"sio_label_unquoted", "SIO-Label: type=\":ess\"; marking=SECRET//NOFORN\n", "plans", "secret"},
    {"sio_label_other", "SIO-Label: marking=\"UNCLASSIFIED\"\n", "plans", ""},
    {"sio_label_word_inside_a_word", "SIO-Label: marking=\"SECRETARIAT\"\n", "plans", ""},
    {"sio_label_in_another_parameter", "SIO-Label: marking=\"UNCLASSIFIED\"; note=\"SECRET\"\n",
     "plans", ""},
    {"own_header", "X-Classification: Secret\n", "plans", "secret"},
    {"own_header_encoded", "X-Classification: =?utf-8?q?TOP_SECRET?=\n", "plans", "secret"},
    {"own_header_other", "X-Classification: public\n", "plans", ""},
    {"subject_marker", "", "[SECRET] plans", "secret"},
    {"subject_marker_reply_lower_case", "", "Re: [secret] plans", "secret"},
    {"subject_marker_encoded", "", "=?utf-8?q?=5BSECRET=5D_Pl=C3=A4ne?=", "secret"},
    {"subject_word_is_no_marker", "", "Secretary meeting", ""},
    {"two_labels", "Sensitivity: company-confidential\nX-Classification: SECRET\n", "x",
     "secret,confidential"},
};

INSTANTIATE_TEST_SUITE_P(All, Labels, ::testing::ValuesIn(kLabelCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(EgressLabels, SubjectOfAnAttachedMessage) {
  EgressFilter filter(loadConfig(kLabels));
  mail::MessageView view = parse(
      "From: a@example.com\nSubject: fyi\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee below\n"
      "--b\nContent-Type: message/rfc822\n\nFrom: boss@example.com\nSubject: [SECRET] plans\n\n"
      "the plans\n--b--\n");
  EXPECT_EQ(filter.labelsOf(view), std::vector<std::string>{"secret"});
}

// ---- rules

// A message with optional attachments: {name, base64 content}.
std::string messageWith(const std::string& headers,
                        const std::vector<std::pair<std::string, std::string>>& attachments) {
  std::string m = "From: alice@example.com\nSubject: report\n" + headers +
                  "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
                  "--b\nContent-Type: text/plain\n\nhello\n";
  for (const auto& [name, b64] : attachments) {
    m += "--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; "
         "filename=\"" + name + "\"\nContent-Transfer-Encoding: base64\n\n" + b64 + "\n";
  }
  return m + "--b--\n";
}

constexpr const char* kExe = "TVqQAAMAAAAgdGhpcyBwcm9ncmFtIGNhbm5vdCBiZSBydW4=";
constexpr const char* kZip = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==";
constexpr const char* kPdf = "JVBERi0xLjcKJS4uLi4KMSAwIG9iag==";

struct RuleCase {
  const char* name;
  const char* rules;  // YAML under egress: (after labels/groups)
  const char* sender;
  std::vector<const char*> recipients;
  std::string eml;
  Verdict verdict;
  const char* rule;
  const char* checks;
};

void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

class Rules : public ::testing::TestWithParam<RuleCase> {};

constexpr const char* kGroups =
    "  groups:\n    board: [ceo@example.com, cfo@example.com]\n"
    "    rivals: [rival.example]\n";

Decision decide(const std::string& rules, const std::string& sender,
                const std::vector<const char*>& recipients, const std::string& eml,
                int64_t size = 0) {
  EgressFilter filter(loadConfig(std::string(kLabels) + kGroups + rules));
  mail::MessageView view = parse(eml);
  MessageRequest req;
  req.direction = Direction::kOutbound;
  req.sender = sender;
  req.content = &view;
  req.size = size;
  Decision d;
  for (const char* r : recipients) {
    d.recipients.push_back(recipient(r));
    req.recipients.push_back(r);
  }
  Status s = filter.onMessage(req, d);
  EXPECT_TRUE(s.ok()) << s.toString();
  return d;
}

TEST_P(Rules, FirstMatchPerRecipientThenTheMostSevere) {
  const RuleCase& c = GetParam();
  Decision d = decide(c.rules, c.sender, c.recipients, c.eml);
  EXPECT_EQ(d.verdict, c.verdict);
  EXPECT_EQ(d.rule, c.rule);
  EXPECT_EQ(checkNames(d), c.checks);
}

const std::string kPlain = messageWith("", {});
const std::string kSecret = messageWith("X-Classification: SECRET\n", {});

const RuleCase kRuleCases[] = {
    {"no_rules_allow", "", "alice@example.com", {"x@partner.net"}, kSecret, Verdict::kAccept, "",
     ""},
    {"recipient_domain", "  rules:\n    - {name: no-rivals, match: {recipient_domain: [rival.example]}, action: reject}\n",
     "alice@example.com", {"x@mail.rival.example"}, kPlain, Verdict::kReject, "egress.no-rivals",
     ""},
    {"recipient_domain_other", "  rules:\n    - {name: no-rivals, match: {recipient_domain: [rival.example]}, action: reject}\n",
     "alice@example.com", {"x@rival.example.net"}, kPlain, Verdict::kAccept, "", ""},
    {"recipient_address", "  rules:\n    - {name: r, match: {recipient_address: [Boss@Partner.net]}, action: hold}\n",
     "alice@example.com", {"boss@partner.net"}, kPlain, Verdict::kHold, "egress.r", ""},
    {"recipient_group", "  rules:\n    - {name: r, match: {recipient_group: [rivals]}, action: reject}\n",
     "alice@example.com", {"x@partner.net", "y@rival.example"}, kPlain, Verdict::kReject,
     "egress.r", ""},
    {"sender_group", "  rules:\n    - {name: board-out, match: {sender_group: [board], recipient_scope: external}, action: hold}\n",
     "cfo@example.com", {"x@partner.net"}, kPlain, Verdict::kHold, "egress.board-out", ""},
    {"sender_group_other_sender", "  rules:\n    - {name: board-out, match: {sender_group: [board]}, action: hold}\n",
     "alice@example.com", {"x@partner.net"}, kPlain, Verdict::kAccept, "", ""},
    {"sender_domain", "  rules:\n    - {name: r, match: {sender_domain: [example.com]}, action: hold}\n",
     "alice@lab.example.com", {"x@partner.net"}, kPlain, Verdict::kHold, "egress.r", ""},
    {"null_sender_matches_no_sender_list", "  rules:\n    - {name: r, match: {sender_domain: [example.com]}, action: hold}\n",
     "", {"x@partner.net"}, kPlain, Verdict::kAccept, "", ""},
    {"internal_only_is_not_external", "  rules:\n    - {name: s, match: {labels: [secret], recipient_scope: external}, action: reject}\n",
     "alice@example.com", {"bob@example.com", "carol@sub.example.com"}, kSecret, Verdict::kAccept,
     "", ""},
    {"secret_to_one_external", "  rules:\n    - {name: s, match: {labels: [secret], recipient_scope: external}, action: reject}\n",
     "alice@example.com", {"bob@example.com", "x@partner.net"}, kSecret, Verdict::kReject,
     "egress.s", ""},
    {"internal_scope", "  rules:\n    - {name: i, match: {recipient_scope: internal}, action: hold}\n",
     "alice@example.com", {"bob@example.com"}, kPlain, Verdict::kHold, "egress.i", ""},
    {"first_match_wins_allow_first",
     "  rules:\n    - {name: ok, match: {recipient_domain: [partner.net]}, action: allow}\n"
     "    - {name: s, match: {labels: [secret]}, action: reject}\n",
     "alice@example.com", {"x@partner.net"}, kSecret, Verdict::kAccept, "", ""},
    {"first_match_per_recipient",
     "  rules:\n    - {name: ok, match: {recipient_domain: [partner.net]}, action: allow}\n"
     "    - {name: s, match: {labels: [secret]}, action: reject}\n",
     "alice@example.com", {"x@partner.net", "y@other.net"}, kSecret, Verdict::kReject, "egress.s",
     ""},
    {"detected_type_beats_the_name", "  rules:\n    - {name: x, match: {attachment_types: [exe]}, action: reject}\n",
     "alice@example.com", {"x@partner.net"}, messageWith("", {{"report.pdf", kExe}}),
     Verdict::kReject, "egress.x", ""},
    {"type_other", "  rules:\n    - {name: x, match: {attachment_types: [exe]}, action: reject}\n",
     "alice@example.com", {"x@partner.net"}, messageWith("", {{"report.pdf", kPdf}}),
     Verdict::kAccept, "", ""},
    {"extension", "  rules:\n    - {name: x, match: {attachment_extensions: [docm, zip]}, action: hold}\n",
     "alice@example.com", {"x@partner.net"}, messageWith("", {{"Macro.DOCM", kZip}}),
     Verdict::kHold, "egress.x", ""},
    {"no_attachment_no_match", "  rules:\n    - {name: x, match: {attachment_types: [zip]}, action: hold}\n",
     "alice@example.com", {"x@partner.net"}, kPlain, Verdict::kAccept, "", ""},
    {"attachment_size", "  rules:\n    - {name: big, match: {attachment_larger_than: 20}, action: hold}\n",
     "alice@example.com", {"x@partner.net"}, messageWith("", {{"a.bin", kExe}}), Verdict::kHold,
     "egress.big", ""},
    {"attachment_size_small", "  rules:\n    - {name: big, match: {attachment_larger_than: 40}, action: hold}\n",
     "alice@example.com", {"x@partner.net"}, messageWith("", {{"a.bin", kExe}}), Verdict::kAccept,
     "", ""},
    {"attachments_total", "  rules:\n    - {name: big, match: {attachments_total_larger_than: 40}, action: hold}\n",
     "alice@example.com", {"x@partner.net"}, messageWith("", {{"a.bin", kExe}, {"b.pdf", kPdf}}),
     Verdict::kHold, "egress.big", ""},
    {"min_recipients", "  rules:\n    - {name: many, match: {min_recipients: 3}, action: hold}\n",
     "alice@example.com", {"a@x.net", "b@example.com", "c@y.net"}, kPlain, Verdict::kHold,
     "egress.many", ""},
    {"min_recipients_fewer", "  rules:\n    - {name: many, match: {min_recipients: 3}, action: hold}\n",
     "alice@example.com", {"a@x.net", "b@example.com"}, kPlain, Verdict::kAccept, "", ""},
    {"min_external_recipients", "  rules:\n    - {name: many, match: {min_external_recipients: 2}, action: hold}\n",
     "alice@example.com", {"a@x.net", "b@example.com", "c@example.com"}, kPlain,
     Verdict::kAccept, "", ""},
    {"encryption_else_reject", "  rules:\n    - {name: enc, match: {labels: [secret]}, action: require-encryption}\n",
     "alice@example.com", {"x@partner.net"}, kSecret, Verdict::kReject, "egress.enc",
     "encryption-required"},
    {"encryption_else_hold", "  rules:\n    - {name: enc, match: {labels: [secret]}, action: require-encryption, else: hold}\n",
     "alice@example.com", {"x@partner.net"}, kSecret, Verdict::kHold, "egress.enc",
     "encryption-required"},
    {"all_conditions_must_hold", "  rules:\n    - {name: s, match: {labels: [secret], attachment_types: [exe]}, action: reject}\n",
     "alice@example.com", {"x@partner.net"}, kSecret, Verdict::kAccept, "", ""},
};

INSTANTIATE_TEST_SUITE_P(All, Rules, ::testing::ValuesIn(kRuleCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(EgressRules, RejectTextNamesTheRecipientsConcerned) {
  Decision d = decide(
      "  rules:\n    - {name: s, match: {labels: [secret], recipient_scope: external}, action: "
      "reject}\n",
      "alice@example.com", {"bob@example.com", "x@partner.net", "y@other.net"}, kSecret);
  ASSERT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, "550");
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_EQ(d.reply.text,
            "your message to <x@partner.net>, <y@other.net> was not sent: the organization's "
            "mail policy does not allow it (rule s)");
  Decision own = decide(
      "  rules:\n    - {name: s, match: {labels: [secret]}, action: reject, reject_text: "
      "\"%r: SECRET stays inside (%n)\"}\n",
      "alice@example.com", {"x@partner.net"}, kSecret);
  EXPECT_EQ(own.reply.text, "<x@partner.net>: SECRET stays inside (s)");
}

TEST(EgressRules, HeaderEdits) {
  Decision d = decide(
      "  rules:\n    - name: mark\n      match: {recipient_scope: external}\n"
      "      action: add-header\n      add_headers: [{name: X-Sent-Outside, value: \"yes\"}]\n"
      "      remove_headers: [X-Internal-Routing]\n",
      "alice@example.com", {"x@partner.net", "y@other.net"}, kPlain);
  EXPECT_EQ(d.verdict, Verdict::kAccept);
  ASSERT_EQ(d.header_edits.size(), 2u);  // once, not once per recipient
  EXPECT_EQ(d.header_edits[0].kind, HeaderEdit::Kind::kAdd);
  EXPECT_EQ(d.header_edits[0].name, "X-Sent-Outside");
  EXPECT_EQ(d.header_edits[0].value, "yes");
  EXPECT_EQ(d.header_edits[1].kind, HeaderEdit::Kind::kRemoveAll);
  EXPECT_EQ(d.header_edits[1].name, "X-Internal-Routing");
  Decision internal = decide(
      "  rules:\n    - name: mark\n      match: {recipient_scope: external}\n"
      "      action: remove-header\n      remove_headers: [X-Internal-Routing]\n",
      "alice@example.com", {"bob@example.com"}, kPlain);
  EXPECT_TRUE(internal.header_edits.empty());
}

TEST(EgressRules, ACutBodyCountsAsMatchingForBlockingAttachmentRules) {
  const std::string rules =
      "  rules:\n    - {name: x, match: {attachment_types: [exe]}, action: reject}\n"
      "    - {name: tag, match: {attachment_types: [exe]}, action: add-header, add_headers: "
      "[{name: X-A, value: b}]}\n";
  std::string eml = messageWith("", {{"report.pdf", kPdf}});
  // The milter kept fewer bytes than the message had: an .exe may sit in the part not seen.
  Decision cut = decide(rules, "alice@example.com", {"x@partner.net"}, eml, 50'000'000);
  EXPECT_EQ(cut.verdict, Verdict::kReject);
  Decision whole = decide(rules, "alice@example.com", {"x@partner.net"}, eml, 0);
  EXPECT_EQ(whole.verdict, Verdict::kAccept);
}

TEST(EgressRules, InboundMailIsNotEgress) {
  EgressFilter filter(loadConfig(
      "egress:\n  rules:\n    - {name: r, match: {recipient_domain: [example.com]}, action: "
      "reject}\n"));
  mail::MessageView view = parse(kPlain);
  MessageRequest req;
  req.direction = Direction::kInbound;
  req.content = &view;
  Decision d;
  d.recipients = {recipient("bob@example.com")};
  ASSERT_TRUE(filter.onMessage(req, d).ok());
  RecipientDecision r = recipient("bob@example.com");
  ASSERT_TRUE(filter.onRecipient(req, r).ok());
  EXPECT_EQ(d.verdict, Verdict::kAccept);
  EXPECT_EQ(r.verdict, Verdict::kAccept);
}

// ---- at RCPT

struct RcptCase {
  const char* name;
  const char* rules;
  const char* recipient;
  Verdict verdict;
};

void PrintTo(const RcptCase& c, std::ostream* os) { *os << c.name; }

class RcptRules : public ::testing::TestWithParam<RcptCase> {};

TEST_P(RcptRules, DecideBeforeDataOnlyWhenOrderAllows) {
  EgressFilter filter(loadConfig(std::string(kLabels) + kGroups + GetParam().rules));
  MessageRequest req;
  req.direction = Direction::kOutbound;
  req.sender = "alice@example.com";
  RecipientDecision r = recipient(GetParam().recipient);
  ASSERT_TRUE(filter.onRecipient(req, r).ok());
  EXPECT_EQ(r.verdict, GetParam().verdict);
  if (r.verdict == Verdict::kReject) {
    EXPECT_EQ(r.reply.code, "550");
    EXPECT_NE(r.reply.text.find(GetParam().recipient), std::string::npos) << r.reply.text;
  }
}

const RcptCase kRcptCases[] = {
    {"blocked_domain", "  rules:\n    - {name: r, match: {recipient_group: [rivals]}, action: reject}\n",
     "ceo@rival.example", Verdict::kReject},
    {"other_domain", "  rules:\n    - {name: r, match: {recipient_group: [rivals]}, action: reject}\n",
     "ceo@partner.net", Verdict::kAccept},
    {"external_scope", "  rules:\n    - {name: r, match: {recipient_scope: external}, action: reject}\n",
     "x@partner.net", Verdict::kReject},
    {"content_rule_first_defers",
     "  rules:\n    - {name: s, match: {labels: [secret]}, action: allow}\n"
     "    - {name: r, match: {recipient_group: [rivals]}, action: reject}\n",
     "ceo@rival.example", Verdict::kAccept},
    {"allow_first_wins",
     "  rules:\n    - {name: ok, match: {recipient_address: [ceo@rival.example]}, action: allow}\n"
     "    - {name: r, match: {recipient_group: [rivals]}, action: reject}\n",
     "ceo@rival.example", Verdict::kAccept},
    {"non_matching_content_rule_is_skipped",
     "  rules:\n    - {name: s, match: {labels: [secret], recipient_scope: internal}, action: allow}\n"
     "    - {name: r, match: {recipient_group: [rivals]}, action: reject}\n",
     "ceo@rival.example", Verdict::kReject},
    {"hold_waits_for_the_message", "  rules:\n    - {name: r, match: {recipient_group: [rivals]}, action: hold}\n",
     "ceo@rival.example", Verdict::kAccept},
};

INSTANTIATE_TEST_SUITE_P(All, RcptRules, ::testing::ValuesIn(kRcptCases),
                         [](const auto& p) { return std::string(p.param.name); });

// ---- the shipped classified example, through the whole engine

class Classified : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = config::loadConfigFile(std::string(MESHGATE_SOURCE_DIR) + "/conf/classified.yaml");
    ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0]);
    engine_ = std::make_unique<DecisionEngine>(r.config, store_, clock_);
    ON_CALL(store_, getAccount(::testing::_))
        .WillByDefault(::testing::Return(Result<AccountRecord>(notFound("none"))));
    ON_CALL(store_, listEntries(::testing::_, ::testing::_, ::testing::_))
        .WillByDefault(::testing::Return(Result<Page<CatalogEntry>>(Page<CatalogEntry>{})));
    ON_CALL(store_, putEntry(::testing::_, ::testing::_))
        .WillByDefault(::testing::Return(Result<int64_t>(int64_t{1})));
  }

  // Sends like an authenticated user through the engine; the RCPT-stage refusals are returned
  // as recipients with verdict reject.
  Decision send(const std::string& eml, const std::vector<std::string>& to) {
    MessageRequest req;
    req.client.auth_user = "alice";
    req.direction = classifyDirection(engine_->config(), req.client);
    req.sender = "alice@agency.example";
    auto d = engine_->onSender(req);
    EXPECT_TRUE(d.ok());
    Decision so_far = *d;
    for (const auto& r : to) {
      auto rd = engine_->onRecipient(req, r);
      EXPECT_TRUE(rd.ok());
      if (rd->verdict == Verdict::kAccept) req.recipients.push_back(r);
      so_far.recipients.push_back(*rd);
    }
    mail::MessageView view = parse(eml);
    req.content = &view;
    auto out = engine_->onMessage(req, so_far);
    EXPECT_TRUE(out.ok()) << out.status().toString();
    return out.ok() ? *out : Decision{};
  }

  ::testing::NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'000};
  std::unique_ptr<DecisionEngine> engine_;
};

TEST_F(Classified, NothingLabelledSecretLeavesWhicheverWayItIsLabelled) {
  const char* labelled[] = {
      "msip_labels: MSIP_Label_3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61_Enabled=true\n",
      "msip_labels: MSIP_Label_8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d_Enabled=true\n",
      "SIO-Label: marking=\"TOP SECRET\"; type=\":ess\"\n",
      "X-Classification: Secret\n",
      "Subject: [SECRET] the plan\n",
      "Subject: SECRET//NOFORN the plan\n",
  };
  for (const char* header : labelled) {
    std::string eml = std::string(header) + "From: alice@agency.example\n" +
                      (std::string(header).rfind("Subject", 0) == 0 ? "" : "Subject: plan\n") +
                      "\nthe plan\n";
    Decision out = send(eml, {"bob@agency.example", "x@defence-partner.example"});
    EXPECT_EQ(out.verdict, Verdict::kReject) << header;
    EXPECT_EQ(out.rule, "egress.secret-stays-inside") << header;
    EXPECT_NE(out.reply.text.find("classified SECRET"), std::string::npos);
    // Internally it goes, marked.
    Decision in = send(eml, {"bob@agency.example", "carol@agency-ops.example"});
    EXPECT_EQ(in.verdict, Verdict::kAccept) << header;
    ASSERT_EQ(in.header_edits.size(), 1u) << header;
    EXPECT_EQ(in.header_edits[0].name, "X-Agency-Handling");
  }
}

TEST_F(Classified, ConfidentialGoesToClearedPartnersOnlyEncrypted) {
  std::string eml = "From: alice@agency.example\nSubject: [CONFIDENTIAL] budget\n\nnumbers\n";
  Decision partner = send(eml, {"x@ministry.example"});
  EXPECT_EQ(partner.verdict, Verdict::kHold);
  EXPECT_TRUE(hasCheck(partner, "encryption-required"));
  Decision elsewhere = send(eml, {"x@press.example"});
  EXPECT_EQ(elsewhere.verdict, Verdict::kReject);
  EXPECT_EQ(elsewhere.rule, "egress.confidential-elsewhere");
}

TEST_F(Classified, UnlabelledMailWithAProgramIsRefused) {
  Decision out = send(messageWith("", {{"invoice.pdf", kExe}}), {"x@press.example"});
  EXPECT_EQ(out.verdict, Verdict::kReject);
  EXPECT_EQ(out.rule, "egress.no-executables-out");
  Decision plain = send("From: alice@agency.example\nSubject: lunch\n\nat noon?\n",
                        {"x@press.example"});
  EXPECT_EQ(plain.verdict, Verdict::kAccept);
}

}  // namespace
}  // namespace meshgate::policy
