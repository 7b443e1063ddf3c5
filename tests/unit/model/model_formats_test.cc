// Tests of the Mesh data model's value formats (MESH-FORMATS section 4: DateTime, Binary), of
// DARE envelopes as field values (the vectors of ../shared/spec/vectors/), and of hostile input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "meshgate/mesh_model.h"

namespace meshgate::mesh::model {
namespace {

using namespace std::chrono;

// ---- DateTime ----------------------------------------------------------------------------

TEST(MeshDateTime, FormatsUtcToTheSecond) {
  EXPECT_EQ(formatDateTime(DateTime(seconds(0))), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatDateTime(DateTime(seconds(1595863800))), "2020-07-27T15:30:00Z");
  EXPECT_EQ(formatDateTime(sys_days(year(2020) / 2 / 29) + hours(23) + minutes(59) + seconds(59)),
            "2020-02-29T23:59:59Z");
  EXPECT_EQ(formatDateTime(sys_days(year(1) / 1 / 1)), "0001-01-01T00:00:00Z");
  EXPECT_EQ(formatDateTime(sys_days(year(9999) / 12 / 31)), "9999-12-31T00:00:00Z");
}

TEST(MeshDateTime, ParsesTheFormatAndDropsFractions) {
  EXPECT_EQ(parseDateTime("2020-07-27T15:30:00Z").value(), DateTime(seconds(1595863800)));
  EXPECT_EQ(parseDateTime("2020-07-27T15:30:00.999Z").value(), DateTime(seconds(1595863800)));
  EXPECT_EQ(parseDateTime("2020-07-27T15:30:00.123456789Z").value(), DateTime(seconds(1595863800)));
  EXPECT_EQ(parseDateTime("2020-02-29T00:00:00Z").value(), DateTime(sys_days(year(2020) / 2 / 29)));
  EXPECT_EQ(parseDateTime("0000-01-01T00:00:00Z").value(), DateTime(sys_days(year(0) / 1 / 1)));
}

TEST(MeshDateTime, RefusesAnythingElse) {
  for (const char* bad : {"",
                          "2020-07-27",
                          "2020-07-27T15:30:00",
                          "2020-07-27T15:30:00z",
                          "2020-07-27t15:30:00Z",
                          "2020-07-27 15:30:00Z",
                          "2020-07-27T15:30:00+00:00",
                          "2020-07-27T15:30Z",
                          "2020-7-27T15:30:00Z",
                          "2020-07-27T15:30:00.Z",
                          "2020-07-27T15:30:00.1234567890Z",
                          "2021-02-29T00:00:00Z",
                          "2020-13-01T00:00:00Z",
                          "2020-00-01T00:00:00Z",
                          "2020-04-31T00:00:00Z",
                          "2020-07-27T24:00:00Z",
                          "2020-07-27T23:60:00Z",
                          "2020-07-27T23:59:60Z",
                          "2020-07-27T15:30:00ZZ",
                          "+020-07-27T15:30:00Z",
                          "2020-07-27T15:30:00Z\n",
                          "２０２０-07-27T15:30:00Z"}) {
    Result<DateTime> t = parseDateTime(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(MeshDateTime, EverySecondOfSomeYearsRoundTrips) {
  for (DateTime t = DateTime(sys_days(year(1999) / 12 / 31)); t < sys_days(year(2001) / 3 / 2);
       t += seconds(86400 - 7)) {
    const std::string text = formatDateTime(t);
    Result<DateTime> back = parseDateTime(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, t) << text;
  }
}

TEST(MeshDateTime, InAMessage) {
  StatusResponse status;
  status.last_write_time = DateTime(seconds(1595863800));
  EXPECT_EQ(serialize(status), R"({"StatusResponse":{"LastWriteTime":"2020-07-27T15:30:00Z"}})");
  Result<StatusResponse> back =
      parse<StatusResponse>(R"({"StatusResponse":{"LastWriteTime":"2020-07-27T15:30:00.5Z"}})");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->last_write_time, DateTime(seconds(1595863800)));
}

// ---- Binary ------------------------------------------------------------------------------

TEST(MeshBinary, WritesBase64UrlWithoutPadding) {
  MessageMail mail;
  mail.body = Bytes{0xfb, 0xff};
  EXPECT_EQ(serialize(mail), R"({"MessageMail":{"Body":"-_8"}})");
  mail.body = Bytes{0xfb, 0xff, 0xbf};
  EXPECT_EQ(serialize(mail), R"({"MessageMail":{"Body":"-_-_"}})");
  mail.body = Bytes{'a'};
  EXPECT_EQ(serialize(mail), R"({"MessageMail":{"Body":"YQ"}})");
}

TEST(MeshBinary, ReadsBothAlphabetsAndPadding) {
  for (const char* text :
       {R"({"MessageMail":{"Body":"-_8"}})", R"({"MessageMail":{"Body":"+/8"}})",
        R"({"MessageMail":{"Body":"-_8="}})", R"({"MessageMail":{"Body":"+/8="}})"}) {
    Result<MessageMail> mail = parse<MessageMail>(text);
    ASSERT_TRUE(mail.ok()) << text << ": " << mail.status().toString();
    EXPECT_EQ(mail->body, (Bytes{0xfb, 0xff})) << text;
  }
  for (const char* text : {R"({"MessageMail":{"Body":"-_8*"}})", R"({"MessageMail":{"Body":"Y"}})",
                           R"({"MessageMail":{"Body":"Y=Q"}})"}) {
    EXPECT_FALSE(parse<MessageMail>(text).ok()) << text;
  }
}

// ---- DARE envelopes as field values (../shared/spec/vectors/dare-encrypted-example.md) ----

// The annotated plaintext envelope (EDS), as the value of a DareEnvelope field.
constexpr const char* kAnnotatedEnvelope =
    R"([{"annotations":["iAEAiC1TdWJqZWN0OiBNZXNzYWdlIG1ldGFkYXRhIHNob3VsZCBiZSBlbmNyeXB0ZWQ",)"
    R"("iAEBiAoyMDE4LTAyLTAx"]},)"
    R"("VGhpcyBpcyBhIHRlc3QgbG9uZyBlbm91Z2ggdG8gcmVxdWlyZSBtdWx0aXBsZSBibG9ja3M"])";

// The encrypted example envelope.
constexpr const char* kEncryptedEnvelope =
    R"([{"enc":"A256CBC","kid":"EBQF-CP73-F3CX-HX54-PIFU-4C4J-IYVL",)"
    R"("Salt":"x_ll5JEpcDm5BL8qex84tA",)"
    R"("recipients":[{"kid":"MC3P-SEXC-G5NY-LUUQ-CDZU-JZTN-HMPX",)"
    R"("epk":{"PublicKeyECDH":{"crv":"Ed25519",)"
    R"("Public":"7XeOpwiT_2seIbUB5B4pvWuW__ZSiaU6dOlrGil9Voo"}},)"
    R"("wmk":"VLz73UJQNX5uxxVaCWe5Df3ecbbnTcVsXOIcEam0zMQvcnpWf2Fkhw"}]},)"
    R"("wAMhfUbUDsVJbkLb3dLTBs3c9_LfAAiMXVTyxWhozPtyFvGzHSEqjXdb0em6sKafLnIaIN5fR-sWP3X92OUoOQ"])";

TEST(MeshDareField, TheAnnotatedExampleParsesAsAnEnvelopeField) {
  const std::string text = std::string(R"({"CatalogedPublication":{"ID":"NCPB","EnvelopedData":)") +
                           kAnnotatedEnvelope + "}}";
  Result<CatalogedPublication> publication = parse<CatalogedPublication>(text);
  ASSERT_TRUE(publication.ok()) << publication.status().toString();
  EXPECT_EQ(publication->id, "NCPB");
  ASSERT_TRUE(publication->enveloped_data.has_value());
  const DareEnvelope& envelope = *publication->enveloped_data;
  EXPECT_EQ(toString(envelope.payload), "This is a test long enough to require multiple blocks");
  ASSERT_TRUE(envelope.header.annotations.has_value());
  ASSERT_EQ(envelope.header.annotations->size(), 2u);
  // 88 01 <index> 88 <length> <text>
  const Bytes& subject = (*envelope.header.annotations)[0];
  ASSERT_EQ(subject.size(), 5u + 45u);
  EXPECT_EQ(subject[0], 0x88);
  EXPECT_EQ(subject[2], 0x00);
  EXPECT_EQ(toString(ByteView(subject).subspan(5)),
            "Subject: Message metadata should be encrypted");
  EXPECT_EQ(toString(ByteView((*envelope.header.annotations)[1]).subspan(5)), "2018-02-01");
  EXPECT_FALSE(envelope.trailer.has_value());

  // Written back, it is the same JSON.
  EXPECT_EQ(toTaggedJson(*publication), nlohmann::json::parse(text));
  Result<CatalogedPublication> again = parse<CatalogedPublication>(serialize(*publication));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *publication);
}

TEST(MeshDareField, TheEncryptedExampleInAPostRequest) {
  const std::string text = std::string(R"({"PostRequest":{"Account":"alice@example.com",)") +
                           R"("Envelopes":[)" + kEncryptedEnvelope + "," + kAnnotatedEnvelope +
                           "]}}";
  Result<AnyMessage> any = parseMessage(text);
  ASSERT_TRUE(any.ok()) << any.status().toString();
  const PostRequest* post = any->get<PostRequest>();
  ASSERT_NE(post, nullptr);
  EXPECT_EQ(post->account, "alice@example.com");
  ASSERT_EQ(post->envelopes.size(), 2u);
  const DareEnvelope& encrypted = post->envelopes[0];
  EXPECT_EQ(encrypted.header.enc, "A256CBC");
  EXPECT_EQ(encrypted.header.kid, "EBQF-CP73-F3CX-HX54-PIFU-4C4J-IYVL");
  ASSERT_TRUE(encrypted.header.salt.has_value());
  EXPECT_EQ(hexEncode(*encrypted.header.salt), "c7f965e491297039b904bf2a7b1f38b4");
  ASSERT_TRUE(encrypted.header.recipients.has_value());
  ASSERT_EQ(encrypted.header.recipients->size(), 1u);
  EXPECT_EQ((*encrypted.header.recipients)[0].kid, "MC3P-SEXC-G5NY-LUUQ-CDZU-JZTN-HMPX");
  EXPECT_EQ(hexEncode(encrypted.payload),
            "c003217d46d40ec5496e42dbddd2d306cddcf7f2df00088c5d54f2c56868ccfb"
            "7216f1b31d212a8d775bd1e9bab0a69f2e721a20de5f47eb163f75fdd8e52839");
  EXPECT_EQ(toTaggedJson(*any), nlohmann::json::parse(text));
}

TEST(MeshDareField, AMalformedEnvelopeNamesTheField) {
  Result<AnyMessage> any =
      parseMessage(R"({"PostRequest":{"Envelopes":[[{},"",{}],{"not":"an envelope"}]}})");
  ASSERT_FALSE(any.ok());
  EXPECT_EQ(any.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(any.status().message().rfind("PostRequest.Envelopes[1]: ", 0), 0u)
      << any.status().message();
}

// ---- Hostile input -----------------------------------------------------------------------

TEST(MeshModelHostile, DeepNestingIsRefusedWithoutRecursion) {
  for (std::size_t depth : {65u, 1000u, 200000u}) {
    const std::string arrays = std::string(depth, '[') + std::string(depth, ']');
    Result<AnyMessage> a = parseMessage(arrays);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.status().code(), StatusCode::kResourceExhausted) << a.status().toString();

    std::string objects;
    for (std::size_t i = 0; i < depth; ++i) objects += R"({"GetRequest":)";
    objects += "{}" + std::string(depth, '}');
    Result<AnyMessage> b = parseMessage(objects);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted) << b.status().toString();
  }
  // Unterminated deep input fails too.
  EXPECT_FALSE(parseMessage(std::string(100000, '[')).ok());
}

TEST(MeshModelHostile, LimitsAreExact) {
  // Depths: the outer object 0, GetRequest 1, KeyValues 2, its element 3.
  const std::string text = R"({"GetRequest":{"KeyValues":[{"Key":"k"}]}})";
  EXPECT_TRUE(parseMessage(text, ParseLimits{.max_depth = 4}).ok());
  Result<AnyMessage> deep = parseMessage(text, ParseLimits{.max_depth = 3});
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kResourceExhausted);

