// NAME
//   keys.h - Mesh keys (Ed25519, Ed448, X25519, X448): generate, load, save, sign, verify,
//            key agreement, key identifiers.
//
// SYNOPSIS
//   Result<PrivateKey> k = PrivateKey::generate(KeyType::kEd25519);
//   Status s = savePrivateKeyFile(*k, "signer.key");           // mode 0600, atomic
//   Result<PrivateKey> again = loadPrivateKeyFile("signer.key");  // refuses mode 0644
//   std::string kid = k->publicKey().kid();                   // "MCCR-IPW7-..."
//
// DESCRIPTION
//   A key's identifier (kid) is MESH-FORMATS section 2: the content digest UDF (SHA-512,
//   content type "PKIXKey", 140 bits) of the reference implementation's SubjectPublicKeyInfo,
//   which always carries the Ed25519 OID and wraps the raw key in an extra OCTET STRING:
//     30 L 30 05 06 03 2B 65 70 03 L' 00 04 n <raw public key>
//   This is not the SPKI OpenSSL would write; it is reproduced byte for byte so that kids
//   match the Mesh's.
//
//   Signatures are pure EdDSA with an empty context. Key agreement is X25519/X448 ECDH.
//
//   Key files: the Mesh typed-JSON form
//     {"PublicKeyECDH":{"crv":"Ed25519","Public":"<base64url raw key>"}}
//     {"PrivateKeyECDH":{"crv":"Ed25519","Private":"<base64url raw key>"}}
//   or PEM (PKCS#8 "PRIVATE KEY", SubjectPublicKeyInfo "PUBLIC KEY"), detected on load. A
//   private JSON key may also carry "Public"; it must then match the private key.
//
// SECURITY
//   Seed 7.1.2: a private key file must not be accessible to group or others. Loading one that
//   is fails with kFailedPrecondition and the chmod that fixes it; saving writes mode 0600 via
//   a temporary file in the same folder and rename(2), so a reader never sees a partial key and
//   the key is never briefly world-readable. Encrypted PEM is refused (no passphrase prompt).
//
// THREAD SAFETY
//   PublicKey and PrivateKey are immutable values (copies share one OpenSSL key, reference
//   counted); their const members are safe from any thread.
//
// ERRORS
//   kInvalidArgument: malformed key text or wrong key type for the operation.
//   kNotFound / kPermissionDenied: the key file cannot be opened.
//   kFailedPrecondition: private key file mode too open.
//   kAlreadyExists: saving over an existing file without `overwrite`.
//   kDataLoss: a signature that does not verify.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "gateway/mesh/udf.h"
#include "gateway/util/encoding.h"
#include "gateway/util/status.h"

namespace meshgate::mesh {

enum class KeyType { kEd25519, kEd448, kX25519, kX448 };

// "Ed25519", "Ed448", "X25519", "X448" (the JSON "crv" values).
std::string_view keyTypeName(KeyType type);
// Case-insensitive.
Result<KeyType> parseKeyType(std::string_view name);
bool isSignatureKey(KeyType type);    // Ed25519, Ed448
bool isAgreementKey(KeyType type);    // X25519, X448
size_t publicKeySize(KeyType type);   // 32, 57, 32, 56
size_t privateKeySize(KeyType type);  // 32, 57, 32, 56
// The DARE signature algorithm name: "ED25519", "ED448" (empty for agreement keys).
std::string_view signatureAlgorithmName(KeyType type);

// The reference implementation's SubjectPublicKeyInfo of a raw public key (see above).
Bytes meshSubjectPublicKeyInfo(ByteView raw_public_key);

class PublicKey {
 public:
  static Result<PublicKey> fromRaw(KeyType type, ByteView raw);
  // The public half of an Ed/X OpenSSL key (the caller keeps its reference).
  static Result<PublicKey> fromEvp(EVP_PKEY* pkey);

  KeyType type() const { return type_; }
  const Bytes& raw() const { return raw_; }
  // The 140-bit kid and its 65-byte binary UDF.
  const std::string& kid() const { return kid_; }
  const Bytes& kidBinary() const { return kid_binary_; }

