// crypto.cc - OpenSSL 3 EVP wrappers; see crypto.h.
#include "gateway/mesh/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace meshgate::mesh {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MacFree {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
struct KdfFree {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
};
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};
struct MdFree {
  void operator()(EVP_MD* m) const { EVP_MD_free(m); }
};
struct CipherFree {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};

[[noreturn]] void panic(const char* what) {
  std::fprintf(stderr, "meshgate: panic: %s: %s\n", what, takeOpenSslErrors().c_str());
  std::abort();
}

// Fetched algorithm objects live for the process. The static locals are destroyed before
// OpenSSL's own atexit cleanup because they are constructed after OpenSSL has initialised.
const EVP_CIPHER* aes256Cbc() {
  static const std::unique_ptr<EVP_CIPHER, CipherFree> c(
      EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr));
  return c.get();
}

const EVP_CIPHER* aes256Wrap() {
  static const std::unique_ptr<EVP_CIPHER, CipherFree> c(
      EVP_CIPHER_fetch(nullptr, "AES-256-WRAP", nullptr));
  return c.get();
}

const EVP_MAC* hmacAlgorithm() {
  static const std::unique_ptr<EVP_MAC, MacFree> m(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return m.get();
}

const EVP_KDF* hkdfAlgorithm() {
  static const std::unique_ptr<EVP_KDF, KdfFree> k(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  return k.get();
}

const char* digestName(HashAlgorithm alg) {
  switch (alg) {
    case HashAlgorithm::kSha256:
      return "SHA256";
    case HashAlgorithm::kSha512:
      return "SHA512";
    case HashAlgorithm::kSha3_512:
      return "SHA3-512";
  }
  return "SHA512";
}

Status openSslFailure(const char* what) {
  return internalError(std::string(what) + ": " + takeOpenSslErrors());
}

// EVP lengths are int; inputs beyond INT_MAX are processed in pieces by the callers that can
// see them (Hasher), and refused by the rest.
constexpr size_t kMaxEvpChunk = size_t{1} << 30;

Result<Bytes> cbc(bool encrypt, ByteView key, ByteView iv, ByteView in) {
  if (key.size() != 32 || iv.size() != 16) {
    return invalidArgument("AES-256-CBC needs a 32-byte key and a 16-byte IV");
  }
  const EVP_CIPHER* c = aes256Cbc();
  if (c == nullptr) return openSslFailure("EVP_CIPHER_fetch(AES-256-CBC)");
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return openSslFailure("EVP_CIPHER_CTX_new");
  if (EVP_CipherInit_ex2(ctx.get(), c, key.data(), iv.data(), encrypt ? 1 : 0, nullptr) != 1) {
    return openSslFailure("EVP_CipherInit_ex2");
  }
  Bytes out(in.size() + 16);
  size_t done = 0;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = std::min(in.size() - pos, kMaxEvpChunk);
    int len = 0;
    if (EVP_CipherUpdate(ctx.get(), out.data() + done, &len, in.data() + pos,
                         static_cast<int>(n)) != 1) {
      return openSslFailure("EVP_CipherUpdate");
    }
    done += static_cast<size_t>(len);
    pos += n;
  }
  int len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + done, &len) != 1) {
    if (!encrypt) {
      ERR_clear_error();
      return dataLoss("decryption failed: bad padding (wrong key or corrupted ciphertext)");
    }
    return openSslFailure("EVP_CipherFinal_ex");
  }
  out.resize(done + static_cast<size_t>(len));
  return out;
}

Result<Bytes> wrap(bool encrypt, ByteView kek, ByteView in) {
  if (kek.size() != 32) return invalidArgument("AES-256 key wrap needs a 32-byte key");
  if (in.size() < (encrypt ? 16u : 24u) || in.size() % 8 != 0 || in.size() > 4096) {
    return encrypt ? invalidArgument("key wrap input must be 16..4088 bytes, a multiple of 8")
                   : dataLoss("wrapped key has an invalid length " + std::to_string(in.size()));
  }
  const EVP_CIPHER* c = aes256Wrap();
  if (c == nullptr) return openSslFailure("EVP_CIPHER_fetch(AES-256-WRAP)");
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return openSslFailure("EVP_CIPHER_CTX_new");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex2(ctx.get(), c, kek.data(), nullptr, encrypt ? 1 : 0, nullptr) != 1) {
    return openSslFailure("EVP_CipherInit_ex2(wrap)");
  }
  Bytes out(in.size() + 16);
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1) {
    if (!encrypt) {
      ERR_clear_error();
      return dataLoss("key unwrap failed: integrity check of the wrapped key (wrong key)");
    }
    return openSslFailure("EVP_CipherUpdate(wrap)");
  }
  int tail = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + len, &tail) != 1) {
    if (!encrypt) {
      ERR_clear_error();
      return dataLoss("key unwrap failed: integrity check of the wrapped key (wrong key)");
    }
    return openSslFailure("EVP_CipherFinal_ex(wrap)");
  }
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

}  // namespace

