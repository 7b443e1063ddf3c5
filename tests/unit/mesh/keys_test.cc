// Keys: kid vector, sign/verify, ECDH, key files (JSON and PEM), file modes.
#include "gateway/mesh/keys.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "tests/support/subprocess.h"

namespace meshgate::mesh {
namespace {

using testing::TempDir;

const KeyType kAllTypes[] = {KeyType::kEd25519, KeyType::kEd448, KeyType::kX25519, KeyType::kX448};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(Keys, KidVectorUsesTheReferenceSubjectPublicKeyInfo) {
  Bytes raw = hexDecode("71266B00CCB7823CA15055107AAA6C04487F4BC5B98E2DA225A1665B17142BD4").value();
  auto key = PublicKey::fromRaw(KeyType::kEd25519, raw);
  ASSERT_TRUE(key.ok()) << key.status().toString();
  EXPECT_EQ(key->kid(), "MCCR-IPW7-AUHT-I7HV-FX4A-CLD3-LU7E");
  EXPECT_EQ(key->kidBinary().size(), 65u);
  EXPECT_EQ(hexEncode(meshSubjectPublicKeyInfo(raw)),
            "302c300506032b657003230004"
            "20" +
                hexEncode(raw));
}

TEST(Keys, SubjectPublicKeyInfoAlwaysCarriesTheEd25519Oid) {
  for (KeyType t : kAllTypes) {
    Bytes raw(publicKeySize(t), 0x11);
    Bytes spki = meshSubjectPublicKeyInfo(raw);
    ASSERT_EQ(spki.size(), 14 + raw.size());
    EXPECT_EQ(spki[1], spki.size() - 2);
    EXPECT_EQ(hexEncode(ByteView(spki).subspan(2, 7)), "300506032b6570");
    EXPECT_EQ(spki[10], raw.size() + 3);
    EXPECT_EQ(spki[13], raw.size());
  }
}

TEST(Keys, TypeNamesRoundTripCaseInsensitively) {
  for (KeyType t : kAllTypes) {
    EXPECT_EQ(parseKeyType(keyTypeName(t)).value(), t);
    std::string lower(keyTypeName(t));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(parseKeyType(lower).value(), t);
  }
  EXPECT_FALSE(parseKeyType("RSA").ok());
  EXPECT_FALSE(parseKeyType("").ok());
}

class KeysByType : public ::testing::TestWithParam<KeyType> {};

TEST_P(KeysByType, GenerateRawRoundTripAndKid) {
  auto key = PrivateKey::generate(GetParam());
  ASSERT_TRUE(key.ok()) << key.status().toString();
  EXPECT_EQ(key->type(), GetParam());
  EXPECT_EQ(key->publicKey().raw().size(), publicKeySize(GetParam()));
  auto again = PrivateKey::fromRaw(GetParam(), key->rawPrivate());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->publicKey().raw(), key->publicKey().raw());
  EXPECT_EQ(again->kid(), key->kid());
  EXPECT_EQ(key->kid()[0], 'M');
  EXPECT_NE(PrivateKey::generate(GetParam())->kid(), key->kid());
}

// Ed25519 is signed by libsodium, everything else by OpenSSL: the bytes must be the ones RFC
// 8032 gives (test 2: one-byte message) and OpenSSL's own for any key.
TEST(Ed25519Signature, MatchesRfc8032AndOpenSsl) {
  const Bytes secret =
      hexDecode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb").value();
  auto key = PrivateKey::fromRaw(KeyType::kEd25519, secret);
  ASSERT_TRUE(key.ok());
  auto sig = key->sign(hexDecode("72").value());
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(hexEncode(*sig),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f"
            "3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
  auto other = PrivateKey::generate(KeyType::kEd25519).value();
  const Bytes message = toBytes("Mesh-Security-Signal: v=1; contact=known-contact");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, other.evpKey()), 1);
  Bytes openssl(64);
  size_t len = openssl.size();
  ASSERT_EQ(EVP_DigestSign(ctx, openssl.data(), &len, message.data(), message.size()), 1);
  EVP_MD_CTX_free(ctx);
  EXPECT_EQ(other.sign(message).value(), openssl);
}

