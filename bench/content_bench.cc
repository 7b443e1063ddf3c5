// NAME
//   content_bench - the cost of the content checks against the cost of parsing the message.
//
// SYNOPSIS
//   content_bench [--seconds S] [--only LINE]
//
// DESCRIPTION
//   One typical business message of about 20 KB: multipart/mixed with a multipart/alternative
//   (text/plain and text/html, quoted reply history, a signature and a disclaimer, German and
//   English) and a base64 PDF attachment. For each configuration the program measures, in
//   interleaved rounds (so drift on a shared machine hits every line alike, best round kept):
//     parse      mail::parseMessage alone: the baseline, what the milter pays anyway
//     <filter>   that one filter on a message parsed once (its own cost)
//     parse+in   parse + payment + impersonation (the inbound chain's content checks)
//     parse+out  parse + egress (8 rules, 2 labels) + too-stupid (every check on; the sender
//                has written to 51 domains)
//     parse+all  parse + the four filters (a message is inbound or outbound, never both:
//                this is an upper bound)
//   and prints messages/s, microseconds per message and the ratio to parse.
//
//   The store is an in-memory fake: store latency is store_bench's subject, not this one's;
//   the name cache means impersonation asks the store once per TTL anyway.
//
// THREAD SAFETY
//   Single-threaded program.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config_loader.h"
#include "gateway/mail/mime.h"
#include "gateway/policy/egress_filter.h"
#include "gateway/policy/impersonation_filter.h"
#include "gateway/policy/payment_filter.h"
#include "gateway/policy/too_stupid_filter.h"

namespace {

using namespace meshgate;
using Steady = std::chrono::steady_clock;

constexpr int kRounds = 7;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "content_bench: %s\n", what.c_str());
  std::exit(1);
}

// Only what the filters call is real; the rest is never reached.
class FakeStore : public Store {
 public:
  FakeStore() {
    for (int i = 0; i < 200; ++i) {
      AccountRecord a;
      a.address = "user" + std::to_string(i) + "@example.com";
      a.display_name = "User Number" + std::to_string(i);
      accounts_.push_back(a);
    }
    for (int i = 0; i < 50; ++i) domains_.push_back("customer" + std::to_string(i) + ".example");
    domains_.push_back("partner.example");
  }
  Status ping() override { return Status(); }
  Result<std::string> checkIntegrity() override { return std::string("fake"); }
  Status createAccount(const AccountRecord&) override { return unused(); }
  Result<AccountRecord> getAccount(std::string_view) override { return notFound("none"); }
  Status updateAccount(const AccountRecord&, const AccountRecord&) override { return unused(); }
  Status deleteAccount(std::string_view) override { return unused(); }
  Result<std::vector<AccountRecord>> listAccounts() override { return accounts_; }
  Result<int64_t> putEntry(const CatalogEntry&,
                           const std::optional<std::vector<ContactMatch>>&) override {
    return int64_t{1};
  }
  Result<CatalogEntry> getEntry(std::string_view, std::string_view, std::string_view) override {
    return notFound("none");
  }
  Status deleteEntry(std::string_view, std::string_view, std::string_view) override {
    return unused();
  }
  Result<int64_t> moveEntry(std::string_view, std::string_view, std::string_view, std::string_view,
                            int64_t, int64_t) override {
    return unused();
  }
  Result<int64_t> countEntries(std::string_view, std::string_view, int64_t) override {
    return unused();
  }
  Result<Page<CatalogEntry>> listEntries(std::string_view account, std::string_view catalog,
                                         const EntryQuery&) override {
    Page<CatalogEntry> page;
    for (const auto& d : domains_) {
      page.items.push_back(CatalogEntry{std::string(account), std::string(catalog), d, "{}", 0, 0});
    }
    return page;
  }
  Result<std::optional<ContactMatch>> findContact(std::string_view,
                                                  const std::vector<std::string>&) override {
    return std::optional<ContactMatch>();
  }
  Result<int64_t> addToCounter(std::string_view, int64_t, int64_t, int64_t) override {
    return int64_t{1};
  }
  Result<bool> rememberNonce(std::string_view, int64_t, int64_t) override { return true; }
  Result<AuditRecord> appendAudit(const AuditRecord& r) override { return r; }
  Result<std::vector<AuditRecord>> appendAudits(const std::vector<AuditRecord>& r) override {
    return r;
  }
  Result<std::vector<AuditRecord>> readAudit(int64_t, int) override {
    return std::vector<AuditRecord>();
  }
  Status putCheckpoint(const AuditCheckpoint&) override { return unused(); }
  Result<std::optional<AuditCheckpoint>> latestCheckpoint() override {
    return std::optional<AuditCheckpoint>();
  }
  Status putQuarantine(const QuarantineRecord&) override { return unused(); }
  Result<QuarantineRecord> getQuarantine(std::string_view) override { return notFound("none"); }
  Status confirmQuarantine(std::string_view, std::string_view, int64_t) override {
    return unused();
  }
  Result<bool> changeQuarantineState(std::string_view, std::string_view,
                                     std::string_view) override {
    return unused();
  }
  Result<std::vector<QuarantineRecord>> listQuarantine(std::string_view) override {
    return std::vector<QuarantineRecord>();
  }
  Result<bool> claimOnce(std::string_view, int64_t) override { return true; }

