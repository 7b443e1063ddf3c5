// brand_command.cc - `meshgate brand verify FILE.eml`: check the Mesh-Brand-Assertion of a
// message and print what it asserts (docs/brand-assertion.md).
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
#include "gateway/policy/brand_assertion.h"

namespace meshgate::cli {
namespace {

int brandVerify(const Args& args) {
  const std::string cmd = "meshgate brand verify";
  std::string file, key_file, config_path;
  ArgParser p(cmd,
              "Verify the Mesh-Brand-Assertion of a message and print the brand, the accountable\n"
              "organization and the gateway that signed it. The gateway's public key comes from\n"
              "--key (e.g. a partner's gateway.key.pub), or from gateway.key_file (+ .pub) of "
              "--config.");
  p.positional("FILE", "the message (RFC 5322 .eml), or - for standard input", &file);
  p.option("key", "KEYFILE", "the signing gateway's public (or private) key file", &key_file);
  p.option("config", "FILE", "read this gateway's key location from this configuration",
           &config_path);
  p.epilog("Exit status: 0 when the assertion verifies, 1 when it does not (the reason is "
           "printed).");
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
  const std::string* value = view.headers().find(policy::kBrandAssertionHeader);
  if (!value) return reportError(cmd, notFound(file + ": no Mesh-Brand-Assertion header"));
  size_t copies = view.headers().count(policy::kBrandAssertionHeader);
  if (copies > 1) {
    std::cerr << cmd << ": warning: " << copies << " brand assertions; verifying the topmost\n";
  }
  auto a = policy::parseBrandAssertion(*value);
  if (!a.ok()) return reportError(cmd, a.status().withContext(file));
  std::cout << "brand:        " << a->brand << "\n"
            << "organization: " << a->organization << "\n";
  if (!a->logo_url.empty()) std::cout << "logo:         " << a->logo_url << "\n";
  std::cout << "address:      " << a->address << "\n"
            << "gateway:      " << a->gateway << "\n"
            << "key:          " << a->kid << "\n"
            << "time:         " << utcTime(a->time) << "\n";
  Status st = policy::verifyBrandAssertion(*a, view.headers(), *key);
  if (!st.ok()) {
    std::cout << "result:       FAILED: " << st.message() << "\n";
    return 1;
  }
  std::cout << "result:       verified\n";
  return 0;
}

int brand(const Args& args) {
  return runGroup("meshgate brand",
                  "Work with Mesh-Brand-Assertion headers (docs/brand-assertion.md).",
                  {{"verify", "verify a message's brand assertion", brandVerify}}, args);
}

}  // namespace

MESHGATE_COMMAND(brand, "brand", "verify the brand assertion of a message", brand, 36);

}  // namespace meshgate::cli
