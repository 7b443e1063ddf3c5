// The real `meshgate policyd` over a real socket with a real SQLite store: protocol behaviour,
// decisions, limits, and SIGHUP reload (valid file applied, invalid file rejected).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/background_process.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

using testing::BackgroundProcess;
using testing::TempDir;

std::string configYaml(const TempDir& dir, int port, const std::string& ingress_default) {
  return "gateway:\n  domains: [example.com]\n  data_dir: " + dir.path() +
         "\nstore:\n  sqlite:\n    path: " + dir.file("store.db") +
         "\nmilter:\n  enabled: false\nmesh_service:\n  enabled: false\npolicyd:\n  listen: "
         "127.0.0.1:" + std::to_string(port) +
         "\n  max_request_bytes: 4k\n  max_connections: 4\ningress:\n  default: " +
         ingress_default + "\n  unlisted_recipients: default-policy\nabuse:\n  limits:\n"
         "    - {name: per-client, key: client_address, window: 1h, max: 3, action: tempfail}\n";
}

std::string rcpt(const std::string& sender, const std::string& recipient,
                 const std::string& instance, const std::string& client = "192.0.2.1") {
  return "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nsender=" +
         sender + "\nrecipient=" + recipient + "\nclient_address=" + client +
         "\nclient_name=unknown\nhelo_name=mx.example.org\ninstance=" + instance +
         "\nfuture_attribute=ignored\n\n";
}

class PolicydServer : public ::testing::Test {
 protected:
  void start(const std::string& ingress_default) {
    port_ = testing::freeTcpPort();
    dir_.write("meshgate.yaml", configYaml(dir_, port_, ingress_default));
    server_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        MESHGATE_BINARY, "policyd", "--config", dir_.file("meshgate.yaml"), "--foreground"});
    ASSERT_TRUE(server_->waitForOutput("policyd: started")) << server_->output();
  }
  std::string ask(int fd, const std::string& request) {
    if (!testing::sendAll(fd, request)) return "(send failed)";
    return testing::readUntil(fd, "\n\n");
  }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> server_;
};

TEST_F(PolicydServer, ManyRequestsOnOnePersistentConnection) {
  start("contacts-only");
  int fd = testing::connectTcp(port_);
  ASSERT_GE(fd, 0);
  // A stranger to a contacts-only (unlisted, default-policy) recipient: refused before DATA.
  EXPECT_EQ(ask(fd, rcpt("mallory@evil.example", "bob@example.com", "A1")),
            "action=550 5.7.1 <bob@example.com> accepts mail only from its contacts; ask the "
            "recipient to add you, or send a Mesh contact request (see "
            "https://mmm.example.com/)\n\n");
  // Mail to another domain is not subject to ingress control.
  EXPECT_EQ(ask(fd, rcpt("mallory@evil.example", "x@elsewhere.net", "A2")), "action=DUNNO\n\n");
  // Other protocol states: DUNNO.
  EXPECT_EQ(ask(fd, "request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\ninstance=A2\n"
                    "recipient_count=1\nsize=100\n\n"),
            "action=DUNNO\n\n");
  EXPECT_EQ(ask(fd, "request=smtpd_access_policy\nprotocol_state=CONNECT\n\n"), "action=DUNNO\n\n");
  close(fd);
  EXPECT_TRUE(server_->waitForOutput(
      "NOQUEUE: policyd: from=<mallory@evil.example> to=<bob@example.com> client=192.0.2.1 "
      "action=reject rule=ingress.contacts-only contact=first-contact"))
      << server_->output();
}

TEST_F(PolicydServer, RateLimitCountsMessagesNotRecipients) {
  start("tag-unknown");
  int fd = testing::connectTcp(port_);
  ASSERT_GE(fd, 0);
  // One message to three recipients counts once.
  for (const char* r : {"a@example.com", "b@example.com", "c@example.com"}) {
    EXPECT_EQ(ask(fd, rcpt("s@example.org", r, "M1")), "action=DUNNO\n\n");
  }
  EXPECT_EQ(ask(fd, rcpt("s@example.org", "a@example.com", "M2")), "action=DUNNO\n\n");
  EXPECT_EQ(ask(fd, rcpt("s@example.org", "a@example.com", "M3")), "action=DUNNO\n\n");
  EXPECT_EQ(ask(fd, rcpt("s@example.org", "a@example.com", "M4")),
            "action=451 4.7.1 too much mail from you; try again later (per-client)\n\n");
  close(fd);
}

