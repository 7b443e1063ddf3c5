// keys.cc - Mesh keys over OpenSSL EVP_PKEY; see keys.h.
#include "gateway/mesh/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <sodium.h>
#include <nlohmann/json.hpp>

#include "gateway/mesh/crypto.h"

namespace meshgate::mesh {
namespace {

using json = nlohmann::json;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::shared_ptr<EVP_PKEY> share(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, PkeyFree()); }

constexpr size_t kMaxKeyFileBytes = 64 * 1024;

int evpId(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return EVP_PKEY_ED25519;
    case KeyType::kEd448:
      return EVP_PKEY_ED448;
    case KeyType::kX25519:
      return EVP_PKEY_X25519;
    case KeyType::kX448:
      return EVP_PKEY_X448;
  }
  return EVP_PKEY_NONE;
}

Result<KeyType> typeOfEvp(const EVP_PKEY* pkey) {
  switch (EVP_PKEY_get_id(pkey)) {
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    case EVP_PKEY_ED448:
      return KeyType::kEd448;
    case EVP_PKEY_X25519:
      return KeyType::kX25519;
    case EVP_PKEY_X448:
      return KeyType::kX448;
    default:
      break;
  }
  return invalidArgument("unsupported key type (expected Ed25519, Ed448, X25519 or X448)");
}

// Private key text is wiped from memory once it has been used.
struct SecretString {
  std::string text;
  ~SecretString() {
    if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  }
};

void wipe(Bytes& b) {
  if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
}

std::string octalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status errnoStatus(const std::string& path, const char* what, int err) {
  std::string m = path + ": " + what + ": " + std::strerror(err);
  if (err == ENOENT) return notFound(m);
  if (err == EACCES || err == EPERM) return permissionDenied(m);
  return unavailable(m);
}

bool looksLikePem(std::string_view text) {
  return text.find("-----BEGIN ") != std::string_view::npos;
}

// Refuses to prompt: meshgate never asks for a passphrase on a terminal.
int noPassphrase(char*, int, int, void*) { return -1; }

Result<KeyText> parsePem(std::string_view text) {
  if (text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos) {
    return invalidArgument(
        "encrypted PEM private keys are not supported; store the key "
        "unencrypted with mode 0600");
  }
  if (text.size() > static_cast<size_t>(INT32_MAX)) return invalidArgument("key text too large");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return internalError("BIO_new_mem_buf: " + takeOpenSslErrors());
  if (text.find("PRIVATE KEY-----") != std::string_view::npos) {
    std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
    if (!pkey) return invalidArgument("unreadable PEM private key: " + takeOpenSslErrors());
    MESHGATE_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::fromEvp(pkey.get()));
    return KeyText{key, key.publicKey()};
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, noPassphrase, nullptr));
  if (!pkey) return invalidArgument("unreadable PEM public key: " + takeOpenSslErrors());
  MESHGATE_ASSIGN_OR_RETURN(PublicKey key, PublicKey::fromEvp(pkey.get()));
  return KeyText{std::nullopt, key};
}

Result<std::string> stringMember(const json& obj, const char* name, const char* where) {
  auto it = obj.find(name);
  if (it == obj.end()) return invalidArgument(std::string(where) + "." + name + ": missing");
  if (!it->is_string()) {
    return invalidArgument(std::string(where) + "." + name + ": expected a string");
  }
  return it->get<std::string>();
}

Result<Bytes> binaryMember(const json& obj, const char* name, const char* where) {
  MESHGATE_ASSIGN_OR_RETURN(std::string text, stringMember(obj, name, where));
  auto bytes = base64UrlDecode(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!bytes.ok()) return bytes.status().withContext(std::string(where) + "." + name);
  return bytes;
}

