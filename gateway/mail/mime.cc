// mime.cc - the one-pass MIME reader behind MessageView.
#include "gateway/mail/mime.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "gateway/mail/codec.h"
#include "gateway/mail/html.h"
#include "gateway/util/strings.h"

namespace meshgate::mail {
// Not in the anonymous namespace: MimeParser, which mime.h names as a friend and so has
// external linkage, keeps one in its state.
namespace mime_internal {

// What a part's header section says about it, plus where the part sits.
struct PartInfo {
  std::string type;  // lower-case "type/subtype"
  StructuredField content_type;
  StructuredField disposition;
  std::string encoding;  // lower-case Content-Transfer-Encoding, "" if none
  std::string path;
  size_t depth = 0;
  bool embedded = false;     // inside a message/rfc822 part
  bool entity_root = false;  // the top part of a message (the message itself or an embedded one)
  bool digest_child = false;
};

}  // namespace mime_internal
using mime_internal::PartInfo;

namespace {

// RFC 2046 allows 70; longer ones exist in the wild, absurd ones are refused.
constexpr size_t kMaxBoundary = 200;

bool isIdentityEncoding(std::string_view enc) {
  return enc.empty() || enc == "7bit" || enc == "8bit" || enc == "binary";
}

bool isMessageType(std::string_view type) {
  return type == "message/rfc822" || type == "message/global";
}

std::string leafPath(const PartInfo& info) {
  if (!info.entity_root) return info.path;
  return info.path.empty() ? "1" : info.path + ".1";
}

// CRLF and lone CR become LF; characters that only break words are removed.
void normalizeText(std::string* text) {
  std::string& s = *text;
  size_t w = 0;
  const size_t n = s.size();
  for (size_t r = 0; r < n;) {
    unsigned char c = static_cast<unsigned char>(s[r]);
    if (c == '\r') {
      s[w++] = '\n';
      r += (r + 1 < n && s[r + 1] == '\n') ? 2 : 1;
      continue;
    }
    if (c == 0xC2 && r + 1 < n && static_cast<unsigned char>(s[r + 1]) == 0xAD) {  // U+00AD
      r += 2;
      continue;
    }
    if (c == 0xE2 && r + 2 < n) {
      auto c1 = static_cast<unsigned char>(s[r + 1]);
      auto c2 = static_cast<unsigned char>(s[r + 2]);
      if ((c1 == 0x80 && c2 >= 0x8B && c2 <= 0x8D) || (c1 == 0x81 && c2 == 0xA0)) {
        r += 3;  // U+200B..U+200D, U+2060
        continue;
      }
    }
    if (c == 0xEF && r + 2 < n && static_cast<unsigned char>(s[r + 1]) == 0xBB &&
        static_cast<unsigned char>(s[r + 2]) == 0xBF) {  // U+FEFF
      r += 3;
      continue;
    }
    s[w++] = s[r++];
  }
  s.resize(w);
}

// RFC 3676 format=flowed: a line ending in a space continues on the next line (with delsp=yes
// that space was added by the sender and goes); a leading space was added ("stuffed") and goes.
// Without this, "IBAN DE89 " / "3704 ..." would be split by a line break the reader never sees.
void unflow(std::string* text, bool delsp) {
  std::string out;
  out.reserve(text->size());
  size_t start = 0;
  while (start < text->size()) {
    size_t nl = text->find('\n', start);
    size_t end = nl == std::string::npos ? text->size() : nl;
    std::string_view line = std::string_view(*text).substr(start, end - start);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    bool flowed = !line.empty() && line.back() == ' ' && line != "-- ";
    if (flowed && delsp) line.remove_suffix(1);
    out += line;
    if (!flowed && nl != std::string::npos) out.push_back('\n');
    start = nl == std::string::npos ? text->size() : nl + 1;
  }
  *text = std::move(out);
}

// <meta charset="..."> or http-equiv content="...; charset=..." in the first bytes of HTML.
std::string sniffHtmlCharset(std::string_view html) {
  std::string head = toLowerAscii(html.substr(0, 2048));
  size_t p = head.find("charset=");
  if (p == std::string::npos) return "";
  p += 8;
  while (p < head.size() && (head[p] == '"' || head[p] == '\'' || isSpaceOrTab(head[p]))) ++p;
  size_t start = p;
  while (p < head.size() && p - start < 40) {
    char c = head[p];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':';
    if (!ok) break;
    ++p;
  }
  return head.substr(start, p - start);
}

void appendMailboxes(const HeaderList& headers, std::string_view name, const Limits& limits,
                     std::vector<Mailbox>* out, bool* malformed) {
  for (const Header* h : headers.all(name)) {
    MailboxList list = parseMailboxList(h->value, limits);
    if (list.malformed || list.truncated || list.mailboxes.empty()) *malformed = true;
    for (Mailbox& m : list.mailboxes) {
      if (out->size() >= limits.max_mailboxes) {
        *malformed = true;
        return;
      }
      out->push_back(std::move(m));
    }
  }
}

}  // namespace

class MimeParser {
 public:
  static MessageView parse(HeaderList headers, std::string_view body, const Limits& limits) {
    MessageView view;
    view.headers_ = std::move(headers);
    view.body_size_ = body.size();
    if (body.size() > limits.max_body_bytes) {
      body = body.substr(0, limits.max_body_bytes);
      view.anomalies_.add(Anomaly::kBodyTruncated);
    }
    if (!body.empty() && std::memchr(body.data(), 0, body.size()) != nullptr) {
      view.anomalies_.add(Anomaly::kNulByte);
    }
    MimeParser(limits, &view).parseTopLevel(body);
    return view;
  }

