// NAME
//   crypto.h - the few OpenSSL 3 EVP operations the Mesh formats are built from.
//
// SYNOPSIS
//   Bytes d = sha512(data);
//   Result<Bytes> okm = hkdf(HashAlgorithm::kSha256, ikm, salt, asBytes("encrypt"), 32);
//
// DESCRIPTION
//   Digests, HMAC, HKDF, AES-256-CBC, the RFC 3394 AES key wrap and random bytes, each a thin
//   wrapper over one EVP call sequence, so that the Mesh code reads as its specification and
//   every OpenSSL object is freed on every path (OpenSSL types live only in unique_ptrs with
//   their *_free deleters). Algorithm objects are fetched once per process and reused: an
//   implicit fetch per call costs more than hashing a short input.
//
//   No primitive is implemented here; everything is OpenSSL's default provider.
//
// THREAD SAFETY
//   Safe from any thread: the cached algorithm objects are immutable after the first use
//   (initialised under the C++ static-local guarantee); each call uses its own contexts.
//
// ERRORS
//   kInternal with OpenSSL's error string when OpenSSL fails where it should not (allocation,
//   missing provider). Decryption and key unwrapping failures on bad input are kDataLoss.
#pragma once

#include <memory>
#include <string>

#include <openssl/types.h>

#include "gateway/util/encoding.h"
#include "gateway/util/status.h"

namespace meshgate::mesh {

enum class HashAlgorithm { kSha256, kSha512, kSha3_512 };

// Digest size in bytes.
size_t hashSize(HashAlgorithm alg);

// The cached EVP_MD for `alg` (never null once OpenSSL is usable; owned by this module).
const EVP_MD* evpDigest(HashAlgorithm alg);

// One-shot digests. A failure here means OpenSSL itself is broken, which is a panic-level
// invariant; these abort rather than return a half-computed value.
Bytes hash(HashAlgorithm alg, ByteView data);
inline Bytes sha512(ByteView data) { return hash(HashAlgorithm::kSha512, data); }
inline Bytes sha3_512(ByteView data) { return hash(HashAlgorithm::kSha3_512, data); }

// Incremental digest for input that arrives in pieces (files, stdin).
class Hasher {
 public:
  explicit Hasher(HashAlgorithm alg);
  void update(ByteView data);
  Bytes finish();  // the hasher must not be used afterwards

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const;
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

Result<Bytes> hmac(HashAlgorithm alg, ByteView key, ByteView data);

// RFC 5869 extract-and-expand.
Result<Bytes> hkdf(HashAlgorithm alg, ByteView ikm, ByteView salt, ByteView info, size_t length);

// AES-256-CBC with PKCS#7 padding. key 32 bytes, iv 16 bytes.
Result<Bytes> aes256CbcEncrypt(ByteView key, ByteView iv, ByteView plaintext);
Result<Bytes> aes256CbcDecrypt(ByteView key, ByteView iv, ByteView ciphertext);

// RFC 3394 key wrap with a 256-bit key encryption key.
Result<Bytes> aes256KeyWrap(ByteView kek, ByteView key);
Result<Bytes> aes256KeyUnwrap(ByteView kek, ByteView wrapped);

// Cryptographically secure random bytes (OpenSSL's DRBG).
Result<Bytes> randomBytes(size_t count);

// Constant-time equality of two byte strings of the same length (false if lengths differ).
bool constantTimeEquals(ByteView a, ByteView b);

// The queued OpenSSL errors as one line (and clears the queue); "no OpenSSL error" when empty.
std::string takeOpenSslErrors();

}  // namespace meshgate::mesh
