// sql_store.cc - the Store's queries and rules, shared by the SQLite and PostgreSQL backends.
#include "policy/store/sql_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <set>

#include "gateway/util/audit_hash.h"
#include "gateway/util/strings.h"
#include "policy/store/store_schema.h"

namespace meshgate::store {

int64_t SqlRows::integer(size_t row, size_t column) const {
  const std::string& cell = text(row, column);
  int64_t value = 0;
  std::from_chars(cell.data(), cell.data() + cell.size(), value);
  return value;
}

namespace {

// Bounds that keep one call's work and memory small whatever a peer asks for.
constexpr int kMaxPageEntries = 10000;
constexpr int kMaxAuditRead = 10000;
constexpr size_t kMaxCandidates = 16;

// Text the backends cannot all store faithfully: PostgreSQL's text type has no NUL, and a
// backend that silently truncated would store something else than it was given.
Status checkText(std::string_view field, std::string_view value) {
  if (value.find('\0') != std::string_view::npos) {
    return invalidArgument(std::string(field) + " contains a NUL byte");
  }
  return Status();
}

Status checkTexts(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  for (const auto& [name, value] : fields) MESHGATE_RETURN_IF_ERROR(checkText(name, value));
  return Status();
}

Status run(SqlConnection& c, const std::string& sql, std::initializer_list<SqlParam> params,
           SqlResult* result = nullptr) {
  SqlResult scratch;
  return c.run(sql, std::span<const SqlParam>(params.begin(), params.size()),
               result ? result : &scratch);
}

int64_t unixNow() { return static_cast<int64_t>(std::time(nullptr)); }

// ---- schema bookkeeping
const std::string kCreateSchemaVersion =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, applied BIGINT NOT NULL, description TEXT NOT NULL)";
const std::string kReadSchemaVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
const std::string kInsertSchemaVersion =
    "INSERT INTO schema_version (version, applied, description) VALUES ($1, $2, $3)";
// Nodes starting at once against one PostgreSQL store migrate one after the other (the number
// is arbitrary, fixed, and only meaningful inside this database).
const std::string kPgMigrationLock = "SELECT pg_advisory_xact_lock(7710523901)";

// ---- accounts
const std::string kAccountColumns =
    "address, ingress_policy, display_name, profile_udf, profile, created, updated";
const std::string kInsertAccount =
    "INSERT INTO accounts (" + kAccountColumns +
    ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (address) DO NOTHING";
const std::string kSelectAccount =
    "SELECT " + kAccountColumns + " FROM accounts WHERE address = $1";
// Only if the row is still as the writer read it (the columns a change is made of).
const std::string kUpdateAccount =
    "UPDATE accounts SET ingress_policy = $2, display_name = $3, profile_udf = $4, "
    "profile = $5, created = $6, updated = $7 WHERE address = $1 AND ingress_policy = $8 AND "
    "display_name = $9 AND profile_udf = $10 AND profile = $11 AND updated = $12";
const std::string kDeleteAccountContacts = "DELETE FROM contacts WHERE account = $1";
const std::string kDeleteAccountEntries = "DELETE FROM entries WHERE account = $1";
const std::string kDeleteAccount = "DELETE FROM accounts WHERE address = $1";
const std::string kListAccounts = "SELECT " + kAccountColumns + " FROM accounts ORDER BY address";

// ---- catalogs
const std::string kNextEntrySequence =
    "UPDATE store_sequences SET value = value + 1 WHERE name = 'entries' RETURNING value";
const std::string kUpsertEntry =
    "INSERT INTO entries (account, catalog, key, data, updated, sequence) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account, catalog, key) DO UPDATE SET "
    "data = excluded.data, updated = excluded.updated, sequence = excluded.sequence";
// moveEntry's target: never an overwrite. A put into the target that commits between the
// check and this insert (PostgreSQL) makes it fail as a duplicate key -> kAlreadyExists.
const std::string kInsertEntry =
    "INSERT INTO entries (account, catalog, key, data, updated, sequence) "
    "VALUES ($1, $2, $3, $4, $5, $6)";
const std::string kDeleteEntryContacts =
    "DELETE FROM contacts WHERE account = $1 AND entry_key = $2";
const std::string kContactOwner =
    "SELECT entry_key FROM contacts WHERE account = $1 AND \"match\" = $2";
const std::string kInsertContact =
    "INSERT INTO contacts (account, \"match\", protocols, catalog, entry_key) "
    "VALUES ($1, $2, $3, 'contacts', $4)";
const std::string kEntryColumns = "account, catalog, key, data, updated, sequence";
const std::string kSelectEntry =
    "SELECT " + kEntryColumns + " FROM entries WHERE account = $1 AND catalog = $2 AND key = $3";
const std::string kDeleteEntry =
    "DELETE FROM entries WHERE account = $1 AND catalog = $2 AND key = $3";
const std::string kDeleteEntryAtSequence =
    "DELETE FROM entries WHERE account = $1 AND catalog = $2 AND key = $3 AND sequence = $4";
const std::string kCountEntries =
    "SELECT count(*) FROM (SELECT 1 FROM entries WHERE account = $1 AND catalog = $2 LIMIT $3)"
    " AS counted";
const std::string kListEntries =
    "SELECT " + kEntryColumns +
    " FROM entries WHERE account = $1 AND catalog = $2 AND sequence > $3"
    " AND updated >= $4 AND updated < $5 ORDER BY sequence LIMIT $6";

// findContact: one statement per candidate count, so each is prepared once per connection.
const std::vector<std::string>& findContactQueries() {
  static const std::vector<std::string> kQueries = [] {
    std::vector<std::string> queries(kMaxCandidates + 1);
    for (size_t n = 1; n <= kMaxCandidates; ++n) {
      std::string sql =
          "SELECT \"match\", protocols, entry_key FROM contacts WHERE account = $1 AND "
          "\"match\" IN (";
      for (size_t i = 0; i < n; ++i) {
        if (i) sql += ", ";
        sql += "$" + std::to_string(i + 2);  // placeholders only: values are always bound
      }
      sql += ")";
      queries[n] = std::move(sql);
    }
    return queries;
  }();
  return kQueries;
}

// ---- counters, nonces, claims
const std::string kPurgeCounters = "DELETE FROM counters WHERE expires <= $1";
const std::string kAddToCounter =
    "INSERT INTO counters (key, window_start, value, expires) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (key, window_start) DO UPDATE SET value = counters.value + excluded.value "
    "RETURNING value";
const std::string kPurgeNonces = "DELETE FROM nonces WHERE expires <= $1";
// A row whose nonce has expired is as good as absent: it is taken over, not a replay.
const std::string kRememberNonce =
    "INSERT INTO nonces (nonce, expires) VALUES ($1, $2) ON CONFLICT (nonce) DO UPDATE SET "
    "expires = excluded.expires WHERE nonces.expires <= $3";
const std::string kClaim =
    "INSERT INTO claims (key, claimed) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
const std::string kPurgeClaims = "DELETE FROM claims WHERE claimed < $1";

// ---- audit
const std::string kAuditHeadSqlite = "SELECT sequence, hash FROM audit_head WHERE id = 1";
const std::string kAuditHeadPostgres = kAuditHeadSqlite + " FOR UPDATE";
const std::string kAuditColumns =
    "sequence, time, node, kind, message_id, queue_id, sender, recipients, rule, action, "
    "signals, detail, prev_hash, hash";
const std::string kInsertAudit =
    "INSERT INTO audit_log (" + kAuditColumns +
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
const std::string kAdvanceAuditHead = "UPDATE audit_head SET sequence = $1, hash = $2 WHERE id = 1";
const std::string kReadAudit =
    "SELECT " + kAuditColumns + " FROM audit_log WHERE sequence >= $1 ORDER BY sequence LIMIT $2";
const std::string kAuditHashAt = "SELECT hash FROM audit_log WHERE sequence = $1";
const std::string kPutCheckpoint =
    "INSERT INTO audit_checkpoints (sequence, time, head_hash, signature) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (sequence) DO UPDATE SET time = excluded.time, "
    "head_hash = excluded.head_hash, signature = excluded.signature";
const std::string kLatestCheckpoint =
    "SELECT sequence, time, head_hash, signature FROM audit_checkpoints "
    "ORDER BY sequence DESC LIMIT 1";

// ---- quarantine
const std::string kQuarantineColumns =
    "id, queue_id, message_id, sender, recipients, reason, subject, time, state";
const std::string kPutQuarantine =
    "INSERT INTO quarantine (" + kQuarantineColumns +
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET "
    "queue_id = excluded.queue_id, message_id = excluded.message_id, "
    "sender = excluded.sender, recipients = excluded.recipients, reason = excluded.reason, "
    "subject = excluded.subject, time = excluded.time, state = excluded.state";
// Reads join the recipient's confirmation, if any (schema version 4).
const std::string kSelectQuarantine =
    "SELECT q.id, q.queue_id, q.message_id, q.sender, q.recipients, q.reason, q.subject, "
    "q.time, q.state, COALESCE(c.recipient, ''), COALESCE(c.time, 0) FROM quarantine q "
    "LEFT JOIN quarantine_confirmations c ON c.id = q.id";
const std::string kGetQuarantine = kSelectQuarantine + " WHERE q.id = $1";
const std::string kListQuarantineAll = kSelectQuarantine + " ORDER BY q.time, q.id";
const std::string kListQuarantineState =
    kSelectQuarantine + " WHERE q.state = $1 ORDER BY q.time, q.id";
// A record put as held for another message than the one under its id (Postfix reuses queue
// ids) starts unconfirmed: the old message's confirmation is not the new one's.
const std::string kForgetOtherMessagesConfirmation =
    "DELETE FROM quarantine_confirmations WHERE id = $1 AND EXISTS (SELECT 1 FROM quarantine q "
    "WHERE q.id = $1 AND (q.message_id <> $2 OR q.time <> $3))";
const std::string kChangeQuarantineState =
    "UPDATE quarantine SET state = $3 WHERE id = $1 AND state = $2";
const std::string kConfirmQuarantine =
    "INSERT INTO quarantine_confirmations (id, recipient, time) VALUES ($1, $2, $3) "
    "ON CONFLICT (id) DO NOTHING";

const std::string kPing = "SELECT 1";

AccountRecord accountFromRow(const SqlRows& rows, size_t r) {
  AccountRecord a;
  a.address = rows.text(r, 0);
  a.ingress_policy = rows.text(r, 1);
  a.display_name = rows.text(r, 2);
  a.profile_udf = rows.text(r, 3);
  a.profile = rows.text(r, 4);
  a.created = rows.integer(r, 5);
  a.updated = rows.integer(r, 6);
  return a;
}

CatalogEntry entryFromRow(const SqlRows& rows, size_t r) {
  CatalogEntry e;
  e.account = rows.text(r, 0);
  e.catalog = rows.text(r, 1);
  e.key = rows.text(r, 2);
  e.data = rows.text(r, 3);
  e.updated = rows.integer(r, 4);
  e.sequence = rows.integer(r, 5);
  return e;
}

AuditRecord auditFromRow(const SqlRows& rows, size_t r) {
  AuditRecord a;
  a.sequence = rows.integer(r, 0);
  a.time = rows.integer(r, 1);
  a.node = rows.text(r, 2);
  a.kind = rows.text(r, 3);
  a.message_id = rows.text(r, 4);
  a.queue_id = rows.text(r, 5);
  a.sender = rows.text(r, 6);
  a.recipients = rows.text(r, 7);
  a.rule = rows.text(r, 8);
  a.action = rows.text(r, 9);
  a.signals = rows.text(r, 10);
  a.detail = rows.text(r, 11);
  a.prev_hash = rows.text(r, 12);
  a.hash = rows.text(r, 13);
  return a;
}

QuarantineRecord quarantineFromRow(const SqlRows& rows, size_t r) {
  QuarantineRecord q;
  q.id = rows.text(r, 0);
  q.queue_id = rows.text(r, 1);
  q.message_id = rows.text(r, 2);
  q.sender = rows.text(r, 3);
  q.recipients = rows.text(r, 4);
  q.reason = rows.text(r, 5);
  q.subject = rows.text(r, 6);
  q.time = rows.integer(r, 7);
  q.state = rows.text(r, 8);
  q.confirmed_by = rows.text(r, 9);
  q.confirmed_time = rows.integer(r, 10);
  return q;
}

Status checkAccount(const AccountRecord& a) {
  if (a.address.empty()) return invalidArgument("account address is empty");
  if (hasControlCharacter(a.display_name)) {
    return invalidArgument("the display name contains a control character (such as ESC, CR or "
                           "LF): names are printed on terminals and in one-line lists");
  }
  return checkTexts({{"address", a.address},
                     {"ingress_policy", a.ingress_policy},
                     {"display_name", a.display_name},
                     {"profile_udf", a.profile_udf},
                     {"profile", a.profile}});
}

std::string pageTag(std::string_view account, std::string_view catalog) {
  // Binds a page key to its catalog; SHA-256 so the tag is the same on every node and build.
  std::string input = "meshgate-page-key";
  input += '\0';
  input += account;
  input += '\0';
  input += catalog;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha256(), nullptr);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string tag;
  for (size_t i = 0; i < 8 && i < size; ++i) {
    tag += kDigits[digest[i] >> 4];
    tag += kDigits[digest[i] & 0x0f];
  }
  return tag;
}

}  // namespace

