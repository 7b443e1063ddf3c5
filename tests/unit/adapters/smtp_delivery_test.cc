// smtp_delivery_test.cc - the SMTP client against a scripted SMTP peer on loopback, and
// deliverOnce's idempotency against a real SQLite store.
#include "adapters/smtp_delivery.h"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "policy/store/sqlite_store.h"

namespace meshgate::adapters {
namespace {

using namespace std::chrono_literals;

RenderedMail sampleMail() {
  RenderedMail m;
  m.recipient = "alice@example.com";
  m.envelope_id = "MDEX-AMPL-EENV";
  m.message_id = "MDEX-AMPL-EENV@mx.example.com";
  m.message_type = "RequestContact";
  m.data = "Subject: hi\r\n\r\nline\r\n.dot line\r\n";
  return m;
}

// A one-connection SMTP peer: answers each command from `replies` (by verb) and records what
// it was sent, including the DATA content as transmitted (still dot-stuffed).
class ScriptedSmtp {
 public:
  explicit ScriptedSmtp(std::map<std::string, std::string> replies)
      : replies_(std::move(replies)), server_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedSmtp() {
    server_.close();
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return server_.address().port(); }
  std::string transcript;
  std::string data;

 private:
  void serve() {
    try {
      Poco::Net::StreamSocket s = server_.acceptConnection();
      s.setReceiveTimeout(Poco::Timespan(5, 0));
      send(s, "220 test ESMTP\r\n");
      std::string buf;
      bool in_data = false;
      char chunk[4096];
      for (;;) {
        int n = s.receiveBytes(chunk, sizeof chunk);
        if (n <= 0) return;
        buf.append(chunk, static_cast<size_t>(n));
        for (;;) {
          if (in_data) {
            auto end = buf.find("\r\n.\r\n");
            if (end == std::string::npos) break;
            data = buf.substr(0, end + 2);
            buf.erase(0, end + 5);
            in_data = false;
            send(s, reply("."));
            continue;
          }
          auto nl = buf.find("\r\n");
          if (nl == std::string::npos) break;
          std::string line = buf.substr(0, nl);
          buf.erase(0, nl + 2);
          transcript += line + "\n";
          std::string verb = line.substr(0, line.find_first_of(" :"));
          std::string r = reply(verb);
          send(s, r);
          if (verb == "DATA" && r.rfind("354", 0) == 0) in_data = true;
          if (verb == "QUIT") return;
        }
      }
    } catch (const Poco::Exception&) {
    }
  }
  std::string reply(const std::string& verb) {
    auto it = replies_.find(verb);
    if (it != replies_.end()) return it->second;
    if (verb == "DATA") return "354 go ahead\r\n";
    if (verb == "QUIT") return "221 bye\r\n";
    return "250 ok\r\n";
  }
  static void send(Poco::Net::StreamSocket& s, const std::string& text) {
    s.sendBytes(text.data(), static_cast<int>(text.size()));
  }