TEST_P(KeysByType, SignVerifyOrAgree) {
  auto a = PrivateKey::generate(GetParam()).value();
  auto b = PrivateKey::generate(GetParam()).value();
  if (isSignatureKey(GetParam())) {
    Bytes msg = toBytes("manifest");
    auto sig = a.sign(msg);
    ASSERT_TRUE(sig.ok()) << sig.status().toString();
    EXPECT_EQ(sig->size(), GetParam() == KeyType::kEd25519 ? 64u : 114u);
    EXPECT_TRUE(a.publicKey().verify(msg, *sig).ok());
    Status wrong_key = b.publicKey().verify(msg, *sig);
    EXPECT_EQ(wrong_key.code(), StatusCode::kDataLoss);
    Bytes other = toBytes("manifesT");
    EXPECT_EQ(a.publicKey().verify(other, *sig).code(), StatusCode::kDataLoss);
    Bytes bad = *sig;
    bad[0] ^= 1;
    EXPECT_EQ(a.publicKey().verify(msg, bad).code(), StatusCode::kDataLoss);
    EXPECT_EQ(a.publicKey().verify(msg, ByteView(*sig).first(10)).code(), StatusCode::kDataLoss);
    EXPECT_FALSE(a.agree(b.publicKey()).ok());
  } else {
    auto ab = a.agree(b.publicKey());
    auto ba = b.agree(a.publicKey());
    ASSERT_TRUE(ab.ok() && ba.ok());
    EXPECT_EQ(*ab, *ba);
    EXPECT_EQ(ab->size(), publicKeySize(GetParam()));
    EXPECT_FALSE(a.sign(toBytes("x")).ok());
    EXPECT_EQ(a.publicKey().verify(toBytes("x"), Bytes(64)).code(), StatusCode::kInvalidArgument);
  }
}

TEST_P(KeysByType, MeshJsonAndPemTextsRoundTrip) {
  auto key = PrivateKey::generate(GetParam()).value();
  for (bool pem : {false, true}) {
    std::string priv = pem ? privateKeyToPem(key).value() : privateKeyToMeshJson(key);
    std::string pub =
        pem ? publicKeyToPem(key.publicKey()).value() : publicKeyToMeshJson(key.publicKey());
    auto p = parsePrivateKey(priv);
    ASSERT_TRUE(p.ok()) << p.status().toString();
    EXPECT_EQ(p->rawPrivate(), key.rawPrivate());
    auto q = parseKeyText(pub);
    ASSERT_TRUE(q.ok()) << q.status().toString();
    EXPECT_FALSE(q->private_key.has_value());
    EXPECT_EQ(q->public_key.kid(), key.kid());
    EXPECT_EQ(parsePublicKey(priv)->kid(), key.kid());
    EXPECT_FALSE(parsePrivateKey(pub).ok());
  }
  std::string mesh_json = publicKeyToMeshJson(key.publicKey());
  EXPECT_EQ(mesh_json, "{\"PublicKeyECDH\":{\"crv\":\"" + std::string(keyTypeName(GetParam())) +
                      "\",\"Public\":\"" + base64UrlEncode(key.publicKey().raw()) + "\"}}\n");
}

INSTANTIATE_TEST_SUITE_P(All, KeysByType, ::testing::ValuesIn(kAllTypes),
                         [](const ::testing::TestParamInfo<KeyType>& p) {
                           return std::string(keyTypeName(p.param));
                         });

