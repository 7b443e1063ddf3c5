// sqlite_store.cc - the SQLite backend of SqlStore: connections, statement cache, pool, open.
#include "policy/store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "policy/store/sql_store.h"
#include "policy/store/store_schema.h"
#include "policy/store/wal_checkpointer.h"

namespace meshgate::store {
namespace {

using std::chrono::milliseconds;

Status sqliteStatus(int code, std::string_view message) {
  std::string m = std::string(message) + " (" + sqlite3_errstr(code) + ")";
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailable("database locked beyond the busy timeout: " + m);
    case SQLITE_CONSTRAINT:
      if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE) {
        return alreadyExists(m);
      }
      return invalidArgument(m);
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return invalidArgument(m);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return dataLoss(m);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return unavailable(m);
    default:
      return internalError(m);
  }
}

// Errors after which the connection is not worth keeping.
bool fatalCode(int code) {
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}

// Every SqliteStore on one file in this process shares one writer mutex, so its threads queue
// in order instead of polling in SQLite's busy handler.
std::shared_ptr<std::timed_mutex> writerMutexFor(const std::string& canonical_path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<std::timed_mutex>> registry;
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::shared_ptr<std::timed_mutex> writer = registry[canonical_path].lock();
  if (!writer) {
    writer = std::make_shared<std::timed_mutex>();
    registry[canonical_path] = writer;
  }
  return writer;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

class SqliteConnection final : public SqlConnection {
 public:
  SqliteConnection(sqlite3* db, std::shared_ptr<std::timed_mutex> writer, milliseconds timeout,
                   std::shared_ptr<WalCheckpointer> checkpointer)
      : checkpointer_(std::move(checkpointer)),
        db_(db),
        writer_(std::move(writer)),
        busy_timeout_(timeout) {
    checkpointer_->attach(db_);
  }

  ~SqliteConnection() override {
    if (in_transaction_) rollback();
    for (auto& [sql, statement] : statements_) sqlite3_finalize(statement.handle);
    sqlite3_close_v2(db_);
  }

  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Status begin(bool write) override {
    if (write) {
      if (!writer_->try_lock_for(busy_timeout_)) {
        return unavailable("another thread held the database's write lock for more than " +
                           std::to_string(busy_timeout_.count()) + " ms");
      }
      holds_writer_ = true;
    }
    Status status = runSimple(write ? kBeginImmediate : kBeginDeferred);
    if (!status.ok()) {
      releaseWriter();
      return status.withContext("BEGIN");
    }
    in_transaction_ = true;
    return status;
  }

  Status commit() override {
    Status status = runSimple(kCommit);
    if (!status.ok()) {
      rollback();  // a failed COMMIT leaves the transaction open: undo it, report the failure
      return status.withContext("COMMIT");
    }
    in_transaction_ = false;
    releaseWriter();
    return status;
  }

  void rollback() override {
    if (!sqlite3_get_autocommit(db_)) {
      Status ignored = runSimple(kRollback);
      (void)ignored;  // SQLite rolls back by itself when ROLLBACK cannot run
    }
    in_transaction_ = false;
    releaseWriter();
  }

  Status run(const std::string& sql, std::span<const SqlParam> params, SqlResult* result) override {
    MESHGATE_ASSIGN_OR_RETURN(Statement * statement, prepare(sql));
    sqlite3_stmt* stmt = statement->handle;
    if (params.size() != statement->param_index.size()) {
      return internalError("statement takes " + std::to_string(statement->param_index.size()) +
                           " parameters, given " + std::to_string(params.size()) + ": " + sql);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = statement->param_index[i];
      int rc = SQLITE_OK;
      if (const int64_t* integer = std::get_if<int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(stmt, index, *integer);
      } else {
        const std::string_view text = std::get<std::string_view>(params[i]);
        // SQLITE_STATIC: the caller's text outlives the step loop below.
        rc = sqlite3_bind_text64(stmt, index, text.empty() ? "" : text.data(), text.size(),
                                 SQLITE_STATIC, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK) return fail(rc, sql);
    }
    const int columns = sqlite3_column_count(stmt);
    result->rows.reset(static_cast<size_t>(columns));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (int c = 0; c < columns; ++c) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        const int bytes = sqlite3_column_bytes(stmt, c);
        result->rows.addCell(text ? std::string(text, static_cast<size_t>(bytes)) : std::string());
      }
    }
    if (rc != SQLITE_DONE) {
      // sqlite3_reset returns the statement's error code; the message must be read first.
      std::string message = sqlite3_errmsg(db_);
      const int code = sqlite3_extended_errcode(db_);
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
      if (fatalCode(code)) healthy_ = false;
      return sqliteStatus(code, message);
    }
    result->changes = sqlite3_changes64(db_);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return Status();
  }

  Status runScript(const std::string& sql) override {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      return sqliteStatus(sqlite3_extended_errcode(db_), message);
    }
    return Status();
  }

  bool healthy() const override { return healthy_; }

 private:
  struct Statement {
    sqlite3_stmt* handle = nullptr;
    std::vector<int> param_index;  // bind index of $1, $2, ...
  };

  static inline const std::string kBeginImmediate = "BEGIN IMMEDIATE";
  static inline const std::string kBeginDeferred = "BEGIN";
  static inline const std::string kCommit = "COMMIT";
  static inline const std::string kRollback = "ROLLBACK";

  Result<Statement*> prepare(const std::string& sql) {
    auto found = statements_.find(std::string_view(sql));
    if (found != statements_.end()) return &found->second;
    Statement statement;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                                      SQLITE_PREPARE_PERSISTENT, &statement.handle, nullptr);
    if (rc != SQLITE_OK) {
      Status status = sqliteStatus(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
      sqlite3_finalize(statement.handle);
      if (fatalCode(rc)) healthy_ = false;
      return status.withContext("prepare \"" + sql + "\"");
    }
    // The SQL is written with PostgreSQL's $N placeholders; SQLite treats "$N" as a named
    // parameter, so look each one up rather than assume its position.
    const int count = sqlite3_bind_parameter_count(statement.handle);
    for (int n = 1; n <= count; ++n) {
      const std::string name = "$" + std::to_string(n);
      const int index = sqlite3_bind_parameter_index(statement.handle, name.c_str());
      if (index == 0) {
        sqlite3_finalize(statement.handle);
        return internalError("statement lacks parameter " + name + ": " + sql);
      }
      statement.param_index.push_back(index);
    }
    auto [it, inserted] = statements_.emplace(sql, statement);
    return &it->second;
  }

  Status runSimple(const std::string& sql) {
    SqlResult ignored;
    return run(sql, {}, &ignored);
  }

  Status fail(int rc, const std::string& sql) {
    Status status = sqliteStatus(rc, sqlite3_errmsg(db_));
    sqlite3_stmt* stmt = statements_.find(std::string_view(sql))->second.handle;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return status;
  }

  void releaseWriter() {
    if (holds_writer_) {
      holds_writer_ = false;
      writer_->unlock();
    }
  }

  std::shared_ptr<WalCheckpointer> checkpointer_;  // first: outlives db_, which calls it
  sqlite3* db_;
  std::shared_ptr<std::timed_mutex> writer_;
  milliseconds busy_timeout_;
  std::unordered_map<std::string, Statement, StringHash, std::equal_to<>> statements_;
  bool holds_writer_ = false;
  bool in_transaction_ = false;
  bool healthy_ = true;
};

