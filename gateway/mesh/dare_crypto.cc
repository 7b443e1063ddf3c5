// dare_crypto.cc - DARE signing, verification, encryption and decryption; see dare.h and
// docs/mesh-formats.md.
#include <openssl/crypto.h>

#include <cstdio>

#include "gateway/mesh/crypto.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/udf.h"

namespace meshgate::mesh {
namespace {

using json = nlohmann::json;

constexpr std::string_view kDigestS512 = "S512";
constexpr std::string_view kEncA256Cbc = "A256CBC";
constexpr size_t kBaseSeedBytes = 32;
constexpr size_t kSaltBytes = 16;

// Wipes a secret when it goes out of scope, on every path.
struct Secret {
  Bytes bytes;
  ~Secret() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

void appendItem(Bytes& out, uint8_t tag, ByteView value) {
  out.push_back(tag);
  out.push_back(static_cast<uint8_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
}

void appendEscaped(std::string& out, const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

Status appendCanonical(std::string& out, const json& v, int depth) {
  if (depth > kMaxDareJsonDepth) return invalidArgument("nested too deeply to canonicalise");
  switch (v.type()) {
    case json::value_t::null:
      out += "null";
      return Status();
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return Status();
    case json::value_t::number_integer:
      out += std::to_string(v.get<int64_t>());
      return Status();
    case json::value_t::number_unsigned:
      out += std::to_string(v.get<uint64_t>());
      return Status();
    case json::value_t::string:
      appendEscaped(out, v.get_ref<const std::string&>());
      return Status();
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ',';
        first = false;
        MESHGATE_RETURN_IF_ERROR(appendCanonical(out, e, depth + 1));
      }
      out += ']';
      return Status();
    }
    case json::value_t::object: {
      // nlohmann's object_t is a std::map<std::string, ...>: members iterate in byte order of
      // their names (std::char_traits<char> compares as unsigned char), which is the order.
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) out += ',';
        first = false;
        appendEscaped(out, k);
        out += ':';
        MESHGATE_RETURN_IF_ERROR(appendCanonical(out, e, depth + 1));
      }
      out += '}';
      return Status();
    }
    case json::value_t::number_float:
      return invalidArgument("a non-integer number cannot be canonicalised");
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return invalidArgument("a JSON value of this type cannot be canonicalised");
}

Result<Bytes> canonicalHash(const json& v, const char* what) {
  auto text = canonicalJson(v);
  if (!text.ok()) return text.status().withContext(what);
  return sha512(asBytes(*text));
}

Result<KeyType> keyTypeOfAlg(std::string_view alg) {
  if (alg == "ED25519") return KeyType::kEd25519;
  if (alg == "ED448") return KeyType::kEd448;
  return invalidArgument("unsupported signature alg \"" + std::string(alg) +
                         "\" (expected ED25519 or ED448)");
}

std::string sigLabel(size_t i, const DareSignature& s) {
  return "signature " + std::to_string(i) + (s.kid ? " (kid " + *s.kid + ")" : std::string());
}

Status checkPayloadDerivationInputs(ByteView base_seed) {
  if (base_seed.size() != kBaseSeedBytes) {
    return invalidArgument("base seed must be " + std::to_string(kBaseSeedBytes) + " bytes");
  }
  return Status();
}

struct PayloadKeys {
  Secret key;
  Secret iv;
};

Status derivePayloadKeys(PayloadKeys& out, ByteView base_seed, ByteView salt) {
  MESHGATE_RETURN_IF_ERROR(checkPayloadDerivationInputs(base_seed));
  MESHGATE_ASSIGN_OR_RETURN(out.key.bytes,
                            hkdf(HashAlgorithm::kSha256, base_seed, salt, asBytes("encrypt"), 32));
  MESHGATE_ASSIGN_OR_RETURN(out.iv.bytes,
                            hkdf(HashAlgorithm::kSha256, base_seed, salt, asBytes("iv"), 16));
  return Status();
}

Result<Bytes> wrapKeyFor(ByteView shared_secret) {
  return hkdf(HashAlgorithm::kSha512, shared_secret, ByteView(), asBytes("master"), 32);
}

Result<Bytes> encryptInto(DareEnvelope& env, ByteView plaintext,
                          std::span<const PublicKey> recipients) {
  Secret seed;
  MESHGATE_ASSIGN_OR_RETURN(seed.bytes, randomBytes(kBaseSeedBytes));
  MESHGATE_ASSIGN_OR_RETURN(Bytes salt, randomBytes(kSaltBytes));
  std::vector<DareRecipient> out;
  out.reserve(recipients.size());
  for (const PublicKey& r : recipients) {
    if (!isAgreementKey(r.type())) {
      return invalidArgument("cannot encrypt to " + std::string(keyTypeName(r.type())) + " key " +
                             r.kid() + " (use an X25519 or X448 key)");
    }
    MESHGATE_ASSIGN_OR_RETURN(PrivateKey ephemeral, PrivateKey::generate(r.type()));
    Secret shared, kek;
    MESHGATE_ASSIGN_OR_RETURN(shared.bytes, ephemeral.agree(r));
    MESHGATE_ASSIGN_OR_RETURN(kek.bytes, wrapKeyFor(shared.bytes));
    DareRecipient dr;
    dr.kid = r.kid();
    dr.epk = toDareKey(ephemeral.publicKey());
    MESHGATE_ASSIGN_OR_RETURN(dr.wmk, aes256KeyWrap(kek.bytes, seed.bytes));
    out.push_back(std::move(dr));
  }
  env.header.enc = std::string(kEncA256Cbc);
  env.header.salt = salt;
  env.header.recipients = std::move(out);
  return dareEncryptPayload(plaintext, seed.bytes, salt);
}

}  // namespace

Result<std::string> canonicalJson(const nlohmann::json& value) {
  std::string out;
  MESHGATE_RETURN_IF_ERROR(appendCanonical(out, value, 0));
  return out;
}

Bytes dareManifest(ByteView payload_digest) {
  Bytes m;
  m.reserve(8 + payload_digest.size());
  appendItem(m, 0x80, asBytes(kDigestS512));
  appendItem(m, 0x88, payload_digest);
  return m;
}

Result<Bytes> dareBoundManifest(const DareEnvelope& envelope, ByteView payload_digest) {
  // Serialise the header and trailer only: the payload (possibly megabytes) is already bound
  // through its digest and need not be base64-encoded again here.
  const DareEnvelope shell{envelope.header, Bytes(), envelope.trailer};
  json whole = dareToJson(shell);
  json trailer = whole.size() == 3 ? whole[2] : json::object();
  // The signature values cannot cover themselves; everything else in the trailer is bound.
  if (trailer.contains("signatures") && trailer["signatures"].is_array()) {
    for (json& s : trailer["signatures"]) {
      if (s.is_object()) s.erase("signature");
    }
  }
  MESHGATE_ASSIGN_OR_RETURN(Bytes header_hash, canonicalHash(whole[0], "header"));
  MESHGATE_ASSIGN_OR_RETURN(Bytes trailer_hash, canonicalHash(trailer, "trailer"));
  Bytes m = dareManifest(payload_digest);
  m.reserve(m.size() + 6 + 2 * 66);
  appendItem(m, 0x80, asBytes(kDareBindingV1));
  appendItem(m, 0x88, header_hash);
  appendItem(m, 0x88, trailer_hash);
  return m;
}

Result<Bytes> dareEncryptPayload(ByteView plaintext, ByteView base_seed, ByteView salt) {
  PayloadKeys k;
  MESHGATE_RETURN_IF_ERROR(derivePayloadKeys(k, base_seed, salt));
  return aes256CbcEncrypt(k.key.bytes, k.iv.bytes, plaintext);
}

Result<Bytes> dareDecryptPayload(ByteView ciphertext, ByteView base_seed, ByteView salt) {
  PayloadKeys k;
  MESHGATE_RETURN_IF_ERROR(derivePayloadKeys(k, base_seed, salt));
  return aes256CbcDecrypt(k.key.bytes, k.iv.bytes, ciphertext);
}

Status signDare(DareEnvelope& envelope, std::span<const PrivateKey> signers,
                bool embed_signature_keys, bool bind_header) {
  if (signers.empty()) return invalidArgument("no signing keys");
  if (envelope.trailer && envelope.trailer->signatures && !envelope.trailer->signatures->empty()) {
    return failedPrecondition("envelope is already signed");
  }
  for (const PrivateKey& k : signers) {
    if (!isSignatureKey(k.type())) {
      return invalidArgument("cannot sign with " + std::string(keyTypeName(k.type())) + " key " +
                             k.kid() + " (use an Ed25519 or Ed448 key)");
    }
  }
  envelope.header.dig = std::string(kDigestS512);
  if (!envelope.trailer) envelope.trailer = DareTrailer();
  DareTrailer& t = *envelope.trailer;
  const Bytes digest = sha512(envelope.payload);
  t.payload_digest = digest;
  // Every signature's descriptor is in place before the first signature is made: the bound
  // manifest covers them all, so none can later be removed or altered without detection.
  std::vector<DareSignature> sigs;
  sigs.reserve(signers.size());
  for (const PrivateKey& k : signers) {
    DareSignature s;
    s.alg = std::string(signatureAlgorithmName(k.type()));
    s.kid = k.kid();
    if (embed_signature_keys) s.signature_key = toDareKey(k.publicKey());
    if (bind_header) s.binding = std::string(kDareBindingV1);
    sigs.push_back(std::move(s));
  }
  t.signatures = std::move(sigs);
  Bytes manifest;
  if (bind_header) {
    MESHGATE_ASSIGN_OR_RETURN(manifest, dareBoundManifest(envelope, digest));
  } else {
    manifest = dareManifest(digest);
  }
  for (size_t i = 0; i < signers.size(); ++i) {
    MESHGATE_ASSIGN_OR_RETURN((*t.signatures)[i].signature, signers[i].sign(manifest));
  }
  return Status();
}

Result<DareEnvelope> sealDare(ByteView plaintext, const DareSealOptions& options) {
  DareEnvelope env;
  if (options.content_type) {
    json meta = {{"cty", *options.content_type}};
    env.header.content_meta_data =
        toBytes(meta.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (!options.recipients.empty()) {
    MESHGATE_ASSIGN_OR_RETURN(env.payload, encryptInto(env, plaintext, options.recipients));
  } else {
    env.payload.assign(plaintext.begin(), plaintext.end());
  }
  if (!options.signers.empty()) {
    MESHGATE_RETURN_IF_ERROR(
        signDare(env, options.signers, options.embed_signature_keys, options.bind_header));
  }
  return env;
}

Result<std::vector<DareSignatureCheck>> verifyDare(const DareEnvelope& envelope,
                                                   std::span<const PublicKey> keys,
                                                   const DareVerifyOptions& options) {
  if (envelope.header.dig && *envelope.header.dig != kDigestS512) {
    return dataLoss("header dig \"" + *envelope.header.dig +
                    "\" is not supported (signatures are over S512)");
  }
  if (!envelope.trailer || !envelope.trailer->signatures || envelope.trailer->signatures->empty()) {
    return dataLoss("envelope is not signed (the trailer has no signatures)");
  }
  const DareTrailer& t = *envelope.trailer;
  const Bytes digest = sha512(envelope.payload);
  if (t.payload_digest && !constantTimeEquals(*t.payload_digest, digest)) {
    return dataLoss("PayloadDigest does not match the payload");
  }
  std::optional<Bytes> reference_manifest, bound_manifest;
  std::vector<DareSignatureCheck> checks;
  const auto& sigs = *t.signatures;
  for (size_t i = 0; i < sigs.size(); ++i) {
    const DareSignature& s = sigs[i];
    const std::string label = sigLabel(i, s);
    if (!s.alg) return dataLoss(label + ": no alg");
    if (!s.kid) return dataLoss(label + ": no kid");
    if (!s.signature) return dataLoss(label + ": no signature value");
    auto alg_type = keyTypeOfAlg(*s.alg);
    if (!alg_type.ok()) return dataLoss(label + ": " + alg_type.status().message());
    const bool bound = s.binding.has_value();
    if (bound && *s.binding != kDareBindingV1) {
      return dataLoss(label + ": unknown MeshgateBinding \"" + *s.binding + "\"");
    }
    if (!bound && options.require_header_binding) {
      return dataLoss(label + ": reference signature does not bind the header (required here)");
    }

    // An embedded SignatureKey must be the kid's key whether or not it is used, so that it
    // cannot be swapped unnoticed.
    std::optional<PublicKey> embedded;
    if (s.signature_key) {
      auto k = publicKeyFromDareKey(*s.signature_key);
      if (!k.ok()) return dataLoss(label + ": unusable SignatureKey: " + k.status().message());
      if (!udfMatches(k->kid(), *s.kid)) {
        return dataLoss(label + ": SignatureKey has kid " + k->kid() + ", not the signature's kid");
      }
      embedded = *k;
    }
    const PublicKey* key = nullptr;
    for (const PublicKey& k : keys) {
      if (udfMatches(k.kid(), *s.kid)) {
        key = &k;
        break;
      }
    }
    bool used_embedded = false;
    if (key == nullptr && embedded && options.allow_embedded_keys) {
      key = &*embedded;
      used_embedded = true;
    }
    if (key == nullptr) {
      return dataLoss(label + ": no key to verify with (no given key has this kid" +
                      std::string(s.signature_key ? " and embedded keys are not allowed)"
                                                  : " and no SignatureKey is embedded)"));
    }
    if (key->type() != *alg_type) {
      return dataLoss(label + ": alg " + *s.alg + " does not fit the " +
                      std::string(keyTypeName(key->type())) + " key");
    }
    const Bytes* manifest = nullptr;
    if (bound) {
      if (!bound_manifest) {
        auto m = dareBoundManifest(envelope, digest);
        if (!m.ok())
          return dataLoss(label + ": cannot compute the bound manifest: " + m.status().message());
        bound_manifest = std::move(m).value();
      }
      manifest = &*bound_manifest;
    } else {
      if (!reference_manifest) reference_manifest = dareManifest(digest);
      manifest = &*reference_manifest;
    }
    if (!key->verify(*manifest, *s.signature).ok()) {
      return dataLoss(label + ": does not verify over the " +
                      std::string(bound ? "header-bound (MGB1)" : "reference (payload-only)") +
                      " manifest: the payload, header or trailer was changed, or the key is "
                      "not the signer's");
    }
    checks.push_back(DareSignatureCheck{key->kid(), *s.alg, used_embedded, bound});
  }
  return checks;
}

Result<Bytes> decryptDare(const DareEnvelope& envelope, const PrivateKey& key) {
  const DareHeader& h = envelope.header;
  if (!h.enc) return invalidArgument("envelope is not encrypted");
  if (*h.enc != kEncA256Cbc) {
    return dataLoss("unsupported enc \"" + *h.enc + "\" (only A256CBC)");
  }
  if (!isAgreementKey(key.type())) {
    return invalidArgument("cannot decrypt with " + std::string(keyTypeName(key.type())) + " key " +
                           key.kid() + " (an X25519 or X448 key is needed)");
  }
  if (!h.recipients || h.recipients->empty())
    return dataLoss("encrypted envelope has no recipients");
  const DareRecipient* mine = nullptr;
  std::string listed;
  for (const DareRecipient& r : *h.recipients) {
    if (r.kid && udfMatches(*r.kid, key.kid())) {
      mine = &r;
      break;
    }
    listed += (listed.empty() ? "" : ", ") + r.kid.value_or("(no kid)");
  }
  if (mine == nullptr) {
    return notFound("envelope is not encrypted to key " + key.kid() + " (recipients: " + listed +
                    ")");
  }
  if (!mine->epk) return dataLoss("recipient " + key.kid() + ": no epk");
  if (!mine->wmk) return dataLoss("recipient " + key.kid() + ": no wmk");
  auto epk = publicKeyFromDareKey(*mine->epk);
  if (!epk.ok())
    return dataLoss("recipient " + key.kid() + ": unusable epk: " + epk.status().message());
  if (epk->type() != key.type()) {
    return dataLoss("recipient " + key.kid() + ": epk is " + std::string(keyTypeName(epk->type())) +
                    ", the key is " + std::string(keyTypeName(key.type())));
  }
  Secret shared, kek, seed;
  auto agreed = key.agree(*epk);
  if (!agreed.ok()) return dataLoss("recipient " + key.kid() + ": " + agreed.status().message());
  shared.bytes = std::move(agreed).value();
  MESHGATE_ASSIGN_OR_RETURN(kek.bytes, wrapKeyFor(shared.bytes));
  auto unwrapped = aes256KeyUnwrap(kek.bytes, *mine->wmk);
  if (!unwrapped.ok())
    return dataLoss("recipient " + key.kid() + ": " + unwrapped.status().message());
  seed.bytes = std::move(unwrapped).value();
  if (seed.bytes.size() != kBaseSeedBytes) {
    return dataLoss("recipient " + key.kid() + ": wrapped base seed has the wrong length");
  }
  auto plain = dareDecryptPayload(envelope.payload, seed.bytes, h.salt ? *h.salt : Bytes());
  if (!plain.ok()) return dataLoss("payload: " + plain.status().message());
  return plain;
}

Result<DareOpened> openDare(const DareEnvelope& envelope, std::span<const PrivateKey> keys,
                            std::span<const PublicKey> verify_keys,
                            const DareVerifyOptions& options) {
  DareOpened opened;
  const bool is_signed =
      envelope.trailer && envelope.trailer->signatures && !envelope.trailer->signatures->empty();
  if (is_signed) {
    std::vector<PublicKey> trusted(verify_keys.begin(), verify_keys.end());
    for (const PrivateKey& k : keys) {
      if (isSignatureKey(k.type())) trusted.push_back(k.publicKey());
    }
    MESHGATE_ASSIGN_OR_RETURN(opened.signatures, verifyDare(envelope, trusted, options));
  }
  if (envelope.header.enc) {
    Status last = notFound("no X25519 or X448 key given to decrypt with");
    bool done = false;
    for (const PrivateKey& k : keys) {
      if (!isAgreementKey(k.type())) continue;
      auto plain = decryptDare(envelope, k);
      if (plain.ok()) {
        opened.plaintext = std::move(plain).value();
        done = true;
        break;
      }
      last = plain.status();
      if (last.code() != StatusCode::kNotFound) break;
    }
    if (!done) return last;
  } else {
    opened.plaintext = envelope.payload;
  }
  auto cty = dareContentType(envelope.header);
  if (cty.ok()) opened.content_type = *cty;
  return opened;
}

}  // namespace meshgate::mesh
