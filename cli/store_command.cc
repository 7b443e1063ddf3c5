// store_command.cc - `meshgate store check`: is the store sound after a crash, a full disk or
// a database restart? (The audit chain's own proof is `meshgate audit verify`.)
#include <iostream>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace meshgate::cli {
namespace {

int storeCheck(const Args& args) {
  const std::string cmd = "meshgate store check";
  std::string config_path = kDefaultConfigPath;
  ArgParser p(cmd,
              "Check the configured store: SQLite's integrity_check and foreign_key_check, the "
              "schema version,\nand the store's own invariants (audit head = newest record, no "
              "gap in the audit sequence,\nevery contact-index row backed by its catalog entry, "
              "every confirmation by a quarantined message).\nRun it after a crash, a full disk "
              "or a database restart; with `meshgate audit verify` it proves\nthat nothing "
              "written was lost or altered.");
  p.option("config", "FILE", "configuration file", &config_path);
  p.epilog("Exit status: 0 when the store is sound, 1 when it is not (every problem is named) "
           "or cannot be read.");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  auto summary = ctx->store->checkIntegrity();
  if (!summary.ok()) {
    if (summary.status().code() == StatusCode::kDataLoss) {
      std::cout << "store FAILED: " << summary.status().message() << "\n";
      return 1;
    }
    return reportError(cmd, summary.status());
  }
  std::cout << "store OK: " << *summary << "\n";
  return 0;
}

int store(const Args& args) {
  return runGroup("meshgate store", "The configured store (SQLite or PostgreSQL).",
                  {{"check", "check the database and the store's invariants", storeCheck}}, args);
}

}  // namespace

MESHGATE_COMMAND(store, "store", "check the store's integrity", store, 45);

}  // namespace meshgate::cli
