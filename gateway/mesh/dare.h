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
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/util/encoding.h"
#include "gateway/util/status.h"

namespace meshgate::mesh {

// Input limits for hostile envelopes. Mail payloads may be tens of megabytes; base64 adds a
// third, so the text limit leaves room for a 48 MiB payload.
inline constexpr size_t kMaxDareTextBytes = 64u * 1024 * 1024;
inline constexpr int kMaxDareJsonDepth = 32;

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
  std::optional<std::string> alg;            // "ED25519", "ED448"
  std::optional<std::string> kid;            // kid of the signing key
  std::optional<DareKey> signature_key;      // "SignatureKey": the signer's public key, optional
  std::optional<Bytes> signature;            // "signature"
  std::optional<std::string> binding;        // "MeshgateBinding": see docs/mesh-formats.md
  JsonMembers extensions;
  friend bool operator==(const DareSignature&, const DareSignature&) = default;
};

struct DareHeader {
  std::optional<std::string> envelope_id;           // "EnvelopeId"
  std::optional<std::string> enc;                   // "A256CBC"
  std::optional<std::string> kid;
  std::optional<Bytes> salt;                        // "Salt"
  std::optional<std::vector<Bytes>> annotations;
  std::optional<std::vector<DareRecipient>> recipients;
  std::optional<nlohmann::json> policy;             // kept as JSON; meshgate does not interpret it
  std::optional<Bytes> content_meta_data;           // "ContentMetaData": bytes of a JSON object
  std::optional<std::string> dig;                   // "S512"
  JsonMembers extensions;
  friend bool operator==(const DareHeader&, const DareHeader&) = default;
};

struct DareTrailer {
  std::optional<std::vector<DareSignature>> signatures;
  std::optional<Bytes> payload_digest;              // "PayloadDigest"
  std::optional<Bytes> witness_value;               // "WitnessValue"
  JsonMembers extensions;
  friend bool operator==(const DareTrailer&, const DareTrailer&) = default;
};

struct DareEnvelope {
  DareHeader header;
  Bytes payload;                        // as carried: ciphertext when the envelope is encrypted
  std::optional<DareTrailer> trailer;   // absent: the array has two elements
  friend bool operator==(const DareEnvelope&, const DareEnvelope&) = default;
};

// The bare array [header, payload, trailer] (two elements when there is no trailer).
nlohmann::json dareToJson(const DareEnvelope& envelope);
Result<DareEnvelope> dareFromJson(const nlohmann::json& json);

// The top-level wrapped form {"DareEnvelope":[...]} as text (compact JSON).
Result<DareEnvelope> parseDareEnvelope(std::string_view text);
std::string serializeDareEnvelope(const DareEnvelope& envelope);

}  // namespace meshgate::mesh
