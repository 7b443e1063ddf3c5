// mesh_held.h - `meshgate quarantine mesh list|show|release|delete` (mesh_held.cc), a member
// of the `meshgate quarantine` group (quarantine_command.cc).
#pragma once

#include "cli/commands.h"

namespace meshgate::cli {

int quarantineMesh(const Args& args);

}  // namespace meshgate::cli