size_t hashSize(HashAlgorithm alg) { return alg == HashAlgorithm::kSha256 ? 32 : 64; }

const EVP_MD* evpDigest(HashAlgorithm alg) {
  switch (alg) {
    case HashAlgorithm::kSha256: {
      static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
      return md.get();
    }
    case HashAlgorithm::kSha512: {
      static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA512", nullptr));
      return md.get();
    }
    case HashAlgorithm::kSha3_512: {
      static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA3-512", nullptr));
      return md.get();
    }
  }
  return nullptr;
}

Bytes hash(HashAlgorithm alg, ByteView data) {
  const EVP_MD* md = evpDigest(alg);
  if (md == nullptr) panic("EVP_MD_fetch");
  Bytes out(hashSize(alg));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) panic("EVP_Digest");
  return out;
}

void Hasher::Free::operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }

Hasher::Hasher(HashAlgorithm alg) : ctx_(EVP_MD_CTX_new()) {
  const EVP_MD* md = evpDigest(alg);
  if (!ctx_ || md == nullptr || EVP_DigestInit_ex2(ctx_.get(), md, nullptr) != 1) {
    panic("EVP_DigestInit_ex2");
  }
}

void Hasher::update(ByteView data) {
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) panic("EVP_DigestUpdate");
}

Bytes Hasher::finish() {
  Bytes out(static_cast<size_t>(EVP_MD_CTX_get_size(ctx_.get())));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1) panic("EVP_DigestFinal_ex");
  out.resize(len);
  return out;
}

Result<Bytes> hmac(HashAlgorithm alg, ByteView key, ByteView data) {
  const EVP_MAC* mac = hmacAlgorithm();
  if (mac == nullptr) return openSslFailure("EVP_MAC_fetch(HMAC)");
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(const_cast<EVP_MAC*>(mac)));
  if (!ctx) return openSslFailure("EVP_MAC_CTX_new");
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                          const_cast<char*>(digestName(alg)), 0),
                         OSSL_PARAM_construct_end()};
  // HMAC accepts an empty key, but EVP_MAC_init wants a non-null pointer for it.
  static const uint8_t kEmpty = 0;
  if (EVP_MAC_init(ctx.get(), key.empty() ? &kEmpty : key.data(), key.size(), params) != 1) {
    return openSslFailure("EVP_MAC_init");
  }
  if (EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1) {
    return openSslFailure("EVP_MAC_update");
  }
  Bytes out(hashSize(alg));
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1) {
    return openSslFailure("EVP_MAC_final");
  }
  out.resize(len);
  return out;
}

Result<Bytes> hkdf(HashAlgorithm alg, ByteView ikm, ByteView salt, ByteView info, size_t length) {
  if (length == 0 || length > 255 * hashSize(alg)) {
    return invalidArgument("HKDF output length out of range: " + std::to_string(length));
  }
  const EVP_KDF* kdf = hkdfAlgorithm();
  if (kdf == nullptr) return openSslFailure("EVP_KDF_fetch(HKDF)");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(kdf)));
  if (!ctx) return openSslFailure("EVP_KDF_CTX_new");
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads these buffers.
  static uint8_t empty_buffer[1] = {0};
  auto buf = [](ByteView b) {
    return b.empty() ? static_cast<void*>(empty_buffer) : const_cast<uint8_t*>(b.data());
  };
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 const_cast<char*>(digestName(alg)), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, buf(ikm), ikm.size());
  // An empty salt means "HashLen zeros" (RFC 5869 2.2), which is what OpenSSL does when the
  // salt parameter is absent.
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, buf(salt), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, buf(info), info.size());
  params[n++] = OSSL_PARAM_construct_end();
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return openSslFailure("EVP_KDF_derive(HKDF)");
  }
  return out;
}

Result<Bytes> aes256CbcEncrypt(ByteView key, ByteView iv, ByteView plaintext) {
  return cbc(true, key, iv, plaintext);
}

Result<Bytes> aes256CbcDecrypt(ByteView key, ByteView iv, ByteView ciphertext) {
  if (ciphertext.empty() || ciphertext.size() % 16 != 0) {
    return dataLoss("ciphertext length " + std::to_string(ciphertext.size()) +
                    " is not a positive multiple of the AES block size");
  }
  return cbc(false, key, iv, ciphertext);
}

Result<Bytes> aes256KeyWrap(ByteView kek, ByteView key) { return wrap(true, kek, key); }

Result<Bytes> aes256KeyUnwrap(ByteView kek, ByteView wrapped) { return wrap(false, kek, wrapped); }

Result<Bytes> randomBytes(size_t count) {
  if (count > kMaxEvpChunk) return invalidArgument("too many random bytes requested");
  Bytes out(count);
  if (count > 0 && RAND_bytes(out.data(), static_cast<int>(count)) != 1) {
    return openSslFailure("RAND_bytes");
  }
  return out;
}

bool constantTimeEquals(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

std::string takeOpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

}  // namespace meshgate::mesh
