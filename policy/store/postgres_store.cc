// postgres_store.cc - the PostgreSQL backend of SqlStore: libpq connections, prepared
// statements, a bounded pool that reconnects after the server went away.
#include "policy/store/postgres_store.h"

#include <libpq-fe.h>

#include <poll.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "gateway/ports/deadline.h"
#include "policy/store/sql_store.h"
#include "policy/store/store_schema.h"

namespace meshgate::store {
namespace {

using std::chrono::milliseconds;

struct ResultFree {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultFree>;

std::string trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Maps an error to a Status by SQLSTATE class (PostgreSQL manual, appendix A).
Status pgStatus(std::string_view sqlstate, const std::string& message) {
  const std::string_view cls = sqlstate.substr(0, 2);
  if (sqlstate == "23505") return alreadyExists(message);
  if (cls == "23" || cls == "22") return invalidArgument(message);  // constraint, data
  if (cls == "08" || cls == "57" || cls == "53" || cls == "40" || sqlstate == "55P03" ||
      sqlstate == "55006") {
    // Connection, operator intervention (shutdown, cancel, timeouts), resources, serialization
    // and deadlock, lock timeouts: all "try again later".
    return unavailable(message);
  }
  if (cls == "XX") return dataLoss(message);
  return internalError(message);
}

class PostgresConnection final : public SqlConnection {
 public:
  PostgresConnection(PGconn* conn, std::chrono::milliseconds query_timeout)
      : conn_(conn), query_timeout_(query_timeout) {}
  ~PostgresConnection() override {
    if (conn_) PQfinish(conn_);
  }

  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  Status begin(bool write) override { return command("BEGIN"); }
  Status commit() override {
    Status status = command("COMMIT");
    if (!status.ok()) rollback();
    return status.withContext("COMMIT");
  }
  void rollback() override {
    if (healthy() && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      Status ignored = command("ROLLBACK");
      (void)ignored;  // a broken connection is discarded, which rolls back on the server
    }
  }

  Status run(const std::string& sql, std::span<const SqlParam> params, SqlResult* result) override {
    MESHGATE_ASSIGN_OR_RETURN(const std::string* name,
                              prepare(sql, static_cast<int>(params.size())));
    // Text-format parameters: integers as decimal; text is NUL-free (checked by SqlStore).
    std::vector<std::string> storage;
    storage.reserve(params.size());
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const SqlParam& param : params) {
      if (const int64_t* integer = std::get_if<int64_t>(&param)) {
        storage.push_back(std::to_string(*integer));
      } else {
        storage.emplace_back(std::get<std::string_view>(param));
      }
    }
    for (const std::string& s : storage) values.push_back(s.c_str());
    if (!PQsendQueryPrepared(conn_, name->c_str(), static_cast<int>(values.size()),
                             values.data(), nullptr, nullptr, 0)) {
      return check(nullptr, sql);
    }
    MESHGATE_ASSIGN_OR_RETURN(PgResult res, awaitResult(sql));
    MESHGATE_RETURN_IF_ERROR(check(res.get(), sql));
    const int columns = PQnfields(res.get());
    const int rows = PQntuples(res.get());
    result->rows.reset(static_cast<size_t>(columns));
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < columns; ++c) {
        result->rows.addCell(std::string(PQgetvalue(res.get(), r, c),
                                         static_cast<size_t>(PQgetlength(res.get(), r, c))));
      }
    }
    const char* changed = PQcmdTuples(res.get());
    result->changes = (changed && *changed) ? std::strtoll(changed, nullptr, 10) : 0;
    return Status();
  }

  Status runScript(const std::string& sql) override {
    if (!PQsendQuery(conn_, sql.c_str())) return check(nullptr, "script");
    // A script has one result per statement; the last error (if any) is the answer.
    Status status;
    for (;;) {
      auto res = awaitResult("script");
      if (!res.ok()) return res.status();
      if (!res->get()) break;
      Status st = check(res->get(), "script");
      if (!st.ok() && status.ok()) status = st;
    }
    return status;
  }

