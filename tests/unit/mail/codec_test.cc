// Transfer decodings, charset conversion and the HTML reducer.
#include <gtest/gtest.h>

#include <string>

#include "gateway/mail/codec.h"
#include "gateway/mail/filetype.h"
#include "gateway/mail/html.h"

namespace meshgate::mail {
namespace {

std::string b64(std::string_view in, DecodeResult* r = nullptr, size_t max = SIZE_MAX) {
  std::string out;
  DecodeResult d = decodeBase64(in, &out, max);
  if (r != nullptr) *r = d;
  return out;
}

TEST(Base64, DecodesLeniently) {
  EXPECT_EQ(b64("SGVsbG8="), "Hello");
  EXPECT_EQ(b64("SGVs\r\nbG8="), "Hello");
  EXPECT_EQ(b64("SGVsbG8"), "Hello");  // unpadded tail
  EXPECT_EQ(b64("SGk=SGk="), "HiHi");  // concatenated padded blocks
  DecodeResult r;
  EXPECT_EQ(b64("SG!Vs*bG8=", &r), "Hello");
  EXPECT_TRUE(r.error);
  EXPECT_EQ(b64("S", &r), "");
  EXPECT_TRUE(r.error);
  EXPECT_EQ(b64("", &r), "");
  EXPECT_FALSE(r.error);
}

TEST(Base64, CountsPastTheLimit) {
  DecodeResult r;
  EXPECT_EQ(b64("SGVsbG8gd29ybGQ=", &r, 5), "Hello");
  EXPECT_EQ(r.size, 11u);
  EXPECT_TRUE(r.truncated);
  DecodeResult count_only = decodeBase64("SGVsbG8gd29ybGQ=", nullptr, 0);
  EXPECT_EQ(count_only.size, 11u);
}

TEST(QuotedPrintable, Decodes) {
  std::string out;
  DecodeResult r = decodeQuotedPrintable("caf=C3=A9 =\r\nsoft=\nbreak=  \r\nx", &out, SIZE_MAX);
  EXPECT_EQ(out, "café softbreakx");
  EXPECT_FALSE(r.error);
  out.clear();
  r = decodeQuotedPrintable("a=ZZb=4", &out, SIZE_MAX);
  EXPECT_EQ(out, "a=ZZb=4");
  EXPECT_TRUE(r.error);
  out.clear();
  decodeQuotedPrintable("=3d=3D=", &out, SIZE_MAX);
  EXPECT_EQ(out, "==");
  out.clear();
  decodeQuotedPrintable("a_b=20c", &out, SIZE_MAX, /*q_encoding=*/true);
  EXPECT_EQ(out, "a b c");
}

struct CharsetCase {
  std::string charset;
  std::string bytes;
  std::string utf8;
  bool known;
  bool replaced;
};

void PrintTo(const CharsetCase& c, std::ostream* os) { *os << c.charset; }

class CharsetTest : public ::testing::TestWithParam<CharsetCase> {};

TEST_P(CharsetTest, ConvertsToUtf8) {
  const CharsetCase& c = GetParam();
  std::string out;
  ConvertResult r = convertToUtf8(c.charset, c.bytes, &out, SIZE_MAX);
  EXPECT_EQ(out, c.utf8);
  EXPECT_EQ(r.known_charset, c.known);
  EXPECT_EQ(r.replaced, c.replaced);
  EXPECT_TRUE(isValidUtf8(out));
}

INSTANTIATE_TEST_SUITE_P(
    Charsets, CharsetTest,
    ::testing::Values(
        CharsetCase{"utf-8",
                    "gr\xC3\xBC\xC3\x9F"
                    "e",
                    "grüße", true, false},
        CharsetCase{"UTF8", "\xE2\x82\xAC", "€", true, false},
        CharsetCase{"utf-8",
                    "a\xFF"
                    "b",
                    "a\xEF\xBF\xBD"
                    "b",
                    true, true},
        CharsetCase{"utf-8", "\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD", true, true},  // overlong
        CharsetCase{"utf-8", "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", true, true},
        CharsetCase{"utf-8", std::string("a\0b", 3),
                    "a\xEF\xBF\xBD"
                    "b",
                    true, true},
        CharsetCase{"iso-8859-1", "caf\xE9", "café", true, false},
        CharsetCase{"ISO-8859-1", "\x80", "€", true, false},  // read as windows-1252
        CharsetCase{"windows-1252", "\x93quoted\x94", "“quoted”", true, false},
        CharsetCase{"iso-8859-15", "\xA4", "€", true, false},
        CharsetCase{"iso-8859-2", "\xB1", "ą", true, false},
        CharsetCase{"koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4", "Привет", true, false},
        CharsetCase{"Shift_JIS", "\x93\xFA\x96\x7B\x8C\xEA", "日本語", true, false},
        CharsetCase{"iso-2022-jp", "\x1B$BF|K\\8l\x1B(B", "日本語", true, false},
        CharsetCase{"euc-kr", "\xC7\xD1\xB1\xB9", "한국", true, false},
        CharsetCase{"gb2312", "\xD6\xD0\xCE\xC4", "中文", true, false},
        CharsetCase{"big5", "\xA4\xA4\xA4\xE5", "中文", true, false},
        CharsetCase{"utf-16le", std::string("h\0i\0", 4), "hi", true, false},
        CharsetCase{"\"utf-8\"", "x", "x", true, false},
        // No or unknown charset: UTF-8 if valid, else windows-1252.
        CharsetCase{"", "caf\xC3\xA9", "café", true, false},
        CharsetCase{"us-ascii", "caf\xE9", "café", true, false},
        CharsetCase{"x-no-such-charset", "caf\xE9", "café", false, false},
        CharsetCase{"utf-8,swaplfnl", "x", "x", false, false},
        CharsetCase{std::string(100, 'a'), "x", "x", false, false}));

TEST(Charset, StopsAtTheLimitOnACharacterBoundary) {
  std::string out;
  ConvertResult r = convertToUtf8("utf-8", "ab€€", &out, 6);
  EXPECT_EQ(out, "ab€");
  EXPECT_TRUE(r.truncated);
  out.clear();
  r = convertToUtf8("shift_jis", "\x93\xFA\x96\x7B\x8C\xEA", &out, 7);
  EXPECT_EQ(out, "日本");
  EXPECT_TRUE(r.truncated);
}

TEST(Charset, ConvertersAreReusedSafely) {
  // A stateful converter left mid-sequence must not leak state into the next message.
  std::string out;
  convertToUtf8("iso-2022-jp", "\x1B$BF|", &out, SIZE_MAX);
  out.clear();
  convertToUtf8("iso-2022-jp", "abc", &out, SIZE_MAX);
  EXPECT_EQ(out, "abc");
  for (int i = 0; i < 20; ++i) {  // more charsets than cache slots
    out.clear();
    convertToUtf8(i % 2 ? "iso-8859-2" : "koi8-r", "abc", &out, SIZE_MAX);
    convertToUtf8("iso-8859-" + std::to_string(3 + i % 10), "x", &out, SIZE_MAX);
  }
  out.clear();
  convertToUtf8("koi8-r", "\xF0", &out, SIZE_MAX);
  EXPECT_EQ(out, "П");
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("\xEF\xBF\xBD"));  // U+FFFD itself is fine
  EXPECT_TRUE(isValidUtf8("\xF0\x9F\x92\xA9"));
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));
  EXPECT_EQ(sanitizeUtf8(std::string("a\0\xFF", 3)), "a\xEF\xBF\xBD\xEF\xBF\xBD");
  // Cut short, whole characters only (a held message's subject, PostgreSQL's text columns).
  EXPECT_EQ(sanitizeUtf8("ab\xC3\xA9", 3), "ab");
  EXPECT_EQ(sanitizeUtf8("ab\xC3\xA9", 4), "ab\xC3\xA9");
  EXPECT_TRUE(isValidUtf8(sanitizeUtf8("Rechnung \xFC\xE4 f\xC3\xBCr", 11)));
}

