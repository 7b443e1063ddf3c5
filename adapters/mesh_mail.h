// NAME
//   mesh_mail.h - Mesh Messages rendered as RFC 5322 mail for a local account (Mesh -> SMTP).
//
// SYNOPSIS
//   MeshMailContext ctx{.recipient = "alice@example.com", .envelope_id = env.header.envelope_id,
//                       .gateway_node = "mx.example.com", .contact = "known-contact",
//                       .now = now};
//   Result<RenderedMail> mail = renderMeshMessage(any_message, ctx, gateway_key);
//   // mail->data: the message, CRLF line ends, with a signed Mesh-Security-Signal on top
//
// DESCRIPTION
//   Pure: no I/O. The Post transaction of the Mesh service, after ingress control accepted a
//   Mesh Message for a local account, renders it here and hands the result to deliverOnce()
//   (smtp_delivery.h).
//
//   MessageMail with a Body: the carried RFC 5322 message itself, line ends made CRLF, every
//   Mesh-Security-Signal in it removed (only the gateway may assert one), Date / Message-ID /
//   From / To added when missing. MessageMail without a Body, RequestContact, ReplyContact,
//   RequestConfirmation, ResponseConfirmation, GroupInvitation, MessagePIN, MessageError: a
//   text/plain UTF-8 message (quoted-printable; RFC 2047 Subject) that says what the message
//   is, who sent it and what the recipient can do, with the Mesh fields shown as text.
//
//   Every rendered message carries
//     Mesh-Message-Type: RequestContact        the Mesh type
//     Mesh-Envelope-Id: MDxx-...               the DARE EnvelopeId (the idempotency key)
//     Mesh-Message-Id: ...                     the Mesh MessageID, if any
//     Mesh-Security-Signal: v=1; ... contact=<ctx.contact>; checks=via-mesh,...
//   and, when synthesized, Message-ID <EnvelopeId@gateway_node>, so a re-rendering of the same
//   envelope is the same message. The envelope sender is the null sender (<>): a local
//   delivery problem must not bounce mail to a Mesh sender over SMTP.
//
// SECURITY
//   Every value from the Mesh message that reaches a header is stripped of control characters
//   (no header injection) and an address is used only if it is a plain local@domain; anything
//   else is shown in the body only.
//
// THREAD SAFETY
//   Pure functions.
//
// ERRORS
//   kInvalidArgument: a message type that is not rendered as mail (named), an empty
//   recipient or EnvelopeId, or a Body that has no header section; errors of signSignal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/mesh/keys.h"
#include "gateway/util/status.h"
#include "meshgate/mesh_model.h"

namespace meshgate::adapters {

struct MeshMailContext {
  std::string recipient;     // the local account (RCPT TO and To)
  std::string envelope_id;   // EnvelopeId of the DARE envelope that carried the message
  std::string gateway_node;  // signal gw=; right-hand side of synthesized Message-IDs
  std::string contact = "first-contact";  // the ingress decision for the sender
  // The sender address the recipient's service verified at Post (the signer's profile; the
  // entry's "Sender"); "" when none was. Only this one is shown as From.
  std::string verified_sender;
  std::vector<std::string> checks;        // further checks to signal (after "via-mesh")
  int64_t now = 0;
};

struct RenderedMail {
  std::string envelope_from;  // MAIL FROM; "" = the null sender <>
  std::string recipient;      // RCPT TO
  std::string envelope_id;
  std::string message_id;     // of the rendered message, without <>
  std::string message_type;   // "RequestContact", ...
  std::string data;           // the message: CRLF line ends, ending in CRLF, not dot-stuffed
};

inline constexpr std::string_view kMeshViaCheck = "via-mesh";
// No verified sender: From is the gateway's mesh@ address, the claim is in the text.
inline constexpr std::string_view kSenderUnverifiedCheck = "sender-unverified";

Result<RenderedMail> renderMeshMessage(const mesh::model::AnyMessage& message,
                                       const MeshMailContext& context,
                                       const mesh::PrivateKey& gateway_key);

// Helpers, exposed for tests.
std::string quotedPrintable(std::string_view utf8_text);  // CRLF line ends, soft breaks at 76
std::string encodeHeaderText(std::string_view utf8_text);  // RFC 2047 B when not plain ASCII

}  // namespace meshgate::adapters
