// audit_checkpoint.cc - see audit_checkpoint.h.
#include "gateway/policy/audit_checkpoint.h"

#include <nlohmann/json.hpp>

#include "gateway/mesh/dare.h"
#include "gateway/util/audit_hash.h"
#include "gateway/util/encoding.h"

namespace meshgate::policy {

Result<AuditCheckpoint> makeAuditCheckpoint(const AuditRecord& head, int64_t now,
                                            const std::string& node, const mesh::PrivateKey& key) {
  nlohmann::json payload = {{"AuditCheckpoint",
                             {{"Sequence", head.sequence},
                              {"Time", now},
                              {"Node", node},
                              {"HeadHash", head.hash}}}};
  std::string text = payload.dump();
  mesh::DareSealOptions options;
  options.signers.push_back(key);
  options.content_type = "application/meshgate-audit-checkpoint+json";
  auto env = mesh::sealDare(asBytes(text), options);
  if (!env.ok()) return env.status();
  AuditCheckpoint c;
  c.sequence = head.sequence;
  c.time = now;
  c.head_hash = head.hash;
  c.signature = mesh::serializeDareEnvelope(*env);
  return c;
}

Result<AuditHeadToSign> readAuditHeadToSign(Store& store) {
  AuditHeadToSign out;
  auto latest = store.latestCheckpoint();
  if (!latest.ok()) return latest.status();
  out.latest = std::move(*latest);
  const int64_t signed_through = out.latest ? out.latest->sequence : 0;
  auto broken = [&](int64_t sequence, const std::string& reason) {
    return dataLoss("the audit log does not extend the checkpoint at record " +
                    std::to_string(signed_through) + ": record " + std::to_string(sequence) + ": " +
                    reason + "; nothing is signed (run meshgate audit verify)");
  };
  // Read from the signed record itself, whose hash is recomputed from its content; a
  // checkpoint of the empty log (sequence 0) and no checkpoint chain from the genesis.
  std::optional<AuditChainVerifier> chain;
  if (signed_through == 0) chain.emplace();
  int64_t from = signed_through > 0 ? signed_through : 1;
  constexpr int kBatch = 1000;
  for (;;) {
    auto batch = store.readAudit(from, kBatch);
    if (!batch.ok()) return batch.status();
    for (const AuditRecord& r : *batch) {
      if (!chain) {
        if (r.sequence != signed_through) return broken(signed_through, "removed");
        chain.emplace(r.sequence - 1, r.prev_hash);
        chain->expectCheckpoint(signed_through, out.latest->head_hash);
      }
      if (!chain->feed(r)) return broken(chain->error()->sequence, chain->error()->reason);
    }
    if (!batch->empty()) out.head = batch->back();
    if (static_cast<int>(batch->size()) < kBatch) break;
    from = batch->back().sequence + 1;
  }
  if (!chain && signed_through > 0) {
    return broken(signed_through, "removed (the log ends before it)");
  }
  return out;
}

Status verifyAuditCheckpoint(const AuditCheckpoint& checkpoint, const mesh::PublicKey& key) {
  auto env = mesh::parseDareEnvelope(checkpoint.signature);
  if (!env.ok()) return dataLoss("checkpoint is not a DARE envelope: " + env.status().message());
  mesh::DareVerifyOptions options;
  options.allow_embedded_keys = false;
  options.require_header_binding = true;
  std::vector<mesh::PublicKey> keys{key};
  auto checked = mesh::verifyDare(*env, keys, options);
  if (!checked.ok()) return dataLoss("checkpoint signature: " + checked.status().message());
  nlohmann::json payload = nlohmann::json::parse(toString(env->payload), nullptr, false);
  if (payload.is_discarded() || !payload.contains("AuditCheckpoint")) {
    return dataLoss("checkpoint payload is not an AuditCheckpoint");
  }
  const auto& c = payload["AuditCheckpoint"];
  if (!c.contains("Sequence") || !c["Sequence"].is_number_integer() ||
      c["Sequence"].get<int64_t>() != checkpoint.sequence || !c.contains("HeadHash") ||
      !c["HeadHash"].is_string() || c["HeadHash"].get<std::string>() != checkpoint.head_hash) {
    return dataLoss("checkpoint payload does not match its sequence/head hash");
  }
  return Status();
}

}  // namespace meshgate::policy
