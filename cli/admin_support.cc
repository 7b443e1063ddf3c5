// admin_support.cc - see admin_support.h.
#include "cli/admin_support.h"

#include <cstdlib>
#include <iostream>

#include "gateway/config/config_loader.h"
#include "gateway/util/strings.h"
#include "gateway/util/time_format.h"
#include "policy/store/store_factory.h"

namespace meshgate::cli {

std::unique_ptr<AdminContext> openAdmin(const std::string& command, const std::string& config_path) {
  config::LoadResult loaded = config::loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e << "\n";
    std::cerr << command << ": the configuration has errors; fix them first (meshgate "
              << "check-config " << config_path << ")\n";
    return nullptr;
  }
  auto store = store::openStore(loaded.config->store);
  if (!store.ok()) {
    std::cerr << command << ": cannot open the store: " << store.status().message() << "\n";
    return nullptr;
  }
  auto ctx = std::make_unique<AdminContext>();
  ctx->config = loaded.config;
  ctx->store = std::move(store).value();
  return ctx;
}

int reportError(const std::string& command, const Status& status) {
  std::cerr << command << ": " << status.message() << "\n";
  return 1;
}

Result<std::string> parseAccountAddress(const std::string& text) {
  std::string a = toLowerAscii(normalizeAddress(text));
  auto at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 >= a.size() ||
      a.find_first_of(" \t\r\n<>,;") != std::string::npos) {
    return invalidArgument("\"" + text + "\" is not an address (expected user@domain)");
  }
  return a;
}

std::string adminUser() {
  const char* user = std::getenv("SUDO_USER");
  if (!user) user = std::getenv("USER");
  return user ? user : "unknown";
}

std::string utcTime(int64_t t) { return formatUtc(t, "%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace meshgate::cli
