// NAME
//   mesh_bench - throughput of the Mesh core against the bare OpenSSL EVP calls it wraps.
//
// SYNOPSIS
//   mesh_bench udf FILE            UDF digest (SHA-512) of FILE's bytes, in a loop
//   mesh_bench dare BYTES          DARE seal/verify/open on a BYTES-long payload
//
// DESCRIPTION
//   Prints "name value unit" lines for bench/mesh_bench.sh to turn into ratios. Every figure is
//   the best of several rounds, and each round measures meshgate and its baseline back to back
//   (interleaved), so drift on a shared machine hits both sides alike.
//
//   The baselines are written here with EVP directly, with algorithms fetched once: the
//   fastest way to do the same cryptography without meshgate's formats (JSON, base64,
//   kids, header binding). The UDF baseline is one EVP_Digest over the same buffer.
//
// THREAD SAFETY
//   Single-threaded program.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>

#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "gateway/mesh/udf.h"

namespace {

using namespace meshgate;
using namespace meshgate::mesh;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 7;
constexpr double kRoundSeconds = 0.4;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "mesh_bench: %s\n", what.c_str());
  std::exit(1);
}

void need(bool ok, const char* what) {
  if (!ok) die(what);
}

// Operations per second of `op`, run for about kRoundSeconds.
double rate(const std::function<void()>& op) {
  long n = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    for (int i = 0; i < 8; ++i) op();
    n += 8;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < kRoundSeconds);
  return static_cast<double>(n) / elapsed;
}

// Best-of-kRounds rates of `ours` and `bare`, measured alternately.
std::pair<double, double> compare(const std::function<void()>& ours,
                                  const std::function<void()>& bare) {
  double best_ours = 0, best_bare = 0;
  for (int r = 0; r < kRounds; ++r) {
    best_ours = std::max(best_ours, rate(ours));
    best_bare = std::max(best_bare, rate(bare));
  }
  return {best_ours, best_bare};
}

void report(const std::string& name, std::pair<double, double> r, const char* unit,
            double scale = 1.0) {
  std::printf("%s %.1f %s\n", name.c_str(), r.first * scale, unit);
  std::printf("%s_evp %.1f %s\n", name.c_str(), r.second * scale, unit);
  std::printf("%s_ratio %.3f x\n", name.c_str(), r.first / r.second);
}

// ---- bare EVP baseline ----------------------------------------------------------------------

struct Free {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
  void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
  void operator()(EVP_MD* p) const { EVP_MD_free(p); }
  void operator()(EVP_CIPHER* p) const { EVP_CIPHER_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

struct Evp {
  Owned<EVP_MD> sha512{EVP_MD_fetch(nullptr, "SHA512", nullptr)};
  Owned<EVP_KDF> hkdf{EVP_KDF_fetch(nullptr, "HKDF", nullptr)};
  Owned<EVP_CIPHER> cbc{EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr)};
  Owned<EVP_CIPHER> wrap{EVP_CIPHER_fetch(nullptr, "AES-256-WRAP", nullptr)};
};

const Evp& evp() {
  static const Evp e;
  return e;
}

Bytes evpSha512(ByteView data) {
  Bytes out(64);
  unsigned int len = 0;
  need(EVP_Digest(data.data(), data.size(), out.data(), &len, evp().sha512.get(), nullptr) == 1,
       "EVP_Digest");
  return out;
}

Bytes evpHkdf(const char* md, ByteView ikm, ByteView salt, const char* info, size_t len) {
  Owned<EVP_KDF_CTX> ctx(EVP_KDF_CTX_new(evp().hkdf.get()));
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(md), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  const_cast<uint8_t*>(ikm.data()), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info),
                                                  std::char_traits<char>::length(info));
  params[n++] = OSSL_PARAM_construct_end();
  Bytes out(len);
  need(EVP_KDF_derive(ctx.get(), out.data(), len, params) == 1, "EVP_KDF_derive");
  return out;
}

Bytes evpCipher(const EVP_CIPHER* c, bool enc, ByteView key, const uint8_t* iv, ByteView in) {
  Owned<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  need(EVP_CipherInit_ex2(ctx.get(), c, key.data(), iv, enc ? 1 : 0, nullptr) == 1, "CipherInit");
  Bytes out(in.size() + 32);
  int a = 0, b = 0;
  need(EVP_CipherUpdate(ctx.get(), out.data(), &a, in.data(), static_cast<int>(in.size())) == 1,
       "CipherUpdate");
  need(EVP_CipherFinal_ex(ctx.get(), out.data() + a, &b) == 1, "CipherFinal");
  out.resize(static_cast<size_t>(a + b));
  return out;
}

Bytes evpDerive(EVP_PKEY* mine, EVP_PKEY* peer) {
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr));
  size_t len = 0;
  need(EVP_PKEY_derive_init(ctx.get()) == 1 && EVP_PKEY_derive_set_peer(ctx.get(), peer) == 1 &&
           EVP_PKEY_derive(ctx.get(), nullptr, &len) == 1,
       "derive");
  Bytes out(len);
  need(EVP_PKEY_derive(ctx.get(), out.data(), &len) == 1, "derive");
  return out;
}

Bytes evpSign(EVP_PKEY* key, ByteView msg) {
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  Bytes sig(114);
  size_t len = sig.size();
  need(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
           EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) == 1,
       "sign");
  sig.resize(len);
  return sig;
}

bool evpVerify(EVP_PKEY* key, ByteView msg, ByteView sig) {
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  return EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
}

Bytes manifestOf(ByteView digest) {
  static const uint8_t kPrefix[] = {0x80, 0x04, 'S', '5', '1', '2', 0x88, 0x40};
  Bytes m(sizeof kPrefix + digest.size());
  std::copy(std::begin(kPrefix), std::end(kPrefix), m.begin());
  std::copy(digest.begin(), digest.end(), m.begin() + sizeof kPrefix);
  return m;
}

