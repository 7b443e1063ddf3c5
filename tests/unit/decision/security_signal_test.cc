// The security signal: signed, bound to the message, and every alteration detected.
#include "gateway/policy/security_signal.h"

#include <gtest/gtest.h>

namespace meshgate::policy {
namespace {

mail::HeaderList sampleHeaders() {
  mail::HeaderList h;
  h.add("From", "Alice <alice@partner.net>");
  h.add("To", "bob@example.com");
  h.add("Subject", "Quarterly\r\n report");
  h.add("Date", "Fri, 27 Nov 2026 10:00:00 +0000");
  h.add("Message-ID", "<1@partner.net>");
  return h;
}

Decision knownContactDecision() {
  Decision d;
  RecipientDecision r;
  r.recipient = "bob@example.com";
  r.contact = ContactStatus::kKnownContact;
  d.recipients.push_back(r);
  d.checks.push_back({"payment-request", "iban"});
  d.checks.push_back({"payment-request", "invoice"});
  d.checks.push_back({"reply-to-mismatch", ""});
  return d;
}

class Signal : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
    ASSERT_TRUE(k.ok());
    key_ = std::make_unique<mesh::PrivateKey>(*k);
    signal_ = signalFromDecision(knownContactDecision(), "mx1.example.com", 1'800'000'000,
                                 [] { return std::string("n0"); });
    auto v = signSignal(signal_, sampleHeaders(), *key_);
    ASSERT_TRUE(v.ok()) << v.status().toString();
    value_ = *v;
  }
  std::unique_ptr<mesh::PrivateKey> key_;
  SecuritySignal signal_;
  std::string value_;
};

TEST_F(Signal, RoundTripsAndVerifies) {
  auto parsed = parseSignal(value_);
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  EXPECT_EQ(parsed->gateway, "mx1.example.com");
  EXPECT_EQ(parsed->contact, "known-contact");
  EXPECT_EQ(parsed->checks, (std::vector<std::string>{"payment-request", "reply-to-mismatch"}));
  EXPECT_EQ(parsed->kid, key_->kid());
  EXPECT_EQ(parsed->time, 1'800'000'000);
  EXPECT_TRUE(verifySignal(*parsed, sampleHeaders(), key_->publicKey()).ok());
  // Refolding by a relay does not matter.
  auto p2 = parseSignal(value_);
  mail::HeaderList h2;
  h2.add("From", "Alice\r\n <alice@partner.net>");
  h2.add("To", "bob@example.com");
  h2.add("Subject", "Quarterly  report");
  h2.add("Date", "Fri, 27 Nov 2026 10:00:00 +0000");
  h2.add("Message-ID", "<1@partner.net>");
  EXPECT_TRUE(verifySignal(*p2, h2, key_->publicKey()).ok());
}

// Found by the hostile corpus through Postfix: a Subject longer than 998 bytes is folded by
// Postfix after the milter signed it, with CRLF + space inserted inside a word.
TEST_F(Signal, ARelayFoldingALongLineInsideAWordStillVerifies) {
  const std::string subject(1500, 'x');
  mail::HeaderList signed_headers = sampleHeaders();
  signed_headers.add("Subject", subject);
  SecuritySignal s = parseSignal(value_).value();
  s.header_digest = boundHeaderDigest(s.bound_headers, signed_headers);
  mail::HeaderList delivered = sampleHeaders();
  delivered.add("Subject", subject.substr(0, 989) + "\r\n " + subject.substr(989));
  EXPECT_EQ(boundHeaderDigest(s.bound_headers, delivered), s.header_digest);
  // Words still count: a changed letter is a changed digest.
  mail::HeaderList altered = sampleHeaders();
  altered.add("Subject", subject.substr(0, 989) + "y" + subject.substr(990));
  EXPECT_NE(boundHeaderDigest(s.bound_headers, altered), s.header_digest);
}

TEST_F(Signal, EveryAlteredTagFails) {
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"gw=mx1.example.com", "gw=mx2.example.com"},
      {"contact=known-contact", "contact=first-contact"},
      {"checks=payment-request,reply-to-mismatch", "checks=none"},
      {"t=1800000000", "t=1800000001"},
      {"v=1;", "v=1; brand=Example;"},
  };
  for (const auto& [from, to] : edits) {
    std::string altered = value_;
    auto pos = altered.find(from);
    ASSERT_NE(pos, std::string::npos) << from;
    altered.replace(pos, from.size(), to);
    auto parsed = parseSignal(altered);
    ASSERT_TRUE(parsed.ok()) << altered;
    Status st = verifySignal(*parsed, sampleHeaders(), key_->publicKey());
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << from << " -> " << to;
  }
}

