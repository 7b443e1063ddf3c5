// NAME
//   store.h - the persistent store meshgate's front-ends share: accounts, catalogs, the contact
//   index used for ingress decisions, rate counters, replay nonces, the audit log, quarantine
//   metadata and delivery idempotency keys.
//
// DESCRIPTION
//   An interface in the core so the decision logic can be tested against a fake; the
//   implementations live in policy/store/ (SQLite, the embedded default; PostgreSQL when several
//   meshgate nodes share one store). Every method is one atomic transaction: it either happens
//   completely or not at all. Catalog entries are opaque JSON text here (the Mesh codec in
//   gateway/mesh/model gives them meaning); the store only indexes what lookups need.
//
//   Times are Unix seconds (UTC). Addresses are stored lower-cased by the caller.
//
// ERRORS
//   kNotFound, kAlreadyExists as named per method; kUnavailable when the database cannot be
//   reached or stays locked beyond the configured timeout (callers tempfail mail);
//   kInvalidArgument for values the schema refuses; kDataLoss when an integrity check fails.
//
// THREAD SAFETY
//   Implementations are safe for concurrent use from many threads (a connection pool or one
//   connection per thread); one Store object is shared by every front-end of a process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/status.h"

namespace meshgate {

struct AccountRecord {
  std::string address;         // "alice@example.com" (lower case); the primary key
  std::string ingress_policy;  // "" = the configured default; else open|tag-unknown|...
  std::string display_name;    // for impersonation checks ("Alice Example")
  std::string profile_udf;     // fingerprint of the account's Mesh profile, "" if none
  std::string profile;         // the enveloped profile (DARE JSON text), "" if none
  int64_t created = 0;
  int64_t updated = 0;
};

// One entry of one catalog of one account ("contacts", "applications", "devices", ...). The
// account "" holds service-wide containers (publications, pending connections).
struct CatalogEntry {
  std::string account;
  std::string catalog;
  std::string key;   // unique within (account, catalog)
  std::string data;  // JSON text
  int64_t updated = 0;
  int64_t sequence = 0;  // store-wide, strictly increasing on every write; set by the store
};

// A row of the contact index: "entry `entry_key` of account's contacts catalog matches senders
// `match` for `protocols`". match is a lower-case address "bob@example.net", a domain entry
// "@example.net", or a Mesh identity "udf:MB...". protocols is a comma list ("smtp,ssh") or
// "*" for every protocol.
struct ContactMatch {
  std::string match;
  std::string protocols;
  std::string entry_key;
};

// Paging over catalog entries and the audit log (seed 3.4.2 SearchConstraints).
struct EntryQuery {
  std::optional<int64_t> not_before;  // updated >= not_before
  std::optional<int64_t> before;      // updated < before
  int max_entries = 100;
  int64_t max_bytes = 1 << 20;
  std::string page_key;  // from a previous page; "" for the first
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_key;  // "" when there is no more
};

// One record of the append-only audit log. The store assigns sequence and prev_hash and
// computes hash = SHA-512(prev_hash || canonical(record)) (gateway/util/audit_hash.h) in the
// same transaction, so the chain cannot fork under concurrent writers.
struct AuditRecord {
  int64_t sequence = 0;
  int64_t time = 0;
  std::string node;        // the meshgate node that decided
  std::string kind;        // "message", "admin", "mesh"
  std::string message_id;  // Message-ID or Mesh MessageID
  std::string queue_id;
  std::string sender;
  std::string recipients;  // comma list
  std::string rule;        // e.g. "ingress.contacts-only"
  std::string action;      // accept, reject, tempfail, hold, ...
  std::string signals;     // what the security signal asserted
  std::string detail;      // free text / JSON
  std::string prev_hash;   // hex
  std::string hash;        // hex
};

// A signed checkpoint over the audit chain (seed 3.11 StatusResponse).
struct AuditCheckpoint {
  int64_t sequence = 0;  // last record covered
  int64_t time = 0;
  std::string head_hash;  // hash of that record
  std::string signature;  // DARE JSON signed by the service key
};

struct QuarantineRecord {
  std::string id;          // meshgate's id (also the Postfix queue id when held there)
  std::string queue_id;
  std::string message_id;
  std::string sender;
  std::string recipients;  // comma list
  std::string reason;      // rule that held it
  std::string subject;
  int64_t time = 0;
  std::string state;       // held, released, deleted
  // Set when a recipient confirmed it (quarantine_confirmation.h); read-only here, written
  // by confirmQuarantine.
  std::string confirmed_by;
  int64_t confirmed_time = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // A cheap round trip (health checks). kUnavailable when the database is gone.
  virtual Status ping() = 0;
  // The database's own consistency check (SQLite integrity_check and foreign_key_check) and
  // the store's invariants: schema version current, audit head = newest record, audit
  // sequence without gaps, every contact-index row backed by its catalog entry, every
  // confirmation backed by a quarantine record. A summary line when sound; kDataLoss naming
  // every problem found; kUnavailable when the database cannot be read.
  virtual Result<std::string> checkIntegrity() = 0;

