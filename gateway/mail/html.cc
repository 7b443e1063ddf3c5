// html.cc - tag stripping and character references for text matching.
#include "gateway/mail/html.h"

#include <array>
#include <utility>

#include "gateway/mail/codec.h"
#include "gateway/util/strings.h"

namespace meshgate::mail {
namespace {

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

constexpr std::array<std::pair<std::string_view, char32_t>, 36> kEntities = {{
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},      {"apos", '\''},
    {"nbsp", ' '},     {"shy", 0xAD},     {"copy", 0xA9},    {"reg", 0xAE},      {"trade", 0x2122},
    {"euro", 0x20AC},  {"pound", 0xA3},   {"yen", 0xA5},     {"cent", 0xA2},     {"sect", 0xA7},
    {"deg", 0xB0},     {"middot", 0xB7},  {"bull", 0x2022},  {"hellip", 0x2026}, {"ndash", 0x2013},
    {"mdash", 0x2014}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},  {"rdquo", 0x201D},
    {"laquo", 0xAB},   {"raquo", 0xBB},   {"times", 0xD7},   {"divide", 0xF7},   {"zwj", 0x200D},
    {"zwnj", 0x200C},  {"auml", 0xE4},    {"ouml", 0xF6},    {"uuml", 0xFC},     {"szlig", 0xDF},
    {"eacute", 0xE9},
}};

bool isBlock(std::string_view name) {
  static constexpr std::array<std::string_view, 30> kBlocks = {
      "p",    "div",     "br",      "li",     "tr",      "h1",  "h2",         "h3",
      "h4",   "h5",      "h6",      "table",  "ul",      "ol",  "blockquote", "pre",
      "hr",   "section", "article", "header", "footer",  "dt",  "dd",         "address",
      "form", "center",  "tbody",   "thead",  "caption", "body"};
  for (std::string_view b : kBlocks) {
    if (b == name) return true;
  }
  return false;
}

bool isRawContent(std::string_view name) {
  return name == "script" || name == "style" || name == "title" || name == "template" ||
         name == "noscript" || name == "xmp";
}

class TextWriter {
 public:
  explicit TextWriter(size_t max_out) : max_out_(max_out) {}
  bool full() const { return full_; }
  void space() {
    if (!out_.empty() && out_.back() != '\n') pending_space_ = true;
  }
  void newline() {
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    pending_space_ = false;
    size_t n = out_.size();
    if (n == 0 || (n >= 2 && out_[n - 1] == '\n' && out_[n - 2] == '\n')) return;
    put("\n");
  }
  void text(std::string_view s) {
    if (pending_space_) {
      pending_space_ = false;
      put(" ");
    }
    put(s);
  }
  void codePoint(char32_t cp) {
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0) {
      space();
      return;
    }
    if (cp == 0 || cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) cp = 0xFFFD;
    std::string buf;
    appendUtf8(cp, &buf);
    text(buf);
  }
  std::string take() {
    while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\n')) out_.pop_back();
    return std::move(out_);
  }

 private:
  void put(std::string_view s) {
    if (full_) return;
    if (out_.size() + s.size() > max_out_) {
      full_ = true;
      return;
    }
    out_ += s;
  }
  std::string out_;
  size_t max_out_;
  bool pending_space_ = false;
  bool full_ = false;
};

// Decodes a character reference at html[i] == '&'; returns the bytes consumed (0: not one).
size_t decodeReference(std::string_view html, size_t i, char32_t* cp) {
  size_t j = i + 1;
  if (j < html.size() && html[j] == '#') {
    ++j;
    bool hex = j < html.size() && (html[j] == 'x' || html[j] == 'X');
    if (hex) ++j;
    size_t start = j;
    uint64_t v = 0;
    while (j < html.size() && j - start < 8) {
      char c = html[j];
      int d = (c >= '0' && c <= '9')          ? c - '0'
              : (hex && c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (hex && c >= 'A' && c <= 'F') ? c - 'A' + 10
                                              : -1;
      if (d < 0) break;
      v = v * (hex ? 16 : 10) + static_cast<uint64_t>(d);
      ++j;
    }
    if (j == start) return 0;
    if (j < html.size() && html[j] == ';') ++j;
    *cp = (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD
                                                                   : static_cast<char32_t>(v);
    return j - i;
  }
  size_t start = j;
  while (j < html.size() && j - start < 10 && isAlnum(html[j])) ++j;
  std::string_view name = html.substr(start, j - start);
  for (const auto& [entity, value] : kEntities) {
    if (entity == name) {
      if (j < html.size() && html[j] == ';') ++j;
      *cp = value;
      return j - i;
    }
  }
  return 0;
}

// Offset just past the '>' that ends the tag opened at html[i] (quotes respected), or size().
size_t tagEnd(std::string_view html, size_t i) {
  char quote = 0;
  for (size_t k = i + 1; k < html.size(); ++k) {
    char c = html[k];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return k + 1;
    }
  }
  return html.size();
}

// Offset past "</name ...>" from i (case-insensitive), or size().
size_t closingTagEnd(std::string_view html, size_t i, std::string_view name) {
  for (size_t k = html.find("</", i); k != std::string_view::npos; k = html.find("</", k + 2)) {
    size_t m = k + 2;
    if (m + name.size() > html.size()) break;
    bool same = equalsIgnoreCase(html.substr(m, name.size()), name);
    if (same && (m + name.size() == html.size() || !isAlnum(html[m + name.size()]))) {
      size_t gt = html.find('>', m + name.size());
      return gt == std::string_view::npos ? html.size() : gt + 1;
    }
  }
  return html.size();
}

}  // namespace

std::string htmlToText(std::string_view html, size_t max_out) {
  TextWriter w(max_out);
  size_t i = 0;
  const size_t n = html.size();
  while (i < n && !w.full()) {
    char c = html[i];
    if (c == '<') {
      if (html.compare(i, 4, "<!--") == 0) {
        size_t end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? n : end + 3;
        continue;
      }
      size_t j = i + 1;
      if (j < n && (html[j] == '!' || html[j] == '?')) {
        i = tagEnd(html, i);
        continue;
      }
      bool closing = j < n && html[j] == '/';
      if (closing) ++j;
      size_t name_start = j;
      while (j < n && j - name_start < 16 && isAlnum(html[j])) ++j;
      if (j == name_start || !isAlpha(html[name_start])) {
        w.text("<");  // "a < b" is text
        ++i;
        continue;
      }
      std::string name;
      for (size_t k = name_start; k < j; ++k) name.push_back(lowerAscii(html[k]));
      size_t end = tagEnd(html, i);
      if (!closing && isRawContent(name)) {
        end = closingTagEnd(html, end, name);
      } else if (isBlock(name)) {
        w.newline();
      } else if (name == "td" || name == "th") {
        w.space();
      }
      i = end;
      continue;
    }
    if (c == '&') {
      char32_t cp = 0;
      if (size_t used = decodeReference(html, i, &cp); used > 0) {
        w.codePoint(cp);
        i += used;
        continue;
      }
      w.text("&");
      ++i;
      continue;
    }
    if (isSpace(c)) {
      w.space();
      ++i;
      continue;
    }
    size_t start = i;  // a run of ordinary bytes
    while (i < n && html[i] != '<' && html[i] != '&' && !isSpace(html[i])) ++i;
    w.text(html.substr(start, i - start));
  }
  return w.take();
}

}  // namespace meshgate::mail
