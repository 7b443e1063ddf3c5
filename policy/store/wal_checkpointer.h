// NAME
//   wal_checkpointer.h - moves SQLite's WAL checkpoints off the committing thread.
//
// SYNOPSIS
//   auto checkpointer = std::make_shared<WalCheckpointer>("/var/lib/meshgate/meshgate.db");
//   checkpointer->attach(db);  // each connection of the store, once, right after opening it
//
// DESCRIPTION
//   By default SQLite checkpoints inside COMMIT: the transaction that takes the WAL past 1,000
//   pages copies them into the database file and syncs it (two fdatasync calls). In the store
//   that commit still holds the in-process writer mutex, so one message's audit record waits for
//   the disk and every other message's write waits behind it (bench/milter_bench.sh: the
//   end-of-message p99). attach() replaces that hook: a commit that takes the WAL to
//   `background_pages` only wakes a thread of this object, which checkpoints (PASSIVE: it never
//   waits for readers or writers) on a connection of its own. The thread starts at the first
//   request, so a short command that writes little never starts it.
//
//   Backstop: a commit that finds the WAL at `inline_pages` or more (the thread failing or not
//   keeping up) checkpoints inline as SQLite would, so the WAL stays bounded.
//
// ERRORS
//   A failed background checkpoint is logged (once until one succeeds) and retried at the next
//   request; the data is safe in the WAL meanwhile. SQLITE_BUSY (another connection is
//   checkpointing) is not a failure.
//
// THREAD SAFETY
//   Attached connections may commit from any thread. Destroy the checkpointer after the
//   connections it is attached to (it joins its thread).
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace meshgate::store {

class WalCheckpointer {
 public:
  // `path` names the database file; thresholds in WAL pages (inline_pages >= background_pages).
  WalCheckpointer(std::string path, int background_pages, int inline_pages);
  ~WalCheckpointer();

  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Installs the commit hook on `db` (replacing SQLite's automatic checkpoint). The
  // checkpointer must outlive the connection.
  void attach(sqlite3* db);

  // Checkpoints run so far, by where they ran (for tests and the shutdown log).
  int64_t backgroundCheckpoints() const { return background_runs_.load(); }
  int64_t inlineCheckpoints() const { return inline_runs_.load(); }

 private:
  static int onCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  bool request();  // false: no thread will do it (stopping, or it cannot be started)
  void run();
  bool checkpointOnOwnConnection();
  void noteFailure(int rc, const std::string& error);  // logs the first failure of a streak

  const std::string path_;
  const int background_pages_;
  const int inline_pages_;
  std::atomic<int64_t> background_runs_{0};
  std::atomic<int64_t> inline_runs_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;  // started by the first request()

  // Used by the thread only.
  sqlite3* db_ = nullptr;
  bool failing_ = false;
};

}  // namespace meshgate::store
