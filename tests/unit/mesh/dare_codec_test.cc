// DARE codec: round trips, unknown members, wrong types (with the JSON path), hostile input.
#include <gtest/gtest.h>

#include "gateway/mesh/dare.h"

namespace meshgate::mesh {
namespace {

using json = nlohmann::json;

TEST(DareCodec, EmptyEnvelope) {
  auto env = parseDareEnvelope(R"({"DareEnvelope":[{}, "", {}]})");
  ASSERT_TRUE(env.ok()) << env.status().toString();
  EXPECT_TRUE(env->payload.empty());
  ASSERT_TRUE(env->trailer.has_value());
  EXPECT_EQ(serializeDareEnvelope(*env), R"({"DareEnvelope":[{},"",{}]})");
  EXPECT_EQ(serializeDareEnvelope(DareEnvelope{}), R"({"DareEnvelope":[{},""]})");
}

TEST(DareCodec, BareArrayIsAccepted) {
  auto env = parseDareEnvelope(R"([{"enc":"A256CBC"}, "AAEC"])");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->payload, (Bytes{0, 1, 2}));
}

TEST(DareCodec, EveryFieldAndUnknownMembersRoundTrip) {
  const json j = json::parse(R"([
    {"EnvelopeId":"MB2G-AAAA","enc":"A256CBC","kid":"EBQF","Salt":"AAEC",
     "annotations":["AQ","Ag"],"recipients":[{"kid":"MC3P","wmk":"AAECAwQFBgc",
       "epk":{"PublicKeyECDH":{"crv":"X448","Public":"BQY","Extra":1}},"alg":"A256KW"}],
     "policy":{"Sealed":true,"Depth":3},"ContentMetaData":"e30","dig":"S512",
     "Future":{"nested":[1,2,{"x":null}]}},
    "cGF5bG9hZA",
    {"signatures":[{"alg":"ED25519","kid":"MCCR","signature":"AQID","MeshgateBinding":"MGB1",
       "SignatureKey":{"PublicKeyECDH":{"crv":"Ed25519","Public":"BAU"}},"witness":"x"}],
     "PayloadDigest":"AAAA","WitnessValue":"AQ","Other":"y"}])");
  auto env = dareFromJson(j);
  ASSERT_TRUE(env.ok()) << env.status().toString();
  EXPECT_EQ(dareToJson(*env), j);
  EXPECT_EQ(env->header.extensions.count("Future"), 1u);
  EXPECT_EQ((*env->header.recipients)[0].extensions.count("alg"), 1u);
  EXPECT_EQ((*env->header.recipients)[0].epk->extensions.count("Extra"), 1u);
  EXPECT_EQ((*env->trailer->signatures)[0].binding, "MGB1");
  EXPECT_EQ((*env->trailer->signatures)[0].extensions.count("witness"), 1u);
  EXPECT_EQ(env->trailer->extensions.count("Other"), 1u);
  EXPECT_EQ(dareFromJson(dareToJson(*env)).value(), *env);
}

TEST(DareCodec, AbsentAndEmptyAreDistinct) {
  auto a = dareFromJson(json::parse(R"([{"annotations":[]}, ""])")).value();
  auto b = dareFromJson(json::parse(R"([{}, ""])")).value();
  EXPECT_NE(a, b);
  EXPECT_EQ(dareToJson(a)[0].dump(), R"({"annotations":[]})");
}

TEST(DareCodec, PaddedAndStandardBase64AreAcceptedAndReencoded) {
  auto env = dareFromJson(json::parse(R"([{"Salt":"+/8="}, "Zg=="])")).value();
  EXPECT_EQ(env.header.salt, (Bytes{0xFB, 0xFF}));
  EXPECT_EQ(dareToJson(env)[0]["Salt"], "-_8");
}

struct BadEnvelope {
  std::string text;
  StatusCode code;
  std::string message_part;
};

class DareCodecErrors : public ::testing::TestWithParam<BadEnvelope> {};

