// UDF: every vector of MESH-FORMATS section 1, precision, compression, parsing and matching.
#include "gateway/mesh/udf.h"

#include <gtest/gtest.h>

#include <string>

namespace meshgate::mesh {
namespace {

struct DigestVector {
  std::string data;
  DigestAlgorithm alg;
  int bits;
  std::string udf;
};

class UdfDigestVectors : public ::testing::TestWithParam<DigestVector> {};

TEST_P(UdfDigestVectors, MatchesThePublishedValue) {
  const DigestVector& v = GetParam();
  auto udf = contentDigestUdf(asBytes(v.data), "text/plain", v.alg, v.bits);
  ASSERT_TRUE(udf.ok()) << udf.status().toString();
  EXPECT_EQ(*udf, v.udf);
}

INSTANTIATE_TEST_SUITE_P(
    MeshFormats, UdfDigestVectors,
    ::testing::Values(DigestVector{"UDF Data Value", DigestAlgorithm::kSha512, 140,
                                   "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF"},
                      DigestVector{"UDF Data Value", DigestAlgorithm::kSha3_512, 140,
                                   "KCFI-NCQG-DRKG-47R7-OVPT-TCHZ-7UXY"},
                      DigestVector{"UDF Content Data", DigestAlgorithm::kSha512, 140,
                                   "MB5S-R4AJ-3FBT-7NHO-T26Z-2E6Y-WFH4"},
                      DigestVector{"UDF Content Data", DigestAlgorithm::kSha3_512, 140,
                                   "KCM5-7VB6-IJXJ-WKHX-NZQF-OKGZ-EWVN"},
                      DigestVector{"UDF Data Value", DigestAlgorithm::kSha512, 100,
                                   "MDDK-7N6A-727A-JZNO-STRX"},
                      DigestVector{"UDF Data Value", DigestAlgorithm::kSha512, 200,
                                   "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF-XI6O-ZSLU-2VOA"},
                      DigestVector{"UDF Compressed Document 4187123", DigestAlgorithm::kSha512, 140,
                                   "MGHB-JWIZ-J3LA-EEWD-GCT3-WX6H-C5W2"}));

TEST(Udf, IntermediatesOfTheDataValueVector) {
  Bytes cdv = sha512(asBytes("UDF Data Value"));
  EXPECT_EQ(hexEncode(ByteView(cdv).first(8)), "48da47ccabfea45c");
  Bytes bin = contentDigestBinary(asBytes("UDF Data Value"), "text/plain");
  ASSERT_EQ(bin.size(), 65u);
  EXPECT_EQ(hexEncode(ByteView(bin).subspan(1, 8)), "c6afb7c0febe04e5");  // TCDV
  EXPECT_EQ(hexEncode(ByteView(bin).first(4)), "60c6afb7");
}

TEST(Udf, CompressedVectorEndsInZerosAndCarriesTypeByte0x61) {
  Bytes bin = contentDigestBinary(asBytes("UDF Compressed Document 4187123"), "text/plain");
  EXPECT_EQ(bin[0], 0x61);
  EXPECT_EQ(hexEncode(ByteView(bin).last(4)), "90a00000");
  EXPECT_EQ(bin.size(), 65u) << "nothing is removed from TCDV when compressed";
}

TEST(Udf, CompressionCountsTrailingZeroBits) {
  struct Case {
    int trailing_zero_bits;
    int compression;
  };
  for (Case c : {Case{0, 0}, Case{19, 0}, Case{20, 1}, Case{29, 1}, Case{30, 2}, Case{39, 2},
                 Case{40, 3}, Case{49, 3}, Case{50, 4}, Case{64, 4}, Case{511, 4}}) {
    Bytes tcdv(64, 0);
    // A single one bit followed by exactly `trailing_zero_bits` zero bits.
    int one_bit = 511 - c.trailing_zero_bits;
    tcdv[static_cast<size_t>(one_bit / 8)] = static_cast<uint8_t>(0x80 >> (one_bit % 8));
    EXPECT_EQ(udfCompression(tcdv), c.compression) << c.trailing_zero_bits;
  }
  EXPECT_EQ(udfCompression(Bytes(64, 0)), 4);
}

TEST(Udf, AuthenticatorVector) {
  auto udf = authenticatorUdf(asBytes("Konrad is the traitor"), "text/plain",
                              "NDD7-6CMX-H2FW-ISAL-K4VB-DQ3E-PEDM");
  ASSERT_TRUE(udf.ok()) << udf.status().toString();
  EXPECT_EQ(*udf, "ABGM-G76T-7GPF-FTYH-SB2F-HBDF-SW6B");
}

TEST(Udf, AuthenticatorKeyIsCanonicalisedBeforeUse) {
  auto udf = authenticatorUdf(asBytes("Konrad is the traitor"), "text/plain",
                              "ndd7 6cmx h2fw isal k4vb dq3e pedm");
  ASSERT_TRUE(udf.ok());
  EXPECT_EQ(*udf, "ABGM-G76T-7GPF-FTYH-SB2F-HBDF-SW6B");
}

TEST(Udf, AuthenticatorDependsOnKeyDataAndContentType) {
  const std::string k = "NDD7-6CMX-H2FW-ISAL-K4VB-DQ3E-PEDM";
  auto base = authenticatorUdf(asBytes("x"), "text/plain", k).value();
  EXPECT_NE(authenticatorUdf(asBytes("y"), "text/plain", k).value(), base);
  EXPECT_NE(authenticatorUdf(asBytes("x"), "text/html", k).value(), base);
  EXPECT_NE(
      authenticatorUdf(asBytes("x"), "text/plain", "NDD7-6CMX-H2FW-ISAL-K4VB-DQ3E-PEDA").value(),
      base);
  EXPECT_FALSE(authenticatorUdf(asBytes("x"), "text/plain", "not a udf!").ok());
}

TEST(Udf, PrecisionRangeAndLengths) {
  for (int bits : {100, 128, 140, 200, 256, 440}) {
    auto udf = contentDigestUdf(asBytes("x"), "text/plain", DigestAlgorithm::kSha512, bits);
    ASSERT_TRUE(udf.ok()) << bits;
    auto chars = udfCharacters(*udf);
    EXPECT_EQ(chars->size(), static_cast<size_t>((bits + 4) / 5)) << bits;
  }
  for (int bits : {0, 99, 441, 1000}) {
    auto udf = contentDigestUdf(asBytes("x"), "text/plain", DigestAlgorithm::kSha512, bits);
    EXPECT_FALSE(udf.ok()) << bits;
    EXPECT_EQ(udf.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(Udf, ShorterPresentationIsAPrefixOfTheLonger) {
  auto longest =
      udfCharacters(
          contentDigestUdf(asBytes("p"), "text/plain", DigestAlgorithm::kSha3_512, 440).value())
          .value();
  for (int bits = 100; bits <= 440; ++bits) {
    auto chars = udfCharacters(
        contentDigestUdf(asBytes("p"), "text/plain", DigestAlgorithm::kSha3_512, bits).value());
    EXPECT_EQ(longest.rfind(*chars, 0), 0u) << bits;
  }
}

TEST(Udf, DashesEveryFourCharacters) {
  auto udf = contentDigestUdf(asBytes("x"), "text/plain", DigestAlgorithm::kSha512, 128).value();
  // 26 characters: six groups of four and one of two.
  ASSERT_EQ(udf.size(), 26u + 6u);
  for (size_t i = 4; i < udf.size(); i += 5) EXPECT_EQ(udf[i], '-') << udf;
}

TEST(Udf, NonceHasTypeByte104AndIsRandom) {
  auto a = nonceUdf();
  auto b = nonceUdf();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0], 'N');
  EXPECT_NE(*a, *b);
  EXPECT_EQ(udfBinary(*a).value()[0], 104);
  EXPECT_EQ(udfCharacters(*a)->size(), static_cast<size_t>((kUdfDefaultNonceBits + 4) / 5));
  EXPECT_EQ(udfCharacters(nonceUdf(440).value())->size(), 88u);
  EXPECT_FALSE(nonceUdf(50).ok());
}

TEST(Udf, MessageIdsAreDigestsOfTheNonceValueWithoutItsTypeByte) {
  const std::string message_id = nonceUdf(140).value();
  auto ids = messageIdsFor(message_id);
  ASSERT_TRUE(ids.ok()) << ids.status().toString();
  Bytes bin = base32Decode(message_id).value();
  ASSERT_EQ(bin.size(), 17u);  // 28 characters hold 17 whole bytes
  ByteView value = ByteView(bin).subspan(1);
  EXPECT_EQ(ids->envelope_id, contentDigestUdf(value, "application/mmm/envelopeid").value());
  EXPECT_EQ(ids->response_id, contentDigestUdf(value, "application/mmm/responseid").value());
  EXPECT_NE(ids->envelope_id, ids->response_id);
  EXPECT_EQ(ids->envelope_id[0], 'M');
  // Presentation variants of the same MessageId give the same ids.
  std::string lower;
  for (char c : message_id) {
    if (c != '-') lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(messageIdsFor(lower)->envelope_id, ids->envelope_id);
}

TEST(Udf, MessageIdsRejectNonNonces) {
  EXPECT_FALSE(messageIdsFor("MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF").ok());
  EXPECT_FALSE(messageIdsFor("NOT A UDF!").ok());
  EXPECT_FALSE(messageIdsFor("").ok());
}

TEST(Udf, ParsingIgnoresDashesSpacesAndCase) {
  struct Case {
    std::string text;
    bool ok;
  };
  for (const Case& c :
       {Case{"MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF", true},
        Case{"mddk7n6a727ajznostrxxks7djaf", true},
        Case{"MDDK 7N6A 727A JZNO STRX XKS7 DJAF", true}, Case{"Mddk-7n6a-727A-jzno-STRX", true},
        Case{"MDDK-7N6A-727A-JZNO-STR", false},  // 95 bits
        Case{"MDDK-7N6A-727A-JZNO-STR1", false}, Case{"MDDK-7N6A-727A-JZNO-STR8", false},
        Case{"", false}}) {
    auto canonical = canonicalUdf(c.text);
    EXPECT_EQ(canonical.ok(), c.ok) << c.text;
    if (c.ok) {
      EXPECT_EQ(canonical->rfind("MDDK-7N6A-727A-JZNO-STRX", 0), 0u) << *canonical;
    }
  }
}

TEST(Udf, PrefixMatching) {
  const std::string full = "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF";
  struct Case {
    std::string a;
    bool matches;
  };
  for (const Case& c : {
           Case{full, true},
           Case{"mddk-7n6a-727a-jzno-strx-xks7-djaf", true},
           Case{"MDDK7N6A727AJZNOSTRX", true},                               // 100 bits
           Case{"MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF-XI6O-ZSLU-2VOA", true},  // longer
           Case{"MDDK-7N6A-727A-JZNO-STR", false},                           // < 100 bits
           Case{"MDDK-7N6A-727A-JZNO-STRY", false},
           Case{"MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAG", false},
           Case{"MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF!", false},
       }) {
    EXPECT_EQ(udfMatches(c.a, full), c.matches) << c.a;
    EXPECT_EQ(udfMatches(full, c.a), c.matches) << c.a << " (reversed)";
  }
  EXPECT_FALSE(udfMatches("MDDK7N6A727AJZNOSTRX", full, 140)) << "caller can demand more bits";
}

}  // namespace
}  // namespace meshgate::mesh
