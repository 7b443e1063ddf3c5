// NAME
//   encoding.h - byte strings and their text forms: Base32, base64url, hex.
//
// SYNOPSIS
//   Bytes b = toBytes("hello");
//   std::string t = base64UrlEncode(b);           // "aGVsbG8"
//   Result<Bytes> back = base64UrlDecode(t);
//
// DESCRIPTION
//   Bytes is the one byte-string type of the core. The encoders are table driven and allocate
//   once, because they sit on the hot path of UDF and DARE processing.
//
//   base32Encode: RFC 4648 alphabet (A-Z 2-7), upper case, no padding. base32Decode accepts
//   lower case and ignores '-' and whitespace (the UDF presentation); it returns every whole
//   byte the characters hold and drops the leftover bits of a final partial byte.
//
//   base64UrlEncode: RFC 4648 section 5, no padding. base64UrlDecode also accepts the standard
//   alphabet ('+', '/') and trailing '=' padding, as Mesh peers may send either; it rejects
//   anything else, including padding in the middle and non-zero unused bits in the last
//   character (so one byte string has exactly one accepted unpadded spelling per alphabet).
//
//   hexEncode: lower case. hexDecode accepts either case and ignores whitespace.
//
// THREAD SAFETY
//   Pure functions; safe from any thread.
//
// ERRORS
//   Decoders return kInvalidArgument naming the first offending character and its offset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/status.h"

namespace meshgate {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline Bytes toBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string toString(ByteView b) { return std::string(b.begin(), b.end()); }
inline ByteView asBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string base32Encode(ByteView data);
Result<Bytes> base32Decode(std::string_view text);

std::string base64UrlEncode(ByteView data);
Result<Bytes> base64UrlDecode(std::string_view text);

std::string hexEncode(ByteView data);
Result<Bytes> hexDecode(std::string_view text);

}  // namespace meshgate
