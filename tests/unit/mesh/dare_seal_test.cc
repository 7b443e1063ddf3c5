// DARE signing, verification, encryption and the meshgate header binding (MGB1).
#include <gtest/gtest.h>

#include <functional>

#include "gateway/mesh/crypto.h"
#include "gateway/mesh/dare.h"

namespace meshgate::mesh {
namespace {

using json = nlohmann::json;

struct Keys {
  PrivateKey ed25519 = PrivateKey::generate(KeyType::kEd25519).value();
  PrivateKey ed448 = PrivateKey::generate(KeyType::kEd448).value();
  PrivateKey x25519 = PrivateKey::generate(KeyType::kX25519).value();
  PrivateKey x448 = PrivateKey::generate(KeyType::kX448).value();
  PrivateKey stranger = PrivateKey::generate(KeyType::kEd25519).value();
};

const Keys& keys() {
  static const Keys k;
  return k;
}

const Bytes kMessage = toBytes("From: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n");

// A meshgate-sealed envelope with every header and trailer field present: signed by two keys,
// encrypted to two recipients, with EnvelopeId, kid, annotations, policy, ContentMetaData,
// an unknown header member, WitnessValue and an unknown trailer member.
DareEnvelope fullySealed() {
  DareSealOptions o;
  o.recipients = {keys().x25519.publicKey(), keys().x448.publicKey()};
  o.content_type = "message/rfc822";
  DareEnvelope env = sealDare(kMessage, o).value();
  env.header.envelope_id = "MB2G-K6DF-Q3KY-O2C6-GVUG-PQXC-B5GR";
  env.header.kid = "EBQF-CP73-F3CX-HX54-PIFU-4C4J-IYVL";
  env.header.annotations = std::vector<Bytes>{toBytes("a1"), toBytes("a2")};
  env.header.policy = json{{"Sealed", true}, {"Escrow", "none"}};
  env.header.extensions["Route"] = "gw1";
  env.trailer = DareTrailer();
  env.trailer->witness_value = toBytes("witness");
  env.trailer->extensions["Note"] = "n";
  std::vector<PrivateKey> signers = {keys().ed25519, keys().ed448};
  EXPECT_TRUE(signDare(env, signers).ok());
  return env;
}

std::vector<PublicKey> trusted() { return {keys().ed25519.publicKey(), keys().ed448.publicKey()}; }

TEST(DareSign, SealedEnvelopeVerifiesWithEveryKindOfKey) {
  for (bool embed : {true, false}) {
    for (const PrivateKey& k : {keys().ed25519, keys().ed448}) {
      DareSealOptions o;
      o.signers = {k};
      o.embed_signature_keys = embed;
      auto env = sealDare(kMessage, o);
      ASSERT_TRUE(env.ok()) << env.status().toString();
      EXPECT_EQ(env->payload, kMessage);
      EXPECT_EQ(env->header.dig, "S512");
      EXPECT_EQ(env->trailer->payload_digest, sha512(kMessage));
      const DareSignature& s = (*env->trailer->signatures)[0];
      EXPECT_EQ(s.alg, signatureAlgorithmName(k.type()));
      EXPECT_EQ(s.kid, k.kid());
      EXPECT_EQ(s.binding, "MGB1");
      EXPECT_EQ(s.signature_key.has_value(), embed);

      std::vector<PublicKey> mine = {k.publicKey()};
      auto with_key = verifyDare(*env, mine);
      ASSERT_TRUE(with_key.ok()) << with_key.status().toString();
      ASSERT_EQ(with_key->size(), 1u);
      EXPECT_EQ((*with_key)[0].kid, k.kid());
      EXPECT_FALSE((*with_key)[0].embedded_key);
      EXPECT_TRUE((*with_key)[0].header_bound);

      auto without = verifyDare(*env, {});
      EXPECT_EQ(without.ok(), embed) << without.status().toString();
      if (embed) {
        EXPECT_TRUE((*without)[0].embedded_key);
        DareVerifyOptions strict;
        strict.allow_embedded_keys = false;
        auto refused = verifyDare(*env, {}, strict);
        EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
        EXPECT_NE(refused.status().message().find("embedded keys are not allowed"),
                  std::string::npos);
      } else {
        EXPECT_NE(without.status().message().find("no key to verify with"), std::string::npos);
      }
      // Through text and back.
      auto parsed = parseDareEnvelope(serializeDareEnvelope(*env));
      ASSERT_TRUE(parsed.ok());
      EXPECT_TRUE(verifyDare(*parsed, mine).ok());
    }
  }
}

TEST(DareSign, EverySignatureIsVerifiedAndReported) {
  DareEnvelope env = fullySealed();
  auto checks = verifyDare(env, trusted());
  ASSERT_TRUE(checks.ok()) << checks.status().toString();
  ASSERT_EQ(checks->size(), 2u);
  EXPECT_EQ((*checks)[0].kid, keys().ed25519.kid());
  EXPECT_EQ((*checks)[0].alg, "ED25519");
  EXPECT_EQ((*checks)[1].kid, keys().ed448.kid());
  EXPECT_EQ((*checks)[1].alg, "ED448");
}

TEST(DareSign, UnsignedEnvelopeDoesNotVerify) {
  auto env = sealDare(kMessage, {}).value();
  EXPECT_FALSE(env.trailer.has_value());
  auto r = verifyDare(env, trusted());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("not signed"), std::string::npos);
}

TEST(DareSign, SigningTwiceOrWithTheWrongKeysIsRefused) {
  DareEnvelope env = fullySealed();
  std::vector<PrivateKey> one = {keys().stranger};
  EXPECT_EQ(signDare(env, one).code(), StatusCode::kFailedPrecondition);
  DareEnvelope fresh;
  std::vector<PrivateKey> x = {keys().x25519};
  EXPECT_EQ(signDare(fresh, x).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(signDare(fresh, {}).code(), StatusCode::kInvalidArgument);
  DareSealOptions o;
  o.recipients = {keys().ed25519.publicKey()};
  EXPECT_EQ(sealDare(kMessage, o).status().code(), StatusCode::kInvalidArgument);
}

TEST(DareSign, SignatureByAnotherKeyWithTheSameKidClaimFails) {
  // The stranger signs but claims to be ed25519: the trusted key for that kid refuses it.
  DareSealOptions o;
  o.signers = {keys().stranger};
  o.embed_signature_keys = false;
  DareEnvelope env = sealDare(kMessage, o).value();
  (*env.trailer->signatures)[0].kid = keys().ed25519.kid();
  auto r = verifyDare(env, trusted());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
}

TEST(DareSign, EmbeddedKeyMustHaveTheSignaturesKid) {
  DareSealOptions o;
  o.signers = {keys().ed25519};
  o.bind_header = false;  // so only the kid check can catch it
  DareEnvelope env = sealDare(kMessage, o).value();
  (*env.trailer->signatures)[0].signature_key = toDareKey(keys().stranger.publicKey());
  for (const std::vector<PublicKey>& given : {std::vector<PublicKey>{}, trusted()}) {
    auto r = verifyDare(env, given);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(r.status().message().find("SignatureKey has kid " + keys().stranger.kid()),
              std::string::npos)
        << r.status().message();
  }
}

TEST(DareSign, AlgMustFitTheKey) {
  DareSealOptions o;
  o.signers = {keys().ed25519};
  o.bind_header = false;
  DareEnvelope env = sealDare(kMessage, o).value();
  (*env.trailer->signatures)[0].alg = "ED448";
  auto r = verifyDare(env, trusted());
  EXPECT_NE(r.status().message().find("alg ED448 does not fit the Ed25519 key"), std::string::npos)
      << r.status().message();
  (*env.trailer->signatures)[0].alg = "RS256";
  r = verifyDare(env, trusted());
  EXPECT_NE(r.status().message().find("unsupported signature alg"), std::string::npos);
}

// ---- Tampering with a meshgate-sealed envelope -------------------------------------------

struct Tamper {
  std::string name;
  std::function<void(json&)> apply;  // on the bare [header, payload, trailer] array
};

// Changes a base64url string to a different value of the same length.
void flipBase64(json& field) {
  Bytes b = base64UrlDecode(field.get<std::string>()).value();
  if (b.empty()) {
    b.push_back(0);
  } else {
    b[b.size() / 2] ^= 0x01;
  }
  field = base64UrlEncode(b);
}

void flipString(json& field) {
  std::string s = field.get<std::string>();
  s.back() = s.back() == 'A' ? 'B' : 'A';
  field = s;
}

std::vector<Tamper> tampers() {
  std::vector<Tamper> t;
  auto header = [](json& e) -> json& { return e[0]; };
  auto trailer = [](json& e) -> json& { return e[2]; };
  auto sig = [](json& e, int i) -> json& { return e[2]["signatures"][static_cast<size_t>(i)]; };
  // Header: change every field, remove every field, add one.
  for (const char* f : {"EnvelopeId", "enc", "kid", "dig", "Route"}) {
    t.push_back(
        {std::string("header.") + f + " changed", [=](json& e) { flipString(header(e)[f]); }});
  }
  for (const char* f : {"Salt", "ContentMetaData"}) {
    t.push_back(
        {std::string("header.") + f + " changed", [=](json& e) { flipBase64(header(e)[f]); }});
  }
  for (const char* f : {"EnvelopeId", "enc", "kid", "Salt", "annotations", "recipients", "policy",
                        "ContentMetaData", "dig", "Route"}) {
    t.push_back({std::string("header.") + f + " removed", [=](json& e) { header(e).erase(f); }});
  }
  t.push_back({"header member added", [=](json& e) { header(e)["Extra"] = "x"; }});
  t.push_back(
      {"header.annotations[1] changed", [=](json& e) { flipBase64(header(e)["annotations"][1]); }});
  t.push_back({"header.annotations reordered", [=](json& e) {
                 std::swap(header(e)["annotations"][0], header(e)["annotations"][1]);
               }});
  t.push_back(
      {"header.annotations appended", [=](json& e) { header(e)["annotations"].push_back("AA"); }});
  t.push_back({"header.policy changed", [=](json& e) { header(e)["policy"]["Sealed"] = false; }});
  t.push_back({"header.policy member added", [=](json& e) { header(e)["policy"]["X"] = 1; }});
  t.push_back({"header.recipients[1].kid changed",
               [=](json& e) { flipString(header(e)["recipients"][1]["kid"]); }});
  t.push_back({"header.recipients[0].wmk changed",
               [=](json& e) { flipBase64(header(e)["recipients"][0]["wmk"]); }});
  t.push_back({"header.recipients[0].epk.Public changed", [=](json& e) {
                 flipBase64(header(e)["recipients"][0]["epk"]["PublicKeyECDH"]["Public"]);
               }});
  t.push_back({"header.recipients[0].epk.crv case changed", [=](json& e) {
                 header(e)["recipients"][0]["epk"]["PublicKeyECDH"]["crv"] = "x25519";
               }});
  t.push_back({"header.recipients[0] member added",
               [=](json& e) { header(e)["recipients"][0]["alg"] = "A256KW"; }});
  t.push_back({"header.recipients[1] removed", [=](json& e) { header(e)["recipients"].erase(1); }});
  t.push_back({"header.recipients reordered", [=](json& e) {
                 std::swap(header(e)["recipients"][0], header(e)["recipients"][1]);
               }});
  // Payload.
  t.push_back({"payload changed", [](json& e) { flipBase64(e[1]); }});
  t.push_back({"payload extended", [](json& e) {
                 Bytes b = base64UrlDecode(e[1].get<std::string>()).value();
                 b.push_back(0);
                 e[1] = base64UrlEncode(b);
               }});
  t.push_back({"payload truncated", [](json& e) {
                 Bytes b = base64UrlDecode(e[1].get<std::string>()).value();
                 b.pop_back();
                 e[1] = base64UrlEncode(b);
               }});
  // Trailer.
  t.push_back(
      {"trailer.PayloadDigest changed", [=](json& e) { flipBase64(trailer(e)["PayloadDigest"]); }});
  t.push_back(
      {"trailer.PayloadDigest removed", [=](json& e) { trailer(e).erase("PayloadDigest"); }});
  t.push_back(
      {"trailer.WitnessValue changed", [=](json& e) { flipBase64(trailer(e)["WitnessValue"]); }});
  t.push_back({"trailer.WitnessValue removed", [=](json& e) { trailer(e).erase("WitnessValue"); }});
  t.push_back({"trailer.Note changed", [=](json& e) { flipString(trailer(e)["Note"]); }});
  t.push_back({"trailer member added", [=](json& e) { trailer(e)["Extra"] = 1; }});
  t.push_back({"trailer removed", [](json& e) { e.erase(2); }});
  t.push_back({"trailer.signatures removed", [=](json& e) { trailer(e).erase("signatures"); }});
  t.push_back(
      {"trailer.signatures[1] removed", [=](json& e) { trailer(e)["signatures"].erase(1); }});
  t.push_back(
      {"trailer.signatures[0] removed", [=](json& e) { trailer(e)["signatures"].erase(0); }});
  t.push_back({"trailer.signatures reordered", [=](json& e) {
                 std::swap(trailer(e)["signatures"][0], trailer(e)["signatures"][1]);
               }});
  t.push_back({"trailer.signatures duplicated",
               [=](json& e) { trailer(e)["signatures"].push_back(trailer(e)["signatures"][0]); }});
  for (int i : {0, 1}) {
    std::string p = "trailer.signatures[" + std::to_string(i) + "].";
    t.push_back({p + "signature changed", [=](json& e) { flipBase64(sig(e, i)["signature"]); }});
    t.push_back({p + "signature removed", [=](json& e) { sig(e, i).erase("signature"); }});
    t.push_back(
        {p + "alg changed", [=](json& e) { sig(e, i)["alg"] = i == 0 ? "ED448" : "ED25519"; }});
    t.push_back({p + "alg removed", [=](json& e) { sig(e, i).erase("alg"); }});
    t.push_back({p + "kid changed", [=](json& e) { flipString(sig(e, i)["kid"]); }});
    t.push_back({p + "kid lower-cased", [=](json& e) {
                   std::string k = sig(e, i)["kid"];
                   for (char& c : k)
                     c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                   sig(e, i)["kid"] = k;
                 }});
    t.push_back({p + "kid removed", [=](json& e) { sig(e, i).erase("kid"); }});
    t.push_back({p + "SignatureKey removed", [=](json& e) { sig(e, i).erase("SignatureKey"); }});
    t.push_back({p + "SignatureKey changed", [=](json& e) {
                   flipBase64(sig(e, i)["SignatureKey"]["PublicKeyECDH"]["Public"]);
                 }});
    t.push_back({p + "SignatureKey crv case changed", [=](json& e) {
                   sig(e, i)["SignatureKey"]["PublicKeyECDH"]["crv"] = i == 0 ? "ED25519" : "ED448";
                 }});
    t.push_back({p + "MeshgateBinding removed (downgrade)",
                 [=](json& e) { sig(e, i).erase("MeshgateBinding"); }});
    t.push_back(
        {p + "MeshgateBinding changed", [=](json& e) { sig(e, i)["MeshgateBinding"] = "MGB2"; }});
    t.push_back({p + "member added", [=](json& e) { sig(e, i)["x"] = 0; }});
  }
  return t;
}

TEST(DareTamper, EveryFieldChangeOfAMeshgateSealedEnvelopeFailsWithAReason) {
  const DareEnvelope env = fullySealed();
  ASSERT_TRUE(verifyDare(env, trusted()).ok());
  const json original = dareToJson(env);
  for (const Tamper& t : tampers()) {
    json changed = original;
    t.apply(changed);
    ASSERT_NE(changed, original) << t.name << ": the tamper changed nothing";
    auto parsed = dareFromJson(changed);
    if (!parsed.ok()) {
      EXPECT_FALSE(parsed.status().message().empty()) << t.name;
      continue;
    }
    for (bool with_trusted_keys : {true, false}) {
      auto r = verifyDare(*parsed, with_trusted_keys ? trusted() : std::vector<PublicKey>{});
      EXPECT_FALSE(r.ok()) << t.name << (with_trusted_keys ? "" : " (embedded keys)");
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << t.name;
        EXPECT_FALSE(r.status().message().empty()) << t.name;
      }
    }
  }
}

TEST(DareTamper, EverySingleBitFlipOfTheSerializedEnvelopeFails) {
  const std::string text = serializeDareEnvelope(fullySealed());
  ASSERT_TRUE(verifyDare(parseDareEnvelope(text).value(), trusted()).ok());
  size_t parse_failures = 0, verify_failures = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    for (uint8_t mask : {0x01, 0x02, 0x20}) {
      std::string changed = text;
      changed[i] = static_cast<char>(changed[i] ^ mask);
      auto env = parseDareEnvelope(changed);
      if (!env.ok()) {
        ++parse_failures;
        continue;
      }
      auto r = verifyDare(*env, trusted());
      ASSERT_FALSE(r.ok()) << "flip 0x" << std::hex << int{mask} << " at " << std::dec << i
                           << " went unnoticed: ..." << changed.substr(i < 20 ? 0 : i - 20, 40);
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
      ++verify_failures;
    }
  }
  EXPECT_GT(verify_failures, 0u);
  EXPECT_GT(parse_failures, 0u);
}

