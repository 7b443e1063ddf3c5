// store_test_backend.cc - SQLite and PostgreSQL test databases for the store suite.
#include "tests/unit/store/store_test_backend.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include "policy/store/postgres_store.h"
#include "policy/store/sqlite_store.h"
#include "tests/support/subprocess.h"

namespace meshgate::store::testing {
namespace {

class SqliteBackend final : public TestBackend {
 public:
  SqliteBackend() : path_(dir_.path() + "/var/lib/meshgate.db") {}
  ~SqliteBackend() override {
    releaseLock();
    if (raw_) sqlite3_close_v2(raw_);
  }

  std::string name() const override { return "sqlite"; }
  const std::string& path() const { return path_; }

  Result<std::unique_ptr<Store>> open(int schema_version,
                                      std::chrono::milliseconds timeout) override {
    return openSqliteStore({path_, timeout, schema_version});
  }

  Status exec(const std::string& sql) override {
    MESHGATE_RETURN_IF_ERROR(connect());
    char* error = nullptr;
    if (sqlite3_exec(raw_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string m = error ? error : "?";
      sqlite3_free(error);
      return internalError(sql + ": " + m);
    }
    return Status();
  }

  Result<std::string> queryValue(const std::string& sql) override {
    MESHGATE_RETURN_IF_ERROR(connect());
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(raw_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return internalError(sql + ": " + sqlite3_errmsg(raw_));
    }
    std::string value;
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0)) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return internalError(sql + ": step failed");
    return value;
  }

  Status holdLock() override {
    MESHGATE_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
    locked_ = true;
    return Status();
  }

  void releaseLock() override {
    if (locked_) {
      Status ignored = exec("ROLLBACK");
      (void)ignored;
      locked_ = false;
    }
  }

  Result<bool> killStoreConnections() override { return false; }

  std::string locator() const override { return "sqlite:" + path_; }

 private:
  Status connect() {
    if (raw_) return Status();
    if (sqlite3_open_v2(path_.c_str(), &raw_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      return internalError("raw open " + path_);
    }
    return Status();
  }

  meshgate::testing::TempDir dir_;
  std::string path_;
  sqlite3* raw_ = nullptr;
  bool locked_ = false;
};

class PostgresBackend final : public TestBackend {
 public:
  PostgresBackend(std::string base_dsn, std::string schema, PGconn* admin)
      : base_dsn_(std::move(base_dsn)), schema_(std::move(schema)), admin_(admin) {}

  ~PostgresBackend() override {
    releaseLock();
    if (raw_) PQfinish(raw_);
    // Leaves nothing behind in the shared test database; a second try on a fresh connection
    // when a test restarted the server under this one.
    const std::string drop = "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE";
    for (int attempt = 0; attempt < 2; ++attempt) {
      PGresult* r = PQexec(admin_, drop.c_str());
      const bool dropped = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
      if (dropped) break;
      PQreset(admin_);
    }
    PQfinish(admin_);
  }

  std::string name() const override { return "postgresql"; }

  std::string dsn() const {
    return base_dsn_ + " application_name=" + schema_ + " options='-c search_path=" + schema_ + "'";
  }

  Result<std::unique_ptr<Store>> open(int schema_version,
                                      std::chrono::milliseconds timeout) override {
    PostgresStoreOptions options;
    options.dsn = dsn();
    options.pool_size = 4;
    options.lock_timeout = timeout;
    options.acquire_timeout = std::chrono::seconds(30);
    options.schema_version = schema_version;
    return openPostgresStore(options);
  }

