// Started as root with gateway.user set, meshgate opens its sockets and keys, hands its data
// folder to the user, drops to it for good, and keeps serving (writing to the store).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/background_process.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

TEST(Privileges, DropsToTheConfiguredUserAndKeepsServing) {
  if (geteuid() != 0) GTEST_SKIP() << "NOT RUN: needs root (CI runs as root)";
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  testing::TempDir dir;
  chmod(dir.path().c_str(), 0755);
  std::string data = dir.file("var");
  int port = testing::freeTcpPort();
  dir.write("m.yaml", "gateway:\n  domains: [example.com]\n  user: nobody\n  data_dir: " + data +
                          "\n  key_file: " + data + "/keys/gateway.key\nstore:\n  sqlite:\n    path: " +
                          data + "/store.db\nmilter:\n  socket: unix:" + data +
                          "/run/milter.sock\nmesh_service:\n  enabled: false\npolicyd:\n  listen: "
                          "127.0.0.1:" + std::to_string(port) + "\n");
  testing::BackgroundProcess p({MESHGATE_BINARY, "run", "--config", dir.file("m.yaml"), "--foreground"});
  ASSERT_TRUE(p.waitForOutput("meshgate ready")) << p.output();
  EXPECT_NE(p.output().find("running as user nobody"), std::string::npos);

  std::ifstream status("/proc/" + std::to_string(p.pid()) + "/status");
  std::string line, uid_line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) uid_line = line;
  }
  std::string u = std::to_string(nobody->pw_uid);
  EXPECT_EQ(uid_line, "Uid:\t" + u + "\t" + u + "\t" + u + "\t" + u) << uid_line;

  struct stat st {};
  ASSERT_EQ(stat((data + "/store.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);
  ASSERT_EQ(stat((data + "/run/milter.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  // A request that writes (the rate-limit counter) still works after the drop.
  int fd = testing::connectTcp(port);
  ASSERT_GE(fd, 0);
  testing::sendAll(fd, "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b.example\n"
                       "recipient=c@elsewhere.net\nclient_address=192.0.2.9\ninstance=1\n\n");
  EXPECT_EQ(testing::readUntil(fd, "\n\n"), "action=DUNNO\n\n") << p.output();
  close(fd);
}

TEST(Privileges, UnknownUserIsAStartupError) {
  if (geteuid() != 0) GTEST_SKIP() << "NOT RUN: needs root (CI runs as root)";
  testing::TempDir dir;
  int port = testing::freeTcpPort();
  dir.write("m.yaml", "gateway:\n  domains: [example.com]\n  user: no-such-user-xyz\n  data_dir: " +
                          dir.path() + "\n  key_file: " + dir.file("k/g.key") +
                          "\nstore:\n  sqlite:\n    path: " + dir.file("s.db") +
                          "\nmilter:\n  enabled: false\nmesh_service:\n  enabled: false\npolicyd:\n"
                          "  listen: 127.0.0.1:" + std::to_string(port) + "\n");
  auto r = testing::runMeshgate({"run", "--config", dir.file("m.yaml"), "--foreground"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("gateway.user: no such user \"no-such-user-xyz\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace meshgate
