// NAME
//   sqlite_store.h - the embedded store: one SQLite database file, WAL mode.
//
// SYNOPSIS
//   auto store = openSqliteStore({.path = "./var/meshgate.db", .busy_timeout = 2000ms});
//
// DESCRIPTION
//   Uses the SQLite C API directly: WAL journal (readers never wait for the writer),
//   synchronous=NORMAL (a commit survives a process crash; a power loss may lose the last
//   commits, never corrupt the file), foreign keys on, every statement prepared once per
//   connection and cached. Connections come from a pool that grows to one per concurrently
//   calling thread. Writes run in BEGIN IMMEDIATE transactions; in-process writers queue on a
//   mutex shared by every SqliteStore on the same file (SQLite's busy handler sleeps and polls,
//   which starves under contention), other processes are waited for by SQLite's busy handler.
//   WAL checkpoints run on a thread of the store, not inside a commit (wal_checkpointer.h).
//
//   At open the folder is created if missing (mode 0750), the file if missing (mode 0640; the
//   WAL and shared-memory files inherit it), and the schema is migrated (store_schema.h).
//
// THREAD SAFETY
//   The returned Store is safe for concurrent use from many threads.
//
// ERRORS
//   openSqliteStore: kUnavailable when the file cannot be created or opened, kDataLoss when it
//   is not a database or corrupt, kFailedPrecondition when its schema is newer than this code.
//   Calls: kUnavailable when the database stays locked beyond busy_timeout (callers tempfail),
//   otherwise as in gateway/ports/store.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::store {

struct SqliteStoreOptions {
  std::string path;
  std::chrono::milliseconds busy_timeout{2000};
  // Tests only: stop migrating at this schema version (0 = the latest).
  int schema_version = 0;
  // WAL size (pages) at which a background thread checkpoints (SQLite's own default is 1,000,
  // run inside the commit), and at which a commit checkpoints itself because the thread has
  // not (~40 MiB of 4 KiB pages). policy/store/wal_checkpointer.h.
  int wal_checkpoint_pages = 1000;
  int wal_inline_checkpoint_pages = 10000;
};

Result<std::unique_ptr<Store>> openSqliteStore(const SqliteStoreOptions& options);

}  // namespace meshgate::store
