// quarantine_page.cc - see quarantine_page.h.
#include "policy/mesh/quarantine_page.h"

#include "gateway/policy/quarantine_confirmation.h"
#include "gateway/util/log.h"
#include "gateway/util/metrics.h"
#include "policy/mesh/form.h"

namespace meshgate::meshsvc {
namespace {

std::string htmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

HttpResponse page(int status, const std::string& title, const std::string& body_html) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + htmlEscape(title) +
           "</title></head>\n<body>\n<h1>" + htmlEscape(title) + "</h1>\n" + body_html +
           "</body></html>\n";
  // The URL carries the code: no caching, no referrer, no framing (a click-jacked button).
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Content-Security-Policy", "default-src 'none'; form-action 'self'");
  return r;
}

void countConfirmation(const char* result) {
  metrics::counter("meshgate_quarantine_confirmations_total",
                   "Recipients' confirmations of held messages on /quarantine/confirm, by "
                   "result (shown: the page was displayed; confirmed; refused; error).",
                   {{"result", result}})
      .inc();
}

HttpResponse refused() {
  countConfirmation("refused");
  return page(403, "This confirmation link is not valid",
              "<p>The link may be mistyped, or the message was already released or deleted, "
              "or it was held for a reason only your mail administrator can review. Ask your "
              "administrator, quoting the message id from the digest.</p>\n");
}

HttpResponse unavailableNow() {
  countConfirmation("error");
  HttpResponse r = page(503, "Please try again later",
                        "<p>The quarantine cannot be reached just now; nothing was changed.</p>\n");
  r.headers.emplace_back("Retry-After", "60");
  return r;
}

std::string describe(const QuarantineRecord& q) {
  return "<table>\n<tr><th>From</th><td>" + htmlEscape(q.sender) +
         "</td></tr>\n<tr><th>Subject</th><td>" + htmlEscape(q.subject) +
         "</td></tr>\n<tr><th>Held because</th><td>" + htmlEscape(q.reason) +
         "</td></tr>\n<tr><th>Message id</th><td>" + htmlEscape(q.id) + "</td></tr>\n</table>\n";
}

}  // namespace

HttpResponse serveQuarantineConfirm(const HttpRequest& request, const QuarantinePageEnv& env) {
  const bool confirming = request.method == "POST";
  auto form = parseForm(confirming ? request.body : request.query);
  if (!form || env.store == nullptr || env.gateway_key == nullptr) return refused();
  const std::string id = (*form)["id"], rcpt = (*form)["rcpt"], code = (*form)["code"];
  if (id.empty() || id.size() > 64 || rcpt.empty() || rcpt.size() > 320 || code.size() > 64) {
    return refused();
  }
  // The code is bound to the held message (queue ids are reused), so the record is read first;
  // an unknown id and a wrong code get the same refusal.
  auto record = env.store->getQuarantine(id);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kNotFound) return refused();
    log::error("quarantine: confirmation of %s: %s", log::sanitize(id).c_str(),
               record.status().toString().c_str());
    return unavailableNow();
  }
  if (!policy::confirmationMatches(*env.gateway_key, *record, rcpt, code)) {
    log::info("quarantine: %s: refused confirmation of %s for <%s>: wrong code",
              request.peer.c_str(), log::sanitize(id).c_str(), log::sanitize(rcpt).c_str());
    return refused();
  }
  if (!policy::recipientMayConfirm(*record, rcpt)) {
    log::info("quarantine: %s: refused confirmation of %s for <%s>: state %s, reason \"%s\"",
              request.peer.c_str(), id.c_str(), log::sanitize(rcpt).c_str(),
              record->state.c_str(), log::sanitize(record->reason).c_str());
    return refused();
  }
  if (!record->confirmed_by.empty()) {
    countConfirmation("shown");
    return page(200, "Already confirmed",
                describe(*record) + "<p>This message was confirmed and will be delivered "
                                    "shortly.</p>\n");
  }
  if (!confirming) {
    countConfirmation("shown");
    return page(200, "Deliver this held message?",
                describe(*record) +
                    "<p>Deliver it only if you expected it and know the sender. Payment "
                    "requests with changed bank details are a common fraud: if in doubt, call "
                    "the sender on a number you already have.</p>\n"
                    "<form method=\"post\" action=\"" + std::string(kQuarantineConfirmPath) +
                    "\">\n<input type=\"hidden\" name=\"id\" value=\"" + htmlEscape(id) +
                    "\">\n<input type=\"hidden\" name=\"rcpt\" value=\"" + htmlEscape(rcpt) +
                    "\">\n<input type=\"hidden\" name=\"code\" value=\"" + htmlEscape(code) +
                    "\">\n<button type=\"submit\">Yes, deliver it to me</button>\n</form>\n");
  }
  // Recorded before it is made, as every change that decides a delivery: a confirmation the
  // audit log cannot hold is not made (the page says to try again).
  AuditRecord a;
  a.time = env.now;
  a.node = env.node;
  a.kind = "recipient";
  a.message_id = record->message_id;
  a.queue_id = record->queue_id;
  a.sender = record->sender;
  a.recipients = record->recipients;
  a.rule = "quarantine.confirm";
  a.action = "confirm";
  a.detail = "by=" + rcpt + " peer=" + request.peer;
  auto appended = env.store->appendAudit(a);
  Status st = appended.ok() ? env.store->confirmQuarantine(id, rcpt, env.now)
                            : appended.status().withContext("audit log");
  if (appended.ok() && !st.ok()) {
    a.rule = "quarantine.confirm-failed";
    a.action = "confirm-failed";
    a.detail += " error=" + st.toString();
    (void)env.store->appendAudit(a);  // best effort: the change itself was not made
  }
  if (!st.ok()) {
    log::error("quarantine: confirmation of %s by <%s>: %s", id.c_str(),
               log::sanitize(rcpt).c_str(), st.toString().c_str());
    return unavailableNow();
  }
  countConfirmation("confirmed");
  log::info("quarantine: %s: confirmed by <%s> from %s; release with meshgate quarantine "
            "release-confirmed",
            id.c_str(), log::sanitize(rcpt).c_str(), request.peer.c_str());
  return page(200, "Confirmed",
              describe(*record) + "<p>Thank you. The message will be delivered to you "
                                  "shortly.</p>\n");
}

}  // namespace meshgate::meshsvc