TEST(Keys, MalformedKeyTextsAreErrors) {
  const std::string pub = base64UrlEncode(Bytes(32, 9));
  struct Case {
    std::string text;
    std::string message_part;
  };
  for (const Case& c : {
           Case{"", "not a key"},
           Case{"{", "not a key"},
           Case{"[]", "not a Mesh key"},
           Case{"{\"PublicKeyRSA\":{}}", "unknown key type tag"},
           Case{"{\"PublicKeyECDH\":[]}", "expected an object"},
           Case{"{\"PublicKeyECDH\":{\"Public\":\"" + pub + "\"}}", "crv: missing"},
           Case{"{\"PublicKeyECDH\":{\"crv\":7,\"Public\":\"" + pub + "\"}}", "expected a string"},
           Case{"{\"PublicKeyECDH\":{\"crv\":\"P-256\",\"Public\":\"" + pub + "\"}}",
                "unknown key type"},
           Case{"{\"PublicKeyECDH\":{\"crv\":\"Ed448\",\"Public\":\"" + pub + "\"}}",
                "must be 57 bytes"},
           Case{"{\"PublicKeyECDH\":{\"crv\":\"Ed25519\",\"Public\":\"!!\"}}", "invalid base64"},
           Case{"{\"PrivateKeyECDH\":{\"crv\":\"Ed25519\",\"Private\":\"" + pub +
                    "\",\"Public\":\"" + pub + "\"}}",
                "does not match the private key"},
           Case{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "unreadable PEM public key"},
           Case{
               "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
               "encrypted PEM"},
       }) {
    auto k = parseKeyText(c.text);
    ASSERT_FALSE(k.ok()) << c.text;
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(k.status().message().find(c.message_part), std::string::npos)
        << c.text << " -> " << k.status().message();
  }
}

TEST(Keys, ErrorsNeverQuotePrivateKeyText) {
  const std::string secret = "SECRETSECRETSECRETSECRET";
  for (const std::string& text : {
           "{\"PrivateKeyECDH\":{\"crv\":\"Ed25519\",\"Private\":\"" + secret,
           "{\"PrivateKeyECDH\":{\"crv\":\"Ed25519\",\"Private\":\"" + secret + "\"}}",
           "{\"PrivateKeyECDH\":{\"crv\":\"Ed25519\",\"Private\":\"" + secret + "!\"}}",
       }) {
    auto k = parseKeyText(text);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().message().find("SECRET"), std::string::npos) << k.status().message();
  }
}

TEST(Keys, PemOfAnRsaKeyIsRefused) {
  // A P-256 public key (not a Mesh key type).
  const std::string p256 =
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n"
      "q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n"
      "-----END PUBLIC KEY-----\n";
  auto k = parseKeyText(p256);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("unsupported key type"), std::string::npos)
      << k.status().message();
}

TEST(KeyFiles, SavedPrivateKeyIsMode0600AndPublicIs0644) {
  TempDir dir;
  auto key = PrivateKey::generate(KeyType::kEd25519).value();
  for (KeyFileFormat f : {KeyFileFormat::kMeshJson, KeyFileFormat::kPem}) {
    std::string name = f == KeyFileFormat::kPem ? "k.pem" : "k.json";
    ASSERT_TRUE(savePrivateKeyFile(key, dir.file(name), f).ok());
    ASSERT_TRUE(savePublicKeyFile(key.publicKey(), dir.file(name + ".pub"), f).ok());
    EXPECT_EQ(modeOf(dir.file(name)), 0600u);
    EXPECT_EQ(modeOf(dir.file(name + ".pub")), 0644u);
    auto loaded = loadPrivateKeyFile(dir.file(name));
    ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
    EXPECT_EQ(loaded->kid(), key.kid());
    EXPECT_EQ(loadPublicKeyFile(dir.file(name + ".pub"))->kid(), key.kid());
    EXPECT_EQ(loadPublicKeyFile(dir.file(name))->kid(), key.kid());
    EXPECT_FALSE(loadPrivateKeyFile(dir.file(name + ".pub")).ok());
    EXPECT_EQ(readFile(dir.file(name)).find("-----BEGIN") == 0, f == KeyFileFormat::kPem);
  }
}

TEST(KeyFiles, SavingDoesNotOverwriteUnlessAsked) {
  TempDir dir;
  auto a = PrivateKey::generate(KeyType::kEd25519).value();
  auto b = PrivateKey::generate(KeyType::kEd25519).value();
  ASSERT_TRUE(savePrivateKeyFile(a, dir.file("k")).ok());
  Status again = savePrivateKeyFile(b, dir.file("k"));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(loadPrivateKeyFile(dir.file("k"))->kid(), a.kid());
  ASSERT_TRUE(savePrivateKeyFile(b, dir.file("k"), KeyFileFormat::kMeshJson, true).ok());
  EXPECT_EQ(loadPrivateKeyFile(dir.file("k"))->kid(), b.kid());
  // No temporary files are left behind.
  auto r = testing::runProgram({"/bin/ls", "-A", dir.path()});
  EXPECT_EQ(r.out, "k\n");
}

