// store_schema.cc - the migrations. The SQL is written once for both backends: TEXT and BIGINT
// mean the same to both, "match" is quoted because it is an SQL keyword.
#include "policy/store/store_schema.h"

#include "gateway/util/audit_hash.h"

namespace meshgate::store {

const std::vector<Migration>& migrations() {
  // The first release's schema comes as three migrations, one per area, so that the upgrade
  // path is exercised (tests open a version-1 database and migrate it) from the start.
  static const std::vector<Migration> kMigrations = {
      {1, "accounts, catalog entries and the contact index", R"sql(
CREATE TABLE accounts (
  address        TEXT PRIMARY KEY,
  ingress_policy TEXT NOT NULL,
  display_name   TEXT NOT NULL,
  profile_udf    TEXT NOT NULL,
  profile        TEXT NOT NULL,
  created        BIGINT NOT NULL,
  updated        BIGINT NOT NULL
);
CREATE TABLE store_sequences (
  name  TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO store_sequences (name, value) VALUES ('entries', 0);
CREATE TABLE entries (
  account  TEXT NOT NULL,
  catalog  TEXT NOT NULL,
  key      TEXT NOT NULL,
  data     TEXT NOT NULL,
  updated  BIGINT NOT NULL,
  sequence BIGINT NOT NULL,
  PRIMARY KEY (account, catalog, key)
);
CREATE UNIQUE INDEX entries_by_sequence ON entries (account, catalog, sequence);
CREATE TABLE contacts (
  account   TEXT NOT NULL,
  "match"   TEXT NOT NULL,
  protocols TEXT NOT NULL,
  catalog   TEXT NOT NULL DEFAULT 'contacts' CHECK (catalog = 'contacts'),
  entry_key TEXT NOT NULL,
  PRIMARY KEY (account, "match"),
  FOREIGN KEY (account, catalog, entry_key) REFERENCES entries (account, catalog, key)
    ON DELETE CASCADE
);
CREATE INDEX contacts_by_entry ON contacts (account, entry_key);
)sql"},
      {2, "rate counters, replay nonces and delivery claims", R"sql(
CREATE TABLE counters (
  key          TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  value        BIGINT NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX counters_by_window ON counters (window_start);
CREATE TABLE nonces (
  nonce   TEXT PRIMARY KEY,
  expires BIGINT NOT NULL
);
CREATE INDEX nonces_by_expiry ON nonces (expires);
CREATE TABLE claims (
  key     TEXT PRIMARY KEY,
  claimed BIGINT NOT NULL
);
)sql"},
      {3, "audit log with its chain head and checkpoints; quarantine",
       R"sql(
CREATE TABLE audit_log (
  sequence   BIGINT PRIMARY KEY,
  time       BIGINT NOT NULL,
  node       TEXT NOT NULL,
  kind       TEXT NOT NULL,
  message_id TEXT NOT NULL,
  queue_id   TEXT NOT NULL,
  sender     TEXT NOT NULL,
  recipients TEXT NOT NULL,
  rule       TEXT NOT NULL,
  action     TEXT NOT NULL,
  signals    TEXT NOT NULL,
  detail     TEXT NOT NULL,
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL
);
CREATE TABLE audit_head (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  sequence BIGINT NOT NULL,
  hash     TEXT NOT NULL
);
INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, ')sql" +
           kAuditGenesisHash + R"sql(');
CREATE TABLE audit_checkpoints (
  sequence  BIGINT PRIMARY KEY,
  time      BIGINT NOT NULL,
  head_hash TEXT NOT NULL,
  signature TEXT NOT NULL
);
CREATE TABLE quarantine (
  id         TEXT PRIMARY KEY,
  queue_id   TEXT NOT NULL,
  message_id TEXT NOT NULL,
  sender     TEXT NOT NULL,
  recipients TEXT NOT NULL,
  reason     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  time       BIGINT NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('held', 'released', 'deleted'))
);
CREATE INDEX quarantine_by_state ON quarantine (state, time);
)sql"},
      {4, "recipients' confirmations of held messages", R"sql(
CREATE TABLE quarantine_confirmations (
  id        TEXT PRIMARY KEY,
  recipient TEXT NOT NULL,
  time      BIGINT NOT NULL
);
)sql"},
      // Counters were purged by window start alone, which with limits of different windows
      // removed an hourly count at every new minute. Rows from before this migration keep
      // their windows' longest possible end (abuse windows are at most 7 days).
      {5, "each rate counter's window end", R"sql(
ALTER TABLE counters ADD COLUMN expires BIGINT NOT NULL DEFAULT 0;
UPDATE counters SET expires = window_start + 604800;
DROP INDEX counters_by_window;
CREATE INDEX counters_by_expiry ON counters (expires);
)sql"},
  };
  return kMigrations;
}

int latestSchemaVersion() { return static_cast<int>(migrations().size()); }

}  // namespace meshgate::store
