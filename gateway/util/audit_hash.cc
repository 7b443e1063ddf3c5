// audit_hash.cc - canonical audit record bytes, the SHA-512 chain and its verifier.
#include "gateway/util/audit_hash.h"

#include <openssl/evp.h>

#include <array>
#include <memory>

namespace meshgate {

const std::string kAuditGenesisHash(128, '0');

namespace {

// Bumped if the field list ever changes, so old and new records cannot be confused.
constexpr std::string_view kCanonicalTag = "meshgate-audit-v1";

void appendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

std::string toHex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    hex += kDigits[data[i] >> 4];
    hex += kDigits[data[i] & 0x0f];
  }
  return hex;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};

// Fetched once: OpenSSL 3 looks EVP_sha512() up in its provider tables, under a lock, on every
// EVP_DigestInit_ex, which every audit record paid (bench/RESULTS.md, 2026-12-01).
const EVP_MD* sha512() {
  static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA512", nullptr));
  return md.get();
}

}  // namespace

std::string canonicalAuditRecord(const AuditRecord& record) {
  std::string out;
  out.reserve(256 + record.detail.size() + record.signals.size() + record.recipients.size());
  appendField(out, kCanonicalTag);
  appendField(out, std::to_string(record.sequence));
  appendField(out, std::to_string(record.time));
  for (const std::string* field :
       {&record.node, &record.kind, &record.message_id, &record.queue_id, &record.sender,
        &record.recipients, &record.rule, &record.action, &record.signals, &record.detail}) {
    appendField(out, *field);
  }
  return out;
}

std::string auditRecordHash(std::string_view prev_hash, const AuditRecord& record) {
  const std::string canonical = canonicalAuditRecord(record);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  // SHA-512 over memory cannot fail short of allocation failure; an empty result would make
  // every comparison fail, which is the safe direction.
  if (!ctx || sha512() == nullptr || EVP_DigestInit_ex2(ctx.get(), sha512(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &size) != 1) {
    return std::string();
  }
  return toHex(digest.data(), size);
}

AuditChainVerifier::AuditChainVerifier(int64_t after_sequence, std::string after_hash)
    : last_sequence_(after_sequence), last_hash_(std::move(after_hash)) {}

bool AuditChainVerifier::feed(const AuditRecord& record) {
  if (error_) return false;
  const int64_t expected = last_sequence_ + 1;
  if (record.sequence != expected) {
    // A gap names the first missing record; a repeat or a step back names the intruder.
    const int64_t bad = record.sequence > expected ? expected : record.sequence;
    error_ =
        AuditChainError{bad, "expected record " + std::to_string(expected) + ", found " +
                                 std::to_string(record.sequence) +
                                 (record.sequence > expected ? " (records removed)"
                                                             : " (records inserted or reordered)")};
    return false;
  }
  if (record.prev_hash != last_hash_) {
    error_ = AuditChainError{record.sequence,
                             "prev_hash does not match the hash of record " +
                                 std::to_string(last_sequence_) +
                                 " (a record before it was altered, removed or inserted)"};
    return false;
  }
  if (auditRecordHash(record.prev_hash, record) != record.hash) {
    error_ = AuditChainError{record.sequence, "hash does not match the record's content (altered)"};
    return false;
  }
  if (checkpoint_sequence_ && record.sequence == *checkpoint_sequence_ &&
      record.hash != checkpoint_hash_) {
    error_ = AuditChainError{record.sequence, "hash differs from the signed checkpoint's head"};
    return false;
  }
  last_sequence_ = record.sequence;
  last_hash_ = record.hash;
  return true;
}

void AuditChainVerifier::expectCheckpoint(int64_t sequence, std::string head_hash) {
  checkpoint_sequence_ = sequence;
  checkpoint_hash_ = std::move(head_hash);
}

bool AuditChainVerifier::finish() {
  if (error_) return false;
  if (checkpoint_sequence_ && last_sequence_ < *checkpoint_sequence_) {
    error_ = AuditChainError{
        last_sequence_ + 1, "the checkpoint covers record " +
                                std::to_string(*checkpoint_sequence_) + " but the log ends at " +
                                std::to_string(last_sequence_) + " (records removed from the end)"};
    return false;
  }
  return true;
}

std::optional<AuditChainError> verifyAuditChain(const std::vector<AuditRecord>& records) {
  AuditChainVerifier verifier;
  for (const AuditRecord& record : records) {
    if (!verifier.feed(record)) break;
  }
  verifier.finish();
  return verifier.error();
}

}  // namespace meshgate
