// milter_service.cc - libmilter glue: register the callbacks, open the socket, run smfi_main
// on its own thread. Each callback forwards to the connection's MilterSession and turns the
// answer into libmilter calls; no exception crosses into libmilter.
#include "milter/milter_service.h"

#include <arpa/inet.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "gateway/mesh/crypto.h"
#include "gateway/util/encoding.h"
#include "gateway/util/log.h"
#include "milter/milter_session.h"

namespace meshgate::milter {
namespace {

// libmilter supports one filter per process; the callbacks reach the shared context here.
MilterContext* g_context = nullptr;

// Stopping. smfi_stop() waits for no session, and a callback may be running in a worker when
// it returns; the context must outlive both. So stop() first drains (messages under way
// finish, up to kDrainLimit; a new one is tempfailed), then stops libmilter, then retires the
// context once no callback holds it; a callback after that answers without it. (A message
// still under way after the drain gets no answer: the MTA applies milter_default_action.)
constexpr auto kDrainLimit = std::chrono::seconds(10);  // systemd stops us within 30 s
std::atomic<bool> g_draining{false};
std::atomic<int> g_messages_under_way{0};  // MAIL FROM accepted, not yet ended
std::shared_mutex g_retire_mutex;          // held shared by each callback, exclusively to retire
bool g_retired = false;                    // guarded by g_retire_mutex

// Per connection (smfi_setpriv): the session, and which content steps the MTA agreed to send
// without waiting for an answer (negotiated per connection, before connect).
struct Connection {
  explicit Connection(MilterContext& context) : session(context) {}
  ~Connection() { endMessage(); }
  void startMessage() {
    if (!in_message) g_messages_under_way++;
    in_message = true;
  }
  void endMessage() {
    if (in_message) g_messages_under_way--;
    in_message = false;
  }
  MilterSession session;
  bool in_message = false;        // counted in g_messages_under_way
  bool connect_no_reply = false;  // SMFIP_NR_CONN
  bool mail_no_reply = false;     // SMFIP_NR_MAIL
  bool header_no_reply = false;  // SMFIP_NR_HDR
  bool body_no_reply = false;    // SMFIP_NR_BODY
  bool eoh_no_reply = false;     // SMFIP_NR_EOH
  // MAIL FROM refused where the MTA awaits no answer to it (SMFIP_NR_MAIL): the refusal is
  // given to each RCPT TO of the transaction instead, as Postfix's own smtpd_delay_reject does.
  std::optional<Step> mail_refusal;
};

Connection* connectionOf(SMFICTX* ctx) { return static_cast<Connection*>(smfi_getpriv(ctx)); }
MilterSession* sessionOf(SMFICTX* ctx) {
  Connection* c = connectionOf(ctx);
  return c ? &c->session : nullptr;
}

// Every callback runs under this: while it is held, stop() cannot retire the context. When it
// has been retired, retired() is true and the callback answers without the context or the
// session (tempfail for a step that decides, no answer where none is awaited).
class CallbackGuard {
 public:
  CallbackGuard() : lock_(g_retire_mutex) {}
  bool retired() const { return g_retired; }

 private:
  std::shared_lock<std::shared_mutex> lock_;
};

// The connection of ctx, created on first use (negotiate, or connect when the MTA skipped
// negotiation); nullptr when it cannot be stored.
Connection* ensureConnection(SMFICTX* ctx) {
  if (Connection* c = connectionOf(ctx)) return c;
  auto* c = new Connection(*g_context);
  if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
    delete c;
    return nullptr;
  }
  return c;
}

std::string macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v ? v : "";
}