 private:
  static Status unused() { return internalError("not used by the benchmark"); }
  std::vector<AccountRecord> accounts_;
  std::vector<std::string> domains_;
};

class FixedClock : public meshgate::Clock {
 public:
  int64_t now() const override { return 1'800'000'000; }
};

std::string paragraph(int i) {
  static const char* kSentences[] = {
      "Thank you for the meeting on Tuesday; the minutes are below and the open points are "
      "listed at the end. ",
      "We agreed that the pilot starts in the second week of next month with two teams. ",
      "Vielen Dank für die schnelle Rückmeldung, wir melden uns bis Freitag mit dem Angebot. ",
      "Please check the figures in section three, the totals do not add up for the second "
      "quarter. ",
      "The delivery address stays the same, only the contact person changes from April. ",
      "Können Sie uns bitte die aktualisierte Version der Präsentation schicken? ",
  };
  std::string p;
  for (int k = 0; k < 5; ++k) p += kSentences[(i + k) % 6];
  return p;
}

std::string htmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
  return out;
}

// About 20 KB on the wire.
std::string typicalMessage() {
  std::string plain = "Hi Bob,\n\n";
  for (int i = 0; i < 6; ++i) plain += paragraph(i) + "\n\n";
  plain += "Best regards\nAlice\n-- \nAlice Example | Example Corp | +49 30 1234567\n\n";
  plain += "On Mon, 3 Jun 2024 at 10:12, Bob <bob@partner.example> wrote:\n";
  for (int i = 0; i < 6; ++i) plain += "> " + paragraph(i + 3) + "\n>\n";
  plain += "\nThis e-mail and any attachments are confidential and intended solely for the "
           "addressee. If you have received this e-mail in error, please delete it.\n";
  std::string html = "<html><body><div>";
  for (const auto& line : {plain}) html += "<p>" + htmlEscape(line) + "</p>";
  html += "</div></body></html>";
  std::string pdf_b64;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  pdf_b64 = "JVBERi0xLjcK";  // "%PDF-1.7\n"
  for (int i = 0; i < 4000; ++i) {
    pdf_b64 += alphabet[(i * 7) % 64];
    if (i % 76 == 75) pdf_b64 += "\r\n";
  }
  std::string m =
      "Received: from mail.partner.example (mail.partner.example [198.51.100.7])\r\n"
      "\tby mx1.example.com (Postfix) with ESMTPS id 4ABCD1234\r\n"
      "From: Alice Example <alice@example.com>\r\n"
      "To: Bob <bob@partner.example>, Carol <carol@customer7.example>\r\n"
      "Cc: Dave <dave@example.com>\r\n"
      "Subject: Re: Pilot planning and =?utf-8?q?n=C3=A4chste?= Schritte\r\n"
      "Date: Mon, 3 Jun 2024 11:02:13 +0200\r\n"
      "Message-ID: <20240603090213.GA1234@example.com>\r\n"
      "In-Reply-To: <abc@partner.example>\r\n"
      "References: <abc@partner.example>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
      "--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
      "--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  for (char c : plain) m += c == '\n' ? std::string("\r\n") : std::string(1, c);
  m += "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n" +
       html + "\r\n--alt--\r\n";
  m += "--outer\r\nContent-Type: application/pdf; name=\"minutes.pdf\"\r\n"
       "Content-Disposition: attachment; filename=\"minutes.pdf\"\r\n"
       "Content-Transfer-Encoding: base64\r\n\r\n" +
       pdf_b64 + "\r\n--outer--\r\n";
  return m;
}

constexpr const char* kEgress =
    "egress:\n  groups:\n    board: [ceo@example.com, cfo@example.com]\n"
    "    rivals: [rival.example, other-rival.example]\n"
    "  labels:\n"
    "    - name: secret\n      msip_label_ids: [3f4c9a2e-6b1d-4e8f-9c2a-5d7e1f0b8a61]\n"
    "      sio_markings: [SECRET]\n      header_name: X-Classification\n"
    "      header_values: [secret]\n      subject_markers: [\"[SECRET]\"]\n"
    "    - name: confidential\n      sensitivity: [company-confidential]\n"
    "      subject_markers: [\"[CONFIDENTIAL]\"]\n"
    "  rules:\n"
    "    - {name: secret-inside, match: {labels: [secret], recipient_scope: external}, action: reject}\n"
    "    - {name: rivals, match: {recipient_group: [rivals]}, action: reject}\n"
    "    - {name: conf, match: {labels: [confidential], recipient_scope: external}, action: require-encryption, else: hold}\n"
    "    - {name: exe, match: {attachment_types: [exe, elf, macho, script, lnk, jar], recipient_scope: external}, action: reject}\n"
    "    - {name: archives, match: {attachment_types: [zip, rar, 7z], recipient_scope: external}, action: hold}\n"
    "    - {name: big, match: {attachments_total_larger_than: 25M}, action: hold}\n"
    "    - {name: board, match: {sender_group: [board], recipient_scope: external}, action: hold}\n"
    "    - {name: mass, match: {min_external_recipients: 50}, action: hold}\n";

