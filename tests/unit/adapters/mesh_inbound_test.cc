// mesh_inbound_test.cc - Mesh -> SMTP delivery passes over a real SQLite store: what Post
// accepted is submitted once and leaves "inbound"; encrypted, deferred, refused and held
// envelopes stay.
#include "adapters/mesh_inbound.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "adapters/smtp_to_mesh.h"
#include "gateway/mesh/crypto.h"
#include "gateway/mesh/dare.h"
#include "gateway/util/encoding.h"
#include "meshgate/mesh_model.h"
#include "policy/accounts/account_provisioner.h"
#include "policy/store/sqlite_store.h"

namespace meshgate::adapters {
namespace {

namespace model = mesh::model;
using namespace std::chrono_literals;

class RecordingSubmitter : public SmtpSubmitter {
 public:
  Status submit(const RenderedMail& mail) override {
    ++attempts;
    if (!next.ok()) return next;
    sent.push_back(mail);
    return Status();
  }
  std::vector<RenderedMail> sent;
  Status next;
  int attempts = 0;
};

class MeshInbound : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mg-inbound-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = std::move(
        store::openSqliteStore({.path = (dir_ / "store.db").string(), .busy_timeout = 2000ms})
            .value());
    AccountRecord alice;
    alice.address = "alice@example.com";
    alice.ingress_policy = "tag-unknown";
    ASSERT_TRUE(store_->createAccount(alice).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // What Post stores for an accepted envelope (mesh_tx_post.cc).
  void storeAccepted(const std::string& catalog, const std::string& id, bool encrypted = false) {
    model::MessageMail mail;
    const std::string body = "From: bob@example.net\r\nSubject: via the Mesh " + id +
                             "\r\n\r\nhello\r\n";
    mail.body = Bytes(body.begin(), body.end());
    const std::string text = model::serialize(mail);
    mesh::DareSealOptions seal;
    seal.signers.push_back(sender_key_);
    if (encrypted) {
      seal.recipients.push_back(
          mesh::PrivateKey::generate(mesh::KeyType::kX25519).value().publicKey());
    }
    auto envelope = mesh::sealDare(asBytes(text), seal);
    ASSERT_TRUE(envelope.ok()) << envelope.status().toString();
    nlohmann::json data = {{"EnvelopeId", id},
                           {"Envelope", mesh::dareToJson(*envelope)},
                           {"Contact", "known-contact"}};
    CatalogEntry entry{"alice@example.com", catalog, id, data.dump(), 100, 0};
    ASSERT_TRUE(store_->putEntry(entry, std::nullopt).ok());
  }

  Result<InboundPass> pass(RecordingSubmitter& smtp, int64_t now = 1'800'000'000) {
    return delivery_->runPass({.gateway_node = "mx.example.com", .key_folder_root = dir_.string()},
                              smtp, gateway_key_, now);
  }
  bool inInbound(const std::string& id) {
    return store_->getEntry("alice@example.com", "inbound", id).ok();
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::optional<MeshInboundDelivery> delivery_;
  mesh::PrivateKey gateway_key_ = mesh::PrivateKey::generate(mesh::KeyType::kEd25519).value();
  mesh::PrivateKey sender_key_ = mesh::PrivateKey::generate(mesh::KeyType::kEd25519).value();
};

TEST_F(MeshInbound, AnAcceptedMessageIsSubmittedOnceAndLeavesInbound) {
  delivery_.emplace(*store_);
  storeAccepted("inbound", "MENV-ONE");
  RecordingSubmitter smtp;
  InboundPass first = pass(smtp).value();
  EXPECT_EQ(first.delivered, 1);
  ASSERT_EQ(smtp.sent.size(), 1u);
  const RenderedMail& m = smtp.sent[0];
  EXPECT_EQ(m.recipient, "alice@example.com");
  EXPECT_EQ(m.envelope_from, "");
  EXPECT_NE(m.data.find("Subject: via the Mesh MENV-ONE"), std::string::npos);
  EXPECT_NE(m.data.find("Mesh-Envelope-Id: MENV-ONE"), std::string::npos);
  EXPECT_NE(m.data.find("contact=known-contact"), std::string::npos);
  EXPECT_FALSE(inInbound("MENV-ONE"));
  // The next pass has nothing to do.
  InboundPass second = pass(smtp).value();
  EXPECT_EQ(second.delivered + second.duplicates, 0);
  EXPECT_EQ(smtp.sent.size(), 1u);
  // A retried Post stores the same envelope again: recognised, not sent twice.
  storeAccepted("inbound", "MENV-ONE");
  InboundPass retried = pass(smtp).value();
  EXPECT_EQ(retried.duplicates, 1);
  EXPECT_EQ(smtp.sent.size(), 1u);
  EXPECT_FALSE(inInbound("MENV-ONE"));
}

TEST_F(MeshInbound, DeliveryRecordsAreForgottenAfterTheirRetentionAtMostHourly) {
  delivery_.emplace(*store_);
  const int64_t now = 1'800'000'000;
  auto record = [&](const std::string& key, int64_t updated) {
    CatalogEntry e{"", std::string(kDeliveredCatalog), key, "{}", updated, 0};
    ASSERT_TRUE(store_->putEntry(e, std::nullopt).ok());
  };
  auto remembered = [&](const std::string& key) {
    return store_->getEntry("", kDeliveredCatalog, key).ok();
  };
  // Three pages' worth of old records (page_size 2), and one within the retention.
  for (int i = 0; i < 5; ++i) record("MENV-OLD" + std::to_string(i) + "/alice@example.com", 100);
  record("MENV-NEW/alice@example.com", now - 86400);
  RecordingSubmitter smtp;
  MeshInboundOptions options{.gateway_node = "mx.example.com",
                             .key_folder_root = "",
                             .page_size = 2,
                             .delivered_retention_seconds = 2 * 86400};
  InboundPass first = delivery_->runPass(options, smtp, gateway_key_, now).value();
  EXPECT_EQ(first.forgotten, 5);
  EXPECT_FALSE(remembered("MENV-OLD0/alice@example.com"));
  EXPECT_FALSE(remembered("MENV-OLD4/alice@example.com"));
  EXPECT_TRUE(remembered("MENV-NEW/alice@example.com")) << "within delivered_retention";
  // Not on every pass: the next clean-up is an hour later.
  record("MENV-OLD5/alice@example.com", 100);
  EXPECT_EQ(delivery_->runPass(options, smtp, gateway_key_, now + 5).value().forgotten, 0);
  EXPECT_TRUE(remembered("MENV-OLD5/alice@example.com"));
  EXPECT_EQ(delivery_->runPass(options, smtp, gateway_key_, now + 3600).value().forgotten, 1);
  EXPECT_FALSE(remembered("MENV-OLD5/alice@example.com"));
}

TEST_F(MeshInbound, EncryptedHeldDeferredAndRefusedEnvelopesStay) {
  delivery_.emplace(*store_);
  storeAccepted("inbound", "MENV-SEALED", /*encrypted=*/true);
  storeAccepted("held", "MENV-HELD");
  RecordingSubmitter smtp;
  InboundPass p = pass(smtp).value();
  EXPECT_EQ(p.left_for_devices, 1);
  EXPECT_EQ(p.delivered, 0);
  EXPECT_TRUE(smtp.sent.empty()) << "the gateway must not open end-to-end mail, nor held mail";
  EXPECT_TRUE(inInbound("MENV-SEALED"));
  EXPECT_TRUE(store_->getEntry("alice@example.com", "held", "MENV-HELD").ok());

  storeAccepted("inbound", "MENV-LATER");
  smtp.next = unavailable("451 4.3.0 try again");
  p = pass(smtp).value();
  EXPECT_EQ(p.deferred, 1);
  EXPECT_TRUE(inInbound("MENV-LATER"));
  smtp.next = Status();
  p = pass(smtp, 1'800'000'400).value();  // the next attempt window
  EXPECT_EQ(p.delivered, 1);
  EXPECT_FALSE(inInbound("MENV-LATER"));

  storeAccepted("inbound", "MENV-NO");
  smtp.next = permissionDenied("550 5.1.1 no such user");
  p = pass(smtp, 1'800'000'800).value();
  EXPECT_EQ(p.refused, 1);
  // Refused for good: kept, never dropped, but held for the administrator rather than
  // resubmitted in every attempt window.
  EXPECT_FALSE(inInbound("MENV-NO"));
  EXPECT_TRUE(store_->getEntry("alice@example.com", "held", "MENV-NO").ok());
  const int attempts = smtp.attempts;
  p = pass(smtp, 1'800'001'200).value();  // the next attempt window
  EXPECT_EQ(p.refused + p.delivered + p.deferred, 0);
  EXPECT_EQ(smtp.attempts, attempts) << "MENV-NO was submitted again";
}

TEST_F(MeshInbound, ABrokenEntryIsRefusedAndKeptTheOthersStillGo) {
  delivery_.emplace(*store_);
  CatalogEntry broken{"alice@example.com", "inbound", "MENV-BROKEN", "{not json", 100, 0};
  ASSERT_TRUE(store_->putEntry(broken, std::nullopt).ok());
  storeAccepted("inbound", "MENV-FINE");
  RecordingSubmitter smtp;
  InboundPass p = pass(smtp).value();
  EXPECT_EQ(p.refused, 1);
  EXPECT_EQ(p.delivered, 1);
  EXPECT_TRUE(inInbound("MENV-BROKEN"));
  EXPECT_FALSE(inInbound("MENV-FINE"));
}

// Mail another gateway bridged from SMTP (adapters/smtp_to_mesh.cc seals it this way): opened
// with the account's encryption key, delivered as the original message once, with the sender's
// forged signal gone and ours saying "encrypted". Without the account's key it stays.
TEST_F(MeshInbound, BridgedMailIsOpenedWithTheAccountKeyAndDeliveredAsTheOriginal) {
  delivery_.emplace(*store_);
  auto keys = accounts::generateAccountKeys();
  ASSERT_TRUE(keys.ok());
  auto folder = accounts::accountKeyFolder(dir_.string(), "alice@example.com");
  ASSERT_TRUE(folder.ok());
  ASSERT_TRUE(accounts::saveAccountKeys(*keys, *folder).ok());
  const std::string original =
      "Received: from a.example.net by mx.example.net\r\n"
      "Mesh-Security-Signal: v=1; forged=yes\r\n"
      "From: Bob <bob@example.net>\r\nTo: alice@example.com\r\nSubject: quarterly figures\r\n"
      "Message-ID: <q3@example.net>\r\n\r\nThe numbers are in.\r\n";
  auto seal = [&](const mesh::PublicKey& to, const std::string& id) {
    mesh::DareSealOptions options;
    options.recipients.push_back(to);
    mesh::DareEnvelope env = mesh::sealDare(asBytes(original), options).value();
    env.header.envelope_id = id;
    const std::string meta = R"({"cty":"message/rfc822","Sender":"bob@example.net"})";
    env.header.content_meta_data = Bytes(meta.begin(), meta.end());
    const std::vector<mesh::PrivateKey> signers{sender_key_};
    EXPECT_TRUE(mesh::signDare(env, signers).ok());
    // "Sender": the address Post verified against the signer.
    nlohmann::json data = {{"EnvelopeId", id},
                           {"Envelope", mesh::dareToJson(env)},
                           {"Contact", "known-contact"},
                           {"Sender", "bob@example.net"}};
    CatalogEntry entry{"alice@example.com", "inbound", id, data.dump(), 100, 0};
    ASSERT_TRUE(store_->putEntry(entry, std::nullopt).ok());
  };
  seal(keys->encryption.publicKey(), "MGSM-BRIDGED");
  RecordingSubmitter smtp;
  InboundPass p = pass(smtp).value();
  EXPECT_EQ(p.delivered, 1);
  ASSERT_EQ(smtp.sent.size(), 1u);
  const std::string& data = smtp.sent[0].data;
  EXPECT_NE(data.find("Subject: quarterly figures\r\n"), std::string::npos) << data;
  EXPECT_NE(data.find("Message-ID: <q3@example.net>\r\n"), std::string::npos) << data;
  EXPECT_NE(data.find("\r\n\r\nThe numbers are in.\r\n"), std::string::npos) << data;
  EXPECT_EQ(data.find("forged=yes"), std::string::npos) << "the sender's signal must go";
  EXPECT_NE(data.find("checks=via-mesh,encrypted"), std::string::npos) << data;
  EXPECT_FALSE(inInbound("MGSM-BRIDGED"));

  // Encrypted to a key this gateway does not hold (the account's own device): left alone.
  seal(mesh::PrivateKey::generate(mesh::KeyType::kX25519).value().publicKey(), "MGSM-OTHER");
  p = pass(smtp, 1'800'000'100).value();
  EXPECT_EQ(p.delivered, 0);
  EXPECT_EQ(p.refused, 1) << "a bridged message the account key cannot open is reported";
  EXPECT_TRUE(inInbound("MGSM-OTHER"));
  EXPECT_EQ(smtp.sent.size(), 1u);
}

// The EnvelopeId of a bridged copy does not change when the client retries the message through
// the MTA (a new Received field), and differs per recipient and per message.
// Keyed by the gateway: a co-recipient who holds the same message cannot work out the id and
// post something else under it before the retry.
TEST(MeshEnvelopeId, StableAcrossTraceFieldsDistinctPerRecipientMessageAndGateway) {
  const auto key = mesh::PrivateKey::generate(mesh::KeyType::kEd25519).value();
  const auto other = mesh::PrivateKey::generate(mesh::KeyType::kEd25519).value();
  auto id_of = [](const mesh::PrivateKey& k, std::string_view from, std::string_view to,
                  std::string_view message) {
    return meshEnvelopeId(k, from, to, message).value();
  };
  const std::string first =
      "Received: from c by mx id AAA\r\n\tfor <bob@example.net>\r\nSubject: s\r\n\r\nbody\r\n";
  const std::string retried =
      "Received: from c by mx id BBB\r\n\tfor <bob@example.net>\r\nSubject: s\r\n\r\nbody\r\n";
  const std::string id = id_of(key, "alice@example.com", "bob@example.net", first);
  EXPECT_EQ(id.rfind("MGSM-", 0), 0u);
  EXPECT_EQ(id.size(), 45u);
  EXPECT_EQ(id, id_of(key, "Alice@example.com", "bob@example.net", retried));
  EXPECT_NE(id, id_of(key, "alice@example.com", "carol@example.net", first));
  EXPECT_NE(id, id_of(key, "alice@example.com", "bob@example.net", "Subject: s\r\n\r\nbody!\r\n"));
  EXPECT_NE(id, id_of(other, "alice@example.com", "bob@example.net", first));
  // Not the unkeyed digest of the same input, which anyone could compute.
  std::string input = std::string("alice@example.com") + '\0' + "bob@example.net" + '\0' +
                      "Subject: s\r\n\r\nbody\r\n";
  EXPECT_NE(id, "MGSM-" + base32Encode(mesh::sha512(asBytes(input))).substr(0, 40));
}

}  // namespace
}  // namespace meshgate::adapters
