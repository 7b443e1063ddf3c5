// audit_command.cc - `meshgate audit verify|show|checkpoint`: the hash-chained audit log
// (seed 7.2.4 accountability, 7.1.7 transparency).
#include <charconv>
#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/audit_checkpoint.h"
#include "gateway/util/audit_hash.h"
#include "gateway/util/strings.h"

namespace meshgate::cli {
namespace {

constexpr int kBatch = 1000;

int auditVerify(const Args& args) {
  const std::string cmd = "meshgate audit verify";
  std::string config_path = kDefaultConfigPath, key_file;
  ArgParser p(cmd,
              "Check the whole audit log: every record links to the one before and hashes to its "
              "stored value,\nsequence numbers are contiguous, and the latest signed checkpoint "
              "verifies and is matched by the log.\nNames the first bad record.");
  p.option("config", "FILE", "configuration file", &config_path);
  p.option("key", "KEYFILE", "the gateway's public key (default: gateway.key_file + .pub)", &key_file);
  p.epilog(
      "Exit status: 0 when the log is intact, 1 when it is not (or cannot be read), 2 when "
      "it is intact but records older than two checkpoint intervals are not covered by a "
      "signed checkpoint: checkpoints were deleted (the unsigned records could have been "
      "rewritten), or no gateway has run since they were written (then run meshgate audit "
      "checkpoint).");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;

  AuditChainVerifier verifier;
  auto checkpoint = ctx->store->latestCheckpoint();
  if (!checkpoint.ok()) return reportError(cmd, checkpoint.status());
  if (checkpoint->has_value()) {
    if (key_file.empty()) key_file = ctx->config->gateway.key_file + ".pub";
    auto key = mesh::loadPublicKeyFile(key_file);
    if (!key.ok()) return reportError(cmd, key.status().withContext("checkpoint key"));
    Status st = policy::verifyAuditCheckpoint(**checkpoint, *key);
    if (!st.ok()) {
      std::cout << "audit log FAILED: checkpoint at record " << (*checkpoint)->sequence << ": "
                << st.message() << "\n";
      return 1;
    }
    verifier.expectCheckpoint((*checkpoint)->sequence, (*checkpoint)->head_hash);
  }
  int64_t from = 1;
  int64_t count = 0;
  const int64_t signed_through = checkpoint->has_value() ? (*checkpoint)->sequence : 0;
  std::optional<int64_t> first_unsigned;  // the first record no checkpoint covers
  int64_t oldest_unsigned_time = 0;       // and the earliest time among those records
  for (;;) {
    auto batch = ctx->store->readAudit(from, kBatch);
    if (!batch.ok()) return reportError(cmd, batch.status());
    for (const auto& r : *batch) {
      ++count;
      if (!verifier.feed(r)) break;
      if (r.sequence > signed_through) {
        if (!first_unsigned || r.time < oldest_unsigned_time) oldest_unsigned_time = r.time;
        if (!first_unsigned) first_unsigned = r.sequence;
      }
    }
    if (verifier.error() || static_cast<int>(batch->size()) < kBatch) break;
    from = batch->back().sequence + 1;
    if (count % 100000 == 0) std::cerr << "\r" << count << " records checked" << std::flush;
  }
  if (count >= 100000) std::cerr << "\n";
  verifier.finish();
  if (verifier.error()) {
    std::cout << "audit log FAILED at record " << verifier.error()->sequence << ": "
              << verifier.error()->reason << "\n";
    return 1;
  }
  std::cout << "audit log OK: " << count << " record(s), head " << verifier.lastHash().substr(0, 16)
            << "...";
  if (checkpoint->has_value()) {
    std::cout << "; checkpoint at record " << (*checkpoint)->sequence << " ("
              << utcTime((*checkpoint)->time) << ") verified";
  } else {
    std::cout << "; no signed checkpoint yet (meshgate audit checkpoint)";
  }
  std::cout << "\n";
  // The chain proves order, not authorship: anyone who can write the database can rewrite the
  // records no checkpoint covers and rehash them. A running gateway signs every
  // checkpoint_interval, so an unsigned tail older than two intervals is suspect.
  const int64_t interval =
      std::chrono::duration_cast<std::chrono::seconds>(ctx->config->audit.checkpoint_interval)
          .count();
  const int64_t now = nowSeconds();
  if (first_unsigned && now - oldest_unsigned_time > 2 * interval + 300) {
    std::cout << "audit log NOT ANCHORED: records " << *first_unsigned << " to " << count
              << " (from " << utcTime(oldest_unsigned_time)
              << ") are not covered by a signed checkpoint, though a running gateway signs one "
                 "every "
              << interval << "s: checkpoints were deleted, or no gateway has run since (then: "
              << "meshgate audit checkpoint)\n";
    return 2;
  }
  return 0;
}

int auditShow(const Args& args) {
  const std::string cmd = "meshgate audit show";
  std::string config_path = kDefaultConfigPath, since, sender, recipient, action, limit_text;
  ArgParser p(cmd, "Print audit records, oldest first, one line each, filtered.");
  p.option("since", "TIME", "only records at or after TIME: 2026-11-27, ISO time, Unix seconds, "
                            "or an age such as 2h or 7d", &since);
  p.option("sender", "ADDRESS", "only records with this envelope sender", &sender);
  p.option("recipient", "ADDRESS", "only records with this recipient", &recipient);
  p.option("action", "ACTION", "only this action: accept, reject, tempfail, hold, discard", &action);
  p.option("limit", "N", "print at most N records (default: all)", &limit_text);
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  int64_t since_time = 0;
  if (!since.empty()) {
    auto s = parseTimeOrAge("--since", since, nowSeconds());
    if (!s.ok()) return p.usageError(s.status().message());
    since_time = *s;
  }
  int64_t limit = -1;
  if (!limit_text.empty()) {
    auto [ptr, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
    if (ec != std::errc() || ptr != limit_text.data() + limit_text.size() || limit < 0) {
      return p.usageError("--limit: expected a number, got \"" + limit_text + "\"");
    }
  }
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  std::string want_sender = toLowerAscii(sender);
  std::string want_rcpt = toLowerAscii(recipient);
  int64_t from = 1, shown = 0;
  for (;;) {
    auto batch = ctx->store->readAudit(from, kBatch);
    if (!batch.ok()) return reportError(cmd, batch.status());
    for (const auto& r : *batch) {
      if (r.time < since_time) continue;
      if (!want_sender.empty() && toLowerAscii(r.sender) != want_sender) continue;
      if (!want_rcpt.empty()) {
        bool found = false;
        for (const auto& x : splitList(r.recipients, ',')) found |= toLowerAscii(x) == want_rcpt;
        if (!found) continue;
      }
      if (!action.empty() && r.action != action) continue;
      if (limit >= 0 && shown >= limit) return 0;
      ++shown;
      // Senders and message ids come from the network: printed with control characters
      // replaced. `detail` carries the administrator's login (by=) and what changed.
      std::cout << utcTime(r.time) << " #" << r.sequence << " " << r.node << " "
                << printable(r.queue_id) << ": from=<" << printable(r.sender) << "> to=<"
                << printable(r.recipients) << "> action=" << r.action << " rule=" << r.rule << " "
                << printable(r.signals)
                << (r.message_id.empty() ? "" : " message-id=" + printable(r.message_id))
                << (r.detail.empty() ? "" : " detail=\"" + printable(r.detail) + "\"") << "\n";
    }
    if (static_cast<int>(batch->size()) < kBatch) break;
    from = batch->back().sequence + 1;
  }
  return 0;
}

int auditCheckpoint(const Args& args) {
  const std::string cmd = "meshgate audit checkpoint";
  std::string config_path = kDefaultConfigPath;
  ArgParser p(cmd, "Sign the current head of the audit chain with the gateway's key and store the "
                   "checkpoint\n(the services also do this every audit.checkpoint_interval).");
  p.option("config", "FILE", "configuration file", &config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  auto key = mesh::loadPrivateKeyFile(ctx->config->gateway.key_file);
  if (!key.ok()) return reportError(cmd, key.status());
  // The head: the last record, once the records since the last checkpoint extend it.
  auto to_sign = policy::readAuditHeadToSign(*ctx->store);
  if (!to_sign.ok()) return reportError(cmd, to_sign.status());
  const std::optional<AuditRecord>& head = to_sign->head;
  if (!head) return reportError(cmd, failedPrecondition("the audit log is empty"));
  auto c = policy::makeAuditCheckpoint(*head, static_cast<int64_t>(std::time(nullptr)),
                                       ctx->config->gateway.node, *key);
  if (!c.ok()) return reportError(cmd, c.status());
  Status st = ctx->store->putCheckpoint(*c);
  if (!st.ok()) return reportError(cmd, st);
  std::cout << "checkpoint at record " << c->sequence << ", head " << c->head_hash.substr(0, 16)
            << "..., signed by " << key->kid() << "\n";
  return 0;
}

int audit(const Args& args) {
  return runGroup("meshgate audit", "The hash-chained audit log of every decision.",
                  {{"verify", "check the chain and the latest checkpoint; name the first bad record",
                    auditVerify},
                   {"show", "print records, filtered by time, sender, recipient, action", auditShow},
                   {"checkpoint", "sign the chain head now", auditCheckpoint}},
                  args);
}

}  // namespace

MESHGATE_COMMAND(audit, "audit", "verify and search the audit log", audit, 44);

}  // namespace meshgate::cli
