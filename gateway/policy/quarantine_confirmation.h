// NAME
//   quarantine_confirmation.h - a recipient confirms a held payment request and so releases it
//   (issue 8: "a confirmation releases a held payment request").
//
// DESCRIPTION
//   A message held because it asks for a payment (payment_filter.h), or because its sender is
//   a first contact, is one its recipient can judge: "yes, I expect this invoice". The
//   quarantine digest gives each such recipient a confirmation code per message; presenting
//   it (the policy server's /quarantine/confirm page, or `meshgate quarantine confirm` at the
//   helpdesk) records the confirmation, and `meshgate quarantine release-confirmed` (root, from
//   a timer) releases what was confirmed. Holds for other reasons (rate limits, look-alike
//   domains, brand or egress rules) protect against what a recipient cannot see and stay with
//   the administrator.
//
//   The code is derived from a signature by the gateway key over the held message (its id, its
//   Message-ID and the time it was held) and the recipient: Ed25519 and Ed448 signatures are
//   deterministic, so the same inputs always give the same code, and only the holder of the
//   key can mint one. Postfix reuses short queue ids, so the id alone would let a code from an
//   old digest confirm a later message held under the same id. Nothing is stored until a code
//   is presented.
//
//   confirmationCode: 32 lower-case hex digits (128 bits of SHA-512 of the signature).
//   confirmationMatches: recomputes and compares in constant time; any case, no spaces.
//   recipientMayConfirm: the record is held, every hold reason is one a recipient can judge,
//   and `recipient` is its only recipient (case-insensitive): one recipient's word must not
//   deliver a copy to others, so a message held for several waits for the administrator.
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "gateway/mesh/keys.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

Result<std::string> confirmationCode(const mesh::PrivateKey& key, const QuarantineRecord& held,
                                     std::string_view recipient);

bool confirmationMatches(const mesh::PrivateKey& key, const QuarantineRecord& held,
                         std::string_view recipient, std::string_view code);

bool recipientMayConfirm(const QuarantineRecord& record, std::string_view recipient);

}  // namespace meshgate::policy
