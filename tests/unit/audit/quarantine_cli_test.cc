// `meshgate quarantine` commands over a real SQLite store. Postfix's tools are stood in for by
// scripts that record their arguments (the end-to-end test releases from a real Postfix hold
// queue: tests/integration/).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gateway/config/config_loader.h"
#include "gateway/policy/quarantine_confirmation.h"
#include "policy/runtime.h"
#include "policy/store/store_factory.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

using testing::runMeshgate;

class QuarantineCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"postsuper", "postcat", "sendmail"}) {
      dir_.write(tool, std::string("#!/bin/sh\necho \"$0 $*\" >> ") + dir_.file("calls") +
                           "\ncat > /dev/null\necho 'From: held@partner.net'\n");
      chmod(dir_.file(tool).c_str(), 0755);
    }
    config_ = dir_.file("meshgate.yaml");
    dir_.write("meshgate.yaml",
               "gateway:\n  domains: [example.com]\n  data_dir: " + dir_.path() +
                   "\nstore:\n  sqlite:\n    path: " + dir_.file("store.db") +
                   "\nquarantine:\n  postfix_config_dir: /etc/postfix-test\n  postsuper: " +
                   dir_.file("postsuper") + "\n  postcat: " + dir_.file("postcat") +
                   "\n  sendmail: " + dir_.file("sendmail") + "\n");
    auto loaded = config::loadConfigFile(config_);
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
    auto store = store::openStore(loaded.config->store);
    ASSERT_TRUE(store.ok());
    QuarantineRecord q;
    q.id = q.queue_id = "4XYZ12AB";
    q.message_id = "<m@partner.net>";
    q.sender = "stranger@partner.net";
    q.recipients = "bob@example.com,carol@example.com";
    q.reason = "first contact for bob@example.com";
    q.subject = "Invoice";
    q.time = 1'800'000'000;
    q.state = "held";
    ASSERT_TRUE((*store)->putQuarantine(q).ok());
  }
  std::string calls() {
    std::ifstream f(dir_.file("calls"));
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  testing::TempDir dir_;
  std::string config_;
};

