// codec.cc - base64, quoted-printable, UTF-8 checks and ICU charset conversion.
#include "gateway/mail/codec.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "gateway/util/strings.h"

namespace meshgate::mail {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// -1: not in the alphabet; -2: padding.
constexpr std::array<int8_t, 256> makeBase64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  t[static_cast<unsigned char>('=')] = -2;
  return t;
}
constexpr std::array<int8_t, 256> kBase64 = makeBase64Table();

int hexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Appends one decoded byte, counting it even when the output is full.
struct ByteSink {
  std::string* out;
  size_t max_out;
  DecodeResult* result;
  void put(char c) {
    if (out != nullptr && result->size < max_out) out->push_back(c);
    ++result->size;
  }
};

// windows-1252 0x80..0x9F; the five holes map to the C1 controls as in WHATWG Encoding.
constexpr std::array<char16_t, 32> kCp1252High = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

size_t utf8Length(char32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// Appends cp unless that would pass max_out; false when the output is full.
bool appendBounded(char32_t cp, std::string* out, size_t max_out) {
  if (cp == 0) cp = kReplacement;
  if (out->size() + utf8Length(cp) > max_out) return false;
  appendUtf8(cp, out);
  return true;
}

ConvertResult convertCp1252(std::string_view bytes, std::string* out, size_t max_out) {
  ConvertResult r;
  for (unsigned char c : bytes) {
    char32_t cp = c < 0x80 ? c : c < 0xA0 ? kCp1252High[c - 0x80] : c;
    if (!appendBounded(cp, out, max_out)) {
      r.truncated = true;
      break;
    }
  }
  return r;
}

ConvertResult convertUtf8(std::string_view bytes, std::string* out, size_t max_out) {
  ConvertResult r;
  out->reserve(out->size() + std::min(bytes.size(), max_out - std::min(max_out, out->size())));
  size_t i = 0;
  while (i < bytes.size()) {
    size_t start = i;
    // Runs of ASCII other than NUL are copied as they are, in one append.
    while (i < bytes.size() && static_cast<unsigned char>(bytes[i]) < 0x80 && bytes[i] != 0) ++i;
    if (i > start) {
      size_t room = max_out - std::min(max_out, out->size());
      if (i - start > room) {
        out->append(bytes.data() + start, room);
        r.truncated = true;
        break;
      }
      out->append(bytes.data() + start, i - start);
      continue;
    }
    char32_t cp = nextCodePoint(bytes, &i);
    if (cp == kReplacement && !(i - start == 3 && bytes.compare(start, 3, "\xEF\xBF\xBD") == 0)) {
      r.replaced = true;
    }
    if (cp == 0) r.replaced = true;
    if (cp != 0 && cp != kReplacement && out->size() + (i - start) <= max_out) {
      out->append(bytes.data() + start, i - start);  // valid: copy the bytes as they are
      continue;
    }
    if (!appendBounded(cp, out, max_out)) {
      r.truncated = true;
      break;
    }
  }
  return r;
}

ConvertResult convertGuess(std::string_view bytes, std::string* out, size_t max_out) {
  return isValidUtf8(bytes) ? convertUtf8(bytes, out, max_out) : convertCp1252(bytes, out, max_out);
}

// Charset names come from the message: keep only what a charset name can contain, so that
// ICU's converter-name options (",swaplfnl", ",version=") cannot be reached from a message.
std::string normalizeCharsetName(std::string_view name) {
  name = trimWhitespace(name);
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = trimWhitespace(name.substr(1, name.size() - 2));
  }
  if (size_t star = name.find('*'); star != std::string_view::npos) name = name.substr(0, star);
  if (name.size() > 64) return "?";
  std::string lower = toLowerAscii(name);
  for (char c : lower) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':' || c == '+' || c == '(' || c == ')';
    if (!ok) return "?";
  }
  return lower;
}

enum class Route { kGuess, kUtf8, kCp1252, kIcu, kUnknown };

Route routeFor(const std::string& name, std::string* icu_name) {
  if (name.empty() || name == "us-ascii" || name == "ascii" || name == "ansi_x3.4-1968" ||
      name == "us" || name == "iso646-us" || name == "unknown-8bit" || name == "x-unknown" ||
      name == "unknown" || name == "default" || name == "8bit" || name == "7bit") {
    return Route::kGuess;
  }
  if (name == "utf-8" || name == "utf8" || name == "x-utf-8") return Route::kUtf8;
  if (name == "iso-8859-1" || name == "iso8859-1" || name == "iso_8859-1" || name == "latin1" ||
      name == "latin-1" || name == "l1" || name == "cp819" || name == "iso-ir-100" ||
      name == "windows-1252" || name == "cp1252" || name == "x-cp1252") {
    return Route::kCp1252;
  }
  if (name == "?") return Route::kUnknown;
  // Supersets that mail clients use in place of the declared charset (WHATWG Encoding).
  if (name == "gb2312" || name == "gbk" || name == "x-gbk" || name == "cp936") {
    *icu_name = "gb18030";
  } else if (name == "ks_c_5601-1987" || name == "euc-kr" || name == "ks_c_5601") {
    *icu_name = "windows-949";
  } else if (name == "shift_jis" || name == "shift-jis" || name == "sjis" || name == "x-sjis" ||
             name == "ms_kanji" || name == "cp932") {
    *icu_name = "windows-31j";
  } else if (name == "tis-620" || name == "iso-8859-11") {
    *icu_name = "windows-874";
  } else if (name == "iso-8859-9" || name == "latin5") {
    *icu_name = "windows-1254";
  } else {
    *icu_name = name;
  }
  return Route::kIcu;
}

