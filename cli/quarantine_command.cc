// quarantine_command.cc - `meshgate quarantine list|show|release|delete|digest`: messages held
// by the milter (smfi_quarantine -> the Postfix hold queue) with their metadata in the store.
// Mesh messages the Mesh service held are `meshgate quarantine mesh ...` (mesh_held.cc).
#include <signal.h>

#include <array>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exec.h"
#include "cli/mesh_held.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/quarantine_confirmation.h"
#include "gateway/util/strings.h"

namespace meshgate::cli {
namespace {

// postsuper/postcat with -c when a Postfix instance other than the default is configured.
std::vector<std::string> postfixTool(const config::Config& c, const std::string& tool) {
  std::vector<std::string> argv{tool};
  if (!c.quarantine.postfix_config_dir.empty()) {
    argv.push_back("-c");
    argv.push_back(c.quarantine.postfix_config_dir);
  }
  return argv;
}

// Queue ids are [0-9A-Za-z]; anything else never reaches postsuper.
bool validQueueId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The audit record of an action on a held message.
AuditRecord quarantineAuditRecord(const QuarantineRecord& q, const std::string& action) {
  AuditRecord a;
  a.message_id = q.message_id;
  a.queue_id = q.queue_id;
  a.sender = q.sender;
  a.recipients = q.recipients;
  a.rule = "quarantine." + action;
  a.action = action;
  return a;
}

Status recordAdminAction(Store& store, const config::Config& c, const QuarantineRecord& q,
                         const std::string& action) {
  return appendAdminAudit(store, c, quarantineAuditRecord(q, action));
}

// The confirmation page as recipients reach it (quarantine.confirm_url, else the Mesh
// service's name and port).
std::string confirmUrl(const config::Config& c) {
  if (!c.quarantine.confirm_url.empty()) return c.quarantine.confirm_url;
  const auto& m = c.mesh_service;
  return std::string(m.plain_http ? "http" : "https") + "://" + m.service_name + ":" +
         std::to_string(m.listen.port) + "/quarantine/confirm";
}

// Form-encodes a query value: everything but unreserved characters is escaped.
std::string queryValue(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

struct Common {
  std::string config_path = kDefaultConfigPath;
};

int quarantineList(const Args& args) {
  const std::string cmd = "meshgate quarantine list";
  Common o;
  std::string state = "held", recipient;
  ArgParser p(cmd, "List quarantined messages (newest last).");
  p.option("state", "STATE", "held (default), released, deleted, or all", &state);
  p.option("recipient", "ADDRESS", "only messages held for this recipient", &recipient);
  p.option("config", "FILE", "configuration file", &o.config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (state != "held" && state != "released" && state != "deleted" && state != "all") {
    return p.usageError("--state: expected held, released, deleted or all");
  }
  auto ctx = openAdmin(cmd, o.config_path);
  if (!ctx) return 1;
  auto list = ctx->store->listQuarantine(state == "all" ? "" : state);
  if (!list.ok()) return reportError(cmd, list.status());
  std::string want = toLowerAscii(recipient);
  size_t n = 0;
  for (const auto& q : *list) {
    if (!want.empty()) {
      bool found = false;
      for (const auto& r : splitList(q.recipients, ',')) found |= toLowerAscii(r) == want;
      if (!found) continue;
    }
    ++n;
    std::cout << std::left << std::setw(14) << q.id << " " << utcTime(q.time) << " " << q.state
              << " from=<" << printable(q.sender) << "> to=<" << printable(q.recipients)
              << "> reason=\"" << printable(q.reason) << "\" subject=\"" << printable(q.subject)
              << "\"";
    if (!q.confirmed_by.empty()) std::cout << " confirmed_by=<" << printable(q.confirmed_by) << ">";
    std::cout << "\n";
  }
  std::cerr << n << " message(s)\n";
  return 0;
}

std::unique_ptr<AdminContext> openWithRecord(const std::string& cmd, const Args& args,
                                             const std::string& description, QuarantineRecord* q,
                                             int* rc) {
  Common o;
  std::string id;
  ArgParser p(cmd, description);
  p.positional("ID", "the quarantine id (the Postfix queue id) from `meshgate quarantine list`", &id);
  p.option("config", "FILE", "configuration file", &o.config_path);
  if (int r = p.parse(args); r != ArgParser::kContinue) {
    *rc = r;
    return nullptr;
  }
  if (!validQueueId(id)) {
    *rc = p.usageError("\"" + id + "\" is not a queue id (letters and digits)");
    return nullptr;
  }
  auto ctx = openAdmin(cmd, o.config_path);
  if (!ctx) {
    *rc = 1;
    return nullptr;
  }
  auto rec = ctx->store->getQuarantine(id);
  if (!rec.ok()) {
    *rc = reportError(cmd, rec.status().code() == StatusCode::kNotFound
                               ? notFound("no quarantined message " + id +
                                          " (see meshgate quarantine list)")
                               : rec.status());
    return nullptr;
  }
  *q = *rec;
  return ctx;
}

int quarantineShow(const Args& args) {
  const std::string cmd = "meshgate quarantine show";
  QuarantineRecord q;
  int rc = 0;
  auto ctx = openWithRecord(cmd, args, "Show a quarantined message: why it was held, then the "
                                       "message itself (postcat).", &q, &rc);
  if (!ctx) return rc;
  // What the sender wrote (subject, addresses) is shown with its control characters replaced:
  // a line break or a terminal escape in it must not pass for meshgate's own output.
  std::cout << "id:       " << q.id << "\nstate:    " << q.state
            << "\nheld:     " << utcTime(q.time) << "\nreason:   " << printable(q.reason)
            << "\nfrom:     " << printable(q.sender) << "\nto:       " << printable(q.recipients)
            << "\nsubject:  " << printable(q.subject) << "\n";
  if (!q.confirmed_by.empty()) {
    std::cout << "confirmed: by " << printable(q.confirmed_by) << " at "
              << utcTime(q.confirmed_time) << "\n";
  }
  std::cout << "\n";
  if (q.state != "held") return 0;
  auto argv = postfixTool(*ctx->config, ctx->config->quarantine.postcat);
  argv.insert(argv.end(), {"-q", q.queue_id});
  auto r = execProgram(argv, "", 30000);
  if (!r.ok()) return reportError(cmd, r.status());
  std::cout << r->out;
  if (r->exit_code != 0) {
    std::cerr << r->err;
    return reportError(cmd, unavailable("postcat failed (exit " + std::to_string(r->exit_code) + ")"));
  }
  return 0;
}

// Ctrl-C, a hangup or a TERM while a held message is claimed, audited and handed to postsuper
// would leave it marked released with the message still in the hold queue (or postsuper, in
// the same process group, killed half-way). Ignored for that span - postsuper inherits the
// disposition - and restored after; the span is bounded by postsuper's 30 s timeout.
class TerminalSignalsDeferred {
 public:
  TerminalSignalsDeferred() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &ignore, &saved_[i]);
  }
  ~TerminalSignalsDeferred() {
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &saved_[i], nullptr);
  }
  TerminalSignalsDeferred(const TerminalSignalsDeferred&) = delete;
  TerminalSignalsDeferred& operator=(const TerminalSignalsDeferred&) = delete;

