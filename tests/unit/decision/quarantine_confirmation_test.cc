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

TEST(QuarantineConfirmation, CodeIsStableAndBoundToKeyMessageAndRecipient) {
  mesh::PrivateKey k = key(), other = key();
  std::string code = *confirmationCode(k, "4XYZ12AB", "bob@example.com");
  EXPECT_EQ(code.size(), 32u);
  EXPECT_EQ(code, *confirmationCode(k, "4XYZ12AB", "bob@example.com"));
  EXPECT_EQ(code, *confirmationCode(k, "4XYZ12AB", "Bob@Example.COM"));  // addresses any case
  EXPECT_TRUE(confirmationMatches(k, "4XYZ12AB", "bob@example.com", code));
  std::string upper = code;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(confirmationMatches(k, "4XYZ12AB", "bob@example.com", " " + upper + " "));

  EXPECT_FALSE(confirmationMatches(other, "4XYZ12AB", "bob@example.com", code));
  EXPECT_FALSE(confirmationMatches(k, "4XYZ12AC", "bob@example.com", code));
  EXPECT_FALSE(confirmationMatches(k, "4XYZ12AB", "carol@example.com", code));
  EXPECT_FALSE(confirmationMatches(k, "4XYZ12AB", "bob@example.com", code.substr(0, 31)));
  EXPECT_FALSE(confirmationMatches(k, "4XYZ12AB", "bob@example.com", ""));
  std::string flipped = code;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  EXPECT_FALSE(confirmationMatches(k, "4XYZ12AB", "bob@example.com", flipped));
  // The separator keeps ("4XYZ", "1@x") and ("4XYZ1", "@x") apart.
  EXPECT_NE(*confirmationCode(k, "4XYZ", "1@x"), *confirmationCode(k, "4XYZ1", "@x"));
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