 private:
  MimeParser(const Limits& limits, MessageView* view) : limits_(limits), view_(view) {}

  void parseTopLevel(std::string_view body) {
    checkTopHeaders();
    if (!countPart()) return;
    PartInfo root = partInfo(view_->headers_, /*digest_child=*/false);
    root.entity_root = true;
    run(body, std::move(root));
  }

  enum class State { kIgnore, kHeaders, kBody };

  struct Frame {
    std::string boundary;
    std::string path;
    size_t depth = 0;
    size_t children = 0;
    bool digest = false;
    bool embedded = false;
  };

  struct OpenMessage {  // a message/rfc822 part read in line (not encoded)
    size_t level;       // stack size when it opened: a boundary at a lower level ends it
    size_t start;
    size_t attachment;  // index in view_->attachments_
  };

  struct Scan {
    std::string_view body;
    std::vector<Frame> stack;
    std::vector<OpenMessage> messages;
    State state = State::kIgnore;
    PartInfo current;  // kBody: the leaf; kHeaders: where the part whose headers are read sits
    bool message_headers = false;  // kHeaders: these are an embedded message's headers
    size_t start = 0;              // kBody: content start; kHeaders: header section start
  };

  void note(Anomaly a) { view_->anomalies_.add(a); }

  bool countPart() {
    if (stopped_) return false;
    if (view_->part_count_ >= limits_.max_parts) {
      note(Anomaly::kTooManyParts);
      stopped_ = true;
      return false;
    }
    ++view_->part_count_;
    return true;
  }

  void checkTopHeaders() {
    const HeaderList& h = view_->headers_;
    view_->anomalies_.merge(h.anomalies());
    static constexpr std::array<std::string_view, 13> kOnce = {
        "subject",     "date",       "sender",       "reply-to",
        "to",          "cc",         "bcc",          "message-id",
        "in-reply-to", "references", "content-type", "content-transfer-encoding",
        "mime-version"};
    std::array<size_t, kOnce.size()> seen{};
    size_t from = 0;
    for (const Header& f : h) {
      if (equalsIgnoreCase(f.name, "from")) ++from;
      for (size_t i = 0; i < kOnce.size(); ++i) {
        if (equalsIgnoreCase(f.name, kOnce[i]) && ++seen[i] == 2) note(Anomaly::kDuplicateHeader);
      }
    }
    if (from == 0) note(Anomaly::kMissingFrom);
    if (from > 1) note(Anomaly::kMultipleFrom);

    if (const std::string* subject = h.find("subject")) {
      bool bad = false;
      view_->subject_ = decodeEncodedWords(*subject, &bad);
      if (bad) note(Anomaly::kBadEncodedWord);
    }
    bool malformed = false;
    appendMailboxes(h, "from", limits_, &view_->from_, &malformed);
    appendMailboxes(h, "sender", limits_, &view_->sender_, &malformed);
    appendMailboxes(h, "reply-to", limits_, &view_->reply_to_, &malformed);
    if (malformed) note(Anomaly::kMalformedAddress);
    bool ignored = false;  // To/Cc are often sloppy; their state is not a signal of its own
    appendMailboxes(h, "to", limits_, &view_->to_, &ignored);
    appendMailboxes(h, "cc", limits_, &view_->cc_, &ignored);
  }