std::string encodePageKey(std::string_view account, std::string_view catalog, int64_t sequence) {
  return std::to_string(sequence) + "." + pageTag(account, catalog);
}

Result<int64_t> decodePageKey(std::string_view account, std::string_view catalog,
                              std::string_view page_key) {
  const size_t dot = page_key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19) {
    return invalidArgument("malformed page key");
  }
  int64_t sequence = 0;
  const auto [end, ec] = std::from_chars(page_key.data(), page_key.data() + dot, sequence);
  if (ec != std::errc() || end != page_key.data() + dot || sequence < 0) {
    return invalidArgument("malformed page key");
  }
  if (page_key.substr(dot + 1) != pageTag(account, catalog)) {
    return invalidArgument("page key belongs to another catalog");
  }
  return sequence;
}

Result<int> readSchemaVersion(SqlConnection& c) {
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(run(c, kCreateSchemaVersion, {}));
  MESHGATE_RETURN_IF_ERROR(run(c, kReadSchemaVersion, {}, &result));
  if (result.rows.empty()) return internalError("schema_version: no result");
  return static_cast<int>(result.rows.integer(0, 0));
}

Status migrateSchema(SqlConnection& c, SqlDialect dialect, int target_version) {
  const int latest = latestSchemaVersion();
  if (target_version < 0 || target_version > latest) {
    return invalidArgument("schema target version " + std::to_string(target_version) +
                           " unknown (latest " + std::to_string(latest) + ")");
  }
  for (;;) {
    MESHGATE_RETURN_IF_ERROR(c.begin(true));
    bool up_to_date = false;
    Status status = [&]() -> Status {
      if (dialect == SqlDialect::kPostgres) MESHGATE_RETURN_IF_ERROR(run(c, kPgMigrationLock, {}));
      MESHGATE_ASSIGN_OR_RETURN(const int current, readSchemaVersion(c));
      if (current > latest) {
        return failedPrecondition("database schema version " + std::to_string(current) +
                                  " is newer than this meshgate understands (" +
                                  std::to_string(latest) + "); upgrade meshgate");
      }
      if (current >= target_version) {
        up_to_date = true;
        return Status();
      }
      const Migration& m = migrations()[static_cast<size_t>(current)];
      Status applied = c.runScript(m.sql);
      if (!applied.ok()) {
        return applied.withContext("schema migration " + std::to_string(m.version) + " (" +
                                   m.description + ")");
      }
      return run(c, kInsertSchemaVersion, {int64_t{m.version}, unixNow(), m.description});
    }();
    if (!status.ok() || up_to_date) {  // nothing to keep either way
      c.rollback();
      return status;
    }
    MESHGATE_RETURN_IF_ERROR(c.commit());
  }
}