TEST_F(QuarantineCli, ListShowsHeldMessages) {
  auto r = runMeshgate({"quarantine", "list", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4XYZ12AB"), std::string::npos);
  EXPECT_NE(r.out.find("reason=\"first contact for bob@example.com\""), std::string::npos) << r.out;
  auto none = runMeshgate({"quarantine", "list", "--recipient", "dave@example.com", "--config", config_});
  EXPECT_EQ(none.out, "");
}

TEST_F(QuarantineCli, ReleaseCallsPostsuperRecordsStateAndAudits) {
  auto r = runMeshgate({"quarantine", "release", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(calls(), dir_.file("postsuper") + " -c /etc/postfix-test -H 4XYZ12AB\n");
  auto again = runMeshgate({"quarantine", "release", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already released"), std::string::npos);
  auto audit = runMeshgate({"audit", "show", "--action", "release", "--config", config_});
  EXPECT_NE(audit.out.find("4XYZ12AB: from=<stranger@partner.net>"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("rule=quarantine.release"), std::string::npos);
}

TEST_F(QuarantineCli, DeleteAndShow) {
  auto show = runMeshgate({"quarantine", "show", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("reason:   first contact for bob@example.com"), std::string::npos);
  EXPECT_NE(show.out.find("From: held@partner.net"), std::string::npos);
  auto del = runMeshgate({"quarantine", "delete", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_NE(calls().find("postsuper -c /etc/postfix-test -d 4XYZ12AB"), std::string::npos);
}

TEST_F(QuarantineCli, HostileIdsNeverReachPostsuper) {
  for (const char* id : {"4XYZ; rm -rf /", "../../x", "-H"}) {
    auto r = runMeshgate({"quarantine", "release", id, "--config", config_});
    EXPECT_NE(r.exit_code, 0) << id;
  }
  EXPECT_EQ(calls(), "");
}

TEST_F(QuarantineCli, DigestPerLocalRecipient) {
  auto printed = runMeshgate({"quarantine", "digest", "--config", config_});
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("To: bob@example.com"), std::string::npos);
  EXPECT_NE(printed.out.find("To: carol@example.com"), std::string::npos);
  EXPECT_NE(printed.out.find("From: postmaster@example.com"), std::string::npos);
  auto sent = runMeshgate({"quarantine", "digest", "--send", "--config", config_});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_NE(calls().find("sendmail -i -f postmaster@example.com -- bob@example.com"),
            std::string::npos)
      << calls();
}

// A payment request held for one recipient, and the gateway key that signs its code.
class QuarantineConfirmCli : public QuarantineCli {
 protected:
  void SetUp() override {
    QuarantineCli::SetUp();
    auto loaded = config::loadConfigFile(config_);
    ASSERT_TRUE(loaded.ok());
    auto key = meshgate::loadOrCreateGatewayKey(loaded.config->gateway.key_file);
    ASSERT_TRUE(key.ok()) << key.status().toString();
    code_ = *policy::confirmationCode(*key, "5PAY1", "bob@example.com");
    auto opened = store::openStore(loaded.config->store);
    ASSERT_TRUE(opened.ok());
    store_ = std::move(*opened);
    QuarantineRecord q;
    q.id = q.queue_id = "5PAY1";
    q.message_id = "<pay@billing.example.net>";
    q.sender = "billing@example.net";
    q.recipients = "bob@example.com";
    q.reason = "payment request from a first contact";
    q.subject = "New bank details";
    q.time = 1'800'000'100;
    q.state = "held";
    ASSERT_TRUE(store_->putQuarantine(q).ok());
  }
  std::unique_ptr<Store> store_;
  std::string code_;
};

TEST_F(QuarantineConfirmCli, DigestLinksOnlyWhatTheRecipientMayRelease) {
  auto r = runMeshgate({"quarantine", "digest", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("https://example.com:15099/quarantine/confirm?id=5PAY1&rcpt=bob%40example."
                       "com&code=" + code_),
            std::string::npos)
      << r.out;
  // 4XYZ12AB is held for bob and carol: no link for either.
  EXPECT_EQ(r.out.find("id=4XYZ12AB"), std::string::npos) << r.out;
}

TEST_F(QuarantineConfirmCli, ConfirmChecksTheCodeThenReleaseConfirmedReleasesOnlyThat) {
  auto wrong = runMeshgate({"quarantine", "confirm", "5PAY1", "--recipient", "bob@example.com",
                            "--code", std::string(32, '0'), "--config", config_});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("wrong confirmation code"), std::string::npos) << wrong.err;
  auto nothing = runMeshgate({"quarantine", "release-confirmed", "--config", config_});
  EXPECT_EQ(nothing.exit_code, 0) << nothing.err;
  EXPECT_EQ(calls(), "");

  auto ok = runMeshgate({"quarantine", "confirm", "5PAY1", "--recipient", "bob@example.com",
                         "--code", code_, "--config", config_});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto list = runMeshgate({"quarantine", "list", "--config", config_});
  EXPECT_NE(list.out.find("confirmed_by=<bob@example.com>"), std::string::npos) << list.out;
  auto released = runMeshgate({"quarantine", "release-confirmed", "--config", config_});
  EXPECT_EQ(released.exit_code, 0) << released.err;
  EXPECT_EQ(calls(), dir_.file("postsuper") + " -c /etc/postfix-test -H 5PAY1\n");
  EXPECT_EQ(store_->getQuarantine("5PAY1")->state, "released");
  EXPECT_EQ(store_->getQuarantine("4XYZ12AB")->state, "held");
  auto audit = runMeshgate({"audit", "show", "--config", config_});
  EXPECT_NE(audit.out.find("rule=quarantine.confirm"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("rule=quarantine.release"), std::string::npos);
}

TEST_F(QuarantineConfirmCli, AHoldForSeveralRecipientsCannotBeConfirmedByOne) {
  auto loaded = config::loadConfigFile(config_);
  auto key = meshgate::loadOrCreateGatewayKey(loaded.config->gateway.key_file);
  ASSERT_TRUE(key.ok());
  const std::string code = *policy::confirmationCode(*key, "4XYZ12AB", "bob@example.com");
  auto r = runMeshgate({"quarantine", "confirm", "4XYZ12AB", "--recipient", "bob@example.com",
                        "--code", code, "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("an administrator decides"), std::string::npos) << r.err;
  EXPECT_EQ(store_->getQuarantine("4XYZ12AB")->confirmed_by, "");
}

}  // namespace
}  // namespace meshgate