 private:
  static constexpr std::array<int, 4> kSignals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  std::array<struct sigaction, 4> saved_{};
};

// The first line of a tool's diagnostics, for an error message.
std::string firstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "no diagnostics" : printable(line);
}

// Postfix reuses short queue ids (enable_long_queue_ids=no, the default), and a held message
// may be released or deleted outside meshgate: before acting, the id must still name this
// record's message, in the hold queue. postcat -e shows the envelope: its first line names the
// queue file ("*** ENVELOPE RECORDS hold/4XYZ12AB ***"), a "sender:" line the envelope sender.
Status checkStillHeld(AdminContext& ctx, const QuarantineRecord& q) {
  auto argv = postfixTool(*ctx.config, ctx.config->quarantine.postcat);
  argv.insert(argv.end(), {"-e", "-q", q.queue_id});
  auto r = execProgram(argv, "", 30000);
  if (!r.ok()) return r.status().withContext("postcat");
  if (r->exit_code != 0) {
    return failedPrecondition(q.queue_id + " is no longer in the Postfix queue (postcat: " +
                              firstLine(r->err) + "); nothing was done");
  }
  std::string path;
  std::optional<std::string> sender;
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    constexpr std::string_view kEnvelope = "*** ENVELOPE RECORDS ", kSender = "sender:";
    if (path.empty() && line.rfind(kEnvelope, 0) == 0) {
      path = line.substr(kEnvelope.size());
      path = path.substr(0, path.find(' '));
    } else if (!sender && line.rfind(kSender, 0) == 0) {
      sender = std::string(trimWhitespace(std::string_view(line).substr(kSender.size())));
    }
  }
  // hold/ID, or a hashed hold/X/ID (hash_queue_names), or an absolute path under the queue.
  if (path.find("hold/") != 0 && path.find("/hold/") == std::string::npos) {
    return failedPrecondition(q.queue_id + " is not in Postfix's hold queue (postcat shows " +
                              (path.empty() ? std::string("no queue file") : printable(path)) +
                              "): released or deleted outside meshgate? Nothing was done");
  }
  if (!sender || !equalsIgnoreCase(*sender, q.sender)) {
    return failedPrecondition("queue id " + q.queue_id +
                              " now names another message (envelope sender <" +
                              printable(sender.value_or("")) + ">, the held one's was <" +
                              printable(q.sender) + ">): Postfix reused the id; nothing was done");
  }
  return Status();
}