Result<KeyText> parseMeshJson(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // Only the position: the parser's own message quotes the text it read, which may be part
    // of a private key.
    return invalidArgument("not a key (neither PEM nor Mesh JSON): invalid JSON at byte " +
                           std::to_string(e.byte));
  } catch (const std::exception&) {
    return invalidArgument("not a key (neither PEM nor Mesh JSON)");
  }
  if (!doc.is_object() || doc.size() != 1) {
    return invalidArgument(
        "not a Mesh key: expected {\"PublicKeyECDH\":{...}} or {\"PrivateKeyECDH\":{...}}");
  }
  const std::string tag = doc.begin().key();
  const json& body = doc.begin().value();
  if (tag != "PublicKeyECDH" && tag != "PrivateKeyECDH") {
    return invalidArgument("not a Mesh key: unknown key type tag \"" + tag +
                           "\" (expected PublicKeyECDH or PrivateKeyECDH)");
  }
  if (!body.is_object()) return invalidArgument(tag + ": expected an object");
  MESHGATE_ASSIGN_OR_RETURN(std::string crv, stringMember(body, "crv", tag.c_str()));
  auto type = parseKeyType(crv);
  if (!type.ok()) return type.status().withContext(tag + ".crv");
  if (tag == "PublicKeyECDH") {
    MESHGATE_ASSIGN_OR_RETURN(Bytes raw, binaryMember(body, "Public", tag.c_str()));
    auto key = PublicKey::fromRaw(*type, raw);
    if (!key.ok()) return key.status().withContext(tag + ".Public");
    return KeyText{std::nullopt, *key};
  }
  MESHGATE_ASSIGN_OR_RETURN(Bytes raw, binaryMember(body, "Private", tag.c_str()));
  auto key = PrivateKey::fromRaw(*type, raw);
  wipe(raw);
  if (!key.ok()) return key.status().withContext(tag + ".Private");
  if (body.contains("Public")) {
    MESHGATE_ASSIGN_OR_RETURN(Bytes pub, binaryMember(body, "Public", tag.c_str()));
    if (pub != key->publicKey().raw()) {
      return invalidArgument(tag + ".Public: does not match the private key");
    }
  }
  return KeyText{*key, key->publicKey()};
}

Result<SecretString> readKeyFile(const std::string& path, struct stat* st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return errnoStatus(path, "cannot open key file", errno);
  SecretString content;
  // fstat on the open descriptor: the mode checked is the mode of the file read.
  if (::fstat(fd, st) != 0) {
    int err = errno;
    ::close(fd);
    return errnoStatus(path, "cannot stat key file", err);
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    return invalidArgument(path + ": not a regular file");
  }
  if (static_cast<size_t>(st->st_size) > kMaxKeyFileBytes) {
    ::close(fd);
    return invalidArgument(path + ": too large for a key file (" + std::to_string(st->st_size) +
                           " bytes)");
  }
  content.text.resize(static_cast<size_t>(st->st_size));
  size_t got = 0;
  while (got < content.text.size()) {
    ssize_t n = ::read(fd, content.text.data() + got, content.text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return errnoStatus(path, "cannot read key file", err);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  content.text.resize(got);
  return content;
}

Status writeAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status(StatusCode::kUnavailable, std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status();
}

std::string folderOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes `content` to a temporary file beside `path` with `mode`, then moves it into place.
Status atomicWrite(const std::string& path, std::string_view content, mode_t mode, bool overwrite) {
  std::string tmp = path + ".tmp.XXXXXX";
  // mkstemp creates the file with mode 0600, so a private key is never readable by others.
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return errnoStatus(path, "cannot create temporary file", errno);
  auto fail = [&](const char* what, int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return errnoStatus(path, what, err);
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set file mode", errno);
  if (Status s = writeAll(fd, content); !s.ok()) return fail("cannot write", errno);
  if (::fsync(fd) != 0) return fail("cannot sync", errno);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errnoStatus(path, "cannot close", err);
  }
  if (overwrite) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return errnoStatus(path, "cannot rename into place", err);
    }
  } else {
    // link(2) fails if the target exists, so "do not overwrite" holds without a race.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      if (err == EEXIST) {
        return alreadyExists(path + ": file exists (remove it first, or use --force)");
      }
      return errnoStatus(path, "cannot create", err);
    }
    ::unlink(tmp.c_str());
  }
  int dir = ::open(folderOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status();
}

