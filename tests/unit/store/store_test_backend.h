// NAME
//   store_test_backend.h - what the store test suite needs from each backend: open a fresh,
//   private database, reach it behind the store's back (tampering, locks), break connections.
//
// DESCRIPTION
//   SQLite: a temporary folder per test. PostgreSQL: a schema per test in the database named
//   by MESHGATE_TEST_PG_DSN (key=value form), selected through search_path, so tests run in
//   parallel against one server; application_name is the schema name, so a test can terminate
//   exactly its own store's connections (what a server restart does to them).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::store::testing {

class TestBackend {
 public:
  virtual ~TestBackend() = default;
  virtual std::string name() const = 0;
  // A store on this test's database. schema_version 0 = latest. timeout: SQLite busy_timeout,
  // PostgreSQL lock_timeout.
  virtual Result<std::unique_ptr<Store>> open(
      int schema_version = 0, std::chrono::milliseconds timeout = std::chrono::seconds(10)) = 0;
  // Runs SQL on a separate connection of its own (autocommit).
  virtual Status exec(const std::string& sql) = 0;
  // Runs a query on that connection and returns the first column of the first row ("" if none).
  virtual Result<std::string> queryValue(const std::string& sql) = 0;
  // Takes and holds a lock that blocks the store's writers (audit appends at least) on a second
  // connection until releaseLock().
  virtual Status holdLock() = 0;
  virtual void releaseLock() = 0;
  // Closes the store's server connections from the server side, as a restart would. Returns
  // false when the backend has no such thing (SQLite).
  virtual Result<bool> killStoreConnections() = 0;
  // Names this test's database for another process: openLocator(locator()) opens a store on
  // it (what a second meshgate node does).
  virtual std::string locator() const = 0;
};

Result<std::unique_ptr<Store>> openLocator(const std::string& locator);

// nullptr (and a skip message) when the backend is not available.
std::unique_ptr<TestBackend> makeSqliteBackend();
std::unique_ptr<TestBackend> makePostgresBackend(std::string* skip_reason);

}  // namespace meshgate::store::testing
