// smtp_sink_test.cc - Mesh Messages rendered, then delivered with deliverOnce to a real Postfix
// smtp-sink on loopback (which dumps each transaction to a file): every type arrives, a retry
// of the same envelope does not arrive twice. Skipped when not root or smtp-sink is missing
// (scripts/deps --test installs Postfix).
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "adapters/mesh_mail.h"
#include "adapters/smtp_delivery.h"
#include "policy/store/sqlite_store.h"
#include "tests/support/background_process.h"

namespace meshgate::adapters {
namespace {

namespace fs = std::filesystem;
namespace model = mesh::model;
using namespace std::chrono_literals;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SmtpSink, EveryTypeArrivesOnceThroughARealSmtpServer) {
  const char* sink_bin = "/usr/sbin/smtp-sink";
  struct passwd* postfix = ::getpwnam("postfix");
  if (::geteuid() != 0 || !fs::exists(sink_bin) || !postfix) {
    GTEST_SKIP() << "needs root and Postfix's smtp-sink (scripts/deps --test)";
  }
  fs::path dir = fs::temp_directory_path() / ("mg-sink-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "dump");
  ASSERT_EQ(::chown((dir / "dump").c_str(), postfix->pw_uid, postfix->pw_gid), 0);
  int port = testing::freeTcpPort();
  testing::BackgroundProcess sink({sink_bin, "-u", "postfix", "-d", (dir / "dump" / "%M%S.").string(),
                                   "127.0.0.1:" + std::to_string(port), "16"});
  int fd = testing::connectTcp(port, 10000);
  ASSERT_GE(fd, 0) << "smtp-sink does not listen: " << sink.output();
  ::close(fd);

  auto store = store::openSqliteStore({.path = (dir / "store.db").string(), .busy_timeout = 2000ms});
  ASSERT_TRUE(store.ok());
  auto key = mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  ASSERT_TRUE(key.ok());
  SmtpOptions options;
  options.port = static_cast<uint16_t>(port);
  options.helo = "mx.example.com";
  options.timeout = 10000ms;
  SmtpClientSubmitter smtp(options);

  model::RequestContact rc;
  rc.sender = "bob@example.net";
  rc.subject = "hello";
  model::MessageError err;
  err.error_code = "NotAuthorized";
  model::MessageMail mail;
  std::string body = "From: bob@example.net\r\nSubject: carried\r\n\r\n.leading dot\r\nend\r\n";
  mail.body = Bytes(body.begin(), body.end());
  std::vector<model::AnyMessage> messages = {model::AnyMessage(rc), model::AnyMessage(err),
                                             model::AnyMessage(mail)};
  int n = 0;
  for (const auto& m : messages) {
    MeshMailContext ctx;
    ctx.recipient = "alice@example.com";
    ctx.envelope_id = "MENV-" + std::to_string(++n) + "AAA-BBBB";
    ctx.gateway_node = "mx.example.com";
    ctx.now = 1'800'000'000;
    auto rendered = renderMeshMessage(m, ctx, *key);
    ASSERT_TRUE(rendered.ok()) << rendered.status().toString();
    auto first = deliverOnce(**store, smtp, *rendered, 1000);
    ASSERT_TRUE(first.ok()) << first.status().toString();
    EXPECT_EQ(*first, DeliveryOutcome::kDelivered);
    auto retry = deliverOnce(**store, smtp, *rendered, 2000);
    ASSERT_TRUE(retry.ok());
    EXPECT_EQ(*retry, DeliveryOutcome::kAlreadyDelivered);
  }
  // smtp-sink writes each transaction when it ends; wait for all three.
  std::vector<std::string> dumps;
  for (int i = 0; i < 100 && dumps.size() < messages.size(); ++i) {
    dumps.clear();
    for (const auto& e : fs::directory_iterator(dir / "dump")) dumps.push_back(readFile(e.path()));
    if (dumps.size() < messages.size()) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(dumps.size(), messages.size()) << "one transaction per envelope, no duplicate";
  std::string all;
  for (const auto& d : dumps) all += d;
  for (int i = 1; i <= n; ++i) {
    EXPECT_NE(all.find("Mesh-Envelope-Id: MENV-" + std::to_string(i) + "AAA-BBBB"), std::string::npos);
  }
  EXPECT_NE(all.find("Mesh-Message-Type: RequestContact"), std::string::npos);
  EXPECT_NE(all.find("Mesh-Message-Type: MessageError"), std::string::npos);
  EXPECT_NE(all.find("Subject: carried"), std::string::npos);
  EXPECT_NE(all.find("\n.leading dot"), std::string::npos);  // dot-stuffing undone by the server
  EXPECT_NE(all.find("Mesh-Security-Signal: v=1;"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace meshgate::adapters