TEST(DareTamper, AddingTheMarkerToAReferenceSignatureFails) {
  DareSealOptions o;
  o.signers = {keys().ed25519};
  o.bind_header = false;
  DareEnvelope env = sealDare(kMessage, o).value();
  auto ok = verifyDare(env, trusted());
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE((*ok)[0].header_bound);
  (*env.trailer->signatures)[0].binding = std::string(kDareBindingV1);
  auto r = verifyDare(env, trusted());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("header-bound (MGB1) manifest"), std::string::npos);
}

TEST(DareTamper, ReferenceSignaturesBindOnlyThePayload) {
  // The reference format's property, kept for interoperability: header changes pass, payload
  // changes fail, and a verifier may demand the binding.
  DareSealOptions o;
  o.signers = {keys().ed448};
  o.bind_header = false;
  DareEnvelope env = sealDare(kMessage, o).value();
  EXPECT_EQ(dareManifest(*env.trailer->payload_digest).size(), 72u);
  env.header.envelope_id = "changed";
  EXPECT_TRUE(verifyDare(env, trusted()).ok());
  DareVerifyOptions strict;
  strict.require_header_binding = true;
  auto r = verifyDare(env, trusted(), strict);
  EXPECT_NE(r.status().message().find("does not bind the header"), std::string::npos);
  env.payload.push_back('!');
  EXPECT_EQ(verifyDare(env, trusted()).status().code(), StatusCode::kDataLoss);
}

