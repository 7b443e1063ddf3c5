// store_test.cc - one suite, every Store method, run against SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "gateway/ports/deadline.h"
#include "gateway/util/audit_hash.h"
#include "policy/store/sqlite_store.h"
#include "policy/store/store_factory.h"
#include "policy/store/store_schema.h"
#include "tests/support/subprocess.h"
#include "tests/unit/store/store_test_backend.h"

namespace meshgate::store::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

inline const Status& statusOf(const Status& status) { return status; }
template <typename T>
const Status& statusOf(const Result<T>& result) {
  return result.status();
}

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    const auto& _result = (expr);                           \
    const ::meshgate::Status& _s = statusOf(_result);       \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.toString(); \
  } while (0)

template <typename T>
T valueOf(Result<T> result, const char* what) {
  EXPECT_TRUE(result.ok()) << what << ": " << result.status().toString();
  if (!result.ok()) throw std::runtime_error(result.status().toString());
  return std::move(result).value();
}
#define VALUE(expr) valueOf((expr), #expr)

AccountRecord account(const std::string& address) {
  AccountRecord a;
  a.address = address;
  a.ingress_policy = "contacts-only";
  a.display_name = "Display " + address;
  a.profile_udf = "MB2GK-" + address;
  a.profile = "{\"profile\":\"" + address + "\"}";
  a.created = 1700000000;
  a.updated = 1700000001;
  return a;
}

CatalogEntry entry(const std::string& acct, const std::string& catalog, const std::string& key,
                   const std::string& data = "{}", int64_t updated = 1700000000) {
  CatalogEntry e;
  e.account = acct;
  e.catalog = catalog;
  e.key = key;
  e.data = data;
  e.updated = updated;
  return e;
}

AuditRecord auditRecord(int i, const std::string& node = "node-a") {
  AuditRecord r;
  r.time = 1700000000 + i;
  r.node = node;
  r.kind = "message";
  r.message_id = "<" + std::to_string(i) + "@example.net>";
  r.queue_id = "Q" + std::to_string(i);
  r.sender = "bob@example.net";
  r.recipients = "alice@example.com,carol@example.com";
  r.rule = "ingress.contacts-only";
  r.action = i % 2 ? "reject" : "accept";
  r.signals = "first-contact";
  r.detail = "{\"i\":" + std::to_string(i) + "}";
  return r;
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    backend_ = GetParam() == "sqlite" ? makeSqliteBackend() : makePostgresBackend(&skip);
    if (!backend_) {
      if (skip.rfind("FAIL", 0) == 0) FAIL() << skip;
      std::fprintf(stderr, "\n******** SKIPPED ********\n%s\n*************************\n",
                   skip.c_str());
      GTEST_SKIP() << skip;
    }
    Result<std::unique_ptr<Store>> opened = backend_->open();
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store_ = std::move(opened).value();
  }

  void TearDown() override {
    store_.reset();
    backend_.reset();
  }

  std::vector<AuditRecord> wholeAudit(Store& store) {
    std::vector<AuditRecord> all;
    int64_t from = 1;
    for (;;) {
      std::vector<AuditRecord> page = VALUE(store.readAudit(from, 1000));
      if (page.empty()) return all;
      from = page.back().sequence + 1;
      all.insert(all.end(), page.begin(), page.end());
    }
  }

  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Store> store_;
};

// ---------------------------------------------------------------- basics, accounts

TEST_P(StoreTest, PingAndSchemaVersion) {
  ASSERT_OK(store_->ping());
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT MAX(version) FROM schema_version")),
            std::to_string(latestSchemaVersion()));
}

TEST_P(StoreTest, AccountLifecycle) {
  ASSERT_OK(store_->createAccount(account("bob@example.com")));
  ASSERT_OK(store_->createAccount(account("alice@example.com")));
  EXPECT_EQ(store_->createAccount(account("alice@example.com")).code(), StatusCode::kAlreadyExists);

  AccountRecord got = VALUE(store_->getAccount("alice@example.com"));
  AccountRecord want = account("alice@example.com");
  EXPECT_EQ(got.address, want.address);
  EXPECT_EQ(got.ingress_policy, want.ingress_policy);
  EXPECT_EQ(got.display_name, want.display_name);
  EXPECT_EQ(got.profile_udf, want.profile_udf);
  EXPECT_EQ(got.profile, want.profile);
  EXPECT_EQ(got.created, want.created);
  EXPECT_EQ(got.updated, want.updated);
  EXPECT_EQ(store_->getAccount("nobody@example.com").status().code(), StatusCode::kNotFound);

  const AccountRecord as_read = got;
  got.ingress_policy = "open";
  got.display_name = "Alice Example";
  got.updated = 1800000000;
  ASSERT_OK(store_->updateAccount(got, as_read));
  AccountRecord updated = VALUE(store_->getAccount("alice@example.com"));
  EXPECT_EQ(updated.ingress_policy, "open");
  EXPECT_EQ(updated.display_name, "Alice Example");
  EXPECT_EQ(updated.updated, 1800000000);
  EXPECT_EQ(
      store_->updateAccount(account("nobody@example.com"), account("nobody@example.com")).code(),
      StatusCode::kNotFound);

  // A second writer that read the account before that change cannot undo it: nothing is
  // written, and it is told so.
  AccountRecord stale = as_read;
  stale.profile_udf = "MDXX-STAL-EWRI-TER";
  stale.updated = 1800000001;
  Status lost = store_->updateAccount(stale, as_read);
  EXPECT_EQ(lost.code(), StatusCode::kFailedPrecondition) << lost.toString();
  EXPECT_NE(lost.message().find("changed by another command or node meanwhile"), std::string::npos)
      << lost.toString();
  AccountRecord kept = VALUE(store_->getAccount("alice@example.com"));
  EXPECT_EQ(kept.ingress_policy, "open") << "the first writer's change stands";
  EXPECT_EQ(kept.profile_udf, want.profile_udf);
  // Read again, the same change goes through.
  stale.ingress_policy = kept.ingress_policy;
  stale.display_name = kept.display_name;
  ASSERT_OK(store_->updateAccount(stale, kept));
  EXPECT_EQ(VALUE(store_->getAccount("alice@example.com")).profile_udf, "MDXX-STAL-EWRI-TER");

  std::vector<AccountRecord> all = VALUE(store_->listAccounts());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].address, "alice@example.com");  // ordered by address
  EXPECT_EQ(all[1].address, "bob@example.com");

  ASSERT_OK(store_->deleteAccount("bob@example.com"));
  EXPECT_EQ(store_->deleteAccount("bob@example.com").code(), StatusCode::kNotFound);
  EXPECT_EQ(VALUE(store_->listAccounts()).size(), 1u);
}

