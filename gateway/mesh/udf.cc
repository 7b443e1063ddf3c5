// udf.cc - Uniform Data Fingerprints; see udf.h and MESH-FORMATS section 1.
#include "gateway/mesh/udf.h"

#include <algorithm>

namespace meshgate::mesh {
namespace {

HashAlgorithm hashOf(DigestAlgorithm alg) {
  return alg == DigestAlgorithm::kSha3_512 ? HashAlgorithm::kSha3_512 : HashAlgorithm::kSha512;
}

uint8_t baseType(DigestAlgorithm alg) {
  return static_cast<uint8_t>(alg == DigestAlgorithm::kSha3_512 ? UdfType::kDigestSha3_512
                                                                : UdfType::kDigestSha512);
}

Status checkBits(int bits) {
  if (bits < kUdfMinBits || bits > kUdfMaxBits) {
    return invalidArgument("UDF precision " + std::to_string(bits) + " bits is out of range (" +
                           std::to_string(kUdfMinBits) + ".." + std::to_string(kUdfMaxBits) + ")");
  }
  return Status();
}

std::string withDashes(std::string_view chars) {
  std::string out;
  out.reserve(chars.size() + chars.size() / 4);
  for (size_t i = 0; i < chars.size(); ++i) {
    if (i > 0 && i % 4 == 0) out += '-';
    out += chars[i];
  }
  return out;
}

// The bytes hashed in the second round: content_type ":" inner.
Bytes typed(std::string_view content_type, ByteView inner) {
  Bytes b;
  b.reserve(content_type.size() + 1 + inner.size());
  b.insert(b.end(), content_type.begin(), content_type.end());
  b.push_back(':');
  b.insert(b.end(), inner.begin(), inner.end());
  return b;
}

}  // namespace

int udfCompression(ByteView tcdv) {
  int zeros = 0;
  for (size_t i = tcdv.size(); i-- > 0;) {
    uint8_t b = tcdv[i];
    if (b == 0) {
      zeros += 8;
      continue;
    }
    while ((b & 1) == 0) {
      ++zeros;
      b >>= 1;
    }
    break;
  }
  if (zeros >= 50) return 4;
  if (zeros >= 40) return 3;
  if (zeros >= 30) return 2;
  if (zeros >= 20) return 1;
  return 0;
}

Bytes contentDigestBinaryFromCdv(ByteView cdv, std::string_view content_type, DigestAlgorithm alg) {
  Bytes tcdv = hash(hashOf(alg), typed(content_type, cdv));
  Bytes bin;
  bin.reserve(1 + tcdv.size());
  bin.push_back(static_cast<uint8_t>(baseType(alg) + udfCompression(tcdv)));
  bin.insert(bin.end(), tcdv.begin(), tcdv.end());
  return bin;
}

Bytes contentDigestBinary(ByteView data, std::string_view content_type, DigestAlgorithm alg) {
  return contentDigestBinaryFromCdv(hash(hashOf(alg), data), content_type, alg);
}

Result<std::string> presentUdf(ByteView binary, int bits) {
  MESHGATE_RETURN_IF_ERROR(checkBits(bits));
  // The characters are taken from enough bytes to fill every one of them. MESH-FORMATS reads
  // "ceil(bits/8) bytes", which is the same for every precision whose characters end on or
  // before a byte boundary (all multiples of 20 bits, so every published vector); for the
  // others (e.g. 128 bits = 26 characters = 130 bits) it would pad the last character with
  // zero bits and break "a shorter presentation is a prefix of a longer one".
  const size_t chars = static_cast<size_t>(bits + 4) / 5;
  const size_t bytes = (chars * 5 + 7) / 8;
  if (bytes > binary.size()) {
    return invalidArgument("UDF precision " + std::to_string(bits) + " bits needs " +
                           std::to_string(bytes) + " bytes; the value has " +
                           std::to_string(binary.size()));
  }
  std::string text = base32Encode(binary.first(bytes));
  text.resize(chars);
  return withDashes(text);
}

Result<std::string> contentDigestUdf(ByteView data, std::string_view content_type,
                                     DigestAlgorithm alg, int bits) {
  MESHGATE_RETURN_IF_ERROR(checkBits(bits));
  return presentUdf(contentDigestBinary(data, content_type, alg), bits);
}

Result<std::string> authenticatorUdf(ByteView data, std::string_view content_type,
                                     std::string_view key, int bits) {
  return authenticatorUdfFromDigest(sha512(data), content_type, key, bits);
}

Result<std::string> authenticatorUdfFromDigest(ByteView sha512_of_data,
                                               std::string_view content_type, std::string_view key,
                                               int bits) {
  MESHGATE_RETURN_IF_ERROR(checkBits(bits));
  if (sha512_of_data.size() != 64) return invalidArgument("expected a SHA-512 digest");
  auto canonical_key = canonicalUdf(key);
  if (!canonical_key.ok()) return canonical_key.status().withContext("authenticator key");
  MESHGATE_ASSIGN_OR_RETURN(
      Bytes okm, hkdf(HashAlgorithm::kSha512, asBytes(*canonical_key), asBytes("KeyedUDFMaster"),
                      asBytes("KeyedUDFExpand"), 64));
  MESHGATE_ASSIGN_OR_RETURN(Bytes mac,
                            hmac(HashAlgorithm::kSha512, okm, typed(content_type, sha512_of_data)));
  Bytes bin;
  bin.reserve(1 + mac.size());
  bin.push_back(static_cast<uint8_t>(UdfType::kAuthenticatorSha512));
  bin.insert(bin.end(), mac.begin(), mac.end());
  return presentUdf(bin, bits);
}

Result<std::string> nonceUdf(int bits) {
  MESHGATE_RETURN_IF_ERROR(checkBits(bits));
  // `bits` is the presentation precision, type byte included, as for every UDF.
  const size_t bytes = (static_cast<size_t>(bits + 4) / 5 * 5 + 7) / 8;
  MESHGATE_ASSIGN_OR_RETURN(Bytes random, randomBytes(bytes - 1));
  Bytes bin;
  bin.reserve(bytes);
  bin.push_back(static_cast<uint8_t>(UdfType::kNonce));
  bin.insert(bin.end(), random.begin(), random.end());
  return presentUdf(bin, bits);
}

Result<MessageIds> messageIdsFor(std::string_view message_id, int bits) {
  MESHGATE_RETURN_IF_ERROR(checkBits(bits));
  auto bin = udfBinary(message_id);
  if (!bin.ok()) return bin.status().withContext("MessageId");
  if (bin->empty() || (*bin)[0] != static_cast<uint8_t>(UdfType::kNonce)) {
    return invalidArgument("MessageId: not a nonce UDF (type 104, first character N)");
  }
  ByteView value = ByteView(*bin).subspan(1);
  MessageIds ids;
  MESHGATE_ASSIGN_OR_RETURN(ids.envelope_id, contentDigestUdf(value, kContentTypeEnvelopeId,
                                                              DigestAlgorithm::kSha512, bits));
  MESHGATE_ASSIGN_OR_RETURN(ids.response_id, contentDigestUdf(value, kContentTypeResponseId,
                                                              DigestAlgorithm::kSha512, bits));
  return ids;
}

Result<std::string> udfCharacters(std::string_view text) {
  std::string chars;
  chars.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) {
      return invalidArgument("not a UDF: invalid character at offset " + std::to_string(i));
    }
    chars += c;
  }
  if (chars.empty()) return invalidArgument("not a UDF: empty");
  return chars;
}

Result<std::string> canonicalUdf(std::string_view text) {
  MESHGATE_ASSIGN_OR_RETURN(std::string chars, udfCharacters(text));
  if (static_cast<int>(chars.size()) * 5 < kUdfMatchMinBits) {
    return invalidArgument("not a UDF: " + std::to_string(chars.size() * 5) +
                           " bits is shorter than the minimum " + std::to_string(kUdfMatchMinBits));
  }
  return withDashes(chars);
}

Result<Bytes> udfBinary(std::string_view text) {
  MESHGATE_ASSIGN_OR_RETURN(std::string chars, udfCharacters(text));
  return base32Decode(chars);
}

bool udfMatches(std::string_view a, std::string_view b, int min_bits) {
  auto ca = udfCharacters(a);
  auto cb = udfCharacters(b);
  if (!ca.ok() || !cb.ok()) return false;
  const std::string& shorter = ca->size() <= cb->size() ? *ca : *cb;
  const std::string& longer = ca->size() <= cb->size() ? *cb : *ca;
  if (static_cast<int>(shorter.size()) * 5 < std::max(min_bits, kUdfMatchMinBits)) return false;
  return longer.compare(0, shorter.size(), shorter) == 0;
}

}  // namespace meshgate::mesh