SqlStore::SqlStore(SqlDialect dialect, std::unique_ptr<SqlConnectionPool> pool, std::string name)
    : dialect_(dialect), pool_(std::move(pool)), name_(std::move(name)) {}

SqlStore::~SqlStore() = default;

Status SqlStore::withConnection(const Body& body) {
  Result<std::unique_ptr<SqlConnection>> acquired = pool_->acquire();
  if (!acquired.ok()) return acquired.status().withContext(name_);
  std::unique_ptr<SqlConnection> connection = std::move(acquired).value();
  Status status = body(*connection);
  pool_->release(std::move(connection));
  return status.ok() ? status : status.withContext(name_);
}

Status SqlStore::transact(bool write, const Body& body) {
  return withConnection([&](SqlConnection& c) -> Status {
    MESHGATE_RETURN_IF_ERROR(c.begin(write));
    Status status = body(c);
    if (!status.ok()) {
      c.rollback();
      return status;
    }
    return c.commit();
  });
}

Status SqlStore::ping() {
  return withConnection([](SqlConnection& c) { return run(c, kPing, {}); });
}

namespace {

// One invariant of the stored data: `sql` counts the rows that break it.
struct IntegrityRule {
  const char* problem;
  std::string sql;
};

const std::vector<IntegrityRule>& integrityRules() {
  static const std::vector<IntegrityRule> kRules = {
      {"audit_head does not name the newest audit record",
       "SELECT COUNT(*) FROM audit_head h WHERE h.sequence <> "
       "(SELECT COALESCE(MAX(sequence), 0) FROM audit_log) OR (h.sequence > 0 AND h.hash <> "
       "(SELECT hash FROM audit_log WHERE sequence = h.sequence))"},
      {"audit sequence has gaps (records missing)",
       "SELECT (SELECT COALESCE(MAX(sequence), 0) FROM audit_log) - "
       "(SELECT COUNT(*) FROM audit_log) + (SELECT COUNT(*) FROM audit_log WHERE sequence < 1)"},
      {"contact index rows without their catalog entry",
       "SELECT COUNT(*) FROM contacts c WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE "
       "e.account = c.account AND e.catalog = c.catalog AND e.key = c.entry_key)"},
      {"catalog entries newer than the entry sequence",
       "SELECT COUNT(*) FROM entries WHERE sequence > "
       "(SELECT value FROM store_sequences WHERE name = 'entries')"},
      {"confirmations of messages not in the quarantine",
       "SELECT COUNT(*) FROM quarantine_confirmations q WHERE NOT EXISTS "
       "(SELECT 1 FROM quarantine r WHERE r.id = q.id)"},
  };
  return kRules;
}

// The engine's own check of pages and indexes; PostgreSQL has none built in (amcheck is an
// extension), and protects its pages with WAL and checksums instead.
Status checkSqlitePages(SqlConnection& c, std::vector<std::string>* problems) {
  SqlResult pages;
  MESHGATE_RETURN_IF_ERROR(run(c, "PRAGMA integrity_check", {}, &pages));
  if (pages.rows.size() != 1 || pages.rows.text(0, 0) != "ok") {
    std::string found;
    for (size_t r = 0; r < pages.rows.size() && r < 5; ++r) {
      found += (r ? "; " : "") + pages.rows.text(r, 0);
    }
    problems->push_back("integrity_check: " + found);
  }
  SqlResult keys;
  MESHGATE_RETURN_IF_ERROR(run(c, "PRAGMA foreign_key_check", {}, &keys));
  if (!keys.rows.empty()) {
    problems->push_back("foreign_key_check: " + std::to_string(keys.rows.size()) +
                        " row(s) reference missing rows");
  }
  return Status();
}

}  // namespace

