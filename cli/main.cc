// NAME
//   meshgate - Mathematical Mesh mail security gateway and policy server
//
// SYNOPSIS
//   meshgate COMMAND [OPTIONS] [ARGS]
//   meshgate --version | --help
//
// DESCRIPTION
//   One executable, one subcommand per task: the long-running services (run, milter, policy,
//   policyd) and the administrator's commands. `meshgate COMMAND --help` describes each.
//
// SECURITY
//   The administrator's commands act on the configured store with the privileges of the
//   invoking user; they do not drop privileges. The services drop to gateway.user after
//   opening their sockets and reading their keys (service_host.cc).
#include <algorithm>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "meshgate/version.h"

namespace meshgate::cli {
namespace {

std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}

}  // namespace

CommandRegistrar::CommandRegistrar(const char* name, const char* summary, CommandFn run,
                                   int order) {
  registry().push_back(Command{name, summary, run, order});
}

std::vector<Command> registeredCommands() {
  std::vector<Command> sorted = registry();
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Command& a, const Command& b) { return a.order < b.order; });
  return sorted;
}

int runGroup(const std::string& group, const std::string& description,
             const std::vector<Command>& commands, const Args& args) {
  auto usage = [&](std::ostream& os) {
    os << "Usage: " << group << " COMMAND [OPTIONS] [ARGS]\n\n" << description << "\n\nCommands:\n";
    for (const auto& c : commands) {
      std::string n = c.name;
      n.resize(std::max<size_t>(n.size() + 2, 16), ' ');
      os << "  " << n << c.summary << "\n";
    }
    os << "\nRun '" << group << " COMMAND --help' for the options of a command.\n";
  };
  if (args.empty()) {
    usage(std::cerr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(std::cout);
    return 0;
  }
  for (const auto& c : commands) {
    if (args[0] == c.name) return c.run(Args(args.begin() + 1, args.end()));
  }
  std::cerr << group << ": unknown command \"" << args[0] << "\"\n"
            << "Run '" << group << " --help' for the list of commands.\n";
  return 2;
}

}  // namespace meshgate::cli

int main(int argc, char** argv) {
  using namespace meshgate::cli;
  Args args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--version" || args[0] == "-V" || args[0] == "version")) {
    std::cout << "meshgate " << MESHGATE_VERSION << "\n";
    return 0;
  }
  return runGroup("meshgate",
                  "meshgate: Mathematical Mesh security controls for SMTP (ingress control from "
                  "contact catalogs,\negress policy, unforgeable security signals, brand "
                  "accountability) as a milter,\na Postfix policy service and a Mesh service.\n\n"
                  "Global: --version prints the version.",
                  registeredCommands(), args);
}
