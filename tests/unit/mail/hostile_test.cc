// Hostile input, generated here rather than stored: the parsers must stay within their limits,
// flag what they met and finish in bounded time (the bounds are generous so that sanitizer
// builds pass; they catch quadratic behaviour, which would take minutes).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gateway/mail/address.h"
#include "gateway/mail/codec.h"
#include "gateway/mail/header.h"
#include "gateway/mail/lookalike.h"
#include "gateway/mail/mime.h"

namespace meshgate::mail {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Unoptimized sanitizer builds run these loops 20-50 times slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kBoundSeconds = 120.0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr double kBoundSeconds = 120.0;
#else
constexpr double kBoundSeconds = 10.0;
#endif
#else
constexpr double kBoundSeconds = 10.0;
#endif

std::string base64Of(size_t bytes) {
  // "TVqQ" decodes to "MZ\x90": a PE header at the start, then filler.
  std::string out = "TVqQ";
  out.reserve(bytes * 4 / 3 + bytes / 57 * 2 + 16);
  size_t line = 4;
  for (size_t produced = 3; produced < bytes; produced += 3) {
    out += "QUJD";
    line += 4;
    if (line >= 76) {
      out += "\r\n";
      line = 0;
    }
  }
  return out;
}

TEST(Hostile, OneMegabyteHeaderLine) {
  std::string msg = "From: a@example.com\r\nSubject: " + std::string(1 << 20, 'x') +
                    "\r\nTo: b@example.com\r\n\r\nbody\r\n";
  auto start = Clock::now();
  MessageView v = parseMessage(msg);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kHeaderTruncated));
  EXPECT_TRUE(v.anomalies().has(Anomaly::kLongLine));
  EXPECT_EQ(v.subject().size(), Limits().max_header_value_bytes);
  ASSERT_EQ(v.to().size(), 1u);  // the fields after it are still read
  EXPECT_EQ(v.textParts().size(), 1u);
}

TEST(Hostile, OneMegabyteAddressField) {
  std::string from = "From: ";
  for (int i = 0; i < 60000; ++i) from += "a" + std::to_string(i) + "@example.com,";
  std::string msg = from + "\r\n\r\nx";
  auto start = Clock::now();
  MessageView v = parseMessage(msg);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  EXPECT_LE(v.from().size(), Limits().max_mailboxes);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kMalformedAddress));  // truncated list
}

TEST(Hostile, TenThousandHeaders) {
  std::string msg = "From: a@example.com\r\n";
  for (int i = 0; i < 9998; ++i) msg += "X-H" + std::to_string(i) + ": v\r\n";
  msg += "Mesh-Security-Signal: forged\r\n\r\nbody";
  MessageView v = parseMessage(msg);
  EXPECT_EQ(v.headers().size(), 10000u);
  EXPECT_FALSE(v.headers().overflowed());
  EXPECT_EQ(v.headers().deletionIndexes("Mesh-Security-Signal"), std::vector<size_t>{1});

  std::string more = msg.substr(0, msg.size() - 6);
  for (int i = 0; i < 10000; ++i) more += "X-More: v\r\n";
  more += "\r\nbody";
  auto start = Clock::now();
  MessageView w = parseMessage(more);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  EXPECT_EQ(w.headers().size(), Limits().max_headers);
  EXPECT_TRUE(w.headers().overflowed());
  EXPECT_TRUE(w.anomalies().has(Anomaly::kTooManyHeaders));
}

TEST(Hostile, NulBytesEverywhere) {
  static constexpr char kMessage[] = "From: a\0@example.com\r\nSub\0ject: x\r\n\r\nbo\0dy";
  std::string msg(kMessage, sizeof kMessage - 1);
  MessageView v = parseMessage(msg);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kNulByte));
  EXPECT_TRUE(v.anomalies().has(Anomaly::kMalformedHeader));  // "Sub\0ject" is no field
  EXPECT_TRUE(v.anomalies().has(Anomaly::kMalformedAddress));
  for (const TextPart& t : v.textParts()) EXPECT_EQ(t.text.find('\0'), std::string::npos);
}