// Claims the held message (held -> released/deleted, only if still held: an admin and the
// release-confirmed timer may race), records the action in the audit log, then runs
// postsuper -H (release) or -d ID hold (delete: only from the hold queue, never a message
// under the same id elsewhere). Checked first: the id still names the held message. Nothing happens
// without its audit record; if the record or postsuper fails, the message is held again (and the
// failure audited).
Status applyToHeld(AdminContext& ctx, QuarantineRecord& q, const std::string& action) {
  if (q.state != "held") return failedPrecondition(q.id + " is already " + q.state);
  MESHGATE_RETURN_IF_ERROR(checkStillHeld(ctx, q));
  TerminalSignalsDeferred not_now;
  const std::string to = action == "release" ? "released" : "deleted";
  MESHGATE_ASSIGN_OR_RETURN(bool claimed, ctx.store->changeQuarantineState(q.id, "held", to));
  if (!claimed) {
    auto now = ctx.store->getQuarantine(q.id);
    return failedPrecondition(q.id + " is already " + (now.ok() ? now->state : "changed") +
                              " (by another command meanwhile)");
  }
  auto holdAgain = [&](const Status& why) {
    Status back = ctx.store->changeQuarantineState(q.id, to, "held").status();
    if (!back.ok())
      return why.withContext("and it could not be marked held again: " + back.message());
    return why;
  };
  Status audited = recordAdminAction(*ctx.store, *ctx.config, q, action);
  if (!audited.ok()) return holdAgain(audited.withContext("audit log; nothing was done"));
  auto argv = postfixTool(*ctx.config, ctx.config->quarantine.postsuper);
  if (action == "release") {
    argv.insert(argv.end(), {"-H", q.queue_id});
  } else {
    argv.insert(argv.end(), {"-d", q.queue_id, "hold"});
  }
  auto r = execProgram(argv, "", 30000);
  Status ran = r.ok() ? Status() : r.status();
  if (r.ok() && r->exit_code != 0) {
    std::cerr << r->err;
    ran = unavailable("postsuper failed (exit " + std::to_string(r->exit_code) + ")");
  }
  if (!ran.ok()) {
    (void)recordAdminAction(*ctx.store, *ctx.config, q, action + "-failed");
    return holdAgain(ran.withContext("still held"));
  }
  q.state = to;
  return Status();
}

