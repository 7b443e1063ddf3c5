// content_patterns.cc - see content_patterns.h.
#include "gateway/policy/content_patterns.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "gateway/mesh/crypto.h"

namespace meshgate::policy {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isLowerAscii(char c) { return c >= 'a' && c <= 'z'; }
bool isAlnum(char c) { return isDigit(c) || isUpper(c) || isLowerAscii(c); }
char upper(char c) { return isLowerAscii(c) ? static_cast<char>(c - 'a' + 'A') : c; }
char lowerChar(char c) { return isUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool boundaryBefore(std::string_view t, size_t i) { return i == 0 || !isAlnum(t[i - 1]); }
bool boundaryAt(std::string_view t, size_t i) { return i >= t.size() || !isAlnum(t[i]); }

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerChar(c);
  return out;
}

// True when one of `words` occurs as a whole word in the `before` bytes preceding pos.
bool labelledBefore(std::string_view t, size_t pos, size_t before,
                    std::initializer_list<std::string_view> words) {
  size_t from = pos > before ? pos - before : 0;
  std::string window = lowerAscii(t.substr(from, pos - from));
  for (std::string_view w : words) {
    for (size_t p = window.find(w); p != std::string::npos; p = window.find(w, p + 1)) {
      bool starts = p == 0 || !isAlnum(window[p - 1]);
      size_t end = p + w.size();
      bool ends = end == window.size() || !isAlnum(window[end]);
      if (starts && ends) return true;
    }
  }
  return false;
}

// ---- IBAN

// Registered IBAN lengths (SWIFT IBAN registry).
int ibanLength(char a, char b) {
  struct Entry {
    char code[3];
    int length;
  };
  static constexpr Entry kLengths[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
      {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
      {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
      {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
      {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
      {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
      {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
      {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
      {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33},
      {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
      {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
      {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
  };
  for (const auto& e : kLengths) {
    if (e.code[0] == a && e.code[1] == b) return e.length;
  }
  return 0;
}

bool isCountryCode(char a, char b) {
  // ISO 3166-1 alpha-2, plus XK (Kosovo), which banks use.
  static constexpr std::string_view kCodes =
      "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
      "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
      "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
      "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
      "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
      "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
      "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
      "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
      "VN VU WF WS XK YE YT ZA ZM ZW";
  for (size_t i = 0; i + 1 < kCodes.size(); i += 3) {
    if (kCodes[i] == a && kCodes[i + 1] == b) return true;
  }
  return false;
}

// ---- Bitcoin

constexpr std::string_view kBase58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kBech32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

bool isBase58(char c) { return c != '\0' && kBase58.find(c) != std::string_view::npos; }

uint32_t bech32Polymod(const std::vector<uint8_t>& values) {
  static constexpr uint32_t kGen[] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t v : values) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[i];
    }
  }
  return chk;
}

// ---- cards

bool cardIssuerAccepts(std::string_view d) {
  const size_t n = d.size();
  auto prefix = [&](size_t len) {
    int v = 0;
    for (size_t i = 0; i < len && i < n; ++i) v = v * 10 + (d[i] - '0');
    return v;
  };
  const int p1 = prefix(1), p2 = prefix(2), p3 = prefix(3), p4 = prefix(4);
  if (p1 == 4) return n == 13 || n == 16 || n == 19;                               // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16;      // Mastercard
  if (p2 == 34 || p2 == 37) return n == 15;                                        // Amex
  if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) return n >= 16 && n <= 19;  // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;                         // JCB
  if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) {              // Diners
    return n >= 14 && n <= 19;
  }
  if (p2 == 62) return n >= 16 && n <= 19;  // UnionPay
  return false;
}

bool cardLayout(const std::vector<size_t>& groups) {
  static const std::vector<std::vector<size_t>> kLayouts = {
      {4, 4, 4, 4}, {4, 4, 4, 4, 3}, {4, 6, 5}, {4, 6, 4}, {4, 4, 4, 1}, {4, 4, 4, 3},
      {4, 4, 4, 4, 1}, {4, 4, 4, 4, 2},
  };
  return std::find(kLayouts.begin(), kLayouts.end(), groups) != kLayouts.end();
}

// An ungrouped digit run is only a card number when the text around it says so.
bool cardContext(std::string_view t, size_t begin, size_t end) {
  if (labelledBefore(t, begin, 48,
                     {"card", "cards", "visa", "mastercard", "amex", "credit", "debit", "cc",
                      "cvv", "cvc", "pan", "karte", "kreditkarte", "kartennummer",
                      "kreditkartennummer", "carte", "cb", "tarjeta", "número", "numero"})) {
    return true;
  }
  // An expiry date (MM/YY or MM/YYYY) shortly after the number.
  size_t stop = std::min(t.size(), end + 32);
  for (size_t i = end; i + 5 <= stop; ++i) {
    if (isDigit(t[i]) && isDigit(t[i + 1]) && t[i + 2] == '/' && isDigit(t[i + 3]) &&
        isDigit(t[i + 4]) && (i == 0 || !isDigit(t[i - 1]))) {
      int month = (t[i] - '0') * 10 + (t[i + 1] - '0');
      if (month >= 1 && month <= 12) return true;
    }
  }
  return false;
}

// ---- secrets

bool isTokenChar(char c, bool dash, bool underscore) {
  return isAlnum(c) || (dash && c == '-') || (underscore && c == '_');
}

// Length of the run of token characters starting at i, counted up to `cap` (a caller that
// only needs to know "longer than N" must not walk a megabyte-long run from every prefix in
// it: "xoxb-xoxb-..." made the scan quadratic).
size_t runLength(std::string_view t, size_t i, bool dash, bool underscore,
                 size_t cap = std::string_view::npos) {
  size_t j = i;
  const size_t end = cap >= t.size() - std::min(i, t.size()) ? t.size() : i + cap;
  while (j < end && isTokenChar(t[j], dash, underscore)) ++j;
  return j - i;
}

std::optional<SecretMatch> findPrivateKey(std::string_view t) {
  for (size_t pos = t.find("-----BEGIN "); pos != std::string_view::npos;
       pos = t.find("-----BEGIN ", pos + 1)) {
    size_t label_end = t.find("-----", pos + 11);
    if (label_end == std::string_view::npos || label_end - pos > 64) continue;
    std::string_view label = t.substr(pos + 11, label_end - pos - 11);
    if (label.find("PRIVATE KEY") != std::string_view::npos) return SecretMatch{"private-key"};
  }
  if (t.find("PuTTY-User-Key-File-") != std::string_view::npos &&
      t.find("Private-Lines:") != std::string_view::npos) {
    return SecretMatch{"private-key"};
  }
  return std::nullopt;
}

bool isPlaceholder(std::string_view v) {
  if (v.size() < 4) return true;
  if (std::all_of(v.begin(), v.end(), [&](char c) { return c == v[0]; })) return true;  // ****
  char open = v.front();
  char close = v.back();
  if ((open == '<' && close == '>') || (open == '{' && close == '}') ||
      (open == '[' && close == ']') || (open == '(' && close == ')') || open == '$' ||
      (open == '%' && close == '%')) {
    return true;
  }
  std::string l = lowerAscii(v);
  for (std::string_view p : {"redacted", "hidden", "none", "n/a", "unchanged", "xxxx", "****",
                             "your_password", "yourpassword", "password", "same", "empty"}) {
    if (l == p) return true;
  }
  return false;
}

std::optional<SecretMatch> findPasswordLine(std::string_view t) {
  static constexpr std::string_view kKeys[] = {"password", "passwd", "passwort", "kennwort",
                                               "pwd", "passphrase", "mot de passe",
                                               "contraseña", "contrasena"};
  size_t line_start = 0;
  while (line_start < t.size()) {
    size_t line_end = t.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = t.size();
    std::string_view line = t.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (!line.empty() && line.front() == '>') continue;  // quoted: it was sent before
    size_t sep = line.find_first_of(":=");
    if (sep == std::string_view::npos || sep > 48) continue;
    std::string key = lowerAscii(line.substr(0, sep));
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    bool named = false;
    for (std::string_view k : kKeys) {
      if (key.size() >= k.size() && key.compare(key.size() - k.size(), k.size(), k) == 0 &&
          (key.size() == k.size() || !isAlnum(key[key.size() - k.size() - 1]) ||
           key[key.size() - k.size() - 1] == '_')) {
        named = true;
        break;
      }
    }
    if (!named) continue;
    std::string_view value = line.substr(sep + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t' ||
                              value.front() == '=' || value.front() == ':')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) {
      value.remove_suffix(1);
    }
    // One token: "Password: is in the vault" is a sentence about a password, not one.
    if (value.empty() || value.find_first_of(" \t") != std::string_view::npos) continue;
    if (value.front() == '"' || value.front() == '\'') {
      value.remove_prefix(1);
      if (!value.empty() && (value.back() == '"' || value.back() == '\'')) value.remove_suffix(1);
    }
    if (isPlaceholder(value)) continue;
    return SecretMatch{"password"};
  }
  return std::nullopt;
}

std::optional<SecretMatch> findApiToken(std::string_view t) {
  struct Token {
    std::string_view prefix;
    const char* kind;
    size_t min_len;  // of the run after the prefix
    size_t max_len;
    bool dash;
    bool underscore;
    bool upper_digits_only;
  };
  static constexpr Token kTokens[] = {
      {"AKIA", "aws-access-key", 16, 16, false, false, true},
      {"ASIA", "aws-access-key", 16, 16, false, false, true},
      {"ghp_", "github-token", 36, 36, false, false, false},
      {"gho_", "github-token", 36, 36, false, false, false},
      {"ghu_", "github-token", 36, 36, false, false, false},
      {"ghs_", "github-token", 36, 36, false, false, false},
      {"ghr_", "github-token", 36, 36, false, false, false},
      {"github_pat_", "github-token", 22, 255, false, true, false},
      {"xoxb-", "slack-token", 10, 255, true, false, false},
      {"xoxp-", "slack-token", 10, 255, true, false, false},
      {"xoxa-", "slack-token", 10, 255, true, false, false},
      {"xoxs-", "slack-token", 10, 255, true, false, false},
      {"AIza", "google-api-key", 35, 35, true, true, false},
      {"sk_live_", "stripe-key", 24, 255, false, false, false},
      {"rk_live_", "stripe-key", 24, 255, false, false, false},
  };
  // One pass over word starts: the tokens' first letters are few, and searching the text once
  // per prefix would cost a pass each.
  for (size_t pos = 0; pos < t.size(); ++pos) {
    const char c = t[pos];
    if ((c != 'A' && c != 'g' && c != 'x' && c != 's' && c != 'r') || !boundaryBefore(t, pos)) {
      continue;
    }
    for (const auto& tok : kTokens) {
      if (tok.prefix[0] != c || t.compare(pos, tok.prefix.size(), tok.prefix) != 0) continue;
      size_t start = pos + tok.prefix.size();
      size_t len = runLength(t, start, tok.dash, tok.underscore, tok.max_len + 1);
      if (len < tok.min_len || len > tok.max_len) continue;
      if (tok.upper_digits_only) {
        std::string_view run = t.substr(start, len);
        if (!std::all_of(run.begin(), run.end(), [](char ch) { return isUpper(ch) || isDigit(ch); })) {
          continue;
        }
      }
      return SecretMatch{tok.kind};
    }
  }
  // JSON Web Token: base64url('{"...') . base64url('{"...') . signature
  // A run that fails fails for every "eyJ" inside it too (same end, same parts after it):
  // the search goes on after the run, so each byte is scanned once.
  size_t next = 0;
  for (size_t pos = t.find("eyJ"); pos != std::string_view::npos; pos = t.find("eyJ", next)) {
    next = pos + 1;
    if (!boundaryBefore(t, pos)) continue;
    size_t a = runLength(t, pos, true, true);
    next = pos + std::max<size_t>(a, 1);
    if (a < 10 || pos + a >= t.size() || t[pos + a] != '.') continue;
    size_t second = pos + a + 1;
    if (t.substr(second, 3) != "eyJ") continue;
    size_t b = runLength(t, second, true, true);
    if (b < 10 || second + b >= t.size() || t[second + b] != '.') continue;
    size_t c = runLength(t, second + b + 1, true, true);
    if (c < 10) continue;
    return SecretMatch{"jwt"};
  }
  return std::nullopt;
}

}  // namespace

bool ibanChecksumValid(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34) return false;
  int remainder = 0;
  for (size_t k = 0; k < iban.size(); ++k) {
    char c = iban[(k + 4) % iban.size()];  // the first four characters move to the end
    if (isDigit(c)) {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else if (isUpper(c)) {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return remainder == 1;
}

bool abaChecksumValid(std::string_view d) {
  if (d.size() != 9 || !std::all_of(d.begin(), d.end(), isDigit)) return false;
  auto v = [&](size_t i) { return d[i] - '0'; };
  int sum = 3 * (v(0) + v(3) + v(6)) + 7 * (v(1) + v(4) + v(7)) + (v(2) + v(5) + v(8));
  return sum % 10 == 0;
}

bool luhnValid(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    if (!isDigit(digits[i])) return false;
    int v = digits[i] - '0';
    if (twice) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    twice = !twice;
  }
  return !digits.empty() && sum % 10 == 0;
}

bool bech32Valid(std::string_view address) {
  if (address.size() < 14 || address.size() > 74) return false;
  bool has_lower = std::any_of(address.begin(), address.end(), isLowerAscii);
  bool has_upper = std::any_of(address.begin(), address.end(), isUpper);
  if (has_lower && has_upper) return false;  // BIP 173: never mixed case
  std::string a = lowerAscii(address);
  if (a.rfind("bc1", 0) != 0) return false;
  std::vector<uint8_t> values = {3, 3, 0, 2, 3};  // hrp "bc" expanded: high bits, 0, low bits
  for (size_t i = 3; i < a.size(); ++i) {
    size_t v = kBech32.find(a[i]);
    if (v == std::string_view::npos) return false;
    values.push_back(static_cast<uint8_t>(v));
  }
  if (values.size() < 5 + 1 + 6) return false;
  uint8_t version = values[5];
  if (version > 16) return false;
  uint32_t expected = version == 0 ? 1 : 0x2bc830a3;  // bech32 for v0, bech32m for v1+ (BIP 350)
  return bech32Polymod(values) == expected;
}

bool base58checkValid(std::string_view address) {
  if (address.size() < 26 || address.size() > 35) return false;
  std::array<uint8_t, 25> bytes{};
  for (char c : address) {
    size_t digit = kBase58.find(c);
    if (digit == std::string_view::npos) return false;
    uint32_t carry = static_cast<uint32_t>(digit);
    for (size_t i = bytes.size(); i-- > 0;) {
      carry += 58u * bytes[i];
      bytes[i] = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    if (carry != 0) return false;  // more than 25 bytes
  }
  // Each leading '1' is a leading zero byte; the decoded number must fill the rest exactly.
  size_t ones = 0;
  while (ones < address.size() && address[ones] == '1') ++ones;
  size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == 0) ++zeros;
  if (zeros != ones) return false;
  if (bytes[0] != 0x00 && bytes[0] != 0x05) return false;  // P2PKH or P2SH
  Bytes first = mesh::hash(mesh::HashAlgorithm::kSha256, ByteView(bytes.data(), 21));
  Bytes second = mesh::hash(mesh::HashAlgorithm::kSha256, first);
  return std::equal(second.begin(), second.begin() + 4, bytes.begin() + 21);
}

std::optional<std::string> findIban(std::string_view t) {
  for (size_t i = 0; i + 4 <= t.size(); ++i) {
    char a = upper(t[i]);
    char b = upper(t[i + 1]);
    if (!isUpper(a) || !isUpper(b) || !isDigit(t[i + 2]) || !isDigit(t[i + 3])) continue;
    if (!boundaryBefore(t, i)) continue;
    int length = ibanLength(a, b);
    if (length == 0) continue;
    std::string compact;
    size_t j = i;
    while (j < t.size() && compact.size() < static_cast<size_t>(length)) {
      if (isAlnum(t[j])) {
        compact.push_back(upper(t[j]));
        ++j;
      } else if ((t[j] == ' ' || t[j] == '-' || t[j] == '\t') && j + 1 < t.size() &&
                 isAlnum(t[j + 1])) {
        ++j;  // the printed form groups by four (spaces; some write dashes)
      } else {
        break;
      }
    }
    if (compact.size() != static_cast<size_t>(length) || !boundaryAt(t, j)) continue;
    if (ibanChecksumValid(compact)) return compact;
  }
  return std::nullopt;
}

std::optional<std::string> findBic(std::string_view t) {
  for (size_t i = 0; i + 8 <= t.size(); ++i) {
    if (!isUpper(t[i]) || !boundaryBefore(t, i)) continue;
    size_t run = 0;
    while (i + run < t.size() && (isUpper(t[i + run]) || isDigit(t[i + run]))) ++run;
    if (run != 8 && run != 11) {
      i += run;
      continue;
    }
    std::string_view code = t.substr(i, run);
    bool bank_letters = std::all_of(code.begin(), code.begin() + 6, isUpper);
    if (bank_letters && boundaryAt(t, i + run) && isCountryCode(code[4], code[5]) &&
        labelledBefore(t, i, 48, {"bic", "swift", "swift-code", "swiftcode", "bic-code"})) {
      return std::string(code);
    }
    i += run;
  }
  return std::nullopt;
}

std::optional<std::string> findRoutingNumber(std::string_view t) {
  for (size_t i = 0; i + 9 <= t.size(); ++i) {
    if (!isDigit(t[i]) || !boundaryBefore(t, i)) continue;
    size_t run = 0;
    while (i + run < t.size() && isDigit(t[i + run])) ++run;
    if (run == 9 && boundaryAt(t, i + 9)) {
      std::string_view d = t.substr(i, 9);
      int prefix = (d[0] - '0') * 10 + (d[1] - '0');
      bool fed = prefix <= 12 || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) ||
                 prefix == 80;
      if (fed && abaChecksumValid(d) &&
          labelledBefore(t, i, 48, {"routing", "aba", "rtn", "ach", "transit", "abartn"})) {
        return std::string(d);
      }
    }
    i += run;
  }
  return std::nullopt;
}

std::optional<WalletMatch> findCryptoWallet(std::string_view t) {
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c != '1' && c != '3' && c != 'b' && c != 'B' && c != '0') continue;
    if (!boundaryBefore(t, i)) continue;
    if (c == '0') {
      if (i + 42 <= t.size() && (t[i + 1] == 'x' || t[i + 1] == 'X')) {
        size_t hex = 0;
        while (i + 2 + hex < t.size() && std::isxdigit(static_cast<unsigned char>(t[i + 2 + hex]))) {
          ++hex;
        }
        if (hex == 40 && boundaryAt(t, i + 42)) return WalletMatch{"eth", std::string(t.substr(i, 42))};
      }
      continue;
    }
    if (c == 'b' || c == 'B') {
      size_t run = runLength(t, i, false, false);
      if (run >= 14 && run <= 74 && bech32Valid(t.substr(i, run))) {
        return WalletMatch{"btc", std::string(t.substr(i, run))};
      }
      continue;
    }
    size_t run = 0;
    while (i + run < t.size() && isBase58(t[i + run])) ++run;
    if (run >= 26 && run <= 35 && boundaryAt(t, i + run) && base58checkValid(t.substr(i, run))) {
      return WalletMatch{"btc", std::string(t.substr(i, run))};
    }
  }
  return std::nullopt;
}

std::optional<std::string> findCardNumber(std::string_view t) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (!isDigit(t[i])) continue;
    // Not inside a longer token: "INV-4111..." or "#4111..." or "12.4111..." are ids.
    if (i > 0 && (isAlnum(t[i - 1]) || t[i - 1] == '#' || t[i - 1] == '/' ||
                  ((t[i - 1] == '-' || t[i - 1] == '.' || t[i - 1] == '_') && i > 1 &&
                   isAlnum(t[i - 2])))) {
      while (i < t.size() && isDigit(t[i])) ++i;
      continue;
    }
    std::string digits;
    std::vector<size_t> groups;
    char sep = 0;
    size_t j = i;
    size_t group = 0;
    while (j < t.size()) {
      if (isDigit(t[j])) {
        digits.push_back(t[j]);
        ++group;
        ++j;
        if (digits.size() > 19) break;
        continue;
      }
      // Card groups are at most 6 digits: "4111111111111111 12/27" ends before the date.
      if ((t[j] == ' ' || t[j] == '-') && j + 1 < t.size() && isDigit(t[j + 1]) && group <= 6 &&
          (sep == 0 || sep == t[j])) {
        sep = t[j];
        groups.push_back(group);
        group = 0;
        ++j;
        continue;
      }
      break;
    }
    groups.push_back(group);
    const size_t end = j;
    i = end;  // whatever it was, do not look inside it again
    if (digits.size() < 13 || digits.size() > 19) continue;
    if (end < t.size() && (isAlnum(t[end]) || t[end] == '_' ||
                           ((t[end] == '-' || t[end] == '.') && end + 1 < t.size() &&
                            isDigit(t[end + 1])))) {
      continue;
    }
    if (!luhnValid(digits) || !cardIssuerAccepts(digits)) continue;
    if (groups.size() > 1 ? !cardLayout(groups) : !cardContext(t, end - digits.size(), end)) {
      continue;
    }
    return digits;
  }
  return std::nullopt;
}

std::optional<SecretMatch> findSecret(std::string_view text, const SecretKinds& kinds) {
  if (kinds.private_keys) {
    if (auto m = findPrivateKey(text)) return m;
  }
  if (kinds.api_tokens) {
    if (auto m = findApiToken(text)) return m;
  }
  if (kinds.password_lines) {
    if (auto m = findPasswordLine(text)) return m;
  }
  return std::nullopt;
}

}  // namespace meshgate::policy
