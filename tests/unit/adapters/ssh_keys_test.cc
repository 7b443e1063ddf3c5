// ssh_keys_test.cc - OpenSSH public keys, fingerprints, options and authorized_keys lines.
#include "adapters/ssh_keys.h"

#include <gtest/gtest.h>

#include "gateway/mesh/keys.h"
#include "gateway/mesh/udf.h"

namespace meshgate::adapters {
namespace {

// Generated with ssh-keygen for these tests.
constexpr const char* kEd25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINpAD8ObLaowLdHI7Rwy697t0tWAm5uMGoILELxBVepq "
    "alice-laptop";
constexpr const char* kRsa =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDYAojOWo0QnQbKSSMz+2JdgrXLSf7WqzMkDO/+igjPrEzfNNRfMQ"
    "ScYZOzKPO3jdp3IjqoQCDEHzcaN45fR+tlJxES2U1DB2Wr7wBQ5J4TUClBfml7piakzVi1fdS4FsKQPWQWE6UX0SK"
    "0tnj5ootngAx8c4tcIrSR4HyVue+HjyTePbc4K2gLr+XnnkQJRZZUTSsr6xxhFCoyP8SIvkSwfh1Qk6fWgw4t9QL3"
    "Mn0y+WyqZePeDELSDdTvBMEdL1RWJDYHVIbTmHDOVLEazLD2Ts9BfRBhBL3PAlMy0Io7jYtCB2P6vHj6AqNeEtAfk"
    "YZ+kdBilT5hWdIktuc644l7 rsa-key";
constexpr const char* kEcdsa =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMecMAJp+zKjKkIP2i"
    "HpZgDttmyLb3beIj7KEgboSn/OfZkAiZ8zkGoEzfz1g7tZNp2ambQ73+7h7pcQm98fFcA= ec";

TEST(SshKeys, ParsesTypeKeyAndComment) {
  auto key = parseSshPublicKey(std::string("  ") + kEd25519 + "\n");
  ASSERT_TRUE(key.ok()) << key.status().toString();
  EXPECT_EQ(key->type, "ssh-ed25519");
  EXPECT_EQ(key->base64, "AAAAC3NzaC1lZDI1NTE5AAAAINpAD8ObLaowLdHI7Rwy697t0tWAm5uMGoILELxBVepq");
  EXPECT_EQ(key->comment, "alice-laptop");
  EXPECT_EQ(key->blob.size(), 4u + 11u + 4u + 32u);
  EXPECT_EQ(key->line(), kEd25519);
}

TEST(SshKeys, ParsesEveryCommonType) {
  for (const char* text : {kEd25519, kRsa, kEcdsa}) {
    auto key = parseSshPublicKey(text);
    ASSERT_TRUE(key.ok()) << text << ": " << key.status().toString();
    EXPECT_EQ(key->line(), text);  // base64 re-encoded identically, padding included
  }
}

TEST(SshKeys, RefusesMalformedKeys) {
  struct Case {
    std::string text, why;
  } cases[] = {
      {"ssh-dss AAAAB3NzaC1kc3MAAACBAP", "unknown key type"},
      {"ssh-ed25519", "expected \"TYPE BASE64"},
      {"ssh-ed25519 AAAA*C3Nz", "base64"},
      {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINpAD8ObLaowLdHI7Rwy697t0tWAm5uMGoILELxBVep", "base64"},
      // An RSA blob presented as ed25519.
      {std::string("ssh-ed25519 ") + std::string(kRsa).substr(8, 372), "does not match"},
      {std::string(kEd25519) + "\nssh-ed25519 AAAA", "one line"},
      {std::string(kEd25519) + "\x01", "control character"},
  };
  for (const auto& c : cases) {
    auto key = parseSshPublicKey(c.text);
    ASSERT_FALSE(key.ok()) << c.text;
    EXPECT_NE(key.status().message().find(c.why), std::string::npos)
        << c.text << " -> " << key.status().message();
  }
}

TEST(SshKeys, FromPartsIsWhatSshdPasses) {
  auto key = sshPublicKeyFromParts("ssh-ed25519",
                                   "AAAAC3NzaC1lZDI1NTE5AAAAINpAD8ObLaowLdHI7Rwy697t0tWAm5uMGoILELxBVepq");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->comment, "");
  EXPECT_FALSE(sshPublicKeyFromParts("ssh-rsa", key->base64).ok());
}

TEST(SshKeys, Ed25519FingerprintIsTheMeshKeyId) {
  auto key = parseSshPublicKey(kEd25519);
  ASSERT_TRUE(key.ok());
  Bytes raw(key->blob.end() - 32, key->blob.end());
  auto mesh_key = mesh::PublicKey::fromRaw(mesh::KeyType::kEd25519, raw);
  ASSERT_TRUE(mesh_key.ok());
  auto udf = sshKeyFingerprint(*key);
  ASSERT_TRUE(udf.ok());
  EXPECT_EQ(*udf, mesh_key->kid());
  // The comment is not part of the key.
  auto other = parseSshPublicKey(std::string(kEd25519).substr(0, 80) + " renamed");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*sshKeyFingerprint(*other), *udf);
}

TEST(SshKeys, OtherTypesUseTheContentDigestOfTheBlob) {
  auto key = parseSshPublicKey(kRsa);
  ASSERT_TRUE(key.ok());
  auto udf = sshKeyFingerprint(*key);
  ASSERT_TRUE(udf.ok());
  EXPECT_EQ(*udf, *mesh::contentDigestUdf(key->blob, kSshKeyContentType));
  EXPECT_NE(*udf, *sshKeyFingerprint(*parseSshPublicKey(kEcdsa)));
}

TEST(SshKeys, OptionsAreNormalized) {
  struct Case {
    std::vector<std::string> in;
    std::vector<std::string> out;
  } cases[] = {
      {{}, {}},
      {{"PTY"}, {"pty"}},
      {{"x11-forwarding", "Port-Forwarding"}, {"X11-forwarding", "port-forwarding"}},
      {{"restrict", "pty", "pty"}, {"pty"}},
      {{"command=/usr/bin/backup --full"}, {"command=\"/usr/bin/backup --full\""}},
      {{"command=\"/bin/true\""}, {"command=\"/bin/true\""}},
      {{"from=10.0.0.0/8,192.0.2.1", "expiry-time=20300101"},
       {"from=\"10.0.0.0/8,192.0.2.1\"", "expiry-time=\"20300101\""}},
      {{"permitopen=db:5432", "no-touch-required"},
       {"permitopen=\"db:5432\"", "no-touch-required"}},
  };
  for (const auto& c : cases) {
    auto out = normalizeSshOptions(c.in);
    ASSERT_TRUE(out.ok()) << out.status().toString();
    EXPECT_EQ(*out, c.out);
  }
}

TEST(SshKeys, OptionsThatCouldEscapeAreRefused) {
  for (std::string bad : {"command=\"a\" ,pty", "command=a\"b", "command=a\\b", "command=a\nb",
                          "cert-authority", "tunnel=1", "command=", "principals=x", "nopty"}) {
    EXPECT_FALSE(normalizeSshOptions({bad}).ok()) << bad;
  }
}

TEST(SshKeys, AuthorizedKeysLineStartsWithRestrict) {
  auto key = parseSshPublicKey(kEd25519);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(authorizedKeysLine(*key, {}, "MAAA-BBBB", "alice@example.com"),
            "restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINpAD8ObLaowLdHI7Rwy697t0tWAm5uMGoILELxBVepq "
            "udf:MAAA-BBBB alice@example.com");
  EXPECT_EQ(authorizedKeysLine(*key, {"pty", "command=\"/bin/true\""}, "MAAA", "a@b.c")
                .substr(0, 35),
            "restrict,pty,command=\"/bin/true\" ss");
}

TEST(SshKeys, Base64RoundTrip) {
  for (size_t n = 0; n < 10; ++n) {
    Bytes data;
    for (size_t i = 0; i < n; ++i) data.push_back(static_cast<uint8_t>(i * 37 + 250));
    auto enc = base64StdEncode(data);
    if (n == 0) continue;
    auto dec = base64StdDecode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(*dec, data);
  }
  EXPECT_FALSE(base64StdDecode("QR==").ok());  // non-zero padding bits
  EXPECT_TRUE(base64StdDecode("QQ==").ok());
}

}  // namespace
}  // namespace meshgate::adapters