// Boundaries "=_b<n>_=": none is a prefix of another.
std::string boundaryName(int i) { return "=_b" + std::to_string(i) + "_="; }

std::string nestedMultipart(int depth) {
  std::string msg = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"" +
                    boundaryName(0) + "\"\r\n\r\n";
  for (int i = 1; i < depth; ++i) {
    msg += "--" + boundaryName(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=\"" +
           boundaryName(i) + "\"\r\n\r\n";
  }
  msg += "--" + boundaryName(depth - 1) + "\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n";
  for (int i = depth - 1; i >= 0; --i) msg += "--" + boundaryName(i) + "--\r\n";
  return msg;
}

TEST(Hostile, MimeNestedOneHundredDeep) {
  MessageView v = parseMessage(nestedMultipart(100));
  EXPECT_EQ(v.anomalies().toString(), "nesting-too-deep");
  EXPECT_LE(v.maxDepth(), Limits().max_depth);
  EXPECT_TRUE(v.textParts().empty());     // the text is below the limit: not looked into
  ASSERT_EQ(v.attachments().size(), 1u);  // the deepest container, kept opaque
  EXPECT_EQ(v.attachments()[0].content_type, "multipart/mixed");

  MessageView ok = parseMessage(nestedMultipart(20));
  EXPECT_FALSE(ok.anomalies().has(Anomaly::kNestingTooDeep)) << ok.anomalies().toString();
  ASSERT_EQ(ok.textParts().size(), 1u);
  EXPECT_EQ(ok.textParts()[0].text, "deep text");
  EXPECT_EQ(ok.textParts()[0].depth, 20u);
}

TEST(Hostile, MessageRfc822NestedDeep) {
  std::string msg;
  for (int i = 0; i < 100; ++i) {
    msg += "From: l" + std::to_string(i) + "@example.com\r\nSubject: level " + std::to_string(i) +
           "\r\nContent-Type: message/rfc822\r\n\r\n";
  }
  msg += "From: x@example.com\r\n\r\ninnermost\r\n";
  MessageView v = parseMessage(msg);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kNestingTooDeep));
  EXPECT_LE(v.embeddedMessages().size(), Limits().max_depth);
}

TEST(Hostile, Base64MessageRfc822NestedDeep) {
  // Each level base64-encodes the one inside: decoding is needed at every level.
  std::string inner = "From: x@example.com\r\nSubject: core\r\n\r\ncore text\r\n";
  for (int i = 0; i < 35; ++i) {  // 35 levels: about 8 MB, under max_embedded_message_bytes
    std::string encoded;
    static const char* kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t j = 0; j < inner.size(); j += 3) {
      uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(inner[j])) << 16;
      if (j + 1 < inner.size())
        n |= static_cast<uint32_t>(static_cast<unsigned char>(inner[j + 1])) << 8;
      if (j + 2 < inner.size()) n |= static_cast<unsigned char>(inner[j + 2]);
      encoded += kAlphabet[(n >> 18) & 63];
      encoded += kAlphabet[(n >> 12) & 63];
      encoded += j + 1 < inner.size() ? kAlphabet[(n >> 6) & 63] : '=';
      encoded += j + 2 < inner.size() ? kAlphabet[n & 63] : '=';
    }
    inner = "From: l" + std::to_string(i) +
            "@example.com\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: "
            "base64\r\n\r\n" +
            encoded + "\r\n";
  }
  auto start = Clock::now();
  MessageView v = parseMessage(inner);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kNestingTooDeep));
  EXPECT_LE(v.embeddedMessages().size(), Limits().max_depth);
}