  // ---- accounts
  virtual Status createAccount(const AccountRecord& account) = 0;  // kAlreadyExists
  virtual Result<AccountRecord> getAccount(std::string_view address) = 0;  // kNotFound
  // Replaces the account, provided it is still as `as_read` (what getAccount returned before
  // the change was made): two administrators, or an administrator and `account provision`,
  // changing one account at once must not undo each other's change. kNotFound;
  // kFailedPrecondition when it was changed meanwhile (nothing written: read it again).
  virtual Status updateAccount(const AccountRecord& account, const AccountRecord& as_read) = 0;
  // Deletes the account with every catalog entry and contact-index row it owns. kNotFound.
  virtual Status deleteAccount(std::string_view address) = 0;
  virtual Result<std::vector<AccountRecord>> listAccounts() = 0;

  // ---- catalogs
  // Inserts or replaces the entry and, when `matches` is given, replaces the contact-index rows
  // of this entry with it (only for the "contacts" catalog). Sets entry.sequence.
  virtual Result<int64_t> putEntry(const CatalogEntry& entry,
                                   const std::optional<std::vector<ContactMatch>>& matches) = 0;
  virtual Result<CatalogEntry> getEntry(std::string_view account, std::string_view catalog,
                                        std::string_view key) = 0;  // kNotFound
  // Removes the entry and its contact-index rows. kNotFound.
  virtual Status deleteEntry(std::string_view account, std::string_view catalog,
                             std::string_view key) = 0;
  // Entries in sequence order, filtered and paged per `query`.
  virtual Result<Page<CatalogEntry>> listEntries(std::string_view account,
                                                 std::string_view catalog,
                                                 const EntryQuery& query) = 0;
  // Moves entry `key` of account's `from` catalog into its `to` catalog (same key and data,
  // `updated` as given, a new sequence) in one transaction: never in both, never in neither,
  // and of two movers, or a mover and a deleter, only one succeeds. kNotFound when `from` has
  // no such entry; kFailedPrecondition when its sequence is not `expected_sequence` (it was
  // replaced since the caller read it); kAlreadyExists when `to` has that key already;
  // kInvalidArgument for the contacts catalog (its index rows do not move). Returns the new
  // sequence.
  virtual Result<int64_t> moveEntry(std::string_view account, std::string_view from,
                                    std::string_view key, std::string_view to,
                                    int64_t expected_sequence, int64_t updated) = 0;
  // How many entries `catalog` of `account` holds, counted no further than `limit` (a quota
  // check reads at most that many index rows).
  virtual Result<int64_t> countEntries(std::string_view account, std::string_view catalog,
                                       int64_t limit) = 0;

  // ---- ingress lookups (hot path: one indexed query per RCPT)
  // The first row of account's contact index whose match equals one of `candidates`, in the
  // order given (callers pass the most specific first: address, then @domain, then udf:...).
  virtual Result<std::optional<ContactMatch>> findContact(
      std::string_view account, const std::vector<std::string>& candidates) = 0;

  // ---- abuse limits
  // Adds `amount` to the counter (key, window_start) and returns the new total. Counters are
  // shared by every node on the same store. `window_end`: when this counter's window closes;
  // its row is kept until then. Rows of any key whose window closed by `window_start` may be
  // purged (each key has its own window: an hourly count outlives a per-minute one).
  virtual Result<int64_t> addToCounter(std::string_view key, int64_t window_start, int64_t amount,
                                       int64_t window_end) = 0;

  // ---- replay protection (seed 8.1.4)
  // Records a nonce until `expires`; returns false if it was already recorded (a replay).
  virtual Result<bool> rememberNonce(std::string_view nonce, int64_t expires, int64_t now) = 0;

  // ---- audit log (seed 7.2.4, 7.1.7)
  // Appends; fills sequence, prev_hash and hash. Returns the stored record.
  virtual Result<AuditRecord> appendAudit(const AuditRecord& record) = 0;
  // Appends several records in one transaction, chained in the order given: all or none.
  // Returns them as stored.
  virtual Result<std::vector<AuditRecord>> appendAudits(const std::vector<AuditRecord>& records) = 0;
  // Records with sequence >= from_sequence in order, at most `limit`.
  virtual Result<std::vector<AuditRecord>> readAudit(int64_t from_sequence, int limit) = 0;
  virtual Status putCheckpoint(const AuditCheckpoint& checkpoint) = 0;
  virtual Result<std::optional<AuditCheckpoint>> latestCheckpoint() = 0;

  // ---- quarantine
  virtual Status putQuarantine(const QuarantineRecord& record) = 0;  // insert or replace
  virtual Result<QuarantineRecord> getQuarantine(std::string_view id) = 0;  // kNotFound
  virtual Result<std::vector<QuarantineRecord>> listQuarantine(std::string_view state) = 0;
  // Records that `recipient` confirmed message `id`; a second confirmation keeps the first.
  // kNotFound when there is no such message.
  virtual Status confirmQuarantine(std::string_view id, std::string_view recipient,
                                   int64_t time) = 0;
  // Moves message `id` from state `from` to `to` if it is still in `from`: true when it moved,
  // false when another process moved it first (the claim two admins or timers race for).
  virtual Result<bool> changeQuarantineState(std::string_view id, std::string_view from,
                                             std::string_view to) = 0;

  // ---- idempotent delivery (Mesh -> SMTP bridge, at-least-once with dedup)
  // Returns true the first time `key` is claimed, false if it was claimed before. A claim is
  // remembered for kClaimMemorySeconds (a day) and then forgotten, so that the claims of every
  // delivery attempt do not pile up: a key must mean something only within that time.
  static constexpr int64_t kClaimMemorySeconds = 86400;
  virtual Result<bool> claimOnce(std::string_view key, int64_t now) = 0;
};

}  // namespace meshgate
