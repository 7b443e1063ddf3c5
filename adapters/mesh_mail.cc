// mesh_mail.cc - see mesh_mail.h.
#include "adapters/mesh_mail.h"


#include "adapters/ssh_keys.h"  // base64StdEncode
#include "gateway/mail/header.h"
#include "gateway/policy/security_signal.h"
#include "gateway/util/strings.h"
#include "gateway/util/time_format.h"

namespace meshgate::adapters {
namespace {

namespace model = mesh::model;

constexpr size_t kMaxHeaderText = 900;

// One line of header text: control characters become spaces, cut at a sane length.
std::string headerSafe(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (out.size() >= kMaxHeaderText) break;
    out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  }
  return std::string(trimWhitespace(out));
}

// local@domain in plain ASCII, nothing a header parser could read differently.
bool plainAddress(std::string_view a) {
  if (a.empty() || a.size() > 254) return false;
  auto at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size() ||
      a.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  for (unsigned char c : a) {
    if (c <= 0x20 || c >= 0x7f) return false;
    if (std::string_view("<>()[],;:\\\"").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return a.substr(at + 1).find('.') != std::string_view::npos;
}

std::string rfc5322Date(int64_t t) { return formatUtc(t, "%a, %d %b %Y %H:%M:%S +0000"); }

std::string isoTime(const model::DateTime& t) {
  return formatUtc(t.time_since_epoch().count(), "%Y-%m-%dT%H:%M:%SZ");
}

std::string toCrlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

struct Text {
  std::string subject;
  std::string body;  // UTF-8, \n line ends
};

std::string orUnknown(const std::optional<std::string>& s) {
  return s && !s->empty() ? headerSafe(*s) : std::string("(not given)");
}

void appendReferences(const model::Message& m, std::string& body) {
  for (const auto& r : m.references) {
    body += "Refers to Mesh message: " + orUnknown(r.message_id);
    if (r.relationship) body += " (" + headerSafe(*r.relationship) + ")";
    body += "\n";
  }
}

// `from`: who the text says the message is from (senderText).
Result<Text> describe(const model::AnyMessage& any, const std::string& from) {
  const model::Message* m = any.get<model::Message>();
  if (!m) return invalidArgument(std::string(any.typeName()) + " is not a Mesh Message");
  const std::string id = orUnknown(m->message_id);
  Text t;
  switch (any.type()) {
    case model::TypeId::kMessageMail: {
      const auto* mm = any.get<model::MessageMail>();
      t.subject = mm->subject ? headerSafe(*mm->subject) : "Mesh message from " + from;
      t.body = mm->text.value_or("");
      break;
    }
    case model::TypeId::kRequestContact: {
      const auto* rc = any.get<model::RequestContact>();
      t.subject = "Contact request from " + from;
      if (rc->subject && !rc->subject->empty()) t.subject += ": " + headerSafe(*rc->subject);
      t.body = from + " asks to exchange contact information with you through the Mesh.\n";
      if (rc->subject) t.body += "\nTheir message: " + *rc->subject + "\n";
      if (rc->reply.value_or(false)) t.body += "\nThey ask for your contact details in return.\n";
      t.body += "\nTo accept:  meshgate contacts accept " + id +
                "\nTo reject:  meshgate contacts reject " + id +
                "\nPending requests: meshgate contacts pending --account <your address>\n";
      break;
    }
    case model::TypeId::kReplyContact: {
      const auto* rc = any.get<model::ReplyContact>();
      t.subject = "Contact reply from " + from;
      if (rc->subject && !rc->subject->empty()) t.subject += ": " + headerSafe(*rc->subject);
      t.body = from + " answered your contact request.\n";
      if (rc->subject) t.body += "\nTheir message: " + *rc->subject + "\n";
      if (rc->pin_udf) t.body += "\nAuthenticated with PIN " + headerSafe(*rc->pin_udf) + ".\n";
      break;
    }
    case model::TypeId::kRequestConfirmation: {
      const auto* rc = any.get<model::RequestConfirmation>();
      t.subject = "Confirmation requested by " + from;
      t.body = from + " asks you to confirm:\n\n" + rc->text.value_or("(no text)") +
               "\n\nAnswer from your Mesh client (a ResponseConfirmation to message " + id +
               "). Nothing happens unless you confirm.\n";
      break;
    }
    case model::TypeId::kResponseConfirmation: {
      const auto* rc = any.get<model::ResponseConfirmation>();
      const bool accepted = rc->accept.value_or(false);
      t.subject = std::string("Confirmation ") + (accepted ? "accepted" : "declined") + " by " + from;
      t.body = from + (accepted ? " accepted" : " declined") + " your confirmation request";
      if (rc->request && rc->request->header.envelope_id) {
        t.body += " (envelope " + headerSafe(*rc->request->header.envelope_id) + ")";
      }
      t.body += ".\n";
      break;
    }
    case model::TypeId::kGroupInvitation: {
      const auto* gi = any.get<model::GroupInvitation>();
      t.subject = "Group invitation from " + from;
      t.body = from + " invites you to a Mesh group.\n";
      if (gi->text) t.body += "\n" + *gi->text + "\n";
      t.body += "\nAccept or decline it from your Mesh client (message " + id + ").\n";
      break;
    }
    case model::TypeId::kMessagePIN: {
      const auto* pin = any.get<model::MessagePIN>();
      t.subject = "Your Mesh PIN" + (pin->action ? " for " + headerSafe(*pin->action) : std::string());
      t.body = "A one-time PIN was issued";
      if (pin->account) t.body += " for the account " + headerSafe(*pin->account);
      t.body += ".\n\nPIN: " + orUnknown(pin->salted_pin) + "\n";
      if (pin->action) t.body += "Action: " + headerSafe(*pin->action) + "\n";
      if (pin->expires) t.body += "Expires: " + isoTime(*pin->expires) + "\n";
      if (pin->automatic.value_or(false)) {
        t.body += "The PIN alone completes the action: give it only to the party you expect.\n";
      }
      break;
    }
    case model::TypeId::kMessageError: {
      const auto* err = any.get<model::MessageError>();
      t.subject = "Mesh error: " + orUnknown(err->error_code);
      t.body = "The Mesh service of " + from + " reported an error: " + orUnknown(err->error_code) + "\n";
      break;
    }
    default:
      return invalidArgument(std::string(any.typeName()) +
                             " is not rendered as mail (expected MessageMail, RequestContact, "
                             "ReplyContact, RequestConfirmation, ResponseConfirmation, "
                             "GroupInvitation, MessagePIN or MessageError)");
  }
  if (!m->message_id) {
    // A message without an ID is still shown; the body says so.
  } else {
    t.body += "\nMesh message ID: " + id + "\n";
  }
  appendReferences(*m, t.body);
  return t;
}

// A header value as one field: its folds (a line break before a space or tab) are kept; any
// other line end - a CR alone, which the header parser does not split on, or an LF that would
// start a field of its own - and NUL become a space. Otherwise a carried "Subject: a\rX: b"
// would be delivered as two fields, a forged signal among them.
std::string fieldValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char next = i + 1 < value.size() ? value[i + 1] : '\0';
    if (c == '\r' && next == '\n') continue;  // the LF decides
    if (c == '\n') {
      out += next == ' ' || next == '\t' ? '\n' : ' ';
    } else if (c == '\r' || c == '\0') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string fieldLine(const std::string& name, const std::string& value) {
  return name + ": " + toCrlf(fieldValue(value)) + "\r\n";
}

}  // namespace

std::string quotedPrintable(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  size_t line_len = 0;
  auto emit = [&](const std::string& piece) {
    if (line_len + piece.size() > 75) {
      out += "=\r\n";
      line_len = 0;
    }
    out += piece;
    line_len += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r') continue;
    if (c == '\n') {
      out += "\r\n";
      line_len = 0;
      continue;
    }
    bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    // A "." alone at the start of a line is fine for SMTP (dot-stuffed) but "From " is not for
    // mbox readers: encode the F so no reader mangles it.
    if (c == 'F' && line_len == 0 && text.substr(i, 5) == "From ") literal = false;
    if (literal) {
      emit(std::string(1, static_cast<char>(c)));
    } else {
      emit(std::string{'=', kHex[c >> 4], kHex[c & 15]});
    }
  }
  if (!out.empty() && out.substr(out.size() - 2) != "\r\n") out += "\r\n";
  return out;
}

std::string encodeHeaderText(std::string_view text) {
  bool plain = true;
  for (unsigned char c : text) {
    if (c < 0x20 || c > 0x7e) plain = false;
  }
  if (plain && text.find("=?") == std::string_view::npos) return std::string(text);
  // Encoded words of at most 45 input bytes (60 base64 characters), never splitting a UTF-8
  // sequence.
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t n = std::min<size_t>(45, text.size() - i);
    while (n > 0 && i + n < text.size() &&
           (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
      --n;
    }
    if (n == 0) n = std::min<size_t>(45, text.size() - i);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64StdEncode(asBytes(text.substr(i, n))) + "?=";
    i += n;
  }
  return out;
}

Result<RenderedMail> renderMeshMessage(const model::AnyMessage& message,
                                       const MeshMailContext& ctx,
                                       const mesh::PrivateKey& gateway_key) {
  if (!plainAddress(ctx.recipient)) {
    return invalidArgument("recipient \"" + headerSafe(ctx.recipient) + "\" is not an address");
  }
  if (ctx.envelope_id.empty() || headerSafe(ctx.envelope_id) != ctx.envelope_id ||
      ctx.envelope_id.find_first_of(" <>@") != std::string::npos) {
    return invalidArgument("an EnvelopeId (the idempotency key) is required");
  }
  const model::Message* m = message.get<model::Message>();
  if (m == nullptr)
    return invalidArgument(std::string(message.typeName()) + " is not a Mesh Message");
  // The sender the recipient's service verified at Post (the signer's profile) is the one shown
  // as From; the message's own Sender is only a claim. Under the gateway's signal, a claim
  // shown as the sender would lend it the gateway's word.
  const bool verified = !ctx.verified_sender.empty() && plainAddress(ctx.verified_sender);
  const std::string claimed = m->sender ? headerSafe(*m->sender) : std::string();
  std::string from_text;
  if (verified && (claimed.empty() || toLowerAscii(claimed) == toLowerAscii(ctx.verified_sender))) {
    from_text = toLowerAscii(ctx.verified_sender);
  } else if (verified) {
    from_text =
        toLowerAscii(ctx.verified_sender) + " (the message claims to be from " + claimed + ")";
  } else {
    from_text = (claimed.empty() ? std::string("an unknown sender") : claimed) + " (not verified)";
  }
  MESHGATE_ASSIGN_OR_RETURN(Text text, describe(message, from_text));

  RenderedMail out;
  out.recipient = ctx.recipient;
  out.envelope_id = ctx.envelope_id;
  out.message_type = std::string(message.typeName());
  const std::string sender =
      verified ? toLowerAscii(ctx.verified_sender) : "mesh@" + ctx.gateway_node;
  const std::string synthesized_id = ctx.envelope_id + "@" + ctx.gateway_node;

  // Our own fields first; the signal goes above them once they are final.
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Mesh-Message-Type", out.message_type}, {"Mesh-Envelope-Id", ctx.envelope_id}};
  if (m->message_id) fields.push_back({"Mesh-Message-Id", headerSafe(*m->message_id)});

  std::string body_text;
  const auto* mail = message.get<model::MessageMail>();
  if (mail && mail->body && !mail->body->empty()) {
    std::string carried = toString(*mail->body);
    mail::HeaderList original;
    size_t body_offset = mail::readHeaderSection(carried, &original);
    if (original.empty()) return invalidArgument("MessageMail Body has no header section");
    if (original.overflowed()) return invalidArgument("MessageMail Body has too many header fields");
    auto present = [&](std::string_view name) { return original.find(name) != nullptr; };
    if (!present("Date")) fields.push_back({"Date", rfc5322Date(ctx.now)});
    if (!present("Message-ID")) fields.push_back({"Message-ID", "<" + synthesized_id + ">"});
    if (!present("From")) fields.push_back({"From", sender});
    if (!present("To")) fields.push_back({"To", ctx.recipient});
    for (const auto& h : original) {
      if (!policy::isGatewayOnlyHeader(h.name)) fields.push_back({h.name, h.value});
    }
    const std::string* mid = original.find("Message-ID");
    out.message_id = mid ? std::string(trimWhitespace(mail::unfold(*mid))) : "<" + synthesized_id + ">";
    body_text = toCrlf(std::string_view(carried).substr(body_offset));
    if (!body_text.empty() && body_text.substr(body_text.size() - 2) != "\r\n") body_text += "\r\n";
  } else {
    fields.push_back({"From", sender});
    fields.push_back({"To", ctx.recipient});
    fields.push_back({"Subject", encodeHeaderText(text.subject)});
    fields.push_back({"Date", rfc5322Date(ctx.now)});
    fields.push_back({"Message-ID", "<" + synthesized_id + ">"});
    fields.push_back({"MIME-Version", "1.0"});
    fields.push_back({"Content-Type", "text/plain; charset=utf-8"});
    fields.push_back({"Content-Transfer-Encoding", "quoted-printable"});
    out.message_id = "<" + synthesized_id + ">";
    body_text = quotedPrintable(text.body);
  }
  if (out.message_id.size() > 2 && out.message_id.front() == '<' && out.message_id.back() == '>') {
    out.message_id = out.message_id.substr(1, out.message_id.size() - 2);
  }

  mail::HeaderList delivered;
  for (const auto& [name, value] : fields) delivered.add(name, value);
  policy::SecuritySignal signal;
  signal.gateway = ctx.gateway_node;
  signal.time = ctx.now;
  signal.contact = ctx.contact;
  signal.checks.emplace_back(kMeshViaCheck);
  if (!verified) signal.checks.emplace_back(kSenderUnverifiedCheck);
  for (const auto& c : ctx.checks) signal.checks.push_back(c);
  MESHGATE_ASSIGN_OR_RETURN(std::string value, policy::signSignal(signal, delivered, gateway_key));

  out.data = fieldLine(std::string(policy::kSignalHeader), value);
  for (const auto& [name, v] : fields) out.data += fieldLine(name, v);
  out.data += "\r\n";
  out.data += body_text;
  return out;
}

}  // namespace meshgate::adapters
