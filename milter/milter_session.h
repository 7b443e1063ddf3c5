// NAME
//   milter_session.h - one SMTP connection as the milter sees it, without libmilter.
//
// SYNOPSIS
//   MilterSession s(context);                       // per connection (smfi_setpriv)
//   s.onConnect(host, addr); s.onHelo(helo);
//   Step a = s.onMail(sender, macros);              // per message
//   Step b = s.onRecipient(rcpt);
//   s.onHeader(name, value); s.onBody(chunk);
//   EomResult r = s.onEndOfMessage(queue_id);       // actions for the glue to apply
//   s.onAbort();
//
// DESCRIPTION
//   The libmilter callbacks in milter_service.cc forward one to one to these methods (as
//   OpenDKIM's callbacks forward to libopendkim), so the whole message path can be tested with
//   no MTA. The session builds the core MessageRequest, asks the DecisionEngine at MAIL, RCPT and
//   end of message, and returns what to do:
//     - a Step (continue / reject / tempfail / accept / discard) with the SMTP reply, whose code
//       always matches the step (5xx only with reject, 4xx only with tempfail);
//     - at end of message, the header edits in the order the glue must apply them: every
//       incoming copy of Mesh-Security-Signal deleted from the LAST index backwards (indices
//       shift), likewise every Mesh-Brand-Assertion that did not verify against a trusted
//       gateway (outbound: every copy), the Subject tag, egress header edits, our own brand
//       assertion (outbound brand mail) and then the new signal inserted at index 0, and the
//       quarantine reason. A brand sender notice goes to MilterContext::notify.
//   Direction (outbound: {auth_authen}, {daemon_name}, client network) is decided at MAIL by
//   policy::classifyDirection.
//   Errors from the core (store down, timeout) go through ONE table, errorStep(), driven by
//   milter.on_error (tempfail by default); an exception never leaves a method.
//
//   Per-message state is reset by onMail, onAbort and at the end of onEndOfMessage.
//
// SECURITY
//   Everything from the SMTP client is hostile: headers are collected within the mail
//   library's limits, the body is kept only up to milter.max_scan_bytes for analysis, and every
//   value written to the log passes log::sanitize().
//
// THREAD SAFETY
//   One session per connection; libmilter calls a connection's callbacks sequentially.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/smtp_to_mesh.h"
#include "gateway/mail/header.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/engine.h"

namespace meshgate::milter {

// Body bytes all sessions keep at once (milter.max_buffered_bytes), counted across connections:
// each message may keep up to max_scan_bytes (and outbound mail that may go over the Mesh up to
// smtp_to_mesh.max_message_bytes), so without a shared bound many at once could take any
// amount of memory.
class BufferBudget {
 public:
  // Counts n more bytes unless that would pass `limit`; false (nothing counted) if it would.
  bool take(uint64_t n, uint64_t limit) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit || used > limit - n) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void give(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> used_{0};
};

// One message's share of a BufferBudget, given back when the share is replaced or destroyed
// (the message ends, is aborted, or its connection closes).
class BudgetShare {
 public:
  BudgetShare() = default;
  explicit BudgetShare(std::shared_ptr<BufferBudget> budget) : budget_(std::move(budget)) {}
  BudgetShare(const BudgetShare&) = delete;
  BudgetShare& operator=(const BudgetShare&) = delete;
  BudgetShare(BudgetShare&& other) noexcept { *this = std::move(other); }
  BudgetShare& operator=(BudgetShare&& other) noexcept {
    if (this != &other) {
      giveBack();
      budget_ = std::move(other.budget_);
      held_ = other.held_;
      other.held_ = 0;
    }
    return *this;
  }
  ~BudgetShare() { giveBack(); }

  // True when n more bytes may be kept (always, without a budget).
  bool take(uint64_t n, uint64_t limit) {
    if (!budget_) return true;
    if (!budget_->take(n, limit)) return false;
    held_ += n;
    return true;
  }

 private:
  void giveBack() {
    if (budget_ && held_ > 0) budget_->give(held_);
    held_ = 0;
  }
  std::shared_ptr<BufferBudget> budget_;
  uint64_t held_ = 0;
};

// What the gateway shares with every session: the current engine and the signing key.
struct MilterContext {
  std::function<std::shared_ptr<const policy::DecisionEngine>()> engine;
  std::function<std::shared_ptr<const mesh::PrivateKey>()> gateway_key;
  std::function<int64_t()> now;
  std::function<std::string()> nonce;  // random token for signals
  // Appends a decision to the audit log; null = auditing off.
  std::function<Status(const AuditRecord&)> audit;
  // Records a held message's metadata (the message itself stays in the MTA's hold queue).
  std::function<Status(const QuarantineRecord&)> quarantine;
  // Delivers a brand sender notice (brand_filter.h); null = notices are only logged.
  std::function<Status(const policy::SenderNotice&)> notify;
  // SMTP -> Mesh (adapters/smtp_to_mesh.h): posts one recipient's copy, or with
  // `resolve_only` only finds out whether the recipient has a Mesh profile. Null = no Mesh
  // delivery (encryption rules then apply their `else`).
  std::function<Result<adapters::MeshPostResult>(const adapters::MeshPostRequest&,
                                                 bool resolve_only)>
      mesh_deliver;
  // Shared by every session of the process; null = bodies are not counted.
  std::shared_ptr<BufferBudget> body_budget;
};

struct Step {
  enum class Kind { kContinue, kReject, kTempfail, kAccept, kDiscard } kind = Kind::kContinue;
  std::string code;      // "550" / "451"; empty = no custom reply
  std::string enhanced;  // "5.7.1"
  std::string text;
};

struct HeaderChange {
  enum class Kind { kDelete, kChange, kInsert, kAdd } kind;
  std::string name;
  int index = 0;  // kDelete/kChange: 1-based occurrence among headers of that name
                  // kInsert: position among all headers (0 = top); kAdd: unused (at the end)
  std::string value;
};

struct EomResult {
  Step step;
  std::vector<HeaderChange> changes;
  std::optional<std::string> quarantine_reason;
  // Recipients whose copy went over the Mesh: the glue removes them (smfi_delrcpt), in the
  // form the client gave at RCPT. When every recipient went, the step is kDiscard instead.
  std::vector<std::string> removed_recipients;
};

class MilterSession {
 public:
  explicit MilterSession(MilterContext context) : context_(std::move(context)) {}