Result<std::string> pemOf(EVP_PKEY* pkey, bool private_key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio) return internalError("BIO_new: " + takeOpenSslErrors());
  int ok = private_key
               ? PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PUBKEY(bio.get(), pkey);
  if (ok != 1) return internalError("PEM_write_bio: " + takeOpenSslErrors());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<size_t>(len));
  if (private_key && len > 0) OPENSSL_cleanse(data, static_cast<size_t>(len));
  return out;
}

}  // namespace

std::string_view keyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return "Ed25519";
    case KeyType::kEd448:
      return "Ed448";
    case KeyType::kX25519:
      return "X25519";
    case KeyType::kX448:
      return "X448";
  }
  return "?";
}

Result<KeyType> parseKeyType(std::string_view name) {
  for (KeyType t : {KeyType::kEd25519, KeyType::kEd448, KeyType::kX25519, KeyType::kX448}) {
    std::string_view n = keyTypeName(t);
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return t;
    }
  }
  return invalidArgument("unknown key type \"" + std::string(name) +
                         "\" (expected Ed25519, Ed448, X25519 or X448)");
}

bool isSignatureKey(KeyType type) { return type == KeyType::kEd25519 || type == KeyType::kEd448; }
bool isAgreementKey(KeyType type) { return !isSignatureKey(type); }

size_t publicKeySize(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return 32;
    case KeyType::kEd448:
      return 57;
    case KeyType::kX25519:
      return 32;
    case KeyType::kX448:
      return 56;
  }
  return 0;
}

size_t privateKeySize(KeyType type) { return publicKeySize(type); }

std::string_view signatureAlgorithmName(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return "ED25519";
    case KeyType::kEd448:
      return "ED448";
    default:
      return "";
  }
}

Bytes meshSubjectPublicKeyInfo(ByteView raw) {
  // Raw keys are at most 57 bytes, so every DER length below fits the one-byte short form.
  const uint8_t octet_len = static_cast<uint8_t>(raw.size());
  const uint8_t bit_len = static_cast<uint8_t>(1 + 2 + raw.size());  // 00, 04 n, key
  const uint8_t seq_len = static_cast<uint8_t>(7 + 2 + bit_len);     // AlgId, 03 L', ...
  const uint8_t prefix[] = {0x30, seq_len, 0x30, 0x05,    0x06, 0x03, 0x2B,
                            0x65, 0x70,    0x03, bit_len, 0x00, 0x04, octet_len};
  Bytes spki(sizeof prefix + raw.size());
  std::copy(std::begin(prefix), std::end(prefix), spki.begin());
  std::copy(raw.begin(), raw.end(), spki.begin() + sizeof prefix);
  return spki;
}

// PublicKey ----------------------------------------------------------------------------------

Result<PublicKey> PublicKey::fromRaw(KeyType type, ByteView raw) {
  if (raw.size() != publicKeySize(type)) {
    return invalidArgument(std::string(keyTypeName(type)) + " public key must be " +
                           std::to_string(publicKeySize(type)) + " bytes, not " +
                           std::to_string(raw.size()));
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(evpId(type), nullptr, raw.data(), raw.size());
  if (pkey == nullptr) {
    return invalidArgument(std::string("invalid ") + std::string(keyTypeName(type)) +
                           " public key: " + takeOpenSslErrors());
  }
  PublicKey key;
  key.pkey_ = share(pkey);
  key.type_ = type;
  key.raw_.assign(raw.begin(), raw.end());
  key.kid_binary_ = contentDigestBinary(meshSubjectPublicKeyInfo(raw), kContentTypeKey);
  key.kid_ = presentUdf(key.kid_binary_, kUdfDefaultBits).value();
  return key;
}

Result<PublicKey> PublicKey::fromEvp(EVP_PKEY* pkey) {
  if (pkey == nullptr) return invalidArgument("no key");
  MESHGATE_ASSIGN_OR_RETURN(KeyType type, typeOfEvp(pkey));
  Bytes raw(publicKeySize(type));
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) != 1 || len != raw.size()) {
    return invalidArgument("cannot read the raw public key: " + takeOpenSslErrors());
  }
  return fromRaw(type, raw);
}