sfsistat apply(SMFICTX* ctx, const Step& s) {
  if (!s.code.empty() && (s.kind == Step::Kind::kReject || s.kind == Step::Kind::kTempfail)) {
    std::string text = MilterSession::mtaReplyText(s.text);
    if (smfi_setreply(ctx, const_cast<char*>(s.code.c_str()), const_cast<char*>(s.enhanced.c_str()),
                      const_cast<char*>(text.c_str())) != MI_SUCCESS) {
      log::warning("milter: smfi_setreply(%s %s) failed; the MTA uses its default text",
                   s.code.c_str(), s.enhanced.c_str());
    }
  }
  switch (s.kind) {
    case Step::Kind::kContinue: return SMFIS_CONTINUE;
    case Step::Kind::kReject: return SMFIS_REJECT;
    case Step::Kind::kTempfail: return SMFIS_TEMPFAIL;
    case Step::Kind::kAccept: return SMFIS_ACCEPT;
    case Step::Kind::kDiscard: return SMFIS_DISCARD;
  }
  return SMFIS_TEMPFAIL;
}

// Used when a callback itself fails (no session, an exception): the error table's tempfail.
// Called from catch blocks, so it must not throw itself: when even the reply cannot be built
// (out of memory), the bare tempfail without a text.
sfsistat callbackFailure(SMFICTX* ctx, const char* where) noexcept {
  try {
    log::error("milter: %s: internal error; tempfail", where);
    return apply(ctx, MilterSession::errorStep(config::FailureAction::kTempfail, Status()));
  } catch (...) {
    return SMFIS_TEMPFAIL;
  }
}

