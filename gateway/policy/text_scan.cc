// text_scan.cc - see text_scan.h.
#include "gateway/policy/text_scan.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <climits>

#include "gateway/mail/codec.h"

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

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
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

std::string foldForMatching(std::string_view utf8) {
  if (isAscii(utf8)) return asciiLower(utf8);
  const UNormalizer2* norm = nfkcCasefold();
  std::string clean = mail::sanitizeUtf8(utf8);
  if (norm == nullptr || clean.size() > static_cast<size_t>(INT32_MAX / 4)) {
    return asciiLower(clean);  // no ICU data: ASCII case folding only
  }
  std::u16string in(clean.size() + 1, u'\0');
  int32_t in_len = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8WithSub(in.data(), static_cast<int32_t>(in.size()), &in_len, clean.data(),
                       static_cast<int32_t>(clean.size()), 0xFFFD, nullptr, &status);
  if (U_FAILURE(status)) return asciiLower(clean);
  // Case folding can grow text (ß -> ss, ligatures); retry once with the size ICU asks for.
  std::u16string out(static_cast<size_t>(in_len) + 16, u'\0');
  int32_t out_len = unorm2_normalize(norm, in.data(), in_len, out.data(),
                                     static_cast<int32_t>(out.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    out.assign(static_cast<size_t>(out_len), u'\0');
    out_len = unorm2_normalize(norm, in.data(), in_len, out.data(),
                               static_cast<int32_t>(out.size()), &status);
  }
  if (U_FAILURE(status)) return asciiLower(clean);
  std::string result(static_cast<size_t>(out_len) * 3 + 1, '\0');
  int32_t result_len = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8WithSub(result.data(), static_cast<int32_t>(result.size()), &result_len, out.data(),
                     out_len, 0xFFFD, nullptr, &status);
  if (U_FAILURE(status)) return asciiLower(clean);
  result.resize(static_cast<size_t>(result_len));
  return result;
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

PhraseMatcher::PhraseMatcher() : nodes_(1) {}

bool PhraseMatcher::add(std::string_view phrase, unsigned category) {
  if (category >= kMaxCategories) return false;
  bool prefix = !phrase.empty() && phrase.back() == '*';
  if (prefix) phrase.remove_suffix(1);
  std::string folded = foldForMatching(phrase);
  std::vector<std::string_view> words;
  splitWords(folded, &words);
  if (words.empty()) return false;
  const uint64_t bit = uint64_t{1} << category;
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
