// NAME
//   audit_checkpoint.h - signed checkpoints of the audit chain (seed 7.1.7, "cert transparency
//   type techniques"; seed 3.11 StatusResponse.CheckpointValue).
//
// DESCRIPTION
//   A checkpoint commits to the chain head: sequence number, time, node and the head record's
//   hash, as a JSON payload in a DARE envelope signed (header-bound) by the gateway's key. Anyone
//   holding the gateway's public key can check that a log they are shown extends the
//   checkpoint; a log truncated below a checkpoint, or rewritten, no longer matches it.
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gateway/mesh/keys.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

// Builds the checkpoint for the record `head` (sequence, hash) and signs it; the result's
// signature is the DARE envelope text.
Result<AuditCheckpoint> makeAuditCheckpoint(const AuditRecord& head, int64_t now,
                                            const std::string& node, const mesh::PrivateKey& key);

// What a new checkpoint would sign: the head of the chain (nullopt: the log is empty) and the
// latest checkpoint already stored (nullopt: none).
struct AuditHeadToSign {
  std::optional<AuditRecord> head;
  std::optional<AuditCheckpoint> latest;
};

// Reads `store`'s audit log from the latest checkpoint on (from the genesis without one), in
// batches, and checks that it extends that checkpoint: the record the checkpoint signed still
// has the signed hash, and every record since chains to the one before it. A record rewritten
// below a checkpoint (its successors' hashes recomputed) is thus never signed over by the
// next one: kDataLoss naming the first bad record, and nothing may be signed.
Result<AuditHeadToSign> readAuditHeadToSign(Store& store);

// Checks the envelope's signature against `key` and that its payload states the checkpoint's
// sequence and head hash. kDataLoss with the reason otherwise.
Status verifyAuditCheckpoint(const AuditCheckpoint& checkpoint, const mesh::PublicKey& key);

}  // namespace meshgate::policy
