// NAME
//   text_scan.h - word and phrase matching for the content checks: case folding, word
//   splitting, and a phrase matcher built once per configuration.
//
// SYNOPSIS
//   PhraseMatcher m;
//   m.add("new bank details", 0);     // category 0
//   m.add("rechnung*", 1);            // a prefix: "Rechnungsnummer" matches
//   std::string folded = foldForMatching(view.subject());
//   uint64_t categories = m.scan(folded);   // bit 0 and/or bit 1 set
//
// DESCRIPTION
//   Matching is done on folded text: NFKC case folding (ICU), so "RECHNUNG", "Rechnung" and the
//   full-width "Ｒｅｃｈｎｕｎｇ" are one word, and "ß" matches "ss". Words are runs of letters,
//   digits and combining marks; everything else separates words, so a phrase matches across
//   line breaks, runs of spaces and punctuation ("carte-cadeau" matches "carte cadeau").
//   A phrase matches whole words only, except that a '*' at the end of its last word makes
//   that word a prefix.
//
//   The matcher is a trie over words (hash maps keyed by word); a bit table of the first two
//   bytes and the length of every phrase's first word turns most words of a text away before
//   any hashing. A scan is linear in the text and independent of the number of phrases. Hand-written scanners rather than std::regex because std::regex
//   backtracks recursively (stack exhaustion on hostile input) and is slow.
//
// ERRORS
//   None: invalid UTF-8 is matched as U+FFFD.
//
// THREAD SAFETY
//   A PhraseMatcher is immutable after its last add(); scan() may run concurrently. The free
//   functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace meshgate::policy {

// NFKC_Casefold of UTF-8 text. ASCII and Latin-1 letters are folded without ICU (the bulk
// of en/de/fr/es text); every other piece of text between ASCII separators goes through ICU.
std::string foldForMatching(std::string_view utf8);
// The same, all through ICU: the reference the fast path is tested against.
std::string foldForMatchingWithIcu(std::string_view utf8);
// The text the number detectors (IBAN, BIC, routing, wallets) read, case kept: Unicode spaces
// (no-break, narrow, ideographic...) become ' ', invisible format characters (zero-width,
// soft hyphen, invisible operators) are dropped, fullwidth ASCII becomes ASCII. Word and
// Outlook put U+00A0 inside IBANs; a hostile sender puts U+2062 there.
std::string detectorText(std::string_view utf8);

// The words of folded text, in order (views into `folded`).
void splitWords(std::string_view folded, std::vector<std::string_view>* words);

// True when folded (or ASCII lower-case) text contains `word` as a whole word.
bool containsWord(std::string_view folded, std::string_view word);

class PhraseMatcher {
 public:
  static constexpr unsigned kMaxCategories = 64;

  PhraseMatcher();

  // Adds a phrase (folded here) for category (< kMaxCategories). A phrase without words is
  // ignored and false returned.
  bool add(std::string_view phrase, unsigned category);
  bool empty() const { return phrase_count_ == 0; }

  // The categories whose phrases occur in folded text, as a bit set.
  uint64_t scan(std::string_view folded) const;
  uint64_t scanWords(const std::vector<std::string_view>& words) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Prefix {
    std::string prefix;
    uint64_t categories = 0;
  };
  struct Node {
    std::unordered_map<std::string, size_t, Hash, std::equal_to<>> children;
    std::vector<Prefix> prefixes;  // last words written with '*'
    uint64_t categories = 0;       // phrases that end here
  };

  // Which words can start a phrase, by (first byte, second byte, length) for whole words and
  // by (first byte, second byte) for prefixes: most words of a text start none, and this
  // answers that without hashing the word.
  static size_t startKey(std::string_view w);
  static size_t prefixKey(std::string_view w);
  bool mayStart(std::string_view w) const;

  std::vector<Node> nodes_;
  std::vector<bool> start_words_;     // startKey -> some root child may be this word
  std::vector<bool> start_prefixes_;  // prefixKey -> some root prefix may start this word
  size_t phrase_count_ = 0;
};

}  // namespace meshgate::policy
