// DARE: the reference implementation's published example envelopes
// (vectors/dare-encrypted-example.md).
#include <gtest/gtest.h>

#include "gateway/mesh/crypto.h"
#include "gateway/mesh/dare.h"

namespace meshgate::mesh {
namespace {

const char kPlaintext[] = "This is a test long enough to require multiple blocks";
const char kBaseSeed[] =
    "D4 B9 0B 18 8F 3B 1A 86 E9 6D B6 17 78 5B 03 41 10 B5 63 0D A7 4E F1 A4 25 76 B2 7C 48 EA D3 "
    "F1";
const char kSalt[] = "C7 F9 65 E4 91 29 70 39 B9 04 BF 2A 7B 1F 38 B4";
const char kPayloadKey[] =
    "5E 9A 43 79 3E 0F 89 65 C4 C0 F4 80 9B 46 14 05 BB 2D 6D 91 73 75 B7 77 70 5E 1C 78 63 2E 74 "
    "48";
const char kPayloadIv[] = "D1 B3 40 5D DA 4C 1F 91 9B B3 83 99 24 B2 83 FD";
const char kCiphertext[] =
    "C0 03 21 7D 46 D4 0E C5 49 6E 42 DB DD D2 D3 06 CD DC F7 F2 DF 00 08 8C 5D 54 F2 C5 68 68 CC "
    "FB"
    "72 16 F1 B3 1D 21 2A 8D 77 5B D1 E9 BA B0 A6 9F 2E 72 1A 20 DE 5F 47 EB 16 3F 75 FD D8 E5 28 "
    "39";

// The envelope with its wrapped lines joined.
const char kEncryptedEnvelope[] =
    R"({"DareEnvelope":[{"enc":"A256CBC","kid":"EBQF-CP73-F3CX-HX54-PIFU-4C4J-IYVL",)"
    R"( "Salt":"x_ll5JEpcDm5BL8qex84tA",)"
    R"( "recipients":[{"kid":"MC3P-SEXC-G5NY-LUUQ-CDZU-JZTN-HMPX",)"
    R"(   "epk":{"PublicKeyECDH":{"crv":"Ed25519","Public":"7XeOpwiT_2seIbUB5B4pvWuW__ZSiaU6dOlrGil9Voo"}},)"
    R"(   "wmk":"VLz73UJQNX5uxxVaCWe5Df3ecbbnTcVsXOIcEam0zMQvcnpWf2Fkhw"}]},)"
    R"( "wAMhfUbUDsVJbkLb3dLTBs3c9_LfAAiMXVTyxWhozPtyFvGzHSEqjXdb0em6sKafLnIaIN5fR-sWP3X92OUoOQ"]})";

const char kAnnotatedEnvelope[] =
    R"({"DareEnvelope":[{"annotations":["iAEAiC1TdWJqZWN0OiBNZXNzYWdlIG1ldGFkYXRhIHNob3VsZCBiZSBlbmNyeXB0ZWQ",)"
    R"(  "iAEBiAoyMDE4LTAyLTAx"]},)"
    R"( "VGhpcyBpcyBhIHRlc3QgbG9uZyBlbm91Z2ggdG8gcmVxdWlyZSBtdWx0aXBsZSBibG9ja3M"]})";

Bytes hex(const char* h) { return hexDecode(h).value(); }

TEST(DareVector, PayloadKeyAndIvDerivation) {
  EXPECT_EQ(
      hkdf(HashAlgorithm::kSha256, hex(kBaseSeed), hex(kSalt), asBytes("encrypt"), 32).value(),
      hex(kPayloadKey));
  EXPECT_EQ(hkdf(HashAlgorithm::kSha256, hex(kBaseSeed), hex(kSalt), asBytes("iv"), 16).value(),
            hex(kPayloadIv));
}

TEST(DareVector, PayloadDecryptsToThePlaintext) {
  auto plain = dareDecryptPayload(hex(kCiphertext), hex(kBaseSeed), hex(kSalt));
  ASSERT_TRUE(plain.ok()) << plain.status().toString();
  EXPECT_EQ(toString(*plain), kPlaintext);
}

TEST(DareVector, PayloadEncryptsToTheCiphertext) {
  auto cipher = dareEncryptPayload(asBytes(kPlaintext), hex(kBaseSeed), hex(kSalt));
  ASSERT_TRUE(cipher.ok());
  EXPECT_EQ(*cipher, hex(kCiphertext));
}

TEST(DareVector, EncryptedEnvelopeParsesAndItsPayloadDecrypts) {
  auto env = parseDareEnvelope(kEncryptedEnvelope);
  ASSERT_TRUE(env.ok()) << env.status().toString();
  EXPECT_FALSE(env->trailer.has_value()) << "the example has two elements";
  EXPECT_EQ(env->header.enc, "A256CBC");
  EXPECT_EQ(env->header.kid, "EBQF-CP73-F3CX-HX54-PIFU-4C4J-IYVL");
  EXPECT_EQ(env->header.salt, hex(kSalt));
  ASSERT_TRUE(env->header.recipients.has_value());
  ASSERT_EQ(env->header.recipients->size(), 1u);
  const DareRecipient& r = (*env->header.recipients)[0];
  EXPECT_EQ(r.kid, "MC3P-SEXC-G5NY-LUUQ-CDZU-JZTN-HMPX");
  ASSERT_TRUE(r.epk.has_value());
  EXPECT_EQ(r.epk->crv, "Ed25519");
  EXPECT_EQ(r.epk->public_key.size(), 32u);
  ASSERT_TRUE(r.wmk.has_value());
  EXPECT_EQ(r.wmk->size(), 40u) << "RFC 3394 wrap of a 32-byte seed";
  EXPECT_EQ(env->payload, hex(kCiphertext));
  auto plain = dareDecryptPayload(env->payload, hex(kBaseSeed), *env->header.salt);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(toString(*plain), kPlaintext);
}

TEST(DareVector, AnnotatedEnvelopeParses) {
  auto env = parseDareEnvelope(kAnnotatedEnvelope);
  ASSERT_TRUE(env.ok()) << env.status().toString();
  EXPECT_EQ(toString(env->payload), kPlaintext);
  ASSERT_TRUE(env->header.annotations.has_value());
  ASSERT_EQ(env->header.annotations->size(), 2u);
  const char* texts[] = {"Subject: Message metadata should be encrypted", "2018-02-01"};
  for (size_t i = 0; i < 2; ++i) {
    const Bytes& a = (*env->header.annotations)[i];
    ASSERT_GE(a.size(), 5u);
    EXPECT_EQ(a[0], 0x88);
    EXPECT_EQ(a[1], 0x01);
    EXPECT_EQ(a[2], i);
    EXPECT_EQ(a[3], 0x88);
    EXPECT_EQ(a[4], a.size() - 5);
    EXPECT_EQ(toString(ByteView(a).subspan(5)), texts[i]);
  }
}

TEST(DareVector, ExamplesRoundTripThroughTheCodec) {
  for (const char* text : {kEncryptedEnvelope, kAnnotatedEnvelope}) {
    auto env = parseDareEnvelope(text);
    ASSERT_TRUE(env.ok());
    nlohmann::json original = nlohmann::json::parse(text)["DareEnvelope"];
    EXPECT_EQ(dareToJson(*env), original);
    auto again = parseDareEnvelope(serializeDareEnvelope(*env));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *env);
  }
}

TEST(DareVector, EdwardsKeyAgreementIsReportedNotAttempted) {
  // The example's recipient uses an Ed25519 epk (key agreement on the Edwards curve), which
  // meshgate does not implement; decryption must say so rather than fail obscurely.
  auto env = parseDareEnvelope(kEncryptedEnvelope).value();
  auto key = PrivateKey::generate(KeyType::kX25519).value();
  (*env.header.recipients)[0].kid = key.kid();
  auto plain = decryptDare(env, key);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(plain.status().message().find("epk is Ed25519"), std::string::npos)
      << plain.status().message();
}

}  // namespace
}  // namespace meshgate::mesh