TEST_P(DareCodecErrors, AreReportedWithThePath) {
  auto env = parseDareEnvelope(GetParam().text);
  ASSERT_FALSE(env.ok()) << GetParam().text;
  EXPECT_EQ(env.status().code(), GetParam().code) << env.status().toString();
  EXPECT_NE(env.status().message().find(GetParam().message_part), std::string::npos)
      << env.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, DareCodecErrors,
    ::testing::Values(
        BadEnvelope{"", StatusCode::kInvalidArgument, "invalid JSON"},
        BadEnvelope{"{", StatusCode::kInvalidArgument, "invalid JSON"},
        BadEnvelope{"null", StatusCode::kInvalidArgument, "not a DARE envelope"},
        BadEnvelope{R"({"Envelope":[{},""]})", StatusCode::kInvalidArgument,
                    "expected {\"DareEnvelope\""},
        BadEnvelope{R"({"DareEnvelope":[{},""],"x":1})", StatusCode::kInvalidArgument,
                    "expected {\"DareEnvelope\""},
        BadEnvelope{R"({"DareEnvelope":{}})", StatusCode::kInvalidArgument,
                    "DareEnvelope: expected an array"},
        BadEnvelope{R"({"DareEnvelope":[{}]})", StatusCode::kInvalidArgument,
                    "DareEnvelope: expected an array"},
        BadEnvelope{R"({"DareEnvelope":[{},"",{},{}]})", StatusCode::kInvalidArgument,
                    "expected an array"},
        BadEnvelope{R"({"DareEnvelope":[[],""]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[0]: expected the header"},
        BadEnvelope{R"({"DareEnvelope":[{},7]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[1]: expected a base64url"},
        BadEnvelope{R"({"DareEnvelope":[{},"a$b"]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[1]: invalid base64"},
        BadEnvelope{R"({"DareEnvelope":[{},"",[]]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[2]: expected the trailer"},
        BadEnvelope{R"({"DareEnvelope":[{"enc":1},""]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[0].enc: expected a string"},
        BadEnvelope{R"({"DareEnvelope":[{"Salt":"A"},""]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[0].Salt: invalid base64"},
        BadEnvelope{R"({"DareEnvelope":[{"annotations":"x"},""]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[0].annotations: expected an array"},
        BadEnvelope{R"({"DareEnvelope":[{"annotations":["AA",3]},""]})",
                    StatusCode::kInvalidArgument,
                    "DareEnvelope[0].annotations[1]: expected a base64url"},
        BadEnvelope{R"({"DareEnvelope":[{"recipients":[{},5]},""]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[0].recipients[1]: expected an object"},
        BadEnvelope{R"({"DareEnvelope":[{"recipients":[{"wmk":{}}]},""]})",
                    StatusCode::kInvalidArgument,
                    "DareEnvelope[0].recipients[0].wmk: expected a base64url"},
        BadEnvelope{R"({"DareEnvelope":[{"recipients":[{"epk":"k"}]},""]})",
                    StatusCode::kInvalidArgument, "recipients[0].epk: expected a typed key"},
        BadEnvelope{R"({"DareEnvelope":[{"recipients":[{"epk":{"PublicKeyRSA":{}}}]},""]})",
                    StatusCode::kInvalidArgument, "recipients[0].epk: expected {\"PublicKeyECDH\""},
        BadEnvelope{
            R"({"DareEnvelope":[{"recipients":[{"epk":{"PublicKeyECDH":{"Public":"AA"}}}]},""]})",
            StatusCode::kInvalidArgument, "epk.PublicKeyECDH.crv: missing"},
        BadEnvelope{
            R"({"DareEnvelope":[{"recipients":[{"epk":{"PublicKeyECDH":{"crv":"X448"}}}]},""]})",
            StatusCode::kInvalidArgument, "epk.PublicKeyECDH.Public: missing"},
        BadEnvelope{R"({"DareEnvelope":[{"policy":[]},""]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[0].policy: expected an object"},
        BadEnvelope{R"({"DareEnvelope":[{"dig":null},""]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[0].dig: expected a string"},
        BadEnvelope{R"({"DareEnvelope":[{},"",{"signatures":{}}]})", StatusCode::kInvalidArgument,
                    "DareEnvelope[2].signatures: expected an array"},
        BadEnvelope{R"({"DareEnvelope":[{},"",{"signatures":[{"signature":1}]}]})",
                    StatusCode::kInvalidArgument,
                    "DareEnvelope[2].signatures[0].signature: expected a base64url"},
        BadEnvelope{R"({"DareEnvelope":[{},"",{"signatures":[{"MeshgateBinding":true}]}]})",
                    StatusCode::kInvalidArgument,
                    "signatures[0].MeshgateBinding: expected a string"},
        BadEnvelope{R"({"DareEnvelope":[{},"",{"PayloadDigest":[]}]})",
                    StatusCode::kInvalidArgument,
                    "DareEnvelope[2].PayloadDigest: expected a base64url"},
        BadEnvelope{"{\"DareEnvelope\":[{\"kid\":\"\xff\"},\"\"]}", StatusCode::kInvalidArgument,
                    "invalid JSON"}));

