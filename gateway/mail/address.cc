// address.cc - envelope addresses, mailbox lists and IDN domains.
#include "gateway/mail/address.h"

#include <unicode/uidna.h>

#include <array>

#include "gateway/mail/codec.h"
#include "gateway/mail/header.h"
#include "gateway/util/strings.h"

namespace meshgate::mail {
namespace {

constexpr size_t kMaxDomain = 253;
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxLocal = 512;

// One immutable UTS #46 instance for the process: uidna_* conversions on it are thread-safe.
// Nontransitional (IDNA2008-like: "ß" stays "ß"), STD3 (letters, digits, hyphen only), with the
// bidi and ContextJ checks that keep label spoofing out.
const UIDNA* idna() {
  static const UIDNA* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    UIDNA* p =
        uidna_openUTS46(UIDNA_USE_STD3_RULES | UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ |
                            UIDNA_NONTRANSITIONAL_TO_ASCII | UIDNA_NONTRANSITIONAL_TO_UNICODE,
                        &status);
    return U_SUCCESS(status) ? p : nullptr;
  }();
  return instance;
}

// Errors that do not make a name unusable: "ab--cd" labels exist in the DNS.
constexpr uint32_t kToleratedIdnaErrors = UIDNA_ERROR_HYPHEN_3_4;

bool isLdh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Checks labels of an ASCII name already lower-cased: 1..63 LDH octets, no hyphen at either end.
bool validLdhName(std::string_view name) {
  if (name.empty() || name.size() > kMaxDomain) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    size_t end = dot == std::string_view::npos ? name.size() : dot;
    std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > kMaxLabel || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!isLdh(c)) return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool hasAceLabel(std::string_view lower) {
  size_t start = 0;
  for (;;) {
    if (lower.substr(start, 4) == "xn--") return true;
    size_t dot = lower.find('.', start);
    if (dot == std::string_view::npos) return false;
    start = dot + 1;
  }
}

Result<std::string> idnaConvert(std::string_view in, bool to_ascii) {
  const UIDNA* p = idna();
  if (p == nullptr) return internalError("ICU UTS #46 is not available");
  std::array<char, 1024> buf;
  UIDNAInfo info = UIDNA_INFO_INITIALIZER;
  UErrorCode status = U_ZERO_ERROR;
  int32_t len = to_ascii ? uidna_nameToASCII_UTF8(p, in.data(), static_cast<int32_t>(in.size()),
                                                  buf.data(), buf.size(), &info, &status)
                         : uidna_nameToUnicodeUTF8(p, in.data(), static_cast<int32_t>(in.size()),
                                                   buf.data(), buf.size(), &info, &status);
  if (U_FAILURE(status) || len < 0 || static_cast<size_t>(len) > buf.size()) {
    return invalidArgument("domain does not convert");
  }
  if ((info.errors & ~kToleratedIdnaErrors) != 0) return invalidArgument("invalid IDN domain");
  return std::string(buf.data(), static_cast<size_t>(len));
}

bool isAtext(unsigned char c) {
  if (c >= 0x80) return true;  // UTF-8 (RFC 6531/6532)
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool isDotAtom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!isAtext(static_cast<unsigned char>(c))) {
      return false;
    }
    prev = c;
  }
  return true;
}