  bool healthy() const override { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

  // Session settings, bound like any value (set_config instead of SET, which takes no
  // parameters).
  Status setting(std::string_view name, std::string_view value) {
    const std::string sql = "SELECT set_config($1, $2, false)";
    SqlResult ignored;
    const SqlParam params[] = {name, value};
    return run(sql, params, &ignored);
  }

 private:
  Status command(const char* sql) {
    if (!PQsendQuery(conn_, sql)) return check(nullptr, sql);
    MESHGATE_ASSIGN_OR_RETURN(PgResult res, awaitResult(sql));
    return check(res.get(), sql);
  }

  // Waits for the result of the query in flight, within query_timeout and the caller's
  // decision deadline: libpq's own calls block for as long as the server takes, and a hung
  // server (stopped, partitioned) would hold the mail transaction past Postfix's timeouts.
  // On timeout the connection is closed (the server rolls back when it notices) and reported
  // unhealthy, so the pool discards it. Then drains the remaining results (the final
  // nullptr) so the connection is ready for the next query.
  Result<PgResult> awaitResult(std::string_view what) {
    const auto budget = Deadline::remaining(query_timeout_);
    const auto deadline = std::chrono::steady_clock::now() + budget;
    PgResult first(nullptr);
    bool have_first = false;
    for (;;) {
      while (PQisBusy(conn_)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          PQfinish(conn_);
          conn_ = nullptr;
          return unavailable("the database did not answer within " +
                             std::to_string(budget.count()) + " ms (" + std::string(what) + ")");
        }
        pollfd p{PQsocket(conn_), POLLIN, 0};
        int n = poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR) return unavailable("poll: " + std::string(std::strerror(errno)));
        if (n > 0 && !PQconsumeInput(conn_)) return check(nullptr, what);
      }
      PGresult* r = PQgetResult(conn_);
      if (r == nullptr) break;
      if (!have_first) {
        first = PgResult(r);
        have_first = true;
      } else {
        PQclear(r);  // later results of a multi-statement command
      }
    }
    return first;
  }

  Result<const std::string*> prepare(const std::string& sql, int params) {
    auto found = statements_.find(sql);
    if (found != statements_.end()) return &found->second;
    std::string name = "mg" + std::to_string(statements_.size() + 1);
    if (!PQsendPrepare(conn_, name.c_str(), sql.c_str(), params, nullptr)) {
      return check(nullptr, sql).withContext("prepare");
    }
    MESHGATE_ASSIGN_OR_RETURN(PgResult res, awaitResult(sql));
    MESHGATE_RETURN_IF_ERROR(check(res.get(), sql).withContext("prepare"));
    auto [it, inserted] = statements_.emplace(sql, std::move(name));
    return &it->second;
  }

  Status check(const PGresult* res, std::string_view what) {
    const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status();
    std::string message = trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
    if (message.empty()) message = trimmed(PQerrorMessage(conn_));
    if (!healthy()) {
      return unavailable("connection to the database lost: " + message);
    }
    const char* sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    return pgStatus(sqlstate ? sqlstate : "", message);
  }

  PGconn* conn_;
  const std::chrono::milliseconds query_timeout_;
  std::unordered_map<std::string, std::string> statements_;  // SQL -> prepared name
};

class PostgresPool final : public SqlConnectionPool {
 public:
  explicit PostgresPool(PostgresStoreOptions options) : options_(std::move(options)) {}