TEST(DareCodec, DeepNestingIsRefusedBeforeParsing) {
  std::string deep = R"({"DareEnvelope":[{"policy":)";
  for (int i = 0; i < 100000; ++i) deep += "[";
  auto env = parseDareEnvelope(deep);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(env.status().message().find("nested deeper"), std::string::npos);
}

TEST(DareCodec, TooManySignaturesAreRefusedBeforeAnyIsVerified) {
  // Each signature is a public-key verification with a key the sender may embed: a list of
  // thousands would make one request cost seconds of CPU.
  auto envelope = [](size_t n) {
    std::string text = R"({"DareEnvelope":[{},"",{"signatures":[)";
    for (size_t i = 0; i < n; ++i) text += std::string(i ? "," : "") + R"({"alg":"ED25519"})";
    return text + "]}]}";
  };
  EXPECT_TRUE(parseDareEnvelope(envelope(kMaxDareSignatures)).ok());
  auto many = parseDareEnvelope(envelope(kMaxDareSignatures + 1));
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(many.status().message().find("at most 16"), std::string::npos)
      << many.status().message();
}

TEST(DareCodec, ModerateNestingInUnknownMembersIsKept) {
  std::string text = R"({"DareEnvelope":[{"X":)";
  for (int i = 0; i < 20; ++i) text += "[";
  for (int i = 0; i < 20; ++i) text += "]";
  text += R"(},""]})";
  EXPECT_TRUE(parseDareEnvelope(text).ok());
}

TEST(DareCodec, DeepJsonValueIsRefusedByDareFromJson) {
  json j = json::array();
  for (int i = 0; i < 100; ++i) j = json::array({j});
  json env = json::array({json{{"X", j}}, ""});
  auto r = dareFromJson(env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(DareCodec, OversizedTextIsRefused) {
  std::string huge(kMaxDareTextBytes + 1, ' ');
  auto env = parseDareEnvelope(huge);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), StatusCode::kResourceExhausted);
}

TEST(DareCodec, BracketsInsideStringsDoNotCountAsNesting) {
  std::string brackets(1000, '[');
  auto env = parseDareEnvelope(R"({"DareEnvelope":[{"kid":")" + brackets + R"("},""]})");
  ASSERT_TRUE(env.ok()) << env.status().toString();
  EXPECT_EQ(env->header.kid, brackets);
  auto escaped = parseDareEnvelope(R"({"DareEnvelope":[{"kid":"\"[[["},""]})");
  ASSERT_TRUE(escaped.ok());
}

