// NAME
//   dare.h - DARE envelopes (JSON form): parse, serialize, sign, verify, encrypt, decrypt.
//
// SYNOPSIS
//   Result<DareEnvelope> env = parseDareEnvelope(text);     // {"DareEnvelope":[h, p, t]}
//   std::string out = serializeDareEnvelope(*env);
//   nlohmann::json bare = dareToJson(*env);                  // [h, p, t]
//   Result<DareEnvelope> again = dareFromJson(bare);
//
// DESCRIPTION
//   The byte-level format is MESH-FORMATS section 3; docs/mesh-formats.md describes what
//   meshgate adds (the header binding of envelopes it seals). An envelope is a JSON array
//   [header, payload, trailer]; the trailer may be absent (two elements), as in the reference
//   implementation's unsigned examples.
//
//   The structs keep every member they were parsed from: known members as typed fields (an
//   absent member is an empty optional, so "absent" and "empty" survive a round trip), and
//   unknown members verbatim in `extensions`. dareFromJson(dareToJson(e)) == e, and
//   dareToJson(dareFromJson(j)) == j for every j that dareFromJson accepts (JSON value
//   equality: member order and whitespace are not preserved; base64url is re-encoded without
//   padding in the URL-safe alphabet).
//
// THREAD SAFETY
//   Value types and pure functions; safe from any thread.
//
// ERRORS
//   Parsing: kInvalidArgument naming the JSON path of the offending member
//   ("DareEnvelope[0].recipients[1].wmk: ..."); kResourceExhausted when the input is larger or
//   more deeply nested than the limits below.
//   Verification and decryption: kDataLoss with the reason ("signature 0 (kid MCCR-...): does
//   not verify over the header-bound manifest", "PayloadDigest does not match the payload").
//   Decryption with a key the envelope is not encrypted to: kNotFound.
//
// SIGNING AND ENCRYPTION
//   Reference signatures (MESH-FORMATS 3) cover only the payload digest: the manifest is
//     80 04 "S512" 88 40 SHA512(payload as carried).
//   Envelopes meshgate seals carry "MeshgateBinding":"MGB1" in every signature, and sign
//     80 04 "S512" 88 40 SHA512(payload) 80 04 "MGB1" 88 40 SHA512(C(header))
//     88 40 SHA512(C(trailer without the "signature" values))
//   where C is the canonical JSON of docs/mesh-formats.md ("Header binding"). A change to any
//   header field, the payload, or any trailer field other than a signature value (which its
//   own check covers) then fails verification; stripping or adding the marker changes the
//   manifest, so it cannot downgrade a signature. Reference envelopes still verify the
//   reference way.
//
//   Encryption: a random 32-byte base seed and 16-byte Salt per envelope; per recipient an
//   ephemeral X25519/X448 key, wrap key HKDF-SHA512(shared secret, no salt, "master", 32) and
//   wmk = RFC 3394 AES-256 key wrap of the seed; payload key and IV HKDF-SHA256(seed, Salt,
//   "encrypt"/"iv"); AES-256-CBC with PKCS#7. Signatures cover the ciphertext, so a forged
//   envelope is refused before anything is decrypted.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/mesh/keys.h"
#include "gateway/util/encoding.h"
#include "gateway/util/status.h"

