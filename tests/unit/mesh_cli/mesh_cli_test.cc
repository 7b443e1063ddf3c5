// `meshgate udf`, `meshgate key` and `meshgate dare` as an administrator types them: the real
// binary, real files, real exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

using testing::runMeshgate;
using testing::RunResult;
using testing::TempDir;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- help ---------------------------------------------------------------------------------

TEST(MeshCli, TopLevelHelpListsTheGroups) {
  auto r = runMeshgate({"--help"});
  ASSERT_EQ(r.exit_code, 0);
  for (const char* g : {"udf", "key", "dare"}) {
    EXPECT_TRUE(contains(r.out, std::string("\n  ") + g + " ")) << g;
  }
}

TEST(MeshCli, EveryCommandHasHelp) {
  const std::vector<std::vector<std::string>> commands = {
      {"udf", "digest"},      {"udf", "mac"},      {"udf", "nonce"},
      {"udf", "message-ids"}, {"key", "generate"}, {"key", "id"},
      {"dare", "seal"},       {"dare", "verify"},  {"dare", "open"}};
  for (const auto& c : commands) {
    auto r = runMeshgate({c[0], c[1], "--help"});
    EXPECT_EQ(r.exit_code, 0) << c[0] << " " << c[1];
    EXPECT_EQ(r.out.rfind("Usage: meshgate " + c[0] + " " + c[1], 0), 0u) << r.out;
  }
  for (const char* g : {"udf", "key", "dare"}) {
    auto r = runMeshgate({g, "--help"});
    EXPECT_EQ(r.exit_code, 0) << g;
    EXPECT_EQ(r.out.rfind(std::string("Usage: meshgate ") + g + " COMMAND", 0), 0u) << r.out;
    auto none = runMeshgate({g});
    EXPECT_EQ(none.exit_code, 2) << g;
  }
}

// ---- udf ----------------------------------------------------------------------------------

struct UdfCase {
  std::vector<std::string> args;
  std::string stdin_data;
  std::string out;
};

TEST(MeshCli, UdfDigestAndMacVectors) {
  TempDir dir;
  dir.write("data", "UDF Data Value");
  dir.write("secret", "Konrad is the traitor");
  const std::vector<UdfCase> cases = {
      {{"udf", "digest", "--content-type", "text/plain"},
       "UDF Data Value",
       "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF\n"},
      {{"udf", "digest", "--content-type", "text/plain", "-"},
       "UDF Data Value",
       "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF\n"},
      {{"udf", "digest", "--content-type", "text/plain", dir.file("data")},
       "",
       "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF\n"},
      {{"udf", "digest", "--sha3", "--content-type=text/plain"},
       "UDF Data Value",
       "KCFI-NCQG-DRKG-47R7-OVPT-TCHZ-7UXY\n"},
      {{"udf", "digest", "--bits", "100", "--content-type", "text/plain"},
       "UDF Data Value",
       "MDDK-7N6A-727A-JZNO-STRX\n"},
      {{"udf", "digest", "--bits", "200", "--content-type", "text/plain"},
       "UDF Data Value",
       "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF-XI6O-ZSLU-2VOA\n"},
      {{"udf", "digest", "--content-type", "text/plain"},
       "UDF Content Data",
       "MB5S-R4AJ-3FBT-7NHO-T26Z-2E6Y-WFH4\n"},
      {{"udf", "digest", "--sha3", "--content-type", "text/plain"},
       "UDF Content Data",
       "KCM5-7VB6-IJXJ-WKHX-NZQF-OKGZ-EWVN\n"},
      {{"udf", "digest", "--content-type", "text/plain"},
       "UDF Compressed Document 4187123",
       "MGHB-JWIZ-J3LA-EEWD-GCT3-WX6H-C5W2\n"},
      {{"udf", "mac", "--key", "NDD7-6CMX-H2FW-ISAL-K4VB-DQ3E-PEDM", "--content-type", "text/plain",
        dir.file("secret")},
       "",
       "ABGM-G76T-7GPF-FTYH-SB2F-HBDF-SW6B\n"},
      {{"udf", "mac", "--key", "ndd76cmxh2fwisalk4vbdq3epedm", "--content-type", "text/plain"},
       "Konrad is the traitor",
       "ABGM-G76T-7GPF-FTYH-SB2F-HBDF-SW6B\n"},
  };
  for (const UdfCase& c : cases) {
    auto r = runMeshgate(c.args, c.stdin_data);
    EXPECT_EQ(r.exit_code, 0) << c.args[1] << ": " << r.err;
    EXPECT_EQ(r.out, c.out) << c.args.back();
  }
}

struct UsageCase {
  std::vector<std::string> args;
  int exit_code;
  std::string err_part;
};

