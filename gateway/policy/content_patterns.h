// NAME
//   content_patterns.h - hand-written detectors for what the content checks look for in text:
//   bank identifiers (IBAN, SWIFT/BIC, US routing numbers), crypto-currency wallet addresses,
//   payment card numbers, private keys, password lines and API tokens.
//
// SYNOPSIS
//   std::string_view text = part.text;            // UTF-8, as the MIME view gives it
//   if (auto iban = findIban(text)) ...           // "DE89370400440532013000" (compact form)
//   if (findCardNumber(text)) ...
//   if (auto s = findSecret(text, SecretKinds{})) log(s->kind);   // "aws-access-key"
//
// DESCRIPTION
//   Each detector validates what it finds, so that ordinary numbers and words do not match:
//     IBAN          country code with its registered length, then ISO 7064 mod-97 = 1; spaces
//                   between characters allowed (the printed form "DE89 3704 ...").
//     SWIFT/BIC     upper-case BBBBCCLL[XXX] with a known country code, only when the word BIC
//                   or SWIFT precedes it closely (8 upper-case letters are also ordinary words).
//     routing       9 digits, a valid Federal Reserve prefix and the ABA checksum, only when
//                   "routing", "ABA", "RTN", "ACH" or "transit" precedes it closely (one 9-digit
//                   number in ten passes the checksum).
//     crypto        Bitcoin base58check (P2PKH/P2SH, the checksum is verified with SHA-256) and
//                   bech32/bech32m "bc1..." (checksum verified); Ethereum "0x" + 40 hex digits.
//     card number   13-19 digits, optionally grouped by single spaces or dashes; Luhn; an issuer
//                   range and a length that issuer uses (Visa, Mastercard, Amex, Discover, JCB,
//                   Diners, UnionPay); grouped digits must use a real card layout (4-4-4-4,
//                   4-6-5, ...); an ungrouped run also needs a card word or an expiry date
//                   nearby, because order and tracking numbers are ungrouped digit runs too.
//     secrets       PEM / OpenSSH / PGP private key blocks; "password: x" lines whose value is
//                   not a placeholder; AWS access key ids (AKIA/ASIA), GitHub tokens (ghp_,
//                   gho_, ghu_, ghs_, ghr_, github_pat_), Slack tokens (xoxb-, xoxp-, xoxa-,
//                   xoxs-), Google API keys (AIza), Stripe live keys (sk_live_, rk_live_), and
//                   JSON Web Tokens (three base64url parts, the first two JSON objects).
//   Detectors return what they found (for tests and logs that need it); callers that report to
//   the sender or the signal should say what kind was found, not the value.
//
// ERRORS
//   None.
//
// LIMITS
//   Linear in the text; each detector looks at each position a bounded number of times.
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meshgate::policy {

std::optional<std::string> findIban(std::string_view text);
std::optional<std::string> findBic(std::string_view text);
std::optional<std::string> findRoutingNumber(std::string_view text);
// "btc" or "eth" and the address.
struct WalletMatch {
  std::string kind;
  std::string address;
};
std::optional<WalletMatch> findCryptoWallet(std::string_view text);
std::optional<std::string> findCardNumber(std::string_view text);

struct SecretKinds {
  bool private_keys = true;
  bool password_lines = true;
  bool api_tokens = true;
};
struct SecretMatch {
  std::string kind;  // "private-key", "password", "aws-access-key", "github-token", ...
};
std::optional<SecretMatch> findSecret(std::string_view text, const SecretKinds& kinds);

// Validators, exposed for tests.
bool ibanChecksumValid(std::string_view compact_iban);  // upper-case, no spaces
bool abaChecksumValid(std::string_view nine_digits);
bool luhnValid(std::string_view digits);
bool bech32Valid(std::string_view address);  // "bc1..." (bech32 for v0, bech32m for v1+)
bool base58checkValid(std::string_view address);

}  // namespace meshgate::policy
