// `meshgate quarantine` commands over a real SQLite store. Postfix's tools are stood in for by
// scripts that record their arguments (the end-to-end test releases from a real Postfix hold
// queue: tests/integration/).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include "gateway/config/config_loader.h"
#include "gateway/mesh/dare.h"
#include "gateway/policy/quarantine_confirmation.h"
#include "policy/mesh/mesh_dispatcher.h"
#include "policy/runtime.h"
#include "policy/store/store_factory.h"
#include "tests/support/background_process.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

using testing::runMeshgate;

class QuarantineCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"postsuper", "sendmail"}) {
      dir_.write(tool, std::string("#!/bin/sh\necho \"$0 $*\" >> ") + dir_.file("calls") +
                           "\ncat > /dev/null\necho 'From: held@partner.net'\n");
      chmod(dir_.file(tool).c_str(), 0755);
    }
    // postcat -e -q ID prints queue/ID (the envelope as Postfix's postcat shows it), or fails
    // as postcat does for an id no queue holds; without -e, the message.
    std::filesystem::create_directories(dir_.file("queue"));
    dir_.write("postcat",
               "#!/bin/sh\nfor id; do :; done\ncase \" $* \" in\n  *\" -e \"*)\n"
               "    cat " +
                   dir_.file("queue") +
                   "/$id 2>/dev/null && exit 0\n"
                   "    echo \"postcat: fatal: open queue file $id: No such file or "
                   "directory\" >&2; exit 1;;\n"
                   "  *) echo 'From: held@partner.net';;\nesac\n");
    chmod(dir_.file("postcat").c_str(), 0755);
    queueFile("hold", "4XYZ12AB", "stranger@partner.net");
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
    store_ = std::move(*store);
    QuarantineRecord q;
    q.id = q.queue_id = "4XYZ12AB";
    q.message_id = "<m@partner.net>";
    q.sender = "stranger@partner.net";
    q.recipients = "bob@example.com,carol@example.com";
    q.reason = "first contact for bob@example.com";
    q.subject = "Invoice";
    q.time = 1'800'000'000;
    q.state = "held";
    ASSERT_TRUE(store_->putQuarantine(q).ok());
  }
  // What postcat -e shows for id: in queue, from sender.
  void queueFile(const std::string& queue, const std::string& id, const std::string& sender) {
    dir_.write("queue/" + id, "*** ENVELOPE RECORDS " + queue + "/" + id +
                                  " ***\nmessage_size:             332             182\n"
                                  "sender_fullname: \nsender: " +
                                  sender + "\nrecipient: bob@example.com\n*** HEADER EXTRACTED " +
                                  queue + "/" + id + " ***\n*** MESSAGE FILE END " + queue + "/" +
                                  id + " ***\n");
  }
  std::string calls() {
    std::ifstream f(dir_.file("calls"));
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  testing::TempDir dir_;
  std::string config_;
  // The audit log refuses records from now on (as a full disk or a read-only table would).
  void refuseAuditRecords() {
    auto r = testing::runProgram(
        {"/usr/bin/sqlite3", dir_.file("store.db"),
         "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); "
         "END;"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::unique_ptr<Store> store_;  // the store the commands under test use
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

TEST_F(QuarantineCli, CtrlCDuringAReleaseDoesNotLeaveItHalfDone) {
  // Ctrl-C reaches the whole foreground group: meshgate and the postsuper it runs. Interrupted
  // between the claim and postsuper's end, the record would say released and the message would
  // still sit in the hold queue.
  dir_.write("postsuper", "#!/bin/sh\necho $$ > " + dir_.file("started") +
                              "\nsleep 1\necho \"$0 $*\" >> " + dir_.file("calls") + "\n");
  chmod(dir_.file("postsuper").c_str(), 0755);
  testing::BackgroundProcess release(
      {MESHGATE_BINARY, "quarantine", "release", "4XYZ12AB", "--config", config_});
  ASSERT_TRUE(
      testing::waitUntil([&] { return ::access(dir_.file("started").c_str(), F_OK) == 0; }, 10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the pid is written
  std::ifstream started(dir_.file("started"));
  pid_t postsuper = 0;
  started >> postsuper;
  release.sendSignal(SIGINT);
  if (postsuper > 0) ::kill(postsuper, SIGINT);
  EXPECT_EQ(release.waitForExit(10000), 0) << release.output();
  EXPECT_EQ(calls(), dir_.file("postsuper") + " -c /etc/postfix-test -H 4XYZ12AB\n");
  EXPECT_EQ(store_->getQuarantine("4XYZ12AB")->state, "released");
}

TEST_F(QuarantineCli, AFailedPostsuperLeavesItHeldAndIsAudited) {
  dir_.write("postsuper", "#!/bin/sh\necho 'postsuper: fatal: queue file busy' >&2\nexit 1\n");
  auto r = runMeshgate({"quarantine", "release", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("still held"), std::string::npos) << r.err;
  EXPECT_EQ(store_->getQuarantine("4XYZ12AB")->state, "held");
  auto audit = runMeshgate({"audit", "show", "--config", config_});
  EXPECT_NE(audit.out.find("rule=quarantine.release "), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("rule=quarantine.release-failed"), std::string::npos) << audit.out;
}

TEST_F(QuarantineCli, DeleteAndShow) {
  auto show = runMeshgate({"quarantine", "show", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("reason:   first contact for bob@example.com"), std::string::npos);
  EXPECT_NE(show.out.find("From: held@partner.net"), std::string::npos);
  auto del = runMeshgate({"quarantine", "delete", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  // Only from the hold queue: never a message under the same id in another queue.
  EXPECT_NE(calls().find("postsuper -c /etc/postfix-test -d 4XYZ12AB hold\n"), std::string::npos)
      << calls();
}

TEST_F(QuarantineCli, NothingIsDoneWhenTheIdNoLongerNamesTheHeldMessage) {
  struct Case {
    const char* what;
    std::function<void()> queue;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"reused by another sender's message",
       [&] { queueFile("hold", "4XYZ12AB", "someone@else.example"); }, "Postfix reused the id"},
      {"released outside meshgate, now deferred",
       [&] { queueFile("deferred", "4XYZ12AB", "stranger@partner.net"); },
       "is not in Postfix's hold queue (postcat shows deferred/4XYZ12AB)"},
      {"gone from the queue", [&] { std::filesystem::remove(dir_.file("queue/4XYZ12AB")); },
       "is no longer in the Postfix queue (postcat: postcat: fatal: open queue file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    c.queue();
    for (const char* action : {"release", "delete"}) {
      auto r = runMeshgate({"quarantine", action, "4XYZ12AB", "--config", config_});
      EXPECT_EQ(r.exit_code, 1) << action;
      EXPECT_NE(r.err.find(c.error), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("othing was done"), std::string::npos) << r.err;
    }
    EXPECT_EQ(calls(), "") << "postsuper must not run";
    EXPECT_EQ(store_->getQuarantine("4XYZ12AB")->state, "held");
  }
  // The sender's case is Postfix's to keep: the same address still names the held message.
  queueFile("hold", "4XYZ12AB", "Stranger@Partner.NET");
  auto r = runMeshgate({"quarantine", "release", "4XYZ12AB", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
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

TEST_F(QuarantineCli, TheSendersTextCannotAddLinesOrTerminalEscapes) {
  // The subject is stored decoded (RFC 2047), so "=0A" and ESC arrive as the bytes themselves.
  QuarantineRecord q = *store_->getQuarantine("4XYZ12AB");
  q.subject =
      "Invoice\n      If you expected it, you can release it yourself:\n      "
      "https://evil.example/release\x1b]0;owned\x07";
  q.sender = "a\nb@partner.net";
  ASSERT_TRUE(store_->putQuarantine(q).ok());
  for (const char* command : {"list", "digest"}) {
    auto r = runMeshgate({"quarantine", command, "--config", config_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("\n      If you expected it"), std::string::npos) << command << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << command;
    EXPECT_EQ(r.out.find("a\nb@"), std::string::npos) << command;
    EXPECT_NE(r.out.find("Invoice?      If you expected it"), std::string::npos)
        << command << r.out;
  }
  auto show = runMeshgate({"quarantine", "show", "4XYZ12AB", "--config", config_});
  EXPECT_NE(show.out.find("subject:  Invoice?      If you expected it"), std::string::npos)
      << show.out;
  EXPECT_EQ(show.out.find('\x1b'), std::string::npos);
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
    QuarantineRecord q;
    q.id = q.queue_id = "5PAY1";
    q.message_id = "<pay@billing.example.net>";
    q.sender = "billing@example.net";
    q.recipients = "bob@example.com";
    q.reason = "payment request from a first contact";
    q.subject = "New bank details";
    q.time = 1'800'000'100;
    q.state = "held";
    code_ = *policy::confirmationCode(*key, q, "bob@example.com");
    ASSERT_TRUE(store_->putQuarantine(q).ok());
    queueFile("hold", "5PAY1", "billing@example.net");
  }
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

TEST_F(QuarantineConfirmCli, NoConfirmationIsRecordedWhenTheAuditLogCannotBeWritten) {
  refuseAuditRecords();
  auto r = runMeshgate({"quarantine", "confirm", "5PAY1", "--recipient", "bob@example.com",
                        "--code", code_, "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("audit log; nothing was changed"), std::string::npos) << r.err;
  EXPECT_EQ(store_->getQuarantine("5PAY1")->confirmed_by, "");
}

TEST_F(QuarantineConfirmCli, AHoldForSeveralRecipientsCannotBeConfirmedByOne) {
  auto loaded = config::loadConfigFile(config_);
  auto key = meshgate::loadOrCreateGatewayKey(loaded.config->gateway.key_file);
  ASSERT_TRUE(key.ok());
  const std::string code =
      *policy::confirmationCode(*key, *store_->getQuarantine("4XYZ12AB"), "bob@example.com");
  auto r = runMeshgate({"quarantine", "confirm", "4XYZ12AB", "--recipient", "bob@example.com",
                        "--code", code, "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("an administrator decides"), std::string::npos) << r.err;
  EXPECT_EQ(store_->getQuarantine("4XYZ12AB")->confirmed_by, "");
}

// Mesh messages the Post transaction held for a quarantine-unknown account: entries of its
// `held` catalog as mesh_tx_post.cc writes them.
class QuarantineMeshCli : public QuarantineCli {
 protected:
  void SetUp() override {
    QuarantineCli::SetUp();
    for (const char* address : {"bob@example.com", "carol@example.com"}) {
      AccountRecord a;
      a.address = address;
      a.ingress_policy = "quarantine-unknown";
      ASSERT_TRUE(store_->createAccount(a).ok());
    }
    held_ = hold("bob@example.com", "EAAA-HELD1", "stranger@partner.net",
                 "{\"MessageText\":{\"Subject\":\"hello\\u001b[2J\"}}\x1b[31m");
  }
  // A cleartext envelope from `sender`, held for `account`.
  CatalogEntry hold(const std::string& account, const std::string& id, const std::string& sender,
                    const std::string& payload) {
    mesh::DareEnvelope env;
    env.header.envelope_id = id;
    env.payload = Bytes(payload.begin(), payload.end());
    nlohmann::json data = {{"EnvelopeId", id},          {"Envelope", mesh::dareToJson(env)},
                           {"Digest", "d-" + id + sender}, {"Sender", sender},
                           {"ClaimedSender", sender},   {"SenderUdf", ""},
                           {"Contact", "quarantined"},  {"Rule", "ingress.quarantine-unknown"},
                           {"Received", 1'800'000'200}};
    CatalogEntry e{account, std::string(meshsvc::kHeldCatalog), id, data.dump(), 1'800'000'200, 0};
    EXPECT_TRUE(store_->putEntry(e, std::nullopt).ok());
    return e;
  }
  bool inCatalog(const std::string& account, std::string_view catalog, const std::string& id) {
    return store_->getEntry(account, catalog, id).ok();
  }
  CatalogEntry held_;
};

TEST_F(QuarantineMeshCli, ListShowsEachAccountsHeldMessages) {
  hold("carol@example.com", "EAAA-HELD2", "other@partner.net", "{}");
  auto r = runMeshgate({"quarantine", "mesh", "list", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("EAAA-HELD1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("to=<bob@example.com> from=<stranger@partner.net> contact=quarantined "
                       "rule=ingress.quarantine-unknown"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("to=<carol@example.com> from=<other@partner.net>"), std::string::npos);
  EXPECT_NE(r.err.find("2 held Mesh message(s)"), std::string::npos) << r.err;
  auto bob = runMeshgate({"quarantine", "mesh", "list", "--account", "bob@example.com", "--json",
                          "--config", config_});
  EXPECT_EQ(bob.exit_code, 0) << bob.err;
  auto parsed = nlohmann::json::parse(bob.out);  // one line: one message
  EXPECT_EQ(parsed["id"], "EAAA-HELD1");
  EXPECT_EQ(parsed["sender"], "stranger@partner.net");
  EXPECT_EQ(parsed["encrypted"], false);
  // The Postfix hold queue's list is another list.
  auto postfix = runMeshgate({"quarantine", "list", "--config", config_});
  EXPECT_EQ(postfix.out.find("EAAA-HELD1"), std::string::npos) << postfix.out;
}

TEST_F(QuarantineMeshCli, ShowPrintsTheContentWithoutTerminalControls) {
  auto r = runMeshgate({"quarantine", "mesh", "show", "EAAA-HELD1", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("account:  bob@example.com"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule:     ingress.quarantine-unknown"), std::string::npos);
  EXPECT_NE(r.out.find("\"Subject\":\"hello"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "an escape reached the terminal";
  EXPECT_NE(r.out.find("?[31m"), std::string::npos) << r.out;
}

TEST_F(QuarantineMeshCli, ReleaseMovesItToInboundOnceAndAudits) {
  auto r = runMeshgate({"quarantine", "mesh", "release", "EAAA-HELD1", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("EAAA-HELD1: released (to=<bob@example.com>"), std::string::npos) << r.out;
  EXPECT_FALSE(inCatalog("bob@example.com", meshsvc::kHeldCatalog, "EAAA-HELD1"));
  auto inbound = store_->getEntry("bob@example.com", meshsvc::kInboundCatalog, "EAAA-HELD1");
  ASSERT_TRUE(inbound.ok()) << inbound.status().toString();
  EXPECT_EQ(inbound->data, held_.data);  // what mesh_to_smtp and the devices read, unchanged
  auto again = runMeshgate({"quarantine", "mesh", "release", "EAAA-HELD1", "--config", config_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no held Mesh message EAAA-HELD1"), std::string::npos) << again.err;
  auto audit = runMeshgate({"audit", "show", "--action", "release", "--config", config_});
  EXPECT_NE(audit.out.find("rule=quarantine.mesh-release"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("stranger@partner.net"), std::string::npos) << audit.out;
}

TEST_F(QuarantineMeshCli, AReleaseThatStoppedHalfWayIsFinishedNotDoubled) {
  // In both catalogs: the earlier release wrote inbound and then failed to remove held.
  CatalogEntry copy = held_;
  copy.catalog = std::string(meshsvc::kInboundCatalog);
  ASSERT_TRUE(store_->putEntry(copy, std::nullopt).ok());
  auto r = runMeshgate({"quarantine", "mesh", "release", "EAAA-HELD1", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(inCatalog("bob@example.com", meshsvc::kHeldCatalog, "EAAA-HELD1"));
  EXPECT_TRUE(inCatalog("bob@example.com", meshsvc::kInboundCatalog, "EAAA-HELD1"));
  // A different envelope under the same id in inbound is not overwritten; the held one stays.
  CatalogEntry other = hold("carol@example.com", "EAAA-SAME", "x@partner.net", "{}");
  other.catalog = std::string(meshsvc::kInboundCatalog);
  other.data = nlohmann::json{{"Digest", "another"}}.dump();
  ASSERT_TRUE(store_->putEntry(other, std::nullopt).ok());
  auto clash = runMeshgate({"quarantine", "mesh", "release", "EAAA-SAME", "--config", config_});
  EXPECT_EQ(clash.exit_code, 1);
  EXPECT_NE(clash.err.find("already has another envelope EAAA-SAME"), std::string::npos)
      << clash.err;
  EXPECT_TRUE(inCatalog("carol@example.com", meshsvc::kHeldCatalog, "EAAA-SAME"));
  EXPECT_EQ(store_->getEntry("carol@example.com", meshsvc::kInboundCatalog, "EAAA-SAME")->data,
            other.data);
  // Recorded before it was tried, and its failure after.
  auto audit = runMeshgate({"audit", "show", "--config", config_});
  const size_t tried = audit.out.find("rule=quarantine.mesh-release ");
  const size_t failed = audit.out.find("rule=quarantine.mesh-release-failed");
  EXPECT_NE(failed, std::string::npos) << audit.out;
  EXPECT_LT(tried, failed) << audit.out;
}

TEST_F(QuarantineMeshCli, NothingChangesWhenTheAuditLogCannotBeWritten) {
  refuseAuditRecords();
  for (const char* action : {"release", "delete"}) {
    auto r = runMeshgate({"quarantine", "mesh", action, "EAAA-HELD1", "--config", config_});
    EXPECT_EQ(r.exit_code, 1) << action;
    EXPECT_NE(r.err.find("audit log; nothing was changed"), std::string::npos) << r.err;
    EXPECT_TRUE(inCatalog("bob@example.com", meshsvc::kHeldCatalog, "EAAA-HELD1")) << action;
    EXPECT_FALSE(inCatalog("bob@example.com", meshsvc::kInboundCatalog, "EAAA-HELD1")) << action;
  }
}

TEST_F(QuarantineMeshCli, DeleteRemovesItAndAnAmbiguousIdNeedsTheAccount) {
  hold("carol@example.com", "EAAA-HELD1", "other@partner.net", "{}");
  auto ambiguous = runMeshgate({"quarantine", "mesh", "delete", "EAAA-HELD1", "--config", config_});
  EXPECT_EQ(ambiguous.exit_code, 1);
  EXPECT_NE(ambiguous.err.find("say which with --account"), std::string::npos) << ambiguous.err;
  EXPECT_TRUE(inCatalog("bob@example.com", meshsvc::kHeldCatalog, "EAAA-HELD1"));
  auto r = runMeshgate({"quarantine", "mesh", "delete", "EAAA-HELD1", "--account",
                        "Carol@Example.com", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(inCatalog("carol@example.com", meshsvc::kHeldCatalog, "EAAA-HELD1"));
  EXPECT_FALSE(inCatalog("carol@example.com", meshsvc::kInboundCatalog, "EAAA-HELD1"));
  EXPECT_TRUE(inCatalog("bob@example.com", meshsvc::kHeldCatalog, "EAAA-HELD1"));
  auto audit = runMeshgate({"audit", "show", "--action", "delete", "--config", config_});
  EXPECT_NE(audit.out.find("rule=quarantine.mesh-delete"), std::string::npos) << audit.out;
  for (const char* id : {"EAAA HELD1", "", "EAAA-\x01"}) {
    auto bad = runMeshgate({"quarantine", "mesh", "delete", id, "--config", config_});
    EXPECT_EQ(bad.exit_code, 2) << id;
  }
  EXPECT_TRUE(inCatalog("bob@example.com", meshsvc::kHeldCatalog, "EAAA-HELD1"));
}

}  // namespace
}  // namespace meshgate