  PartInfo partInfo(const HeaderList& h, bool digest_child) {
    PartInfo info;
    info.digest_child = digest_child;
    if (const std::string* ct = h.find("content-type")) {
      info.content_type = parseStructuredField(*ct);
    }
    info.type = info.content_type.value;
    size_t slash = info.type.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == info.type.size()) {
      info.type = digest_child ? "message/rfc822" : "text/plain";  // RFC 2045 5.2
    }
    if (const std::string* cte = h.find("content-transfer-encoding")) {
      info.encoding = toLowerAscii(trimWhitespace(*cte));
    }
    if (const std::string* cd = h.find("content-disposition")) {
      info.disposition = parseStructuredField(*cd);
    }
    return info;
  }

  // One entity (a message's body, given its root part) in one pass over its lines.
  void run(std::string_view body, PartInfo root) {
    Scan s;
    s.body = body;
    openPart(s, std::move(root), 0);
    size_t pos = 0;
    while (pos < body.size() && !stopped_) {
      const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
      size_t line_end = nl == nullptr
                            ? body.size()
                            : static_cast<size_t>(static_cast<const char*>(nl) - body.data());
      size_t next = nl == nullptr ? body.size() : line_end + 1;
      size_t content_end = line_end;
      if (content_end > pos && body[content_end - 1] == '\r') --content_end;
      std::string_view line = body.substr(pos, content_end - pos);
      if (line.size() > limits_.max_line_length) note(Anomaly::kLongLine);
      if (!s.stack.empty() && line.size() >= 2 && line[0] == '-' && line[1] == '-') {
        if (std::optional<std::pair<size_t, bool>> m = matchBoundary(s, line)) {
          boundary(s, m->first, m->second, pos, next);
          pos = next;
          continue;
        }
      }
      if (s.state == State::kHeaders) headerLine(s, line, pos, next);
      pos = next;
    }
    size_t end = stopped_ ? pos : body.size();
    finishCurrent(s, end);
    closeMessages(s, 0, end);
    if (!s.stack.empty() && !stopped_) note(Anomaly::kTruncatedMultipart);
  }

  // A delimiter line is "--" boundary ["--"] followed by nothing but whitespace (RFC 2046
  // 5.1.1; as Python, and most clients, read it), innermost level first. Postfix also takes a
  // line that merely starts with "--boundary"; such a line is read as content here and flagged
  // kAmbiguousBoundary, because readers may split the message differently from us.
  std::optional<std::pair<size_t, bool>> matchBoundary(const Scan& s, std::string_view line) {
    std::string_view rest = line.substr(2);
    bool prefix_only = false;
    for (size_t i = s.stack.size(); i-- > 0;) {
      const std::string& b = s.stack[i].boundary;
      if (rest.size() < b.size() || rest.compare(0, b.size(), b) != 0) continue;
      std::string_view after = rest.substr(b.size());
      bool close = after.size() >= 2 && after[0] == '-' && after[1] == '-';
      if (close) after.remove_prefix(2);
      if (std::all_of(after.begin(), after.end(), [](char c) { return isSpaceOrTab(c); })) {
        return std::make_pair(i, close);
      }
      prefix_only = true;
    }
    if (prefix_only) note(Anomaly::kAmbiguousBoundary);
    return std::nullopt;
  }

