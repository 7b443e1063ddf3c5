// NAME
//   sql_store.h - the Store written once over a minimal SQL connection interface, so the SQLite
//   and PostgreSQL stores share every query, every validation rule and the audit chain logic.
//
// DESCRIPTION
//   SqlStore implements meshgate::Store on a SqlConnectionPool. A backend (sqlite_store.cc,
//   postgres_store.cc) supplies connections that run one parameterized statement at a time,
//   with placeholders written $1, $2, ... (PostgreSQL's syntax; SQLite reads them as named
//   parameters) and values always bound, never spliced into the SQL text. Every Store method
//   is one transaction on one connection: writes begin with the write lock taken up front
//   (SQLite BEGIN IMMEDIATE; PostgreSQL row locks on the rows they serialize on), reads are
//   single statements and so atomic on their own.
//
//   The schema is identical on both backends (store_schema.h). The two places where the
//   dialects differ are named by SqlDialect: the audit chain head is read FOR UPDATE on
//   PostgreSQL (SQLite's IMMEDIATE transaction already excludes other writers) and migrations
//   take an advisory lock on PostgreSQL so that nodes starting together migrate once.
//
// THREAD SAFETY
//   SqlStore is safe for concurrent use: each call borrows its own connection from the pool.
//
// ERRORS
//   As in gateway/ports/store.h. Backends map their native errors to: kUnavailable (cannot
//   reach the database, locked beyond the timeout, connection lost), kAlreadyExists (unique
//   constraint), kInvalidArgument (other constraints, bad values), kDataLoss (corruption),
//   kInternal (anything else). A write whose COMMIT did not succeed is never reported as done.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::store {

// A bound parameter: a 64-bit integer or text (copied by the backend before the call returns).
using SqlParam = std::variant<int64_t, std::string_view>;

// Rows of text cells (both backends hand results back as text; integers are parsed on read).
class SqlRows {
 public:
  void reset(size_t columns) {
    columns_ = columns;
    cells_.clear();
  }
  void addCell(std::string cell) { cells_.push_back(std::move(cell)); }
  size_t size() const { return columns_ == 0 ? 0 : cells_.size() / columns_; }
  bool empty() const { return size() == 0; }
  const std::string& text(size_t row, size_t column) const {
    return cells_[row * columns_ + column];
  }
  int64_t integer(size_t row, size_t column) const;

 private:
  size_t columns_ = 0;
  std::vector<std::string> cells_;
};

struct SqlResult {
  SqlRows rows;
  int64_t changes = 0;  // rows inserted, updated or deleted by the statement
};

// One database connection, used by one thread at a time.
class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  // write: take the database's write lock now, so the transaction cannot fail later on lock
  // upgrade (SQLite) - kUnavailable when it stays locked beyond the timeout.
  virtual Status begin(bool write) = 0;
  virtual Status commit() = 0;
  virtual void rollback() = 0;
  // Runs one statement, prepared once per connection and cached by its text.
  virtual Status run(const std::string& sql, std::span<const SqlParam> params,
                     SqlResult* result) = 0;
  // Runs semicolon-separated statements without parameters (schema migrations only).
  virtual Status runScript(const std::string& sql) = 0;
  // False once the connection is unusable (server restarted, socket closed): the pool then
  // discards it instead of handing it out again.
  virtual bool healthy() const = 0;
};

class SqlConnectionPool {
 public:
  virtual ~SqlConnectionPool() = default;
  // kUnavailable when no connection can be opened (or none frees up in time).
  virtual Result<std::unique_ptr<SqlConnection>> acquire() = 0;
  // Takes the connection back; an unhealthy one is closed, and the pool drops its idle ones too
  // (after a server restart they are all dead, and the next call should reconnect).
  virtual void release(std::unique_ptr<SqlConnection> connection) = 0;
};

enum class SqlDialect { kSqlite, kPostgres };

// Brings the schema to `target_version` (store_schema.h), one transaction per migration.
// kFailedPrecondition when the database is newer than this code.
Status migrateSchema(SqlConnection& connection, SqlDialect dialect, int target_version);
// The schema version of the database (0 when empty).
Result<int> readSchemaVersion(SqlConnection& connection);

