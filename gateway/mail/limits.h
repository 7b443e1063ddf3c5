// NAME
//   limits.h - the bounds of the mail parsers, and the anomalies they report.
//
// SYNOPSIS
//   mail::Limits limits;            // the defaults suit a Postfix with its default limits
//   limits.max_depth = 16;
//   mail::MessageView view = mail::parseMessage(bytes, limits);
//   if (view.anomalies().has(mail::Anomaly::kMultipleFrom)) ...
//
// DESCRIPTION
//   Every parser in meshgate_mail works on hostile input: several From: fields, NUL bytes, a
//   1 MB header line, 10,000 fields, broken encodings, MIME nested 100 deep, a 50 MB body. None
//   of that is an error. The parsers do a bounded amount of work and keep a bounded amount of
//   memory, and say what they met or cut in an Anomalies set, so that the policy can decide
//   (a message with two From: fields is a policy question, not a parse failure).
//
//   Memory is bounded by roughly max_header_section_bytes + max_text_bytes_total + one decoded
//   embedded message (max_embedded_message_bytes) + small per-part records; time is linear in
//   min(body size, max_body_bytes) with a small factor for the open MIME boundaries.
//
// THREAD SAFETY
//   Value types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meshgate::mail {

struct Limits {
  // Header section. Postfix cuts one logical header at header_size_limit (100 KiB) itself.
  size_t max_headers = 10'000;                        // fields kept; later ones are dropped
  size_t max_header_value_bytes = 128 * 1024;         // one field; longer values are cut
  size_t max_header_section_bytes = 4 * 1024 * 1024;  // all names and values together
  size_t max_line_length = 998;  // RFC 5322 2.1.1; longer lines are flagged only
  size_t max_mailboxes = 2'000;  // per address field (From, To, Cc...)

  // Body and MIME. Postfix's default message_size_limit is 10 MB, so real mail is parsed whole.
  size_t max_body_bytes = 64 * 1024 * 1024;       // the rest of a longer body is not looked at
  size_t max_depth = 32;                          // multipart and message/rfc822 nesting
  size_t max_parts = 1'000;                       // MIME parts (leaves and containers)
  size_t max_part_headers = 100;                  // fields of one MIME part
  size_t max_text_bytes_per_part = 1024 * 1024;   // decoded UTF-8 text kept per text part
  size_t max_text_bytes_total = 4 * 1024 * 1024;  // decoded UTF-8 text kept per message
  // A message/rfc822 part sent base64 or quoted-printable must be decoded before it can be
  // parsed; larger ones are listed as attachments but not looked into.
  size_t max_embedded_message_bytes = 16 * 1024 * 1024;
};

// What the parsers met. Names are stable (logs, metrics and the security signal use them).
enum class Anomaly : uint8_t {
  kMultipleFrom,        // "multiple-from": more than one From: field
  kMissingFrom,         // "missing-from"
  kMalformedAddress,    // "malformed-address": an address field that did not parse cleanly
  kDuplicateHeader,     // "duplicate-header": a field RFC 5322 3.6 allows once, seen twice
  kNulByte,             // "nul-byte": a NUL in a header or the body
  kLongLine,            // "long-line": a line longer than max_line_length
  kHeaderTruncated,     // "header-truncated": a field value was cut to max_header_value_bytes
  kTooManyHeaders,      // "too-many-headers": fields beyond the limits were dropped
  kMalformedHeader,     // "malformed-header": a header line that is not a field (ends headers)
  kBadEncodedWord,      // "bad-encoded-word": RFC 2047 word with bad charset or encoding
  kUndecodablePart,     // "undecodable-part": bad base64 or quoted-printable in a part
  kUnknownCharset,      // "unknown-charset": a charset ICU does not know (decoded as best we can)
  kTruncatedMultipart,  // "truncated-multipart": a multipart without its closing boundary
  kBadBoundary,         // "bad-boundary": multipart with no usable boundary parameter
  kAmbiguousBoundary,   // "ambiguous-boundary": a line that starts with a boundary but is not one
  kNestingTooDeep,      // "nesting-too-deep": parts deeper than max_depth were not looked into
  kTooManyParts,        // "too-many-parts": parts beyond max_parts were not looked into
  kBodyTruncated,       // "body-truncated": the body beyond max_body_bytes was not looked at
  kTextTruncated,       // "text-truncated": decoded text beyond the text limits was dropped
  kCount
};

std::string_view anomalyName(Anomaly anomaly);

// A small set of Anomaly values.
class Anomalies {
 public:
  void add(Anomaly a) { bits_ |= bit(a); }
  void merge(const Anomalies& other) { bits_ |= other.bits_; }
  bool has(Anomaly a) const { return (bits_ & bit(a)) != 0; }
  bool empty() const { return bits_ == 0; }
  // Comma-separated names in enum order, "" when empty: "multiple-from,nul-byte".
  std::string toString() const;
  friend bool operator==(const Anomalies&, const Anomalies&) = default;

 private:
  static uint32_t bit(Anomaly a) { return uint32_t{1} << static_cast<unsigned>(a); }
  uint32_t bits_ = 0;
};
static_assert(static_cast<unsigned>(Anomaly::kCount) <= 32);

}  // namespace meshgate::mail