Result<std::string> SqlStore::checkIntegrity() {
  std::vector<std::string> problems;
  int version = 0;
  int64_t records = 0;
  Status status = withConnection([&](SqlConnection& c) -> Status {
    if (dialect_ == SqlDialect::kSqlite) MESHGATE_RETURN_IF_ERROR(checkSqlitePages(c, &problems));
    MESHGATE_ASSIGN_OR_RETURN(version, readSchemaVersion(c));
    if (version != latestSchemaVersion()) {
      problems.push_back("schema version " + std::to_string(version) + ", expected " +
                         std::to_string(latestSchemaVersion()));
      return Status();  // the rules below assume the current tables
    }
    for (const IntegrityRule& rule : integrityRules()) {
      SqlResult count;
      MESHGATE_RETURN_IF_ERROR(run(c, rule.sql, {}, &count));
      const int64_t bad = count.rows.empty() ? 0 : count.rows.integer(0, 0);
      if (bad != 0) problems.push_back(std::string(rule.problem) + " (" + std::to_string(bad) + ")");
    }
    SqlResult count;
    MESHGATE_RETURN_IF_ERROR(run(c, "SELECT COUNT(*) FROM audit_log", {}, &count));
    records = count.rows.integer(0, 0);
    return Status();
  });
  MESHGATE_RETURN_IF_ERROR(status);
  if (!problems.empty()) {
    std::string joined;
    for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
    return dataLoss(name_ + ": " + joined);
  }
  return name_ + ": schema version " + std::to_string(version) + ", " +
         std::to_string(records) + " audit record(s), " +
         (dialect_ == SqlDialect::kSqlite ? "integrity_check ok, " : "") + "invariants hold";
}

// ---- accounts

Status SqlStore::createAccount(const AccountRecord& a) {
  MESHGATE_RETURN_IF_ERROR(checkAccount(a));
  return transact(true, [&](SqlConnection& c) -> Status {
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(run(c, kInsertAccount,
                                 {a.address, a.ingress_policy, a.display_name, a.profile_udf,
                                  a.profile, a.created, a.updated},
                                 &result));
    if (result.changes == 0) return alreadyExists("account " + a.address + " exists");
    return Status();
  });
}

Result<AccountRecord> SqlStore::getAccount(std::string_view address) {
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(
      withConnection([&](SqlConnection& c) { return run(c, kSelectAccount, {address}, &result); }));
  if (result.rows.empty()) return notFound("no account " + std::string(address));
  return accountFromRow(result.rows, 0);
}

