// policyd_service.cc - see policyd_service.h.
#include "policy/policyd/policyd_service.h"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <set>

#include "gateway/util/log.h"
#include "gateway/util/metrics.h"
#include "policy/listen_socket.h"

namespace meshgate::policyd {
namespace {

// Settings a connection reads when it starts; a reload changes them for new connections.
struct Limits {
  size_t max_request_bytes = 64 * 1024;
  Poco::Timespan idle_timeout{300, 0};
  int max_connections = 256;
};

class PolicydServer;

class Connection : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket, PolicydServer& server)
      : Poco::Net::TCPServerConnection(socket), server_(server) {}
  void run() override;

 private:
  PolicydServer& server_;
};

class Factory : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit Factory(PolicydServer& server) : server_(server) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& s) override {
    return new Connection(s, server_);
  }

 private:
  PolicydServer& server_;
};

class PolicydServer : public Service {
 public:
  explicit PolicydServer(EngineSource engine) : engine_(std::move(engine)) {}
  ~PolicydServer() override { stop(); }

  std::string name() const override { return "policyd"; }

  Status start(std::shared_ptr<const config::Config> config) override {
    applyLimits(*config, config->policyd.max_connections);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = false;
    }
    const auto& listen = config->policyd.listen;
    try {
      Poco::Net::SocketAddress addr(listen.host, listen.port);
      Poco::Net::ServerSocket socket;
      policy::listenExclusively(socket, addr, 64);
      // Postfix keeps one connection per smtpd process open, each needing its own thread: a
      // pool of our own (Poco's default pool holds 16), a few threads above max_connections
      // so that a connection over the limit is taken, told nothing and closed at once
      // (Connection::run) instead of waiting in the queue.
      const int threads = config->policyd.max_connections + kSpareThreads;
      pool_ = std::make_unique<Poco::ThreadPool>(2, threads, 60);
      pool_capacity_ = threads;
      auto* params = new Poco::Net::TCPServerParams;
      params->setMaxThreads(threads);
      params->setMaxQueued(64);
      // Also bounds how long stop() waits: a dispatcher thread that misses Poco's stop wake-up
      // sleeps out this idle time before it sees the server stopped (10 s stalled SIGTERM).
      params->setThreadIdleTime(Poco::Timespan(1, 0));
      server_ = std::make_unique<Poco::Net::TCPServer>(new Factory(*this), *pool_, socket, params);
      server_->start();
      listen_ = listen;
      log::info("policyd: listening on %s:%u", listen.host.c_str(), listen.port);
    } catch (const Poco::Exception& e) {
      // No "policyd:" prefix: the service host names the service that cannot start.
      return unavailable("cannot listen on " + listen.host + ":" + std::to_string(listen.port) +
                         ": " + e.displayText());
    }
    return Status();
  }

  Status reload(std::shared_ptr<const config::Config> config) override {
    // The dispatcher's thread maximum (TCPServerParams) is fixed at start. Admitting more
    // connections than it has threads for (less the spares that turn the excess away at
    // once) would queue Postfix's connections silently: the limit stays until a restart.
    const int most = pool_ ? pool_capacity_ - kSpareThreads : config->policyd.max_connections;
    applyLimits(*config, most);
    if (config->policyd.max_connections > most) {
      return failedPrecondition("policyd.max_connections raised to " +
                                std::to_string(config->policyd.max_connections) +
                                "; restart meshgate to serve more than " + std::to_string(most) +
                                " connections (the other settings are reloaded)");
    }
    if (config->policyd.listen.host != listen_.host || config->policyd.listen.port != listen_.port) {
      return failedPrecondition("policyd.listen changed; restart meshgate to listen on the new "
                                "address (still serving " + listen_.host + ":" +
                                std::to_string(listen_.port) + ")");
    }
    return Status();
  }

  void stop() override {
    if (!server_) return;
    {
      // Wake connections blocked in receive so their threads end now, not at idle timeout.
      // Under the same lock as enter(): a connection the dispatcher hands to a thread after
      // this point is refused there, so none can start waiting after the wake-up (one that
      // did held `meshgate policyd` for the whole idle timeout after SIGTERM).
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      for (auto* s : sockets_) {
        try {
          s->shutdown();
        } catch (const Poco::Exception&) {
        }
      }
    }
    server_->stop();
    server_.reset();
    if (pool_) pool_->joinAll();
    pool_.reset();
  }

  Limits limits() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limits_;
  }
  EngineSource engine() const { return engine_; }

  enum class Entry { kServe, kTooMany, kStopping };
  // Anything but kServe: the caller closes at once.
  Entry enter(Poco::Net::StreamSocket* s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return Entry::kStopping;
    if (static_cast<int>(sockets_.size()) >= limits_.max_connections) return Entry::kTooMany;
    sockets_.insert(s);
    return Entry::kServe;
  }
  void leave(Poco::Net::StreamSocket* s) {
    std::lock_guard<std::mutex> lock(mutex_);
    sockets_.erase(s);
  }

 private:
  void applyLimits(const config::Config& c, int most_connections) {
    std::lock_guard<std::mutex> lock(mutex_);
    limits_.max_request_bytes = c.policyd.max_request_bytes;
    limits_.idle_timeout = Poco::Timespan(c.policyd.idle_timeout.count() * 1000);
    limits_.max_connections = std::min(c.policyd.max_connections, most_connections);
  }

  static constexpr int kSpareThreads = 4;

  EngineSource engine_;
  std::unique_ptr<Poco::ThreadPool> pool_;  // outlives server_ (declared first)
  int pool_capacity_ = 0;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  config::Endpoint listen_;
  std::mutex mutex_;
  Limits limits_;
  std::set<Poco::Net::StreamSocket*> sockets_;
  bool stopping_ = false;  // guarded by mutex_
};

