// Confirmation codes for held payment requests (quarantine_confirmation.h): bound to the key,
// the message and the recipient; and which holds a recipient may lift.
#include "gateway/policy/quarantine_confirmation.h"

#include <gtest/gtest.h>

namespace meshgate::policy {
namespace {

mesh::PrivateKey key() {
  auto k = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  EXPECT_TRUE(k.ok());
  return *k;
}

QuarantineRecord held(const std::string& id, const std::string& message_id = "<m1@partner.net>",
                      int64_t time = 1'800'000'000) {
  QuarantineRecord q;
  q.id = q.queue_id = id;
  q.message_id = message_id;
  q.time = time;
  return q;
}

TEST(QuarantineConfirmation, CodeIsStableAndBoundToKeyMessageAndRecipient) {
  mesh::PrivateKey k = key(), other = key();
  const QuarantineRecord q = held("4XYZ12AB");
  std::string code = *confirmationCode(k, q, "bob@example.com");
  EXPECT_EQ(code.size(), 32u);
  EXPECT_EQ(code, *confirmationCode(k, q, "bob@example.com"));
  EXPECT_EQ(code, *confirmationCode(k, q, "Bob@Example.COM"));  // addresses any case
  EXPECT_TRUE(confirmationMatches(k, q, "bob@example.com", code));
  std::string upper = code;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(confirmationMatches(k, q, "bob@example.com", " " + upper + " "));

  EXPECT_FALSE(confirmationMatches(other, q, "bob@example.com", code));
  EXPECT_FALSE(confirmationMatches(k, held("4XYZ12AC"), "bob@example.com", code));
  EXPECT_FALSE(confirmationMatches(k, q, "carol@example.com", code));
  EXPECT_FALSE(confirmationMatches(k, q, "bob@example.com", code.substr(0, 31)));
  EXPECT_FALSE(confirmationMatches(k, q, "bob@example.com", ""));
  std::string flipped = code;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  EXPECT_FALSE(confirmationMatches(k, q, "bob@example.com", flipped));
  // Postfix reuses queue ids: a later message held under the same id is not confirmed by the
  // code of the earlier one, whether its Message-ID or only its time differs.
  EXPECT_FALSE(
      confirmationMatches(k, held("4XYZ12AB", "<m2@partner.net>"), "bob@example.com", code));
  EXPECT_FALSE(confirmationMatches(k, held("4XYZ12AB", "<m1@partner.net>", 1'800'000'001),
                                   "bob@example.com", code));
  // The separator keeps ("4XYZ", "1@x") and ("4XYZ1", "@x") apart.
  EXPECT_NE(*confirmationCode(k, held("4XYZ"), "1@x"), *confirmationCode(k, held("4XYZ1"), "@x"));
}

TEST(QuarantineConfirmation, OnlyHoldsARecipientCanJudgeAndOnlyTheirOwn) {
  QuarantineRecord q;
  q.recipients = "bob@example.com";
  q.state = "held";
  struct Case {
    const char* reason;
    const char* recipient;
    const char* state;
    bool may;
  } cases[] = {
      {"payment request from a first contact", "bob@example.com", "held", true},
      {"payment request with Reply-To evil.example", "BOB@example.com", "held", true},
      {"first contact for bob@example.com; payment request", "bob@example.com", "held", true},
      {"payment request", "dave@example.com", "held", false},          // not a recipient
      {"payment request", "bob@example.com", "released", false},       // no longer held
      {"rate limit per-sender", "bob@example.com", "held", false},     // the administrator's
      {"payment request; lookalike-domain", "bob@example.com", "held", false},
      {"brand.unverified", "bob@example.com", "held", false},
      {"", "bob@example.com", "held", false},
  };
  for (const auto& c : cases) {
    q.reason = c.reason;
    q.state = c.state;
    EXPECT_EQ(recipientMayConfirm(q, c.recipient), c.may) << c.reason << " / " << c.recipient;
  }
  // Held for two: neither may release the other's copy.
  q.reason = "payment request";
  q.state = "held";
  q.recipients = "bob@example.com,carol@example.com";
  EXPECT_FALSE(recipientMayConfirm(q, "bob@example.com"));
  EXPECT_FALSE(recipientMayConfirm(q, "carol@example.com"));
}

}  // namespace
}  // namespace meshgate::policy
