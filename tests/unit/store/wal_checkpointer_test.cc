// WalCheckpointer: checkpoints leave the commit for a thread of their own, commits checkpoint
// themselves only at the backstop, failures are logged once; and the SQLite store uses it.
#include "policy/store/wal_checkpointer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/util/log.h"
#include "policy/store/sqlite_store.h"
#include "tests/support/background_process.h"
#include "tests/support/subprocess.h"

namespace meshgate::store::testing {
namespace {

// A raw WAL-mode connection with one table, closed at the end of the test.
class WalDatabase {
 public:
  explicit WalDatabase(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
    exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT NOT NULL)");
  }
  ~WalDatabase() { sqlite3_close_v2(db_); }
  WalDatabase(const WalDatabase&) = delete;
  WalDatabase& operator=(const WalDatabase&) = delete;

  sqlite3* db() const { return db_; }
  void exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "");
    sqlite3_free(error);
  }
  // One transaction per row, each a page or more (so that the WAL grows by pages).
  void insertRows(int n) {
    for (int i = 0; i < n; ++i) exec("INSERT INTO t (v) VALUES (printf('%.5000c', 'x'))");
  }

 private:
  sqlite3* db_ = nullptr;
};

off_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// A generous limit: these waits check that the thread gets there, not how fast.
bool eventually(const std::function<bool()>& done) {
  return meshgate::testing::waitUntil(done, 60000, 5);
}

TEST(WalCheckpointer, CheckpointsOnItsOwnThreadNotInTheCommit) {
  meshgate::testing::TempDir dir;
  const std::string path = dir.file("a.db");
  auto checkpointer = std::make_shared<WalCheckpointer>(path, 4, 1'000'000);
  WalDatabase db(path);
  checkpointer->attach(db.db());
  db.insertRows(100);
  EXPECT_TRUE(eventually([&] { return checkpointer->backgroundCheckpoints() > 0; }));
  EXPECT_EQ(checkpointer->inlineCheckpoints(), 0);
  // The rows reached the database file itself: without any checkpoint it would still hold
  // only the empty table (the WAL keeps the rest).
  EXPECT_TRUE(eventually([&] { return fileSize(path) > 50 * 4096; })) << fileSize(path);
}

TEST(WalCheckpointer, CommitsCheckpointThemselvesAtTheBackstop) {
  meshgate::testing::TempDir dir;
  const std::string path = dir.file("b.db");
  WalCheckpointer checkpointer(path, 8, 8);
  WalDatabase db(path);
  checkpointer.attach(db.db());
  db.insertRows(200);
  EXPECT_GT(checkpointer.inlineCheckpoints(), 0);
  EXPECT_EQ(checkpointer.backgroundCheckpoints(), 0);
  // Each inline checkpoint lets the next commit start the WAL over: it never holds the 400
  // pages written.
  EXPECT_LT(fileSize(path + "-wal"), 64 * 4200) << fileSize(path + "-wal");
}

TEST(WalCheckpointer, AFailingCheckpointIsLoggedOnceAndCounted) {
  meshgate::testing::TempDir dir;
  std::mutex mutex;
  std::vector<std::string> warnings;
  log::setSinkForTesting([&](log::Level level, const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex);
    if (level == log::Level::kWarning) warnings.push_back(line);
  });
  {
    // The checkpointer's file does not exist: its own connection cannot open it.
    WalCheckpointer checkpointer(dir.file("missing/c.db"), 2, 1'000'000);
    WalDatabase db(dir.file("c.db"));
    checkpointer.attach(db.db());
    db.insertRows(20);
    EXPECT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> lock(mutex);
      return !warnings.empty();
    }));
    db.insertRows(20);  // more requests, more failures: still one line
    EXPECT_EQ(checkpointer.backgroundCheckpoints(), 0);
  }
  log::setSinkForTesting(nullptr);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(
      warnings[0].find("background WAL checkpoint of " + dir.file("missing/c.db") + " failed"),
      std::string::npos)
      << warnings[0];
}

TEST(WalCheckpointer, TheSqliteStoreCheckpointsWithIt) {
  meshgate::testing::TempDir dir;
  const std::string path = dir.file("store.db");
  SqliteStoreOptions options;
  options.path = path;
  options.wal_checkpoint_pages = 8;
  options.wal_inline_checkpoint_pages = 8;  // inline, so that the bound below is exact
  auto store = openSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status().toString();
  for (int i = 0; i < 300; ++i) {
    AuditRecord r;
    r.time = 1700000000 + i;
    r.node = "node-a";
    r.kind = "message";
    r.message_id = "<" + std::to_string(i) + "@example.net>";
    r.detail = std::string(3000, 'd');  // most of a page per record
    ASSERT_TRUE((*store)->appendAudit(r).ok());
  }
  // SQLite's default (1,000 pages) would have let the WAL reach ~4 MB by now.
  EXPECT_LT(fileSize(path + "-wal"), 64 * 4200) << fileSize(path + "-wal");
  auto records = (*store)->readAudit(1, 1000);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 300u);
}

}  // namespace
}  // namespace meshgate::store::testing
