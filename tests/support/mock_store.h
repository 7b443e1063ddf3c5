// NAME
//   mock_store.h - a GoogleMock of the Store port, for unit tests of the decision logic. Tests
//   of the store itself and integration tests use the real SQLite/PostgreSQL stores.
#pragma once

#include <gmock/gmock.h>

#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"

namespace meshgate::testing {

class MockStore : public Store {
 public:
  MOCK_METHOD(Status, ping, (), (override));
  MOCK_METHOD(Result<std::string>, checkIntegrity, (), (override));
  MOCK_METHOD(Status, createAccount, (const AccountRecord&), (override));
  MOCK_METHOD(Result<AccountRecord>, getAccount, (std::string_view), (override));
  MOCK_METHOD(Status, updateAccount, (const AccountRecord&, const AccountRecord&), (override));
  MOCK_METHOD(Status, deleteAccount, (std::string_view), (override));
  MOCK_METHOD(Result<std::vector<AccountRecord>>, listAccounts, (), (override));
  MOCK_METHOD(Result<int64_t>, putEntry,
              (const CatalogEntry&, const std::optional<std::vector<ContactMatch>>&), (override));
  MOCK_METHOD(Result<CatalogEntry>, getEntry,
              (std::string_view, std::string_view, std::string_view), (override));
  MOCK_METHOD(Status, deleteEntry, (std::string_view, std::string_view, std::string_view),
              (override));
  MOCK_METHOD(Result<Page<CatalogEntry>>, listEntries,
              (std::string_view, std::string_view, const EntryQuery&), (override));
  MOCK_METHOD(Result<int64_t>, moveEntry,
              (std::string_view, std::string_view, std::string_view, std::string_view, int64_t,
               int64_t),
              (override));
  MOCK_METHOD(Result<int64_t>, countEntries, (std::string_view, std::string_view, int64_t),
              (override));
  MOCK_METHOD(Result<std::optional<ContactMatch>>, findContact,
              (std::string_view, const std::vector<std::string>&), (override));
  MOCK_METHOD(Result<int64_t>, addToCounter, (std::string_view, int64_t, int64_t, int64_t),
              (override));
  MOCK_METHOD(Result<bool>, rememberNonce, (std::string_view, int64_t, int64_t), (override));
  MOCK_METHOD(Result<AuditRecord>, appendAudit, (const AuditRecord&), (override));
  MOCK_METHOD(Result<std::vector<AuditRecord>>, appendAudits, (const std::vector<AuditRecord>&),
              (override));
  MOCK_METHOD(Result<std::vector<AuditRecord>>, readAudit, (int64_t, int), (override));
  MOCK_METHOD(Status, putCheckpoint, (const AuditCheckpoint&), (override));
  MOCK_METHOD(Result<std::optional<AuditCheckpoint>>, latestCheckpoint, (), (override));
  MOCK_METHOD(Status, putQuarantine, (const QuarantineRecord&), (override));
  MOCK_METHOD(Result<QuarantineRecord>, getQuarantine, (std::string_view), (override));
  MOCK_METHOD(Result<bool>, changeQuarantineState,
              (std::string_view, std::string_view, std::string_view), (override));
  MOCK_METHOD(Status, confirmQuarantine, (std::string_view, std::string_view, int64_t),
              (override));
  MOCK_METHOD(Result<std::vector<QuarantineRecord>>, listQuarantine, (std::string_view),
              (override));
  MOCK_METHOD(Result<bool>, claimOnce, (std::string_view, int64_t), (override));
};

class FixedClock : public Clock {
 public:
  explicit FixedClock(int64_t t) : t_(t) {}
  int64_t now() const override { return t_; }
  void set(int64_t t) { t_ = t; }

 private:
  int64_t t_;
};

}  // namespace meshgate::testing