  void boundary(Scan& s, size_t level, bool close, size_t line_start, size_t next) {
    // The line break before a boundary line belongs to the boundary (RFC 2046 5.1.1).
    size_t end = line_start;
    if (end > 0 && s.body[end - 1] == '\n') --end;
    if (end > 0 && s.body[end - 1] == '\r') --end;
    finishCurrent(s, end);
    closeMessages(s, level + 1, end);
    if (s.stack.size() > level + 1) {
      note(Anomaly::kTruncatedMultipart);  // inner multiparts never closed
      s.stack.resize(level + 1);
    }
    if (close) {
      s.stack.pop_back();
      s.state = State::kIgnore;  // epilogue
      return;
    }
    if (!countPart()) return;
    Frame& f = s.stack[level];
    ++f.children;
    PartInfo child;
    child.path = (f.path.empty() ? "" : f.path + ".") + std::to_string(f.children);
    child.depth = f.depth + 1;
    child.embedded = f.embedded;
    child.digest_child = f.digest;
    s.current = std::move(child);
    s.message_headers = false;
    s.state = State::kHeaders;
    s.start = next;
  }

  void headerLine(Scan& s, std::string_view line, size_t pos, size_t next) {
    if (line.empty()) {
      endHeaders(s, pos, next);
    } else if (isSpaceOrTab(line[0])) {
      if (pos == s.start) {  // a continuation with nothing to continue
        note(Anomaly::kMalformedHeader);
        endHeaders(s, pos, pos);
      }
    } else if (!isHeaderFieldLine(line)) {
      note(Anomaly::kMalformedHeader);  // Postfix too takes this line as the start of the body
      endHeaders(s, pos, pos);
    }
  }

  // The header section [s.start, section_end) is complete; content starts at content_start.
  void endHeaders(Scan& s, size_t section_end, size_t content_start) {
    std::string_view section = s.body.substr(s.start, section_end - s.start);
    if (s.message_headers) {
      HeaderList h(limits_);
      readHeaderSection(section, &h);
      PartInfo root = embeddedRoot(h, s.current);
      s.message_headers = false;
      openPart(s, std::move(root), content_start);
      return;
    }
    Limits part_limits = limits_;
    part_limits.max_headers = limits_.max_part_headers;
    HeaderList h(part_limits);
    readHeaderSection(section, &h);
    view_->anomalies_.merge(h.anomalies());
    if (h.count("content-type") > 1 || h.count("content-transfer-encoding") > 1) {
      note(Anomaly::kDuplicateHeader);
    }
    PartInfo info = partInfo(h, s.current.digest_child);
    info.path = s.current.path;
    info.depth = s.current.depth;
    info.embedded = s.current.embedded;
    openPart(s, std::move(info), content_start);
  }

  // Records an embedded message from its headers and returns its root part.
  PartInfo embeddedRoot(const HeaderList& h, const PartInfo& container) {
    EmbeddedMessage em;
    em.path = container.path;
    em.depth = container.depth + 1;
    if (const std::string* subject = h.find("subject")) em.subject = decodeEncodedWords(*subject);
    bool ignored = false;
    appendMailboxes(h, "from", limits_, &em.from, &ignored);
    view_->embedded_.push_back(std::move(em));
    PartInfo root = partInfo(h, /*digest_child=*/false);
    root.path = container.path;
    root.depth = container.depth + 1;
    root.embedded = true;
    root.entity_root = true;
    return root;
  }

  void openPart(Scan& s, PartInfo info, size_t content_start) {
    view_->max_depth_ = std::max(view_->max_depth_, info.depth);
    bool too_deep = info.depth + 1 > limits_.max_depth;
    if (info.type.rfind("multipart/", 0) == 0) {
      const std::string* b = info.content_type.param("boundary");
      if (b == nullptr || b->empty() || b->size() > kMaxBoundary) {
        note(Anomaly::kBadBoundary);
        info.type = "text/plain";  // what clients show for it
      } else if (too_deep) {
        note(Anomaly::kNestingTooDeep);  // kept as one opaque attachment
      } else {
        Frame f;
        f.boundary = *b;
        f.path = info.path;
        f.depth = info.depth;
        f.digest = info.type == "multipart/digest";
        f.embedded = info.embedded;
        s.stack.push_back(std::move(f));
        s.state = State::kIgnore;  // preamble
        return;
      }
    } else if (isMessageType(info.type) && isIdentityEncoding(info.encoding)) {
      if (too_deep) {
        note(Anomaly::kNestingTooDeep);
      } else {
        Attachment a = attachmentRecord(info);
        a.detected_type = FileType::kEmail;
        view_->attachments_.push_back(std::move(a));
        s.messages.push_back(
            OpenMessage{s.stack.size(), content_start, view_->attachments_.size() - 1});
        if (!countPart()) {
          s.state = State::kIgnore;
          return;
        }
        s.current = std::move(info);
        s.message_headers = true;
        s.state = State::kHeaders;
        s.start = content_start;
        return;
      }
    }
    s.current = std::move(info);
    s.current.path = leafPath(s.current);
    s.state = State::kBody;
    s.start = content_start;
  }

