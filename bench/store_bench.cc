// NAME
//   store_bench - throughput of the store's hot lookup (findContact) and of catalog writes
//   (putEntry) with 100,000 contacts in one account, SQLite vs PostgreSQL.
//
// SYNOPSIS
//   store_bench [--contacts N] [--seconds S] [--pg DSN]
//
// DESCRIPTION
//   For each backend: opens the store on a fresh database, bulk-loads N contact entries with one
//   index row each into alice@example.com (behind the store's back, in one transaction), then
//   measures for S seconds each:
//     findContact   3 candidates (address, @domain, udf:) per call, half of them hits
//     putEntry      a new contact entry with one match per call (one transaction each)
//   and, as the baseline in the same run, the same statements through the bare C API with
//   prepared statements (sqlite3_* for SQLite, PQexecPrepared for PostgreSQL), so the printed
//   ratio is the cost of the store layer (pool, statement cache, Status, copies). findContact is
//   also run from 2 threads. PostgreSQL uses its own schema store_bench in the database of
//   --pg or MESHGATE_TEST_PG_DSN and is skipped when neither is set.
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "policy/store/postgres_store.h"
#include "policy/store/sqlite_store.h"

namespace {

using meshgate::Store;
using Clock = std::chrono::steady_clock;

const std::string kAccount = "alice@example.com";
int g_contacts = 100000;
double g_seconds = 3.0;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "store_bench: %s\n", message.c_str());
  std::exit(1);
}

// Calls op(i) until `seconds` pass; returns operations per second.
double measure(const std::function<void(int64_t)>& op, int threads = 1) {
  std::atomic<int64_t> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      int64_t i = t * 1000000007LL;
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        op(i++);
        ++n;
      }
      total += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(g_seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(total.load()) / elapsed;
}

// Half hits (contact i exists), half misses; 3 candidates like an RCPT lookup.
std::vector<std::string> candidates(int64_t i) {
  const int64_t n = (i % 2 == 0) ? (i / 2) % g_contacts : g_contacts + i;
  return {"c" + std::to_string(n) + "@example.net", "@nowhere" + std::to_string(n % 97) + ".net",
          "udf:MB" + std::to_string(n)};
}

const char* kFindSql =
    "SELECT \"match\", protocols, entry_key FROM contacts WHERE account = $1 AND \"match\" IN "
    "($2, $3, $4)";

void report(const char* what, double store_ops, double baseline_ops) {
  std::printf("  %-34s store %9.0f/s   bare %9.0f/s   store/bare %.2f\n", what, store_ops,
              baseline_ops, store_ops / baseline_ops);
}

// ------------------------------------------------------------------ SQLite

void sqliteExec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK)
    die(std::string(sql) + ": " + error);
}