TEST(DareTamper, ReferenceManifestBytes) {
  Bytes digest(64, 0xAB);
  Bytes m = dareManifest(digest);
  ASSERT_EQ(m.size(), 72u);
  EXPECT_EQ(hexEncode(ByteView(m).first(8)), "8004533531328840");
  EXPECT_EQ(Bytes(m.begin() + 8, m.end()), digest);
}

TEST(DareTamper, BoundManifestLayout) {
  DareEnvelope env = fullySealed();
  Bytes digest = sha512(env.payload);
  Bytes m = dareBoundManifest(env, digest).value();
  ASSERT_EQ(m.size(), 72u + 6u + 66u + 66u);
  EXPECT_EQ(Bytes(m.begin(), m.begin() + 72), dareManifest(digest));
  EXPECT_EQ(hexEncode(ByteView(m).subspan(72, 6)), "80044d474231");  // 80 04 "MGB1"
  json header = dareToJson(env)[0];
  EXPECT_EQ(hexEncode(ByteView(m).subspan(78, 2)), "8840");
  EXPECT_EQ(Bytes(m.begin() + 80, m.begin() + 144), sha512(asBytes(canonicalJson(header).value())));
  json trailer = dareToJson(env)[2];
  for (json& s : trailer["signatures"]) s.erase("signature");
  EXPECT_EQ(hexEncode(ByteView(m).subspan(144, 2)), "8840");
  EXPECT_EQ(Bytes(m.begin() + 146, m.end()), sha512(asBytes(canonicalJson(trailer).value())));
}

