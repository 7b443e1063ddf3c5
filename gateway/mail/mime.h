// NAME
//   mime.h - a read-only view of one message: decoded subject, address fields, text parts,
//   attachments, embedded messages, and the anomalies met on the way.
//
// SYNOPSIS
//   // The milter: headers from xxfi_header, body bytes from xxfi_body, at xxfi_eom:
//   mail::MessageView view = mail::parseMime(std::move(headers), body);
//   // A file (tests, `meshgate signal verify FILE.eml`):
//   mail::MessageView view = mail::parseMessage(eml_bytes);
//
//   for (const mail::TextPart& t : view.textParts()) match(t.text);
//   for (const mail::Attachment& a : view.attachments())
//     if (a.detected_type == mail::FileType::kPe) ...
//   if (view.anomalies().has(mail::Anomaly::kMultipleFrom)) ...
//
// DESCRIPTION
//   The body is read in one pass, line by line, the way Postfix's mime_state reads it: a stack
//   of the open multipart boundaries; a delimiter line of any open level ends the parts inside
//   it; an inner multipart left open by an outer boundary is flagged kTruncatedMultipart. A
//   delimiter line is "--boundary" with nothing but "--" and whitespace after it (RFC 2046);
//   a line that only starts with an open boundary (which Postfix would take as one) stays
//   content and is flagged kAmbiguousBoundary. message/rfc822 parts are read in the same pass
//   (their headers become an EmbeddedMessage and their parts are listed with in_embedded_message
//   set); one sent base64 or quoted-printable is decoded and then parsed. Content-Type defaults to
//   text/plain (message/rfc822 inside multipart/digest).
//
//   Text parts are inline text/plain and text/html (not Content-Disposition: attachment). Their
//   text is decoded (Content-Transfer-Encoding, then the charset with ICU, see codec.h), HTML is
//   reduced to text (html.h), line ends become "\n" and invisible characters that only serve to
//   break words (soft hyphen, zero-width space/joiners, word joiner, BOM) are removed: the text
//   is for matching, not for display. Every other leaf part is an Attachment: its decoded size
//   is counted without keeping the content, and its type detected from the first bytes.
//
//   The view does not refer to the body it was made from; it may outlive it.
//
// LIMITS
//   See limits.h. Nesting deeper than max_depth, parts past max_parts, text past the text
//   limits and body bytes past max_body_bytes are not looked at, and the corresponding
//   Anomaly says so. Parsing never fails.
//
// THREAD SAFETY
//   MessageView is immutable once made; concurrent const use is safe. parseMime and
//   parseMessage may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mail/address.h"
#include "gateway/mail/filetype.h"
#include "gateway/mail/header.h"
#include "gateway/mail/limits.h"

namespace meshgate::mail {

struct TextPart {
  std::string path;          // MIME part number, IMAP style: "1", "2.1"
  std::string content_type;  // "text/plain" or "text/html"
  std::string charset;       // as declared, lower-case; "" if none
  std::string text;          // UTF-8 (see DESCRIPTION)
  size_t depth = 0;          // containers (multipart or message) around the part
  bool in_embedded_message = false;
  bool truncated = false;  // the text limits cut it
};

struct Attachment {
  std::string path;
  std::string content_type;  // declared, lower-case "type/subtype"
  std::string filename;      // Content-Disposition filename, else Content-Type name; UTF-8
  std::string disposition;   // "attachment", "inline" or ""
  FileType detected_type = FileType::kUnknown;  // from the decoded content's first bytes
  uint64_t size = 0;                            // decoded size in bytes
  size_t depth = 0;
  bool in_embedded_message = false;
  bool decode_error = false;  // bad base64/quoted-printable (the size counts what decoded)
};

// A message/rfc822 part (a forwarded message, a bounce).
struct EmbeddedMessage {
  std::string path;
  std::string subject;  // decoded
  std::vector<Mailbox> from;
  size_t depth = 0;
};

class MessageView {
 public:
  MessageView() = default;

  const HeaderList& headers() const { return headers_; }
  const std::string& subject() const { return subject_; }  // the first Subject:, decoded
  // Mailboxes of every From: field in order (several From: fields are all listed, and flagged
  // kMultipleFrom: the policy must see every identity a reader might be shown).
  const std::vector<Mailbox>& from() const { return from_; }
  const std::vector<Mailbox>& sender() const { return sender_; }
  const std::vector<Mailbox>& replyTo() const { return reply_to_; }
  const std::vector<Mailbox>& to() const { return to_; }
  const std::vector<Mailbox>& cc() const { return cc_; }

  const std::vector<TextPart>& textParts() const { return text_parts_; }
  const std::vector<Attachment>& attachments() const { return attachments_; }
  const std::vector<EmbeddedMessage>& embeddedMessages() const { return embedded_; }

  const Anomalies& anomalies() const { return anomalies_; }
  size_t partCount() const { return part_count_; }  // parts seen, containers included
  size_t maxDepth() const { return max_depth_; }    // deepest part seen
  uint64_t bodySize() const { return body_size_; }  // as given, before max_body_bytes

 private:
  friend class MimeParser;

  HeaderList headers_;
  std::string subject_;
  std::vector<Mailbox> from_;
  std::vector<Mailbox> sender_;
  std::vector<Mailbox> reply_to_;
  std::vector<Mailbox> to_;
  std::vector<Mailbox> cc_;
  std::vector<TextPart> text_parts_;
  std::vector<Attachment> attachments_;
  std::vector<EmbeddedMessage> embedded_;
  Anomalies anomalies_;
  size_t part_count_ = 0;
  size_t max_depth_ = 0;
  size_t text_bytes_ = 0;
  uint64_t body_size_ = 0;
};

// The message whose header fields are headers and whose body (after the empty line) is body.
MessageView parseMime(HeaderList headers, std::string_view body, const Limits& limits = Limits());

// A whole RFC 5322 message (an .eml file; CRLF or LF; a leading mbox "From " line is skipped).
MessageView parseMessage(std::string_view message, const Limits& limits = Limits());

// A stable, line-oriented dump of a view for golden tests and diagnostics.
std::string describe(const MessageView& view);

}  // namespace meshgate::mail