std::string quoteLocal(const std::string& local) {
  if (isDotAtom(local)) return local;
  std::string out = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// ---- RFC 5322 tokens ----

enum class Tok { kAtom, kQuoted, kLiteral, kComment, kSpecial };

struct Token {
  Tok type;
  std::string text;  // atom text, quoted/comment content, literal with brackets, the special
  bool space_before = false;
  bool is(char special) const {
    return type == Tok::kSpecial && text.size() == 1 && text[0] == special;
  }
};

bool isSpecialChar(char c) {
  return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '\\' ||
         c == '"' || c == '(' || c == ')' || c == '[' || c == ']';
}

std::vector<Token> tokenize(std::string_view s, bool* malformed) {
  std::vector<Token> tokens;
  bool space = false;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    char c = s[i];
    auto uc = static_cast<unsigned char>(c);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      ++i;
    } else if (uc < 0x20 || uc == 0x7F) {  // controls (NUL included) separate tokens
      *malformed = true;
      space = true;
      ++i;
    } else if (c == '(') {
      std::string text;
      int depth = 1;
      ++i;
      while (i < n && depth > 0) {
        char d = s[i++];
        if (d == '\\' && i < n) {
          text.push_back(s[i++]);
        } else if (d == '(') {
          ++depth;
          text.push_back(d);
        } else if (d == ')') {
          if (--depth > 0) text.push_back(d);
        } else {
          text.push_back(d);
        }
      }
      if (depth > 0) *malformed = true;
      tokens.push_back(Token{Tok::kComment, std::move(text), space});
      space = true;  // a comment separates like whitespace
    } else if (c == '"') {
      std::string text;
      bool closed = false;
      ++i;
      while (i < n) {
        char d = s[i++];
        if (d == '\\' && i < n) {
          text.push_back(s[i++]);
        } else if (d == '"') {
          closed = true;
          break;
        } else if (d != '\r' && d != '\n') {
          text.push_back(d);
        }
      }
      if (!closed) *malformed = true;
      tokens.push_back(Token{Tok::kQuoted, std::move(text), space});
      space = false;
    } else if (c == '[') {
      size_t close = s.find(']', i);
      size_t end = close == std::string_view::npos ? n : close + 1;
      if (close == std::string_view::npos) *malformed = true;
      tokens.push_back(Token{Tok::kLiteral, std::string(s.substr(i, end - i)), space});
      i = end;
      space = false;
    } else if (c == ')' || c == ']' || c == '\\') {
      *malformed = true;  // stray: skipped
      ++i;
    } else if (isSpecialChar(c)) {
      tokens.push_back(Token{Tok::kSpecial, std::string(1, c), space});
      ++i;
      space = false;
    } else {
      size_t start = i;
      while (i < n) {
        auto d = static_cast<unsigned char>(s[i]);
        if (d <= 0x20 || d == 0x7F || isSpecialChar(s[i])) break;
        ++i;
      }
      tokens.push_back(Token{Tok::kAtom, std::string(s.substr(start, i - start)), space});
      space = false;
    }
  }
  return tokens;
}

// Joins a phrase's tokens the way they were written and decodes RFC 2047 words. Encoded words
// inside quoted strings are decoded too: clients do, and the policy must see what they show.
std::string decodePhrase(const std::vector<const Token*>& tokens, bool* malformed) {
  std::string raw;
  for (const Token* t : tokens) {
    if (t->type == Tok::kComment) continue;
    if (!raw.empty() && t->space_before) raw.push_back(' ');
    if (t->type == Tok::kSpecial && t->text != ".") *malformed = true;
    raw += t->text;
  }
  bool bad = false;
  std::string decoded = decodeEncodedWords(raw, &bad);
  if (bad) *malformed = true;
  return std::string(trimWhitespace(decoded));
}

// addr-spec from tokens (comments already removed). Null Address on failure.
Address parseAddrSpec(const std::vector<const Token*>& tokens, bool* malformed) {
  size_t at = tokens.size();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i]->is('@')) at = i;
  }
  if (at == tokens.size()) {
    *malformed = true;
    return Address();
  }
  std::string local;
  for (size_t i = 0; i < at; ++i) {
    const Token* t = tokens[i];
    if (t->type == Tok::kSpecial || t->type == Tok::kLiteral) {  // "a@b@c", "a<b@c"
      *malformed = true;
      return Address();
    }
    local += t->text;  // obs-local-part: words and dots, joined without the CFWS between
  }
  std::string domain;
  for (size_t i = at + 1; i < tokens.size(); ++i) {
    const Token* t = tokens[i];
    if (t->type == Tok::kAtom || t->type == Tok::kLiteral) {
      domain += t->text;
    } else {
      *malformed = true;
    }
  }
  Result<Address> a = Address::make(local, domain);
  if (!a.ok()) {
    *malformed = true;
    return Address();
  }
  return std::move(a).value();
}

std::string lastComment(const std::vector<const Token*>& tokens) {
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    if ((*it)->type == Tok::kComment) {
      std::string text = decodeEncodedWords((*it)->text);
      std::string_view trimmed = trimWhitespace(text);
      if (!trimmed.empty()) return std::string(trimmed);
    }
  }
  return "";
}

}  // namespace