// ---- Encryption ---------------------------------------------------------------------------

TEST(DareEncrypt, EveryRecipientDecryptsOthersCannot) {
  DareSealOptions o;
  o.recipients = {keys().x25519.publicKey(), keys().x448.publicKey()};
  DareEnvelope env = sealDare(kMessage, o).value();
  EXPECT_EQ(env.header.enc, "A256CBC");
  EXPECT_EQ(env.header.salt->size(), 16u);
  ASSERT_EQ(env.header.recipients->size(), 2u);
  EXPECT_EQ((*env.header.recipients)[0].kid, keys().x25519.kid());
  EXPECT_EQ((*env.header.recipients)[0].epk->crv, "X25519");
  EXPECT_EQ((*env.header.recipients)[1].epk->crv, "X448");
  EXPECT_EQ((*env.header.recipients)[0].wmk->size(), 40u);
  EXPECT_NE(env.payload, kMessage);
  EXPECT_EQ(env.payload.size() % 16, 0u);
  for (const PrivateKey& k : {keys().x25519, keys().x448}) {
    auto plain = decryptDare(parseDareEnvelope(serializeDareEnvelope(env)).value(), k);
    ASSERT_TRUE(plain.ok()) << plain.status().toString();
    EXPECT_EQ(*plain, kMessage);
  }
  auto other = PrivateKey::generate(KeyType::kX25519).value();
  auto r = decryptDare(env, other);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("not encrypted to key " + other.kid()), std::string::npos);
  EXPECT_EQ(decryptDare(env, keys().ed25519).status().code(), StatusCode::kInvalidArgument);
}

