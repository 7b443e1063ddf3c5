// lookalike.cc - confusable keys, edit distance, lookalike domains and display names.
#include "gateway/mail/lookalike.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <vector>

#include "gateway/mail/address.h"
#include "gateway/mail/codec.h"
#include "gateway/util/strings.h"

namespace meshgate::mail {
namespace {

constexpr size_t kMaxInputBytes = 1024;
constexpr size_t kMaxDistanceCodePoints = 256;

const USpoofChecker* spoofChecker() {
  static const USpoofChecker* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker* sc = uspoof_open(&status);
    return U_SUCCESS(status) ? sc : nullptr;
  }();
  return instance;
}

const UNormalizer2* nfkcCasefold() {
  static const UNormalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* n = unorm2_getNFKCCasefoldInstance(&status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

// Cuts s to at most max bytes at a code point boundary, after repairing it.
std::string boundedUtf8(std::string_view s, size_t max) {
  std::string clean = sanitizeUtf8(s.substr(0, max + 4));
  if (clean.size() <= max) return clean;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) --cut;
  clean.resize(cut);
  return clean;
}

std::u16string toUtf16(std::string_view utf8) {
  std::u16string out(utf8.size() + 1, u'\0');
  int32_t len = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8WithSub(out.data(), static_cast<int32_t>(out.size()), &len, utf8.data(),
                       static_cast<int32_t>(utf8.size()), 0xFFFD, nullptr, &status);
  if (U_FAILURE(status)) return u"";
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string toUtf8(const std::u16string& s) {
  std::string out(s.size() * 3 + 1, '\0');
  int32_t len = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strToUTF8WithSub(out.data(), static_cast<int32_t>(out.size()), &len, s.data(),
                     static_cast<int32_t>(s.size()), 0xFFFD, nullptr, &status);
  if (U_FAILURE(status)) return "";
  out.resize(static_cast<size_t>(len));
  return out;
}

std::u16string fold(const std::u16string& s) {
  const UNormalizer2* n = nfkcCasefold();
  if (n == nullptr || s.empty()) return s;
  UErrorCode status = U_ZERO_ERROR;
  int32_t len = unorm2_normalize(n, s.data(), static_cast<int32_t>(s.size()), nullptr, 0, &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return s;
  std::u16string out(static_cast<size_t>(len), u'\0');
  status = U_ZERO_ERROR;
  unorm2_normalize(n, s.data(), static_cast<int32_t>(s.size()), out.data(), len, &status);
  return U_SUCCESS(status) ? out : s;
}

std::u16string skeleton(const std::u16string& s) {
  const USpoofChecker* sc = spoofChecker();
  if (sc == nullptr || s.empty()) return s;
  UErrorCode status = U_ZERO_ERROR;
  int32_t len =
      uspoof_getSkeleton(sc, 0, s.data(), static_cast<int32_t>(s.size()), nullptr, 0, &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return s;
  std::u16string out(static_cast<size_t>(len), u'\0');
  status = U_ZERO_ERROR;
  uspoof_getSkeleton(sc, 0, s.data(), static_cast<int32_t>(s.size()), out.data(), len, &status);
  return U_SUCCESS(status) ? out : s;
}

std::u16string keyOf(const std::u16string& s) { return fold(skeleton(fold(s))); }

std::vector<char32_t> codePoints(std::string_view s) {
  std::vector<char32_t> out;
  size_t i = 0;
  while (i < s.size() && out.size() <= kMaxDistanceCodePoints) out.push_back(nextCodePoint(s, &i));
  return out;
}

size_t codePointCount(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool isSubdomainOf(std::string_view a, std::string_view b) {
  return a.size() > b.size() && a.compare(a.size() - b.size(), b.size(), b) == 0 &&
         a[a.size() - b.size() - 1] == '.';
}

// Drops the labels a and b end with in common, keeping at least one label of each.
void stripCommonSuffix(std::string_view* a, std::string_view* b) {
  for (;;) {
    size_t da = a->rfind('.');
    size_t db = b->rfind('.');
    if (da == std::string_view::npos || db == std::string_view::npos) return;
    if (a->substr(da) != b->substr(db)) return;
    *a = a->substr(0, da);
    *b = b->substr(0, db);
  }
}

bool withinDistance(std::string_view a, std::string_view b, const LookalikeOptions& options) {
  stripCommonSuffix(&a, &b);
  size_t shorter = std::min(codePointCount(a), codePointCount(b));
  size_t allowed = std::min(options.max_edit_distance, options.min_chars_per_edit == 0
                                                           ? options.max_edit_distance
                                                           : shorter / options.min_chars_per_edit);
  if (allowed == 0) return false;
  return editDistance(a, b, allowed) <= allowed;
}

size_t labelCount(std::string_view d) {
  return static_cast<size_t>(std::count(d.begin(), d.end(), '.')) + 1;
}

// The last n labels of d ("secure.paypa1.com", 2 -> "paypa1.com").
std::string_view lastLabels(std::string_view d, size_t n) {
  size_t start = d.size();
  for (size_t i = 0; i < n; ++i) {
    if (start == 0) return d;
    const size_t dot = d.rfind('.', start - 1);
    if (dot == std::string_view::npos) return d;
    start = dot;
  }
  return d.substr(start + 1);
}

// True if the labels of inner (two or more) appear in outer followed by further labels.
bool containsLabels(std::string_view outer, std::string_view inner) {
  if (inner.find('.') == std::string_view::npos || outer.size() <= inner.size()) return false;
  for (size_t pos = outer.find(inner); pos != std::string_view::npos;
       pos = outer.find(inner, pos + 1)) {
    bool starts = pos == 0 || outer[pos - 1] == '.' || outer[pos - 1] == '-';
    size_t end = pos + inner.size();
    bool followed = end < outer.size() && (outer[end] == '.' || outer[end] == '-');
    if (starts && followed) return true;
  }
  return false;
}

bool isWordChar(UChar32 c) {
  if (u_isalnum(c)) return true;
  int8_t type = u_charType(c);
  return type == U_NON_SPACING_MARK || type == U_COMBINING_SPACING_MARK || type == U_ENCLOSING_MARK;
}

// Letters, digits and marks kept; every other run becomes one space; trimmed.
std::u16string wordsOnly(const std::u16string& s) {
  std::u16string out;
  bool space = false;
  for (size_t i = 0; i < s.size();) {
    UChar32 c;
    U16_NEXT(s.data(), i, s.size(), c);
    if (isWordChar(c)) {
      if (space && !out.empty()) out.push_back(u' ');
      space = false;
      if (c > 0xFFFF) {
        out.push_back(U16_LEAD(c));
        out.push_back(U16_TRAIL(c));
      } else {
        out.push_back(static_cast<char16_t>(c));
      }
    } else {
      space = true;
    }
  }
  return out;
}

}  // namespace

std::string confusableSkeleton(std::string_view utf8) {
  return toUtf8(skeleton(toUtf16(boundedUtf8(utf8, kMaxInputBytes))));
}

std::string confusableKey(std::string_view utf8) {
  return toUtf8(keyOf(toUtf16(boundedUtf8(utf8, kMaxInputBytes))));
}

size_t editDistance(std::string_view a_text, std::string_view b_text, size_t max) {
  if (a_text == b_text) return 0;
  std::vector<char32_t> a = codePoints(a_text);
  std::vector<char32_t> b = codePoints(b_text);
  const size_t n = a.size();
  const size_t m = b.size();
  const size_t inf = max + 1;
  if ((n > m ? n - m : m - n) > max) return inf;
  // Three rows of the OSA matrix; only cells within max of the diagonal are computed.
  std::vector<size_t> prev2(m + 1, inf), prev(m + 1, inf), cur(m + 1, inf);
  for (size_t j = 0; j <= m && j <= max; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    std::fill(cur.begin(), cur.end(), inf);
    if (i <= max) cur[0] = i;
    size_t lo = i > max ? i - max : 1;
    size_t hi = std::min(m, i + max);
    size_t row_min = cur[0];
    for (size_t j = lo; j <= hi; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        v = std::min(v, prev2[j - 2] + 1);
      }
      cur[j] = std::min(v, inf);
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > max) return inf;
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return std::min(prev[m], inf);
}

LookalikeDomain LookalikeDomain::make(std::string_view domain) {
  LookalikeDomain d;
  std::string bounded = boundedUtf8(trimWhitespace(domain), kMaxInputBytes);
  Result<Domain> normalized = normalizeDomain(bounded);
  if (normalized.ok()) {
    d.ascii_ = normalized->ascii;
    d.unicode_ = normalized->unicode;
    d.valid_ = true;
  } else {
    d.ascii_ = toLowerAscii(bounded);
    if (!d.ascii_.empty() && d.ascii_.back() == '.') d.ascii_.pop_back();
    d.unicode_ = d.ascii_;
  }
  d.key_ = toUtf8(keyOf(toUtf16(d.unicode_)));
  return d;
}

namespace {

// Labels in front of a lookalike cost its owner nothing ("secure.paypa1.com" for paypal.com):
// the part of `longer` with as many labels as `other` is compared as well. (When that part is
// `other` itself, `longer` is a real subdomain, which looksLike rules out first.)
bool tailLooksLike(const LookalikeDomain& longer, const LookalikeDomain& other,
                   const LookalikeOptions& options) {
  const size_t n = labelCount(other.key());
  if (labelCount(longer.key()) <= n || labelCount(longer.unicode()) <= n) return false;
  if (lastLabels(longer.ascii(), n) == other.ascii()) return false;
  const std::string_view key = lastLabels(longer.key(), n);
  return key == other.key() || withinDistance(key, other.key(), options) ||
         withinDistance(lastLabels(longer.unicode(), n), other.unicode(), options);
}

}  // namespace

bool looksLike(const LookalikeDomain& a, const LookalikeDomain& b,
               const LookalikeOptions& options) {
  if (a.ascii().empty() || b.ascii().empty() || a.ascii() == b.ascii()) return false;
  if (isSubdomainOf(a.ascii(), b.ascii()) || isSubdomainOf(b.ascii(), a.ascii())) return false;
  if (a.key() == b.key()) return true;
  if (withinDistance(a.key(), b.key(), options)) return true;
  if (withinDistance(a.unicode(), b.unicode(), options)) return true;
  if (options.embedded_domain_is_lookalike &&
      (containsLabels(a.key(), b.key()) || containsLabels(b.key(), a.key()))) {
    return true;
  }
  return tailLooksLike(a, b, options) || tailLooksLike(b, a, options);
}

bool looksLike(std::string_view domain_a, std::string_view domain_b,
               const LookalikeOptions& options) {
  return looksLike(LookalikeDomain::make(domain_a), LookalikeDomain::make(domain_b), options);
}

std::string displayNameKey(std::string_view display_name) {
  std::string name = boundedUtf8(display_name, kMaxInputBytes);
  // "Doe, John" is how directories (and Outlook) write "John Doe".
  if (size_t comma = name.find(',');
      comma != std::string::npos && name.find(',', comma + 1) == std::string::npos) {
    std::string_view last = trimWhitespace(std::string_view(name).substr(0, comma));
    std::string_view first = trimWhitespace(std::string_view(name).substr(comma + 1));
    if (!last.empty() && !first.empty()) name = std::string(first) + " " + std::string(last);
  }
  // Characters that show as a blank but that case folding deletes (Hangul fillers, the
  // Braille blank) separate words: "Alice<U+3164>Example" is shown as "Alice Example".
  std::u16string text = toUtf16(name);
  for (char16_t& c : text) {
    if (c == 0x115F || c == 0x1160 || c == 0x3164 || c == 0xFFA0 || c == 0x2800) c = u' ';
  }
  std::u16string words = wordsOnly(fold(text));
  return toUtf8(wordsOnly(keyOf(words)));
}

bool sameDisplayName(std::string_view a, std::string_view b) {
  std::string ka = displayNameKey(a);
  return !ka.empty() && ka == displayNameKey(b);
}

}  // namespace meshgate::mail