class SqlStore final : public Store {
 public:
  SqlStore(SqlDialect dialect, std::unique_ptr<SqlConnectionPool> pool, std::string name);
  ~SqlStore() override;

  Status ping() override;
  Result<std::string> checkIntegrity() override;
  Status createAccount(const AccountRecord& account) override;
  Result<AccountRecord> getAccount(std::string_view address) override;
  Status updateAccount(const AccountRecord& account, const AccountRecord& as_read) override;
  Status deleteAccount(std::string_view address) override;
  Result<std::vector<AccountRecord>> listAccounts() override;
  Result<int64_t> putEntry(const CatalogEntry& entry,
                           const std::optional<std::vector<ContactMatch>>& matches) override;
  Result<CatalogEntry> getEntry(std::string_view account, std::string_view catalog,
                                std::string_view key) override;
  Status deleteEntry(std::string_view account, std::string_view catalog,
                     std::string_view key) override;
  Result<Page<CatalogEntry>> listEntries(std::string_view account, std::string_view catalog,
                                         const EntryQuery& query) override;
  Result<int64_t> moveEntry(std::string_view account, std::string_view from, std::string_view key,
                            std::string_view to, int64_t expected_sequence,
                            int64_t updated) override;
  Result<int64_t> countEntries(std::string_view account, std::string_view catalog,
                               int64_t limit) override;
  Result<std::optional<ContactMatch>> findContact(
      std::string_view account, const std::vector<std::string>& candidates) override;
  Result<int64_t> addToCounter(std::string_view key, int64_t window_start, int64_t amount,
                               int64_t window_end) override;
  Result<bool> rememberNonce(std::string_view nonce, int64_t expires, int64_t now) override;
  Result<AuditRecord> appendAudit(const AuditRecord& record) override;
  Result<std::vector<AuditRecord>> appendAudits(const std::vector<AuditRecord>& records) override;
  Result<std::vector<AuditRecord>> readAudit(int64_t from_sequence, int limit) override;
  Status putCheckpoint(const AuditCheckpoint& checkpoint) override;
  Result<std::optional<AuditCheckpoint>> latestCheckpoint() override;
  Status putQuarantine(const QuarantineRecord& record) override;
  Result<QuarantineRecord> getQuarantine(std::string_view id) override;
  Result<std::vector<QuarantineRecord>> listQuarantine(std::string_view state) override;
  Result<bool> changeQuarantineState(std::string_view id, std::string_view from,
                                     std::string_view to) override;
  Status confirmQuarantine(std::string_view id, std::string_view recipient,
                           int64_t time) override;
  Result<bool> claimOnce(std::string_view key, int64_t now) override;

 private:
  using Body = std::function<Status(SqlConnection&)>;
  // Borrows a connection for `body`; returns it to the pool (or discards it if it broke).
  Status withConnection(const Body& body);
  // withConnection inside BEGIN ... COMMIT; any error rolls back.
  Status transact(bool write, const Body& body);

  const SqlDialect dialect_;
  std::unique_ptr<SqlConnectionPool> pool_;
  const std::string name_;  // "sqlite:/path" or "postgresql" for error context
  // Expired counters and nonces are purged at most once per distinct cut-off (in practice once
  // a second), not on every call: purging is a range delete that writers on other nodes would
  // queue behind.
  std::atomic<int64_t> counters_purged_before_{INT64_MIN};
  std::atomic<int64_t> claims_purged_hour_{INT64_MIN};
  std::atomic<int64_t> nonces_purged_before_{INT64_MIN};
};

// Page keys for listEntries: opaque to callers, bound to one (account, catalog).
std::string encodePageKey(std::string_view account, std::string_view catalog, int64_t sequence);
// kInvalidArgument for garbage or a key from another catalog.
Result<int64_t> decodePageKey(std::string_view account, std::string_view catalog,
                              std::string_view page_key);

}  // namespace meshgate::store