TEST_F(Signal, MovedToAnotherMessageFails) {
  for (const char* header : {"From", "Subject", "Message-ID", "Reply-To"}) {
    mail::HeaderList h = sampleHeaders();
    h.add(header, "something else");  // a second copy is covered too
    auto parsed = parseSignal(value_);
    Status st = verifySignal(*parsed, h, key_->publicKey());
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << header;
    EXPECT_NE(st.message().find("changed since the gateway signed them"), std::string::npos);
  }
}

TEST_F(Signal, AnotherKeyFails) {
  auto other = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  auto parsed = parseSignal(value_);
  Status st = verifySignal(*parsed, sampleHeaders(), other->publicKey());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("not by the gateway key"), std::string::npos);
}

TEST_F(Signal, ForgedSignatureWithRightKidFails) {
  std::string altered = value_;
  auto pos = altered.find("s=");
  altered[pos + 5] = altered[pos + 5] == 'A' ? 'B' : 'A';
  auto parsed = parseSignal(altered);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(verifySignal(*parsed, sampleHeaders(), key_->publicKey()).code(), StatusCode::kDataLoss);
}

TEST(SignalParse, RejectsMalformed) {
  EXPECT_EQ(parseSignal("v=1; gw=a").status().message(), "missing tag kid");
  EXPECT_EQ(parseSignal("v=2; gw=a").status().message(), "unsupported signal version 2");
  EXPECT_EQ(parseSignal("v=1; v=1").status().message(), "tag v repeated");
  EXPECT_EQ(parseSignal("v=1; junk").status().message(), "tag without '=': \"junk\"");
  EXPECT_EQ(parseSignal("t=abc").status().message(), "tag t: expected a number, got \"abc\"");
  EXPECT_EQ(parseSignal(std::string(20000, 'x')).status().message(), "signal longer than 16 KiB");
}

// The salt is drawn only for a mixed signal: random bytes cost a per-thread DRBG set-up, and
// the milter runs each session on a new thread.
TEST(SignalMixed, OnlyAMixedSignalDrawsANonce) {
  int drawn = 0;
  auto count = [&drawn] {
    ++drawn;
    return std::string("salt");
  };
  Decision same;
  RecipientDecision a, b;
  a.recipient = "bob@example.com";
  a.contact = ContactStatus::kKnownContact;
  b.recipient = "carol@example.com";
  b.contact = ContactStatus::kKnownContact;
  same.recipients = {a, b};
  SecuritySignal s = signalFromDecision(same, "gw", 1, count);
  EXPECT_EQ(s.contact, "known-contact");
  EXPECT_EQ(s.nonce, "");
  EXPECT_EQ(drawn, 0);
  Decision mixed = same;
  mixed.recipients[1].contact = ContactStatus::kFirstContact;
  s = signalFromDecision(mixed, "gw", 1, count);
  EXPECT_EQ(s.contact, "mixed");
  EXPECT_EQ(s.nonce, "salt");
  EXPECT_EQ(drawn, 1);
}

TEST(SignalMixed, RecipientsGetSaltedHashesNotAddresses) {
  Decision d;
  RecipientDecision a, b, refused;
  a.recipient = "bob@example.com";
  a.contact = ContactStatus::kKnownContact;
  b.recipient = "carol@example.com";
  b.contact = ContactStatus::kFirstContact;
  refused.recipient = "dave@example.com";
  refused.verdict = Verdict::kReject;
  d.recipients = {a, b, refused};
  SecuritySignal s = signalFromDecision(d, "gw", 1, [] { return std::string("nonce42"); });
  EXPECT_EQ(s.contact, "mixed");
  ASSERT_EQ(s.recipients.size(), 2u);
  EXPECT_EQ(s.recipients[0].first, recipientHash("nonce42", "BOB@example.com"));
  EXPECT_EQ(s.recipients[0].second, "known-contact");
  EXPECT_EQ(s.recipients[1].second, "first-contact");
  EXPECT_NE(s.recipients[0].first.find("bob"), 0u);
  auto key = mesh::PrivateKey::generate(mesh::KeyType::kEd448);
  mail::HeaderList h;
  h.add("From", "x@y");
  auto v = signSignal(s, h, *key);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find("bob@"), std::string::npos);
  auto parsed = parseSignal(*v);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->recipients, s.recipients);
  EXPECT_TRUE(verifySignal(*parsed, h, key->publicKey()).ok());
}

}  // namespace
}  // namespace meshgate::policy