struct HtmlCase {
  std::string html;
  std::string text;
};

void PrintTo(const HtmlCase& c, std::ostream* os) { *os << c.html; }

class HtmlTest : public ::testing::TestWithParam<HtmlCase> {};

TEST_P(HtmlTest, ReducesToText) {
  EXPECT_EQ(htmlToText(GetParam().html, 1 << 20), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Html, HtmlTest,
    ::testing::Values(HtmlCase{"<p>Hello <b>world</b></p>", "Hello world"},
                      HtmlCase{"pay<span>pal</span>", "paypal"},
                      HtmlCase{"a<br>b<br/>c", "a\nb\nc"},
                      HtmlCase{"<p>one</p><p>two</p>", "one\n\ntwo"},
                      HtmlCase{"<table><tr><td>IBAN</td><td>DE89</td></tr></table>", "IBAN DE89"},
                      HtmlCase{"x<script>var a = '<p>no</p>';</script>y", "xy"},
                      HtmlCase{"<STYLE>p{}</style>z", "z"},
                      HtmlCase{"<html><head><title>T</title></head><body>B</body></html>", "B"},
                      HtmlCase{"a<!-- hidden <p> -->b", "ab"},
                      HtmlCase{"<a href=\"x>y\" title='>'>link</a>", "link"},
                      HtmlCase{"&amp; &lt;&gt; &quot;&#65;&#x42;&euro;&nbsp;x", "& <> \"AB€ x"},
                      HtmlCase{"in&shy;voice",
                               "in\xC2\xAD"
                               "voice"},  // removed later by the MIME layer
                      HtmlCase{"&unknown; &#0; &#x110000; &",
                               "&unknown; \xEF\xBF\xBD \xEF\xBF\xBD &"},
                      HtmlCase{"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
                      HtmlCase{"  lots   of\n\n  space  ", "lots of space"},
                      HtmlCase{"<p>unclosed <b", "unclosed"}, HtmlCase{"<script>never closed", ""},
                      HtmlCase{"<!DOCTYPE html><?xml x?>ok", "ok"}));

TEST(Html, OutputLimit) {
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "<p>word</p>";
  EXPECT_LE(htmlToText(big, 100).size(), 100u);
}

struct MagicCase {
  std::string name;
  std::string head;
  FileType type;
};

void PrintTo(const MagicCase& c, std::ostream* os) { *os << c.name; }

std::string zipEntry(std::string_view name, std::string_view data) {
  std::string h("PK\x03\x04", 4);
  h += std::string(14, '\0');  // version, flags, method, time, date, crc
  auto le32 = [](size_t v) {
    std::string s;
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return s;
  };
  h += le32(data.size()) + le32(data.size());
  h.push_back(static_cast<char>(name.size()));
  h.push_back('\0');
  h += std::string(2, '\0');
  h += name;
  h += data;
  return h;
}

class MagicTest : public ::testing::TestWithParam<MagicCase> {};

TEST_P(MagicTest, Detects) { EXPECT_EQ(detectFileType(GetParam().head), GetParam().type); }

INSTANTIATE_TEST_SUITE_P(
    Magic, MagicTest,
    ::testing::Values(
        MagicCase{"pe", "MZ\x90\x00", FileType::kPe},
        MagicCase{"elf",
                  "\x7F"
                  "ELF\x02",
                  FileType::kElf},
        MagicCase{"pdf", "%PDF-1.7\n", FileType::kPdf},
        MagicCase{"pdf-late", "junk\r\n%PDF-1.4", FileType::kPdf},
        MagicCase{"ole2", std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8), FileType::kOle2},
        MagicCase{"rtf", "{\\rtf1\\ansi", FileType::kRtf},
        MagicCase{"zip", zipEntry("a.txt", "hello"), FileType::kZip},
        MagicCase{"docx",
                  zipEntry("[Content_Types].xml", "<x/>") + zipEntry("_rels/.rels", "r") +
                      zipEntry("word/document.xml", "d"),
                  FileType::kDocx},
        MagicCase{"xlsx",
                  zipEntry("[Content_Types].xml", "<x/>") + zipEntry("xl/workbook.xml", "w"),
                  FileType::kXlsx},
        MagicCase{"pptx", zipEntry("ppt/presentation.xml", "p"), FileType::kPptx},
        MagicCase{"ooxml", zipEntry("[Content_Types].xml", "<x/>"), FileType::kOoxml},
        MagicCase{"odt", zipEntry("mimetype", "application/vnd.oasis.opendocument.text"),
                  FileType::kOpenDocument},
        MagicCase{"jar", zipEntry("META-INF/MANIFEST.MF", "Manifest-Version: 1.0"), FileType::kJar},
        MagicCase{"rar", "Rar!\x1A\x07\x01", FileType::kRar},
        MagicCase{"7z", "7z\xBC\xAF\x27\x1C", FileType::kSevenZip},
        MagicCase{"gzip", "\x1F\x8B\x08", FileType::kGzip},
        MagicCase{"iso", std::string(0x8001, '\0') + "CD001", FileType::kIso},
        MagicCase{"tar", std::string(257, 'x') + "ustar", FileType::kTar},
        MagicCase{"lnk", std::string("L\0\0\0\x01\x14\x02\0", 8), FileType::kLnk},
        MagicCase{"png", "\x89PNG\r\n", FileType::kPng},
        MagicCase{"html", "\xEF\xBB\xBF  <!DOCTYPE HTML><html>", FileType::kHtml},
        MagicCase{"script", "#!/bin/sh\n", FileType::kScript},
        MagicCase{"text", "just text", FileType::kUnknown},
        MagicCase{"empty", "", FileType::kUnknown},
        MagicCase{"truncated-zip", "PK\x03\x04\x14", FileType::kZip}));

}  // namespace
}  // namespace meshgate::mail
