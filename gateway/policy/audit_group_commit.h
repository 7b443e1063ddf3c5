// NAME
//   audit_group_commit.h - appends audit records from many threads, several per transaction
//   (group commit).
//
// DESCRIPTION
//   Every message the milter decides gets an audit record before its answer goes to the MTA
//   ("nothing decided goes unrecorded"). One write transaction per record made concurrent
//   messages queue on the store's single writer (bench/RESULTS.md: the milter's end-of-message
//   p99). append() keeps the guarantee - it returns only after its own record is committed -
//   but while one transaction is being written, the records that arrive meanwhile wait and go
//   together in the next one (Store::appendAudits, chained in arrival order).
//
// ERRORS
//   A batch that fails fails every record in it (each caller tempfails its message). A batch
//   refused because one of its records is invalid is retried record by record, so a bad record
//   does not fail the others.
//
// THREAD SAFETY
//   append() may be called from any number of threads; the store is called by one at a time
//   (the thread whose record started the batch), without the lock held.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "gateway/ports/store.h"

namespace meshgate::policy {

class AuditGroupCommit {
 public:
  explicit AuditGroupCommit(Store& store, size_t max_batch = 64)
      : store_(store), max_batch_(max_batch < 1 ? 1 : max_batch) {}

  // Appends `record` (with the records of concurrent callers) and returns it as stored.
  Result<AuditRecord> append(const AuditRecord& record);

  // Callers waiting for a batch to start (for tests).
  size_t queued() const;

 private:
  struct Waiter {
    explicit Waiter(const AuditRecord& r) : record(&r) {}
    const AuditRecord* record;
    bool done = false;
    Status status;       // of the write, once done
    AuditRecord stored;  // when status is OK
  };
  // One outcome per record of the batch, in order.
  struct Outcome {
    Status status;
    AuditRecord stored;
  };
  std::vector<Outcome> write(const std::vector<Waiter*>& batch);

  Store& store_;
  const size_t max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable written_;
  std::deque<Waiter*> queue_;
  bool writing_ = false;
};

}  // namespace meshgate::policy