std::string addressText(const sockaddr* sa) {
  if (!sa) return "";
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

// The answer to MAIL FROM: none (SMFIP_NR_MAIL, negotiated; libmilter answers CONTINUE itself
// to an MTA that cannot skip it), a refusal kept and given to every RCPT TO of the transaction.
// Not waiting saves a round trip per message; the transaction is refused all the same, since
// no recipient can be accepted. Without the negotiation (no negotiate step), answered now.
sfsistat answerMail(SMFICTX* ctx, Connection* c, const Step& s) {
  if (!c || !c->mail_no_reply) return apply(ctx, s);
  if (s.kind != Step::Kind::kContinue) c->mail_refusal = s;
  return SMFIS_NOREPLY;
}

// Connect only records the client (nothing is decided before MAIL FROM), so the MTA need not
// wait for an answer (SMFIP_NR_CONN). A failure then cannot be answered here: the session
// remembers it and tempfails MAIL FROM.
sfsistat onConnect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
  CallbackGuard guard;
  Connection* c = connectionOf(ctx);
  if (guard.retired()) return c && c->connect_no_reply ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
  try {
    c = ensureConnection(ctx);
    if (!c) return callbackFailure(ctx, "connect");
    c->session.onConnect(hostname ? hostname : "", addressText(hostaddr), macro(ctx, "{daemon_name}"));
  } catch (...) {
    if (!c || !c->connect_no_reply) return callbackFailure(ctx, "connect");
    log::error("milter: connect: internal error; the client's mail will be tempfailed");
    c->session.onConnectLost();
  }
  return c->connect_no_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat onHelo(SMFICTX* ctx, char* helo) {
  CallbackGuard guard;
  if (guard.retired()) return SMFIS_TEMPFAIL;
  try {
    if (auto* s = sessionOf(ctx)) s->onHelo(helo ? helo : "");
    return SMFIS_CONTINUE;
  } catch (...) {
    return callbackFailure(ctx, "helo");
  }
}

// While stopping, a message under way is finished but a new one is tempfailed: the MTA
// retries it once meshgate is back (a new connection would meet the closed socket anyway).
Step stoppingStep() {
  return {Step::Kind::kTempfail, "451", "4.3.2", "mail filter restarting; try again shortly"};
}

sfsistat onEnvFrom(SMFICTX* ctx, char** argv) {
  CallbackGuard guard;
  Connection* c = connectionOf(ctx);
  if (c) c->mail_refusal.reset();
  if (guard.retired()) return answerMail(ctx, c, stoppingStep());
  try {
    if (!c) return callbackFailure(ctx, "mail");
    // Counted before the drain is checked (both sequentially consistent): either drain()
    // sees this message under way and waits for it, or this sees the drain and refuses it.
    c->startMessage();
    if (g_draining) {
      c->endMessage();
      log::info("milter: stopping; MAIL FROM tempfailed (the MTA retries)");
      return answerMail(ctx, c, stoppingStep());
    }
    Step s = c->session.onMail(argv && argv[0] ? argv[0] : "", macro(ctx, "{auth_authen}"));
    if (s.kind != Step::Kind::kContinue) c->endMessage();
    return answerMail(ctx, c, s);
  } catch (...) {
    // Refused: no message is under way (a stop would otherwise wait for it in vain).
    c->endMessage();
    if (!c->mail_no_reply) return callbackFailure(ctx, "mail");
    log::error("milter: mail: internal error; tempfail at RCPT TO");
    return answerMail(ctx, c, MilterSession::errorStep(config::FailureAction::kTempfail, Status()));
  }
}

sfsistat onEnvRcpt(SMFICTX* ctx, char** argv) {
  CallbackGuard guard;
  if (guard.retired()) return apply(ctx, stoppingStep());
  try {
    Connection* c = connectionOf(ctx);
    if (c && c->mail_refusal) return apply(ctx, *c->mail_refusal);
    if (!c || !argv || !argv[0]) return callbackFailure(ctx, "rcpt");
    return apply(ctx, c->session.onRecipient(argv[0]));
  } catch (...) {
    return callbackFailure(ctx, "rcpt");
  }
}

// Headers and body chunks are collected, never decided on: when the MTA does not wait for an
// answer (SMFIP_NR_HDR / SMFIP_NR_BODY, one round trip less per header and chunk), a failure
// is remembered and the message tempfailed at end of message instead.
// A template, not std::function: this runs for every header of every message.
template <typename Fn>
sfsistat contentStep(SMFICTX* ctx, bool no_reply, const char* stage, const Fn& step) {
  CallbackGuard guard;
  if (guard.retired()) return no_reply ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
  Connection* c = connectionOf(ctx);
  try {
    if (c) step(c->session);
    return no_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
  } catch (...) {
    if (!no_reply || !c) return callbackFailure(ctx, stage);
    log::error("milter: %s: internal error; the message will be tempfailed", stage);
    c->session.onContentLost(stage);
    return SMFIS_NOREPLY;
  }
}

sfsistat onHeader(SMFICTX* ctx, char* name, char* value) {
  Connection* c = connectionOf(ctx);
  return contentStep(ctx, c && c->header_no_reply, "header", [&](MilterSession& s) {
    s.onHeader(name ? name : "", value ? value : "");
  });
}

// Nothing to do at end of headers; registered so that the answer can be "none" (SMFIP_NR_EOH)
// rather than skipping the step (SMFIP_NOEOH), which test clients such as miltertest mishandle.
sfsistat onEndOfHeaders(SMFICTX* ctx) {
  Connection* c = connectionOf(ctx);
  return c && c->eoh_no_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat onBody(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  Connection* c = connectionOf(ctx);
  return contentStep(ctx, c && c->body_no_reply, "body", [&](MilterSession& s) {
    s.onBody(std::string_view(reinterpret_cast<const char*>(chunk), len));
  });
}

sfsistat onEom(SMFICTX* ctx) {
  CallbackGuard guard;
  if (guard.retired()) return apply(ctx, stoppingStep());
  Connection* c = connectionOf(ctx);
  // However the message ends here, it is no longer under way once this returns.
  struct EndMessage {
    Connection* c;
    ~EndMessage() {
      if (c) c->endMessage();
    }
  } end_message{c};
  try {
    if (!c) return callbackFailure(ctx, "eom");
    EomResult r = c->session.onEndOfMessage(macro(ctx, "i"));
    if (r.step.kind == Step::Kind::kReject || r.step.kind == Step::Kind::kTempfail ||
        r.step.kind == Step::Kind::kDiscard) {
      return apply(ctx, r.step);
    }
    for (const auto& change : r.changes) {
      int rc = MI_FAILURE;
      char* name = const_cast<char*>(change.name.c_str());
      char* value = const_cast<char*>(change.value.c_str());
      switch (change.kind) {
        case HeaderChange::Kind::kDelete:
          rc = smfi_chgheader(ctx, name, change.index, nullptr);
          break;
        case HeaderChange::Kind::kChange:
          rc = smfi_chgheader(ctx, name, change.index, value);
          break;
        case HeaderChange::Kind::kInsert:
          rc = smfi_insheader(ctx, change.index, name, value);
          break;
        case HeaderChange::Kind::kAdd: rc = smfi_addheader(ctx, name, value); break;
      }
      if (rc != MI_SUCCESS) {
        // A forged signal we could not delete must not be delivered: tempfail, the client
        // retries.
        log::error("milter: cannot modify header %s; tempfail", change.name.c_str());
        return apply(ctx, MilterSession::errorStep(config::FailureAction::kTempfail, Status()));
      }
    }
    for (const auto& rcpt : r.removed_recipients) {
      // Its copy went over the Mesh; a cleartext copy must not follow. If it cannot be
      // removed, tempfail: the retry finds the Mesh copy delivered (same EnvelopeId).
      if (smfi_delrcpt(ctx, const_cast<char*>(rcpt.c_str())) != MI_SUCCESS) {
        log::error("milter: smfi_delrcpt(%s) failed; tempfail rather than send a cleartext copy",
                   log::sanitize(rcpt).c_str());
        return apply(ctx, MilterSession::errorStep(config::FailureAction::kTempfail, Status()));
      }
    }
    if (r.quarantine_reason) {
      if (smfi_quarantine(ctx, const_cast<char*>(r.quarantine_reason->c_str())) != MI_SUCCESS) {
        log::error("milter: smfi_quarantine failed; tempfail rather than deliver a held message");
        return apply(ctx, MilterSession::errorStep(config::FailureAction::kTempfail, Status()));
      }
    }
    return apply(ctx, r.step);
  } catch (...) {
    return callbackFailure(ctx, "eom");
  }
}

sfsistat onAbort(SMFICTX* ctx) {
  CallbackGuard guard;
  Connection* c = connectionOf(ctx);
  if (!c) return SMFIS_CONTINUE;
  c->endMessage();
  if (guard.retired()) return SMFIS_CONTINUE;
  try {
    c->session.onAbort();
  } catch (...) {
  }
  return SMFIS_CONTINUE;
}

// After retirement too: the connection is ours to free (the session keeps its own copy of
// the context's functions, and its destructor calls none of them).
sfsistat onClose(SMFICTX* ctx) {
  CallbackGuard guard;
  delete connectionOf(ctx);
  smfi_setpriv(ctx, nullptr);
  return SMFIS_CONTINUE;
}

// Only the rights meshgate uses: an MTA grants every right a milter asks for. (The most it may
// ask for; onNegotiate drops SMFIF_DELRCPT unless smtp_to_mesh is enabled.)
constexpr unsigned long kActions =
    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST | SMFIF_DELRCPT;

sfsistat negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long* pf0,
                   unsigned long* pf1, unsigned long* pf2, unsigned long* pf3);

sfsistat onNegotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                     unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                     unsigned long* pf3) {
  CallbackGuard guard;
  if (guard.retired()) return SMFIS_REJECT;  // this connection is not used
  try {
    return negotiate(ctx, f0, f1, pf0, pf1, pf2, pf3);
  } catch (...) {
    // No exception may unwind into libmilter (C): the connection is refused instead, and the
    // MTA applies milter_default_action (tempfail in the shipped configuration).
    try {
      log::error("milter: negotiate: internal error; connection refused");
    } catch (...) {
    }
    return SMFIS_REJECT;
  }
}