namespace meshgate::mesh {

// Input limits for hostile envelopes. Mail payloads may be tens of megabytes; base64 adds a
// third, so the text limit leaves room for a 48 MiB payload.
inline constexpr size_t kMaxDareTextBytes = 64u * 1024 * 1024;
inline constexpr int kMaxDareJsonDepth = 32;
// Each signature costs a public-key verification, and a signature can name a key it embeds, so
// anyone can make them: one per signer is the use, a few signers are plenty.
inline constexpr size_t kMaxDareSignatures = 16;

// Unrecognized JSON members of an object, kept so that round trips and the header binding see
// them.
using JsonMembers = nlohmann::json::object_t;

// A typed public key as DARE carries it: {"PublicKeyECDH":{"crv":"X25519","Public":"..."}}.
struct DareKey {
  std::string crv;
  Bytes public_key;
  JsonMembers extensions;  // unknown members inside "PublicKeyECDH"
  friend bool operator==(const DareKey&, const DareKey&) = default;
};

struct DareRecipient {
  std::optional<std::string> kid;
  std::optional<DareKey> epk;
  std::optional<Bytes> wmk;
  JsonMembers extensions;
  friend bool operator==(const DareRecipient&, const DareRecipient&) = default;
};

struct DareSignature {
  std::optional<std::string> alg;        // "ED25519", "ED448"
  std::optional<std::string> kid;        // kid of the signing key
  std::optional<DareKey> signature_key;  // "SignatureKey": the signer's public key, optional
  std::optional<Bytes> signature;        // "signature"
  std::optional<std::string> binding;    // "MeshgateBinding": see docs/mesh-formats.md
  JsonMembers extensions;
  friend bool operator==(const DareSignature&, const DareSignature&) = default;
};

struct DareHeader {
  std::optional<std::string> envelope_id;  // "EnvelopeId"
  std::optional<std::string> enc;          // "A256CBC"
  std::optional<std::string> kid;
  std::optional<Bytes> salt;  // "Salt"
  std::optional<std::vector<Bytes>> annotations;
  std::optional<std::vector<DareRecipient>> recipients;
  std::optional<nlohmann::json> policy;    // kept as JSON; meshgate does not interpret it
  std::optional<Bytes> content_meta_data;  // "ContentMetaData": bytes of a JSON object
  std::optional<std::string> dig;          // "S512"
  JsonMembers extensions;
  friend bool operator==(const DareHeader&, const DareHeader&) = default;
};

struct DareTrailer {
  std::optional<std::vector<DareSignature>> signatures;
  std::optional<Bytes> payload_digest;  // "PayloadDigest"
  std::optional<Bytes> witness_value;   // "WitnessValue"
  JsonMembers extensions;
  friend bool operator==(const DareTrailer&, const DareTrailer&) = default;
};

struct DareEnvelope {
  DareHeader header;
  Bytes payload;                       // as carried: ciphertext when the envelope is encrypted
  std::optional<DareTrailer> trailer;  // absent: the array has two elements
  friend bool operator==(const DareEnvelope&, const DareEnvelope&) = default;
};

// The bare array [header, payload, trailer] (two elements when there is no trailer).
nlohmann::json dareToJson(const DareEnvelope& envelope);
Result<DareEnvelope> dareFromJson(const nlohmann::json& json);

// The top-level wrapped form {"DareEnvelope":[...]} as text (compact JSON).
Result<DareEnvelope> parseDareEnvelope(std::string_view text);
std::string serializeDareEnvelope(const DareEnvelope& envelope);

// DareKey <-> keys.h.
DareKey toDareKey(const PublicKey& key);
Result<PublicKey> publicKeyFromDareKey(const DareKey& key);

// The "cty" of the header's ContentMetaData, if there is one.
Result<std::optional<std::string>> dareContentType(const DareHeader& header);

// ---- Signing, verification, encryption -----------------------------------------------------

inline constexpr std::string_view kDareBindingV1 = "MGB1";

struct DareSealOptions {
  std::vector<PrivateKey> signers;          // Ed25519 / Ed448
  std::vector<PublicKey> recipients;        // X25519 / X448
  std::optional<std::string> content_type;  // recorded as ContentMetaData {"cty": ...}
  bool embed_signature_keys = true;         // put each signer's public key in its signature
  bool bind_header = true;                  // false: reference signatures (payload only)
};

// Encrypts (when there are recipients), then signs (when there are signers). With neither,
// the envelope carries the plaintext with no trailer.
Result<DareEnvelope> sealDare(ByteView plaintext, const DareSealOptions& options);

// Signs an envelope that has no signatures yet (kFailedPrecondition otherwise): sets
// header.dig to "S512" and writes the trailer's PayloadDigest and signatures.
Status signDare(DareEnvelope& envelope, std::span<const PrivateKey> signers,
                bool embed_signature_keys = true, bool bind_header = true);

struct DareVerifyOptions {
  bool allow_embedded_keys = true;      // use SignatureKey when no given key has the kid
  bool require_header_binding = false;  // refuse reference (payload-only) signatures
};

struct DareSignatureCheck {
  std::string kid;
  std::string alg;
  bool embedded_key = false;  // verified with the envelope's own SignatureKey
  bool header_bound = false;  // MeshgateBinding signature (header and trailer covered)
};

// Verifies every signature; OK only if there is at least one and all verify. `keys` are the
// keys the caller trusts, matched to signatures by kid.
Result<std::vector<DareSignatureCheck>> verifyDare(const DareEnvelope& envelope,
                                                   std::span<const PublicKey> keys,
                                                   const DareVerifyOptions& options = {});

// The plaintext of an encrypted envelope for the recipient `key` (X25519/X448). Does not
// verify signatures; openDare does.
Result<Bytes> decryptDare(const DareEnvelope& envelope, const PrivateKey& key);

struct DareOpened {
  Bytes plaintext;
  std::vector<DareSignatureCheck> signatures;  // empty when the envelope is not signed
  std::optional<std::string> content_type;
};

// Verifies (if signed; with `verify_keys` and the signature keys among `keys`), then decrypts
// (if encrypted; with the first agreement key in `keys` the envelope is encrypted to).
Result<DareOpened> openDare(const DareEnvelope& envelope, std::span<const PrivateKey> keys,
                            std::span<const PublicKey> verify_keys,
                            const DareVerifyOptions& options = {});

// ---- Building blocks (tests, benchmarks, interoperability) ---------------------------------

// 80 04 "S512" 88 40 <payload_digest>.
Bytes dareManifest(ByteView payload_digest);
// The MGB1 manifest of `envelope` (see SIGNING AND ENCRYPTION).
Result<Bytes> dareBoundManifest(const DareEnvelope& envelope, ByteView payload_digest);
// Canonical JSON (docs/mesh-formats.md): sorted members, no whitespace, minimal escapes,
// integers only. kInvalidArgument for a non-integer number.
Result<std::string> canonicalJson(const nlohmann::json& value);

Result<Bytes> dareEncryptPayload(ByteView plaintext, ByteView base_seed, ByteView salt);
Result<Bytes> dareDecryptPayload(ByteView ciphertext, ByteView base_seed, ByteView salt);

}  // namespace meshgate::mesh