  std::map<std::string, std::string> replies_;
  Poco::Net::ServerSocket server_;
  std::thread thread_;
};

SmtpOptions optionsFor(uint16_t port) {
  SmtpOptions o;
  o.port = port;
  o.helo = "mx.example.com";
  o.timeout = 5000ms;
  return o;
}

TEST(SmtpClient, SubmitsWithTheNullSenderAndDotStuffing) {
  ScriptedSmtp peer(std::map<std::string, std::string>{});
  SmtpClientSubmitter smtp(optionsFor(peer.port()));
  Status st = smtp.submit(sampleMail());
  ASSERT_TRUE(st.ok()) << st.toString();
  EXPECT_NE(peer.transcript.find("EHLO mx.example.com\n"), std::string::npos) << peer.transcript;
  EXPECT_NE(peer.transcript.find("MAIL FROM:<>\n"), std::string::npos);
  EXPECT_NE(peer.transcript.find("RCPT TO:<alice@example.com>\n"), std::string::npos);
  EXPECT_EQ(peer.data, "Subject: hi\r\n\r\nline\r\n..dot line\r\n");
}

TEST(SmtpClient, ReplyClassesMapToOneTable) {
  struct Case {
    std::string verb, reply;
    StatusCode code;
  } cases[] = {
      {"RCPT", "450 4.2.0 mailbox busy\r\n", StatusCode::kUnavailable},
      {"RCPT", "550 5.1.1 no such user\r\n", StatusCode::kPermissionDenied},
      {"MAIL", "421 4.3.2 shutting down\r\n", StatusCode::kUnavailable},
      {".", "554 5.7.1 rejected by policy\r\n", StatusCode::kPermissionDenied},
      {".", "451 4.3.0 try again\r\n", StatusCode::kUnavailable},
  };
  for (const auto& c : cases) {
    ScriptedSmtp peer(std::map<std::string, std::string>{{c.verb, c.reply}});
    SmtpClientSubmitter smtp(optionsFor(peer.port()));
    Status st = smtp.submit(sampleMail());
    EXPECT_EQ(st.code(), c.code) << c.verb << " " << c.reply << " -> " << st.toString();
  }
}

TEST(SmtpClient, NoServerIsUnavailable) {
  uint16_t port;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }
  SmtpClientSubmitter smtp(optionsFor(port));
  EXPECT_EQ(smtp.submit(sampleMail()).code(), StatusCode::kUnavailable);
}

class CountingSubmitter : public SmtpSubmitter {
 public:
  Status submit(const RenderedMail&) override {
    ++calls;
    return next;
  }
  int calls = 0;
  Status next;
};

class DeliverOnce : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mg-deliver-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = store::openSqliteStore({.path = (dir_ / "store.db").string(), .busy_timeout = 2000ms});
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(DeliverOnce, ARetryAfterDeliveryDoesNotSendAgain) {
  CountingSubmitter smtp;
  auto first = deliverOnce(*store_, smtp, sampleMail(), 1000);
  ASSERT_TRUE(first.ok()) << first.status().toString();
  EXPECT_EQ(*first, DeliveryOutcome::kDelivered);
  auto again = deliverOnce(*store_, smtp, sampleMail(), 5000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, DeliveryOutcome::kAlreadyDelivered);
  EXPECT_EQ(smtp.calls, 1);
  auto record = store_->getEntry("", kDeliveredCatalog, "MDEX-AMPL-EENV/alice@example.com");
  ASSERT_TRUE(record.ok());
  EXPECT_NE(record->data.find("\"MessageId\":\"MDEX-AMPL-EENV@mx.example.com\""), std::string::npos);
  // Another recipient of the same envelope is its own delivery.
  RenderedMail bob = sampleMail();
  bob.recipient = "bob@example.com";
  EXPECT_EQ(*deliverOnce(*store_, smtp, bob, 5000), DeliveryOutcome::kDelivered);
  EXPECT_EQ(smtp.calls, 2);
}

TEST_F(DeliverOnce, AFailedSubmissionIsNotRecordedAndIsRetried) {
  CountingSubmitter smtp;
  smtp.next = unavailable("451 try later");
  auto failed = deliverOnce(*store_, smtp, sampleMail(), 1000);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->getEntry("", kDeliveredCatalog, deliveryKey(sampleMail())).status().code(),
            StatusCode::kNotFound);
  smtp.next = Status();
  auto retried = deliverOnce(*store_, smtp, sampleMail(), 1400);  // the next attempt window
  ASSERT_TRUE(retried.ok()) << retried.status().toString();
  EXPECT_EQ(*retried, DeliveryOutcome::kDelivered);
  EXPECT_EQ(smtp.calls, 2);
}

TEST_F(DeliverOnce, AConcurrentAttemptWaits) {
  CountingSubmitter smtp;
  smtp.next = unavailable("deferred");
  // An attempt in this window already claimed the key (e.g. another node, still in flight).
  ASSERT_TRUE(*store_->claimOnce("smtp-attempt:" + deliveryKey(sampleMail()) + ":3", 900));
  auto r = deliverOnce(*store_, smtp, sampleMail(), 1000);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(smtp.calls, 0);
}

TEST_F(DeliverOnce, APermanentRefusalIsReported) {
  CountingSubmitter smtp;
  smtp.next = permissionDenied("550 no such user");
  EXPECT_EQ(deliverOnce(*store_, smtp, sampleMail(), 1000).status().code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace meshgate::adapters