sfsistat negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long* pf0,
                   unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
  // Only the actions we use, and skip the steps we do not need (HELO: no decision reads the
  // HELO name); no answer awaited for connect (recorded, decided on at MAIL FROM), MAIL FROM
  // (decided, but a refusal is given at RCPT TO: see answerMail), each header,
  // the end of headers and each body chunk (collected, decided on at end of message), when the
  // MTA offers that. Each skipped step or answer is one packet or round trip less per session.
  constexpr unsigned long kNoReply =
      SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
  // Removing recipients is needed only to send copies over the Mesh (smtp_to_mesh): without
  // it, the right is not asked for.
  unsigned long actions = kActions;
  auto engine = g_context->engine ? g_context->engine() : nullptr;
  if (!g_context->mesh_deliver || !engine || !engine->config().smtp_to_mesh.enabled) {
    actions &= ~static_cast<unsigned long>(SMFIF_DELRCPT);
  }
  *pf0 = f0 & actions;
  *pf1 = f1 & (SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOHELO | kNoReply);
  *pf2 = 0;
  *pf3 = 0;
  Connection* c = ensureConnection(ctx);
  if (!c) {
    // Without a place for the flags, ask for the plain conversation.
    *pf1 &= ~kNoReply;
  } else {
    c->connect_no_reply = (*pf1 & SMFIP_NR_CONN) != 0;
    c->mail_no_reply = (*pf1 & SMFIP_NR_MAIL) != 0;
    c->eoh_no_reply = (*pf1 & SMFIP_NR_EOH) != 0;
    c->header_no_reply = (*pf1 & SMFIP_NR_HDR) != 0;
    c->body_no_reply = (*pf1 & SMFIP_NR_BODY) != 0;
    c->session.setMayRemoveRecipients((*pf0 & SMFIF_DELRCPT) != 0);
  }
  if ((f0 & SMFIF_SETSYMLIST) != 0) {
    smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("{daemon_name}"));
    smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen} i"));
    smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
  }
  return SMFIS_CONTINUE;
}

