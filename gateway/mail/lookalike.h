// NAME
//   lookalike.h - lookalike domains and display names: UTS #39 confusable skeletons (ICU),
//   bounded Damerau-Levenshtein distance, IDN-aware comparison.
//
// SYNOPSIS
//   looksLike("pаypal.com", "paypal.com");            // true: Cyrillic "а" (same skeleton)
//   looksLike("xn--pypal-4ve.com", "paypal.com");     // true: the same, as an A-label
//   looksLike("paypa1.co", "paypal.com");             // true: skeleton distance 1
//   looksLike("mail.paypal.com", "paypal.com");       // false: paypal.com's own subdomain
//   looksLike("ab.com", "cd.com");                    // false: too short for 2 edits to mean
//   "alike"
//
//   // Impersonation of an internal account's name in From:
//   if (sameDisplayName(mailbox.display_name, "John Doe")) ...  // "JOHN  DÕE", "Doe, John", "J0hn
//   Doe"
//
//   // Many protected domains: prepare them once.
//   LookalikeDomain protected_domain = LookalikeDomain::make("paypal.com");
//   looksLike(LookalikeDomain::make(sender_domain), protected_domain);
//
// DESCRIPTION
//   A confusable skeleton (UTS #39 section 4, uspoof_getSkeleton) maps every character to a
//   prototype of its confusable class ("0" -> "O", Cyrillic "а" -> "a", "m" -> "rn"); two
//   strings that display alike have equal skeletons. Skeletons are not case-folded, so the
//   keys used here are NFKC_Casefold(skeleton(NFKC_Casefold(s))): equal keys mean "alike
//   whatever the case".
//
//   looksLike(a, b) is true for two different domains, neither a subdomain of the other, when
//     - their keys are equal, or
//     - after dropping the trailing labels they share, the keys or the U-label forms are
//       within LookalikeOptions::max_edit_distance (default 2) edits of each other, and each
//       has at least min_chars_per_edit characters per edit counted (so that 2-letter names
//       are not all alike), or
//     - one contains all the labels of the other (at least two) followed by more labels
//       ("paypal.com.evil.example").
//   Domains are compared in U-label form (an A-label "xn--..." is converted first), so an
//   A-label and its U-label are the same domain, never a lookalike.
//
//   displayNameKey normalizes a display name for "equals an internal account's name": "Last,
//   First" becomes "First Last"; NFKC case folding (which also drops default-ignorable
//   characters such as zero-width joiners); everything but letters, digits and marks becomes
//   one space; then the confusable key.
//
// ERRORS
//   None. If ICU data were missing, keys degrade to the text as given (equality only).
//
// LIMITS
//   Inputs are cut to 1024 bytes; editDistance works on at most 256 code points per side and
//   costs O(n * max).
//
// THREAD SAFETY
//   All functions may run concurrently: the ICU spoof checker and normalizer are created once
//   and only read.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace meshgate::mail {

struct LookalikeOptions {
  size_t max_edit_distance = 2;
  size_t min_chars_per_edit = 3;
  bool embedded_domain_is_lookalike = true;  // "paypal.com.evil.example" looks like paypal.com
};

// The UTS #39 skeleton of a UTF-8 string (invalid UTF-8 is repaired first).
std::string confusableSkeleton(std::string_view utf8);

// The case-insensitive confusable key described above.
std::string confusableKey(std::string_view utf8);

// Damerau-Levenshtein (optimal string alignment) distance over code points, or max + 1 if it
// is larger than max.
size_t editDistance(std::string_view a, std::string_view b, size_t max);

// A domain prepared for repeated comparison.
class LookalikeDomain {
 public:
  // Never fails: a name that is not a valid domain is kept, lower-cased, and compared as text.
  static LookalikeDomain make(std::string_view domain);

  const std::string& ascii() const { return ascii_; }
  const std::string& unicode() const { return unicode_; }
  const std::string& key() const { return key_; }
  bool valid() const { return valid_; }

 private:
  std::string ascii_;
  std::string unicode_;
  std::string key_;
  bool valid_ = false;
};

bool looksLike(const LookalikeDomain& a, const LookalikeDomain& b,
               const LookalikeOptions& options = LookalikeOptions());
bool looksLike(std::string_view domain_a, std::string_view domain_b,
               const LookalikeOptions& options = LookalikeOptions());

// "" when the name has no letters or digits.
std::string displayNameKey(std::string_view display_name);
// Equal non-empty keys.
bool sameDisplayName(std::string_view a, std::string_view b);

}  // namespace meshgate::mail