TEST(MeshCli, UdfErrors) {
  const std::vector<UsageCase> cases = {
      {{"udf", "digest"}, 2, "missing required option --content-type"},
      {{"udf", "digest", "--content-type", "x", "--bits", "99"},
       2,
       "--bits must be a number from 100 to 440"},
      {{"udf", "digest", "--content-type", "x", "--bits", "441"}, 2, "--bits must be"},
      {{"udf", "digest", "--content-type", "x", "--bits", "12x"}, 2, "--bits must be"},
      {{"udf", "digest", "--content-type", "x", "/nonexistent/file"}, 1, "/nonexistent/file"},
      {{"udf", "mac", "--content-type", "x"}, 2, "missing required option --key"},
      {{"udf", "mac", "--key", "hello!", "--content-type", "x"}, 2, "--key must be a UDF"},
      {{"udf", "nonce", "--bits", "50"}, 2, "--bits must be"},
      {{"udf", "message-ids"}, 2, "missing argument MESSAGEID"},
      {{"udf", "message-ids", "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF"}, 1, "not a nonce UDF"},
      {{"udf", "frobnicate"}, 2, "unknown command \"frobnicate\""},
  };
  for (const UsageCase& c : cases) {
    auto r = runMeshgate(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args.back() << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.err_part)) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST(MeshCli, UdfNonceAndMessageIds) {
  auto a = runMeshgate({"udf", "nonce"});
  auto b = runMeshgate({"udf", "nonce"});
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out[0], 'N');
  EXPECT_NE(a.out, b.out);
  auto wide = runMeshgate({"udf", "nonce", "--bits", "200"});
  EXPECT_EQ(wide.out.size(), 40u + 9u + 1u);  // 40 characters, 9 dashes, newline

  const std::string message_id = a.out.substr(0, a.out.size() - 1);
  auto ids = runMeshgate({"udf", "message-ids", message_id});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  auto expected = mesh::messageIdsFor(message_id).value();
  EXPECT_EQ(ids.out,
            "EnvelopeId: " + expected.envelope_id + "\nResponseId: " + expected.response_id + "\n");
}

// ---- key ----------------------------------------------------------------------------------

TEST(MeshCli, KeyGenerateWritesBothFilesWithTheRightModes) {
  TempDir dir;
  for (const char* type : {"Ed25519", "Ed448", "X25519", "X448", "ed25519"}) {
    for (const char* ext : {".key", ".pem"}) {
      const std::string out = dir.file(std::string(type) + ext);
      auto r = runMeshgate({"key", "generate", "--type", type, "--out", out});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(modeOf(out), 0600u);
      EXPECT_EQ(modeOf(out + ".pub"), 0644u);
      EXPECT_EQ(readFile(out).rfind("-----BEGIN PRIVATE KEY-----", 0) == 0,
                std::string(ext) == ".pem");
      // The printed kid is the id of both files.
      auto id = runMeshgate({"key", "id", out});
      auto pub_id = runMeshgate({"key", "id", out + ".pub"});
      EXPECT_EQ(id.exit_code, 0) << id.err;
      EXPECT_EQ(id.out, r.out);
      EXPECT_EQ(pub_id.out, r.out);
      EXPECT_EQ(mesh::loadPublicKeyFile(out + ".pub")->kid() + "\n", r.out);
    }
  }
}

