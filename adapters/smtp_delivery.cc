// smtp_delivery.cc - see smtp_delivery.h.
#include "adapters/smtp_delivery.h"

#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "gateway/util/log.h"

namespace meshgate::adapters {
namespace {

using Poco::Net::SMTPClientSession;

constexpr int64_t kAttemptWindowSeconds = 300;

std::string oneLine(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

bool positive(int code) { return code >= 200 && code < 300; }
bool intermediate(int code) { return code >= 300 && code < 400; }

// One table: SMTP reply class -> Status.
Status replyStatus(int code, const std::string& step, const std::string& reply) {
  std::string what = step + ": " + std::to_string(code) + " " + oneLine(reply);
  if (code >= 500 && code < 600) return permissionDenied("the MTA refused " + what);
  return unavailable("the MTA deferred " + what);
}

}  // namespace

Status SmtpClientSubmitter::submit(const RenderedMail& mail) {
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  try {
    Poco::Timespan timeout(std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout).count());
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress(options_.host, options_.port), timeout);
    SMTPClientSession session(socket);
    session.setTimeout(timeout);
    session.login(options_.helo);
    std::string reply;
    int code = session.sendCommand("MAIL FROM:<" + mail.envelope_from + ">", reply);
    if (!positive(code)) return replyStatus(code, "MAIL FROM", reply);
    code = session.sendCommand("RCPT TO:<" + mail.recipient + ">", reply);
    if (!positive(code)) return replyStatus(code, "RCPT TO", reply);
    code = session.sendCommand("DATA", reply);
    if (!intermediate(code)) return replyStatus(code, "DATA", reply);
    std::istringstream data(mail.data);
    session.sendMessage(data);  // dot-stuffs, ends with CRLF.CRLF, throws unless 2xx
    try {
      session.close();  // QUIT; the message is already accepted
    } catch (const Poco::Exception&) {
    }
    return Status();
  } catch (const Poco::Net::SMTPException& e) {
    return replyStatus(e.code(), "the message", e.displayText()).withContext(where);
  } catch (const Poco::TimeoutException& e) {
    return unavailable(where + ": timed out: " + e.displayText());
  } catch (const Poco::Exception& e) {
    return unavailable(where + ": " + e.displayText());
  } catch (const std::exception& e) {
    return unavailable(where + ": " + e.what());
  }
}

SmtpOptions smtpOptionsFromConfig(const config::Config& config) {
  SmtpOptions o;
  o.host = config.mesh_to_smtp.server.host;
  o.port = config.mesh_to_smtp.server.port;
  o.helo = config.mesh_to_smtp.helo;
  o.timeout = config.mesh_to_smtp.timeout;
  return o;
}

std::string deliveryKey(const RenderedMail& mail) { return mail.envelope_id + "/" + mail.recipient; }

Result<DeliveryOutcome> deliverOnce(Store& store, SmtpSubmitter& smtp, const RenderedMail& mail,
                                    int64_t now) {
  const std::string key = deliveryKey(mail);
  auto done = store.getEntry("", kDeliveredCatalog, key);
  if (done.ok()) {
    log::info("%s: to=<%s> mesh=%s action=duplicate (delivered before, not sent again)",
              mail.envelope_id.c_str(), mail.recipient.c_str(), mail.message_type.c_str());
    return DeliveryOutcome::kAlreadyDelivered;
  }
  if (done.status().code() != StatusCode::kNotFound) return done.status();
  MESHGATE_ASSIGN_OR_RETURN(
      bool mine, store.claimOnce("smtp-attempt:" + key + ":" +
                                     std::to_string(now / kAttemptWindowSeconds), now));
  if (!mine) return unavailable("a delivery of " + key + " is in progress; retry later");
  Status sent = smtp.submit(mail);
  if (!sent.ok()) {
    log::warning("%s: to=<%s> mesh=%s action=%s: %s", mail.envelope_id.c_str(),
                 mail.recipient.c_str(), mail.message_type.c_str(),
                 sent.code() == StatusCode::kUnavailable ? "deferred" : "refused",
                 log::sanitize(sent.message()).c_str());
    return sent;
  }
  CatalogEntry record;
  record.account = "";
  record.catalog = std::string(kDeliveredCatalog);
  record.key = key;
  record.data = nlohmann::json{{"EnvelopeId", mail.envelope_id},
                               {"Recipient", mail.recipient},
                               {"MessageId", mail.message_id},
                               {"Type", mail.message_type},
                               {"Delivered", now}}
                    .dump();
  record.updated = now;
  auto stored = store.putEntry(record, std::nullopt);
  if (!stored.ok()) {
    // Delivered all the same: report success so nobody retries; a retry is what could duplicate.
    log::error("%s: to=<%s> delivered, but not recorded as delivered: %s", mail.envelope_id.c_str(),
               mail.recipient.c_str(), log::sanitize(stored.status().message()).c_str());
  }
  log::info("%s: to=<%s> mesh=%s message-id=<%s> action=delivered", mail.envelope_id.c_str(),
            mail.recipient.c_str(), mail.message_type.c_str(),
            log::sanitize(mail.message_id).c_str());
  return DeliveryOutcome::kDelivered;
}

}  // namespace meshgate::adapters
