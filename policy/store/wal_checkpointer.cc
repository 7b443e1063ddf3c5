// wal_checkpointer.cc - see wal_checkpointer.h.
#include "policy/store/wal_checkpointer.h"

#include <system_error>
#include <utility>

#include "gateway/util/log.h"

namespace meshgate::store {

WalCheckpointer::WalCheckpointer(std::string path, int background_pages, int inline_pages)
    : path_(std::move(path)),
      background_pages_(background_pages < 1 ? 1 : background_pages),
      inline_pages_(inline_pages < background_pages_ ? background_pages_ : inline_pages) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void WalCheckpointer::attach(sqlite3* db) {
  sqlite3_wal_hook(db, &WalCheckpointer::onCommit, this);
}

// Runs inside COMMIT on the committing connection, with the store's writer mutex held: it
// must be quick, and it is, unless the commit checkpoints itself - at the backstop, or when no
// thread takes the request (it could not be started) - as SQLite's own hook would.
int WalCheckpointer::onCommit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* c = static_cast<WalCheckpointer*>(self);
  if (wal_pages < c->background_pages_) return SQLITE_OK;
  if (wal_pages < c->inline_pages_ && c->request()) return SQLITE_OK;
  // Its failure is not the transaction's (already committed).
  if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
      SQLITE_OK) {
    ++c->inline_runs_;
  }
  return SQLITE_OK;
}

bool WalCheckpointer::request() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return false;
    if (requested_) return true;
    if (!thread_.joinable()) {
      // Called from SQLite's C code: no exception may leave.
      try {
        thread_ = std::thread([this] { run(); });
      } catch (const std::system_error& e) {
        log::error(
            "store: cannot start the WAL checkpoint thread: %s (commits checkpoint "
            "themselves)",
            e.what());
        return false;
      }
    }
    requested_ = true;
  }
  wake_.notify_one();
  return true;
}

void WalCheckpointer::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    if (checkpointOnOwnConnection()) ++background_runs_;
    lock.lock();
  }
}

bool WalCheckpointer::checkpointOnOwnConnection() {
  int rc = SQLITE_OK;
  if (db_ == nullptr) {
    rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    // A connection that has read nothing does not know the file is in WAL mode, and its
    // checkpoint "succeeds" doing nothing: read the schema once first.
    if (rc == SQLITE_OK) rc = sqlite3_exec(db_, "PRAGMA schema_version", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      const std::string error = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);  // opened again at the next request
      db_ = nullptr;
      noteFailure(rc, error);
      return false;
    }
  }
  rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    const std::string error = sqlite3_errmsg(db_);
    if ((rc & 0xff) != SQLITE_BUSY) {
      sqlite3_close_v2(db_);  // a fresh connection at the next request
      db_ = nullptr;
    }
    noteFailure(rc, error);
    return false;
  }
  if (failing_) log::info("store: background WAL checkpoint of %s works again", path_.c_str());
  failing_ = false;
  return true;
}

void WalCheckpointer::noteFailure(int rc, const std::string& error) {
  // Busy: another connection (another process, or a commit at the backstop) is checkpointing.
  if ((rc & 0xff) == SQLITE_BUSY) return;
  if (!failing_) {
    log::warning(
        "store: background WAL checkpoint of %s failed: %s (retried at the next "
        "request; the WAL grows until one succeeds, commits checkpoint at %d pages)",
        path_.c_str(), error.c_str(), inline_pages_);
  }
  failing_ = true;
}

}  // namespace meshgate::store
