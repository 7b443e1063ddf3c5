// AuditGroupCommit: records that arrive while one is being written go together in the next
// transaction; every caller gets its own stored record or the batch's failure.
#include "gateway/policy/audit_group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/mock_store.h"

namespace meshgate::policy {
namespace {

using ::testing::_;
using ::testing::NiceMock;

AuditRecord recordFor(int i) {
  AuditRecord r;
  r.kind = "message";
  r.queue_id = "Q" + std::to_string(i);
  return r;
}

// What one caller got back (kept as Status + record: a future of Result trips GCC 12's
// maybe-uninitialized false positive).
struct Outcome {
  Status status;
  AuditRecord stored;
};

// Runs g.append(recordFor(i)) on its own thread.
class Caller {
 public:
  Caller(AuditGroupCommit& g, int i)
      : thread_([this, &g, i] {
          auto r = g.append(recordFor(i));
          if (r.ok()) {
            out_.stored = std::move(r).value();
          } else {
            out_.status = r.status();
          }
        }) {}
  Outcome get() {
    thread_.join();
    return out_;
  }

 private:
  Outcome out_;
  std::thread thread_;
};

// Stores records as a chain would: consecutive sequences in the order given.
class GroupCommit : public ::testing::Test {
 protected:
  GroupCommit() {
    ON_CALL(store_, appendAudit(_)).WillByDefault([this](const AuditRecord& r) {
      std::lock_guard<std::mutex> lock(m_);
      ++single_calls_;
      AuditRecord s = r;
      s.sequence = ++sequence_;
      return Result<AuditRecord>(s);
    });
    ON_CALL(store_, appendAudits(_)).WillByDefault([this](const std::vector<AuditRecord>& rs) {
      std::lock_guard<std::mutex> lock(m_);
      batch_sizes_.push_back(rs.size());
      std::vector<AuditRecord> out = rs;
      for (auto& r : out) r.sequence = ++sequence_;
      return Result<std::vector<AuditRecord>>(out);
    });
  }
  // Blocks until `n` callers are queued behind the one being written.
  static void waitQueued(const AuditGroupCommit& g, size_t n) {
    for (int i = 0; i < 60000 && g.queued() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(g.queued(), n);
  }

  NiceMock<testing::MockStore> store_;
  std::mutex m_;
  int64_t sequence_ = 0;
  int single_calls_ = 0;
  std::vector<size_t> batch_sizes_;
};

TEST_F(GroupCommit, RecordsArrivingDuringAWriteGoInTheNextTransaction) {
  AuditGroupCommit g(store_);
  // The first write is held until five more callers wait behind it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> in_store{false};
  EXPECT_CALL(store_, appendAudit(_))
      .WillOnce([&](const AuditRecord& r) {
        in_store = true;
        released.wait();
        AuditRecord s = r;
        s.sequence = ++sequence_;
        return Result<AuditRecord>(s);
      })
      .WillRepeatedly(::testing::DoDefault());
  std::vector<std::unique_ptr<Caller>> callers;
  callers.push_back(std::make_unique<Caller>(g, 0));
  // The first caller is the writer, blocked in the store; queued() counts the ones behind it.
  while (!in_store) std::this_thread::yield();
  for (int i = 1; i <= 5; ++i) {
    callers.push_back(std::make_unique<Caller>(g, i));
  }
  waitQueued(g, 5);
  release.set_value();
  std::vector<int64_t> sequences;
  for (int i = 0; i <= 5; ++i) {
    Outcome r = callers[static_cast<size_t>(i)]->get();
    ASSERT_TRUE(r.status.ok()) << r.status.toString();
    EXPECT_EQ(r.stored.queue_id, "Q" + std::to_string(i)) << "each caller gets its own record";
    sequences.push_back(r.stored.sequence);
  }
  EXPECT_EQ(sequences[0], 1);
  ASSERT_EQ(batch_sizes_.size(), 1u) << "the five waiting records went in one transaction";
  EXPECT_EQ(batch_sizes_[0], 5u);
  std::sort(sequences.begin(), sequences.end());
  for (int i = 0; i <= 5; ++i) EXPECT_EQ(sequences[static_cast<size_t>(i)], i + 1);
}

TEST_F(GroupCommit, ABatchThatFailsFailsEveryRecordInIt) {
  AuditGroupCommit g(store_);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> in_store{false};
  EXPECT_CALL(store_, appendAudit(_)).WillOnce([&](const AuditRecord& r) {
    in_store = true;
    released.wait();
    return Result<AuditRecord>(r);
  });
  EXPECT_CALL(store_, appendAudits(_))
      .WillOnce([](const std::vector<AuditRecord>&) -> Result<std::vector<AuditRecord>> {
        return unavailable("locked");
      });
  Caller first(g, 0);
  while (!in_store) std::this_thread::yield();
  Caller a(g, 1);
  Caller b(g, 2);
  waitQueued(g, 2);
  release.set_value();
  EXPECT_TRUE(first.get().status.ok());
  EXPECT_EQ(a.get().status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(b.get().status.code(), StatusCode::kUnavailable);
}

TEST_F(GroupCommit, ARecordTheStoreRefusesDoesNotFailTheOthers) {
  AuditGroupCommit g(store_);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> in_store{false};
  EXPECT_CALL(store_, appendAudits(_))
      .WillOnce([](const std::vector<AuditRecord>&) -> Result<std::vector<AuditRecord>> {
        return invalidArgument("detail contains a NUL byte");
      });
  EXPECT_CALL(store_, appendAudit(_))
      .WillOnce([&](const AuditRecord& r) {
        in_store = true;
        released.wait();
        return Result<AuditRecord>(r);
      })
      .WillOnce([](const AuditRecord&) -> Result<AuditRecord> {  // Q1 alone
        return invalidArgument("NUL");
      })
      .WillOnce([](const AuditRecord& r) { return Result<AuditRecord>(r); });  // Q2 alone
  Caller first(g, 0);
  while (!in_store) std::this_thread::yield();
  Caller a(g, 1);
  waitQueued(g, 1);
  Caller b(g, 2);
  waitQueued(g, 2);
  release.set_value();
  EXPECT_TRUE(first.get().status.ok());
  EXPECT_EQ(a.get().status.code(), StatusCode::kInvalidArgument);
  Outcome rb = b.get();
  ASSERT_TRUE(rb.status.ok());
  EXPECT_EQ(rb.stored.queue_id, "Q2");
}

TEST_F(GroupCommit, ManyThreadsEachGetTheirRecordOnce) {
  AuditGroupCommit g(store_, /*max_batch=*/4);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < 40; ++i) callers.push_back(std::make_unique<Caller>(g, i));
  std::vector<int64_t> sequences;
  for (int i = 0; i < 40; ++i) {
    Outcome r = callers[static_cast<size_t>(i)]->get();
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(r.stored.queue_id, "Q" + std::to_string(i));
    sequences.push_back(r.stored.sequence);
  }
  std::sort(sequences.begin(), sequences.end());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(sequences[static_cast<size_t>(i)], i + 1);
  for (size_t n : batch_sizes_) EXPECT_LE(n, 4u);
  EXPECT_EQ(g.queued(), 0u);
}

}  // namespace
}  // namespace meshgate::policy