  void finishCurrent(Scan& s, size_t end) {
    if (s.state == State::kHeaders) {
      // The part ended inside its header section: it has headers and no content.
      endHeaders(s, std::max(end, s.start), std::max(end, s.start));
    }
    if (s.state == State::kBody) {
      std::string_view content =
          end > s.start ? s.body.substr(s.start, end - s.start) : std::string_view();
      leaf(s.current, content);
    }
    s.state = State::kIgnore;
  }

  // Embedded messages opened at stack level >= level end at end.
  void closeMessages(Scan& s, size_t level, size_t end) {
    while (!s.messages.empty() && s.messages.back().level >= level) {
      const OpenMessage& m = s.messages.back();
      view_->attachments_[m.attachment].size = end > m.start ? end - m.start : 0;
      s.messages.pop_back();
    }
  }

  Attachment attachmentRecord(const PartInfo& info) {
    Attachment a;
    a.path = info.path;
    a.content_type = info.type;
    a.disposition = info.disposition.value;
    if (const std::string* f = info.disposition.param("filename")) {
      a.filename = *f;
    } else if (const std::string* n = info.content_type.param("name")) {
      a.filename = *n;
    }
    a.depth = info.depth;
    a.in_embedded_message = info.embedded;
    return a;
  }

  void leaf(const PartInfo& info, std::string_view content) {
    bool text = (info.type == "text/plain" || info.type == "text/html") &&
                info.disposition.value != "attachment";
    if (text) {
      textLeaf(info, content);
    } else {
      attachmentLeaf(info, content);
    }
  }

  // Decodes the transfer encoding into *storage (or returns a view of content for identity
  // encodings); at most max_out bytes.
  std::string_view transferDecode(const PartInfo& info, std::string_view content, size_t max_out,
                                  std::string* storage, DecodeResult* result) {
    if (info.encoding == "base64") {
      *result = decodeBase64(content, storage, max_out);
    } else if (info.encoding == "quoted-printable") {
      *result = decodeQuotedPrintable(content, storage, max_out);
    } else {
      if (!isIdentityEncoding(info.encoding)) result->error = true;  // x-uuencode and friends
      result->size = content.size();
      result->truncated = content.size() > max_out;
      return content.substr(0, max_out);
    }
    return *storage;
  }

  void textLeaf(const PartInfo& info, std::string_view content) {
    TextPart part;
    part.path = info.path;
    part.content_type = info.type;
    if (const std::string* cs = info.content_type.param("charset"))
      part.charset = toLowerAscii(*cs);
    part.depth = info.depth;
    part.in_embedded_message = info.embedded;
    size_t remaining =
        limits_.max_text_bytes_total - std::min(limits_.max_text_bytes_total, view_->text_bytes_);
    size_t cap = std::min(limits_.max_text_bytes_per_part, remaining);

    std::string storage;
    DecodeResult d;
    std::string_view bytes = transferDecode(info, content, cap, &storage, &d);
    if (d.error) note(Anomaly::kUndecodablePart);
    std::string charset = part.charset;
    if (charset.empty() && info.type == "text/html") charset = sniffHtmlCharset(bytes);
    std::string utf8;
    ConvertResult c = convertToUtf8(charset, bytes, &utf8, cap);
    if (!c.known_charset) note(Anomaly::kUnknownCharset);
    if (info.type == "text/html") {
      part.text = htmlToText(utf8, cap);
    } else {
      part.text = std::move(utf8);
    }
    normalizeText(&part.text);
    const std::string* format = info.content_type.param("format");
    if (info.type == "text/plain" && format != nullptr && toLowerAscii(*format) == "flowed") {
      const std::string* delsp = info.content_type.param("delsp");
      unflow(&part.text, delsp != nullptr && toLowerAscii(*delsp) == "yes");
    }
    part.truncated = d.truncated || c.truncated;
    if (part.truncated) note(Anomaly::kTextTruncated);
    view_->text_bytes_ += part.text.size();
    view_->text_parts_.push_back(std::move(part));
  }

