// text_scan.cc - see text_scan.h.
#include "gateway/policy/text_scan.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <climits>

#include "gateway/mail/codec.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

const UNormalizer2* nfkcCasefold() {
  static const UNormalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* n = unorm2_getNFKCCasefoldInstance(&status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

bool isAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool isAsciiWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

bool isWordCodePoint(UChar32 c) {
  if (u_isalnum(c)) return true;
  int8_t type = u_charType(c);
  return type == U_NON_SPACING_MARK || type == U_COMBINING_SPACING_MARK || type == U_ENCLOSING_MARK;
}

// Visits the words of s: fn(begin, end) byte offsets.
template <typename Fn>
void forEachWord(std::string_view s, Fn fn) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const int32_t n = static_cast<int32_t>(s.size());
  int32_t i = 0;
  int32_t start = -1;
  while (i < n) {
    int32_t at = i;
    bool word;
    if (p[i] < 0x80) {
      word = isAsciiWordByte(p[i]);
      ++i;
    } else {
      UChar32 c;
      U8_NEXT(p, i, n, c);
      word = c >= 0 && isWordCodePoint(c);
    }
    if (word) {
      if (start < 0) start = at;
    } else if (start >= 0) {
      fn(static_cast<size_t>(start), static_cast<size_t>(at));
      start = -1;
    }
  }
  if (start >= 0) fn(static_cast<size_t>(start), static_cast<size_t>(n));
}

}  // namespace

