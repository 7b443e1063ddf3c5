// profile_command.cc - `meshgate profile show ADDRESS`: what the resolver (policy/resolver/)
// finds for an address, verified exactly as the services verify it (seed 7.1.5), printed for
// an administrator or as JSON.
//
// SECURITY
//   Reads the configuration and the store like the other admin commands, and the gateway's
//   public key (gateway.key_file + ".pub", else the private key file) to check that local
//   profiles are countersigned by this gateway. Asks other domains' Mesh services over HTTPS
//   with the resolver's own certificate checks; nothing it prints is trusted before it verifies.
#include <filesystem>
#include <iostream>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/mesh/profile.h"
#include "gateway/ports/clock.h"
#include "gateway/util/strings.h"
#include "meshgate/mesh_model.h"
#include "policy/resolver/resolver.h"

namespace meshgate::cli {
namespace {

// The gateway's public key, when it can be read (local profiles need it).
std::optional<mesh::PublicKey> gatewayPublicKey(const config::Config& config) {
  const std::string pub = config.gateway.key_file + ".pub";
  std::error_code ec;
  if (std::filesystem::exists(pub, ec)) {
    auto key = mesh::loadPublicKeyFile(pub);
    if (key.ok()) return *key;
  }
  auto key = mesh::loadPrivateKeyFile(config.gateway.key_file);
  if (key.ok()) return key->publicKey();
  return std::nullopt;
}

std::string keyLine(const std::string& field, const std::optional<mesh::model::KeyData>& key) {
  if (!key) return "";
  std::string line = "  " + field;
  line.resize(std::max<size_t>(line.size() + 1, 24), ' ');
  std::string type = mesh::keyDataType(*key);
  type.resize(std::max<size_t>(type.size() + 1, 9), ' ');
  line += type + key->udf.value_or("?");
  if (key->not_before) line += "  not before " + mesh::model::formatDateTime(*key->not_before);
  if (key->not_on_or_after) {
    line += "  until " + mesh::model::formatDateTime(*key->not_on_or_after);
  }
  return line + "\n";
}

void printText(const ResolvedProfile& r) {
  const mesh::model::ProfileAccount& p = r.profile;
  std::cout << "address:    " << r.address << "\n"
            << "profile:    " << r.udf << "\n"
            << "source:     " << profileSourceName(r.source) << " (" << r.origin << ")\n"
            << "service:    " << r.service_udf << " (countersigned the profile)\n"
            << "signed by:  " << r.signer_kid << "\n"
            << "addresses:  " << joinList(p.account_addresses, ", ") << "\n";
  if (p.updated) std::cout << "updated:    " << mesh::model::formatDateTime(*p.updated) << "\n";
  std::cout << "keys:\n"
            << keyLine("KeyOfflineSignature", p.key_offline_signature);
  for (const auto& k : p.keys_online_signature) std::cout << keyLine("KeysOnlineSignature", k);
  std::cout << keyLine("KeyEncryption", p.key_encryption)
            << keyLine("KeyAuthentication", p.key_authentication)
            << "verified:   signatures, signer authorized by the profile, key validity, service "
               "countersignature, lists the address (seed 7.1.5)\n";
}

void printJson(const ResolvedProfile& r) {
  nlohmann::json out = {
      {"Address", r.address},
      {"ProfileUDF", r.udf},
      {"Source", std::string(profileSourceName(r.source))},
      {"Origin", r.origin},
      {"ServiceUDF", r.service_udf},
      {"SignerKid", r.signer_kid},
      {"Verified", true},
      {"Profile", mesh::model::toTaggedJson(r.profile)},
      {"Envelope", mesh::dareToJson(r.envelope)},
  };
  std::cout << out.dump(2) << "\n";
}

int profileShow(const Args& args) {
  const std::string cmd = "meshgate profile show";
  std::string config_path = kDefaultConfigPath, address;
  bool json = false;
  ArgParser p(cmd,
              "Resolve an address to its Mesh profile and print it once verified (seed 7.1.5): "
              "a local account's from the store, any other domain's from its Mesh service "
              "(resolver.services, else DNS SRV _mmm._tcp.<domain>, else mmm.<domain>), over "
              "HTTPS with the resolver's certificate checks and timeouts.");
  p.positional("ADDRESS", "the address, e.g. bob@example.net", &address);
  p.flag("json", "print the result, the ProfileAccount and its envelope as JSON", &json);
  p.option("config", "FILE", std::string("configuration (default ") + kDefaultConfigPath + ")",
           &config_path);
  p.epilog(
      "Exit status: 0 the profile verified; 1 no profile, a refused profile (the message says\n"
      "which check failed) or the service could not be asked; 2 usage error.\n");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(address);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  SystemClock clock;
  resolver::ResolverDeps deps;
  deps.config = ctx->config;
  deps.store = ctx->store.get();
  deps.clock = &clock;
  deps.service_key = gatewayPublicKey(*ctx->config);
  auto made = resolver::makeProfileResolver(std::move(deps));
  if (!made.ok()) return reportError(cmd, made.status());
  auto resolved = (*made)->resolve(*addr);
  if (!resolved.ok()) {
    const Status& st = resolved.status();
    const char* what = st.code() == StatusCode::kNotFound ? "no Mesh profile"
                       : (st.code() == StatusCode::kUnavailable ||
                          st.code() == StatusCode::kDeadlineExceeded ||
                          st.code() == StatusCode::kUnauthenticated)
                           ? "could not resolve"
                           : "profile refused";
    std::cerr << cmd << ": " << *addr << ": " << what << ": " << st.toString() << "\n";
    return 1;
  }
  if (json) {
    printJson(**resolved);
  } else {
    printText(**resolved);
  }
  return 0;
}

int profile(const Args& args) {
  return runGroup("meshgate profile", "Mesh profiles of addresses, as the resolver sees them.",
                  {{"show", "resolve an address and print its verified profile", profileShow}},
                  args);
}

}  // namespace

MESHGATE_COMMAND(profile, "profile", "resolve and show an address's verified Mesh profile",
                 profile, 42);

}  // namespace meshgate::cli