Status SqlStore::updateAccount(const AccountRecord& a, const AccountRecord& as_read) {
  MESHGATE_RETURN_IF_ERROR(checkAccount(a));
  if (as_read.address != a.address) {
    return invalidArgument("updateAccount: " + a.address + " was read as " + as_read.address);
  }
  return transact(true, [&](SqlConnection& c) -> Status {
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(
        run(c, kUpdateAccount,
            {a.address, a.ingress_policy, a.display_name, a.profile_udf, a.profile, a.created,
             a.updated, as_read.ingress_policy, as_read.display_name, as_read.profile_udf,
             as_read.profile, as_read.updated},
            &result));
    if (result.changes > 0) return Status();
    SqlResult now;
    MESHGATE_RETURN_IF_ERROR(run(c, kSelectAccount, {a.address}, &now));
    if (now.rows.empty()) return notFound("no account " + a.address);
    return failedPrecondition("account " + a.address +
                              " was changed by another command or node meanwhile; nothing was "
                              "written: make the change again");
  });
}

Status SqlStore::deleteAccount(std::string_view address) {
  return transact(true, [&](SqlConnection& c) -> Status {
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(run(c, kDeleteAccount, {address}, &result));
    if (result.changes == 0) return notFound("no account " + std::string(address));
    MESHGATE_RETURN_IF_ERROR(run(c, kDeleteAccountContacts, {address}));
    return run(c, kDeleteAccountEntries, {address});
  });
}

Result<std::vector<AccountRecord>> SqlStore::listAccounts() {
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(
      withConnection([&](SqlConnection& c) { return run(c, kListAccounts, {}, &result); }));
  std::vector<AccountRecord> accounts;
  accounts.reserve(result.rows.size());
  for (size_t r = 0; r < result.rows.size(); ++r)
    accounts.push_back(accountFromRow(result.rows, r));
  return accounts;
}

// ---- catalogs

Result<int64_t> SqlStore::putEntry(const CatalogEntry& entry,
                                   const std::optional<std::vector<ContactMatch>>& matches) {
  if (entry.catalog.empty()) return invalidArgument("catalog name is empty");
  if (entry.key.empty()) return invalidArgument("entry key is empty");
  MESHGATE_RETURN_IF_ERROR(checkTexts({{"account", entry.account},
                                       {"catalog", entry.catalog},
                                       {"key", entry.key},
                                       {"data", entry.data}}));
  if (matches) {
    if (entry.catalog != "contacts") {
      return invalidArgument("contact matches given for catalog " + entry.catalog +
                             " (only the contacts catalog is indexed)");
    }
    std::set<std::string_view> seen;
    for (const ContactMatch& m : *matches) {
      if (m.match.empty()) return invalidArgument("empty contact match");
      if (m.protocols.empty())
        return invalidArgument("contact match " + m.match + ": no protocols");
      if (!m.entry_key.empty() && m.entry_key != entry.key) {
        return invalidArgument("contact match " + m.match + " names entry " + m.entry_key +
                               ", not " + entry.key);
      }
      MESHGATE_RETURN_IF_ERROR(checkTexts({{"match", m.match}, {"protocols", m.protocols}}));
      if (!seen.insert(m.match).second) {
        return invalidArgument("contact match " + m.match + " given twice");
      }
    }
  }
  int64_t sequence = 0;
  MESHGATE_RETURN_IF_ERROR(transact(true, [&](SqlConnection& c) -> Status {
    SqlResult result;
    // The row lock on the sequence counter also orders commits by sequence, so a reader paging
    // by sequence never sees sequence N+1 committed before N.
    MESHGATE_RETURN_IF_ERROR(run(c, kNextEntrySequence, {}, &result));
    if (result.rows.empty()) return internalError("store_sequences has no 'entries' row");
    sequence = result.rows.integer(0, 0);
    MESHGATE_RETURN_IF_ERROR(
        run(c, kUpsertEntry,
            {entry.account, entry.catalog, entry.key, entry.data, entry.updated, sequence}));
    if (!matches) return Status();
    MESHGATE_RETURN_IF_ERROR(run(c, kDeleteEntryContacts, {entry.account, entry.key}));
    for (const ContactMatch& m : *matches) {
      MESHGATE_RETURN_IF_ERROR(run(c, kContactOwner, {entry.account, m.match}, &result));
      if (!result.rows.empty()) {
        // One sender matches one entry per account, else the ingress decision would depend on
        // which row a lookup happened to find.
        return alreadyExists("contact match " + m.match + " already belongs to entry " +
                             result.rows.text(0, 0));
      }
      MESHGATE_RETURN_IF_ERROR(
          run(c, kInsertContact, {entry.account, m.match, m.protocols, entry.key}));
    }
    return Status();
  }));
  return sequence;
}

Result<CatalogEntry> SqlStore::getEntry(std::string_view account, std::string_view catalog,
                                        std::string_view key) {
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(withConnection([&](SqlConnection& c) {
    return run(c, kSelectEntry, {account, catalog, key}, &result);
  }));
  if (result.rows.empty()) {
    return notFound("no entry " + std::string(key) + " in " + std::string(catalog) + " of " +
                    std::string(account));
  }
  return entryFromRow(result.rows, 0);
}

Status SqlStore::deleteEntry(std::string_view account, std::string_view catalog,
                             std::string_view key) {
  return transact(true, [&](SqlConnection& c) -> Status {
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(run(c, kDeleteEntry, {account, catalog, key}, &result));
    if (result.changes == 0) {
      return notFound("no entry " + std::string(key) + " in " + std::string(catalog) + " of " +
                      std::string(account));
    }
    // The foreign key cascades too; deleting explicitly keeps the index right even on a
    // connection where foreign keys were switched off.
    if (catalog == "contacts") return run(c, kDeleteEntryContacts, {account, key});
    return Status();
  });
}