TEST(MeshCli, KeyGenerateFormatOverrideAndNoSilentOverwrite) {
  TempDir dir;
  const std::string out = dir.file("k");
  ASSERT_EQ(
      runMeshgate({"key", "generate", "--type", "X448", "--out", out, "--format", "pem"}).exit_code,
      0);
  EXPECT_EQ(readFile(out).rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  const std::string before = readFile(out);
  auto again = runMeshgate({"key", "generate", "--type", "X448", "--out", out});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(contains(again.err, "file exists")) << again.err;
  EXPECT_EQ(readFile(out), before);
  auto forced = runMeshgate({"key", "generate", "--type", "X448", "--out", out, "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(readFile(out), before);
  EXPECT_EQ(readFile(out).rfind("{\"PrivateKeyECDH\":{\"crv\":\"X448\"", 0), 0u);
}

TEST(MeshCli, KeyErrors) {
  TempDir dir;
  const std::vector<UsageCase> cases = {
      {{"key", "generate", "--type", "RSA", "--out", dir.file("x")}, 2, "unknown key type \"RSA\""},
      {{"key", "generate", "--type", "X448"}, 2, "missing required option --out"},
      {{"key", "generate", "--type", "X448", "--out", dir.file("y"), "--format", "der"},
       2,
       "--format must be json or pem"},
      {{"key", "generate", "--type", "X448", "--out", "/nonexistent/dir/k"},
       1,
       "/nonexistent/dir/k"},
      {{"key", "id", dir.file("missing")}, 1, dir.file("missing")},
      {{"key", "id"}, 2, "missing argument KEYFILE"},
  };
  for (const UsageCase& c : cases) {
    auto r = runMeshgate(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    EXPECT_TRUE(contains(r.err, c.err_part)) << r.err;
  }
}

TEST(MeshCli, KeyIdRefusesAnExposedPrivateKeyAndSaysHowToFixIt) {
  TempDir dir;
  const std::string key = dir.file("key.pem");
  ASSERT_EQ(runMeshgate({"key", "generate", "--type", "Ed25519", "--out", key}).exit_code, 0);
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  auto r = runMeshgate({"key", "id", key});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, key +
                                  ": private key file is readable by group or others (mode "
                                  "0644); run: chmod 600 " +
                                  key))
      << r.err;
}

// ---- dare ---------------------------------------------------------------------------------

class DareCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [name, type] :
         std::vector<std::pair<std::string, std::string>>{{"alice", "Ed25519"},
                                                          {"carol", "Ed448"},
                                                          {"bob", "X25519"},
                                                          {"dave", "X448"},
                                                          {"eve", "Ed25519"},
                                                          {"mallory", "X25519"}}) {
      auto r = runMeshgate({"key", "generate", "--type", type, "--out", dir_.file(name + ".key")});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      kid_[name] = r.out.substr(0, r.out.size() - 1);
    }
    dir_.write("msg.eml", kMessage);
  }
  std::string key(const std::string& name) const { return dir_.file(name + ".key"); }
  std::string pub(const std::string& name) const { return dir_.file(name + ".key.pub"); }

  // Seals msg.eml with `args` into `name`.
  std::string seal(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), {"dare", "seal"});
    args.push_back(dir_.file("msg.eml"));
    RunResult r = runMeshgate(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    dir_.write(name, r.out);
    return dir_.file(name);
  }

  static constexpr const char* kMessage = "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n";
  TempDir dir_;
  std::map<std::string, std::string> kid_;
};

TEST_F(DareCli, SignVerifyPrintsEachSigner) {
  const std::string env = seal("signed.dare", {"--sign", key("alice"), "--sign", key("carol")});
  auto embedded = runMeshgate({"dare", "verify", env});
  EXPECT_EQ(embedded.exit_code, 0) << embedded.err;
  EXPECT_EQ(embedded.out,
            "Verified: " + kid_["alice"] +
                " (ED25519; key: embedded SignatureKey; covers: header, payload and trailer)\n"
                "Verified: " +
                kid_["carol"] +
                " (ED448; key: embedded SignatureKey; covers: header, payload and trailer)\n");
  auto given = runMeshgate({"dare", "verify", "--key", pub("alice"), "--key", pub("carol"), env});
  EXPECT_EQ(given.exit_code, 0) << given.err;
  EXPECT_TRUE(contains(given.out, kid_["alice"] + " (ED25519; key: --key;")) << given.out;
  EXPECT_TRUE(contains(given.out, kid_["carol"] + " (ED448; key: --key;")) << given.out;
  // Only one trusted key: the other signature falls back to its embedded key.
  auto mixed = runMeshgate({"dare", "verify", "--key", pub("carol"), env});
  EXPECT_TRUE(contains(mixed.out, kid_["alice"] + " (ED25519; key: embedded SignatureKey;"));
  EXPECT_TRUE(contains(mixed.out, kid_["carol"] + " (ED448; key: --key;"));
  // From standard input.
  auto piped = runMeshgate({"dare", "verify", "-"}, readFile(env));
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
}

TEST_F(DareCli, VerifyFailuresExitOneWithTheReason) {
  const std::string env = seal("signed.dare", {"--sign", key("alice")});
  std::string text = readFile(env);
  auto flip = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    return t;
  };
  struct Case {
    std::string name, text;
    std::vector<std::string> extra;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"dig changed", flip("\"dig\":\"S512\"", "\"dig\":\"S256\""), {}, "header dig \"S256\""},
      {"header member added",
       flip("\"dig\":", "\"X\":1,\"dig\":"),
       {},
       "does not verify over the header-bound (MGB1) manifest"},
      {"binding stripped",
       flip("\"MeshgateBinding\":\"MGB1\",", ""),
       {},
       "does not verify over the reference (payload-only) manifest"},
      {"not JSON", "garbage", {}, "invalid JSON"},
      {"untrusted signer only", text, {"--no-embedded-keys"}, "no key to verify with"},
      {"wrong trusted key",
       text,
       {"--no-embedded-keys", "--key", pub("eve")},
       "no key to verify with"},
  };
  for (const Case& c : cases) {
    dir_.write("bad.dare", c.text);
    std::vector<std::string> args = {"dare", "verify"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    args.push_back(dir_.file("bad.dare"));
    auto r = runMeshgate(args);
    EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.out;
    EXPECT_TRUE(r.out.empty()) << c.name;
    EXPECT_TRUE(contains(r.err, c.reason)) << c.name << ": " << r.err;
    EXPECT_TRUE(contains(r.err, dir_.file("bad.dare"))) << c.name << ": " << r.err;
  }
}