  Status exec(const std::string& sql) override {
    MESHGATE_RETURN_IF_ERROR(connect());
    PGresult* r = PQexec(raw_, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    std::string message = PQresultErrorMessage(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return internalError(sql + ": " + message);
    return Status();
  }

  Result<std::string> queryValue(const std::string& sql) override {
    MESHGATE_RETURN_IF_ERROR(connect());
    PGresult* r = PQexec(raw_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string message = PQresultErrorMessage(r);
      PQclear(r);
      return internalError(sql + ": " + message);
    }
    std::string value = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return value;
  }

  Status holdLock() override {
    MESHGATE_RETURN_IF_ERROR(exec("BEGIN"));
    Status status = exec("LOCK TABLE audit_head, accounts, counters IN EXCLUSIVE MODE");
    if (!status.ok()) {
      Status ignored = exec("ROLLBACK");
      (void)ignored;
      return status;
    }
    locked_ = true;
    return Status();
  }

  void releaseLock() override {
    if (locked_) {
      Status ignored = exec("ROLLBACK");
      (void)ignored;
      locked_ = false;
    }
  }

  Result<bool> killStoreConnections() override {
    // The raw connection has the same application_name; spare it.
    Result<std::string> killed = queryValue(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" +
        schema_ + "' AND pid <> pg_backend_pid()");
    if (!killed.ok()) return killed.status();
    // pg_terminate_backend only signals; wait until the backends are gone.
    for (int i = 0; i < 100; ++i) {
      Result<std::string> left =
          queryValue("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + schema_ +
                     "' AND pid <> pg_backend_pid()");
      if (left.ok() && *left == "0") break;
      usleep(20000);
    }
    return *killed != "0";
  }

  std::string locator() const override { return "postgresql:" + dsn(); }

 private:
  Status connect() {
    if (raw_) return Status();
    raw_ = PQconnectdb(dsn().c_str());
    if (PQstatus(raw_) != CONNECTION_OK) return internalError(PQerrorMessage(raw_));
    return Status();
  }

  std::string base_dsn_;
  std::string schema_;
  PGconn* admin_;
  PGconn* raw_ = nullptr;
  bool locked_ = false;
};

}  // namespace

Result<std::unique_ptr<Store>> openLocator(const std::string& locator) {
  if (locator.rfind("sqlite:", 0) == 0) {
    return openSqliteStore({locator.substr(7), std::chrono::seconds(10), 0});
  }
  if (locator.rfind("postgresql:", 0) == 0) {
    PostgresStoreOptions options;
    options.dsn = locator.substr(11);
    options.pool_size = 4;
    return openPostgresStore(options);
  }
  return invalidArgument("unknown store locator " + locator);
}

std::unique_ptr<TestBackend> makeSqliteBackend() { return std::make_unique<SqliteBackend>(); }

std::unique_ptr<TestBackend> makePostgresBackend(std::string* skip_reason) {
  const char* dsn = std::getenv("MESHGATE_TEST_PG_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    *skip_reason =
        "MESHGATE_TEST_PG_DSN is not set: the PostgreSQL store tests DID NOT RUN. Start a server "
        "with `export MESHGATE_TEST_PG_DSN=\"$(scripts/pg-test-server start)\"` and run again.";
    return nullptr;
  }
  PGconn* admin = PQconnectdb(dsn);
  if (PQstatus(admin) != CONNECTION_OK) {
    // The variable says a server should be there: that it is not is a failure, not a skip.
    *skip_reason =
        std::string("FAIL: cannot connect to MESHGATE_TEST_PG_DSN: ") + PQerrorMessage(admin);
    PQfinish(admin);
    return nullptr;
  }
  static std::atomic<int> counter{0};
  std::random_device random;
  const std::string schema = "mgtest_" + std::to_string(getpid()) + "_" +
                             std::to_string(counter++) + "_" + std::to_string(random() % 100000);
  PGresult* r = PQexec(admin, ("CREATE SCHEMA " + schema).c_str());
  const bool created = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string message = PQresultErrorMessage(r);
  PQclear(r);
  if (!created) {
    *skip_reason = "FAIL: CREATE SCHEMA: " + message;
    PQfinish(admin);
    return nullptr;
  }
  return std::make_unique<PostgresBackend>(dsn, schema, admin);
}

}  // namespace meshgate::store::testing
