// NAME
//   header.h - header fields of one message: an ordered list with milter index semantics,
//   RFC 2047 encoded-word decoding and unfolding.
//
// SYNOPSIS
//   HeaderList headers;                       // the milter: from xxfi_header, in order
//   headers.add("Subject", "=?utf-8?q?Gr=C3=BC=C3=9Fe?=");
//   std::string subject = decodeEncodedWords(*headers.find("subject"));   // "Grüße"
//
//   // Delete every incoming copy of our own header, last first (OpenDKIM CVE-2022-48521):
//   for (size_t index : headers.deletionIndexes("Mesh-Security-Signal"))
//     smfi_chgheader(ctx, "Mesh-Security-Signal", index, nullptr);
//
//   size_t body_offset = readHeaderSection(eml_bytes, &headers);  // an .eml file
//
// DESCRIPTION
//   A HeaderList keeps the fields in message order with their raw values (after the colon and
//   the whitespace that follows it; folding line breaks kept as received). Names compare
//   case-insensitively. An occurrence index is 1-based among the fields of that name, exactly
//   as libmilter's smfi_chgheader counts (Postfix and Sendmail both compare names without
//   case); a position is the 0-based place in the whole list, as smfi_insheader counts.
//
//   readHeaderSection reads a header section the way Postfix's cleanup does (is_header()): a
//   field name is printable ASCII without ':' and may be followed by spaces before the colon;
//   the section ends at the first empty line, and a line that is neither a field nor a
//   continuation starts the body (flagged kMalformedHeader). Agreeing with the MTA on where the
//   headers end matters: a filter that reads them differently can be bypassed.
//
//   decodeEncodedWords decodes like a mail client, not like a validator, because the policy
//   must see what the reader will see: encoded words are decoded wherever they are well formed
//   (also inside quoted strings and next to other text), whitespace between adjacent encoded
//   words is dropped, and the bytes of adjacent words in one charset are joined before charset
//   conversion (a character may be split across words). Raw 8-bit text is read as UTF-8 when
//   valid and as windows-1252 otherwise. The result is valid UTF-8 without NUL.
//
// ERRORS
//   None: what is wrong with the input is reported as Anomalies (HeaderList::anomalies) or a
//   malformed flag, never as a failure.
//
// LIMITS
//   Limits::max_headers, max_header_section_bytes (fields past them are dropped and
//   overflowed() is set), max_header_value_bytes (longer values are cut), max_line_length
//   (flagged only). When overflowed(), the list is incomplete: a caller that must see every copy
//   of a field (to delete forged copies) should refuse the message rather than trust it.
//
// THREAD SAFETY
//   HeaderList is a value type: one per message; concurrent const use is safe. The functions
//   are safe to call concurrently.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mail/limits.h"

namespace meshgate::mail {

struct Header {
  std::string name;   // as received, trailing whitespace before the colon removed
  std::string value;  // raw, as received: folding kept, leading whitespace removed
};

class HeaderList {
 public:
  explicit HeaderList(const Limits& limits = Limits());

  // Appends one field. Returns false if it was dropped (too many fields or bytes).
  bool add(std::string_view name, std::string_view value);

  size_t size() const { return headers_.size(); }
  bool empty() const { return headers_.empty(); }
  size_t bytes() const { return bytes_; }  // names and values kept (the section limit's count)
  const Header& operator[](size_t position) const { return headers_[position]; }
  std::vector<Header>::const_iterator begin() const { return headers_.begin(); }
  std::vector<Header>::const_iterator end() const { return headers_.end(); }

  // Number of fields called name (any case).
  size_t count(std::string_view name) const;
  // Raw value of the first field called name, or nullptr.
  const std::string* find(std::string_view name) const;
  // The index-th (1-based) field called name, as smfi_chgheader counts; nullptr if none.
  const Header* occurrence(std::string_view name, size_t index) const;
  // 0-based position in the list of the index-th (1-based) field called name.
  std::optional<size_t> positionOf(std::string_view name, size_t index) const;
  // All fields called name, in message order.
  std::vector<const Header*> all(std::string_view name) const;
  // smfi_chgheader indexes that delete every field called name: count, count-1, ..., 1. Last
  // first, so that each deletion leaves the indexes still to come valid.
  std::vector<size_t> deletionIndexes(std::string_view name) const;

  // What add() met: kTooManyHeaders, kHeaderTruncated, kNulByte, kLongLine.
  const Anomalies& anomalies() const { return anomalies_; }
  bool overflowed() const { return anomalies_.has(Anomaly::kTooManyHeaders); }
  // Flags a problem found by the reader of the header section (kMalformedHeader).
  void noteAnomaly(Anomaly a) { anomalies_.add(a); }

 private:
  std::vector<Header> headers_;
  size_t bytes_ = 0;
  size_t max_headers_;
  size_t max_value_bytes_;
  size_t max_section_bytes_;
  size_t max_line_length_;
  Anomalies anomalies_;
};

// Reads the header section at the start of message (CRLF or LF line ends; a leading mbox
// "From " line is skipped) into *headers. Returns the offset of the body: after the empty line
// that ends the section, at the first line that is not a field, or message.size().
size_t readHeaderSection(std::string_view message, HeaderList* headers);

// True if line (without its line end) starts a header field as readHeaderSection sees it.
bool isHeaderFieldLine(std::string_view line);

// Removes folding: a line break followed by whitespace goes; any other CR or LF becomes a space.
std::string unfold(std::string_view value);

// RFC 2047 decoding of an (unstructured or phrase) header value to UTF-8; unfolds first.
// *malformed (if given) is set when an encoded word had an unknown charset or bad encoding.
std::string decodeEncodedWords(std::string_view value, bool* malformed = nullptr);

// Splits "type/subtype; name=value; ..." (Content-Type, Content-Disposition). Parameter names
// are lower-cased; RFC 2231 continuations (name*0, name*1*) are joined and charset'ed
// values (utf-8''%E2%82%AC) decoded; encoded words in values (Outlook's non-standard
// filename="=?utf-8?B?...?=") are decoded too. All strings are UTF-8.
struct StructuredField {
  std::string value;  // lower-cased "type/subtype" or "attachment"; "" when absent
  std::vector<std::pair<std::string, std::string>> params;
  bool malformed = false;
  // The value of the first parameter called name (lower-case), or nullptr.
  const std::string* param(std::string_view name) const;
};
StructuredField parseStructuredField(std::string_view value);

}  // namespace meshgate::mail
