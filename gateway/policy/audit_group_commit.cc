// audit_group_commit.cc - see audit_group_commit.h.
#include "gateway/policy/audit_group_commit.h"

#include <vector>

namespace meshgate::policy {

Result<AuditRecord> AuditGroupCommit::append(const AuditRecord& record) {
  Waiter me(record);
  std::unique_lock<std::mutex> lock(mutex_);
  queue_.push_back(&me);
  while (!me.done) {
    if (writing_) {
      written_.wait(lock);
      continue;
    }
    // Nobody is writing: this thread writes what is queued (its own record among the first
    // max_batch, or it loops and writes the next batch).
    writing_ = true;
    std::vector<Waiter*> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    std::vector<Outcome> outcomes = write(batch);
    lock.lock();
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->status = std::move(outcomes[i].status);
      batch[i]->stored = std::move(outcomes[i].stored);
      batch[i]->done = true;
    }
    writing_ = false;
    written_.notify_all();
  }
  if (!me.status.ok()) return me.status;
  return std::move(me.stored);
}

std::vector<AuditGroupCommit::Outcome> AuditGroupCommit::write(const std::vector<Waiter*>& batch) {
  std::vector<Outcome> outcomes(batch.size());
  auto one = [&](size_t i) {
    auto r = store_.appendAudit(*batch[i]->record);
    if (r.ok()) {
      outcomes[i].stored = std::move(r).value();
    } else {
      outcomes[i].status = r.status();
    }
  };
  if (batch.size() == 1) {
    one(0);
    return outcomes;
  }
  std::vector<AuditRecord> records;
  records.reserve(batch.size());
  for (const Waiter* w : batch) records.push_back(*w->record);
  auto stored = store_.appendAudits(records);
  Status failure;
  if (stored.ok() && stored->size() == batch.size()) {
    for (size_t i = 0; i < batch.size(); ++i) outcomes[i].stored = std::move((*stored)[i]);
    return outcomes;
  }
  if (stored.ok()) {
    failure = internalError("the store returned " + std::to_string(stored->size()) +
                            " audit records for " + std::to_string(batch.size()));
  } else if (stored.status().code() == StatusCode::kInvalidArgument) {
    // One record the store refuses (a value it cannot hold) must not fail the others.
    for (size_t i = 0; i < batch.size(); ++i) one(i);
    return outcomes;
  } else {
    failure = stored.status();
  }
  for (auto& o : outcomes) o.status = failure;
  return outcomes;
}

size_t AuditGroupCommit::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

}  // namespace meshgate::policy