// libmilter gives no access to its listening socket: find it by its bound address to set
// TCP_NODELAY, which accepted sockets inherit on Linux (POSTFIX.md: two Nagle stalls per
// message over TCP otherwise).
void setNoDelayOnListener(uint16_t port) {
  for (int fd = 0; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage ss{};
    socklen_t slen = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &slen) != 0) continue;
    uint16_t p = 0;
    if (ss.ss_family == AF_INET) p = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    else if (ss.ss_family == AF_INET6) p = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    if (p != port) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

class LibmilterService : public Service {
 public:
  explicit LibmilterService(MilterContext context) : context_(std::move(context)) {}
  ~LibmilterService() override { stop(); }

  std::string name() const override { return "milter"; }

  Status start(std::shared_ptr<const config::Config> config) override {
    if (g_context) return failedPrecondition("only one milter per process");
    Status started = startLibmilter(*config);
    if (!started.ok()) {
      // Not started: the callbacks' context is not left pointing at this service.
      std::unique_lock<std::shared_mutex> lock(g_retire_mutex);
      g_context = nullptr;
    }
    return started;
  }

  Status reload(std::shared_ptr<const config::Config>) override {
    // Decisions follow the runtime's new engine at the next MAIL FROM; the socket stays.
    return Status();
  }

  void stop() override {
    if (!thread_.joinable()) return;
    // Drain first: after smfi_stop() libmilter (with its worker pool, as Debian builds it)
    // serves no session any more, so a message under way would never get its answer.
    drain();
    smfi_stop();
    thread_.join();
    {
      std::unique_lock<std::shared_mutex> lock(g_retire_mutex);  // no callback is running
      g_retired = true;
      g_context = nullptr;
    }
  }