Status PublicKey::verify(ByteView message, ByteView signature) const {
  if (!isSignatureKey(type_)) {
    return invalidArgument(std::string(keyTypeName(type_)) + " keys cannot verify signatures");
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return internalError("EVP_MD_CTX_new: " + takeOpenSslErrors());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1) {
    return internalError("EVP_DigestVerifyInit: " + takeOpenSslErrors());
  }
  int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                            message.size());
  if (rc != 1) {
    ERR_clear_error();
    return dataLoss("signature does not verify");
  }
  return Status();
}

// PrivateKey ---------------------------------------------------------------------------------

// Ed25519 signatures are made by libsodium: the same bytes as OpenSSL's (EdDSA is
// deterministic) in under half the time, and every message the milter accepts is signed
// (docs/architecture.md). The secret is wiped when the last copy of the key goes.
struct PrivateKey::Ed25519Secret {
  unsigned char sk[crypto_sign_ed25519_SECRETKEYBYTES];
  ~Ed25519Secret() { sodium_memzero(sk, sizeof sk); }
};

namespace {
bool sodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}
}  // namespace

Result<PrivateKey> PrivateKey::generate(KeyType type) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(evpId(type), nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &pkey) != 1) {
    return internalError("key generation failed: " + takeOpenSslErrors());
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> owned(pkey);
  return fromEvp(owned.get());
}

Result<PrivateKey> PrivateKey::fromRaw(KeyType type, ByteView raw_private) {
  if (raw_private.size() != privateKeySize(type)) {
    return invalidArgument(std::string(keyTypeName(type)) + " private key must be " +
                           std::to_string(privateKeySize(type)) + " bytes, not " +
                           std::to_string(raw_private.size()));
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      EVP_PKEY_new_raw_private_key(evpId(type), nullptr, raw_private.data(), raw_private.size()));
  if (!pkey) {
    return invalidArgument(std::string("invalid ") + std::string(keyTypeName(type)) +
                           " private key: " + takeOpenSslErrors());
  }
  return fromEvp(pkey.get());
}

Result<PrivateKey> PrivateKey::fromEvp(EVP_PKEY* pkey) {
  if (pkey == nullptr) return invalidArgument("no key");
  MESHGATE_ASSIGN_OR_RETURN(KeyType type, typeOfEvp(pkey));
  size_t len = 0;
  if (EVP_PKEY_get_raw_private_key(pkey, nullptr, &len) != 1 || len != privateKeySize(type)) {
    ERR_clear_error();
    return invalidArgument("not a private key");
  }
  MESHGATE_ASSIGN_OR_RETURN(PublicKey pub, PublicKey::fromEvp(pkey));
  if (EVP_PKEY_up_ref(pkey) != 1) return internalError("EVP_PKEY_up_ref failed");
  PrivateKey key;
  key.pkey_ = share(pkey);
  key.public_ = std::move(pub);
  if (type == KeyType::kEd25519 && sodiumReady()) {
    auto secret = std::make_shared<Ed25519Secret>();
    unsigned char seed[crypto_sign_ed25519_SEEDBYTES];
    unsigned char pk[crypto_sign_ed25519_PUBLICKEYBYTES];
    len = sizeof seed;
    // Used only when libsodium derives the public key OpenSSL holds (else OpenSSL signs).
    if (EVP_PKEY_get_raw_private_key(pkey, seed, &len) == 1 && len == sizeof seed &&
        crypto_sign_ed25519_seed_keypair(pk, secret->sk, seed) == 0 &&
        key.public_.raw() == Bytes(pk, pk + sizeof pk)) {
      key.ed25519_ = std::move(secret);
    }
    sodium_memzero(seed, sizeof seed);
    ERR_clear_error();
  }
  return key;
}

