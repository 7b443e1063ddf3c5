// NAME
//   request.h - the one request type every front-end builds (milter, Postfix policy service,
//   Mesh service Post, SSH and network-application adapters).
//
// DESCRIPTION
//   A MessageRequest describes one message (or one access attempt) as far as it is known at the
//   current stage: the client, the envelope, and at end of message the parsed content. The
//   front-end fills it from its protocol (milter macros, policy attributes, a Mesh envelope)
//   and passes it to DecisionEngine (engine.h); the answer is a Decision (decision.h).
//
// THREAD SAFETY
//   A value type; one request belongs to one message of one connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meshgate::mail {
class MessageView;
}

namespace meshgate::policy {

// Where the message goes relative to the organization (issue 6: outbound detection).
enum class Direction { kInbound, kOutbound };

struct ClientInfo {
  std::string address;      // IP address of the SMTP client ("" if unknown)
  std::string hostname;     // reverse name, "unknown" if none
  std::string helo;
  std::string auth_user;    // SASL login ({auth_authen} / sasl_username); "" = not authenticated
  std::string daemon_name;  // {daemon_name} / milter_macro_daemon_name (e.g. ORIGINATING)
};

struct MessageRequest {
  std::string front_end = "milter";  // for logs and metrics
  std::string protocol = "smtp";     // the catalog protocol: smtp, ssh, xmpp, sip, mesh...
  ClientInfo client;
  std::string queue_id;    // Postfix queue id when known ("" before EOM in a milter)
  std::string message_id;  // Message-ID header or Mesh MessageID
  std::string instance;    // Postfix policy "instance" (one value per message)
  std::string sender;      // envelope sender, lower-case domain; "" = null sender <>
  std::vector<std::string> recipients;  // envelope recipients accepted so far
  // The sender's Mesh identity when the message carries a verified Mesh signature (profile
  // fingerprint, "MB..."); matched against catalog entries' anchors.
  std::optional<std::string> mesh_sender_udf;
  Direction direction = Direction::kInbound;
  // Parsed content: set only at end of message. Not owned.
  const mail::MessageView* content = nullptr;
  int64_t size = 0;  // message size in bytes when known
  // The front-end can deliver recipients over the Mesh (smtp_to_mesh, the milter): encryption
  // rules then hand their recipients over in Decision.mesh_delivery instead of applying `else`.
  bool mesh_delivery_available = false;
};

}  // namespace meshgate::policy