struct BareSealed {
  Bytes ciphertext, epk_raw, wmk, salt, signature;
};

// Sign-and-encrypt with the bare EVP calls DARE is made of, for one signer and one recipient.
BareSealed bareSeal(ByteView plaintext, EVP_PKEY* signer, EVP_PKEY* recipient) {
  BareSealed s;
  Bytes seed(32);
  s.salt.resize(16);
  need(RAND_bytes(seed.data(), 32) == 1 && RAND_bytes(s.salt.data(), 16) == 1, "RAND_bytes");
  Owned<EVP_PKEY_CTX> kctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* eph_raw = nullptr;
  need(EVP_PKEY_keygen_init(kctx.get()) == 1 && EVP_PKEY_keygen(kctx.get(), &eph_raw) == 1,
       "keygen");
  Owned<EVP_PKEY> eph(eph_raw);
  s.epk_raw.resize(32);
  size_t len = 32;
  need(EVP_PKEY_get_raw_public_key(eph.get(), s.epk_raw.data(), &len) == 1, "raw public");
  Bytes kek = evpHkdf("SHA512", evpDerive(eph.get(), recipient), {}, "master", 32);
  s.wmk = evpCipher(evp().wrap.get(), true, kek, nullptr, seed);
  Bytes key = evpHkdf("SHA256", seed, s.salt, "encrypt", 32);
  Bytes iv = evpHkdf("SHA256", seed, s.salt, "iv", 16);
  s.ciphertext = evpCipher(evp().cbc.get(), true, key, iv.data(), plaintext);
  s.signature = evpSign(signer, manifestOf(evpSha512(s.ciphertext)));
  return s;
}

Bytes bareOpen(const BareSealed& s, EVP_PKEY* recipient) {
  Owned<EVP_PKEY> epk(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, s.epk_raw.data(), s.epk_raw.size()));
  Bytes kek = evpHkdf("SHA512", evpDerive(recipient, epk.get()), {}, "master", 32);
  Bytes seed = evpCipher(evp().wrap.get(), false, kek, nullptr, s.wmk);
  Bytes key = evpHkdf("SHA256", seed, s.salt, "encrypt", 32);
  Bytes iv = evpHkdf("SHA256", seed, s.salt, "iv", 16);
  return evpCipher(evp().cbc.get(), false, key, iv.data(), s.ciphertext);
}

// ---- benchmarks -----------------------------------------------------------------------------

int benchUdf(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) die("cannot read " + file);
  const Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string sink;
  auto r = compare([&] { sink = contentDigestUdf(data, "application/octet-stream").value(); },
                   [&] { sink.assign(1, static_cast<char>(evpSha512(data)[0])); });
  const double mib = static_cast<double>(data.size()) / (1024.0 * 1024.0);
  report("udf_sha512_" + std::to_string(data.size()) + "B", r, "MiB/s", mib);
  return 0;
}

int benchDare(size_t bytes) {
  Bytes payload(bytes);
  need(RAND_bytes(payload.data(), static_cast<int>(bytes)) == 1, "RAND_bytes");
  const PrivateKey signer = PrivateKey::generate(KeyType::kEd25519).value();
  const PrivateKey recipient = PrivateKey::generate(KeyType::kX25519).value();
  const std::vector<PublicKey> trusted = {signer.publicKey()};
  const std::vector<PrivateKey> decrypt_keys = {recipient};
  const std::string size = std::to_string(bytes) + "B";

  DareSealOptions sign_only;
  sign_only.signers = {signer};
  DareSealOptions sign_encrypt = sign_only;
  sign_encrypt.recipients = {recipient.publicKey()};

  // Sign only: SHA-512 of the payload and one Ed25519 signature.
  report("dare_sign_" + size,
         compare([&] { need(sealDare(payload, sign_only).ok(), "seal"); },
                 [&] { evpSign(signer.evpKey(), manifestOf(evpSha512(payload))); }),
         "ops/s");
  // Sign and encrypt to one recipient.
  report("dare_seal_" + size,
         compare([&] { need(sealDare(payload, sign_encrypt).ok(), "seal"); },
                 [&] { bareSeal(payload, signer.evpKey(), recipient.publicKey().evpKey()); }),
         "ops/s");

  // Verify a sealed (signed + encrypted) envelope: the struct, and from its text.
  const DareEnvelope env = sealDare(payload, sign_encrypt).value();
  const std::string text = serializeDareEnvelope(env);
  const BareSealed bare = bareSeal(payload, signer.evpKey(), recipient.publicKey().evpKey());
  auto bare_verify = [&] {
    need(evpVerify(signer.publicKey().evpKey(), manifestOf(evpSha512(bare.ciphertext)),
                   bare.signature),
         "verify");
  };
  report("dare_verify_" + size,
         compare([&] { need(verifyDare(env, trusted).ok(), "verify"); }, bare_verify), "ops/s");
  report("dare_parse_verify_" + size,
         compare([&] { need(verifyDare(parseDareEnvelope(text).value(), trusted).ok(), "verify"); },
                 bare_verify),
         "ops/s");
  // Open: verify and decrypt.
  report("dare_open_" + size,
         compare([&] { need(openDare(env, decrypt_keys, trusted).ok(), "open"); },
                 [&] {
                   bare_verify();
                   bareOpen(bare, recipient.evpKey());
                 }),
         "ops/s");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "udf") return benchUdf(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "dare") return benchDare(std::stoul(argv[2]));
  std::fprintf(stderr, "usage: mesh_bench udf FILE | mesh_bench dare BYTES\n");
  return 2;
}
