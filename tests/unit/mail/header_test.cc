// HeaderList (milter index semantics), the header-section reader, unfolding, RFC 2047 and
// RFC 2231.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/mail/header.h"

namespace meshgate::mail {
namespace {

struct EncodedWordCase {
  std::string input;
  std::string decoded;
  bool malformed;
};

void PrintTo(const EncodedWordCase& c, std::ostream* os) { *os << c.input; }

class EncodedWordTest : public ::testing::TestWithParam<EncodedWordCase> {};

TEST_P(EncodedWordTest, Decodes) {
  const EncodedWordCase& c = GetParam();
  bool malformed = false;
  EXPECT_EQ(decodeEncodedWords(c.input, &malformed), c.decoded) << c.input;
  EXPECT_EQ(malformed, c.malformed) << c.input;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc2047, EncodedWordTest,
    ::testing::Values(EncodedWordCase{"plain subject", "plain subject", false},
                      EncodedWordCase{"=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "Grüße", false},
                      EncodedWordCase{"=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße", false},
                      EncodedWordCase{"=?iso-8859-1?q?caf=E9_cr=E8me?=", "café crème", false},
                      EncodedWordCase{"=?windows-1252?q?=80_100?=", "€ 100", false},
                      // ISO-8859-1 is read as windows-1252, as clients do: 0x80 is the euro sign.
                      EncodedWordCase{"=?iso-8859-1?q?=80?=", "€", false},
                      EncodedWordCase{"=?shift_jis?B?k/qWe4zq?=", "日本語", false},
                      EncodedWordCase{"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "日本語", false},
                      EncodedWordCase{"=?koi8-r?b?8NLJ18XU?=", "Привет", false},
                      EncodedWordCase{"=?utf-8*en?q?hello?=", "hello", false},  // RFC 2231 language
                      // Whitespace between adjacent encoded words goes; around plain text it stays.
                      EncodedWordCase{"=?utf-8?q?a?= =?utf-8?q?b?=", "ab", false},
                      EncodedWordCase{"=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab", false},
                      EncodedWordCase{"x =?utf-8?q?a?= y", "x a y", false},
                      EncodedWordCase{"=?utf-8?q?a_b?=", "a b", false},
                      // A UTF-8 character split across two words is joined before conversion.
                      EncodedWordCase{"=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "€", false},
                      // Folded plain text.
                      EncodedWordCase{"Hello\r\n world", "Hello world", false},
                      // Raw 8-bit: UTF-8 if valid, else windows-1252.
                      EncodedWordCase{"caf\xc3\xa9", "café", false},
                      EncodedWordCase{"caf\xe9", "café", false},
                      // Not encoded words: kept as they are.
                      EncodedWordCase{"=?utf-8?x?abc?=", "=?utf-8?x?abc?=", false},
                      EncodedWordCase{"=?utf-8?q?no end", "=?utf-8?q?no end", false},
                      EncodedWordCase{"=??q?abc?=", "=??q?abc?=", false},
                      EncodedWordCase{"=?=?=?=?", "=?=?=?=?", false},
                      // Broken ones: decoded as far as possible, flagged.
                      EncodedWordCase{"=?no-such-charset?q?abc?=", "abc", true},
                      EncodedWordCase{"=?utf-8?b?!!!!QUJD?=", "ABC", true},
                      EncodedWordCase{"=?utf-8?q?=ZZ?=", "=ZZ", true},
                      EncodedWordCase{"=?utf-8?q?=FF=FE?=", "\xEF\xBF\xBD\xEF\xBF\xBD", false},
                      EncodedWordCase{"=?utf-8?q?a=00b?=",
                                      "a\xEF\xBF\xBD"
                                      "b",
                                      false},
                      EncodedWordCase{"=?utf-8,swaplfnl?q?abc?=", "abc", true}));

TEST(HeaderList, MilterIndexSemantics) {
  HeaderList h;
  h.add("Received", "from a");
  h.add("Mesh-Security-Signal", "forged-1");
  h.add("Subject", "hi");
  h.add("mesh-security-signal", "forged-2");
  h.add("MESH-SECURITY-SIGNAL", "forged-3");
  EXPECT_EQ(h.size(), 5u);
  EXPECT_EQ(h.count("Mesh-Security-Signal"), 3u);
  ASSERT_NE(h.occurrence("mesh-security-signal", 1), nullptr);
  EXPECT_EQ(h.occurrence("mesh-security-signal", 1)->value, "forged-1");
  EXPECT_EQ(h.occurrence("mesh-security-signal", 3)->value, "forged-3");
  EXPECT_EQ(h.occurrence("mesh-security-signal", 4), nullptr);
  EXPECT_EQ(h.occurrence("mesh-security-signal", 0), nullptr);
  EXPECT_EQ(h.positionOf("Mesh-Security-Signal", 2), 3u);
  EXPECT_EQ(h.deletionIndexes("Mesh-Security-Signal"), (std::vector<size_t>{3, 2, 1}));
  EXPECT_TRUE(h.deletionIndexes("X-None").empty());
  ASSERT_NE(h.find("SUBJECT"), nullptr);
  EXPECT_EQ(*h.find("SUBJECT"), "hi");
  EXPECT_EQ(h.find("Date"), nullptr);
  EXPECT_EQ(h.all("mesh-security-signal").size(), 3u);
}

// Simulates smfi_chgheader(name, index, NULL) on a list, to prove that deleting in the order
// deletionIndexes() gives removes every copy (and that ascending order would not).
std::vector<Header> deleteByIndexes(const HeaderList& h, const std::string& name,
                                    const std::vector<size_t>& indexes) {
  std::vector<Header> list(h.begin(), h.end());
  for (size_t index : indexes) {
    size_t seen = 0;
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (strcasecmp(it->name.c_str(), name.c_str()) == 0 && ++seen == index) {
        list.erase(it);
        break;
      }
    }
  }
  return list;
}

TEST(HeaderList, DeletionIndexesRemoveEveryCopy) {
  HeaderList h;
  for (int i = 0; i < 4; ++i) {
    h.add("X-Other", std::to_string(i));
    h.add("Mesh-Security-Signal", "forged" + std::to_string(i));
  }
  std::vector<Header> left =
      deleteByIndexes(h, "Mesh-Security-Signal", h.deletionIndexes("Mesh-Security-Signal"));
  EXPECT_EQ(left.size(), 4u);
  for (const Header& x : left) EXPECT_EQ(x.name, "X-Other");
  // The bug class of CVE-2022-48521: ascending indexes leave copies behind.
  std::vector<Header> wrong = deleteByIndexes(h, "Mesh-Security-Signal", {1, 2, 3, 4});
  EXPECT_GT(wrong.size(), 4u);
}

TEST(HeaderList, LimitsAndFlags) {
  Limits limits;
  limits.max_headers = 3;
  limits.max_header_value_bytes = 10;
  HeaderList h(limits);
  EXPECT_TRUE(h.add("A", "1"));
  EXPECT_TRUE(h.add("B", "0123456789abcdef"));
  EXPECT_EQ(h[1].value, "0123456789");
  EXPECT_TRUE(h.anomalies().has(Anomaly::kHeaderTruncated));
  EXPECT_TRUE(h.add("C", std::string("a\0b", 3)));
  EXPECT_TRUE(h.anomalies().has(Anomaly::kNulByte));
  EXPECT_FALSE(h.add("D", "4"));
  EXPECT_TRUE(h.overflowed());
  EXPECT_EQ(h.size(), 3u);

  HeaderList lines;
  lines.add("Subject", std::string(989, 'x'));  // "Subject: " + 989 = 998: the limit
  EXPECT_FALSE(lines.anomalies().has(Anomaly::kLongLine));
  lines.add("Subject", std::string(990, 'x'));
  EXPECT_TRUE(lines.anomalies().has(Anomaly::kLongLine));
  HeaderList ok;
  ok.add("Subject", std::string(989, 'x') + "\r\n " + std::string(900, 'y'));
  EXPECT_FALSE(ok.anomalies().has(Anomaly::kLongLine));
  HeaderList too_long;
  too_long.add("Subject", std::string(980, 'x'));
  too_long.add("X", "short\r\n " + std::string(1000, 'y'));
  EXPECT_TRUE(too_long.anomalies().has(Anomaly::kLongLine));
}

TEST(HeaderList, SectionByteLimit) {
  Limits limits;
  limits.max_header_section_bytes = 100;
  HeaderList h(limits);
  EXPECT_TRUE(h.add("A", std::string(50, 'a')));
  EXPECT_FALSE(h.add("B", std::string(60, 'b')));
  EXPECT_TRUE(h.overflowed());
}

TEST(ReadHeaderSection, SplitsLikePostfix) {
  std::string msg =
      "From sender@example.com Mon Jan  1 00:00:00 2024\n"
      "Received: from a\r\n"
      "\tby b\r\n"
      "Subject : spaced name\r\n"
      "X-Empty:\r\n"
      "From: a@example.com\r\n"
      "\r\n"
      "Body: not a header\r\n";
  HeaderList h;
  size_t body = readHeaderSection(msg, &h);
  EXPECT_EQ(msg.substr(body), "Body: not a header\r\n");
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].name, "Received");
  EXPECT_EQ(h[0].value, "from a\r\n\tby b");
  EXPECT_EQ(unfold(h[0].value), "from a\tby b");
  EXPECT_EQ(h[1].name, "Subject");
  EXPECT_EQ(h[1].value, "spaced name");
  EXPECT_EQ(h[2].value, "");
  EXPECT_TRUE(h.anomalies().empty());
}

TEST(ReadHeaderSection, NonHeaderLineStartsTheBody) {
  std::string msg = "Subject: a\nthis is not a header\nFrom: x@example.com\n\nbody\n";
  HeaderList h;
  size_t body = readHeaderSection(msg, &h);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(msg.substr(body, 20), "this is not a header");
  EXPECT_TRUE(h.anomalies().has(Anomaly::kMalformedHeader));

  HeaderList h2;
  std::string lead = " leading continuation\nSubject: a\n\n";
  EXPECT_EQ(readHeaderSection(lead, &h2), 0u);
  EXPECT_TRUE(h2.anomalies().has(Anomaly::kMalformedHeader));

  HeaderList h3;
  std::string nul = std::string("Sub\0ject: a\n\nbody", 17);
  EXPECT_EQ(readHeaderSection(nul, &h3), 0u);  // a NUL in a name is no header

  HeaderList h4;
  std::string no_body = "Subject: a\r\nTo: b@example.com";
  EXPECT_EQ(readHeaderSection(no_body, &h4), no_body.size());
  EXPECT_EQ(h4.size(), 2u);
  EXPECT_EQ(h4[1].value, "b@example.com");
}

TEST(Unfold, Variants) {
  EXPECT_EQ(unfold("a\r\n b"), "a b");
  EXPECT_EQ(unfold("a\n\tb"), "a\tb");
  EXPECT_EQ(unfold("a\r\nb"), "a b");  // not a fold: the break becomes a space
  EXPECT_EQ(unfold("a\rb"), "a b");
  EXPECT_EQ(unfold("a\r\n"), "a ");
  EXPECT_EQ(unfold(""), "");
}

struct StructuredCase {
  std::string input;
  std::string value;
  std::vector<std::pair<std::string, std::string>> params;
  bool malformed;
};

void PrintTo(const StructuredCase& c, std::ostream* os) { *os << c.input; }

class StructuredFieldTest : public ::testing::TestWithParam<StructuredCase> {};

TEST_P(StructuredFieldTest, Parses) {
  const StructuredCase& c = GetParam();
  StructuredField f = parseStructuredField(c.input);
  EXPECT_EQ(f.value, c.value);
  EXPECT_EQ(f.params, c.params);
  EXPECT_EQ(f.malformed, c.malformed);
}

using P = std::vector<std::pair<std::string, std::string>>;

INSTANTIATE_TEST_SUITE_P(
    ContentFields, StructuredFieldTest,
    ::testing::Values(
        StructuredCase{"text/plain", "text/plain", P{}, false},
        StructuredCase{"Text/HTML; Charset=\"UTF-8\"", "text/html", P{{"charset", "UTF-8"}}, false},
        StructuredCase{"multipart/mixed;\r\n boundary=\"==b=;1\"", "multipart/mixed",
                       P{{"boundary", "==b=;1"}}, false},
        StructuredCase{"attachment; filename=\"a \\\"q\\\".pdf\"", "attachment",
                       P{{"filename", "a \"q\".pdf"}}, false},
        StructuredCase{"attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf", "attachment",
                       P{{"filename", "€ rates.pdf"}}, false},
        StructuredCase{"attachment; filename*=iso-8859-1'de'M%FCller.txt", "attachment",
                       P{{"filename", "Müller.txt"}}, false},
        StructuredCase{"attachment; filename*0*=UTF-8''%E6%97%A5; filename*1*=%E6%9C%AC; "
                       "filename*2=\".doc\"",
                       "attachment", P{{"filename", "日本.doc"}}, false},
        // Continuations in the wrong order are put in order.
        StructuredCase{"attachment; filename*1=\"b\"; filename*0=\"a\"", "attachment",
                       P{{"filename", "ab"}}, false},
        // RFC 2231 wins over the plain form that clients add for old readers.
        StructuredCase{"attachment; filename=\"old.pdf\"; filename*=utf-8''new.pdf", "attachment",
                       P{{"filename", "new.pdf"}}, false},
        // Outlook's encoded word in a quoted value.
        StructuredCase{"attachment; filename=\"=?utf-8?B?UmVjaG51bmcucGRm?=\"", "attachment",
                       P{{"filename", "Rechnung.pdf"}}, false},
        StructuredCase{"text/plain (a comment); charset=us-ascii (another)", "text/plain",
                       P{{"charset", "us-ascii"}}, false},
        // Broken.
        StructuredCase{"attachment; filename", "attachment", P{}, true},
        StructuredCase{"attachment; filename=\"unterminated", "attachment",
                       P{{"filename", "unterminated"}}, true},
        StructuredCase{"attachment; filename*0=\"a\"; filename*2=\"c\"", "attachment",
                       P{{"filename", "a"}}, true},
        StructuredCase{"attachment; filename*99999=\"a\"", "attachment", P{}, true},
        StructuredCase{"", "", P{}, false}));

}  // namespace
}  // namespace meshgate::mail
