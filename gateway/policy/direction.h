// NAME
//   direction.h - is a message inbound or outbound? (issue 6: outbound detection)
//
// SYNOPSIS
//   req.client = client;
//   req.direction = policy::classifyDirection(engine.config(), req.client);
//
// DESCRIPTION
//   Mail is outbound when its client is one of the organization's own: a SASL-authenticated
//   client (egress.outbound.authenticated), a client that arrived on an smtpd named in
//   egress.outbound.daemon_names (Postfix passes {daemon_name} from
//   `-o milter_macro_daemon_name=ORIGINATING` in master.cf, and `policy_context` / the service
//   name to policyd), or a client address in egress.outbound.networks. Everything else is
//   inbound. The recipients do not decide: inbound mail may be relayed onwards, and an
//   authenticated user may write to a colleague; egress rules tell internal and external
//   recipients apart themselves.
//
//   Front-ends call this once the client is known (MAIL FROM for the milter, each request for
//   policyd), before the first engine call.
//
// ERRORS
//   None.
//
// THREAD SAFETY
//   A pure function of its arguments.
#pragma once

#include "gateway/config/config.h"
#include "gateway/policy/request.h"

namespace meshgate::policy {

Direction classifyDirection(const config::Config& config, const ClientInfo& client);

std::string_view directionName(Direction d);

}  // namespace meshgate::policy
