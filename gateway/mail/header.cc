// header.cc - HeaderList, the header-section reader, unfolding, RFC 2047 and RFC 2231.
#include "gateway/mail/header.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>

#include "gateway/mail/codec.h"
#include "gateway/util/strings.h"

namespace meshgate::mail {
namespace {

// Postfix's is_header_buf(): the length of the name before ':' (trailing blanks allowed
// between name and colon), or 0 if the line is not a header field.
size_t headerNameLength(std::string_view line) {
  size_t len = 0;
  bool in_space = false;
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ':') return len;  // len includes the blanks before the colon; add() trims them
    if (isSpaceOrTab(static_cast<char>(c))) {
      if (len == 0) return 0;
      in_space = true;
      ++len;
      continue;
    }
    if (c == 0 || c >= 0x7F || c < 0x20 || in_space) return 0;
    ++len;
  }
  return 0;
}

std::string_view trimTrailingWsp(std::string_view s) {
  while (!s.empty() && isSpaceOrTab(s.back())) s.remove_suffix(1);
  return s;
}

struct EncodedWord {
  std::string_view charset;
  char encoding = 'B';
  std::string_view text;
};

// Parses "=?charset?E?text?=" at value[start]; *end is the offset after "?=".
bool parseEncodedWord(std::string_view value, size_t start, EncodedWord* word, size_t* end) {
  size_t i = start + 2;
  size_t charset_begin = i;
  while (i < value.size() && value[i] != '?') {
    char c = value[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || i - charset_begin > 75) return false;
    ++i;
  }
  if (i == charset_begin || i + 2 >= value.size()) return false;
  word->charset = value.substr(charset_begin, i - charset_begin);
  char enc = value[i + 1];
  if (value[i + 2] != '?') return false;
  if (enc == 'b' || enc == 'B') {
    word->encoding = 'B';
  } else if (enc == 'q' || enc == 'Q') {
    word->encoding = 'Q';
  } else {
    return false;
  }
  size_t text_begin = i + 3;
  size_t j = text_begin;
  // Encoded text has no '?' and no whitespace, so this scan stops at the next '?' at the
  // latest: over a whole value the candidates cost linear time.
  while (j < value.size() && value[j] != '?') {
    char c = value[j];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return false;
    ++j;
  }
  if (j + 1 >= value.size() || value[j + 1] != '=') return false;
  word->text = value.substr(text_begin, j - text_begin);
  *end = j + 2;
  return true;
}

bool allWsp(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return isSpaceOrTab(c); });
}

// Removes RFC 5322 comments "(...)" (nested, with quoted pairs) outside quoted strings.
std::string stripComments(std::string_view s) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (quoted || depth > 0)) {
      if (depth == 0) {
        out.push_back(c);
        out.push_back(s[i + 1]);
      }
      ++i;
      continue;
    }
    if (depth == 0 && c == '"') quoted = !quoted;
    if (!quoted && c == '(') {
      ++depth;
      continue;
    }
    if (!quoted && c == ')' && depth > 0) {
      --depth;
      continue;
    }
    if (depth == 0) out.push_back(c);
  }
  return out;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexDigit(s[i + 1]) >= 0 && hexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexDigit(s[i + 1]) * 16 + hexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct RawParam {
  std::string name;   // lower-cased, as written ("filename*1*")
  std::string value;  // unquoted
};

constexpr size_t kMaxParams = 64;
constexpr size_t kMaxContinuations = 128;

}  // namespace

HeaderList::HeaderList(const Limits& limits)
    : max_headers_(limits.max_headers),
      max_value_bytes_(limits.max_header_value_bytes),
      max_section_bytes_(limits.max_header_section_bytes),
      max_line_length_(limits.max_line_length) {}

bool HeaderList::add(std::string_view name, std::string_view value) {
  name = trimTrailingWsp(name);
  while (!value.empty() &&
         (isSpaceOrTab(value.front()) || value.front() == '\r' || value.front() == '\n')) {
    value.remove_prefix(1);
  }
  // Over-long lines and NULs are looked for in what was received, before any cut.
  size_t line = name.size() + 2;
  for (char c : value) {
    if (c == '\n') {
      line = 0;
    } else if (c != '\r' && ++line > max_line_length_) {
      anomalies_.add(Anomaly::kLongLine);
    }
  }
  if (line > max_line_length_) anomalies_.add(Anomaly::kLongLine);
  if (value.find('\0') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    anomalies_.add(Anomaly::kNulByte);
  }
  if (value.size() > max_value_bytes_) {
    value = value.substr(0, max_value_bytes_);
    anomalies_.add(Anomaly::kHeaderTruncated);
  }
  if (headers_.size() >= max_headers_ || bytes_ + name.size() + value.size() > max_section_bytes_) {
    anomalies_.add(Anomaly::kTooManyHeaders);
    return false;
  }
  bytes_ += name.size() + value.size();
  headers_.push_back(Header{std::string(name), std::string(value)});
  return true;
}

size_t HeaderList::count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(headers_.begin(), headers_.end(), [&](const Header& h) {
    return equalsIgnoreCase(h.name, name);
  }));
}