Result<int64_t> SqlStore::moveEntry(std::string_view account, std::string_view from,
                                    std::string_view key, std::string_view to,
                                    int64_t expected_sequence, int64_t updated) {
  if (from == "contacts" || to == "contacts") {
    return invalidArgument("contacts entries cannot be moved (their index rows stay behind)");
  }
  if (to.empty()) return invalidArgument("catalog name is empty");
  MESHGATE_RETURN_IF_ERROR(checkText("catalog", to));
  const auto missing = [&] {
    return notFound("no entry " + std::string(key) + " in " + std::string(from) + " of " +
                    std::string(account));
  };
  const auto changed = [&] {
    return failedPrecondition("entry " + std::string(key) + " in " + std::string(from) + " of " +
                              std::string(account) + " changed since it was read");
  };
  int64_t sequence = 0;
  MESHGATE_RETURN_IF_ERROR(transact(true, [&](SqlConnection& c) -> Status {
    SqlResult source;
    MESHGATE_RETURN_IF_ERROR(run(c, kSelectEntry, {account, from, key}, &source));
    if (source.rows.empty()) return missing();
    const CatalogEntry entry = entryFromRow(source.rows, 0);
    if (entry.sequence != expected_sequence) return changed();
    // The delete comes before anything else is looked at: on PostgreSQL a concurrent mover or
    // deleter holds the row until it commits, and this DELETE then finds nothing (SQLite's
    // write lock serializes the whole transaction anyway).
    SqlResult removed;
    MESHGATE_RETURN_IF_ERROR(
        run(c, kDeleteEntryAtSequence, {account, from, key, expected_sequence}, &removed));
    if (removed.changes == 0) {
      SqlResult now;
      MESHGATE_RETURN_IF_ERROR(run(c, kSelectEntry, {account, from, key}, &now));
      return now.rows.empty() ? missing() : changed();
    }
    SqlResult target;
    MESHGATE_RETURN_IF_ERROR(run(c, kSelectEntry, {account, to, key}, &target));
    if (!target.rows.empty()) {
      return alreadyExists(std::string(to) + " of " + std::string(account) +
                           " already has an entry " + std::string(key));
    }
    SqlResult next;
    MESHGATE_RETURN_IF_ERROR(run(c, kNextEntrySequence, {}, &next));
    if (next.rows.empty()) return internalError("store_sequences has no 'entries' row");
    sequence = next.rows.integer(0, 0);
    Status inserted = run(c, kInsertEntry, {account, to, key, entry.data, updated, sequence});
    if (inserted.code() == StatusCode::kAlreadyExists) {
      return alreadyExists(std::string(to) + " of " + std::string(account) +
                           " already has an entry " + std::string(key));
    }
    return inserted;
  }));
  return sequence;
}

Result<int64_t> SqlStore::countEntries(std::string_view account, std::string_view catalog,
                                       int64_t limit) {
  if (limit <= 0) return invalidArgument("limit must be positive");
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(withConnection([&](SqlConnection& c) {
    return run(c, kCountEntries, {account, catalog, limit}, &result);
  }));
  if (result.rows.size() != 1) return internalError("count of entries returned no row");
  return result.rows.integer(0, 0);
}

Result<Page<CatalogEntry>> SqlStore::listEntries(std::string_view account, std::string_view catalog,
                                                 const EntryQuery& query) {
  if (query.max_entries <= 0) return invalidArgument("max_entries must be positive");
  if (query.max_bytes <= 0) return invalidArgument("max_bytes must be positive");
  int64_t after = 0;
  if (!query.page_key.empty()) {
    MESHGATE_ASSIGN_OR_RETURN(after, decodePageKey(account, catalog, query.page_key));
  }
  const int64_t limit = std::min(query.max_entries, kMaxPageEntries);
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(withConnection([&](SqlConnection& c) {
    // One row beyond the page tells whether there is a next one.
    return run(c, kListEntries,
               {account, catalog, after, query.not_before.value_or(INT64_MIN),
                query.before.value_or(INT64_MAX), limit + 1},
               &result);
  }));
  Page<CatalogEntry> page;
  int64_t bytes = 0;
  const size_t rows = result.rows.size();
  size_t taken = 0;
  for (; taken < rows && static_cast<int64_t>(taken) < limit; ++taken) {
    const int64_t size =
        static_cast<int64_t>(result.rows.text(taken, 2).size() + result.rows.text(taken, 3).size());
    // Always at least one entry, or a single large entry would stall the caller forever.
    if (taken > 0 && bytes + size > query.max_bytes) break;
    bytes += size;
    page.items.push_back(entryFromRow(result.rows, taken));
  }
  if (taken < rows) {
    page.next_page_key = encodePageKey(account, catalog, page.items.back().sequence);
  }
  return page;
}

Result<std::optional<ContactMatch>> SqlStore::findContact(
    std::string_view account, const std::vector<std::string>& candidates) {
  if (candidates.empty()) return std::optional<ContactMatch>();
  if (candidates.size() > kMaxCandidates) {
    return invalidArgument("findContact: more than " + std::to_string(kMaxCandidates) +
                           " candidates");
  }
  std::vector<SqlParam> params;
  params.reserve(candidates.size() + 1);
  params.emplace_back(account);
  for (const std::string& candidate : candidates) params.emplace_back(std::string_view(candidate));
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(withConnection([&](SqlConnection& c) {
    return c.run(findContactQueries()[candidates.size()], params, &result);
  }));
  // The query returns the matching rows in any order; the caller's order decides.
  for (const std::string& candidate : candidates) {
    for (size_t r = 0; r < result.rows.size(); ++r) {
      if (result.rows.text(r, 0) == candidate) {
        return std::optional<ContactMatch>(
            ContactMatch{result.rows.text(r, 0), result.rows.text(r, 1), result.rows.text(r, 2)});
      }
    }
  }
  return std::optional<ContactMatch>();
}

