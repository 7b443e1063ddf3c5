// NAME
//   commands.h - the subcommands of the `meshgate` executable.
//
// DESCRIPTION
//   Each entry point takes the arguments after its own name and returns the process exit
//   status: 0 success, 1 failure (with a message on stderr), 2 usage error. A command group
//   ("meshgate udf digest") dispatches through runGroup(), which also prints the group's help.
//   Add a command by writing its entry point in its own file and one line in main.cc.
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
};

// Runs the member of `commands` named by args[0]; prints the group help for no argument,
// "--help" or "help".
int runGroup(const std::string& group, const std::string& description,
             const std::vector<Command>& commands, const Args& args);

// Services (service_commands.cc).
int runAll(const Args& args);
int runMilter(const Args& args);
int runPolicy(const Args& args);
int runPolicyd(const Args& args);

// Configuration (config_commands.cc).
int checkConfig(const Args& args);

}  // namespace meshgate::cli