void benchSqlite() {
  char dir_template[] = "/tmp/store_bench.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (!dir) die("mkdtemp");
  const std::string path = std::string(dir) + "/bench.db";
  auto opened = meshgate::store::openSqliteStore({path, std::chrono::milliseconds(5000), 0});
  if (!opened.ok()) die(opened.status().toString());
  std::unique_ptr<Store> store = std::move(opened).value();

  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_busy_timeout(db, 5000);
  sqliteExec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
  const auto load_start = Clock::now();
  sqliteExec(db, "BEGIN IMMEDIATE");
  sqlite3_stmt* entry = nullptr;
  sqlite3_stmt* contact = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO entries (account, catalog, key, data, updated, sequence) "
                     "VALUES (?1, 'contacts', ?2, '{\"contact\":1}', 0, ?3)",
                     -1, &entry, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO contacts (account, \"match\", protocols, catalog, entry_key) "
                     "VALUES (?1, ?2, 'smtp', 'contacts', ?3)",
                     -1, &contact, nullptr);
  for (int i = 0; i < g_contacts; ++i) {
    const std::string key = "k" + std::to_string(i);
    const std::string match = "c" + std::to_string(i) + "@example.net";
    sqlite3_bind_text(entry, 1, kAccount.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(entry, 2, key.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(entry, 3, i + 1);
    if (sqlite3_step(entry) != SQLITE_DONE) die(sqlite3_errmsg(db));
    sqlite3_reset(entry);
    sqlite3_bind_text(contact, 1, kAccount.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(contact, 2, match.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(contact, 3, key.c_str(), -1, SQLITE_STATIC);
    if (sqlite3_step(contact) != SQLITE_DONE) die(sqlite3_errmsg(db));
    sqlite3_reset(contact);
  }
  sqlite3_finalize(entry);
  sqlite3_finalize(contact);
  sqlite3_stmt* seq = nullptr;
  sqlite3_prepare_v2(db, "UPDATE store_sequences SET value = ?1 WHERE name = 'entries'", -1, &seq,
                     nullptr);
  sqlite3_bind_int64(seq, 1, g_contacts);
  sqlite3_step(seq);
  sqlite3_finalize(seq);
  sqliteExec(db, "COMMIT; ANALYZE");
  std::printf("sqlite (%s): loaded %d contacts in %.1f s\n", path.c_str(), g_contacts,
              std::chrono::duration<double>(Clock::now() - load_start).count());

  // findContact
  int64_t hits = 0;
  const double store_find = measure([&](int64_t i) {
    auto found = store->findContact(kAccount, candidates(i));
    if (!found.ok()) die(found.status().toString());
    hits += found->has_value();
  });
  if (hits == 0) die("findContact never hit: the load did not work");
  sqlite3_stmt* find = nullptr;
  if (sqlite3_prepare_v2(db, kFindSql, -1, &find, nullptr) != SQLITE_OK) die(sqlite3_errmsg(db));
  const double bare_find = measure([&](int64_t i) {
    const std::vector<std::string> c = candidates(i);
    sqlite3_bind_text(find, 1, kAccount.c_str(), -1, SQLITE_STATIC);
    for (int k = 0; k < 3; ++k)
      sqlite3_bind_text(find, k + 2, c[static_cast<size_t>(k)].c_str(), -1, SQLITE_STATIC);
    std::string match, protocols, key;
    while (sqlite3_step(find) == SQLITE_ROW) {
      match = reinterpret_cast<const char*>(sqlite3_column_text(find, 0));
      protocols = reinterpret_cast<const char*>(sqlite3_column_text(find, 1));
      key = reinterpret_cast<const char*>(sqlite3_column_text(find, 2));
    }
    sqlite3_reset(find);
  });
  sqlite3_finalize(find);
  report("findContact (1 thread)", store_find, bare_find);
  const double store_find2 = measure(
      [&](int64_t i) {
        if (!store->findContact(kAccount, candidates(i)).ok()) die("findContact");
      },
      2);
  std::printf("  %-34s store %9.0f/s\n", "findContact (2 threads)", store_find2);

  // putEntry: a new contact with one match per call.
  const double store_put = measure([&](int64_t i) {
    meshgate::CatalogEntry e{kAccount,          "contacts", "new" + std::to_string(i),
                             "{\"contact\":2}", 1,          0};
    auto put = store->putEntry(e, std::vector<meshgate::ContactMatch>{
                                      {"new" + std::to_string(i) + "@example.org", "smtp", ""}});
    if (!put.ok()) die(put.status().toString());
  });
  const char* kSteps[] = {
      "BEGIN IMMEDIATE",
      "UPDATE store_sequences SET value = value + 1 WHERE name = 'entries' RETURNING value",
      "INSERT INTO entries (account, catalog, key, data, updated, sequence) VALUES (?1, "
      "'contacts', ?2, '{\"contact\":2}', 1, ?3) ON CONFLICT (account, catalog, key) DO UPDATE "
      "SET data = excluded.data, updated = excluded.updated, sequence = excluded.sequence",
      "DELETE FROM contacts WHERE account = ?1 AND entry_key = ?2",
      "SELECT entry_key FROM contacts WHERE account = ?1 AND \"match\" = ?2",
      "INSERT INTO contacts (account, \"match\", protocols, catalog, entry_key) VALUES (?1, ?2, "
      "'smtp', 'contacts', ?3)",
      "COMMIT"};
  std::vector<sqlite3_stmt*> steps;
  for (const char* sql : kSteps) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) die(sqlite3_errmsg(db));
    steps.push_back(s);
  }
  const double bare_put = measure([&](int64_t i) {
    const std::string key = "bare" + std::to_string(i);
    const std::string match = key + "@example.org";
    auto step = [&](size_t n) {
      const int rc = sqlite3_step(steps[n]);
      if (rc != SQLITE_DONE && rc != SQLITE_ROW) die(sqlite3_errmsg(db));
      int64_t v = sqlite3_column_int64(steps[n], 0);
      while (sqlite3_step(steps[n]) == SQLITE_ROW) {
      }
      sqlite3_reset(steps[n]);
      return v;
    };
    step(0);
    const int64_t sequence = step(1);
    sqlite3_bind_text(steps[2], 1, kAccount.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(steps[2], 2, key.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(steps[2], 3, sequence);
    step(2);
    sqlite3_bind_text(steps[3], 1, kAccount.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(steps[3], 2, key.c_str(), -1, SQLITE_STATIC);
    step(3);
    sqlite3_bind_text(steps[4], 1, kAccount.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(steps[4], 2, match.c_str(), -1, SQLITE_STATIC);
    step(4);
    sqlite3_bind_text(steps[5], 1, kAccount.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(steps[5], 2, match.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(steps[5], 3, key.c_str(), -1, SQLITE_STATIC);
    step(5);
    step(6);
  });
  for (sqlite3_stmt* s : steps) sqlite3_finalize(s);
  report("putEntry (1 thread)", store_put, bare_put);
  sqlite3_close_v2(db);
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
  rmdir(dir);
}

// ------------------------------------------------------------------ PostgreSQL

PGresult* pgExec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die(sql + ": " + PQresultErrorMessage(r));
  return r;
}

void benchPostgres(const std::string& base_dsn) {
  const std::string dsn = base_dsn + " options='-c search_path=store_bench'";
  PGconn* admin = PQconnectdb(base_dsn.c_str());
  if (PQstatus(admin) != CONNECTION_OK) die(PQerrorMessage(admin));
  PQclear(pgExec(admin, "SET client_min_messages = warning"));
  PQclear(pgExec(admin, "DROP SCHEMA IF EXISTS store_bench CASCADE"));
  PQclear(pgExec(admin, "CREATE SCHEMA store_bench"));
  meshgate::store::PostgresStoreOptions options;
  options.dsn = dsn;
  options.pool_size = 4;
  auto opened = meshgate::store::openPostgresStore(options);
  if (!opened.ok()) die(opened.status().toString());
  std::unique_ptr<Store> store = std::move(opened).value();

  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) die(PQerrorMessage(conn));
  const auto load_start = Clock::now();
  // Constant SQL: the only "value" is the row count, an integer this program chose.
  const std::string n = std::to_string(g_contacts);
  PQclear(pgExec(conn, "BEGIN"));
  // Bulk load only: the rows are consistent by construction, so skip the per-row foreign key
  // triggers (superuser; the test cluster's user is one).
  PQclear(pgExec(conn, "SET LOCAL session_replication_role = replica"));
  PQclear(pgExec(conn,
                 "INSERT INTO entries (account, catalog, key, data, updated, sequence) SELECT "
                 "'alice@example.com', 'contacts', 'k' || g, '{\"contact\":1}', 0, g FROM "
                 "generate_series(1, " +
                     n + ") g"));
  PQclear(pgExec(conn,
                 "INSERT INTO contacts (account, \"match\", protocols, catalog, entry_key) SELECT "
                 "'alice@example.com', 'c' || g || '@example.net', 'smtp', 'contacts', 'k' || g "
                 "FROM generate_series(1, " +
                     n + ") g"));
  PQclear(pgExec(conn, "UPDATE store_sequences SET value = " + n + " WHERE name = 'entries'"));
  PQclear(pgExec(conn, "COMMIT"));
  PQclear(pgExec(conn, "ANALYZE"));
  std::printf("postgresql (%s): loaded %d contacts in %.1f s\n", base_dsn.c_str(), g_contacts,
              std::chrono::duration<double>(Clock::now() - load_start).count());

  int64_t hits = 0;
  const double store_find = measure([&](int64_t i) {
    auto found = store->findContact(kAccount, candidates(i));
    if (!found.ok()) die(found.status().toString());
    hits += found->has_value();
  });
  if (hits == 0) die("findContact never hit: the load did not work");
  PQclear(PQprepare(conn, "find", kFindSql, 4, nullptr));
  const double bare_find = measure([&](int64_t i) {
    const std::vector<std::string> c = candidates(i);
    const char* values[] = {kAccount.c_str(), c[0].c_str(), c[1].c_str(), c[2].c_str()};
    PGresult* r = PQexecPrepared(conn, "find", 4, values, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) die(PQresultErrorMessage(r));
    std::string match = PQntuples(r) ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
  });
  report("findContact (1 thread)", store_find, bare_find);
  const double store_find2 = measure(
      [&](int64_t i) {
        if (!store->findContact(kAccount, candidates(i)).ok()) die("findContact");
      },
      2);
  std::printf("  %-34s store %9.0f/s\n", "findContact (2 threads)", store_find2);

  const double store_put = measure([&](int64_t i) {
    meshgate::CatalogEntry e{kAccount,          "contacts", "new" + std::to_string(i),
                             "{\"contact\":2}", 1,          0};
    auto put = store->putEntry(e, std::vector<meshgate::ContactMatch>{
                                      {"new" + std::to_string(i) + "@example.org", "smtp", ""}});
    if (!put.ok()) die(put.status().toString());
  });
  PQclear(PQprepare(conn, "seq",
                    "UPDATE store_sequences SET value = value + 1 WHERE name = 'entries' "
                    "RETURNING value",
                    0, nullptr));
  PQclear(PQprepare(conn, "upsert",
                    "INSERT INTO entries (account, catalog, key, data, updated, sequence) VALUES "
                    "($1, 'contacts', $2, '{\"contact\":2}', 1, $3) ON CONFLICT (account, "
                    "catalog, key) DO UPDATE SET data = excluded.data, updated = "
                    "excluded.updated, sequence = excluded.sequence",
                    3, nullptr));
  PQclear(PQprepare(conn, "unindex", "DELETE FROM contacts WHERE account = $1 AND entry_key = $2",
                    2, nullptr));
  PQclear(PQprepare(conn, "owner",
                    "SELECT entry_key FROM contacts WHERE account = $1 AND \"match\" = $2", 2,
                    nullptr));
  PQclear(PQprepare(conn, "index",
                    "INSERT INTO contacts (account, \"match\", protocols, catalog, entry_key) "
                    "VALUES ($1, $2, 'smtp', 'contacts', $3)",
                    3, nullptr));
  const double bare_put = measure([&](int64_t i) {
    const std::string key = "bare" + std::to_string(i);
    const std::string match = key + "@example.org";
    auto run = [&](const char* name, std::vector<const char*> values) {
      PGresult* r = PQexecPrepared(conn, name, static_cast<int>(values.size()), values.data(),
                                   nullptr, nullptr, 0);
      if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        die(PQresultErrorMessage(r));
      }
      std::string v = PQntuples(r) ? PQgetvalue(r, 0, 0) : "";
      PQclear(r);
      return v;
    };
    PQclear(pgExec(conn, "BEGIN"));
    const std::string sequence = run("seq", {});
    run("upsert", {kAccount.c_str(), key.c_str(), sequence.c_str()});
    run("unindex", {kAccount.c_str(), key.c_str()});
    run("owner", {kAccount.c_str(), match.c_str()});
    run("index", {kAccount.c_str(), match.c_str(), key.c_str()});
    PQclear(pgExec(conn, "COMMIT"));
  });
  report("putEntry (1 thread)", store_put, bare_put);
  PQfinish(conn);
  store.reset();
  PQclear(pgExec(admin, "DROP SCHEMA store_bench CASCADE"));
  PQfinish(admin);
}

}  // namespace

int main(int argc, char** argv) {
  std::string pg;
  if (const char* env = std::getenv("MESHGATE_TEST_PG_DSN")) pg = env;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--contacts" && i + 1 < argc) {
      g_contacts = std::atoi(argv[++i]);
    } else if (arg == "--seconds" && i + 1 < argc) {
      g_seconds = std::atof(argv[++i]);
    } else if (arg == "--pg" && i + 1 < argc) {
      pg = argv[++i];
    } else {
      std::fprintf(stderr, "usage: store_bench [--contacts N] [--seconds S] [--pg DSN]\n");
      return 2;
    }
  }
  if (g_contacts < 1) die("--contacts must be positive");
  std::printf("store_bench: %d contacts in one account, %.1f s per measurement\n", g_contacts,
              g_seconds);
  benchSqlite();
  if (pg.empty()) {
    std::printf("postgresql: SKIPPED (no --pg and no MESHGATE_TEST_PG_DSN)\n");
  } else {
    benchPostgres(pg);
  }
  return 0;
}