TEST_F(PolicydServer, MalformedRequestClosesWithoutReply) {
  start("tag-unknown");
  int fd = testing::connectTcp(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ask(fd, "request=smtpd_access_policy\nthis line has no equals sign\n\n"), "");
  close(fd);
  EXPECT_TRUE(server_->waitForOutput("bad request: line 2: expected name=value; closing without reply"));
}

TEST_F(PolicydServer, OversizedAttributeClosesWithoutReply) {
  start("tag-unknown");
  int fd = testing::connectTcp(port_);
  ASSERT_GE(fd, 0);
  std::string huge = "request=smtpd_access_policy\nsender=" + std::string(1024 * 1024, 'x') + "\n\n";
  testing::sendAll(fd, huge);  // the server may close mid-way
  EXPECT_EQ(testing::readUntil(fd, "\n\n"), "");
  close(fd);
  EXPECT_TRUE(server_->waitForOutput("policy request larger than 4096 bytes"));
  // The server is still serving.
  int fd2 = testing::connectTcp(port_);
  EXPECT_EQ(ask(fd2, rcpt("a@example.org", "x@elsewhere.net", "Z")), "action=DUNNO\n\n");
  close(fd2);
}

TEST_F(PolicydServer, RequestWithoutTerminatingEmptyLineGetsNoReply) {
  start("tag-unknown");
  int fd = testing::connectTcp(port_);
  ASSERT_GE(fd, 0);
  testing::sendAll(fd, "request=smtpd_access_policy\nprotocol_state=RCPT\n");
  EXPECT_EQ(testing::readUntil(fd, "\n\n", 500), "");
  // Completing it later gets the answer on the same connection.
  EXPECT_EQ(ask(fd, "recipient=x@elsewhere.net\n\n"), "action=DUNNO\n\n");
  close(fd);
}

TEST_F(PolicydServer, WrongRequestTypeClosesWithoutReply) {
  start("tag-unknown");
  int fd = testing::connectTcp(port_);
  EXPECT_EQ(ask(fd, "request=something_else\n\n"), "");
  close(fd);
  EXPECT_TRUE(server_->waitForOutput("cannot decide: InvalidArgument: request=something_else"));
}

TEST_F(PolicydServer, TooManyConnectionsAreClosed) {
  start("tag-unknown");
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) {
    int fd = testing::connectTcp(port_);
    ASSERT_EQ(ask(fd, rcpt("a@example.org", "x@elsewhere.net", "c" + std::to_string(i),
                           "192.0.2." + std::to_string(10 + i))),
              "action=DUNNO\n\n");
    fds.push_back(fd);
  }
  int extra = testing::connectTcp(port_);
  EXPECT_EQ(ask(extra, rcpt("a@example.org", "x@elsewhere.net", "c9", "192.0.2.99")), "");
  close(extra);
  for (int fd : fds) close(fd);
}

TEST_F(PolicydServer, SighupAppliesAValidFileAndRejectsAnInvalidOne) {
  start("contacts-only");
  int fd = testing::connectTcp(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ask(fd, rcpt("m@evil.example", "bob@example.com", "R1")).substr(0, 17),
            "action=550 5.7.1 ");

  // An invalid file is rejected; the running configuration stays; the connection survives.
  dir_.write("meshgate.yaml", configYaml(dir_, port_, "rejct"));
  size_t mark = server_->outputSize();
  server_->sendSignal(SIGHUP);
  ASSERT_TRUE(server_->waitForOutput("reload rejected: 1 error(s)", 10000, mark)) << server_->output();
  EXPECT_NE(server_->output().find("ingress.default: unknown value \"rejct\""), std::string::npos);
  EXPECT_EQ(ask(fd, rcpt("m@evil.example", "bob@example.com", "R2")).substr(0, 17),
            "action=550 5.7.1 ");

  // A valid file is applied without dropping the connection.
  dir_.write("meshgate.yaml", configYaml(dir_, port_, "tag-unknown"));
  mark = server_->outputSize();
  server_->sendSignal(SIGHUP);
  ASSERT_TRUE(server_->waitForOutput("reload: configuration from", 10000, mark));
  EXPECT_EQ(ask(fd, rcpt("m@evil.example", "bob@example.com", "R3")), "action=DUNNO\n\n");
  close(fd);

  server_->sendSignal(SIGTERM);
  EXPECT_EQ(server_->waitForExit(), 0);
  EXPECT_NE(server_->output().find("received SIGTERM, stopping"), std::string::npos);
}

}  // namespace
}  // namespace meshgate