  // OK, or kDataLoss "signature does not verify"; kInvalidArgument for an agreement key.
  Status verify(ByteView message, ByteView signature) const;

  // The underlying OpenSSL key, for code that calls EVP directly (benchmarks, TLS glue).
  EVP_PKEY* evpKey() const { return pkey_.get(); }

 private:
  PublicKey() = default;
  KeyType type_ = KeyType::kEd25519;
  Bytes raw_;
  std::string kid_;
  Bytes kid_binary_;
  std::shared_ptr<EVP_PKEY> pkey_;
  friend class PrivateKey;
};

class PrivateKey {
 public:
  static Result<PrivateKey> generate(KeyType type);
  static Result<PrivateKey> fromRaw(KeyType type, ByteView raw_private);
  // Takes a new reference to `pkey`, an Ed/X OpenSSL key with its private half.
  static Result<PrivateKey> fromEvp(EVP_PKEY* pkey);

  KeyType type() const { return public_.type(); }
  const PublicKey& publicKey() const { return public_; }
  const std::string& kid() const { return public_.kid(); }
  Bytes rawPrivate() const;

  // Pure EdDSA, empty context; kInvalidArgument for an agreement key.
  Result<Bytes> sign(ByteView message) const;
  // X25519/X448 shared secret with `peer` (same type); kInvalidArgument otherwise.
  Result<Bytes> agree(const PublicKey& peer) const;

  EVP_PKEY* evpKey() const { return pkey_.get(); }

 private:
  struct Ed25519Secret;  // libsodium's form of an Ed25519 key: seed and public key
  PrivateKey() = default;
  PublicKey public_;
  std::shared_ptr<EVP_PKEY> pkey_;
  std::shared_ptr<const Ed25519Secret> ed25519_;  // Ed25519 keys only
};

enum class KeyFileFormat { kMeshJson, kPem };

// Texts (JSON compact, one line, with a trailing newline; PEM as OpenSSL writes it).
std::string publicKeyToMeshJson(const PublicKey& key);
std::string privateKeyToMeshJson(const PrivateKey& key);
Result<std::string> publicKeyToPem(const PublicKey& key);
Result<std::string> privateKeyToPem(const PrivateKey& key);

// Either a private key (with its public key) or a public key alone.
struct KeyText {
  std::optional<PrivateKey> private_key;
  PublicKey public_key;
};
// Detects typed JSON or PEM, private or public.
Result<KeyText> parseKeyText(std::string_view text);
Result<PrivateKey> parsePrivateKey(std::string_view text);
Result<PublicKey> parsePublicKey(std::string_view text);  // a private key text gives its public

// Files. Loading a file that holds a private key checks its mode first (see SECURITY), also
// when only the public key is wanted. Errors name the file.
Result<KeyText> loadKeyFile(const std::string& path);
Result<PrivateKey> loadPrivateKeyFile(const std::string& path);
Result<PublicKey> loadPublicKeyFile(const std::string& path);

Status savePrivateKeyFile(const PrivateKey& key, const std::string& path,
                          KeyFileFormat format = KeyFileFormat::kMeshJson, bool overwrite = false);
Status savePublicKeyFile(const PublicKey& key, const std::string& path,
                         KeyFileFormat format = KeyFileFormat::kMeshJson, bool overwrite = false);

// Profile fingerprint (MESH-FORMATS section 2) over the root keys' binary kids (65 bytes each):
//   inner = SHA512( for each: byte(len) || binary ),  TCDV = SHA512("UdfList:" || inner),
//   UDF   = Base32(0x60 || 0x60 || TCDV) at `bits` (the type byte appears twice, as in the
//           reference implementation, so profile fingerprints start MBQ or MBR).
Result<std::string> profileFingerprintOfUdfs(std::span<const Bytes> root_key_udf_binaries,
                                             int bits = kUdfDefaultBits);
Result<std::string> profileFingerprint(std::span<const PublicKey> root_keys,
                                       int bits = kUdfDefaultBits);

}  // namespace meshgate::mesh