  void onConnect(std::string hostname, std::string address, std::string daemon_name);
  // The connect step failed where the MTA expects no answer (SMFIP_NR_CONN): every MAIL FROM
  // of this connection is tempfailed rather than judged without the client's address.
  void onConnectLost() noexcept { connect_lost_ = true; }
  void onHelo(std::string helo);
  Step onMail(std::string_view sender, std::string auth_user);
  Step onRecipient(std::string_view recipient);
  void onHeader(std::string_view name, std::string_view value);
  void onBody(std::string_view chunk);
  // A header or body chunk could not be kept (the glue caught a failure where the MTA expects
  // no answer): the message is tempfailed at end of message rather than judged incomplete.
  // A lost header outweighs a later lost body chunk: an unseen header may be a forged signal.
  void onContentLost(const char* stage) noexcept {
    if (msg_.content_lost == nullptr || std::string_view(stage) == "header") {
      msg_.content_lost = stage;
    }
  }
  EomResult onEndOfMessage(std::string queue_id);
  void onAbort();

  // Whether the MTA granted recipient removal (SMFIF_DELRCPT) on this connection; without it
  // no copy is sent over the Mesh (the encryption rules' `else` applies). Default: granted.
  void setMayRemoveRecipients(bool granted) { may_remove_recipients_ = granted; }

  // The one error table: what a failure to decide becomes, per milter.on_error.
  static Step errorStep(config::FailureAction action, const Status& status);

  // A step's text as smfi_setreply takes it: '%' doubled (it is a format character there),
  // line breaks as spaces, and at most kMaxReplyText bytes (cut at a character, "..." added):
  // libmilter refuses a reply over 980 bytes, and the MTA then sends its generic text.
  static constexpr size_t kMaxReplyText = 900;
  static std::string mtaReplyText(std::string_view text);

 private:
  struct Message {
    std::shared_ptr<const policy::DecisionEngine> engine;
    policy::MessageRequest request;
    policy::Decision sender_decision;
    std::vector<policy::RecipientDecision> recipients;
    std::vector<std::string> rcpt_as_given;  // parallel to request.recipients (smfi_delrcpt)
    std::unique_ptr<mail::HeaderList> headers = std::make_unique<mail::HeaderList>();
    std::string body;
    BudgetShare body_share;    // body's bytes counted in context_.body_budget
    bool over_budget = false;  // a part of the body that should be kept was not
    uint64_t body_seen = 0;
    bool active = false;
    const char* content_lost = nullptr;  // the stage that failed, see onContentLost
    // The decision names recipients that may only be reached over the Mesh (egress
    // encryption rules): a failure after it must not let their SMTP copy go in cleartext.
    bool mesh_required = false;
  };

  Step fail(const Status& status, const char* stage);
  // A failure at end of message before or while deciding (`partial` holds what was decided so
  // far). milter.on_error tempfail or reject is the answer as it stands; with accept the
  // message goes on, but never with less protection than was decided: every copy of our headers
  // is deleted, copies already sent over the Mesh are not sent again by SMTP, a hold stays a hold.
  EomResult failedEom(const Status& status, EomResult partial);
  // A failure after the decision (its record, the signal): true, with `result` replaced by the
  // error step, when milter.on_error refuses the message; false when it is `accept`, and the
  // decision then stands without the part that failed.
  bool refusedAfterError(const Status& status, EomResult& result);
  // Deletions, last first, of every incoming copy of the headers only this gateway writes,
  // except the brand assertions at `keep_brand` (those a trusted gateway signed).
  std::vector<HeaderChange> forgedCopyDeletions(const std::vector<size_t>& keep_brand) const;
  // Egress header edits -> changes, and the same edits on our view of the delivered headers.
  void applyHeaderEdits(const policy::Decision& d, mail::HeaderList& delivered,
                        EomResult& result) const;
  // The header fields as they will be delivered (forged copies of ours gone, the egress edits
  // and the Subject tag made); adds the edits' changes to `result`.
  mail::HeaderList deliveredHeaders(const policy::Decision& d,
                                    const std::vector<size_t>& keep_brand, EomResult& result) const;
  // Records a decision; a failure is returned only when audit.on_failure is tempfail.
  Status record(const AuditRecord& record);
  void decideEndOfMessage(std::string queue_id, EomResult& result);
  // SMTP -> Mesh for the recipients of d.mesh_delivery: may change d's verdict (reject, hold,
  // tempfail, discard) and fills result.removed_recipients.
  void deliverOverMesh(policy::Decision& d, const mail::HeaderList& delivered, EomResult& result,
                       std::string_view qid);
  // The message as SMTP would deliver it, without our signal: `delivered`, a blank line, the
  // body (CRLF line ends).
  std::string messageAsDelivered(const mail::HeaderList& delivered) const;
  void logDecision(const policy::Decision& d, std::string_view qid);

  MilterContext context_;
  bool may_remove_recipients_ = true;
  bool connect_lost_ = false;  // see onConnectLost
  policy::ClientInfo client_;
  Message msg_;
};

}  // namespace meshgate::milter