// Sends every byte of `replies` or says why not: a client that has read nothing for the idle
// timeout (its buffers full) is closed, which frees its connection slot.
bool sendReplies(Poco::Net::StreamSocket& s, const std::string& replies, const std::string& peer) {
  try {
    // Blocking, so Poco sends it all or throws.
    s.sendBytes(replies.data(), static_cast<int>(replies.size()));
    return true;
  } catch (const Poco::IOException& e) {
    // Poco reports the send timeout as the EAGAIN it is (not as a TimeoutException).
    if (e.code() != EAGAIN && e.code() != EWOULDBLOCK) throw;
    log::warning("policyd: %s: reads no replies (send stalled for the idle timeout); closing",
                 peer.c_str());
    return false;
  }
}

void Connection::run() {
  Poco::Net::StreamSocket& s = socket();
  std::string peer;
  try {
    peer = s.peerAddress().toString();
  } catch (const Poco::Exception&) {
    peer = "unknown";
  }
  switch (server_.enter(&s)) {
    case PolicydServer::Entry::kServe:
      break;
    case PolicydServer::Entry::kTooMany:
      log::warning("policyd: %s: too many connections, closing", peer.c_str());
      return;
    case PolicydServer::Entry::kStopping:
      log::info("policyd: %s: stopping, closing", peer.c_str());
      return;
  }
  Limits limits = server_.limits();
  PolicyStreamParser parser(limits.max_request_bytes);
  PolicydSession session(server_.engine());
  char buf[8192];
  try {
    s.setReceiveTimeout(limits.idle_timeout);
    // A client that sends requests but reads no replies fills the kernel's buffers, and then a
    // send without a timeout would hold this thread and its connection slot for good.
    s.setSendTimeout(limits.idle_timeout);
    s.setNoDelay(true);
    for (;;) {
      int n = s.receiveBytes(buf, sizeof buf);
      if (n <= 0) break;  // Postfix closed the connection
      parser.append(std::string_view(buf, static_cast<size_t>(n)));
      bool close = false;
      std::string replies;
      for (;;) {
        auto next = parser.next();
        if (!next.ok()) {
          metrics::counter("meshgate_errors_total",
                           "Decisions that failed, by front-end, stage and the action taken.",
                           {{"frontend", "policyd"}, {"stage", "parse"}, {"action", "disconnect"}})
              .inc();
          log::warning("policyd: %s: bad request: %s; closing without reply", peer.c_str(),
                       next.status().message().c_str());
          close = true;
          break;
        }
        if (!next->has_value()) break;
        auto reply = session.handle(**next);
        if (!reply.ok()) {
          metrics::counter("meshgate_errors_total",
                           "Decisions that failed, by front-end, stage and the action taken.",
                           {{"frontend", "policyd"}, {"stage", "decide"}, {"action", "disconnect"}})
              .inc();
          log::error("policyd: %s: cannot decide: %s; closing without reply (Postfix applies "
                     "smtpd_policy_service_default_action)",
                     peer.c_str(), reply.status().toString().c_str());
          close = true;
          break;
        }
        replies += *reply;
      }
      // Replies to pipelined requests go out in one write.
      if (!replies.empty() && !sendReplies(s, replies, peer)) break;
      if (close) break;
    }
  } catch (const Poco::TimeoutException&) {
    log::debug("policyd: %s: idle timeout", peer.c_str());
  } catch (const Poco::Exception& e) {
    log::debug("policyd: %s: %s", peer.c_str(), e.displayText().c_str());
  } catch (const std::exception& e) {
    log::error("policyd: %s: internal error: %s; closing", peer.c_str(), e.what());
  }
  server_.leave(&s);
}

}  // namespace

std::unique_ptr<Service> makePolicydService(EngineSource engine) {
  return std::make_unique<PolicydServer>(std::move(engine));
}

}  // namespace meshgate::policyd