TEST(DareEncrypt, TwoSealsOfTheSameMessageDiffer) {
  DareSealOptions o;
  o.recipients = {keys().x25519.publicKey()};
  auto a = sealDare(kMessage, o).value();
  auto b = sealDare(kMessage, o).value();
  EXPECT_NE(a.payload, b.payload);
  EXPECT_NE(a.header.salt, b.header.salt);
}

TEST(DareEncrypt, WrongKeyMaterialIsDataLoss) {
  DareSealOptions o;
  o.recipients = {keys().x448.publicKey()};
  DareEnvelope env = sealDare(kMessage, o).value();
  DareEnvelope bad_wmk = env;
  (*bad_wmk.header.recipients)[0].wmk->at(3) ^= 1;
  auto r = decryptDare(bad_wmk, keys().x448);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("key unwrap failed"), std::string::npos);
  DareEnvelope short_payload = env;
  short_payload.payload.pop_back();
  EXPECT_EQ(decryptDare(short_payload, keys().x448).status().code(), StatusCode::kDataLoss);
  DareEnvelope other_enc = env;
  other_enc.header.enc = "A128GCM";
  EXPECT_EQ(decryptDare(other_enc, keys().x448).status().code(), StatusCode::kDataLoss);
  DareEnvelope small_order = env;
  (*small_order.header.recipients)[0].epk->public_key = Bytes(56, 0);
  EXPECT_EQ(decryptDare(small_order, keys().x448).status().code(), StatusCode::kDataLoss);
}