Result<Domain> normalizeDomain(std::string_view in) {
  std::string_view d = trimWhitespace(in);
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);  // the root: "example.com."
  if (d.empty()) return invalidArgument("empty domain");
  if (d.size() > 4 * kMaxDomain) return invalidArgument("domain too long");
  if (d.front() == '[') {
    if (d.back() != ']' || d.size() < 3) return invalidArgument("unterminated address literal");
    for (char c : d.substr(1, d.size() - 2)) {
      auto uc = static_cast<unsigned char>(c);
      if (uc <= 0x20 || uc >= 0x7F || c == '[' || c == ']' || c == '\\') {
        return invalidArgument("bad character in address literal");
      }
    }
    std::string lit = toLowerAscii(d);
    return Domain{lit, lit};
  }
  bool ldh = true;
  for (char c : d) {
    if (!isLdh(c) && c != '.') {
      ldh = false;
      break;
    }
  }
  if (ldh) {
    std::string lower = toLowerAscii(d);
    if (!hasAceLabel(lower)) {  // the common case: no ICU
      if (!validLdhName(lower)) return invalidArgument("invalid domain \"" + lower + "\"");
      return Domain{lower, lower};
    }
  }
  if (!isValidUtf8(d)) return invalidArgument("domain is not UTF-8");
  Result<std::string> ascii = idnaConvert(d, /*to_ascii=*/true);
  if (!ascii.ok()) return ascii.status();
  if (!validLdhName(*ascii)) return invalidArgument("invalid domain \"" + *ascii + "\"");
  Result<std::string> unicode = idnaConvert(*ascii, /*to_ascii=*/false);
  if (!unicode.ok()) return unicode.status();
  return Domain{std::move(ascii).value(), std::move(unicode).value()};
}

Result<Address> Address::make(std::string_view local_part, std::string_view domain) {
  if (local_part.empty()) return invalidArgument("empty local part");
  if (local_part.size() > kMaxLocal) return invalidArgument("local part too long");
  if (!isValidUtf8(local_part)) return invalidArgument("local part is not UTF-8");
  for (char c : local_part) {
    auto uc = static_cast<unsigned char>(c);
    if (uc < 0x20 || uc == 0x7F) return invalidArgument("control character in local part");
  }
  Address a;
  a.local_ = std::string(local_part);
  if (domain.empty()) {
    if (!equalsIgnoreCase(local_part, "postmaster")) return invalidArgument("no domain");
    return a;
  }
  Result<Domain> d = normalizeDomain(domain);
  if (!d.ok()) return d.status();
  a.domain_ = std::move(d).value();
  return a;
}

std::string Address::toString() const {
  if (isNull()) return "";
  std::string s = quoteLocal(local_);
  if (!domain_.ascii.empty()) s += "@" + domain_.ascii;
  return s;
}

std::string Address::toUnicodeString() const {
  if (isNull()) return "";
  std::string s = quoteLocal(local_);
  if (!domain_.unicode.empty()) s += "@" + domain_.unicode;
  return s;
}

Result<Address> parseEnvelopeAddress(std::string_view text) {
  std::string_view s = trimWhitespace(text);
  if (s.size() > 2 * (kMaxLocal + kMaxDomain)) return invalidArgument("address too long");
  if (!s.empty() && s.front() == '<') {
    if (s.back() != '>') return invalidArgument("unterminated <address>");
    s = trimWhitespace(s.substr(1, s.size() - 2));
  } else if (!s.empty() && s.back() == '>') {
    return invalidArgument("stray '>' in address");
  }
  if (s.empty()) return Address();  // "<>": the null reverse-path
  if (s.front() == '@') {           // source route "@a,@b:user@d", ignored (RFC 5321 C)
    size_t colon = s.find(':');
    if (colon == std::string_view::npos) return invalidArgument("bad source route");
    s = s.substr(colon + 1);
  }
  std::string local;
  std::string_view domain;
  if (!s.empty() && s.front() == '"') {
    size_t i = 1;
    bool closed = false;
    while (i < s.size()) {
      char c = s[i++];
      if (c == '\\' && i < s.size()) {
        local.push_back(s[i++]);
      } else if (c == '"') {
        closed = true;
        break;
      } else {
        local.push_back(c);
      }
    }
    if (!closed) return invalidArgument("unterminated quoted local part");
    std::string_view rest = s.substr(i);
    if (!rest.empty()) {
      if (rest.front() != '@') return invalidArgument("text after quoted local part");
      domain = rest.substr(1);
      if (domain.empty()) return invalidArgument("empty domain");
    }
  } else {
    size_t at = s.rfind('@');
    if (at == std::string_view::npos) {
      local = std::string(s);
    } else {
      local = std::string(s.substr(0, at));
      domain = s.substr(at + 1);
      if (domain.empty()) return invalidArgument("empty domain");
    }
    for (char c : local) {
      if (c == ' ' || c == '\t' || c == '<' || c == '>') {
        return invalidArgument("unquoted space or bracket in local part");
      }
    }
  }
  return Address::make(local, domain);
}