const std::string* HeaderList::find(std::string_view name) const {
  const Header* h = occurrence(name, 1);
  return h == nullptr ? nullptr : &h->value;
}

const Header* HeaderList::occurrence(std::string_view name, size_t index) const {
  std::optional<size_t> pos = positionOf(name, index);
  return pos ? &headers_[*pos] : nullptr;
}

std::optional<size_t> HeaderList::positionOf(std::string_view name, size_t index) const {
  if (index == 0) return std::nullopt;
  size_t seen = 0;
  for (size_t i = 0; i < headers_.size(); ++i) {
    if (equalsIgnoreCase(headers_[i].name, name) && ++seen == index) return i;
  }
  return std::nullopt;
}

std::vector<const Header*> HeaderList::all(std::string_view name) const {
  std::vector<const Header*> out;
  for (const Header& h : headers_) {
    if (equalsIgnoreCase(h.name, name)) out.push_back(&h);
  }
  return out;
}

std::vector<size_t> HeaderList::deletionIndexes(std::string_view name) const {
  std::vector<size_t> out;
  for (size_t i = count(name); i >= 1; --i) out.push_back(i);
  return out;
}

bool isHeaderFieldLine(std::string_view line) { return headerNameLength(line) > 0; }

size_t readHeaderSection(std::string_view message, HeaderList* headers) {
  size_t pos = 0;
  if (message.substr(0, 5) == "From ") {  // mbox separator line
    size_t eol = message.find('\n');
    pos = eol == std::string_view::npos ? message.size() : eol + 1;
  }
  bool pending = false;
  size_t name_begin = 0;
  size_t name_len = 0;
  size_t value_begin = 0;
  size_t value_end = 0;
  auto commit = [&] {
    if (!pending) return;
    headers->add(message.substr(name_begin, name_len),
                 message.substr(value_begin, value_end - value_begin));
    pending = false;
  };
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    size_t line_end = eol == std::string_view::npos ? message.size() : eol;
    size_t next = eol == std::string_view::npos ? message.size() : eol + 1;
    size_t content_end = line_end;
    if (content_end > pos && message[content_end - 1] == '\r') --content_end;
    if (content_end == pos) {  // the empty line that ends the section
      commit();
      return next;
    }
    if (isSpaceOrTab(message[pos])) {
      if (!pending) {
        headers->noteAnomaly(Anomaly::kMalformedHeader);
        return pos;
      }
      value_end = content_end;
      pos = next;
      continue;
    }
    size_t len = headerNameLength(message.substr(pos, content_end - pos));
    if (len == 0) {
      commit();
      headers->noteAnomaly(Anomaly::kMalformedHeader);
      return pos;
    }
    commit();
    pending = true;
    name_begin = pos;
    name_len = len;
    value_begin = pos + len + 1;
    value_end = content_end;
    pos = next;
  }
  commit();
  return message.size();
}

std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  const size_t n = value.size();
  for (size_t i = 0; i < n; ++i) {
    char c = value[i];
    if (c != '\r' && c != '\n') {
      out.push_back(c);
      continue;
    }
    size_t j = i;
    if (value[j] == '\r') ++j;
    if (j < n && value[j] == '\n') ++j;
    if (j == i) ++j;
    if (j >= n || !isSpaceOrTab(value[j])) out.push_back(' ');
    i = j - 1;
  }
  return out;
}

std::string decodeEncodedWords(std::string_view raw_value, bool* malformed) {
  const std::string value = unfold(raw_value);
  const std::string_view v = value;
  const char* raw_charset = isValidUtf8(v) ? "utf-8" : "windows-1252";
  std::string out;
  out.reserve(v.size());
  std::string pending_charset;
  std::string pending_bytes;
  bool have_pending = false;
  auto flush = [&] {
    if (!have_pending) return;
    ConvertResult r = convertToUtf8(pending_charset, pending_bytes, &out, SIZE_MAX);
    if (!r.known_charset && malformed != nullptr) *malformed = true;
    have_pending = false;
    pending_bytes.clear();
  };
  auto literal = [&](std::string_view text) {
    if (text.empty()) return;
    flush();
    convertToUtf8(raw_charset, text, &out, SIZE_MAX);
  };
  size_t pos = 0;
  size_t literal_start = 0;
  bool last_was_word = false;
  while (pos < v.size()) {
    size_t start = v.find("=?", pos);
    if (start == std::string_view::npos) break;
    EncodedWord word;
    size_t end = 0;
    if (!parseEncodedWord(v, start, &word, &end)) {
      pos = start + 1;
      continue;
    }
    std::string_view gap = v.substr(literal_start, start - literal_start);
    if (!(last_was_word && allWsp(gap))) literal(gap);
    std::string bytes;
    DecodeResult d = word.encoding == 'B'
                         ? decodeBase64(word.text, &bytes, SIZE_MAX)
                         : decodeQuotedPrintable(word.text, &bytes, SIZE_MAX, /*q_encoding=*/true);
    if (d.error && malformed != nullptr) *malformed = true;
    std::string charset = toLowerAscii(word.charset);
    if (have_pending && pending_charset == charset) {
      pending_bytes += bytes;
    } else {
      flush();
      pending_charset = std::move(charset);
      pending_bytes = std::move(bytes);
      have_pending = true;
    }
    last_was_word = true;
    literal_start = pos = end;
  }
  literal(v.substr(literal_start));
  flush();
  return out;
}