  EXPECT_TRUE(parseMessage(text, ParseLimits{.max_bytes = text.size()}).ok());
  Result<AnyMessage> big = parseMessage(text, ParseLimits{.max_bytes = text.size() - 1});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(parse<GetRequest>(text, ParseLimits{.max_bytes = 10}).ok());
}

TEST(MeshModelHostile, MalformedTextIsAnErrorNotACrash) {
  const std::vector<std::string> inputs = {
      "",
      "{",
      R"({"GetRequest":)",
      R"({"GetRequest":{"Account":"a)",
      R"({"GetRequest":{"Account":"\ud800"}})",
      "{\"GetRequest\":{\"Account\":\"\xff\xfe\"}}",
      std::string("{\"GetRequest\":{\"Account\":\"a\0b\"}}", 32),
      R"({"GetRequest":{"SearchConstraints":{"MaxEntries":1e999999}}})",
      R"({"GetRequest":{"SearchConstraints":{"MaxEntries":-99999999999999999999999}}})",
      R"({"GetRequest":{}} trailing)",
      R"(/* comment */ {"GetRequest":{}})",
      "\xef\xbb\xbf{\"GetRequest\":{}}x",
      R"({"GetRequest":{"Account":"a",}})",
      R"(NaN)",
  };
  for (const std::string& input : inputs) {
    Result<AnyMessage> message = parseMessage(input);
    EXPECT_FALSE(message.ok()) << input;
    if (!message.ok()) {
      EXPECT_TRUE(message.status().code() == StatusCode::kInvalidArgument ||
                  message.status().code() == StatusCode::kResourceExhausted)
          << message.status().toString();
    }
  }
}