TEST_P(StoreTest, RefusesBadValues) {
  EXPECT_EQ(store_->createAccount(account("")).code(), StatusCode::kInvalidArgument);
  AccountRecord nul = account("x@example.com");
  nul.display_name = std::string("a\0b", 3);
  EXPECT_EQ(store_->createAccount(nul).code(), StatusCode::kInvalidArgument);
  AccountRecord escape = account("x@example.com");
  escape.display_name = "name\x1b[2J\r\nforged line";  // terminal escape and a line break
  EXPECT_EQ(store_->createAccount(escape).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->getAccount("x@example.com").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->putEntry(entry("a", "", "k"), std::nullopt).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->putEntry(entry("a", "c", ""), std::nullopt).status().code(),
            StatusCode::kInvalidArgument);
  QuarantineRecord q;
  q.id = "q1";
  q.state = "lost";
  EXPECT_EQ(store_->putQuarantine(q).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->readAudit(1, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->rememberNonce("", 10, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->claimOnce("", 1).status().code(), StatusCode::kInvalidArgument);
}

// Values reach the database only as bound parameters: SQL in them is just text.
TEST_P(StoreTest, ValuesAreNeverSql) {
  const std::string evil = "x'); DROP TABLE accounts; --\"; DELETE FROM entries; $1 ? :a";
  AccountRecord a = account(evil);
  a.display_name = evil;
  ASSERT_OK(store_->createAccount(a));
  EXPECT_EQ(VALUE(store_->getAccount(evil)).display_name, evil);
  ASSERT_OK(store_->putEntry(entry(evil, "contacts", evil, evil),
                             std::vector<ContactMatch>{{evil, "*", ""}}));
  EXPECT_EQ(VALUE(store_->getEntry(evil, "contacts", evil)).data, evil);
  auto found = VALUE(store_->findContact(evil, {evil}));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->entry_key, evil);
  EXPECT_EQ(VALUE(store_->listAccounts()).size(), 1u);
  // Non-ASCII text survives both backends unchanged.
  const std::string utf8 = "J\xc3\xbcrgen M\xc3\xbcller \xe2\x9c\x89";
  a = account("juergen@example.com");
  a.display_name = utf8;
  ASSERT_OK(store_->createAccount(a));
  EXPECT_EQ(VALUE(store_->getAccount("juergen@example.com")).display_name, utf8);
}

// ---------------------------------------------------------------- catalogs

TEST_P(StoreTest, CountEntriesCountsOneCatalogUpToTheLimit) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(
        store_->putEntry(entry("alice@example.com", "held", "h" + std::to_string(i)), std::nullopt)
            .status());
  }
  ASSERT_OK(store_->putEntry(entry("alice@example.com", "inbound", "i0"), std::nullopt).status());
  ASSERT_OK(store_->putEntry(entry("bob@example.com", "held", "h0"), std::nullopt).status());
  EXPECT_EQ(VALUE(store_->countEntries("alice@example.com", "held", 100)), 5);
  EXPECT_EQ(VALUE(store_->countEntries("alice@example.com", "held", 3)), 3);
  EXPECT_EQ(VALUE(store_->countEntries("alice@example.com", "inbound", 100)), 1);
  EXPECT_EQ(VALUE(store_->countEntries("carol@example.com", "held", 100)), 0);
  EXPECT_EQ(store_->countEntries("alice@example.com", "held", 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, MoveEntryMovesOnlyTheEntryAsReadAndOnlyOnce) {
  const std::string alice = "alice@example.com";
  const int64_t put =
      VALUE(store_->putEntry(entry(alice, "held", "m1", "{\"v\":1}"), std::nullopt));
  // Replaced since it was read: nothing moves.
  EXPECT_EQ(store_->moveEntry(alice, "held", "m1", "inbound", put + 1, 1800000000).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->getEntry(alice, "inbound", "m1").status().code(), StatusCode::kNotFound);
  const int64_t moved = VALUE(store_->moveEntry(alice, "held", "m1", "inbound", put, 1800000000));
  EXPECT_GT(moved, put);
  CatalogEntry got = VALUE(store_->getEntry(alice, "inbound", "m1"));
  EXPECT_EQ(got.data, "{\"v\":1}");
  EXPECT_EQ(got.updated, 1800000000);
  EXPECT_EQ(got.sequence, moved);
  EXPECT_EQ(store_->getEntry(alice, "held", "m1").status().code(), StatusCode::kNotFound);
  // A second move finds nothing to move.
  EXPECT_EQ(store_->moveEntry(alice, "held", "m1", "inbound", put, 1800000000).status().code(),
            StatusCode::kNotFound);
  // The target has the key already: both stay as they are.
  const int64_t again =
      VALUE(store_->putEntry(entry(alice, "held", "m1", "{\"v\":2}"), std::nullopt));
  EXPECT_EQ(store_->moveEntry(alice, "held", "m1", "inbound", again, 1800000001).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(VALUE(store_->getEntry(alice, "held", "m1")).data, "{\"v\":2}");
  EXPECT_EQ(VALUE(store_->getEntry(alice, "inbound", "m1")).data, "{\"v\":1}");
  // Contacts carry index rows, which a move would leave behind.
  const int64_t contact = VALUE(store_->putEntry(entry(alice, "contacts", "bob"), std::nullopt));
  EXPECT_EQ(store_->moveEntry(alice, "contacts", "bob", "old", contact, 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->moveEntry(alice, "held", "m1", "contacts", again, 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, MoveEntryRacingDeleteOrAnotherMoveLetsOneWin) {
  std::unique_ptr<Store> second = VALUE(backend_->open());
  const std::string alice = "alice@example.com";
  constexpr int kRounds = 40;
  for (int i = 0; i < kRounds; ++i) {
    const std::string key = "m" + std::to_string(i);
    const int64_t seq = VALUE(store_->putEntry(entry(alice, "held", key), std::nullopt));
    Status first, other;
    // Even rounds: a release against a delete; odd rounds: two releases.
    std::thread racer([&] {
      other = i % 2 ? second->moveEntry(alice, "held", key, "inbound", seq, 1).status()
                    : second->deleteEntry(alice, "held", key);
    });
    first = store_->moveEntry(alice, "held", key, "inbound", seq, 1).status();
    racer.join();
    ASSERT_NE(first.ok(), other.ok())
        << key << ": " << first.toString() << " / " << other.toString();
    const Status& loser = first.ok() ? other : first;
    EXPECT_EQ(loser.code(), StatusCode::kNotFound) << key << ": " << loser.toString();
    EXPECT_EQ(store_->getEntry(alice, "held", key).status().code(), StatusCode::kNotFound);
    // In inbound exactly when a move won.
    const bool released = first.ok() || (i % 2 == 1);
    EXPECT_EQ(store_->getEntry(alice, "inbound", key).ok(), released) << key;
  }
}

TEST_P(StoreTest, EntriesPutGetReplaceDelete) {
  int64_t s1 = VALUE(store_->putEntry(
      entry("alice@example.com", "applications", "ssh", "{\"a\":1}"), std::nullopt));
  int64_t s2 = VALUE(store_->putEntry(entry("alice@example.com", "devices", "d1"), std::nullopt));
  int64_t s3 = VALUE(store_->putEntry(entry("", "publications", "p1"), std::nullopt));
  EXPECT_LT(s1, s2);
  EXPECT_LT(s2, s3);
  CatalogEntry got = VALUE(store_->getEntry("alice@example.com", "applications", "ssh"));
  EXPECT_EQ(got.data, "{\"a\":1}");
  EXPECT_EQ(got.sequence, s1);
  EXPECT_EQ(got.updated, 1700000000);
  EXPECT_EQ(VALUE(store_->getEntry("", "publications", "p1")).sequence, s3);

  int64_t s4 = VALUE(store_->putEntry(
      entry("alice@example.com", "applications", "ssh", "{\"a\":2}", 1700000099), std::nullopt));
  EXPECT_GT(s4, s3);  // every write moves the entry to the end of the sequence
  got = VALUE(store_->getEntry("alice@example.com", "applications", "ssh"));
  EXPECT_EQ(got.data, "{\"a\":2}");
  EXPECT_EQ(got.sequence, s4);
  EXPECT_EQ(got.updated, 1700000099);

  EXPECT_EQ(store_->getEntry("alice@example.com", "applications", "nope").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->getEntry("bob@example.com", "applications", "ssh").status().code(),
            StatusCode::kNotFound);
  ASSERT_OK(store_->deleteEntry("alice@example.com", "applications", "ssh"));
  EXPECT_EQ(store_->deleteEntry("alice@example.com", "applications", "ssh").code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->getEntry("alice@example.com", "applications", "ssh").status().code(),
            StatusCode::kNotFound);
}

TEST_P(StoreTest, ContactIndex) {
  const std::string alice = "alice@example.com";
  ASSERT_OK(store_->createAccount(account(alice)));
  ASSERT_OK(store_->putEntry(
      entry(alice, "contacts", "bob"),
      std::vector<ContactMatch>{{"bob@example.net", "smtp,ssh", ""}, {"udf:MBOB", "*", "bob"}}));
  ASSERT_OK(store_->putEntry(entry(alice, "contacts", "example-net"),
                             std::vector<ContactMatch>{{"@example.net", "smtp", ""}}));
  // Someone else's contacts do not count for alice.
  ASSERT_OK(store_->putEntry(entry("carol@example.com", "contacts", "dave"),
                             std::vector<ContactMatch>{{"dave@example.org", "*", ""}}));

  auto hit = VALUE(store_->findContact(alice, {"bob@example.net", "@example.net", "udf:MBOB"}));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->match, "bob@example.net");
  EXPECT_EQ(hit->protocols, "smtp,ssh");
  EXPECT_EQ(hit->entry_key, "bob");
  // The caller's order decides, not the table's.
  hit = VALUE(store_->findContact(alice, {"@example.net", "bob@example.net"}));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->match, "@example.net");
  EXPECT_EQ(hit->entry_key, "example-net");
  hit = VALUE(store_->findContact(alice, {"eve@example.org", "@example.org"}));
  EXPECT_FALSE(hit.has_value());
  EXPECT_FALSE(VALUE(store_->findContact(alice, {"dave@example.org"})).has_value());
  EXPECT_FALSE(VALUE(store_->findContact(alice, {})).has_value());
  EXPECT_EQ(store_->findContact(alice, std::vector<std::string>(17, "x")).status().code(),
            StatusCode::kInvalidArgument);

  // Replacing the matches drops the old rows; nullopt keeps them.
  ASSERT_OK(store_->putEntry(entry(alice, "contacts", "bob", "{\"v\":2}"),
                             std::vector<ContactMatch>{{"bob@example.org", "smtp", ""}}));
  EXPECT_FALSE(VALUE(store_->findContact(alice, {"bob@example.net"})).has_value());
  EXPECT_FALSE(VALUE(store_->findContact(alice, {"udf:MBOB"})).has_value());
  EXPECT_TRUE(VALUE(store_->findContact(alice, {"bob@example.org"})).has_value());
  ASSERT_OK(store_->putEntry(entry(alice, "contacts", "bob", "{\"v\":3}"), std::nullopt));
  EXPECT_TRUE(VALUE(store_->findContact(alice, {"bob@example.org"})).has_value());

  // Deleting the entry removes its rows.
  ASSERT_OK(store_->deleteEntry(alice, "contacts", "bob"));
  EXPECT_FALSE(VALUE(store_->findContact(alice, {"bob@example.org"})).has_value());

  // Matches are only for the contacts catalog, each once, naming this entry.
  EXPECT_EQ(store_
                ->putEntry(entry(alice, "applications", "a"),
                           std::vector<ContactMatch>{{"x@example.net", "*", ""}})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_
                ->putEntry(entry(alice, "contacts", "c"),
                           std::vector<ContactMatch>{{"x@example.net", "*", ""},
                                                     {"x@example.net", "smtp", ""}})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_
                ->putEntry(entry(alice, "contacts", "c"),
                           std::vector<ContactMatch>{{"x@example.net", "*", "other"}})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->getEntry(alice, "contacts", "c").status().code(), StatusCode::kNotFound);

  // Deleting the account takes its catalogs and index with it.
  ASSERT_OK(store_->deleteAccount(alice));
  EXPECT_FALSE(VALUE(store_->findContact(alice, {"@example.net"})).has_value());
  EXPECT_EQ(store_->getEntry(alice, "contacts", "example-net").status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(VALUE(store_->findContact("carol@example.com", {"dave@example.org"})).has_value());
}

// A putEntry that fails half-way leaves the entry, its index rows and the sequence as they were.
TEST_P(StoreTest, FailedPutEntryWritesNothing) {
  const std::string alice = "alice@example.com";
  int64_t first = VALUE(store_->putEntry(entry(alice, "contacts", "bob", "{\"v\":1}"),
                                         std::vector<ContactMatch>{{"bob@example.net", "*", ""}}));
  ASSERT_OK(store_->putEntry(entry(alice, "contacts", "carol"),
                             std::vector<ContactMatch>{{"carol@example.net", "*", ""}}));
  // Second match belongs to carol: the whole write must fail.
  Result<int64_t> failed = store_->putEntry(
      entry(alice, "contacts", "bob", "{\"v\":2}"),
      std::vector<ContactMatch>{{"bob@example.org", "*", ""}, {"carol@example.net", "*", ""}});
  EXPECT_EQ(failed.status().code(), StatusCode::kAlreadyExists) << failed.status().toString();
  CatalogEntry bob = VALUE(store_->getEntry(alice, "contacts", "bob"));
  EXPECT_EQ(bob.data, "{\"v\":1}");
  EXPECT_EQ(bob.sequence, first);
  auto hit = VALUE(store_->findContact(alice, {"bob@example.net"}));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->entry_key, "bob");
  EXPECT_FALSE(VALUE(store_->findContact(alice, {"bob@example.org"})).has_value());
  EXPECT_EQ(VALUE(store_->findContact(alice, {"carol@example.net"}))->entry_key, "carol");
  // The sequence counter was rolled back too: the next write is the next number.
  int64_t next = VALUE(store_->putEntry(entry(alice, "devices", "d"), std::nullopt));
  EXPECT_EQ(next, first + 2);
}

TEST_P(StoreTest, ListEntriesPaging) {
  const std::string alice = "alice@example.com";
  std::vector<int64_t> sequences;
  for (int i = 0; i < 25; ++i) {
    // Interleave another catalog so sequences have gaps.
    sequences.push_back(VALUE(store_->putEntry(
        entry(alice, "devices", "d" + std::to_string(i), std::string(100, 'x'), 1000 + i),
        std::nullopt)));
    ASSERT_OK(
        store_->putEntry(entry(alice, "applications", "a" + std::to_string(i)), std::nullopt));
  }
  EntryQuery q;
  q.max_entries = 10;
  std::vector<std::string> keys;
  int pages = 0;
  for (;;) {
    Page<CatalogEntry> page = VALUE(store_->listEntries(alice, "devices", q));
    ++pages;
    for (const CatalogEntry& e : page.items) {
      EXPECT_EQ(e.catalog, "devices");
      keys.push_back(e.key);
    }
    if (page.next_page_key.empty()) break;
    EXPECT_EQ(page.items.size(), 10u);
    q.page_key = page.next_page_key;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(keys.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(keys[static_cast<size_t>(i)], "d" + std::to_string(i));

  // Exactly max_entries left: no empty extra page.
  q = EntryQuery();
  q.max_entries = 25;
  EXPECT_TRUE(VALUE(store_->listEntries(alice, "devices", q)).next_page_key.empty());

  // Time filters: not_before inclusive, before exclusive.
  q = EntryQuery();
  q.not_before = 1005;
  q.before = 1010;
  Page<CatalogEntry> window = VALUE(store_->listEntries(alice, "devices", q));
  ASSERT_EQ(window.items.size(), 5u);
  EXPECT_EQ(window.items.front().key, "d5");
  EXPECT_EQ(window.items.back().key, "d9");
  EXPECT_TRUE(window.next_page_key.empty());

  // max_bytes: each entry is 100 bytes of data + 2-3 of key.
  q = EntryQuery();
  q.max_bytes = 350;
  Page<CatalogEntry> small = VALUE(store_->listEntries(alice, "devices", q));
  EXPECT_EQ(small.items.size(), 3u);
  EXPECT_FALSE(small.next_page_key.empty());
  q.max_bytes = 1;  // still one entry, or the caller could never make progress
  small = VALUE(store_->listEntries(alice, "devices", q));
  EXPECT_EQ(small.items.size(), 1u);
  EXPECT_FALSE(small.next_page_key.empty());

  // Page keys are bound to their catalog; garbage is refused.
  q = EntryQuery();
  q.max_entries = 5;
  std::string key = VALUE(store_->listEntries(alice, "devices", q)).next_page_key;
  ASSERT_FALSE(key.empty());
  EntryQuery other;
  other.page_key = key;
  EXPECT_EQ(store_->listEntries(alice, "applications", other).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->listEntries("bob@example.com", "devices", other).status().code(),
            StatusCode::kInvalidArgument);
  for (const char* garbage : {"garbage", "12", ".abc", "-1.0011223344556677",
                              "99999999999999999999.x", "1.zz", "\x01\x02"}) {
    other.page_key = garbage;
    EXPECT_EQ(store_->listEntries(alice, "devices", other).status().code(),
              StatusCode::kInvalidArgument)
        << garbage;
  }
  other = EntryQuery();
  other.max_entries = 0;
  EXPECT_EQ(store_->listEntries(alice, "devices", other).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(VALUE(store_->listEntries("nobody", "devices", EntryQuery())).items.empty());
}

// ---------------------------------------------------------------- counters, nonces, claims

TEST_P(StoreTest, CountersAddAndPurge) {
  EXPECT_EQ(VALUE(store_->addToCounter("rcpt:bob@example.net", 600, 1, 1200)), 1);
  EXPECT_EQ(VALUE(store_->addToCounter("rcpt:bob@example.net", 600, 4, 1200)), 5);
  EXPECT_EQ(VALUE(store_->addToCounter("rcpt:carol@example.net", 600, 2, 1200)), 2);
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM counters")), "2");
  // A new window starts at 1200: the rows whose windows closed by then go.
  EXPECT_EQ(VALUE(store_->addToCounter("rcpt:bob@example.net", 1200, 1, 1800)), 1);
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM counters")), "1");
  EXPECT_EQ(VALUE(store_->addToCounter("rcpt:bob@example.net", 1200, 1, 1800)), 2);
}

TEST_P(StoreTest, EachCounterIsKeptUntilItsOwnWindowCloses) {
  // An hourly limit beside a per-minute one: each new minute purges what has closed, and the
  // hour's count is not among it (the purge once went by window start alone, and every new
  // minute removed the hour's count: an hourly limit never reached its max).
  EXPECT_EQ(VALUE(store_->addToCounter("per-sender|a@example.org", 3600, 5, 7200)), 5);
  for (int64_t minute = 3600; minute < 3600 + 10 * 60; minute += 60) {
    EXPECT_EQ(VALUE(store_->addToCounter("per-client|192.0.2.7", minute, 1, minute + 60)), 1);
  }
  EXPECT_EQ(VALUE(store_->addToCounter("per-sender|a@example.org", 3600, 1, 7200)), 6);
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM counters")), "2");
  // At 7200 the hour has closed too.
  EXPECT_EQ(VALUE(store_->addToCounter("per-client|192.0.2.7", 7200, 1, 7260)), 1);
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM counters")), "1");
}

TEST_P(StoreTest, NoncesDetectReplayUntilExpiry) {
  EXPECT_TRUE(VALUE(store_->rememberNonce("n1", 100, 50)));
  EXPECT_FALSE(VALUE(store_->rememberNonce("n1", 100, 60)));
  EXPECT_TRUE(VALUE(store_->rememberNonce("n2", 100, 60)));
  EXPECT_FALSE(VALUE(store_->rememberNonce("n1", 200, 99)));
  // Once expired the nonce is forgotten (and purged).
  EXPECT_TRUE(VALUE(store_->rememberNonce("n1", 300, 150)));
  EXPECT_FALSE(VALUE(store_->rememberNonce("n1", 300, 160)));
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM nonces WHERE nonce = 'n2'")), "0");
}

TEST_P(StoreTest, ClaimOnce) {
  EXPECT_TRUE(VALUE(store_->claimOnce("deliver:msg1:bob@example.com", 1)));
  EXPECT_FALSE(VALUE(store_->claimOnce("deliver:msg1:bob@example.com", 2)));
  EXPECT_TRUE(VALUE(store_->claimOnce("deliver:msg2:bob@example.com", 3)));
  // Within a day a claim holds; after that it is purged (each attempt makes one: the table
  // must not grow with every message).
  constexpr int64_t kDay = Store::kClaimMemorySeconds;
  EXPECT_FALSE(VALUE(store_->claimOnce("deliver:msg1:bob@example.com", kDay - 3600)));
  EXPECT_TRUE(VALUE(store_->claimOnce("deliver:msg3:bob@example.com", kDay + 7200)));
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM claims")), "1");
  EXPECT_TRUE(VALUE(store_->claimOnce("deliver:msg1:bob@example.com", kDay + 7201)));
}

// ---------------------------------------------------------------- quarantine

TEST_P(StoreTest, Quarantine) {
  QuarantineRecord q;
  q.id = "4Xyz1";
  q.queue_id = "4Xyz1";
  q.message_id = "<m1@example.net>";
  q.sender = "mallory@example.net";
  q.recipients = "alice@example.com";
  q.reason = "ingress.quarantine-unknown";
  q.subject = "Invoice";
  q.time = 200;
  q.state = "held";
  ASSERT_OK(store_->putQuarantine(q));
  QuarantineRecord q2 = q;
  q2.id = "4Xyz2";
  q2.time = 100;
  ASSERT_OK(store_->putQuarantine(q2));
  QuarantineRecord got = VALUE(store_->getQuarantine("4Xyz1"));
  EXPECT_EQ(got.subject, "Invoice");
  EXPECT_EQ(got.reason, "ingress.quarantine-unknown");
  EXPECT_EQ(got.time, 200);
  EXPECT_EQ(store_->getQuarantine("nope").status().code(), StatusCode::kNotFound);

  std::vector<QuarantineRecord> held = VALUE(store_->listQuarantine("held"));
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].id, "4Xyz2");  // by time
  q.state = "released";
  ASSERT_OK(store_->putQuarantine(q));  // replace
  EXPECT_EQ(VALUE(store_->listQuarantine("held")).size(), 1u);
  EXPECT_EQ(VALUE(store_->listQuarantine("released")).size(), 1u);
  EXPECT_EQ(VALUE(store_->listQuarantine("")).size(), 2u);
  EXPECT_EQ(VALUE(store_->getQuarantine("4Xyz1")).state, "released");
}

TEST_P(StoreTest, QuarantineConfirmationIsKeptOnceAndReadWithTheRecord) {
  QuarantineRecord q;
  q.id = q.queue_id = "5Abc1";
  q.message_id = "<m@example.net>";
  q.sender = "billing@example.net";
  q.recipients = "alice@example.com";
  q.reason = "payment request from a first contact";
  q.time = 300;
  q.state = "held";
  ASSERT_OK(store_->putQuarantine(q));
  EXPECT_EQ(VALUE(store_->getQuarantine("5Abc1")).confirmed_by, "");
  EXPECT_EQ(store_->confirmQuarantine("nope", "alice@example.com", 310).code(),
            StatusCode::kNotFound);
  ASSERT_OK(store_->confirmQuarantine("5Abc1", "alice@example.com", 310));
  ASSERT_OK(store_->confirmQuarantine("5Abc1", "other@example.com", 320));  // the first stays
  QuarantineRecord got = VALUE(store_->getQuarantine("5Abc1"));
  EXPECT_EQ(got.confirmed_by, "alice@example.com");
  EXPECT_EQ(got.confirmed_time, 310);
  std::vector<QuarantineRecord> held = VALUE(store_->listQuarantine("held"));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].confirmed_by, "alice@example.com");
  // Replacing the record (the release) keeps the confirmation for the audit trail.
  q.state = "released";
  ASSERT_OK(store_->putQuarantine(q));
  EXPECT_EQ(VALUE(store_->getQuarantine("5Abc1")).confirmed_by, "alice@example.com");
  // Held again under the same id, the same message keeps it; another message (Postfix reuses
  // queue ids) starts unconfirmed, or release-confirmed would let it out unreviewed.
  q.state = "held";
  ASSERT_OK(store_->putQuarantine(q));
  EXPECT_EQ(VALUE(store_->getQuarantine("5Abc1")).confirmed_by, "alice@example.com");
  q.message_id = "<another@example.net>";
  q.time = 9000;
  ASSERT_OK(store_->putQuarantine(q));
  EXPECT_EQ(VALUE(store_->getQuarantine("5Abc1")).confirmed_by, "");
  // Two commands claim it: the first moves it, the second finds it moved.
  EXPECT_TRUE(VALUE(store_->changeQuarantineState("5Abc1", "held", "released")));
  EXPECT_FALSE(VALUE(store_->changeQuarantineState("5Abc1", "held", "deleted")));
  EXPECT_EQ(VALUE(store_->getQuarantine("5Abc1")).state, "released");
  EXPECT_FALSE(VALUE(store_->changeQuarantineState("nope", "held", "released")));
}

// ---------------------------------------------------------------- audit log

TEST_P(StoreTest, AuditBatchIsChainedInOrderAllOrNone) {
  AuditRecord first = VALUE(store_->appendAudit(auditRecord(1)));
  std::vector<AuditRecord> batch = VALUE(store_->appendAudits({auditRecord(2), auditRecord(3),
                                                               auditRecord(4)}));
  ASSERT_EQ(batch.size(), 3u);
  std::string prev = first.hash;
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(batch[i].sequence, static_cast<int64_t>(i) + 2);
    EXPECT_EQ(batch[i].message_id, "<" + std::to_string(i + 2) + "@example.net>");
    EXPECT_EQ(batch[i].prev_hash, prev);
    EXPECT_EQ(batch[i].hash, auditRecordHash(prev, batch[i]));
    prev = batch[i].hash;
  }
  // One record the store cannot hold: the whole batch is refused, nothing is appended.
  AuditRecord bad = auditRecord(6);
  bad.detail = std::string("a\0b", 3);
  auto refused = store_->appendAudits({auditRecord(5), bad});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(VALUE(store_->appendAudits({})).empty());
  AuditRecord next = VALUE(store_->appendAudit(auditRecord(5)));
  EXPECT_EQ(next.sequence, 5);
  std::vector<AuditRecord> all = VALUE(store_->readAudit(1, 100));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_FALSE(verifyAuditChain(all).has_value());
}

TEST_P(StoreTest, AuditAppendReadAndCheckpoint) {
  std::string prev = kAuditGenesisHash;
  for (int i = 1; i <= 5; ++i) {
    AuditRecord stored = VALUE(store_->appendAudit(auditRecord(i)));
    EXPECT_EQ(stored.sequence, i);
    EXPECT_EQ(stored.prev_hash, prev);
    EXPECT_EQ(stored.hash, auditRecordHash(prev, stored));
    EXPECT_EQ(stored.hash.size(), 128u);
    prev = stored.hash;
  }
  std::vector<AuditRecord> all = VALUE(store_->readAudit(1, 100));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[2].message_id, "<3@example.net>");
  EXPECT_EQ(all[2].detail, "{\"i\":3}");
  EXPECT_EQ(all[2].recipients, "alice@example.com,carol@example.com");
  EXPECT_FALSE(verifyAuditChain(all).has_value());
  std::vector<AuditRecord> tail = VALUE(store_->readAudit(4, 1));
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].sequence, 4);
  EXPECT_TRUE(VALUE(store_->readAudit(6, 10)).empty());

  EXPECT_FALSE(VALUE(store_->latestCheckpoint()).has_value());
  ASSERT_OK(store_->putCheckpoint({0, 10, kAuditGenesisHash, "sig0"}));
  ASSERT_OK(store_->putCheckpoint({3, 11, all[2].hash, "sig3"}));
  auto latest = VALUE(store_->latestCheckpoint());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->sequence, 3);
  EXPECT_EQ(latest->head_hash, all[2].hash);
  EXPECT_EQ(latest->signature, "sig3");
  // A checkpoint must sign what the log holds.
  EXPECT_EQ(store_->putCheckpoint({4, 12, all[2].hash, "bad"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->putCheckpoint({9, 12, all[2].hash, "bad"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VALUE(store_->latestCheckpoint())->sequence, 3);
}

struct Tampering {
  const char* name;
  const char* sql;
  int64_t first_bad;
};

// Each kind of tampering with the stored log is found, at the first record it touches.
TEST_P(StoreTest, AuditTamperingIsDetected) {
  const std::vector<Tampering> cases = {
      {"altered field", "UPDATE audit_log SET action = 'accept' WHERE sequence = 5", 5},
      {"altered time", "UPDATE audit_log SET time = time + 1 WHERE sequence = 3", 3},
      {"removed record", "DELETE FROM audit_log WHERE sequence = 4", 4},
      {"inserted record",
       "INSERT INTO audit_log SELECT 100, time, node, kind, message_id, queue_id, sender, "
       "recipients, rule, action, signals, detail, prev_hash, hash FROM audit_log WHERE "
       "sequence = 2; UPDATE audit_log SET sequence = sequence + 1000 WHERE sequence >= 3; "
       "UPDATE audit_log SET sequence = 3 WHERE sequence = 100; "
       "UPDATE audit_log SET sequence = sequence - 999 WHERE sequence >= 1003",
       3},
      {"reordered records",
       "UPDATE audit_log SET sequence = 100 WHERE sequence = 6; "
       "UPDATE audit_log SET sequence = 6 WHERE sequence = 7; "
       "UPDATE audit_log SET sequence = 7 WHERE sequence = 100",
       6},
      {"rehashed altered record",
       "UPDATE audit_log SET sender = 'x@example.net', hash = (SELECT hash FROM audit_log WHERE "
       "sequence = 1) WHERE sequence = 2",
       2},
  };
  for (const Tampering& t : cases) {
    SCOPED_TRACE(t.name);
    ASSERT_OK(backend_->exec("DELETE FROM audit_log"));
    ASSERT_OK(
        backend_->exec("UPDATE audit_head SET sequence = 0, hash = '" + kAuditGenesisHash + "'"));
    for (int i = 1; i <= 8; ++i) ASSERT_TRUE(store_->appendAudit(auditRecord(i)).ok());
    ASSERT_FALSE(verifyAuditChain(wholeAudit(*store_)).has_value());
    ASSERT_OK(backend_->exec(t.sql));
    std::optional<AuditChainError> error = verifyAuditChain(wholeAudit(*store_));
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->sequence, t.first_bad) << error->reason;
  }
  // Removing the newest records is only visible against a checkpoint.
  std::vector<AuditRecord> all = wholeAudit(*store_);
  ASSERT_OK(backend_->exec("DELETE FROM audit_log"));
  ASSERT_OK(
      backend_->exec("UPDATE audit_head SET sequence = 0, hash = '" + kAuditGenesisHash + "'"));
  for (int i = 1; i <= 8; ++i) ASSERT_TRUE(store_->appendAudit(auditRecord(i)).ok());
  all = wholeAudit(*store_);
  ASSERT_OK(store_->putCheckpoint({8, 1, all[7].hash, "sig"}));
  ASSERT_OK(backend_->exec("DELETE FROM audit_log WHERE sequence >= 7"));
  AuditChainVerifier verifier;
  auto checkpoint = VALUE(store_->latestCheckpoint());
  verifier.expectCheckpoint(checkpoint->sequence, checkpoint->head_hash);
  for (const AuditRecord& r : wholeAudit(*store_)) ASSERT_TRUE(verifier.feed(r));
  EXPECT_FALSE(verifier.finish());
  ASSERT_TRUE(verifier.error().has_value());
  EXPECT_EQ(verifier.error()->sequence, 7);
}

// `meshgate store check`: sound after real use; each broken invariant is found and named.
TEST_P(StoreTest, IntegrityCheckNamesEachBrokenInvariant) {
  const std::string alice = "alice@example.com";
  auto populate = [&] {
    ASSERT_OK(backend_->exec(
        "DELETE FROM contacts; DELETE FROM entries; DELETE FROM accounts; DELETE FROM audit_log; "
        "DELETE FROM quarantine_confirmations; DELETE FROM quarantine; "
        "UPDATE store_sequences SET value = 0; UPDATE audit_head SET sequence = 0, hash = '" +
        kAuditGenesisHash + "'"));
    ASSERT_OK(store_->createAccount(account(alice)));
    ASSERT_OK(store_->putEntry(entry(alice, "contacts", "bob"),
                               std::vector<ContactMatch>{{"bob@example.net", "smtp", ""}}));
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(store_->appendAudit(auditRecord(i)).ok());
    QuarantineRecord q;
    q.id = q.queue_id = "5Q1";
    q.sender = "s@example.net";
    q.recipients = alice;
    q.reason = "payment request";
    q.time = 1;
    q.state = "held";
    ASSERT_OK(store_->putQuarantine(q));
    ASSERT_OK(store_->confirmQuarantine("5Q1", alice, 2));
    std::string summary = VALUE(store_->checkIntegrity());
    EXPECT_NE(summary.find("4 audit record(s)"), std::string::npos) << summary;
  };
  struct Breakage {
    const char* sql;
    const char* named;
    bool sqlite_only = false;  // PostgreSQL enforces the foreign key on every connection
  };
  const std::vector<Breakage> cases = {
      {"UPDATE audit_head SET sequence = 3", "audit_head does not name the newest"},
      {"UPDATE audit_head SET hash = 'x'", "audit_head does not name the newest"},
      {"DELETE FROM audit_log WHERE sequence = 2", "audit sequence has gaps"},
      {"DELETE FROM entries WHERE key = 'bob'", "contact index rows without their catalog entry",
       true},
      {"UPDATE store_sequences SET value = 0", "catalog entries newer than the entry sequence"},
      {"DELETE FROM quarantine", "confirmations of messages not in the quarantine"},
  };
  for (const Breakage& b : cases) {
    if (b.sqlite_only && backend_->name() != "sqlite") continue;
    SCOPED_TRACE(b.sql);
    populate();
    ASSERT_OK(backend_->exec(b.sql));
    Result<std::string> checked = store_->checkIntegrity();
    ASSERT_EQ(checked.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(checked.status().message().find(b.named), std::string::npos)
        << checked.status().message();
  }
}

// ---------------------------------------------------------------- concurrency

// Threads of two Store objects on one database: counters exact, the chain one unbroken line.
TEST_P(StoreTest, ConcurrentWritersKeepCountersAndChainExact) {
  std::unique_ptr<Store> second = VALUE(backend_->open());
  constexpr int kThreadsPerStore = 4;
  constexpr int kIterations = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerStore; ++t) {
    Store* store = t % 2 ? second.get() : store_.get();
    threads.emplace_back([store, t, &failures] {
      for (int i = 0; i < kIterations; ++i) {
        if (!store->addToCounter("hammer", 60, 1, 120).ok()) ++failures;
        if (!store->addToCounter("hammer-" + std::to_string(t % 2), 60, 2, 120).ok()) ++failures;
        if (!store->appendAudit(auditRecord(i, "node-" + std::to_string(t))).ok()) ++failures;
        if (!store->findContact("alice@example.com", {"x@example.net"}).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const int total = 2 * kThreadsPerStore * kIterations;
  EXPECT_EQ(VALUE(store_->addToCounter("hammer", 60, 0, 120)), total);
  EXPECT_EQ(VALUE(second->addToCounter("hammer-0", 60, 0, 120)), total);  // 2 * total / 2
  std::vector<AuditRecord> chain = wholeAudit(*store_);
  EXPECT_EQ(chain.size(), static_cast<size_t>(total));
  auto error = verifyAuditChain(chain);
  EXPECT_FALSE(error.has_value()) << error->sequence << ": " << error->reason;
}

constexpr int kChildIterations = 100;
constexpr const char* kChildVariable = "MESHGATE_STORE_TEST_CHILD";

// Two processes (what two meshgate nodes are to the database). The second one is this test
// binary run again (StoreChildProcess.Hammer): a fresh process image, because neither SQLite
// nor libpq connections may be carried across fork().
TEST_P(StoreTest, TwoProcessesShareCountersAndChain) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kChildVariable) + "=" + backend_->locator());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  char arg0[] = "unit_store";
  char arg1[] = "--gtest_filter=StoreChildProcess.Hammer";
  char* argv[] = {arg0, arg1, nullptr};
  fflush(nullptr);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    execve("/proc/self/exe", argv, envp.data());
    _exit(127);
  }
  int failures = 0;
  for (int i = 0; i < kChildIterations; ++i) {
    if (!store_->addToCounter("procs", 1, 1, 61).ok()) ++failures;
    if (!store_->appendAudit(auditRecord(i, "parent")).ok()) ++failures;
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child process's store calls failed";
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(VALUE(store_->addToCounter("procs", 1, 0, 61)), 2 * kChildIterations);
  std::vector<AuditRecord> chain = wholeAudit(*store_);
  EXPECT_EQ(chain.size(), static_cast<size_t>(2 * kChildIterations));
  EXPECT_FALSE(verifyAuditChain(chain).has_value());
}

// The other process of TwoProcessesShareCountersAndChain; skipped when run on its own.
TEST(StoreChildProcess, Hammer) {
  const char* locator = std::getenv(kChildVariable);
  if (locator == nullptr) GTEST_SKIP() << "helper process of TwoProcessesShareCountersAndChain";
  std::unique_ptr<Store> store = VALUE(openLocator(locator));
  for (int i = 0; i < kChildIterations; ++i) {
    ASSERT_TRUE(store->addToCounter("procs", 1, 1, 61).ok());
    ASSERT_TRUE(store->appendAudit(auditRecord(i, "child")).ok());
  }
}

// ---------------------------------------------------------------- failure paths

// A writer locked out beyond the timeout gets kUnavailable, and nothing is written.
TEST_P(StoreTest, LockedBeyondTimeoutIsUnavailable) {
  std::unique_ptr<Store> impatient = VALUE(backend_->open(0, milliseconds(300)));
  ASSERT_TRUE(impatient->appendAudit(auditRecord(1)).ok());
  ASSERT_OK(backend_->holdLock());
  const auto start = steady_clock::now();
  Result<AuditRecord> appended = impatient->appendAudit(auditRecord(2));
  const auto waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  EXPECT_EQ(appended.status().code(), StatusCode::kUnavailable) << appended.status().toString();
  EXPECT_GE(waited.count(), 250);
  EXPECT_LT(waited.count(), 3000);
  EXPECT_EQ(impatient->createAccount(account("late@example.com")).code(), StatusCode::kUnavailable);
  EXPECT_EQ(impatient->addToCounter("c", 1, 1, 61).status().code(), StatusCode::kUnavailable);
  // Readers are not blocked by a writer.
  EXPECT_TRUE(impatient->findContact("alice@example.com", {"bob@example.net"}).ok());
  backend_->releaseLock();
  EXPECT_EQ(impatient->getAccount("late@example.com").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(VALUE(impatient->readAudit(1, 10)).size(), 1u);
  EXPECT_EQ(VALUE(impatient->addToCounter("c", 1, 1, 61)), 1);
  AuditRecord next = VALUE(impatient->appendAudit(auditRecord(3)));
  EXPECT_EQ(next.sequence, 2);
  EXPECT_FALSE(verifyAuditChain(wholeAudit(*impatient)).has_value());
}

// Every pooled connection busy: a caller with a time budget (a milter callback) waits for one
// no longer than its budget, not the pool's acquire_timeout (30 s in these tests).
TEST_P(StoreTest, WaitingForAPooledConnectionKeepsToTheCallersBudget) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "SQLite has no connection pool";
  std::unique_ptr<Store> store = VALUE(backend_->open(0, std::chrono::seconds(20)));
  ASSERT_OK(store->createAccount(account("bob@example.com")));
  // Readers of accounts wait for this lock, each holding one of the store's 4 connections.
  ASSERT_OK(backend_->exec("BEGIN"));
  ASSERT_OK(backend_->exec("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE"));
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&store] {
      EXPECT_TRUE(store->getAccount("bob@example.com").ok()) << "once the lock is released";
    });
  }
  const std::string waiting =
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
      "current_setting('application_name') AND wait_event_type = 'Lock'";
  bool all_busy = false;
  for (int i = 0; i < 500 && !all_busy; ++i) {
    // Inside a transaction the activity view is read once; a fresh look each time.
    ASSERT_OK(backend_->exec("SELECT pg_stat_clear_snapshot()"));
    all_busy = VALUE(backend_->queryValue(waiting)) == "4";
    if (!all_busy) usleep(10000);
  }
  Result<AccountRecord> read = unavailable("not run");
  auto waited = milliseconds(0);
  if (all_busy) {
    const auto start = steady_clock::now();
    DeadlineScope budget(milliseconds(300));
    read = store->getAccount("bob@example.com");
    waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  }
  ASSERT_OK(backend_->exec("ROLLBACK"));
  for (std::thread& t : readers) t.join();
  ASSERT_TRUE(all_busy) << "the four readers never all waited for the lock";
  EXPECT_EQ(read.status().code(), StatusCode::kUnavailable) << read.status().toString();
  EXPECT_NE(read.status().message().find("connections stayed busy"), std::string::npos)
      << read.status().toString();
  EXPECT_LT(waited.count(), 10000) << "waited for the pool's 30 s, not the caller's 300 ms";
}

// The server drops every connection (a restart): one call fails, the next reconnects.
TEST_P(StoreTest, ServerRestartIsUnavailableThenRecovers) {
  ASSERT_OK(store_->ping());
  ASSERT_OK(store_->createAccount(account("before@example.com")));
  bool killed = VALUE(backend_->killStoreConnections());
  if (!killed) GTEST_SKIP() << backend_->name() << " has no server connections to lose";
  Status during = store_->ping();
  EXPECT_EQ(during.code(), StatusCode::kUnavailable) << during.toString();
  ASSERT_OK(store_->ping());
  ASSERT_OK(store_->createAccount(account("after@example.com")));
  EXPECT_EQ(VALUE(store_->listAccounts()).size(), 2u);
  // A write on a killed connection is reported as not done, and really is not done.
  ASSERT_TRUE(VALUE(backend_->killStoreConnections()));
  EXPECT_EQ(store_->createAccount(account("lost@example.com")).code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->getAccount("lost@example.com").status().code(), StatusCode::kNotFound);
}

// A real restart of the server (scripts/pg-test-server stop/start). Opt-in with
// MESHGATE_TEST_PG_RESTART=1, because it breaks every other test using the server meanwhile.
TEST_P(StoreTest, RealServerRestartWhenAskedFor) {
  const char* wanted = std::getenv("MESHGATE_TEST_PG_RESTART");
  if (GetParam() != "postgresql" || wanted == nullptr || std::string(wanted) != "1") {
    GTEST_SKIP() << "set MESHGATE_TEST_PG_RESTART=1 (and run alone) to restart the PostgreSQL "
                    "server of scripts/pg-test-server";
  }
  const std::string script = std::string(MESHGATE_SOURCE_DIR) + "/scripts/pg-test-server";
  ASSERT_OK(store_->createAccount(account("before@example.com")));
  ASSERT_EQ(std::system((script + " stop").c_str()), 0);
  EXPECT_EQ(store_->ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->createAccount(account("down@example.com")).code(), StatusCode::kUnavailable);
  ASSERT_EQ(std::system((script + " start >/dev/null").c_str()), 0);
  ASSERT_OK(store_->ping());
  ASSERT_OK(store_->createAccount(account("after@example.com")));
  EXPECT_EQ(VALUE(store_->listAccounts()).size(), 2u);
}

// ---------------------------------------------------------------- schema migrations

TEST_P(StoreTest, MigratesAnOldDatabaseForward) {
  store_.reset();
  // This test's database is already at the latest version: start over with a version-1 one.
  for (const char* table :
       {"quarantine_confirmations", "quarantine", "audit_checkpoints", "audit_head", "audit_log",
        "claims", "nonces", "counters", "contacts", "entries", "store_sequences", "accounts",
        "schema_version"}) {
    ASSERT_OK(backend_->exec(std::string("DROP TABLE ") + table));
  }
  std::unique_ptr<Store> old = VALUE(backend_->open(1));
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT MAX(version) FROM schema_version")), "1");
  EXPECT_FALSE(backend_->queryValue("SELECT COUNT(*) FROM counters").ok());
  ASSERT_OK(old->createAccount(account("alice@example.com")));
  ASSERT_OK(old->putEntry(entry("alice@example.com", "contacts", "bob"),
                          std::vector<ContactMatch>{{"bob@example.net", "*", ""}}));
  old.reset();

  std::unique_ptr<Store> upgraded = VALUE(backend_->open());
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT MAX(version) FROM schema_version")),
            std::to_string(latestSchemaVersion()));
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM schema_version")),
            std::to_string(latestSchemaVersion()));
  EXPECT_EQ(VALUE(upgraded->getAccount("alice@example.com")).display_name,
            "Display alice@example.com");
  EXPECT_TRUE(VALUE(upgraded->findContact("alice@example.com", {"bob@example.net"})).has_value());
  EXPECT_EQ(VALUE(upgraded->addToCounter("k", 1, 3, 61)), 3);
  EXPECT_EQ(VALUE(upgraded->appendAudit(auditRecord(1))).sequence, 1);
  // Opening again changes nothing.
  upgraded.reset();
  upgraded = VALUE(backend_->open());
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT COUNT(*) FROM schema_version")),
            std::to_string(latestSchemaVersion()));
}

