// quarantine_confirmation.cc - see quarantine_confirmation.h.
#include "gateway/policy/quarantine_confirmation.h"

#include "gateway/mesh/crypto.h"
#include "gateway/util/encoding.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

// Domain-separated, so that a confirmation signature can never be any other meshgate
// signature (security signals, profiles), and NUL-separated, so that ("ab", "c") and
// ("a", "bc") differ.
Bytes signedText(const QuarantineRecord& held, std::string_view recipient) {
  std::string text = "meshgate quarantine confirmation 2";
  for (const std::string& part :
       {held.id, held.message_id, std::to_string(held.time), toLowerAscii(recipient)}) {
    text += '\0';
    text += part;
  }
  return Bytes(text.begin(), text.end());
}

bool judgeableByRecipient(std::string_view reason) {
  return reason.starts_with("payment request") || reason.starts_with("first contact for ");
}

}  // namespace

Result<std::string> confirmationCode(const mesh::PrivateKey& key, const QuarantineRecord& held,
                                     std::string_view recipient) {
  auto signature = key.sign(signedText(held, recipient));
  if (!signature.ok()) return signature.status().withContext("quarantine confirmation code");
  Bytes digest = mesh::sha512(*signature);
  digest.resize(16);
  return hexEncode(digest);
}

bool confirmationMatches(const mesh::PrivateKey& key, const QuarantineRecord& held,
                         std::string_view recipient, std::string_view code) {
  auto expected = confirmationCode(key, held, recipient);
  if (!expected.ok()) return false;
  std::string given = toLowerAscii(trimWhitespace(code));
  if (given.size() != expected->size()) return false;
  return mesh::constantTimeEquals(asBytes(given), asBytes(*expected));
}

bool recipientMayConfirm(const QuarantineRecord& record, std::string_view recipient) {
  if (record.state != "held") return false;
  // One recipient's word must not deliver a message to others who have not given theirs.
  const auto recipients = splitList(record.recipients, ',');
  if (recipients.size() != 1 || toLowerAscii(recipients[0]) != toLowerAscii(recipient)) {
    return false;
  }
  auto reasons = splitList(record.reason, ';');
  if (reasons.empty()) return false;
  for (const auto& reason : reasons) {
    if (!judgeableByRecipient(reason)) return false;
  }
  return true;
}

}  // namespace meshgate::policy
