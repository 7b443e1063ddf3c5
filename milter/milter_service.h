// NAME
//   milter_service.h - `meshgate milter`: the libmilter front-end as a Service.
//
// DESCRIPTION
//   Registers the callbacks with libmilter, opens milter.socket (unix socket with
//   milter.socket_mode / socket_group so Postfix's smtpd can write it; or TCP with TCP_NODELAY
//   on the listener), and runs smfi_main() on its own thread. Negotiates only the actions it
//   uses (add/change headers, quarantine, macro lists) and skips the steps
//   it does not need (unknown commands, DATA). Callbacks forward one to one to MilterSession.
//
// SECURITY
//   Trusts the MTA's macros ({auth_authen}, {daemon_name}); everything else from the SMTP
//   client is hostile input. Holds the gateway's signing key in memory.
//
// THREAD SAFETY
//   libmilter runs callbacks for many connections on its own threads; each connection's state
//   is its own MilterSession (smfi_setpriv). One milter per process.
#pragma once

#include <functional>
#include <memory>

#include "gateway/ports/service.h"
#include "milter/milter_session.h"

namespace meshgate::milter {

std::unique_ptr<Service> makeMilterService(MilterContext context);

// A context with the real clock and random nonces.
MilterContext makeMilterContext(
    std::function<std::shared_ptr<const policy::DecisionEngine>()> engine,
    std::function<std::shared_ptr<const mesh::PrivateKey>()> key,
    std::function<Status(const AuditRecord&)> audit,
    std::function<Status(const QuarantineRecord&)> quarantine,
    std::function<Status(const policy::SenderNotice&)> notify = nullptr);

}  // namespace meshgate::milter