// ---- counters, nonces, claims

Result<int64_t> SqlStore::addToCounter(std::string_view key, int64_t window_start, int64_t amount,
                                       int64_t window_end) {
  MESHGATE_RETURN_IF_ERROR(checkText("counter key", key));
  // Once per new window start seen: every row whose own window closed by then goes (it is
  // never read again). Each row carries its end, because keys have different windows.
  int64_t purged_before = counters_purged_before_.load();
  const bool purge = window_start > purged_before;
  int64_t total = 0;
  MESHGATE_RETURN_IF_ERROR(transact(true, [&](SqlConnection& c) -> Status {
    if (purge) MESHGATE_RETURN_IF_ERROR(run(c, kPurgeCounters, {window_start}));
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(
        run(c, kAddToCounter, {key, window_start, amount, window_end}, &result));
    if (result.rows.empty()) return internalError("counter upsert returned no row");
    total = result.rows.integer(0, 0);
    return Status();
  }));
  // Only after the purge committed; a lost race just purges once more.
  if (purge) counters_purged_before_.compare_exchange_strong(purged_before, window_start);
  return total;
}

Result<bool> SqlStore::rememberNonce(std::string_view nonce, int64_t expires, int64_t now) {
  if (nonce.empty()) return invalidArgument("empty nonce");
  MESHGATE_RETURN_IF_ERROR(checkText("nonce", nonce));
  int64_t purged_before = nonces_purged_before_.load();
  const bool purge = now > purged_before;
  bool fresh = false;
  MESHGATE_RETURN_IF_ERROR(transact(true, [&](SqlConnection& c) -> Status {
    if (purge) MESHGATE_RETURN_IF_ERROR(run(c, kPurgeNonces, {now}));
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(run(c, kRememberNonce, {nonce, expires, now}, &result));
    fresh = result.changes > 0;
    return Status();
  }));
  if (purge) nonces_purged_before_.compare_exchange_strong(purged_before, now);
  return fresh;
}

Result<bool> SqlStore::claimOnce(std::string_view key, int64_t now) {
  if (key.empty()) return invalidArgument("empty claim key");
  MESHGATE_RETURN_IF_ERROR(checkText("claim key", key));
  // Once per hour seen, claims older than kClaimMemorySeconds go: each delivery attempt makes
  // one, and none is read after its minutes-long window.
  const int64_t hour = now / 3600;
  int64_t purged_hour = claims_purged_hour_.load();
  const bool purge =
      hour > purged_hour && claims_purged_hour_.compare_exchange_strong(purged_hour, hour);
  bool first = false;
  MESHGATE_RETURN_IF_ERROR(transact(true, [&](SqlConnection& c) -> Status {
    if (purge) MESHGATE_RETURN_IF_ERROR(run(c, kPurgeClaims, {now - kClaimMemorySeconds}));
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(run(c, kClaim, {key, now}, &result));
    first = result.changes > 0;
    return Status();
  }));
  return first;
}

// ---- audit

Result<AuditRecord> SqlStore::appendAudit(const AuditRecord& record) {
  MESHGATE_ASSIGN_OR_RETURN(auto stored, appendAudits({record}));
  return std::move(stored.front());
}

Result<std::vector<AuditRecord>> SqlStore::appendAudits(const std::vector<AuditRecord>& records) {
  if (records.empty()) return std::vector<AuditRecord>();
  for (const auto& record : records) {
    MESHGATE_RETURN_IF_ERROR(checkTexts({{"node", record.node},
                                         {"kind", record.kind},
                                         {"message_id", record.message_id},
                                         {"queue_id", record.queue_id},
                                         {"sender", record.sender},
                                         {"recipients", record.recipients},
                                         {"rule", record.rule},
                                         {"action", record.action},
                                         {"signals", record.signals},
                                         {"detail", record.detail}}));
  }
  std::vector<AuditRecord> stored;
  MESHGATE_RETURN_IF_ERROR(transact(true, [&](SqlConnection& c) -> Status {
    stored = records;  // a retried transaction starts again from the records as given
    SqlResult head;
    // Reading the head under the write lock (SQLite) or FOR UPDATE (PostgreSQL) makes every
    // other writer wait until these records are linked: the chain cannot fork.
    MESHGATE_RETURN_IF_ERROR(run(
        c, dialect_ == SqlDialect::kPostgres ? kAuditHeadPostgres : kAuditHeadSqlite, {}, &head));
    if (head.rows.empty()) return dataLoss("audit_head row is missing");
    int64_t sequence = head.rows.integer(0, 0);
    std::string prev_hash = head.rows.text(0, 1);
    for (auto& r : stored) {
      r.sequence = ++sequence;
      r.prev_hash = prev_hash;
      r.hash = auditRecordHash(r.prev_hash, r);
      if (r.hash.empty()) return internalError("SHA-512 failed");
      MESHGATE_RETURN_IF_ERROR(
          run(c, kInsertAudit,
              {r.sequence, r.time, r.node, r.kind, r.message_id, r.queue_id, r.sender,
               r.recipients, r.rule, r.action, r.signals, r.detail, r.prev_hash, r.hash}));
      prev_hash = r.hash;
    }
    return run(c, kAdvanceAuditHead, {sequence, prev_hash});
  }));
  return stored;
}

