// config_commands.cc - `meshgate check-config FILE`.
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/config/config_loader.h"

namespace meshgate::cli {
namespace {

int checkConfig(const Args& args) {
  std::string path;
  bool quiet = false;
  ArgParser p("meshgate check-config",
              "Validate a meshgate configuration file without starting anything. Every error is "
              "listed as\nFILE:LINE:COLUMN: key.path: what is wrong (expected ...).");
  p.positional("FILE", "the configuration file, e.g. /etc/meshgate/meshgate.yaml", &path);
  p.flag("quiet", "print nothing when the file is valid", &quiet);
  p.epilog("Exit status: 0 when the file is valid, 1 when it has errors, 2 on a usage error.");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;

  config::LoadResult r = config::loadConfigFile(path);
  if (!r.ok()) {
    for (const auto& e : r.errors) std::cerr << e << "\n";
    std::cerr << path << ": " << r.errors.size() << " error(s)\n";
    return 1;
  }
  if (!quiet) {
    const auto& c = *r.config;
    std::cout << path << ": OK (domains:";
    for (const auto& d : c.gateway.domains) std::cout << " " << d;
    std::cout << "; milter " << (c.milter.enabled ? c.milter.socket.spec : "off")
              << "; mesh_service "
              << (c.mesh_service.enabled
                      ? c.mesh_service.listen.host + ":" + std::to_string(c.mesh_service.listen.port)
                      : "off")
              << "; policyd "
              << (c.policyd.enabled
                      ? c.policyd.listen.host + ":" + std::to_string(c.policyd.listen.port)
                      : "off")
              << ")\n";
  }
  return 0;
}

}  // namespace

MESHGATE_COMMAND(check_config, "check-config", "validate a configuration file and list every error",
                 checkConfig, 20);

}  // namespace meshgate::cli
