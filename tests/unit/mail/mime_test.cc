// The MIME view: golden .eml files (tests/data/mail/*.eml -> *.expected, a describe() dump
// reviewed by hand) and targeted assertions on what the policy relies on.
//
// To regenerate the dumps after an intended change: MESHGATE_UPDATE_GOLDEN=1 unit_mail
// --gtest_filter='Golden*', then read the diff before committing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gateway/mail/mime.h"

namespace meshgate::mail {
namespace {

std::string dataDir() { return std::string(MESHGATE_SOURCE_DIR) + "/tests/data/mail/"; }

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

MessageView load(const std::string& name) {
  std::string bytes = readFile(dataDir() + name);
  EXPECT_FALSE(bytes.empty()) << name;
  return parseMessage(bytes);
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, MatchesExpectedDump) {
  const std::string eml = dataDir() + GetParam() + ".eml";
  const std::string expected_path = dataDir() + GetParam() + ".expected";
  std::string dump = describe(parseMessage(readFile(eml)));
  if (std::getenv("MESHGATE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(expected_path, std::ios::binary) << dump;
  }
  std::string expected = readFile(expected_path);
  ASSERT_FALSE(expected.empty()) << "missing " << expected_path;
  EXPECT_EQ(dump, expected);
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTest,
                         ::testing::Values("multipart_attachments", "charsets", "nested_rfc822",
                                           "filenames", "hostile_headers", "truncated_multipart",
                                           "html_only", "plain_lf"));

TEST(GoldenFiles, EveryEmlHasAnExpectedDump) {
  for (const auto& entry : std::filesystem::directory_iterator(dataDir())) {
    if (entry.path().extension() != ".eml") continue;
    std::filesystem::path expected = entry.path();
    expected.replace_extension(".expected");
    EXPECT_TRUE(std::filesystem::exists(expected)) << expected;
  }
}

const Attachment* findAttachment(const MessageView& v, std::string_view filename) {
  for (const Attachment& a : v.attachments()) {
    if (a.filename == filename) return &a;
  }
  return nullptr;
}

bool anyTextContains(const MessageView& v, std::string_view needle) {
  return std::any_of(v.textParts().begin(), v.textParts().end(),
                     [&](const TextPart& t) { return t.text.find(needle) != std::string::npos; });
}

TEST(Mime, MultipartWithAttachments) {
  MessageView v = load("multipart_attachments.eml");
  EXPECT_EQ(v.subject(), "Invoice 2024-001 and new bank details");
  ASSERT_EQ(v.from().size(), 1u);
  EXPECT_EQ(v.from()[0].display_name, "Supplier Billing");
  EXPECT_EQ(v.from()[0].address.toString(), "billing@supplier.example");
  ASSERT_EQ(v.replyTo().size(), 1u);
  EXPECT_EQ(v.replyTo()[0].address.domain(), "other.example");
  EXPECT_TRUE(v.anomalies().empty()) << v.anomalies().toString();

  ASSERT_EQ(v.textParts().size(), 2u);
  EXPECT_EQ(v.textParts()[0].path, "1.1");
  EXPECT_EQ(v.textParts()[0].content_type, "text/plain");
  // Quoted-printable soft breaks joined, =E2=82=AC decoded.
  EXPECT_NE(v.textParts()[0].text.find("amount € 12.400,00"), std::string::npos);
  EXPECT_NE(v.textParts()[0].text.find("BIC COBADEFFXXX"), std::string::npos);
  EXPECT_EQ(v.textParts()[1].content_type, "text/html");
  EXPECT_NE(
      v.textParts()[1].text.find("Our bank details have changed: IBAN DE89 3704 0044 0532 0130 00"),
      std::string::npos);
  EXPECT_EQ(v.textParts()[1].text.find("color"), std::string::npos);  // style dropped

  const Attachment* pdf = findAttachment(v, "invoice-2024-001.pdf");
  ASSERT_NE(pdf, nullptr);
  EXPECT_EQ(pdf->detected_type, FileType::kPdf);
  EXPECT_EQ(pdf->size, 77u);
  EXPECT_EQ(pdf->path, "2");
  const Attachment* docx = findAttachment(v, "new-bank-details.docx");
  ASSERT_NE(docx, nullptr);
  EXPECT_EQ(docx->detected_type, FileType::kDocx);
  const Attachment* exe = findAttachment(v, "payment-confirmation.pdf.exe");
  ASSERT_NE(exe, nullptr);
  EXPECT_EQ(exe->content_type, "application/pdf");  // what the sender claims
  EXPECT_EQ(exe->detected_type, FileType::kPe);     // what it is
  EXPECT_EQ(exe->size, 16u + 1024u);
  EXPECT_FALSE(anyTextContains(v, "Epilogue"));
  EXPECT_FALSE(anyTextContains(v, "multi-part message"));  // preamble
}

TEST(Mime, Charsets) {
  MessageView v = load("charsets.eml");
  EXPECT_EQ(v.subject(), "Rechnung – 请求 für Sie");
  ASSERT_EQ(v.from().size(), 1u);
  EXPECT_EQ(v.from()[0].display_name, "Jürgen Müller");
  ASSERT_EQ(v.to().size(), 1u);
  EXPECT_EQ(v.to()[0].display_name, "日本語");
  ASSERT_EQ(v.textParts().size(), 5u);
  EXPECT_EQ(v.textParts()[0].text, "Grüße aus Köln, 100 € sind fällig.");
  EXPECT_EQ(v.textParts()[1].text, "“Smart quotes” – and the euro: € 5");
  EXPECT_EQ(v.textParts()[2].text, "請求書をお送りします。お支払いは銀行振込でお願いします。");
  EXPECT_EQ(v.textParts()[3].text, "Привет! Оплатите счёт сегодня. 日本語 ✓");
  EXPECT_EQ(v.textParts()[4].text, "Счёт на оплату");
  EXPECT_TRUE(v.anomalies().empty()) << v.anomalies().toString();
}

TEST(Mime, NestedMessages) {
  MessageView v = load("nested_rfc822.eml");
  ASSERT_EQ(v.embeddedMessages().size(), 4u);
  EXPECT_EQ(v.embeddedMessages()[0].subject, "Urgent wire transfer – confidential");
  ASSERT_EQ(v.embeddedMessages()[0].from.size(), 1u);
  EXPECT_EQ(v.embeddedMessages()[0].from[0].address.toString(), "ceo@example.com");
  EXPECT_EQ(v.embeddedMessages()[1].subject, "Password expiry");  // the base64-encoded one
  EXPECT_EQ(v.embeddedMessages()[2].subject, "Digest item one");
  EXPECT_EQ(v.embeddedMessages()[3].subject, "Digest item two");
  EXPECT_TRUE(anyTextContains(v, "Gift cards are fine too."));
  EXPECT_TRUE(anyTextContains(v, "Your password expires. Keep it"));
  EXPECT_TRUE(anyTextContains(v, "Second item text."));
  const Attachment* zip = findAttachment(v, "details.zip");
  ASSERT_NE(zip, nullptr);
  EXPECT_TRUE(zip->in_embedded_message);
  EXPECT_EQ(zip->detected_type, FileType::kZip);
  EXPECT_EQ(zip->path, "2.2");
  const Attachment* eml = findAttachment(v, "original.eml");
  ASSERT_NE(eml, nullptr);
  EXPECT_EQ(eml->detected_type, FileType::kEmail);
  EXPECT_GT(eml->size, 300u);
  EXPECT_TRUE(v.anomalies().empty()) << v.anomalies().toString();
}

TEST(Mime, FileNames) {
  MessageView v = load("filenames.eml");
  EXPECT_NE(findAttachment(v, "€ Rechnung März.pdf"), nullptr);
  EXPECT_NE(findAttachment(v, "Grüße aus Köln.txt"), nullptr);
  const Attachment* exe = findAttachment(v, "счет.exe");
  ASSERT_NE(exe, nullptr);
  EXPECT_EQ(exe->detected_type, FileType::kPe);
  const Attachment* notes = findAttachment(v, "notes.txt");
  ASSERT_NE(notes, nullptr);
  EXPECT_EQ(notes->disposition, "attachment");
  EXPECT_FALSE(anyTextContains(v, "attached text"));
  const Attachment* png = findAttachment(v, "logo.png");
  ASSERT_NE(png, nullptr);
  EXPECT_EQ(png->detected_type, FileType::kPng);
  EXPECT_EQ(png->disposition, "inline");
  EXPECT_TRUE(v.textParts().empty());
}

TEST(Mime, HostileHeaders) {
  MessageView v = load("hostile_headers.eml");
  const Anomalies& a = v.anomalies();
  EXPECT_TRUE(a.has(Anomaly::kMultipleFrom));
  EXPECT_TRUE(a.has(Anomaly::kDuplicateHeader));
  EXPECT_TRUE(a.has(Anomaly::kNulByte));
  EXPECT_TRUE(a.has(Anomaly::kLongLine));
  EXPECT_TRUE(a.has(Anomaly::kBadEncodedWord));
  // Both From: fields are visible to the policy, with the address-like display name.
  ASSERT_EQ(v.from().size(), 2u);
  EXPECT_EQ(v.from()[0].display_name, "security@bank.example");
  EXPECT_EQ(v.from()[0].address.domain(), "evil.example");
  EXPECT_EQ(v.from()[1].address.domain(), "bank.example");
  EXPECT_EQ(v.subject(), "Account locked");
  EXPECT_EQ(v.headers().deletionIndexes("Mesh-Security-Signal"), (std::vector<size_t>{2, 1}));
  ASSERT_EQ(v.textParts().size(), 1u);
  EXPECT_EQ(v.textParts()[0].text, "Your account is locked.\xEF\xBF\xBD Verify now.\n");
}

TEST(Mime, TruncatedMultipart) {
  MessageView v = load("truncated_multipart.eml");
  EXPECT_TRUE(v.anomalies().has(Anomaly::kTruncatedMultipart));
  EXPECT_TRUE(v.anomalies().has(Anomaly::kUndecodablePart));
  ASSERT_EQ(v.textParts().size(), 1u);
  EXPECT_EQ(v.textParts()[0].text, "inner text");
  ASSERT_EQ(v.attachments().size(), 1u);
  EXPECT_TRUE(v.attachments()[0].decode_error);
  EXPECT_EQ(v.attachments()[0].size, 6u);  // "ABC" + "DEF"
}

TEST(Mime, HtmlOnly) {
  MessageView v = load("html_only.eml");
  ASSERT_EQ(v.textParts().size(), 1u);
  const std::string& t = v.textParts()[0].text;
  EXPECT_NE(t.find("Café sale – 50% off"), std::string::npos) << t;  // charset from <meta>
  EXPECT_NE(t.find("Giftcard bonus: paypal accepted & more."), std::string::npos) << t;
  EXPECT_NE(t.find("Total €20"), std::string::npos) << t;
  EXPECT_EQ(t.find("tracking"), std::string::npos);
  EXPECT_EQ(t.find("hidden comment"), std::string::npos);
}

TEST(Mime, PlainLfMessage) {
  MessageView v = load("plain_lf.eml");
  EXPECT_EQ(v.subject(), "plain  folded subject");
  ASSERT_EQ(v.textParts().size(), 1u);
  EXPECT_EQ(v.textParts()[0].path, "1");
  EXPECT_EQ(v.textParts()[0].text, "Just a plain body.\nSecond line.\n");
  EXPECT_EQ(v.partCount(), 1u);
}

TEST(Mime, MilterPathEqualsFilePath) {
  // The milter builds the HeaderList from xxfi_header and passes the body separately; the
  // view must be the same as from the whole file.
  std::string bytes = readFile(dataDir() + "multipart_attachments.eml");
  HeaderList headers;
  size_t body_offset = readHeaderSection(bytes, &headers);
  HeaderList milter;
  for (const Header& h : headers) milter.add(h.name, h.value);
  MessageView a = parseMime(std::move(milter), std::string_view(bytes).substr(body_offset));
  EXPECT_EQ(describe(a), describe(parseMessage(bytes)));
}

TEST(Mime, ViewOutlivesTheBody) {
  MessageView v;
  {
    std::string bytes = readFile(dataDir() + "charsets.eml");
    v = parseMessage(bytes);
    std::fill(bytes.begin(), bytes.end(), 'X');
  }
  EXPECT_EQ(v.textParts()[4].text, "Счёт на оплату");
}

TEST(Mime, FormatFlowedIsJoined) {
  MessageView v = parseMessage(
      "From: a@example.com\nContent-Type: text/plain; charset=utf-8; format=flowed\n\n"
      "Our IBAN is DE89 \n3704 0044.\n From the bank\n-- \nsig\n");
  ASSERT_EQ(v.textParts().size(), 1u);
  EXPECT_EQ(v.textParts()[0].text, "Our IBAN is DE89 3704 0044.\nFrom the bank\n-- \nsig\n");
  MessageView d = parseMessage(
      "From: a@example.com\nContent-Type: text/plain; format=flowed; delsp=yes\n\n"
      "Rech \nnung\n");
  EXPECT_EQ(d.textParts()[0].text, "Rechnung\n");
}

TEST(Mime, DefaultsAndEdgeCases) {
  // No Content-Type: text/plain, us-ascii (8-bit read as UTF-8 if valid).
  MessageView v = parseMessage("From: a@example.com\n\nd\xC3\xA9j\xC3\xA0 vu\n");
  ASSERT_EQ(v.textParts().size(), 1u);
  EXPECT_EQ(v.textParts()[0].text, "déjà vu\n");
  // An empty message.
  MessageView e = parseMessage("");
  EXPECT_TRUE(e.anomalies().has(Anomaly::kMissingFrom));
  EXPECT_EQ(e.textParts().size(), 1u);
  // A multipart without a boundary is read as text.
  MessageView nb = parseMessage("From: a@example.com\nContent-Type: multipart/mixed\n\nhello\n");
  EXPECT_TRUE(nb.anomalies().has(Anomaly::kBadBoundary));
  ASSERT_EQ(nb.textParts().size(), 1u);
  EXPECT_EQ(nb.textParts()[0].text, "hello\n");
  // Unknown charset in a part.
  MessageView uc =
      parseMessage("From: a@example.com\nContent-Type: text/plain; charset=x-klingon\n\ntext\n");
  EXPECT_TRUE(uc.anomalies().has(Anomaly::kUnknownCharset));
  EXPECT_EQ(uc.textParts()[0].text, "text\n");
  // Duplicate Content-Type: flagged (Postfix and clients may disagree on which one counts).
  MessageView dc = parseMessage(
      "From: a@example.com\nContent-Type: text/plain\nContent-Type: text/html\n\n<b>x</b>\n");
  EXPECT_TRUE(dc.anomalies().has(Anomaly::kDuplicateHeader));
  // A delimiter with transport padding is one; a line that only starts like one is content,
  // flagged because Postfix (prefix match) and some readers would split there.
  MessageView pm = parseMessage(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b  \n\n"
      "two\n--bxyz\n\nthree\n--b-- \t\n");
  ASSERT_EQ(pm.textParts().size(), 2u);
  EXPECT_EQ(pm.textParts()[1].text, "two\n--bxyz\n\nthree");
  EXPECT_EQ(pm.anomalies().toString(), "ambiguous-boundary");
  // A part whose headers run into the next boundary.
  MessageView nh = parseMessage(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
      "Content-Type: text/plain\n--b\nContent-Type: application/pdf\n\n%PDF-1.4\n--b--\n");
  ASSERT_EQ(nh.textParts().size(), 1u);
  EXPECT_EQ(nh.textParts()[0].text, "");
  ASSERT_EQ(nh.attachments().size(), 1u);
  EXPECT_EQ(nh.attachments()[0].detected_type, FileType::kPdf);
}

}  // namespace
}  // namespace meshgate::mail