TEST_P(StoreTest, CountersFromBeforeTheirWindowEndsAreKeptForTheLongestWindow) {
  store_.reset();
  for (const char* table : {"quarantine_confirmations", "quarantine", "audit_checkpoints",
                            "audit_head", "audit_log", "claims", "nonces", "counters", "contacts",
                            "entries", "store_sequences", "accounts", "schema_version"}) {
    ASSERT_OK(backend_->exec(std::string("DROP TABLE ") + table));
  }
  VALUE(backend_->open(4)).reset();
  ASSERT_OK(backend_->exec(
      "INSERT INTO counters (key, window_start, value) VALUES ('per-sender|a@example.org', "
      "3600, 7)"));
  std::unique_ptr<Store> upgraded = VALUE(backend_->open());
  // Its window is not known: it is kept as long as the longest an abuse window may be (7 days).
  EXPECT_EQ(VALUE(backend_->queryValue("SELECT expires FROM counters")), "608400");
  EXPECT_EQ(VALUE(upgraded->addToCounter("per-client|192.0.2.7", 7200, 1, 7260)), 1);
  EXPECT_EQ(VALUE(upgraded->addToCounter("per-sender|a@example.org", 3600, 1, 7200)), 8);
}

TEST_P(StoreTest, RefusesANewerSchema) {
  store_.reset();
  ASSERT_OK(backend_->exec(
      "INSERT INTO schema_version (version, applied, description) VALUES (99, 0, 'future')"));
  Result<std::unique_ptr<Store>> opened = backend_->open();
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("99"), std::string::npos) << opened.status().toString();
  EXPECT_NE(opened.status().message().find("(" + std::to_string(latestSchemaVersion()) + ")"),
            std::string::npos)
      << opened.status().toString();
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& backend) {
                           return backend.param;
                         });

