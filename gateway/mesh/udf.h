// NAME
//   udf.h - Uniform Data Fingerprints: content digests, authenticators, nonces, message ids.
//
// SYNOPSIS
//   Result<std::string> u = contentDigestUdf(asBytes("UDF Data Value"), "text/plain");
//   // "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF"
//   bool same = udfMatches("mddk7n6a727ajznostrx", *u);   // prefix match, >= 100 bits
//
// DESCRIPTION
//   MESH-FORMATS section 1. A UDF's binary form is one type byte followed by the value; its
//   presentation is ceil(bits/5) characters of the Base32 of the binary form, with a dash
//   after every four. A shorter presentation is a prefix of a longer one, so fingerprints of
//   different precision compare by prefix. (The specification's "Base32 of ceil(bits/8) bytes"
//   gives the same text whenever the characters end on a byte boundary or before it, which
//   includes every multiple of 20 bits; at e.g. 128 bits it would zero-pad the last character
//   and break the prefix rule, so the characters are always taken from real bits.)
//
//   Precision: 100 to 440 bits. The specification's stated minimum is 128, but its published
//   precision vectors include a 100-bit presentation and 100 bits is the matching floor, so the
//   library presents down to 100; generate at least 128 (the default is 140) for anything that
//   identifies something.
//
//   Content digest (types 96 SHA-512, 80 SHA3-512, plus 1..4 for compression):
//     TCDV = H(content_type ":" H(data)); compression from the trailing zero bits of TCDV;
//     binary = (type + compression) || TCDV.
//   Authenticator (type 0): HKDF-SHA512(IKM = key UDF text with dashes, salt "KeyedUDFMaster",
//     info "KeyedUDFExpand", 64 bytes) keys HMAC-SHA512 over content_type ":" SHA512(data).
//   Nonce (type 104): random bytes.
//   Message ids: EnvelopeId and ResponseId are content digests (content types
//     application/mmm/envelopeid and application/mmm/responseid) of a MessageId's value bytes
//     (its Base32 decoded, whole bytes only, without the type byte).
//
// THREAD SAFETY
//   Pure functions (nonces draw from OpenSSL's thread-safe DRBG); safe from any thread.
//
// ERRORS
//   kInvalidArgument for a precision out of range or text that is not a UDF.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/mesh/crypto.h"
#include "gateway/util/encoding.h"
#include "gateway/util/status.h"

namespace meshgate::mesh {

// Type bytes of the binary form.
enum class UdfType : uint8_t {
  kAuthenticatorSha512 = 0,
  kAuthenticatorSha3_512 = 1,
  kEncryptionKey = 32,
  kEncryptionSignatureKey = 33,
  kDigestSha3_512 = 80,  // + 1..4 when compressed
  kDigestSha512 = 96,    // + 1..4 when compressed
  kNonce = 104,
  kOid = 112,
  kShamirShare = 144,
  kKeySeed = 200,
};

enum class DigestAlgorithm { kSha512, kSha3_512 };

inline constexpr int kUdfMinBits = 100;
inline constexpr int kUdfRecommendedMinBits = 128;
inline constexpr int kUdfDefaultBits = 140;
inline constexpr int kUdfMaxBits = 440;
inline constexpr int kUdfMatchMinBits = 100;
inline constexpr int kUdfDefaultNonceBits = 128;

// Content types the Mesh uses for its own identifiers (literal names, not IANA types).
inline constexpr std::string_view kContentTypeKey = "PKIXKey";
inline constexpr std::string_view kContentTypeUdfList = "UdfList";
inline constexpr std::string_view kContentTypeEnvelopeId = "application/mmm/envelopeid";
inline constexpr std::string_view kContentTypeResponseId = "application/mmm/responseid";

// Compression level 0..4 from the number of trailing zero bits of a TCDV.
int udfCompression(ByteView tcdv);

// The full binary content digest UDF: (type + compression) || TCDV, 65 bytes.
Bytes contentDigestBinary(ByteView data, std::string_view content_type,
                          DigestAlgorithm alg = DigestAlgorithm::kSha512);
// The same from an already computed CDV = H(data) (for streamed input).
Bytes contentDigestBinaryFromCdv(ByteView cdv, std::string_view content_type,
                                 DigestAlgorithm alg = DigestAlgorithm::kSha512);

// Presentation of a binary UDF at `bits` precision (kUdfMinBits..kUdfMaxBits, and no more
// than the binary holds).
Result<std::string> presentUdf(ByteView binary, int bits = kUdfDefaultBits);

Result<std::string> contentDigestUdf(ByteView data, std::string_view content_type,
                                     DigestAlgorithm alg = DigestAlgorithm::kSha512,
                                     int bits = kUdfDefaultBits);

// `key` is a UDF (any case, with or without dashes); it is keyed in its canonical form.
Result<std::string> authenticatorUdf(ByteView data, std::string_view content_type,
                                     std::string_view key, int bits = kUdfDefaultBits);

// The same from SHA512(data), for streamed input.
Result<std::string> authenticatorUdfFromDigest(ByteView sha512_of_data,
                                               std::string_view content_type, std::string_view key,
                                               int bits = kUdfDefaultBits);

Result<std::string> nonceUdf(int bits = kUdfDefaultNonceBits);

struct MessageIds {
  std::string envelope_id;
  std::string response_id;
};
Result<MessageIds> messageIdsFor(std::string_view message_id, int bits = kUdfDefaultBits);

// The canonical presentation of UDF text: dashes and whitespace removed, upper case, a dash
// after every four characters. kInvalidArgument if a character is not Base32 or fewer than
// kUdfMatchMinBits remain.
Result<std::string> canonicalUdf(std::string_view text);

// The UDF text's characters without separators, upper case ("MDDK7N6A...").
Result<std::string> udfCharacters(std::string_view text);

// The whole bytes a UDF presentation holds (type byte first).
Result<Bytes> udfBinary(std::string_view text);

// Case-insensitive prefix match: true when the shorter of `a` and `b` (after removing
// separators) is a prefix of the longer and is at least `min_bits` long. Invalid text never
// matches.
bool udfMatches(std::string_view a, std::string_view b, int min_bits = kUdfMatchMinBits);

}  // namespace meshgate::mesh
