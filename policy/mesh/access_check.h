// NAME
//   access_check.h - /access-check: may SENDER reach RECIPIENT over PROTOCOL? For network
//   applications (XMPP and SIP servers, chat bridges) that apply the recipient's contacts
//   catalog as the milter does for mail (issue 7 item 5).
//
// DESCRIPTION
//   GET /access-check?sender=S&recipient=R&protocol=P (or the same fields POSTed as a form)
//   runs the milter's own ingress decision (policy::IngressFilter: the recipient's account and
//   policy, the catalog entry for S, A's permissions for P) and answers JSON:
//     {"Allowed":true,"Contact":"known-contact","Rule":"ingress.known-contact",
//      "Account":"bob@example.com","Entry":"alice@example.net","Protocol":"xmpp"}
//   Allowed is what a real-time application can act on: accepted and not "quarantined" (a
//   call cannot be held for review). "first-contact" under tag-unknown is allowed; the
//   application may flag it. Only clients in mesh_service.access_check_networks may ask (the
//   answer reveals catalog contents); others get 403.
//
// ERRORS
//   400 for a missing or malformed field or a recipient outside gateway.domains; 403 for a
//   client not listed; 503 when the store cannot answer (never "allowed" by default).
#pragma once

#include <memory>

#include "gateway/config/config.h"
#include "gateway/ports/store.h"
#include "policy/mesh/http_server.h"

namespace meshgate::meshsvc {

inline constexpr std::string_view kAccessCheckPath = "/access-check";

HttpResponse serveAccessCheck(const HttpRequest& request,
                              std::shared_ptr<const config::Config> config, Store& store);

}  // namespace meshgate::meshsvc
