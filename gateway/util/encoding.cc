// encoding.cc - Base32, base64url and hex with lookup tables.
#include "gateway/util/encoding.h"

#include <array>

namespace meshgate {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kHexDigits[] = "0123456789abcdef";

// Reverse tables: value, or kInvalid; kSkip marks characters a decoder ignores.
constexpr uint8_t kInvalid = 0xFF;
constexpr uint8_t kSkip = 0xFE;

constexpr std::array<uint8_t, 256> makeBase32Table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 32; ++i) {
    auto c = static_cast<unsigned char>(kBase32Alphabet[i]);
    t[c] = static_cast<uint8_t>(i);
    if (c >= 'A' && c <= 'Z') t[c - 'A' + 'a'] = static_cast<uint8_t>(i);
  }
  for (unsigned char c : {'-', ' ', '\t', '\r', '\n'}) t[c] = kSkip;
  return t;
}

constexpr std::array<uint8_t, 256> makeBase64Table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kBase64UrlAlphabet[i])] = static_cast<uint8_t>(i);
  t[static_cast<unsigned char>('+')] = 62;
  t[static_cast<unsigned char>('/')] = 63;
  return t;
}

constexpr std::array<uint8_t, 256> makeHexTable() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<uint8_t>(10 + i);
    t['A' + i] = static_cast<uint8_t>(10 + i);
  }
  for (unsigned char c : {' ', '\t', '\r', '\n'}) t[c] = kSkip;
  return t;
}

constexpr auto kBase32Table = makeBase32Table();
constexpr auto kBase64Table = makeBase64Table();
constexpr auto kHexTable = makeHexTable();

Status badCharacter(const char* what, std::string_view text, size_t offset) {
  auto c = static_cast<unsigned char>(text[offset]);
  std::string shown = (c >= 0x21 && c < 0x7F) ? std::string("'") + static_cast<char>(c) + "'"
                                              : "byte 0x" + std::string(1, kHexDigits[c >> 4]) +
                                                    std::string(1, kHexDigits[c & 15]);
  return invalidArgument(std::string("invalid ") + what + " character " + shown + " at offset " +
                         std::to_string(offset));
}

}  // namespace

std::string base32Encode(ByteView data) {
  std::string out((data.size() * 8 + 4) / 5, '\0');
  char* o = out.data();
  size_t i = 0;
  const size_t n = data.size();
  // Five bytes make eight characters; the tail is handled bit by bit below.
  for (; i + 5 <= n; i += 5) {
    uint64_t v = (uint64_t{data[i]} << 32) | (uint64_t{data[i + 1]} << 24) |
                 (uint64_t{data[i + 2]} << 16) | (uint64_t{data[i + 3]} << 8) | data[i + 4];
    for (int k = 7; k >= 0; --k) *o++ = kBase32Alphabet[(v >> (k * 5)) & 31];
  }
  uint32_t buffer = 0;
  int bits = 0;
  for (; i < n; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      *o++ = kBase32Alphabet[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) *o++ = kBase32Alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

Result<Bytes> base32Decode(std::string_view text) {
  Bytes out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t v = kBase32Table[static_cast<unsigned char>(text[i])];
    if (v == kSkip) continue;
    if (v == kInvalid) return badCharacter("Base32", text, i);
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(buffer >> bits));
    }
  }
  return out;
}

std::string base64UrlEncode(ByteView data) {
  const size_t n = data.size();
  std::string out((n * 4 + 2) / 3, '\0');
  char* o = out.data();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    o[0] = kBase64UrlAlphabet[v >> 18];
    o[1] = kBase64UrlAlphabet[(v >> 12) & 63];
    o[2] = kBase64UrlAlphabet[(v >> 6) & 63];
    o[3] = kBase64UrlAlphabet[v & 63];
    o += 4;
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    o[0] = kBase64UrlAlphabet[v >> 18];
    o[1] = kBase64UrlAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    o[0] = kBase64UrlAlphabet[v >> 18];
    o[1] = kBase64UrlAlphabet[(v >> 12) & 63];
    o[2] = kBase64UrlAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<Bytes> base64UrlDecode(std::string_view text) {
  // Padding is optional, but when present it must be exactly what completes the last quantum.
  size_t len = text.size();
  size_t pad = 0;
  while (len > 0 && text[len - 1] == '=') {
    --len;
    ++pad;
  }
  if (pad > 0 && (pad > 2 || (len + pad) % 4 != 0)) {
    return invalidArgument("invalid base64 padding at offset " + std::to_string(len));
  }
  if (len % 4 == 1) return invalidArgument("invalid base64 length " + std::to_string(len));

  Bytes out(len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1));
  uint8_t* o = out.data();
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint8_t a = kBase64Table[static_cast<unsigned char>(text[i])];
    uint8_t b = kBase64Table[static_cast<unsigned char>(text[i + 1])];
    uint8_t c = kBase64Table[static_cast<unsigned char>(text[i + 2])];
    uint8_t d = kBase64Table[static_cast<unsigned char>(text[i + 3])];
    if ((a | b | c | d) & 0x80) {
      for (size_t k = i; k < i + 4; ++k) {
        if (kBase64Table[static_cast<unsigned char>(text[k])] == kInvalid) {
          return badCharacter("base64", text, k);
        }
      }
    }
    uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
    o += 3;
  }
  const size_t rest = len - i;
  if (rest > 0) {
    uint32_t v = 0;
    for (size_t k = 0; k < rest; ++k) {
      uint8_t x = kBase64Table[static_cast<unsigned char>(text[i + k])];
      if (x == kInvalid) return badCharacter("base64", text, i + k);
      v |= uint32_t{x} << (18 - 6 * k);
    }
    // Unused low bits must be zero, or two spellings would decode to the same bytes.
    uint32_t unused_mask = rest == 2 ? 0xFFFF : 0xFF;
    if (v & unused_mask) {
      return invalidArgument(
          "invalid base64: non-zero unused bits in the last character at offset " +
          std::to_string(len - 1));
    }
    o[0] = static_cast<uint8_t>(v >> 16);
    if (rest == 3) o[1] = static_cast<uint8_t>(v >> 8);
  }
  return out;
}

std::string hexEncode(ByteView data) {
  std::string out(data.size() * 2, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kHexDigits[data[i] >> 4];
    out[2 * i + 1] = kHexDigits[data[i] & 15];
  }
  return out;
}

Result<Bytes> hexDecode(std::string_view text) {
  Bytes out;
  out.reserve(text.size() / 2);
  int high = -1;
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t v = kHexTable[static_cast<unsigned char>(text[i])];
    if (v == kSkip) continue;
    if (v == kInvalid) return badCharacter("hex", text, i);
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>((high << 4) | v));
      high = -1;
    }
  }
  if (high >= 0) return invalidArgument("hex string has an odd number of digits");
  return out;
}

}  // namespace meshgate