Bytes PrivateKey::rawPrivate() const {
  Bytes raw(privateKeySize(type()));
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_private_key(pkey_.get(), raw.data(), &len) != 1) {
    ERR_clear_error();
    return {};
  }
  raw.resize(len);
  return raw;
}

Result<Bytes> PrivateKey::sign(ByteView message) const {
  if (!isSignatureKey(type())) {
    return invalidArgument(std::string(keyTypeName(type())) + " keys cannot sign");
  }
  if (ed25519_) {
    Bytes sig(crypto_sign_ed25519_BYTES);
    if (crypto_sign_ed25519_detached(sig.data(), nullptr, message.data(), message.size(),
                                     ed25519_->sk) != 0) {
      return internalError("Ed25519 signature failed");
    }
    return sig;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return internalError("EVP_MD_CTX_new: " + takeOpenSslErrors());
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1) {
    return internalError("EVP_DigestSignInit: " + takeOpenSslErrors());
  }
  Bytes sig(type() == KeyType::kEd25519 ? 64 : 114);
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    return internalError("EVP_DigestSign: " + takeOpenSslErrors());
  }
  sig.resize(len);
  return sig;
}

Result<Bytes> PrivateKey::agree(const PublicKey& peer) const {
  if (!isAgreementKey(type())) {
    return invalidArgument(std::string(keyTypeName(type())) +
                           " keys cannot do key agreement (use X25519 or X448)");
  }
  if (peer.type() != type()) {
    return invalidArgument("key agreement between " + std::string(keyTypeName(type())) + " and " +
                           std::string(keyTypeName(peer.type())) + " keys");
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) {
    return internalError("EVP_PKEY_derive_init: " + takeOpenSslErrors());
  }
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer.evpKey()) != 1) {
    return invalidArgument("unusable peer key: " + takeOpenSslErrors());
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
    return internalError("EVP_PKEY_derive: " + takeOpenSslErrors());
  }
  Bytes secret(len);
  // OpenSSL refuses an all-zero X25519/X448 result (a small-order peer key).
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1) {
    return invalidArgument("key agreement failed (invalid peer key): " + takeOpenSslErrors());
  }
  secret.resize(len);
  return secret;
}

// Texts --------------------------------------------------------------------------------------

// Written by hand rather than with json::dump, which sorts members: "crv" first reads better
// and matches the reference implementation's files. Neither value needs escaping.
std::string publicKeyToMeshJson(const PublicKey& key) {
  return "{\"PublicKeyECDH\":{\"crv\":\"" + std::string(keyTypeName(key.type())) +
         "\",\"Public\":\"" + base64UrlEncode(key.raw()) + "\"}}\n";
}

std::string privateKeyToMeshJson(const PrivateKey& key) {
  Bytes raw = key.rawPrivate();
  std::string b64 = base64UrlEncode(raw);
  wipe(raw);
  std::string out = "{\"PrivateKeyECDH\":{\"crv\":\"" + std::string(keyTypeName(key.type())) +
                    "\",\"Private\":\"" + b64 + "\"}}\n";
  OPENSSL_cleanse(b64.data(), b64.size());
  return out;
}

Result<std::string> publicKeyToPem(const PublicKey& key) { return pemOf(key.evpKey(), false); }

Result<std::string> privateKeyToPem(const PrivateKey& key) { return pemOf(key.evpKey(), true); }

Result<KeyText> parseKeyText(std::string_view text) {
  if (text.size() > kMaxKeyFileBytes) return invalidArgument("key text too large");
  try {
    return looksLikePem(text) ? parsePem(text) : parseMeshJson(text);
  } catch (const std::exception& e) {
    return invalidArgument(std::string("unreadable key: ") + e.what());
  }
}