namespace {

// NFKC_Casefold of one piece of text through ICU ("" appended on failure is not possible:
// without ICU data the text is appended ASCII-lower-cased).
void icuFold(std::string_view piece, std::string* out) {
  const UNormalizer2* norm = nfkcCasefold();
  std::string clean = mail::sanitizeUtf8(piece);
  if (norm == nullptr || clean.size() > static_cast<size_t>(INT32_MAX / 4)) {
    out->append(toLowerAscii(clean));
    return;
  }
  std::u16string in(clean.size() + 1, u'\0');
  int32_t in_len = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8WithSub(in.data(), static_cast<int32_t>(in.size()), &in_len, clean.data(),
                       static_cast<int32_t>(clean.size()), 0xFFFD, nullptr, &status);
  if (U_FAILURE(status)) {
    out->append(toLowerAscii(clean));
    return;
  }
  // Case folding can grow text (ß -> ss, ligatures); retry once with the size ICU asks for.
  std::u16string folded(static_cast<size_t>(in_len) + 16, u'\0');
  int32_t folded_len = unorm2_normalize(norm, in.data(), in_len, folded.data(),
                                        static_cast<int32_t>(folded.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    folded.assign(static_cast<size_t>(folded_len), u'\0');
    folded_len = unorm2_normalize(norm, in.data(), in_len, folded.data(),
                                  static_cast<int32_t>(folded.size()), &status);
  }
  if (U_FAILURE(status)) {
    out->append(toLowerAscii(clean));
    return;
  }
  std::string utf8(static_cast<size_t>(folded_len) * 3 + 1, '\0');
  int32_t utf8_len = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8WithSub(utf8.data(), static_cast<int32_t>(utf8.size()), &utf8_len, folded.data(),
                     folded_len, 0xFFFD, nullptr, &status);
  if (U_FAILURE(status)) {
    out->append(toLowerAscii(clean));
    return;
  }
  out->append(utf8.data(), static_cast<size_t>(utf8_len));
}

// Folds a piece made of ASCII and Latin-1 letters without ICU: what NFKC_Casefold does to
// them is lower-casing (À -> à, Þ -> þ) and ß -> ss. False (with a partial output the caller
// drops) if the piece has anything else; ICU folds it then.
bool latinFoldComplete(std::string_view piece, std::string* out) {
  for (size_t i = 0; i < piece.size(); ++i) {
    const auto c = static_cast<unsigned char>(piece[i]);
    if (c < 0x80) {
      out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
      continue;
    }
    // C3 80..C3 BF is U+00C0..U+00FF.
    if (c != 0xC3 || i + 1 >= piece.size()) return false;
    const auto d = static_cast<unsigned char>(piece[++i]);
    if (d < 0x80 || d > 0xBF || d == 0x97 || d == 0xB7) return false;  // × ÷ are no letters
    if (d == 0x9F) {
      out->append("ss");  // ß
    } else {
      out->push_back(static_cast<char>(0xC3));
      out->push_back(static_cast<char>(d < 0xA0 ? d + 0x20 : d));  // À..Þ -> à..þ
    }
  }
  return true;
}

}  // namespace

std::string foldForMatching(std::string_view utf8) {
  if (isAscii(utf8)) return toLowerAscii(utf8);
  // Piece by piece, split at ASCII spaces and punctuation (where nothing composes): pieces of
  // ASCII and Latin-1 letters, the bulk of de/fr/es text, are folded here; ICU folds the rest.
  std::string out;
  out.reserve(utf8.size() + utf8.size() / 8);
  size_t start = 0;
  while (start < utf8.size()) {
    size_t end = start;
    bool plain = true;
    while (end < utf8.size()) {
      const auto c = static_cast<unsigned char>(utf8[end]);
      if (c < 0x80 && !isAsciiWordByte(c)) break;
      if (c >= 0x80) plain = false;
      ++end;
    }
    std::string_view piece = utf8.substr(start, end - start);
    if (plain) {
      for (char ch : piece) out.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
    } else {
      const size_t mark = out.size();
      if (!latinFoldComplete(piece, &out)) {
        out.resize(mark);
        icuFold(piece, &out);
      }
    }
    if (end < utf8.size()) out.push_back(utf8[end]);  // the ASCII separator
    start = end + 1;
  }
  return out;
}

std::string detectorText(std::string_view utf8) {
  if (isAscii(utf8)) return std::string(utf8);
  std::string out;
  out.reserve(utf8.size());
  size_t i = 0;
  while (i < utf8.size()) {
    const size_t start = i;
    const char32_t cp = mail::nextCodePoint(utf8, &i);
    if (cp == 0x00A0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F ||
        cp == 0x3000) {
      out.push_back(' ');
    } else if (cp == 0x00AD || (cp >= 0x200B && cp <= 0x200D) || (cp >= 0x2060 && cp <= 0x2064) ||
               cp == 0xFEFF) {
      // dropped
    } else if (cp >= 0xFF01 && cp <= 0xFF5E) {
      out.push_back(static_cast<char>(cp - 0xFF01 + 0x21));
    } else {
      out.append(utf8.substr(start, i - start));
    }
  }
  return out;
}

std::string foldForMatchingWithIcu(std::string_view utf8) {
  std::string out;
  icuFold(utf8, &out);
  return out;
}

void splitWords(std::string_view folded, std::vector<std::string_view>* words) {
  words->clear();
  forEachWord(folded, [&](size_t b, size_t e) { words->push_back(folded.substr(b, e - b)); });
}

bool containsWord(std::string_view folded, std::string_view word) {
  if (word.empty()) return false;
  for (size_t pos = folded.find(word); pos != std::string_view::npos;
       pos = folded.find(word, pos + 1)) {
    bool starts = pos == 0 || !isAsciiWordByte(static_cast<unsigned char>(folded[pos - 1]));
    size_t end = pos + word.size();
    bool ends = end == folded.size() || !isAsciiWordByte(static_cast<unsigned char>(folded[end]));
    if (starts && ends) return true;
  }
  return false;
}

namespace {
constexpr size_t kStartTableBits = size_t{1} << 16;
}  // namespace

PhraseMatcher::PhraseMatcher()
    : nodes_(1), start_words_(kStartTableBits, false), start_prefixes_(kStartTableBits, false) {}

size_t PhraseMatcher::prefixKey(std::string_view w) {
  const auto b0 = static_cast<unsigned char>(w[0]);
  const auto b1 = w.size() > 1 ? static_cast<unsigned char>(w[1]) : 0u;
  return (static_cast<size_t>(b0) << 8) | b1;
}

size_t PhraseMatcher::startKey(std::string_view w) {
  return (prefixKey(w) * 31 + std::min<size_t>(w.size(), 30)) % kStartTableBits;
}

bool PhraseMatcher::mayStart(std::string_view w) const {
  return start_words_[startKey(w)] || start_prefixes_[prefixKey(w)] ||
         (w.size() == 1 && !nodes_[0].prefixes.empty());
}

bool PhraseMatcher::add(std::string_view phrase, unsigned category) {
  if (category >= kMaxCategories) return false;
  bool prefix = !phrase.empty() && phrase.back() == '*';
  if (prefix) phrase.remove_suffix(1);
  std::string folded = foldForMatching(phrase);
  std::vector<std::string_view> words;
  splitWords(folded, &words);
  if (words.empty()) return false;
  const uint64_t bit = uint64_t{1} << category;
  // A one-letter prefix ("a*") has no second byte to index; mayStart lets one-letter words
  // through, and longer words are covered by every (first, any second) key.
  if (words.size() == 1 && prefix) {
    if (words[0].size() >= 2) {
      start_prefixes_[prefixKey(words[0])] = true;
    } else {
      for (size_t b1 = 0; b1 < 256; ++b1) {
        start_prefixes_[(static_cast<size_t>(static_cast<unsigned char>(words[0][0])) << 8) | b1] =
            true;
      }
    }
  } else {
    start_words_[startKey(words[0])] = true;
  }
  size_t node = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    const bool last = i + 1 == words.size();
    if (last && prefix) {
      for (auto& p : nodes_[node].prefixes) {
        if (p.prefix == words[i]) {
          p.categories |= bit;
          ++phrase_count_;
          return true;
        }
      }
      nodes_[node].prefixes.push_back({std::string(words[i]), bit});
      ++phrase_count_;
      return true;
    }
    auto it = nodes_[node].children.find(words[i]);
    if (it == nodes_[node].children.end()) {
      nodes_.emplace_back();  // may move nodes_: look the parent up again below
      size_t child = nodes_.size() - 1;
      nodes_[node].children.emplace(std::string(words[i]), child);
      node = child;
    } else {
      node = it->second;
    }
  }
  nodes_[node].categories |= bit;
  ++phrase_count_;
  return true;
}

uint64_t PhraseMatcher::scanWords(const std::vector<std::string_view>& words) const {
  uint64_t found = 0;
  const size_t n = words.size();
  for (size_t i = 0; i < n; ++i) {
    if (!mayStart(words[i])) continue;
    size_t node = 0;
    for (size_t j = i; j < n; ++j) {
      const Node& current = nodes_[node];
      const std::string_view w = words[j];
      for (const auto& p : current.prefixes) {
        if (w.size() >= p.prefix.size() && w[0] == p.prefix[0] &&
            w.compare(0, p.prefix.size(), p.prefix) == 0) {
          found |= p.categories;
        }
      }
      if (current.children.empty()) break;
      auto it = current.children.find(w);
      if (it == current.children.end()) break;
      node = it->second;
      found |= nodes_[node].categories;
    }
  }
  return found;
}

uint64_t PhraseMatcher::scan(std::string_view folded) const {
  std::vector<std::string_view> words;
  words.reserve(folded.size() / 5 + 1);
  splitWords(folded, &words);
  return scanWords(words);
}

}  // namespace meshgate::policy
