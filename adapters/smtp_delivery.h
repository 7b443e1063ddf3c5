// NAME
//   smtp_delivery.h - submitting rendered Mesh Messages to the local MTA over SMTP, once per
//   EnvelopeId and recipient.
//
// SYNOPSIS
//   SmtpClientSubmitter smtp({.host = "127.0.0.1", .port = 25, .helo = "mx.example.com"});
//   Result<RenderedMail> mail = renderMeshMessage(message, context, gateway_key);
//   Result<DeliveryOutcome> r = deliverOnce(store, smtp, *mail, now);
//   // kDelivered / kAlreadyDelivered: done; kUnavailable: retry later; other errors: refused
//
// DESCRIPTION
//   At-least-once delivery with the EnvelopeId as idempotency key: deliverOnce looks the key
//   "<EnvelopeId>/<recipient>" up in the store's service-wide catalog "smtp-delivered"
//   (already there: kAlreadyDelivered, nothing is sent), submits, and only after the MTA
//   accepted the DATA records the key there. A failure before that leaves no record, so a
//   retry submits again. Two windows can duplicate (at-least-once), each with the same
//   rendered Message-ID on both copies: a crash between the MTA's 250 and the record, and a
//   reply to DATA that never arrives (timeout, dropped connection) although the MTA accepted.
//   Concurrent attempts for the same key are kept apart by a claim in the store
//   (Store::claimOnce) per five-minute window: the second attempt gets kUnavailable and
//   retries later; a crashed attempt blocks retries for at most that window. (Two nodes whose
//   attempts straddle a window boundary can both submit: the same duplicate, rarer.)
//
//   SmtpClientSubmitter speaks plain SMTP (EHLO, MAIL FROM:<>, RCPT TO, DATA with dot-stuffing)
//   to the configured host and port, every wait bounded by `timeout`.
//
// THREAD SAFETY
//   SmtpClientSubmitter opens one connection per submit() and may be shared between threads;
//   deliverOnce is as thread-safe as the Store.
//
// ERRORS
//   kUnavailable: connection or timeout failure, a 4xx reply, the store unavailable, or a
//   concurrent attempt (retry later). kPermissionDenied: a 5xx reply (the message is refused
//   for good; the reply text is in the message). Nothing is recorded as delivered on error.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "adapters/mesh_mail.h"
#include "gateway/config/config.h"
#include "gateway/ports/store.h"

namespace meshgate::adapters {

inline constexpr std::string_view kDeliveredCatalog = "smtp-delivered";

struct SmtpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 25;
  std::string helo = "localhost";
  std::chrono::milliseconds timeout{30000};
};

// The configured MTA (mesh_to_smtp.server, helo, timeout).
SmtpOptions smtpOptionsFromConfig(const config::Config& config);

class SmtpSubmitter {
 public:
  virtual ~SmtpSubmitter() = default;
  virtual Status submit(const RenderedMail& mail) = 0;
};

class SmtpClientSubmitter : public SmtpSubmitter {
 public:
  explicit SmtpClientSubmitter(SmtpOptions options) : options_(std::move(options)) {}
  Status submit(const RenderedMail& mail) override;

 private:
  SmtpOptions options_;
};

enum class DeliveryOutcome { kDelivered, kAlreadyDelivered };

// The idempotency key of one rendered message: "<EnvelopeId>/<recipient>".
std::string deliveryKey(const RenderedMail& mail);

Result<DeliveryOutcome> deliverOnce(Store& store, SmtpSubmitter& smtp, const RenderedMail& mail,
                                    int64_t now);

}  // namespace meshgate::adapters