  void attachmentLeaf(const PartInfo& info, std::string_view content) {
    Attachment a = attachmentRecord(info);
    bool message = isMessageType(info.type);
    std::string head;
    DecodeResult d;
    std::string_view first = transferDecode(info, content, kFileTypeHeadBytes, &head, &d);
    a.size = d.size;
    a.decode_error = d.error;
    if (d.error) note(Anomaly::kUndecodablePart);
    a.detected_type = message ? FileType::kEmail : detectFileType(first);
    view_->attachments_.push_back(std::move(a));
    if (!message) return;
    // A message/rfc822 sent base64 or quoted-printable: decode it, then read it as a message.
    if (info.depth + 1 > limits_.max_depth) {
      note(Anomaly::kNestingTooDeep);
      return;
    }
    if (d.size > limits_.max_embedded_message_bytes || !countPart()) return;
    std::string decoded;
    transferDecode(info, content, limits_.max_embedded_message_bytes, &decoded, &d);
    HeaderList h(limits_);
    size_t body_offset = readHeaderSection(decoded, &h);
    PartInfo root = embeddedRoot(h, info);
    run(std::string_view(decoded).substr(body_offset), std::move(root));
  }

  const Limits& limits_;
  MessageView* view_;
  bool stopped_ = false;
};

MessageView parseMime(HeaderList headers, std::string_view body, const Limits& limits) {
  return MimeParser::parse(std::move(headers), body, limits);
}

MessageView parseMessage(std::string_view message, const Limits& limits) {
  HeaderList headers(limits);
  size_t body_offset = readHeaderSection(message, &headers);
  return parseMime(std::move(headers), message.substr(body_offset), limits);
}

namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void describeMailboxes(std::string* out, std::string_view label, const std::vector<Mailbox>& list) {
  if (list.empty()) return;
  *out += std::string(label) + ":";
  for (const Mailbox& m : list) {
    *out += " " + quoted(m.display_name) + " <" + m.address.toUnicodeString() + ">";
    if (!m.group.empty()) *out += " group=" + quoted(m.group);
    *out += ";";
  }
  *out += "\n";
}

}  // namespace

std::string describe(const MessageView& view) {
  std::string out;
  out += "subject: " + quoted(view.subject()) + "\n";
  describeMailboxes(&out, "from", view.from());
  describeMailboxes(&out, "sender", view.sender());
  describeMailboxes(&out, "reply-to", view.replyTo());
  describeMailboxes(&out, "to", view.to());
  describeMailboxes(&out, "cc", view.cc());
  out += "anomalies: " + view.anomalies().toString() + "\n";
  out += "parts: " + std::to_string(view.partCount()) +
         " max-depth: " + std::to_string(view.maxDepth()) + "\n";
  for (const TextPart& t : view.textParts()) {
    out += "text " + t.path + " " + t.content_type + " charset=" + t.charset +
           " depth=" + std::to_string(t.depth) + (t.in_embedded_message ? " embedded" : "") +
           (t.truncated ? " truncated" : "") + "\n";
    size_t start = 0;
    while (start <= t.text.size()) {
      size_t nl = t.text.find('\n', start);
      std::string_view line = std::string_view(t.text).substr(
          start, nl == std::string::npos ? std::string::npos : nl - start);
      out += "  | " + std::string(line) + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  for (const Attachment& a : view.attachments()) {
    out += "attachment " + a.path + " " + a.content_type + " name=" + quoted(a.filename) +
           " disposition=" + a.disposition + " size=" + std::to_string(a.size) +
           " detected=" + std::string(fileTypeName(a.detected_type)) +
           " depth=" + std::to_string(a.depth) + (a.in_embedded_message ? " embedded" : "") +
           (a.decode_error ? " decode-error" : "") + "\n";
  }
  for (const EmbeddedMessage& m : view.embeddedMessages()) {
    out += "embedded " + m.path + " depth=" + std::to_string(m.depth) +
           " subject=" + quoted(m.subject) + "\n";
    describeMailboxes(&out, "  from", m.from);
  }
  return out;
}

}  // namespace meshgate::mail