Result<PrivateKey> parsePrivateKey(std::string_view text) {
  MESHGATE_ASSIGN_OR_RETURN(KeyText k, parseKeyText(text));
  if (!k.private_key) return invalidArgument("a public key where a private key is needed");
  return *k.private_key;
}

Result<PublicKey> parsePublicKey(std::string_view text) {
  MESHGATE_ASSIGN_OR_RETURN(KeyText k, parseKeyText(text));
  return k.public_key;
}

// Files --------------------------------------------------------------------------------------

Result<KeyText> loadKeyFile(const std::string& path) {
  struct stat st {};
  MESHGATE_ASSIGN_OR_RETURN(SecretString content, readKeyFile(path, &st));
  auto parsed = parseKeyText(content.text);
  if (!parsed.ok()) return parsed.status().withContext(path);
  if (parsed->private_key && (st.st_mode & 077) != 0) {
    const char* how = (st.st_mode & 044) != 0 ? "readable" : "accessible";
    return failedPrecondition(path + ": private key file is " + how + " by group or others (mode " +
                              octalMode(st.st_mode) + "); run: chmod 600 " + path);
  }
  return parsed;
}

Result<PrivateKey> loadPrivateKeyFile(const std::string& path) {
  MESHGATE_ASSIGN_OR_RETURN(KeyText k, loadKeyFile(path));
  if (!k.private_key) {
    return invalidArgument(path + ": holds a public key; a private key is needed here");
  }
  return *k.private_key;
}

Result<PublicKey> loadPublicKeyFile(const std::string& path) {
  MESHGATE_ASSIGN_OR_RETURN(KeyText k, loadKeyFile(path));
  return k.public_key;
}

Status savePrivateKeyFile(const PrivateKey& key, const std::string& path, KeyFileFormat format,
                          bool overwrite) {
  SecretString text;
  if (format == KeyFileFormat::kPem) {
    MESHGATE_ASSIGN_OR_RETURN(text.text, privateKeyToPem(key));
  } else {
    text.text = privateKeyToMeshJson(key);
  }
  return atomicWrite(path, text.text, 0600, overwrite);
}

Status savePublicKeyFile(const PublicKey& key, const std::string& path, KeyFileFormat format,
                         bool overwrite) {
  std::string text;
  if (format == KeyFileFormat::kPem) {
    MESHGATE_ASSIGN_OR_RETURN(text, publicKeyToPem(key));
  } else {
    text = publicKeyToMeshJson(key);
  }
  return atomicWrite(path, text, 0644, overwrite);
}

// Profile fingerprints -----------------------------------------------------------------------

Result<std::string> profileFingerprintOfUdfs(std::span<const Bytes> root_key_udf_binaries,
                                             int bits) {
  Bytes list;
  for (const Bytes& udf : root_key_udf_binaries) {
    if (udf.empty() || udf.size() > 255) {
      return invalidArgument("profile fingerprint: a root key UDF must be 1..255 bytes");
    }
    list.push_back(static_cast<uint8_t>(udf.size()));
    list.insert(list.end(), udf.begin(), udf.end());
  }
  Bytes inner = sha512(list);
  Bytes tagged = toBytes(std::string(kContentTypeUdfList) + ":");
  tagged.insert(tagged.end(), inner.begin(), inner.end());
  Bytes tcdv = sha512(tagged);
  Bytes bin = {static_cast<uint8_t>(UdfType::kDigestSha512),
               static_cast<uint8_t>(UdfType::kDigestSha512)};
  bin.insert(bin.end(), tcdv.begin(), tcdv.end());
  return presentUdf(bin, bits);
}

Result<std::string> profileFingerprint(std::span<const PublicKey> root_keys, int bits) {
  std::vector<Bytes> udfs;
  udfs.reserve(root_keys.size());
  for (const PublicKey& k : root_keys) udfs.push_back(k.kidBinary());
  return profileFingerprintOfUdfs(udfs, bits);
}

}  // namespace meshgate::mesh