// A few open converters per thread. ucnv_open itself is cheap-ish (ICU shares the tables) but
// resolves aliases and allocates; a mail stream uses a handful of charsets over and over.
class ConverterCache {
 public:
  ConverterCache() = default;
  ConverterCache(const ConverterCache&) = delete;
  ConverterCache& operator=(const ConverterCache&) = delete;
  ~ConverterCache() {
    for (auto& e : entries_) {
      if (e.converter != nullptr) ucnv_close(e.converter);
    }
  }

  // nullptr when ICU does not know the name.
  UConverter* get(const std::string& name) {
    for (auto& e : entries_) {
      if (e.converter != nullptr && e.name == name) {
        ucnv_reset(e.converter);
        return e.converter;
      }
    }
    UErrorCode status = U_ZERO_ERROR;
    UConverter* c = ucnv_open(name.c_str(), &status);
    if (U_FAILURE(status) || c == nullptr) return nullptr;
    Entry& slot = entries_[next_];
    next_ = (next_ + 1) % entries_.size();
    if (slot.converter != nullptr) ucnv_close(slot.converter);
    slot.name = name;
    slot.converter = c;
    return c;
  }

 private:
  struct Entry {
    std::string name;
    UConverter* converter = nullptr;
  };
  std::array<Entry, 8> entries_;
  size_t next_ = 0;
};

ConverterCache& converterCache() {
  thread_local ConverterCache cache;
  return cache;
}

struct CallbackFlag {
  bool replaced = false;
};

void U_CALLCONV substituteAndNote(const void* context, UConverterToUnicodeArgs* args,
                                  const char* code_units, int32_t length,
                                  UConverterCallbackReason reason, UErrorCode* err) {
  if (reason == UCNV_UNASSIGNED || reason == UCNV_ILLEGAL || reason == UCNV_IRREGULAR) {
    static_cast<CallbackFlag*>(const_cast<void*>(context))->replaced = true;
  }
  UCNV_TO_U_CALLBACK_SUBSTITUTE(nullptr, args, code_units, length, reason, err);
}

ConvertResult convertIcu(UConverter* cnv, std::string_view bytes, std::string* out,
                         size_t max_out) {
  ConvertResult r;
  CallbackFlag flag;
  UErrorCode status = U_ZERO_ERROR;
  ucnv_setToUCallBack(cnv, substituteAndNote, &flag, nullptr, nullptr, &status);
  if (U_FAILURE(status)) return convertGuess(bytes, out, max_out);

  std::array<UChar, 2048> buffer;
  const char* source = bytes.data();
  const char* source_limit = bytes.data() + bytes.size();
  char16_t pending_lead = 0;  // a lead surrogate at the end of one chunk
  bool full = false;
  for (;;) {
    UChar* target = buffer.data();
    status = U_ZERO_ERROR;
    ucnv_toUnicode(cnv, &target, buffer.data() + buffer.size(), &source, source_limit, nullptr,
                   /*flush=*/true, &status);
    for (const UChar* p = buffer.data(); p < target && !full; ++p) {
      char16_t u = *p;
      char32_t cp;
      if (pending_lead != 0 && u >= 0xDC00 && u <= 0xDFFF) {
        cp = 0x10000 + ((char32_t{pending_lead} - 0xD800) << 10) + (u - 0xDC00);
        pending_lead = 0;
      } else {
        if (pending_lead != 0) {  // a lead surrogate without its trail
          pending_lead = 0;
          r.replaced = true;
          if (!appendBounded(kReplacement, out, max_out)) {
            full = true;
            break;
          }
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
          pending_lead = u;
          continue;
        }
        if (u >= 0xDC00 && u <= 0xDFFF) {
          cp = kReplacement;
          r.replaced = true;
        } else {
          cp = u;
        }
      }
      if (cp == 0) r.replaced = true;
      if (!appendBounded(cp, out, max_out)) full = true;
    }
    if (full) {
      r.truncated = true;
      break;
    }
    if (status == U_BUFFER_OVERFLOW_ERROR) continue;
    if (U_FAILURE(status)) r.replaced = true;
    break;
  }
  if (pending_lead != 0 && !full) {
    r.replaced = true;
    if (!appendBounded(kReplacement, out, max_out)) r.truncated = true;
  }
  if (flag.replaced) r.replaced = true;
  return r;
}

}  // namespace