int changeState(const Args& args, const std::string& action) {
  const std::string cmd = "meshgate quarantine " + action;
  QuarantineRecord q;
  int rc = 0;
  auto ctx = openWithRecord(cmd, args,
                            action == "release"
                                ? "Release a held message: Postfix delivers it (postsuper -H)."
                                : "Delete a held message from the Postfix queue (postsuper -d).",
                            &q, &rc);
  if (!ctx) return rc;
  Status st = applyToHeld(*ctx, q, action);
  if (!st.ok()) return reportError(cmd, st);
  std::cout << q.id << ": " << q.state << "\n";
  return 0;
}

// Run as root from a timer: the policy server records confirmations but cannot run postsuper.
int quarantineReleaseConfirmed(const Args& args) {
  const std::string cmd = "meshgate quarantine release-confirmed";
  Common o;
  ArgParser p(cmd, "Release every held message its recipient confirmed (on the policy server's\n"
                   "/quarantine/confirm page or with `meshgate quarantine confirm`). Run it as\n"
                   "root every minute (conf/systemd/meshgate-release-confirmed.timer).");
  p.option("config", "FILE", "configuration file", &o.config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto ctx = openAdmin(cmd, o.config_path);
  if (!ctx) return 1;
  auto list = ctx->store->listQuarantine("held");
  if (!list.ok()) return reportError(cmd, list.status());
  int failed = 0, released = 0;
  for (auto& q : *list) {
    if (q.confirmed_by.empty()) continue;
    Status st = applyToHeld(*ctx, q, "release");
    if (!st.ok()) {
      // The others are still worth releasing; this one stays held and is retried next run.
      std::cerr << cmd << ": " << q.id << ": " << st.message() << "\n";
      ++failed;
      continue;
    }
    ++released;
    std::cout << q.id << ": released (confirmed by " << q.confirmed_by << ")\n";
  }
  std::cerr << released << " released, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

// For the helpdesk: a recipient reads the code from the digest on the phone.
int quarantineConfirm(const Args& args) {
  const std::string cmd = "meshgate quarantine confirm";
  Common o;
  std::string id, recipient, code;
  ArgParser p(cmd, "Record a recipient's confirmation of a held payment request, checking the\n"
                   "code from their digest (the helpdesk's way to do what the confirmation page "
                   "does).\n`meshgate quarantine release-confirmed` then releases it.");
  p.positional("ID", "the quarantine id from the digest", &id);
  p.option("recipient", "ADDRESS", "the recipient who confirms (required)", &recipient);
  p.option("code", "CODE", "the confirmation code from that recipient's digest (required)", &code);
  p.option("config", "FILE", "configuration file", &o.config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (!validQueueId(id)) return p.usageError("\"" + id + "\" is not a queue id (letters and digits)");
  if (recipient.empty() || code.empty()) return p.usageError("--recipient and --code are required");
  auto ctx = openAdmin(cmd, o.config_path);
  if (!ctx) return 1;
  auto key = mesh::loadPrivateKeyFile(ctx->config->gateway.key_file);
  if (!key.ok()) return reportError(cmd, key.status().withContext("gateway.key_file"));
  auto q = ctx->store->getQuarantine(id);
  if (!q.ok()) return reportError(cmd, q.status());
  if (!policy::confirmationMatches(*key, *q, recipient, code)) {
    return reportError(cmd, permissionDenied("wrong confirmation code for " + id + " and " +
                                             recipient + " (check the digest it came from)"));
  }
  if (!policy::recipientMayConfirm(*q, recipient)) {
    return reportError(cmd, failedPrecondition(
                                id + " (" + q->state + ", held because: " + q->reason +
                                ") is not one its recipient can release; an administrator "
                                "decides with meshgate quarantine release|delete"));
  }
  Status st = auditedChange(*ctx, quarantineAuditRecord(*q, "confirm"), [&] {
    return ctx->store->confirmQuarantine(id, toLowerAscii(recipient), std::time(nullptr));
  });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << id << ": confirmed by " << recipient << "\n";
  return 0;
}

int quarantineRelease(const Args& args) { return changeState(args, "release"); }
int quarantineDelete(const Args& args) { return changeState(args, "delete"); }

int quarantineDigest(const Args& args) {
  const std::string cmd = "meshgate quarantine digest";
  Common o;
  bool send = false;
  ArgParser p(cmd, "Compose, for each recipient, a list of the messages held for them; print the "
                   "digests,\nor with --send mail each one through quarantine.sendmail.");
  p.flag("send", "mail the digests instead of printing them", &send);
  p.option("config", "FILE", "configuration file", &o.config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto ctx = openAdmin(cmd, o.config_path);
  if (!ctx) return 1;
  auto list = ctx->store->listQuarantine("held");
  if (!list.ok()) return reportError(cmd, list.status());
  std::map<std::string, std::vector<QuarantineRecord>> by_recipient;
  for (const auto& q : *list) {
    for (const auto& r : splitList(q.recipients, ',')) {
      if (ctx->config->isLocalDomain(addressDomain(r))) by_recipient[toLowerAscii(r)].push_back(q);
    }
  }
  // Without the key the digest still lists what is held, only without confirmation links.
  auto key = mesh::loadPrivateKeyFile(ctx->config->gateway.key_file);
  if (!key.ok()) {
    std::cerr << cmd << ": warning: no confirmation links: " << key.status().message() << "\n";
  }
  const std::string url = confirmUrl(*ctx->config);
  for (const auto& [rcpt, held] : by_recipient) {
    std::string mail = "From: " + ctx->config->quarantine.digest_from + "\nTo: " + rcpt +
                       "\nSubject: " + std::to_string(held.size()) +
                       " message(s) held for you by meshgate\nAuto-Submitted: auto-generated\n"
                       "Content-Type: text/plain; charset=utf-8\n\n"
                       "These messages were held for review before delivery to you. Ask your mail\n"
                       "administrator to release the ones you want (quote the id).\n\n";
    for (const auto& q : held) {
      // The sender's text cannot start a line of its own: a subject with a line break could
      // otherwise put a release link of its making above the real one.
      mail += "  " + q.id + "  " + utcTime(q.time) + "  from " + printable(q.sender) +
              "\n      subject: " + printable(q.subject) +
              "\n      reason:  " + printable(q.reason) + "\n";
      if (key.ok() && policy::recipientMayConfirm(q, rcpt)) {
        auto code = policy::confirmationCode(*key, q, rcpt);
        if (code.ok()) {
          mail += "      If you expected it, you can release it yourself:\n      " + url +
                  "?id=" + queryValue(q.id) + "&rcpt=" + queryValue(rcpt) + "&code=" + *code +
                  "\n      (confirmation code " + *code + ")\n";
        }
      }
    }
    if (!send) {
      std::cout << mail << "\n";
      continue;
    }
    auto r = execProgram({ctx->config->quarantine.sendmail, "-i", "-f",
                          ctx->config->quarantine.digest_from, "--", rcpt},
                         mail, 60000);
    if (!r.ok() || r->exit_code != 0) {
      return reportError(cmd, unavailable("sendmail failed for " + rcpt +
                                          (r.ok() ? ": " + r->err : ": " + r.status().message())));
    }
    std::cerr << "digest sent to " << rcpt << " (" << held.size() << " message(s))\n";
  }
  return 0;
}

int quarantine(const Args& args) {
  return runGroup("meshgate quarantine",
                  "Messages held by meshgate (in the Postfix hold queue, metadata in the store).",
                  {{"list", "list held messages", quarantineList},
                   {"show", "show why a message was held, and the message", quarantineShow},
                   {"release", "deliver a held message (postsuper -H)", quarantineRelease},
                   {"delete", "delete a held message (postsuper -d)", quarantineDelete},
                   {"confirm", "record a recipient's confirmation code (helpdesk)",
                    quarantineConfirm},
                   {"release-confirmed", "release what recipients confirmed (root, timer)",
                    quarantineReleaseConfirmed},
                   {"digest", "tell each recipient what is held for them", quarantineDigest},
                   {"mesh", "Mesh messages held by the Mesh service: list, show, release, delete",
                    quarantineMesh}},
                  args);
}

}  // namespace

MESHGATE_COMMAND(quarantine, "quarantine", "list, show, release or delete held messages", quarantine,
                 43);

}  // namespace meshgate::cli