  Result<std::unique_ptr<SqlConnection>> acquire() override {
    {
      // No longer than the caller's budget either (a milter callback's decision_timeout).
      const std::chrono::milliseconds wait = Deadline::remaining(options_.acquire_timeout);
      std::unique_lock<std::mutex> lock(mutex_);
      if (!available_.wait_for(lock, wait,
                               [&] { return !idle_.empty() || open_ < options_.pool_size; })) {
        return unavailable("all " + std::to_string(options_.pool_size) +
                           " database connections stayed busy for " + std::to_string(wait.count()) +
                           " ms");
      }
      if (!idle_.empty()) {
        std::unique_ptr<SqlConnection> connection = std::move(idle_.back());
        idle_.pop_back();
        return connection;
      }
      ++open_;  // reserve the slot, connect outside the lock
    }
    Result<std::unique_ptr<SqlConnection>> connection = connect();
    if (!connection.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      --open_;
      available_.notify_one();
    }
    return connection;
  }

  void release(std::unique_ptr<SqlConnection> connection) override {
    std::vector<std::unique_ptr<SqlConnection>> closing;  // closed outside the lock
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (connection->healthy()) {
        idle_.push_back(std::move(connection));
      } else {
        // After a server restart every pooled connection is dead: drop them all now rather
        // than fail one call per connection.
        closing.swap(idle_);
        closing.push_back(std::move(connection));
        open_ -= static_cast<int>(closing.size());
      }
    }
    available_.notify_all();
  }

  Result<std::unique_ptr<SqlConnection>> connect() {
    // Non-blocking connect bounded like a query: PQconnectdb waits as long as the network.
    PGconn* conn = PQconnectStart(options_.dsn.c_str());
    if (conn == nullptr) return unavailable("cannot allocate a PostgreSQL connection");
    auto connection = std::make_unique<PostgresConnection>(conn, options_.query_timeout);
    const auto budget = Deadline::remaining(options_.connect_timeout);
    const auto deadline = std::chrono::steady_clock::now() + budget;
    PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
    while (PQstatus(conn) != CONNECTION_BAD && polling != PGRES_POLLING_OK &&
           polling != PGRES_POLLING_FAILED) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return unavailable("cannot connect to PostgreSQL within " +
                           std::to_string(budget.count()) + " ms");
      }
      pollfd p{PQsocket(conn), static_cast<short>(polling == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
      if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
        return unavailable(std::string("poll: ") + std::strerror(errno));
      }
      polling = PQconnectPoll(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
      return unavailable("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(conn)));
    }
    Status status =
        connection->setting("lock_timeout", std::to_string(options_.lock_timeout.count()));
    if (status.ok()) {
      status = connection->setting("statement_timeout",
                                   std::to_string(options_.statement_timeout.count()));
    }
    if (status.ok()) status = connection->setting("client_encoding", "UTF8");
    // Notices ("relation ... already exists, skipping") would go to stderr by default.
    if (status.ok()) status = connection->setting("client_min_messages", "warning");
    if (!status.ok()) return status.withContext("configure connection");
    return std::unique_ptr<SqlConnection>(std::move(connection));
  }

 private:
  const PostgresStoreOptions options_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<SqlConnection>> idle_;
  int open_ = 0;  // connections in use or idle, at most pool_size
};

}  // namespace

Result<std::unique_ptr<Store>> openPostgresStore(const PostgresStoreOptions& options) {
  if (options.dsn.empty()) return invalidArgument("store.postgresql.dsn is empty");
  if (options.pool_size < 1) return invalidArgument("store.postgresql.pool_size must be >= 1");
  auto pool = std::make_unique<PostgresPool>(options);
  Result<std::unique_ptr<SqlConnection>> acquired = pool->acquire();
  if (!acquired.ok()) return acquired.status().withContext("postgresql");
  std::unique_ptr<SqlConnection> connection = std::move(acquired).value();
  const int target = options.schema_version ? options.schema_version : latestSchemaVersion();
  Status status = migrateSchema(*connection, SqlDialect::kPostgres, target);
  pool->release(std::move(connection));
  if (!status.ok()) return status.withContext("postgresql");
  return std::unique_ptr<Store>(
      std::make_unique<SqlStore>(SqlDialect::kPostgres, std::move(pool), "postgresql"));
}

}  // namespace meshgate::store
