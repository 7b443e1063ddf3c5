// NAME
//   admin_support.h - what every administrator command needs: the configuration and the store.
//
// DESCRIPTION
//   Administrator commands (account, contacts, quarantine, audit, profile) take
//   `--config FILE` (default /etc/meshgate/meshgate.yaml), load it strictly, open the
//   configured store (SQLite or PostgreSQL) and act on it directly, so they work whether or
//   not the services are running. Errors are printed as "meshgate <command>: <message>".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/config/config.h"
#include "gateway/ports/store.h"

namespace meshgate::cli {

inline constexpr const char* kDefaultConfigPath = "/etc/meshgate/meshgate.yaml";

struct AdminContext {
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<Store> store;
};

enum class StoreAbsent { kRefuse, kCreate };

// Loads the configuration and opens the store; on failure prints the errors to stderr
// prefixed with `command` and returns nullptr. A SQLite database that does not exist is
// refused (a wrong store.sqlite.path must not become an empty store that lists nothing and
// verifies "OK"), except for the command that starts one (`account create`: kCreate).
std::unique_ptr<AdminContext> openAdmin(const std::string& command, const std::string& config_path,
                                        StoreAbsent absent = StoreAbsent::kRefuse);

// The current time in seconds since the epoch, as records store it.
int64_t nowSeconds();

// Prints "meshgate <command>: <status message>" to stderr and returns 1.
int reportError(const std::string& command, const Status& status);

// Who runs an administrator command, for the audit log: $SUDO_USER, else $USER, else "unknown".
std::string adminUser();

// Appends an administrator's action to the audit log: `record` with kind "admin", this node,
// the current time, and "by=<adminUser()>" ahead of its detail.
Status appendAdminAudit(Store& store, const config::Config& c, AuditRecord record);

// An administrator's change, audited first: `change` runs only once `record` (its rule and
// action saying what is about to be done; appended as appendAdminAudit does) is written, so
// nothing changes without its record; a change that then fails is recorded again with
// "-failed" after its rule and action, and its error returned.
Status auditedChange(AdminContext& ctx, AuditRecord record, const std::function<Status()>& change);

// auditedChange for a change to an account or its catalogs: the record is "admin.<action>",
// with `account` as the recipient and `detail`.
Status auditedAdminChange(AdminContext& ctx, const std::string& action, const std::string& account,
                          const std::string& detail, const std::function<Status()>& change);

// Unix seconds as 2024-10-01T12:00:00Z.
std::string utcTime(int64_t t);

// A point in time as an administrator writes it: Unix seconds "1700000000", a date
// "2026-11-27", "2026-11-27T10:00:00Z", or an age before `now` such as "90m", "2h", "7d".
// kInvalidArgument naming `option` and the forms it takes.
Result<int64_t> parseTimeOrAge(const std::string& option, const std::string& text, int64_t now);

// Lower-cases the domain and checks the address has a local part and a domain.
Result<std::string> parseAccountAddress(const std::string& text);

// True for text a catalog key can be: printable ASCII without spaces, 1-256 bytes (what the
// Mesh service accepts as an EnvelopeId or MessageID).
bool isCatalogKeyText(const std::string& key);

// The entry `key` of `catalog`: in `account`'s catalog when an account is given, else in the
// one account whose catalog has it. kNotFound; kFailedPrecondition when several accounts have
// it (the message says to name one with --account).
Result<CatalogEntry> findAccountEntry(Store& store, std::string_view catalog,
                                      const std::string& account, const std::string& key);

}  // namespace meshgate::cli
