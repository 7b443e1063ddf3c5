// contact_exchange.h - `meshgate contacts request|pending|accept|reject` (contact_exchange.cc),
// members of the `meshgate contacts` group (contacts_command.cc).
#pragma once

#include "cli/commands.h"

namespace meshgate::cli {

int contactsRequest(const Args& args);
int contactsPending(const Args& args);
int contactsAccept(const Args& args);
int contactsReject(const Args& args);

}  // namespace meshgate::cli