TEST_F(DareCli, PayloadTamperingIsCaught) {
  const std::string env = seal("signed.dare", {"--sign", key("alice")});
  auto parsed = mesh::parseDareEnvelope(readFile(env)).value();
  parsed.payload.back() ^= 1;
  dir_.write("bad.dare", mesh::serializeDareEnvelope(parsed));
  auto r = runMeshgate({"dare", "verify", dir_.file("bad.dare")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "PayloadDigest does not match the payload")) << r.err;
  auto o = runMeshgate({"dare", "open", "--key", key("alice"), dir_.file("bad.dare")});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_TRUE(o.out.empty()) << "nothing is written from a forged envelope";
}

TEST_F(DareCli, SignAndEncryptThenOpen) {
  const std::string env =
      seal("sealed.dare", {"--sign", key("alice"), "--encrypt-to", pub("bob"), "--encrypt-to",
                           pub("dave"), "--content-type", "message/rfc822"});
  EXPECT_FALSE(contains(readFile(env), "Subject")) << "the payload is encrypted";
  for (const char* recipient : {"bob", "dave"}) {
    auto r = runMeshgate({"dare", "open", "--key", key(recipient), env});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, kMessage);
    EXPECT_TRUE(contains(r.err, "Verified: " + kid_["alice"])) << r.err;
  }
  auto stranger = runMeshgate({"dare", "open", "--key", key("mallory"), env});
  EXPECT_EQ(stranger.exit_code, 1);
  EXPECT_TRUE(contains(stranger.err, "not encrypted to key " + kid_["mallory"])) << stranger.err;
  EXPECT_TRUE(stranger.out.empty());
  auto verify = runMeshgate({"dare", "verify", env});
  EXPECT_EQ(verify.exit_code, 0) << "signatures cover the ciphertext: no key needed";
}

TEST_F(DareCli, EncryptOnlyAndPlainEnvelopes) {
  const std::string enc = seal("enc.dare", {"--encrypt-to", pub("dave")});
  auto opened = runMeshgate({"dare", "open", "--key", key("dave"), enc});
  EXPECT_EQ(opened.exit_code, 0) << opened.err;
  EXPECT_EQ(opened.out, kMessage);
  auto verify = runMeshgate({"dare", "verify", enc});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_TRUE(contains(verify.err, "not signed")) << verify.err;
  auto from_stdin = runMeshgate({"dare", "seal", "--sign", key("carol")}, "piped payload");
  ASSERT_EQ(from_stdin.exit_code, 0);
  auto o = runMeshgate({"dare", "open", "--key", pub("carol"), "-"}, from_stdin.out);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "piped payload");
}

TEST_F(DareCli, ReferenceSignaturesAndRequireBinding) {
  const std::string env = seal("ref.dare", {"--sign", key("alice"), "--reference-signatures"});
  auto v = runMeshgate({"dare", "verify", env});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_TRUE(contains(v.out, "covers: payload only")) << v.out;
  auto strict = runMeshgate({"dare", "verify", "--require-binding", env});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_TRUE(contains(strict.err, "does not bind the header")) << strict.err;
}

TEST_F(DareCli, SealRefusesUnfitKeys) {
  const std::vector<UsageCase> cases = {
      {{"dare", "seal", "--sign", key("bob"), dir_.file("msg.eml")},
       1,
       "a key of type X25519 cannot sign"},
      {{"dare", "seal", "--sign", pub("alice"), dir_.file("msg.eml")}, 1, "holds a public key"},
      {{"dare", "seal", "--encrypt-to", pub("alice"), dir_.file("msg.eml")},
       1,
       "cannot encrypt to a key of type Ed25519"},
      {{"dare", "seal", "--sign", dir_.file("nokey"), dir_.file("msg.eml")}, 1, dir_.file("nokey")},
      {{"dare", "open", dir_.file("msg.eml")}, 2, "missing required option --key"},
      {{"dare", "verify"}, 2, "missing argument ENVELOPE"},
  };
  for (const UsageCase& c : cases) {
    auto r = runMeshgate(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    EXPECT_TRUE(contains(r.err, c.err_part)) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST_F(DareCli, ExposedSigningKeyIsRefused) {
  ASSERT_EQ(::chmod(key("alice").c_str(), 0640), 0);
  auto r = runMeshgate({"dare", "seal", "--sign", key("alice"), dir_.file("msg.eml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "run: chmod 600 " + key("alice"))) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace meshgate