struct Line {
  const char* name;
  std::function<void()> op;
  double best = 0;  // messages per second
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.4;
  std::string only;  // run one line (for profiling)
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      die("usage: content_bench [--seconds S] [--only LINE]");
    }
  }
  auto loaded = config::loadConfigString(
      std::string("gateway:\n  node: mx1.example.com\n  domains: [example.com]\n") + kEgress +
          "impersonation:\n  protected_domains: [example-bank.com, example.net]\n"
          "  protected_names: [\"Example Corp\", \"Example Helpdesk\"]\n",
      "bench.yaml");
  if (!loaded.ok()) die(loaded.errors[0]);
  std::shared_ptr<const config::Config> config = loaded.config;
  FakeStore store;
  FixedClock clock;
  policy::PaymentFilter payment(config);
  policy::ImpersonationFilter impersonation(config, store, clock);
  policy::EgressFilter egress(config);
  policy::TooStupidFilter too_stupid(config, store, clock);

  const std::string message = typicalMessage();
  const std::vector<std::string> recipients = {"bob@partner.example", "carol@customer7.example",
                                               "dave@example.com"};
  size_t sink = 0;

  auto inbound = [&](const mail::MessageView& view) {
    policy::MessageRequest req;
    req.direction = policy::Direction::kInbound;
    req.sender = "bob@partner.example";
    req.content = &view;
    policy::Decision d;
    policy::RecipientDecision r;
    r.recipient = "dave@example.com";
    r.contact = policy::ContactStatus::kFirstContact;
    d.recipients.push_back(r);
    if (!payment.onMessage(req, d).ok() || !impersonation.onMessage(req, d).ok()) die("inbound");
    sink += d.checks.size();
  };
  auto outbound = [&](const mail::MessageView& view) {
    policy::MessageRequest req;
    req.direction = policy::Direction::kOutbound;
    req.sender = "alice@example.com";
    req.recipients = recipients;
    req.content = &view;
    req.size = static_cast<int64_t>(message.size());
    policy::Decision d;
    for (const auto& rc : recipients) {
      policy::RecipientDecision r;
      r.recipient = rc;
      d.recipients.push_back(r);
    }
    if (!egress.onMessage(req, d).ok() || !too_stupid.onMessage(req, d).ok()) die("outbound");
    sink += d.checks.size() + d.header_edits.size();
  };

  // One filter on a message parsed once: the filter's own cost.
  const mail::MessageView parsed = mail::parseMessage(message);
  auto one = [&](policy::Filter& f, policy::Direction direction) {
    policy::MessageRequest req;
    req.direction = direction;
    req.sender = direction == policy::Direction::kInbound ? "bob@partner.example"
                                                          : "alice@example.com";
    req.recipients = recipients;
    req.content = &parsed;
    req.size = static_cast<int64_t>(message.size());
    policy::Decision d;
    for (const auto& rc : recipients) {
      policy::RecipientDecision r;
      r.recipient = rc;
      r.contact = policy::ContactStatus::kFirstContact;
      d.recipients.push_back(r);
    }
    if (!f.onMessage(req, d).ok()) die("filter");
    sink += d.checks.size();
  };
  std::vector<Line> lines = {
      {"parse", [&] { sink += mail::parseMessage(message).textParts().size(); }},
      {"payment", [&] { one(payment, policy::Direction::kInbound); }},
      {"imperson.", [&] { one(impersonation, policy::Direction::kInbound); }},
      {"egress", [&] { one(egress, policy::Direction::kOutbound); }},
      {"too-stupid", [&] { one(too_stupid, policy::Direction::kOutbound); }},
      {"parse+in", [&] { inbound(mail::parseMessage(message)); }},
      {"parse+out", [&] { outbound(mail::parseMessage(message)); }},
      {"parse+all",
       [&] {
         mail::MessageView view = mail::parseMessage(message);
         inbound(view);
         outbound(view);
       }},
  };
  for (int round = 0; round < kRounds; ++round) {
    for (auto& line : lines) {
      if (!only.empty() && only != line.name && std::strcmp(line.name, "parse") != 0) continue;
      long n = 0;
      const auto start = Steady::now();
      double elapsed = 0;
      while (elapsed < seconds) {
        for (int k = 0; k < 16; ++k) line.op();
        n += 16;
        elapsed = std::chrono::duration<double>(Steady::now() - start).count();
      }
      line.best = std::max(line.best, static_cast<double>(n) / elapsed);
    }
  }
  std::printf("message: %zu bytes; best of %d rounds of %.1fs each (checksum %zu)\n",
              message.size(), kRounds, seconds, sink % 10);
  std::printf("%-12s %12s %12s %10s\n", "line", "msgs/s", "us/msg", "vs parse");
  for (const auto& line : lines) {
    if (line.best == 0) continue;
    std::printf("%-12s %12.0f %12.1f %10.2f\n", line.name, line.best, 1e6 / line.best,
                lines[0].best / line.best);
  }
  return 0;
}