TEST(MeshModelHostile, HugeButValidValuesAreFine) {
  // A long string, a long list, integers at the edges.
  std::string text =
      R"({"ValidateRequest":{"Account":")" + std::string(100000, 'a') + R"(","Language":[)";
  for (int i = 0; i < 10000; ++i) text += (i ? ",\"en\"" : "\"en\"");
  text += "]}}";
  Result<ValidateRequest> request = parse<ValidateRequest>(text);
  ASSERT_TRUE(request.ok()) << request.status().toString();
  EXPECT_EQ(request->account->size(), 100000u);
  EXPECT_EQ(request->language.size(), 10000u);

  Result<SearchConstraints> edges = fromJson<SearchConstraints>(
      nlohmann::json::parse(
          R"({"MaxBytes":9223372036854775807,"MaxEntries":-9223372036854775808})"),
      "c");
  ASSERT_TRUE(edges.ok()) << edges.status().toString();
  EXPECT_EQ(edges->max_bytes, INT64_MAX);
  EXPECT_EQ(edges->max_entries, INT64_MIN);
}

TEST(MeshModelHostile, SerializeNeverThrowsOnBadUtf8BuiltByHand) {
  MessageMail mail;
  mail.subject = "caf\xe9";  // Latin-1, not UTF-8
  std::string text;
  EXPECT_NO_THROW(text = serialize(mail));
  Result<MessageMail> back = parse<MessageMail>(text);
  ASSERT_TRUE(back.ok()) << text;
  EXPECT_EQ(back->subject, "caf\xef\xbf\xbd");  // U+FFFD
}

}  // namespace
}  // namespace meshgate::mesh::model