TEST(DareEncrypt, EmptyPayload) {
  DareSealOptions o;
  o.recipients = {keys().x25519.publicKey()};
  o.signers = {keys().ed25519};
  DareEnvelope env = sealDare(Bytes(), o).value();
  EXPECT_EQ(env.payload.size(), 16u);
  std::vector<PrivateKey> mine = {keys().x25519};
  auto opened = openDare(env, mine, trusted());
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  EXPECT_TRUE(opened->plaintext.empty());
}

TEST(DareOpen, SignAndEncryptRoundTrip) {
  DareEnvelope env = fullySealed();
  std::vector<PrivateKey> mine = {keys().x448};
  auto opened = openDare(parseDareEnvelope(serializeDareEnvelope(env)).value(), mine, trusted());
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  EXPECT_EQ(opened->plaintext, kMessage);
  EXPECT_EQ(opened->signatures.size(), 2u);
  EXPECT_EQ(opened->content_type, "message/rfc822");
}

TEST(DareOpen, ForgedEnvelopeIsRefusedBeforeDecryption) {
  DareEnvelope env = fullySealed();
  env.payload[0] ^= 1;
  std::vector<PrivateKey> mine = {keys().x25519};
  auto opened = openDare(env, mine, trusted());
  EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(opened.status().message().find("PayloadDigest"), std::string::npos);
}

TEST(DareOpen, SignedOnlyEnvelopeNeedsNoDecryptionKey) {
  DareSealOptions o;
  o.signers = {keys().ed25519};
  DareEnvelope env = sealDare(kMessage, o).value();
  auto opened = openDare(env, {}, {});
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->plaintext, kMessage);
  EXPECT_TRUE(opened->signatures[0].embedded_key);
  std::vector<PrivateKey> signer = {keys().ed25519};
  EXPECT_FALSE(openDare(env, signer, {})->signatures[0].embedded_key);
}

TEST(DareOpen, EncryptedWithoutAMatchingKey) {
  DareSealOptions o;
  o.recipients = {keys().x25519.publicKey()};
  DareEnvelope env = sealDare(kMessage, o).value();
  EXPECT_EQ(openDare(env, {}, {}).status().code(), StatusCode::kNotFound);
  std::vector<PrivateKey> wrong = {keys().x448};
  EXPECT_EQ(openDare(env, wrong, {}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace meshgate::mesh
