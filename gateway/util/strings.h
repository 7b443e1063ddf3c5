// NAME
//   strings.h - small string helpers shared across the core (ASCII case, trimming, splitting).
//
// DESCRIPTION
//   ASCII only: mail protocol keywords, domains in A-label form and header names are ASCII.
//   Unicode-aware comparison (display names, IDN) lives in gateway/mail.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace meshgate {

// A space or a horizontal tab: RFC 5322's WSP, what folds and separates header text.
inline bool isSpaceOrTab(char c) { return c == ' ' || c == '\t'; }
// 'A'-'Z' to 'a'-'z'; every other byte as it is.
inline char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
std::string toLowerAscii(std::string_view s);
bool equalsIgnoreCase(std::string_view a, std::string_view b);
std::string_view trimWhitespace(std::string_view s);
// Splits on `sep`, trimming whitespace around each piece and dropping empty pieces.
std::vector<std::string> splitList(std::string_view s, char sep);
std::string joinList(const std::vector<std::string>& items, std::string_view sep);
// True when `s` holds an ASCII control character (C0, including tab, or DEL): text that is
// printed on an administrator's terminal or in a one-line list must not carry any.
bool hasControlCharacter(std::string_view s);
// `s` with each such character replaced by '?' (whole: unlike log::sanitize, not cut short).
std::string printable(std::string_view s);

// "Bob@Example.NET" -> "example.net"; "" when there is no '@' or nothing after it.
std::string addressDomain(std::string_view address);
// Local part as written, domain lower-cased; angle brackets removed. "<>" -> "".
std::string normalizeAddress(std::string_view address);

}  // namespace meshgate