TEST(Hostile, FiftyMegabyteBody) {
  const size_t kSize = 36u << 20;  // base64 with line breaks: a body of about 50 MB
  std::string msg =
      "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
      "Content-Type: text/plain\r\n\r\nhello\r\n--zz\r\nContent-Type: application/octet-stream; "
      "name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      base64Of(kSize) + "\r\n--zz--\r\n";
  auto start = Clock::now();
  MessageView v = parseMessage(msg);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  ASSERT_EQ(v.attachments().size(), 1u);
  EXPECT_EQ(v.attachments()[0].size, kSize + (3 - kSize % 3) % 3);
  EXPECT_EQ(v.attachments()[0].detected_type, FileType::kPe);
  EXPECT_TRUE(v.anomalies().empty()) << v.anomalies().toString();

  EXPECT_GT(v.bodySize(), 49u << 20);
  // A 50 MB text part: decoded text stops at the per-part limit.
  std::string text_msg = "From: a@example.com\r\n\r\n";
  text_msg.append(50u << 20, 'w');
  start = Clock::now();
  MessageView t = parseMessage(text_msg);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  ASSERT_EQ(t.textParts().size(), 1u);
  EXPECT_EQ(t.textParts()[0].text.size(), Limits().max_text_bytes_per_part);
  EXPECT_TRUE(t.textParts()[0].truncated);
  EXPECT_TRUE(t.anomalies().has(Anomaly::kTextTruncated));
  EXPECT_TRUE(t.anomalies().has(Anomaly::kLongLine));
}

TEST(Hostile, BodyBeyondMaxBodyBytes) {
  Limits limits;
  limits.max_body_bytes = 1000;
  std::string msg =
      "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n" +
      std::string(5000, 'x') + "\r\n--q--\r\n";
  MessageView v = parseMessage(msg, limits);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kBodyTruncated));
  EXPECT_TRUE(v.anomalies().has(Anomaly::kTruncatedMultipart));
  EXPECT_GT(v.bodySize(), 5000u);
}

TEST(Hostile, TotalTextLimit) {
  std::string msg = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n";
  for (int i = 0; i < 8; ++i) msg += "--q\r\n\r\n" + std::string(900 * 1024, 'a' + i) + "\r\n";
  msg += "--q--\r\n";
  MessageView v = parseMessage(msg);
  size_t total = 0;
  for (const TextPart& t : v.textParts()) total += t.text.size();
  EXPECT_LE(total, Limits().max_text_bytes_total);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kTextTruncated));
  EXPECT_EQ(v.textParts().size(), 8u);  // every part is listed, the late ones empty
}

TEST(Hostile, ManyParts) {
  std::string msg = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (int i = 0; i < 5000; ++i) msg += "--p\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n";
  msg += "--p--\r\n";
  auto start = Clock::now();
  MessageView v = parseMessage(msg);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kTooManyParts));
  EXPECT_EQ(v.partCount(), Limits().max_parts);
  EXPECT_LT(v.attachments().size(), Limits().max_parts);
}

TEST(Hostile, ManyBoundaryLikeLinesWithDeepStack) {
  // 31 open multiparts and a megabyte of lines that start like a boundary but match none.
  std::string msg = nestedMultipart(31);
  size_t insert = msg.find("deep text");
  std::string noise;
  for (int i = 0; i < 200000; ++i) noise += "--c\r\n";
  msg.insert(insert, noise);
  auto start = Clock::now();
  MessageView v = parseMessage(msg);
  EXPECT_LT(secondsSince(start), kBoundSeconds);
  ASSERT_EQ(v.textParts().size(), 1u);
  EXPECT_FALSE(v.anomalies().has(Anomaly::kTruncatedMultipart));
}

