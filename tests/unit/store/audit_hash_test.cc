// audit_hash_test.cc - the canonical form and the chain verifier, without a database.
#include "gateway/util/audit_hash.h"

#include <gtest/gtest.h>

namespace meshgate {
namespace {

AuditRecord sample(int64_t sequence) {
  AuditRecord r;
  r.sequence = sequence;
  r.time = 1700000000 + sequence;
  r.node = "mx1";
  r.kind = "message";
  r.message_id = "<m" + std::to_string(sequence) + "@example.net>";
  r.queue_id = "4F" + std::to_string(sequence);
  r.sender = "bob@example.net";
  r.recipients = "alice@example.com";
  r.rule = "ingress.contacts-only";
  r.action = "reject";
  r.signals = "";
  r.detail = "{}";
  return r;
}

std::vector<AuditRecord> chain(int n) {
  std::vector<AuditRecord> records;
  std::string prev = kAuditGenesisHash;
  for (int i = 1; i <= n; ++i) {
    AuditRecord r = sample(i);
    r.prev_hash = prev;
    r.hash = auditRecordHash(prev, r);
    prev = r.hash;
    records.push_back(r);
  }
  return records;
}

TEST(AuditHashTest, CanonicalFormIsLengthPrefixed) {
  AuditRecord r;
  r.sequence = 7;
  r.time = 12;
  r.node = "n";
  r.sender = "a:b";
  EXPECT_EQ(canonicalAuditRecord(r),
            std::string("17:meshgate-audit-v11:72:121:n0:0:0:3:a:b0:0:0:0:0:"));
}

TEST(AuditHashTest, ShiftingBytesBetweenFieldsChangesTheHash) {
  AuditRecord a = sample(1);
  AuditRecord b = a;
  a.sender = "bob@example.net";
  a.recipients = "x";
  b.sender = "bob@example.netx";
  b.recipients = "";
  EXPECT_NE(canonicalAuditRecord(a), canonicalAuditRecord(b));
  EXPECT_NE(auditRecordHash(kAuditGenesisHash, a), auditRecordHash(kAuditGenesisHash, b));
}

TEST(AuditHashTest, HashIsSha512HexOfPrevAndCanonical) {
  const std::string h = auditRecordHash(kAuditGenesisHash, sample(1));
  EXPECT_EQ(h.size(), 128u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(h, auditRecordHash(kAuditGenesisHash, sample(1)));
  EXPECT_NE(h, auditRecordHash(std::string(128, '1'), sample(1)));
  // Every field counts, prev_hash/hash themselves do not.
  AuditRecord r = sample(1);
  for (std::string* field : {&r.node, &r.kind, &r.message_id, &r.queue_id, &r.sender, &r.recipients,
                             &r.rule, &r.action, &r.signals, &r.detail}) {
    AuditRecord changed = r;
    const size_t offset = reinterpret_cast<const char*>(field) - reinterpret_cast<const char*>(&r);
    *reinterpret_cast<std::string*>(reinterpret_cast<char*>(&changed) + offset) += "!";
    EXPECT_NE(auditRecordHash(kAuditGenesisHash, changed), h) << offset;
  }
  AuditRecord other_time = r;
  other_time.time += 1;
  EXPECT_NE(auditRecordHash(kAuditGenesisHash, other_time), h);
  AuditRecord other_sequence = r;
  other_sequence.sequence += 1;
  EXPECT_NE(auditRecordHash(kAuditGenesisHash, other_sequence), h);
  AuditRecord with_hashes = r;
  with_hashes.prev_hash = "ignored";
  with_hashes.hash = "ignored";
  EXPECT_EQ(auditRecordHash(kAuditGenesisHash, with_hashes), h);
}

TEST(AuditHashTest, VerifierFindsTheFirstBadRecord) {
  EXPECT_FALSE(verifyAuditChain(chain(10)).has_value());
  EXPECT_FALSE(verifyAuditChain({}).has_value());

  auto altered = chain(10);
  altered[4].detail = "{\"changed\":1}";
  EXPECT_EQ(verifyAuditChain(altered)->sequence, 5);

  auto rehashed = chain(10);  // altered and re-hashed: the next link breaks
  rehashed[4].detail = "x";
  rehashed[4].hash = auditRecordHash(rehashed[4].prev_hash, rehashed[4]);
  EXPECT_EQ(verifyAuditChain(rehashed)->sequence, 6);

  auto removed = chain(10);
  removed.erase(removed.begin() + 3);
  EXPECT_EQ(verifyAuditChain(removed)->sequence, 4);

  auto removed_first = chain(3);
  removed_first.erase(removed_first.begin());
  EXPECT_EQ(verifyAuditChain(removed_first)->sequence, 1);

  auto inserted = chain(10);
  AuditRecord intruder = inserted[2];
  inserted.insert(inserted.begin() + 3, intruder);
  EXPECT_EQ(verifyAuditChain(inserted)->sequence, 3);

  auto reordered = chain(10);
  std::swap(reordered[6], reordered[7]);
  EXPECT_EQ(verifyAuditChain(reordered)->sequence, 7);

  auto renumbered = chain(10);  // swapped and renumbered to look in order
  std::swap(renumbered[6], renumbered[7]);
  renumbered[6].sequence = 7;
  renumbered[7].sequence = 8;
  EXPECT_EQ(verifyAuditChain(renumbered)->sequence, 7);
}

TEST(AuditHashTest, CheckpointCatchesTruncationAndRewrites) {
  auto records = chain(10);
  AuditChainVerifier ok;
  ok.expectCheckpoint(10, records[9].hash);
  for (const auto& r : records) ASSERT_TRUE(ok.feed(r));
  EXPECT_TRUE(ok.finish());

  AuditChainVerifier truncated;
  truncated.expectCheckpoint(10, records[9].hash);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(truncated.feed(records[static_cast<size_t>(i)]));
  EXPECT_FALSE(truncated.finish());
  EXPECT_EQ(truncated.error()->sequence, 9);

  // A fully rewritten chain is self-consistent; only the signed checkpoint shows it.
  auto rewritten = chain(10);
  rewritten[0].detail = "forged";
  std::string prev = kAuditGenesisHash;
  for (auto& r : rewritten) {
    r.prev_hash = prev;
    r.hash = auditRecordHash(prev, r);
    prev = r.hash;
  }
  EXPECT_FALSE(verifyAuditChain(rewritten).has_value());
  AuditChainVerifier against;
  against.expectCheckpoint(5, records[4].hash);
  for (const auto& r : rewritten) against.feed(r);
  EXPECT_FALSE(against.finish());
  EXPECT_EQ(against.error()->sequence, 5);

  // Resuming after a trusted point.
  AuditChainVerifier resumed(5, records[4].hash);
  for (size_t i = 5; i < records.size(); ++i) ASSERT_TRUE(resumed.feed(records[i]));
  EXPECT_TRUE(resumed.finish());
  EXPECT_EQ(resumed.lastSequence(), 10);
}

}  // namespace
}  // namespace meshgate