class SqlitePool final : public SqlConnectionPool {
 public:
  SqlitePool(std::string path, milliseconds busy_timeout, int checkpoint_pages,
             int inline_checkpoint_pages)
      : path_(std::move(path)),
        busy_timeout_(busy_timeout),
        writer_(writerMutexFor(path_)),
        checkpointer_(
            std::make_shared<WalCheckpointer>(path_, checkpoint_pages, inline_checkpoint_pages)) {}

  Result<std::unique_ptr<SqlConnection>> acquire() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<SqlConnection> connection = std::move(idle_.back());
        idle_.pop_back();
        return connection;
      }
    }
    return open();
  }

  void release(std::unique_ptr<SqlConnection> connection) override {
    std::vector<std::unique_ptr<SqlConnection>> closing;  // closed outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    if (!connection->healthy()) {
      closing.swap(idle_);
      closing.push_back(std::move(connection));
      return;
    }
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(std::move(connection));
    } else {
      closing.push_back(std::move(connection));
    }
  }

  Result<std::unique_ptr<SqlConnection>> open() {
    sqlite3* db = nullptr;
    // NOMUTEX: each connection is used by one thread at a time (the pool guarantees it).
    int rc =
        sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Status status = sqliteStatus(rc, db ? sqlite3_errmsg(db) : "cannot open");
      sqlite3_close_v2(db);
      return status.withContext("open " + path_);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(busy_timeout_.count()));
    auto connection = std::make_unique<SqliteConnection>(db, writer_, busy_timeout_, checkpointer_);
    // Per-connection settings (journal_mode=WAL is a property of the file, set at open).
    Status status = connection->runScript("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL");
    if (!status.ok()) return status.withContext("configure " + path_);
    return std::unique_ptr<SqlConnection>(std::move(connection));
  }

 private:
  // Beyond this many idle connections, extras are closed when returned.
  static constexpr size_t kMaxIdle = 32;

  const std::string path_;
  const milliseconds busy_timeout_;
  std::shared_ptr<std::timed_mutex> writer_;
  std::shared_ptr<WalCheckpointer> checkpointer_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<SqlConnection>> idle_;
};

