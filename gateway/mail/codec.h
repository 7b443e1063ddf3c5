// NAME
//   codec.h - content transfer decodings and charset conversion to UTF-8 for the mail parsers.
//
// SYNOPSIS
//   std::string bytes;
//   DecodeResult d = decodeBase64(encoded, &bytes, limit);      // d.size counts past the limit
//   std::string text;
//   ConvertResult c = convertToUtf8("windows-1252", bytes, &text, limit);
//
// DESCRIPTION
//   Lenient decoders in the manner of mail clients: what a client would show, the policy must
//   see. Base64 skips characters outside its alphabet and restarts after padding; quoted-
//   printable keeps a malformed "=" as it is. Both report such damage in DecodeResult::error
//   rather than failing.
//
//   convertToUtf8 uses ICU for any charset ICU knows. ISO-8859-1 and US-ASCII are read as
//   windows-1252, as browsers and mail clients do (WHATWG Encoding). Text with no charset or an
//   unknown one is read as UTF-8 when it is valid UTF-8 and as windows-1252 otherwise. The output
//   is always valid UTF-8 without NUL: bad sequences and NUL become U+FFFD.
//
//   Output limits count bytes of output; a truncated conversion stops at a character boundary.
//
// ERRORS
//   None: damage is reported in DecodeResult / ConvertResult, and output is always produced.
//
// THREAD SAFETY
//   All functions are safe to call concurrently. ICU converters are cached per thread (a pure
//   cache, reset before each use; it holds no per-message or per-connection state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meshgate::mail {

struct DecodeResult {
  uint64_t size = 0;       // decoded length, including bytes beyond max_out that were not stored
  bool error = false;      // characters that do not belong to the encoding were skipped or kept
  bool truncated = false;  // size > max_out
};

// Appends at most max_out decoded bytes to *out (out may be null: count only).
DecodeResult decodeBase64(std::string_view in, std::string* out, size_t max_out);
// RFC 2045 quoted-printable; with q_encoding, RFC 2047 "Q" ('_' is a space, no soft breaks).
DecodeResult decodeQuotedPrintable(std::string_view in, std::string* out, size_t max_out,
                                   bool q_encoding = false);

struct ConvertResult {
  bool known_charset = true;  // false: the charset was unknown and a fallback was used
  bool replaced = false;      // some input could not be converted and became U+FFFD
  bool truncated = false;     // output stopped at max_out
};

// Appends the UTF-8 form of bytes (in charset) to *out, at most max_out bytes.
ConvertResult convertToUtf8(std::string_view charset, std::string_view bytes, std::string* out,
                            size_t max_out);

// True if s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool isValidUtf8(std::string_view s);

// Decodes the code point at s[*pos] and advances *pos; an ill-formed sequence yields U+FFFD and
// advances by one byte (so every byte is looked at once: linear on any input).
char32_t nextCodePoint(std::string_view s, size_t* pos);
void appendUtf8(char32_t cp, std::string* out);

// Valid UTF-8 copy of s: ill-formed sequences and NUL become U+FFFD; at most max_bytes,
// whole characters only. Also what makes text from the network storable: PostgreSQL refuses
// invalid UTF-8 in a text column, and a refused audit record would tempfail the message on
// every retry.
std::string sanitizeUtf8(std::string_view s, size_t max_bytes = SIZE_MAX);

}  // namespace meshgate::mail
