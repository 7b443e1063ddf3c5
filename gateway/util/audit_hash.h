// NAME
//   audit_hash.h - the hash chain of the audit log: canonical record bytes, the chained SHA-512
//   and the verifier `meshgate audit verify` runs.
//
// SYNOPSIS
//   record.prev_hash = head_hash;   // kAuditGenesisHash for the first record
//   record.hash = auditRecordHash(record.prev_hash, record);
//   if (auto bad = verifyAuditChain(records)) report(bad->sequence, bad->reason);
//
// DESCRIPTION
//   canonicalAuditRecord() serializes every field of an AuditRecord except prev_hash and hash,
//   each as "<decimal length>:<bytes>" after a version tag, so that no two different records
//   share a serialization (moving bytes from one field to the next changes the lengths). The
//   sequence number is part of it, so renumbering or reordering records breaks the chain.
//
//   hash = lower-case hex(SHA-512(prev_hash || canonical(record))), where prev_hash is the hex
//   text of the previous record's hash, or kAuditGenesisHash (128 '0') before the first record.
//   The stores compute it in the transaction that reads and advances the chain head, so
//   concurrent writers cannot fork the chain.
//
//   AuditChainVerifier checks records fed in sequence order: each must carry the next sequence
//   number, link to the previous record's hash, and hash to its stored value. That detects an
//   altered record (its hash, or the next record's link, no longer matches), a removed one (a
//   gap in the sequence and a broken link), an inserted one (a duplicate or foreign sequence
//   number and a broken link) and reordered ones (sequence numbers out of order). Removing
//   records from the end is only visible against a checkpoint: expectCheckpoint() before
//   feeding, finish() after the last record.
//
// THREAD SAFETY
//   Pure functions; an AuditChainVerifier is a value owned by one thread.
//
// ERRORS
//   None: a broken chain is a result (AuditChainError), not a failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/ports/store.h"

namespace meshgate {

// The prev_hash of the first record: 128 hex zeros (the length of a SHA-512 hex digest).
extern const std::string kAuditGenesisHash;

// The unambiguous byte string hashed for `record` (prev_hash and hash excluded).
std::string canonicalAuditRecord(const AuditRecord& record);

// lower-case hex(SHA-512(prev_hash || canonicalAuditRecord(record))).
std::string auditRecordHash(std::string_view prev_hash, const AuditRecord& record);

// The first record that breaks the chain and why.
struct AuditChainError {
  int64_t sequence = 0;  // the first bad record's sequence (or the one expected, when missing)
  std::string reason;
};

// Checks a chain fed record by record in sequence order (so `meshgate audit verify` can read
// the log in pages). Stops at the first error; later feeds are ignored.
class AuditChainVerifier {
 public:
  // Starts at the genesis: the first record must have sequence 1 and prev_hash genesis.
  AuditChainVerifier() = default;
  // Starts after a trusted point (e.g. a verified checkpoint): the next record must have
  // sequence after_sequence + 1 and prev_hash after_hash.
  AuditChainVerifier(int64_t after_sequence, std::string after_hash);

  // Returns false once the chain is broken.
  bool feed(const AuditRecord& record);
  // A signed checkpoint says record `sequence` has hash `head_hash`: feed() compares when it
  // reaches that record, finish() fails if the log ended before it (records removed from the
  // end). Call before feeding.
  void expectCheckpoint(int64_t sequence, std::string head_hash);
  // Call after the last record; false if the chain is broken or a checkpoint was not reached.
  bool finish();

  const std::optional<AuditChainError>& error() const { return error_; }
  int64_t lastSequence() const { return last_sequence_; }
  const std::string& lastHash() const { return last_hash_; }

 private:
  int64_t last_sequence_ = 0;
  std::string last_hash_ = kAuditGenesisHash;
  std::optional<int64_t> checkpoint_sequence_;
  std::string checkpoint_hash_;
  std::optional<AuditChainError> error_;
};

// Verifies a whole chain from the genesis (records in the order read, normally by sequence).
// nullopt when intact.
std::optional<AuditChainError> verifyAuditChain(const std::vector<AuditRecord>& records);

}  // namespace meshgate
