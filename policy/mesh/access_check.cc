// access_check.cc - see access_check.h.
#include "policy/mesh/access_check.h"

#include "gateway/mail/address.h"
#include "gateway/policy/ingress_filter.h"
#include "gateway/util/log.h"
#include "gateway/util/metrics.h"
#include "gateway/util/strings.h"
#include "meshgate/mesh_model.h"
#include "policy/mesh/form.h"
#include "policy/mesh/status_table.h"

namespace meshgate::meshsvc {
namespace {

HttpResponse answer(const nlohmann::json& body, int status) {
  HttpResponse r;
  r.status = status;
  r.body = mesh::model::dumpJson(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse failure(const Status& st) {
  return answer(meshErrorBody(st), meshStatusFor(st.code()).status);
}

void countAccessCheck(const char* result) {
  metrics::counter("meshgate_access_checks_total",
                   "Answers of /access-check, by result (allowed, denied, refused: a client "
                   "not in access_check_networks or a bad request, error: the store).",
                   {{"result", result}})
      .inc();
}

// Catalog protocol names: short lower-case words (smtp, ssh, xmpp, sip, mesh...).
bool validProtocol(const std::string& p) {
  if (p.empty() || p.size() > 32) return false;
  for (char c : p) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// The milter's own envelope-address parser, and a domain: what a network application asks
// about is always a full address.
bool validAddress(const std::string& a) {
  if (a.size() > 320 || a.find('@') == std::string::npos) return false;
  // Bare addresses only: the catalog is keyed by them, not by "<...>" or lists.
  for (char c : a) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == ',') return false;
  }
  auto parsed = mail::parseEnvelopeAddress(a);
  return parsed.ok() && !parsed->isNull();
}

}  // namespace

HttpResponse serveAccessCheck(const HttpRequest& request,
                              std::shared_ptr<const config::Config> config, Store& store) {
  if (!inAnyNetwork(config->mesh_service.access_check_networks, request.peer)) {
    countAccessCheck("refused");
    log::info("access-check: %s: refused: not in mesh_service.access_check_networks",
              request.peer.c_str());
    return failure(permissionDenied("this client may not ask (mesh_service.access_check_networks)"));
  }
  auto form = parseForm(request.method == "POST" ? request.body : request.query);
  if (!form) {
    countAccessCheck("refused");
    return failure(invalidArgument("malformed query (percent-encoding)"));
  }
  const std::string sender = toLowerAscii((*form)["sender"]);
  const std::string recipient = toLowerAscii((*form)["recipient"]);
  const std::string protocol = toLowerAscii((*form)["protocol"]);
  if (!validAddress(sender) || !validAddress(recipient) || !validProtocol(protocol)) {
    countAccessCheck("refused");
    return failure(invalidArgument(
        "expected sender=ADDRESS&recipient=ADDRESS&protocol=NAME (e.g. protocol=xmpp)"));
  }
  if (!config->isLocalDomain(addressDomain(recipient))) {
    countAccessCheck("refused");
    return failure(invalidArgument(recipient + " is not in gateway.domains: ask its own service"));
  }

  policy::MessageRequest req;
  req.front_end = "access-check";
  req.protocol = protocol;
  req.client.address = request.peer;
  req.sender = sender;
  req.recipients = {recipient};
  policy::RecipientDecision rcpt;
  rcpt.recipient = recipient;
  policy::IngressFilter ingress(config, store);
  Status st = ingress.onRecipient(req, rcpt);
  if (!st.ok()) {
    countAccessCheck("error");
    log::error("access-check: %s: %s -> %s (%s): %s", request.peer.c_str(), sender.c_str(),
               recipient.c_str(), protocol.c_str(), st.toString().c_str());
    return failure(unavailable("the store cannot answer; try again"));
  }
  const bool allowed = rcpt.verdict == policy::Verdict::kAccept &&
                       rcpt.contact != policy::ContactStatus::kQuarantined;
  countAccessCheck(allowed ? "allowed" : "denied");
  log::info("access-check: %s: %s -> %s protocol=%s: %s rule=%s", request.peer.c_str(),
            log::sanitize(sender).c_str(), log::sanitize(recipient).c_str(), protocol.c_str(),
            allowed ? "allowed" : "denied", rcpt.rule.c_str());
  nlohmann::json body = {{"Allowed", allowed},
                         {"Contact", std::string(policy::contactStatusName(rcpt.contact))},
                         {"Rule", rcpt.rule},
                         {"Protocol", protocol}};
  if (!rcpt.account.empty()) body["Account"] = rcpt.account;
  if (!rcpt.matched_entry.empty()) body["Entry"] = rcpt.matched_entry;
  return answer(body, 200);
}

}  // namespace meshgate::meshsvc