 private:
  Status startLibmilter(const config::Config& config) {
    const auto& m = config.milter;
    {
      std::unique_lock<std::shared_mutex> lock(g_retire_mutex);
      g_context = &context_;
      g_retired = false;
      g_draining = false;
    }
    smfiDesc desc{};
    desc.xxfi_name = const_cast<char*>("meshgate");
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = kActions;
    desc.xxfi_connect = onConnect;
    desc.xxfi_helo = onHelo;
    desc.xxfi_envfrom = onEnvFrom;
    desc.xxfi_envrcpt = onEnvRcpt;
    desc.xxfi_header = onHeader;
    desc.xxfi_eoh = onEndOfHeaders;
    desc.xxfi_body = onBody;
    desc.xxfi_eom = onEom;
    desc.xxfi_abort = onAbort;
    desc.xxfi_close = onClose;
    desc.xxfi_negotiate = onNegotiate;
    if (m.socket.kind == config::MilterSocket::Kind::kUnix) {
      std::error_code ec;
      auto dir = std::filesystem::path(m.socket.path).parent_path();
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    }
    if (smfi_register(desc) != MI_SUCCESS) return internalError("smfi_register failed");
    if (smfi_setconn(const_cast<char*>(m.socket.spec.c_str())) != MI_SUCCESS) {
      return invalidArgument("smfi_setconn(" + m.socket.spec + ") failed");
    }
    smfi_settimeout(static_cast<int>(std::max<int64_t>(1, m.timeout.count() / 1000)));
    smfi_setbacklog(m.backlog);
    // Opens now (removing a stale socket file), so errors surface before we report started.
    if (smfi_opensocket(true) != MI_SUCCESS) {
      return unavailable("cannot open milter socket " + m.socket.spec +
                         " (is the folder writable? is another milter running?)");
    }
    if (m.socket.kind == config::MilterSocket::Kind::kUnix) {
      MESHGATE_RETURN_IF_ERROR(setSocketPermissions(m.socket.path, m.socket_mode, m.socket_group));
    } else {
      setNoDelayOnListener(m.socket.inet.port);
    }
    thread_ = std::thread([] {
      int rc = smfi_main();
      if (rc != MI_SUCCESS) log::error("milter: smfi_main returned an error");
    });
    log::info("milter: listening on %s", m.socket.spec.c_str());
    return Status();
  }

  // Waits for the messages under way to end (new ones are tempfailed meanwhile).
  static void drain() {
    g_draining = true;
    const int under_way = g_messages_under_way;
    if (under_way <= 0) return;
    log::info("milter: stopping: waiting up to %llds for %d message(s) under way",
              static_cast<long long>(kDrainLimit.count()), under_way);
    const auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
    while (g_messages_under_way > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (int left = g_messages_under_way; left > 0) {
      log::warning(
          "milter: stopping: %d message(s) still under way after %llds; the MTA answers "
          "them with its milter_default_action (tempfail in conf/postfix) once meshgate exits",
          left, static_cast<long long>(kDrainLimit.count()));
    }
  }

  static Status setSocketPermissions(const std::string& path, uint32_t mode,
                                     const std::string& group) {
    if (!group.empty()) {
      struct group* g = getgrnam(group.c_str());
      if (!g) return invalidArgument("milter.socket_group: no such group \"" + group + "\"");
      if (chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
        return unavailable("chown " + path + ": " + std::strerror(errno));
      }
    }
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return unavailable("chmod " + path + ": " + std::strerror(errno));
    }
    return Status();
  }

  MilterContext context_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Service> makeMilterService(MilterContext context) {
  return std::make_unique<LibmilterService>(std::move(context));
}

MilterContext makeMilterContext(
    std::function<std::shared_ptr<const policy::DecisionEngine>()> engine,
    std::function<std::shared_ptr<const mesh::PrivateKey>()> key,
    std::function<Status(const AuditRecord&)> audit,
    std::function<Status(const QuarantineRecord&)> quarantine,
    std::function<Status(const policy::SenderNotice&)> notify) {
  MilterContext c;
  c.notify = std::move(notify);
  c.audit = std::move(audit);
  c.quarantine = std::move(quarantine);
  c.engine = std::move(engine);
  c.gateway_key = std::move(key);
  c.now = [] {
    return static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
  };
  c.nonce = [] {
    auto bytes = mesh::randomBytes(12);
    return bytes.ok() ? base64UrlEncode(*bytes) : std::string("0");
  };
  c.body_budget = std::make_shared<BufferBudget>();
  return c;
}

}  // namespace meshgate::milter