// mkdir -p with mode 0750 for the levels it creates.
Status createFolders(const std::string& folder) {
  if (folder.empty()) return Status();
  struct stat st {};
  if (::stat(folder.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return unavailable(folder + ": not a folder");
    return Status();
  }
  const size_t slash = folder.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    MESHGATE_RETURN_IF_ERROR(createFolders(folder.substr(0, slash)));
  }
  if (::mkdir(folder.c_str(), 0750) != 0 && errno != EEXIST) {
    return unavailable(folder + ": cannot create folder: " + std::strerror(errno));
  }
  ::chmod(folder.c_str(), 0750);  // whatever the umask took away
  return Status();
}

Status createDatabaseFile(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    MESHGATE_RETURN_IF_ERROR(createFolders(path.substr(0, slash)));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (errno == EEXIST) return Status();  // an existing database keeps its owner and mode
    return unavailable(path + ": cannot create: " + std::strerror(errno));
  }
  ::fchmod(fd, 0640);  // the umask must not widen or narrow what the store promises
  ::close(fd);
  return Status();
}

}  // namespace

Result<std::unique_ptr<Store>> openSqliteStore(const SqliteStoreOptions& options) {
  if (options.path.empty()) return invalidArgument("store.sqlite.path is empty");
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > INT_MAX) {
    return invalidArgument("store.sqlite.busy_timeout out of range");
  }
  if (!sqlite3_threadsafe()) return failedPrecondition("SQLite was built without thread support");
  MESHGATE_RETURN_IF_ERROR(createDatabaseFile(options.path));
  char resolved[PATH_MAX];
  if (::realpath(options.path.c_str(), resolved) == nullptr) {
    return unavailable(options.path + ": " + std::strerror(errno));
  }
  auto pool =
      std::make_unique<SqlitePool>(resolved, options.busy_timeout, options.wal_checkpoint_pages,
                                   options.wal_inline_checkpoint_pages);
  MESHGATE_ASSIGN_OR_RETURN(std::unique_ptr<SqlConnection> connection, pool->open());
  SqlResult mode;
  Status status = connection->run("PRAGMA journal_mode", {}, &mode);
  if (status.ok() && (mode.rows.empty() || mode.rows.text(0, 0) != "wal")) {
    status = connection->run("PRAGMA journal_mode = WAL", {}, &mode);
    if (status.ok() && (mode.rows.empty() || mode.rows.text(0, 0) != "wal")) {
      status = failedPrecondition("cannot switch to WAL journal mode");
    }
  }
  if (status.ok()) {
    const int target = options.schema_version ? options.schema_version : latestSchemaVersion();
    status = migrateSchema(*connection, SqlDialect::kSqlite, target);
  }
  if (!status.ok()) return status.withContext("sqlite:" + options.path);
  pool->release(std::move(connection));
  return std::unique_ptr<Store>(
      std::make_unique<SqlStore>(SqlDialect::kSqlite, std::move(pool), "sqlite:" + options.path));
}

}  // namespace meshgate::store