Result<std::vector<AuditRecord>> SqlStore::readAudit(int64_t from_sequence, int limit) {
  if (limit <= 0) return invalidArgument("limit must be positive");
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(withConnection([&](SqlConnection& c) {
    return run(c, kReadAudit, {from_sequence, int64_t{std::min(limit, kMaxAuditRead)}}, &result);
  }));
  std::vector<AuditRecord> records;
  records.reserve(result.rows.size());
  for (size_t r = 0; r < result.rows.size(); ++r) records.push_back(auditFromRow(result.rows, r));
  return records;
}

Status SqlStore::putCheckpoint(const AuditCheckpoint& cp) {
  MESHGATE_RETURN_IF_ERROR(checkTexts({{"head_hash", cp.head_hash}, {"signature", cp.signature}}));
  if (cp.sequence < 0) return invalidArgument("checkpoint sequence is negative");
  return transact(true, [&](SqlConnection& c) -> Status {
    // A checkpoint must sign what the log holds; anything else is a caller bug that would make
    // every later verification fail.
    if (cp.sequence == 0) {
      if (cp.head_hash != kAuditGenesisHash) {
        return invalidArgument("checkpoint of the empty log must carry the genesis hash");
      }
    } else {
      SqlResult result;
      MESHGATE_RETURN_IF_ERROR(run(c, kAuditHashAt, {cp.sequence}, &result));
      if (result.rows.empty()) {
        return invalidArgument("checkpoint names audit record " + std::to_string(cp.sequence) +
                               ", which does not exist");
      }
      if (result.rows.text(0, 0) != cp.head_hash) {
        return invalidArgument("checkpoint head_hash differs from audit record " +
                               std::to_string(cp.sequence));
      }
    }
    return run(c, kPutCheckpoint, {cp.sequence, cp.time, cp.head_hash, cp.signature});
  });
}

Result<std::optional<AuditCheckpoint>> SqlStore::latestCheckpoint() {
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(
      withConnection([&](SqlConnection& c) { return run(c, kLatestCheckpoint, {}, &result); }));
  if (result.rows.empty()) return std::optional<AuditCheckpoint>();
  return std::optional<AuditCheckpoint>(
      AuditCheckpoint{result.rows.integer(0, 0), result.rows.integer(0, 1), result.rows.text(0, 2),
                      result.rows.text(0, 3)});
}

// ---- quarantine

Status SqlStore::putQuarantine(const QuarantineRecord& q) {
  if (q.id.empty()) return invalidArgument("quarantine id is empty");
  if (q.state != "held" && q.state != "released" && q.state != "deleted") {
    return invalidArgument("quarantine state \"" + q.state + "\" (held, released or deleted)");
  }
  MESHGATE_RETURN_IF_ERROR(checkTexts({{"id", q.id},
                                       {"queue_id", q.queue_id},
                                       {"message_id", q.message_id},
                                       {"sender", q.sender},
                                       {"recipients", q.recipients},
                                       {"reason", q.reason},
                                       {"subject", q.subject}}));
  return transact(true, [&](SqlConnection& c) {
    if (q.state == "held") {
      MESHGATE_RETURN_IF_ERROR(
          run(c, kForgetOtherMessagesConfirmation, {q.id, q.message_id, q.time}));
    }
    return run(c, kPutQuarantine,
               {q.id, q.queue_id, q.message_id, q.sender, q.recipients, q.reason, q.subject, q.time,
                q.state});
  });
}

Result<QuarantineRecord> SqlStore::getQuarantine(std::string_view id) {
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(
      withConnection([&](SqlConnection& c) { return run(c, kGetQuarantine, {id}, &result); }));
  if (result.rows.empty()) return notFound("no quarantined message " + std::string(id));
  return quarantineFromRow(result.rows, 0);
}

Result<std::vector<QuarantineRecord>> SqlStore::listQuarantine(std::string_view state) {
  SqlResult result;
  MESHGATE_RETURN_IF_ERROR(withConnection([&](SqlConnection& c) {
    // "" lists every state.
    return state.empty() ? run(c, kListQuarantineAll, {}, &result)
                         : run(c, kListQuarantineState, {state}, &result);
  }));
  std::vector<QuarantineRecord> records;
  records.reserve(result.rows.size());
  for (size_t r = 0; r < result.rows.size(); ++r) {
    records.push_back(quarantineFromRow(result.rows, r));
  }
  return records;
}

Result<bool> SqlStore::changeQuarantineState(std::string_view id, std::string_view from,
                                             std::string_view to) {
  MESHGATE_RETURN_IF_ERROR(checkTexts({{"id", id}, {"state", from}, {"state", to}}));
  bool moved = false;
  MESHGATE_RETURN_IF_ERROR(transact(true, [&](SqlConnection& c) -> Status {
    SqlResult result;
    MESHGATE_RETURN_IF_ERROR(run(c, kChangeQuarantineState, {id, from, to}, &result));
    moved = result.changes > 0;
    return Status();
  }));
  return moved;
}

Status SqlStore::confirmQuarantine(std::string_view id, std::string_view recipient,
                                   int64_t time) {
  MESHGATE_RETURN_IF_ERROR(checkTexts({{"id", id}, {"recipient", recipient}}));
  return transact(true, [&](SqlConnection& c) {
    SqlResult found;
    MESHGATE_RETURN_IF_ERROR(run(c, kGetQuarantine, {id}, &found));
    if (found.rows.empty()) return notFound("no quarantined message " + std::string(id));
    return run(c, kConfirmQuarantine, {id, recipient, time});
  });
}

}  // namespace meshgate::store