const std::string* StructuredField::param(std::string_view name) const {
  for (const auto& [n, v] : params) {
    if (n == name) return &v;
  }
  return nullptr;
}

StructuredField parseStructuredField(std::string_view raw) {
  StructuredField field;
  const std::string text = stripComments(unfold(raw));
  const std::string_view s = text;
  size_t i = 0;
  // The main value runs to the first ';'.
  size_t semi = s.find(';');
  field.value = toLowerAscii(trimWhitespace(s.substr(0, semi)));
  i = semi == std::string_view::npos ? s.size() : semi + 1;

  std::vector<RawParam> raw_params;
  while (i < s.size()) {
    while (i < s.size() && (isSpaceOrTab(s[i]) || s[i] == ';')) ++i;
    if (i >= s.size()) break;
    size_t name_begin = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';') ++i;
    std::string name = toLowerAscii(trimWhitespace(s.substr(name_begin, i - name_begin)));
    if (i >= s.size() || s[i] == ';') {  // a name without a value
      field.malformed = true;
      continue;
    }
    ++i;  // '='
    while (i < s.size() && isSpaceOrTab(s[i])) ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value.push_back(s[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) field.malformed = true;
      while (i < s.size() && s[i] != ';') {
        if (!isSpaceOrTab(s[i])) field.malformed = true;
        ++i;
      }
    } else {
      size_t value_begin = i;
      while (i < s.size() && s[i] != ';') ++i;
      value = std::string(trimWhitespace(s.substr(value_begin, i - value_begin)));
    }
    if (name.empty()) {
      field.malformed = true;
      continue;
    }
    if (raw_params.size() >= kMaxParams) {
      field.malformed = true;
      break;
    }
    raw_params.push_back(RawParam{std::move(name), std::move(value)});
  }

  // Group RFC 2231 forms by base name, keeping the order in which base names first appear.
  struct Pieces {
    std::string plain;
    bool has_plain = false;
    std::map<size_t, std::pair<bool, std::string>> segments;  // index -> (extended, value)
  };
  std::vector<std::string> order;
  std::map<std::string, Pieces> by_name;
  for (RawParam& p : raw_params) {
    std::string base = p.name;
    bool extended = false;
    std::optional<size_t> index;
    if (size_t star = base.find('*'); star != std::string::npos) {
      std::string_view rest = std::string_view(base).substr(star + 1);
      if (!rest.empty() && rest.back() == '*') {
        extended = true;
        rest.remove_suffix(1);
      } else if (rest.empty()) {
        extended = true;
      }
      if (!rest.empty()) {
        size_t n = 0;
        bool digits = rest.size() <= 4;
        for (char c : rest) {
          if (c < '0' || c > '9') {
            digits = false;
            break;
          }
          n = n * 10 + static_cast<size_t>(c - '0');
        }
        if (!digits) {
          field.malformed = true;
          continue;
        }
        index = n;
      } else {
        index = 0;
      }
      base = base.substr(0, star);
    }
    if (by_name.find(base) == by_name.end()) order.push_back(base);
    Pieces& pieces = by_name[base];
    if (!index) {
      if (!pieces.has_plain) {
        pieces.plain = std::move(p.value);
        pieces.has_plain = true;
      }
    } else if (*index < kMaxContinuations) {
      pieces.segments.emplace(*index, std::make_pair(extended, std::move(p.value)));
    } else {
      field.malformed = true;
    }
  }
  for (const std::string& name : order) {
    Pieces& pieces = by_name[name];
    if (!pieces.segments.empty()) {
      // RFC 2231 wins over a plain parameter of the same name (clients send both).
      std::string charset;
      std::string bytes;
      size_t expected = 0;
      for (auto& [index, seg] : pieces.segments) {
        if (index != expected) {  // a gap ends the value (RFC 2231 section 3)
          field.malformed = true;
          break;
        }
        ++expected;
        auto& [extended, value] = seg;
        std::string_view v = value;
        if (extended && index == 0) {
          size_t q1 = v.find('\'');
          size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
          if (q2 != std::string_view::npos) {
            charset = std::string(v.substr(0, q1));
            v = v.substr(q2 + 1);
          } else {
            field.malformed = true;
          }
        }
        bytes += extended ? percentDecode(v) : std::string(v);
      }
      std::string decoded;
      ConvertResult r = convertToUtf8(charset, bytes, &decoded, SIZE_MAX);
      if (!r.known_charset) field.malformed = true;
      field.params.emplace_back(name, std::move(decoded));
    } else {
      bool bad = false;
      field.params.emplace_back(name, decodeEncodedWords(pieces.plain, &bad));
      if (bad) field.malformed = true;
    }
  }
  return field;
}

}  // namespace meshgate::mail
