// NAME
//   store_schema.h - the store's schema as an ordered list of forward migrations, identical on
//   SQLite and PostgreSQL.
//
// DESCRIPTION
//   Version N of the schema is migrations 1..N applied in order. A database records what it
//   has in schema_version (one row per applied migration: version, time, description).
//   migrateSchema() (sql_store.h) applies the missing ones at open, one transaction each, and
//   refuses a database whose version is newer than kSchemaVersion: an older binary must not
//   write a schema it does not understand.
//
//   To change the schema, append a migration; never edit one that has shipped.
//
//   Tables (logical schema; the SQL in store_schema.cc is the truth):
//     accounts         address PK, ingress policy, display name, profile (+ udf), times
//     store_sequences  name PK -> value: the store-wide catalog entry sequence
//     entries          (account, catalog, key) PK, data, updated, sequence;
//                      unique index (account, catalog, sequence) for listEntries paging
//     contacts         (account, "match") PK, protocols, entry_key; FK to the contacts entry,
//                      ON DELETE CASCADE; findContact is one PK lookup
//     counters         (key, window_start) PK, value; index on window_start for the purge
//     nonces           nonce PK, expires; index on expires for the purge
//     claims           key PK, claimed
//     audit_log        sequence PK, the record's fields, prev_hash, hash
//     audit_head       the single row (sequence, hash) of the chain head writers lock
//     audit_checkpoints sequence PK, time, head_hash, signature
//     quarantine       id PK, ..., state; index (state, time)
//
// THREAD SAFETY
//   Constant data.
#pragma once

#include <string>
#include <vector>

namespace meshgate::store {

struct Migration {
  int version;
  std::string description;
  std::string sql;  // semicolon-separated statements, valid on both SQLite and PostgreSQL
};

// Every migration in order; migrations()[i].version == i + 1.
const std::vector<Migration>& migrations();

// The version this code writes and understands.
int latestSchemaVersion();

}  // namespace meshgate::store