TEST(DareCodec, PayloadScanAndFullParseAgree) {
  // The payload is located by a structural scan when the text has the plain shape; otherwise
  // (escapes in the payload, unusual layout) the whole text goes through the JSON parser.
  // Both must give the same envelope.
  const Bytes foo_ff = {'f', 'o', 'o', 0xFF};
  struct Case {
    std::string text;
    Bytes payload;
  };
  for (const Case& c : {
           Case{R"({"DareEnvelope":[{},"Zm9v_w"]})", foo_ff},
           Case{" \n{ \"DareEnvelope\" :\t[ { \"x\" : [\"}\"] } ,\r\n\"Zm9v_w\" , {} ] } ", foo_ff},
           Case{R"([{"a":{"b":["\"]"]}},"Zm9v/w=="])", foo_ff},
           Case{R"({"DareEnvelope":[{},"Zm9v\/w=="]})", foo_ff},    // escaped: full parse
           Case{R"({"DareEnvelope":[{},"\u005Am9v_w"]})", foo_ff},  // escaped: full parse
           Case{R"({"DareEnvelope":[{}, ""]})", Bytes()},
       }) {
    auto env = parseDareEnvelope(c.text);
    ASSERT_TRUE(env.ok()) << c.text << ": " << env.status().toString();
    EXPECT_EQ(env->payload, c.payload) << c.text;
  }
  for (const std::string& bad : {
           std::string(R"({"DareEnvelope":[{},"Zm9v_w"],"x":1})"),
           std::string(R"({"DareEnvelope":[{},"Zm9v_w",{}]]})"),
           std::string(R"({"DareEnvelope":[{},"Zm9v_w")"),
           std::string(R"({"DareEnvelope":[{"a":},"Zm9v_w"]})"),
           std::string("{\"DareEnvelope\":[{},\"Zm9v\n_w\"]}"),
       }) {
    EXPECT_FALSE(parseDareEnvelope(bad).ok()) << bad;
  }
  auto bad_payload = parseDareEnvelope(R"({"DareEnvelope":[{},"Zm9v*w"]})");
  EXPECT_NE(bad_payload.status().message().find("DareEnvelope[1]: invalid base64"),
            std::string::npos)
      << bad_payload.status().message();
}

TEST(DareCodec, SerializedTextIsTheCompactJsonDump) {
  for (const char* text : {R"([{},""])", R"([{"enc":"A256CBC","Salt":"AAEC"},"cGF5bG9hZA"])",
                           R"([{"kid":"\"\u0001é"},"AA",{"signatures":[{"alg":"ED448"}]}])"}) {
    auto env = dareFromJson(json::parse(text)).value();
    json wrapped = json::object();
    wrapped["DareEnvelope"] = dareToJson(env);
    EXPECT_EQ(serializeDareEnvelope(env), wrapped.dump()) << text;
  }
}

TEST(DareCodec, LargePayloadRoundTrip) {
  DareEnvelope env;
  env.payload.resize(3 * 1024 * 1024 + 1);
  for (size_t i = 0; i < env.payload.size(); ++i) env.payload[i] = static_cast<uint8_t>(i * 131);
  auto again = parseDareEnvelope(serializeDareEnvelope(env));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, env);
}

TEST(DareCodec, ContentTypeFromContentMetaData) {
  DareHeader h;
  EXPECT_FALSE(dareContentType(h).value().has_value());
  h.content_meta_data = toBytes(R"({"cty":"message/rfc822","Created":"2024-01-01T00:00:00Z"})");
  EXPECT_EQ(dareContentType(h).value(), "message/rfc822");
  h.content_meta_data = toBytes("[1]");
  EXPECT_FALSE(dareContentType(h).ok());
  h.content_meta_data = toBytes(R"({"cty":5})");
  EXPECT_FALSE(dareContentType(h).ok());
  h.content_meta_data = toBytes("not json");
  EXPECT_FALSE(dareContentType(h).ok());
}

TEST(CanonicalJson, SortedCompactMinimalEscapesIntegersOnly) {
  json j = json::parse(R"({"b":[1,-2,{"z":null,"a":true}],"a":"\u00e9\"\\\n\u0001/","A":false})");
  EXPECT_EQ(
      canonicalJson(j).value(),
      "{\"A\":false,\"a\":\"\xc3\xa9\\\"\\\\\\n\\u0001/\",\"b\":[1,-2,{\"a\":true,\"z\":null}]}");
  EXPECT_EQ(canonicalJson(json::parse("18446744073709551615")).value(), "18446744073709551615");
  auto f = canonicalJson(json::parse(R"({"x":1.5})"));
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meshgate::mesh
