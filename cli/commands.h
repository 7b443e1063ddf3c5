// NAME
//   commands.h - the subcommands of the `meshgate` executable.
//
// DESCRIPTION
//   Each command lives in its own file and registers itself with MESHGATE_COMMAND, so adding a
//   command touches no shared table. An entry point takes the arguments after its own name and
//   returns the exit status: 0 success, 1 failure (with a message on stderr), 2 usage error. A
//   command group ("meshgate udf digest") dispatches through runGroup(), which also prints the
//   group's help.
//
//   `order` sorts `meshgate --help`: 10s services, 20s configuration, 30s Mesh tools, 40s
//   administration (accounts, contacts, quarantine, audit), 50s adapters.
#pragma once

#include <string>
#include <vector>

namespace meshgate::cli {

using Args = std::vector<std::string>;
using CommandFn = int (*)(const Args& args);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
  int order = 0;
};

// Registers a top-level command; used through MESHGATE_COMMAND at namespace scope.
struct CommandRegistrar {
  CommandRegistrar(const char* name, const char* summary, CommandFn run, int order);
};
std::vector<Command> registeredCommands();

// Runs the member of `commands` named by args[0]; prints the group help for no argument,
// "--help" or "help".
int runGroup(const std::string& group, const std::string& description,
             const std::vector<Command>& commands, const Args& args);

}  // namespace meshgate::cli

#define MESHGATE_COMMAND(ident, name, summary, fn, order) \
  static const ::meshgate::cli::CommandRegistrar kRegister_##ident(name, summary, fn, order)
