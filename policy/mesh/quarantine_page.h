// NAME
//   quarantine_page.h - the policy server's /quarantine/confirm page: a recipient confirms a
//   held payment request with the code from their quarantine digest.
//
// DESCRIPTION
//   GET  /quarantine/confirm?id=ID&rcpt=ADDRESS&code=CODE shows what is held (sender, subject,
//        why) and a button; it changes nothing, so that a mail scanner that follows links in
//        the digest cannot release anything.
//   POST /quarantine/confirm (form fields id, rcpt, code) records the confirmation in the
//        store (Store::confirmQuarantine) and in the audit log; `meshgate quarantine
//        release-confirmed` then releases the message through postsuper. The page never runs
//        postsuper itself: the network-facing service has no root rights.
//   Both refuse with the same 403 page whether the id is unknown, the code wrong, the
//   recipient not the message's only one, or the hold one the recipient cannot judge
//   (policy::recipientMayConfirm), so the page tells a guesser nothing.
//
// ERRORS
//   A store failure is a 503 page ("try again later"); nothing is half-recorded (the
//   confirmation and its audit record are both needed, the confirmation is idempotent).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/mesh/keys.h"
#include "gateway/ports/store.h"
#include "policy/mesh/http_server.h"

namespace meshgate::meshsvc {

inline constexpr std::string_view kQuarantineConfirmPath = "/quarantine/confirm";

struct QuarantinePageEnv {
  Store* store = nullptr;
  std::shared_ptr<const mesh::PrivateKey> gateway_key;
  std::string node;  // for the audit record
  int64_t now = 0;
};

HttpResponse serveQuarantineConfirm(const HttpRequest& request, const QuarantinePageEnv& env);

}  // namespace meshgate::meshsvc