TEST(KeyFiles, PrivateKeyReadableByOthersIsRefusedWithTheFix) {
  TempDir dir;
  auto key = PrivateKey::generate(KeyType::kX448).value();
  const std::string path = dir.file("key.pem");
  ASSERT_TRUE(savePrivateKeyFile(key, path, KeyFileFormat::kPem).ok());
  struct Case {
    mode_t mode;
    bool ok;
    std::string message;
  };
  for (const Case& c : {
           Case{0600, true, ""},
           Case{0400, true, ""},
           Case{0644, false,
                path +
                    ": private key file is readable by group or others (mode "
                    "0644); run: chmod 600 " +
                    path},
           Case{0640, false, "(mode 0640)"},
           Case{0604, false, "(mode 0604)"},
           Case{0620, false, "accessible by group or others (mode 0620)"},
       }) {
    ASSERT_EQ(::chmod(path.c_str(), c.mode), 0);
    for (bool want_private : {true, false}) {
      Status s =
          want_private ? loadPrivateKeyFile(path).status() : loadPublicKeyFile(path).status();
      EXPECT_EQ(s.ok(), c.ok) << std::oct << c.mode;
      if (!c.ok) {
        EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
        EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
      }
    }
  }
}

TEST(KeyFiles, PublicKeyFileMayBeWorldReadable) {
  TempDir dir;
  auto key = PrivateKey::generate(KeyType::kX25519).value();
  ASSERT_TRUE(savePublicKeyFile(key.publicKey(), dir.file("k.pub")).ok());
  ASSERT_EQ(::chmod(dir.file("k.pub").c_str(), 0666), 0);
  EXPECT_TRUE(loadPublicKeyFile(dir.file("k.pub")).ok());
}

TEST(KeyFiles, MissingFileIsNotFoundAndNamesTheFile) {
  auto k = loadPrivateKeyFile("/nonexistent/key.json");
  EXPECT_EQ(k.status().code(), StatusCode::kNotFound);
  EXPECT_NE(k.status().message().find("/nonexistent/key.json"), std::string::npos);
}

TEST(KeyFiles, GarbageFileNamesTheFile) {
  TempDir dir;
  dir.write("junk", "hello");
  auto k = loadPublicKeyFile(dir.file("junk"));
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(k.status().message().rfind(dir.file("junk") + ": ", 0), 0u) << k.status().message();
}

TEST(ProfileFingerprint, StartsWithTheDoubledTypeByteAndDependsOnEveryKeyInOrder) {
  auto a = PrivateKey::generate(KeyType::kEd448).value().publicKey();
  auto b = PrivateKey::generate(KeyType::kX448).value().publicKey();
  std::vector<PublicKey> ab = {a, b};
  std::vector<PublicKey> ba = {b, a};
  std::vector<PublicKey> only_a = {a};
  auto f = profileFingerprint(ab);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->rfind("MBQ", 0) == 0 || f->rfind("MBR", 0) == 0) << *f;
  EXPECT_EQ(f->size(), 28u + 6u);
  EXPECT_NE(*f, profileFingerprint(ba).value());
  EXPECT_NE(*f, profileFingerprint(only_a).value());
  // The construction, spelled out independently.
  Bytes list;
  for (const auto& k : ab) {
    list.push_back(65);
    list.insert(list.end(), k.kidBinary().begin(), k.kidBinary().end());
  }
  Bytes tagged = toBytes("UdfList:");
  Bytes inner = sha512(list);
  tagged.insert(tagged.end(), inner.begin(), inner.end());
  Bytes bin = {0x60, 0x60};
  Bytes tcdv = sha512(tagged);
  bin.insert(bin.end(), tcdv.begin(), tcdv.end());
  EXPECT_EQ(*f, presentUdf(bin, 140).value());
}

}  // namespace
}  // namespace meshgate::mesh
