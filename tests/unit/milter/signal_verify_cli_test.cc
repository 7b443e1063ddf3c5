// `meshgate signal verify` on a message carrying the signal the milter produced.
#include <gtest/gtest.h>

#include "gateway/config/config_loader.h"
#include "milter/milter_session.h"
#include "tests/support/mock_store.h"
#include "tests/support/subprocess.h"

namespace meshgate::milter {
namespace {

using ::testing::_;
using ::testing::NiceMock;

class SignalVerifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::loadConfigString(
        "gateway:\n  node: mx.example.com\n  domains: [example.com]\nabuse:\n  enabled: false\n",
        "t.yaml");
    ASSERT_TRUE(loaded.ok());
    engine_ = std::make_shared<policy::DecisionEngine>(loaded.config, store_, clock_);
    ON_CALL(store_, getAccount(_)).WillByDefault([](std::string_view a) -> Result<AccountRecord> {
      AccountRecord r;
      r.address = std::string(a);
      return r;
    });
    // Content checks (impersonation) read the account names.
    ON_CALL(store_, listAccounts())
        .WillByDefault(::testing::Return(Result<std::vector<AccountRecord>>(std::vector<AccountRecord>{})));
    ON_CALL(store_, findContact(_, _))
        .WillByDefault(::testing::Return(
            Result<std::optional<ContactMatch>>(std::optional<ContactMatch>())));
    auto key = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
    key_ = std::make_shared<const mesh::PrivateKey>(*key);
    ASSERT_TRUE(mesh::savePublicKeyFile(key_->publicKey(), dir_.file("gw.pub")).ok());
  }

  // The delivered message: the milter's header changes applied to the received one.
  std::string deliver(const std::string& subject) {
    MilterContext ctx;
    ctx.engine = [this] { return engine_; };
    ctx.gateway_key = [this] { return key_; };
    ctx.now = [] { return int64_t{1'800'000'000}; };
    ctx.nonce = [] { return std::string("n"); };
    MilterSession s(ctx);
    s.onConnect("mx.partner.net", "198.51.100.7", "");
    EXPECT_EQ(s.onMail("<alice@partner.net>", "").kind, Step::Kind::kContinue);
    EXPECT_EQ(s.onRecipient("<bob@example.com>").kind, Step::Kind::kContinue);
    s.onHeader("From", "alice@partner.net");
    s.onHeader("To", "bob@example.com");
    s.onHeader("Subject", subject);
    s.onBody("hi\r\n");
    EomResult r = s.onEndOfMessage("Q1");
    std::string signal;
    for (const auto& c : r.changes) {
      if (c.kind == HeaderChange::Kind::kInsert) signal = c.value;
    }
    EXPECT_FALSE(signal.empty());
    // libmilter folds with "\n\t"; on the wire that is CRLF + TAB.
    std::string folded;
    for (char c : signal) folded += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return "Mesh-Security-Signal: " + folded + "\r\nReceived: from mx.partner.net\r\n"
           "From: alice@partner.net\r\nTo: bob@example.com\r\nSubject: " + subject +
           "\r\n\r\nhi\r\n";
  }

  NiceMock<testing::MockStore> store_;
  testing::FixedClock clock_{1'800'000'000};
  std::shared_ptr<const policy::DecisionEngine> engine_;
  std::shared_ptr<const mesh::PrivateKey> key_;
  testing::TempDir dir_;
};

TEST_F(SignalVerifyCli, VerifiesAndPrintsTheAssertions) {
  dir_.write("m.eml", deliver("hello"));
  auto r = testing::runMeshgate({"signal", "verify", dir_.file("m.eml"), "--key", dir_.file("gw.pub")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("gateway:  mx.example.com"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("contact:  first-contact"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("time:     2027-01-15T08:00:00Z"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result:   verified"), std::string::npos);
}

TEST_F(SignalVerifyCli, FailsOnAnAlteredFieldOrHeader) {
  std::string msg = deliver("hello");
  std::string forged_status = msg;
  forged_status.replace(forged_status.find("contact=first-contact"), 21, "contact=known-contact");
  dir_.write("a.eml", forged_status);
  auto a = testing::runMeshgate({"signal", "verify", dir_.file("a.eml"), "--key", dir_.file("gw.pub")});
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.out.find("FAILED: signature does not verify"), std::string::npos) << a.out;

  std::string other_subject = msg;
  other_subject.replace(other_subject.find("Subject: hello"), 14, "Subject: pay now");
  dir_.write("b.eml", other_subject);
  auto b = testing::runMeshgate({"signal", "verify", dir_.file("b.eml"), "--key", dir_.file("gw.pub")});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.out.find("changed since the gateway signed them"), std::string::npos) << b.out;
}

TEST_F(SignalVerifyCli, NoSignalIsAnError) {
  dir_.write("n.eml", "From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n");
  auto r = testing::runMeshgate({"signal", "verify", dir_.file("n.eml"), "--key", dir_.file("gw.pub")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no Mesh-Security-Signal header"), std::string::npos);
}

}  // namespace
}  // namespace meshgate::milter