std::string canonicalEnvelopeAddress(std::string_view text) {
  Result<Address> a = parseEnvelopeAddress(text);
  if (a.ok()) {
    if (a->isNull()) return "";
    if (a->domain().empty()) return a->localPart();
    return a->localPart() + "@" + a->domain();
  }
  std::string raw = normalizeAddress(text);
  if (raw.find('@') != std::string::npos) {
    while (!raw.empty() && raw.back() == '.') raw.pop_back();
  }
  return raw;
}

std::string domainOf(std::string_view address_text) {
  Result<Address> a = parseEnvelopeAddress(address_text);
  if (a.ok()) return a->domain();
  // Fall back to the text after the last '@' (e.g. a header address with a display name).
  size_t at = address_text.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string_view d = address_text.substr(at + 1);
  if (!d.empty() && d.back() == '>') d.remove_suffix(1);
  Result<Domain> dom = normalizeDomain(d);
  return dom.ok() ? dom->ascii : "";
}

MailboxList parseMailboxList(std::string_view value, const Limits& limits) {
  MailboxList list;
  std::string unfolded = unfold(value);
  std::vector<Token> tokens = tokenize(unfolded, &list.malformed);

  std::string group;
  bool in_group = false;
  std::vector<const Token*> item;
  auto finish = [&] {
    bool has_content = false;
    for (const Token* t : item) {
      if (t->type != Tok::kComment) has_content = true;
    }
    if (!has_content) {
      item.clear();
      return;
    }
    if (list.mailboxes.size() >= limits.max_mailboxes) {
      list.truncated = true;
      item.clear();
      return;
    }
    Mailbox mb;
    mb.group = group;
    size_t open = item.size();
    for (size_t i = 0; i < item.size(); ++i) {
      if (item[i]->is('<')) {
        open = i;
        break;
      }
    }
    std::vector<const Token*> phrase;
    std::vector<const Token*> spec;
    if (open < item.size()) {
      phrase.assign(item.begin(), item.begin() + static_cast<std::ptrdiff_t>(open));
      size_t i = open + 1;
      // An obsolete route "@a,@b:" before the addr-spec is dropped.
      if (i < item.size() && item[i]->is('@')) {
        size_t colon = i;
        while (colon < item.size() && !item[colon]->is(':') && !item[colon]->is('>')) ++colon;
        if (colon < item.size() && item[colon]->is(':')) i = colon + 1;
      }
      bool closed = false;
      for (; i < item.size(); ++i) {
        if (item[i]->is('>')) {
          closed = true;
          ++i;
          break;
        }
        if (item[i]->type != Tok::kComment) spec.push_back(item[i]);
      }
      if (!closed) list.malformed = true;
      for (; i < item.size(); ++i) {
        if (item[i]->type != Tok::kComment) list.malformed = true;
      }
      if (spec.empty()) {
        list.malformed = true;  // "<>" is not a mailbox
      } else {
        mb.address = parseAddrSpec(spec, &list.malformed);
      }
    } else {
      for (const Token* t : item) {
        if (t->type != Tok::kComment) spec.push_back(t);
      }
      bool has_at = false;
      for (const Token* t : spec) {
        if (t->is('@')) has_at = true;
      }
      if (has_at) {
        mb.address = parseAddrSpec(spec, &list.malformed);
      } else {
        phrase = spec;  // a display name with no address at all
        list.malformed = true;
      }
    }
    mb.display_name = decodePhrase(phrase, &list.malformed);
    if (mb.display_name.empty()) mb.display_name = lastComment(item);
    if (mb.address.isNull()) list.malformed = true;
    list.mailboxes.push_back(std::move(mb));
    item.clear();
  };

  int angle = 0;
  for (const Token& t : tokens) {
    if (t.is('<')) {
      ++angle;
      item.push_back(&t);
    } else if (t.is('>')) {
      if (angle > 0) --angle;
      item.push_back(&t);
    } else if (angle == 0 && t.is(',')) {
      finish();
    } else if (angle == 0 && t.is(':') && !in_group) {
      bool bad = false;
      std::vector<const Token*> phrase;
      for (const Token* p : item) {
        if (p->type != Tok::kComment) phrase.push_back(p);
      }
      group = decodePhrase(phrase, &bad);
      if (bad) list.malformed = true;
      in_group = true;
      item.clear();
    } else if (angle == 0 && t.is(';')) {
      finish();
      if (!in_group) list.malformed = true;
      in_group = false;
      group.clear();
    } else {
      item.push_back(&t);
    }
  }
  finish();
  if (in_group) list.malformed = true;  // "undisclosed-recipients:" without ';'
  return list;
}

}  // namespace meshgate::mail
