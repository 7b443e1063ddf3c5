// signal_command.cc - `meshgate signal verify FILE.eml`: check the Mesh-Security-Signal of a
// delivered message and print what it asserts.
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/config/config_loader.h"
#include "gateway/mail/mime.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/security_signal.h"
#include "gateway/util/strings.h"

namespace meshgate::cli {
namespace {

int signalVerify(const Args& args) {
  const std::string cmd = "meshgate signal verify";
  std::string file, key_file, config_path;
  ArgParser p(cmd,
              "Verify the Mesh-Security-Signal of a delivered message and print what it asserts.\n"
              "The gateway's public key comes from --key, or from gateway.key_file (+ .pub) of "
              "--config.");
  p.positional("FILE", "the message (RFC 5322 .eml), or - for standard input", &file);
  p.option("key", "KEYFILE", "the gateway's public (or private) key file", &key_file);
  p.option("config", "FILE", "read the key location from this configuration", &config_path);
  p.epilog("Exit status: 0 when the signal verifies, 1 when it does not (the reason is printed).");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (key_file.empty()) {
    if (config_path.empty()) config_path = kDefaultConfigPath;
    auto loaded = config::loadConfigFile(config_path);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors) std::cerr << e << "\n";
      return 1;
    }
    key_file = loaded.config->gateway.key_file + ".pub";
  }
  auto key = mesh::loadPublicKeyFile(key_file);
  if (!key.ok()) return reportError(cmd, key.status());

  std::stringstream buf;
  if (file == "-") {
    buf << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return reportError(cmd, notFound(file + ": cannot open"));
    buf << in.rdbuf();
  }
  mail::MessageView view = mail::parseMessage(buf.str());
  const std::string* value = view.headers().find(policy::kSignalHeader);
  if (!value) return reportError(cmd, notFound(file + ": no Mesh-Security-Signal header"));
  if (view.headers().count(policy::kSignalHeader) > 1) {
    std::cerr << cmd << ": warning: " << view.headers().count(policy::kSignalHeader)
              << " signal headers; verifying the topmost\n";
  }
  auto signal = policy::parseSignal(*value);
  if (!signal.ok()) return reportError(cmd, signal.status().withContext(file));
  std::cout << "gateway:  " << signal->gateway << "\n"
            << "key:      " << signal->kid << "\n"
            << "time:     " << utcTime(signal->time) << "\n"
            << "contact:  " << signal->contact << "\n"
            << "checks:   " << (signal->checks.empty() ? "none" : joinList(signal->checks, ","))
            << "\n";
  if (!signal->brand.empty()) std::cout << "brand:    " << signal->brand << "\n";
  Status st = policy::verifySignal(*signal, view.headers(), *key);
  if (!st.ok()) {
    std::cout << "result:   FAILED: " << st.message() << "\n";
    return 1;
  }
  std::cout << "result:   verified\n";
  return 0;
}

int signal(const Args& args) {
  return runGroup("meshgate signal", "Work with Mesh-Security-Signal headers (docs/security-signal.md).",
                  {{"verify", "verify a delivered message's signal", signalVerify}}, args);
}

}  // namespace

MESHGATE_COMMAND(signal, "signal", "verify the security signal of a delivered message", signal, 35);

}  // namespace meshgate::cli