TEST(Hostile, AbsurdBoundaryAndParameters) {
  std::string msg = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"" +
                    std::string(100000, 'b') + "\"\r\n\r\nbody\r\n";
  MessageView v = parseMessage(msg);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kBadBoundary));

  std::string params = "attachment";
  for (int i = 0; i < 20000; ++i) params += "; filename*" + std::to_string(i) + "=x";
  StructuredField f = parseStructuredField(params);
  EXPECT_TRUE(f.malformed);
  ASSERT_NE(f.param("filename"), nullptr);
  EXPECT_LE(f.param("filename")->size(), 128u);
}

TEST(Hostile, BrokenEncodings) {
  std::string msg =
      "From: =?utf-8?b?!!!?= <a@example.com>\r\n"
      "Subject: =?utf-8?q?=FF=FE=00?= =?no-such?b?QUJD?= =?utf-16?b?2D3YPQ==?=\r\n"
      "Content-Type: multipart/mixed; boundary=e\r\n\r\n"
      "--e\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "////\r\n"
      "--e\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1B$B\xFF\xFF\x1B(\r\n"
      "--e\r\nContent-Type: text/html; charset=utf-7\r\nContent-Transfer-Encoding: "
      "quoted-printable\r\n\r\n+AGEAYgBj-=\r\n=G1\r\n"
      "--e\r\nContent-Type: text/plain; charset=\"\"\r\nContent-Transfer-Encoding: "
      "x-uuencode\r\n\r\n"
      "begin 644 x\r\n"
      "--e--\r\n";
  MessageView v = parseMessage(msg);
  EXPECT_TRUE(v.anomalies().has(Anomaly::kUndecodablePart));
  EXPECT_TRUE(v.anomalies().has(Anomaly::kBadEncodedWord));
  ASSERT_EQ(v.textParts().size(), 4u);
  for (const TextPart& t : v.textParts()) {
    EXPECT_TRUE(isValidUtf8(t.text)) << t.path;
    EXPECT_EQ(t.text.find('\0'), std::string::npos);
  }
  EXPECT_TRUE(isValidUtf8(v.subject()));
  EXPECT_NE(v.textParts()[2].text.find("abc"), std::string::npos);  // UTF-7 decoded
}

TEST(Hostile, EncodedWordFlood) {
  std::string subject;
  for (int i = 0; i < 100000; ++i) subject += "=?utf-8?q?a?= =?";
  MessageView v = parseMessage("From: a@example.com\r\nSubject: " + subject + "\r\n\r\n");
  EXPECT_TRUE(isValidUtf8(v.subject()));
  EXPECT_LE(v.subject().size(), Limits().max_header_value_bytes);
}

TEST(Hostile, DeepCommentsAndQuotes) {
  std::string value(200000, '(');
  value += "a@example.com";
  MailboxList l = parseMailboxList(value);
  EXPECT_TRUE(l.malformed);
  std::string quotes(200000, '"');
  l = parseMailboxList(quotes + "<a@example.com>");
  EXPECT_TRUE(l.mailboxes.size() <= 1);
  std::string brackets(200000, '<');
  l = parseMailboxList(brackets);
  EXPECT_TRUE(l.malformed);
}

TEST(Hostile, LookalikeOnJunk) {
  std::string junk(1 << 20, '\xFF');
  EXPECT_FALSE(looksLike(junk, "paypal.com"));
  EXPECT_FALSE(sameDisplayName(junk, "John"));
  EXPECT_TRUE(isValidUtf8(confusableSkeleton(junk)));
}

TEST(Hostile, ConcurrentParsing) {
  // The converter cache is per thread and the ICU singletons are read-only: parse in parallel.
  std::string msg =
      "From: =?koi8-r?b?8NLJ18XU?= <a@example.com>\r\nSubject: =?shift_jis?B?k/qWe4zq?=\r\n"
      "Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1B$BF|K\\8l\x1B(B\r\n";
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        MessageView v = parseMessage(msg);
        if (v.subject() != "日本語" || v.textParts().size() != 1 ||
            v.textParts()[0].text != "日本語\n" || !looksLike("pаypal.com", "paypal.com")) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace meshgate::mail