DecodeResult decodeBase64(std::string_view in, std::string* out, size_t max_out) {
  DecodeResult r;
  if (out != nullptr) out->reserve(out->size() + std::min(max_out, in.size() / 4 * 3 + 3));
  ByteSink sink{out, max_out, &r};
  uint32_t acc = 0;
  int have = 0;  // sextets in acc
  for (unsigned char c : in) {
    int v = kBase64[c];
    if (v >= 0) {
      acc = (acc << 6) | static_cast<uint32_t>(v);
      if (++have == 4) {
        sink.put(static_cast<char>((acc >> 16) & 0xFF));
        sink.put(static_cast<char>((acc >> 8) & 0xFF));
        sink.put(static_cast<char>(acc & 0xFF));
        acc = 0;
        have = 0;
      }
    } else if (v == -2) {
      // Padding ends a quantum. Some encoders concatenate padded blocks, so carry on after it.
      if (have == 2) {
        sink.put(static_cast<char>((acc >> 4) & 0xFF));
      } else if (have == 3) {
        sink.put(static_cast<char>((acc >> 10) & 0xFF));
        sink.put(static_cast<char>((acc >> 2) & 0xFF));
      } else if (have == 1) {
        r.error = true;
      }
      acc = 0;
      have = 0;
    } else if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
      r.error = true;
    }
  }
  if (have == 1) {
    r.error = true;
  } else if (have == 2) {  // unpadded tail, as many encoders produce
    sink.put(static_cast<char>((acc >> 4) & 0xFF));
  } else if (have == 3) {
    sink.put(static_cast<char>((acc >> 10) & 0xFF));
    sink.put(static_cast<char>((acc >> 2) & 0xFF));
  }
  r.truncated = r.size > max_out;
  return r;
}

DecodeResult decodeQuotedPrintable(std::string_view in, std::string* out, size_t max_out,
                                   bool q_encoding) {
  DecodeResult r;
  if (out != nullptr) out->reserve(out->size() + std::min(max_out, in.size()));
  ByteSink sink{out, max_out, &r};
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    char c = in[i];
    if (c == '_' && q_encoding) {
      sink.put(' ');
    } else if (c != '=') {
      sink.put(c);
    } else if (i + 2 < n && hexValue(static_cast<unsigned char>(in[i + 1])) >= 0 &&
               hexValue(static_cast<unsigned char>(in[i + 2])) >= 0) {
      sink.put(static_cast<char>(hexValue(static_cast<unsigned char>(in[i + 1])) * 16 +
                                 hexValue(static_cast<unsigned char>(in[i + 2]))));
      i += 2;
    } else if (!q_encoding) {
      // A soft line break: "=" then optional transport whitespace then the line end.
      size_t j = i + 1;
      while (j < n && isSpaceOrTab(in[j])) ++j;
      if (j < n && in[j] == '\r') ++j;
      if (j < n && in[j] == '\n') {
        i = j;
      } else if (j == n) {
        i = j;  // "=" at the very end: a soft break with the final newline already gone
      } else {
        r.error = true;
        sink.put('=');
      }
    } else {
      r.error = true;
      sink.put('=');
    }
  }
  r.truncated = r.size > max_out;
  return r;
}

ConvertResult convertToUtf8(std::string_view charset, std::string_view bytes, std::string* out,
                            size_t max_out) {
  std::string name = normalizeCharsetName(charset);
  std::string icu_name;
  switch (routeFor(name, &icu_name)) {
    case Route::kGuess:
      return convertGuess(bytes, out, max_out);
    case Route::kUtf8:
      return convertUtf8(bytes, out, max_out);
    case Route::kCp1252:
      return convertCp1252(bytes, out, max_out);
    case Route::kIcu:
      if (UConverter* cnv = converterCache().get(icu_name)) {
        return convertIcu(cnv, bytes, out, max_out);
      }
      break;
    case Route::kUnknown:
      break;
  }
  ConvertResult r = convertGuess(bytes, out, max_out);
  r.known_charset = false;
  return r;
}

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t start = i;
    char32_t cp = nextCodePoint(s, &i);
    if (cp == kReplacement && !(i - start == 3 && s.compare(start, 3, "\xEF\xBF\xBD") == 0)) {
      return false;
    }
  }
  return true;
}

char32_t nextCodePoint(std::string_view s, size_t* pos) {
  const size_t i = *pos;
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *pos = i + 1;
    return c;
  }
  size_t len;
  char32_t cp;
  char32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    *pos = i + 1;
    return kReplacement;
  }
  if (i + len > s.size()) {
    *pos = i + 1;
    return kReplacement;
  }
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *pos = i + 1;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *pos = i + 1;
    return kReplacement;
  }
  *pos = i + len;
  return cp;
}

void appendUtf8(char32_t cp, std::string* out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacement;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitizeUtf8(std::string_view s, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  convertUtf8(s, &out, max_bytes);
  return out;
}

}  // namespace meshgate::mail