// ---------------------------------------------------------------- SQLite only

TEST(SqliteStoreTest, CreatesFolderAndFileWithPrivateModes) {
  meshgate::testing::TempDir dir;
  const std::string path = dir.path() + "/a/b/meshgate.db";
  const mode_t old_umask = umask(0);  // the modes must not depend on the caller's umask
  Result<std::unique_ptr<Store>> store = openSqliteStore({path, milliseconds(1000), 0});
  umask(old_umask);
  ASSERT_TRUE(store.ok()) << store.status().toString();
  struct stat st {};
  ASSERT_EQ(stat((dir.path() + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(stat((dir.path() + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_OK((*store)->createAccount(account("a@example.com")));
  ASSERT_EQ(stat((path + "-wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST(SqliteStoreTest, UsesWalAndRefusesGarbageFiles) {
  meshgate::testing::TempDir dir;
  {
    auto store = openSqliteStore({dir.file("ok.db"), milliseconds(1000), 0});
    ASSERT_TRUE(store.ok());
  }
  FILE* f = std::fopen(dir.file("ok.db").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  unsigned char header[20] = {};
  ASSERT_EQ(std::fread(header, 1, sizeof header, f), sizeof header);
  std::fclose(f);
  EXPECT_EQ(header[18], 2);  // file format write version 2 = WAL
  EXPECT_EQ(header[19], 2);

  dir.write("garbage.db", std::string(4096, 'x'));
  auto garbage = openSqliteStore({dir.file("garbage.db"), milliseconds(1000), 0});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kDataLoss) << garbage.status().toString();
  EXPECT_FALSE(openSqliteStore({"", milliseconds(1000), 0}).ok());
}

TEST(StoreFactoryTest, OpensTheConfiguredBackend) {
  meshgate::testing::TempDir dir;
  config::StoreSection section;
  section.backend = config::StoreBackend::kSqlite;
  section.sqlite.path = dir.file("var/meshgate.db");
  section.sqlite.busy_timeout = milliseconds(500);
  auto store = openStore(section);
  ASSERT_TRUE(store.ok()) << store.status().toString();
  ASSERT_OK((*store)->ping());

  section.backend = config::StoreBackend::kPostgresql;
  section.postgresql.dsn = "host=127.0.0.1 port=1 dbname=none user=none connect_timeout=2";
  auto unreachable = openStore(section);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
  section.postgresql.pool_size = 0;
  EXPECT_EQ(openStore(section).status().code(), StatusCode::kInvalidArgument);

  const char* dsn = std::getenv("MESHGATE_TEST_PG_DSN");
  if (dsn && *dsn) {
    section.postgresql.dsn = dsn;
    section.postgresql.pool_size = 2;
    // Uses the public schema of the test database; the schema is created if missing.
    auto pg = openStore(section);
    ASSERT_TRUE(pg.ok()) << pg.status().toString();
    ASSERT_OK((*pg)->ping());
  }
}

}  // namespace
}  // namespace meshgate::store::testing
