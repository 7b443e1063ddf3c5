// NAME
//   policyd_bench - load generator for Postfix SMTPD policy servers (issue 6 item 7).
//
// SYNOPSIS
//   policyd_bench --port P [--host 127.0.0.1] [--connections 10] [--seconds 5] [--warmup 1]
//                 [--label NAME] [--rate REQ_PER_S] [--threads]
//
// DESCRIPTION
//   Opens `connections` persistent TCP connections (as Postfix's smtpd processes keep them)
//   and sends RCPT requests on each one at a time, each waiting for its "action=..." reply, for
//   `seconds` after `warmup` seconds that are not counted. Closed-loop runs drive every
//   connection from one thread (poll), so the generator adds one runnable thread, not one per
//   connection, to the cores it shares with the server: with a thread each, on 2 cores, the
//   generator's own wake-ups showed up in the server's p99 (--threads restores that driver).
//   Open-loop runs (--rate) use a thread per connection. Requests
//   cycle through a fixed mix that both meshgate and the postfwd2 rule set in
//   bench/policyd_bench.sh answer the same way:
//     - 2 recipients per message (the same `instance`), 200 client addresses;
//     - 1 message in 10 is submitted by an authenticated user (sasl_username) to the blocked
//       domain rival.example: REJECT;
//     - the rest are inbound mail to local recipients: DUNNO;
//   and every message is counted against a per-client rate limit set too high to trigger.
//   Prints one line: label, connections, requests, req/s, latency p50/p90/p99/p99.9/max in
//   microseconds, and the replies by action, so a run that got the wrong answers shows it.
//   A connection that is closed or times out (10 s) is an error, counted and reported.
//
//   Without --rate the load is closed-loop: each connection sends its next request as soon as
//   the answer arrives, so the server runs saturated and latency is mostly queueing (Little's
//   law: connections / throughput). With --rate R the load is open-loop at R requests/s in
//   all, spread evenly over the connections, as a Postfix that is not saturating its policy
//   server sends them: request k of a connection is due at start + k * connections / R, and its
//   latency counts from that due time, not from when it was sent, so an answer that comes late
//   also delays the requests queued behind it (no coordinated omission).
//
// SECURITY
//   A test tool: connects where it is told; sends only synthetic requests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 10;
  double seconds = 5;
  double warmup = 1;
  std::string label = "server";
  double rate = 0;  // requests/s in all; 0: closed loop
  bool threads = false;  // closed loop on a thread per connection instead of one poll loop
};

struct Worker {
  std::vector<uint32_t> latencies_us;
  std::map<std::string, uint64_t> actions;
  uint64_t errors = 0;
};

std::string request(int conn, uint64_t n) {
  const uint64_t message = n / 2;  // two recipients per message
  const bool outbound = message % 10 == 3;
  std::string client = "192.0.2." + std::to_string(1 + (message * 7 + conn) % 200);
  std::string instance = std::to_string(conn) + "." + std::to_string(message);
  std::string r = "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n";
  r += "client_address=" + client + "\nclient_name=unknown\nreverse_client_name=unknown\n";
  r += "helo_name=client" + std::to_string(conn) + ".example.net\nqueue_id=\n";
  r += "instance=" + instance + "\nsize=2048\nrecipient_count=0\n";
  if (outbound) {
    r += "sasl_method=PLAIN\nsasl_username=user" + std::to_string(message % 50) +
         "\nsender=user" + std::to_string(message % 50) + "@example.com\n";
    r += "recipient=someone" + std::to_string(n % 2) + "@rival.example\n";
  } else {
    r += "sasl_method=\nsasl_username=\nsender=sender" + std::to_string(message % 1000) +
         "@partner" + std::to_string(message % 37) + ".example\n";
    r += "recipient=user" + std::to_string((n * 13) % 100) + "@example.com\n";
  }
  r += "stress=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\nencryption_protocol=\n"
       "encryption_cipher=\nencryption_keysize=0\netrn_domain=\npolicy_context=\n"
       "server_address=127.0.0.1\nserver_port=25\n\n";
  return r;
}

int connectTo(const Options& o) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// The action word of a complete reply at the front of `buffer` (removed), "" when the reply
// is not complete yet, "!" when it is not an action.
std::string takeReply(std::string& buffer) {
  size_t end = buffer.find("\n\n");
  if (end == std::string::npos) return "";
  std::string reply = buffer.substr(0, end);
  buffer.erase(0, end + 2);
  if (reply.rfind("action=", 0) != 0) return "!";
  std::string action = reply.substr(7, reply.find_first_of(" \n", 7) - 7);
  return action.empty() ? "?" : action;
}

bool sendAll(int fd, const std::string& req) {
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Sends one request and reads its reply ("...\n\n"); the action word, or "" on error.
std::string exchange(int fd, const std::string& req, std::string& buffer) {
  if (!sendAll(fd, req)) return "";
  for (;;) {
    std::string action = takeReply(buffer);
    if (action == "!") return "";
    if (!action.empty()) return action;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) return "";
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return "";
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

// Closed loop, every connection on this thread: returns the measured seconds.
double runPollLoop(const Options& o, const std::vector<int>& fds, std::vector<Worker>& workers) {
  struct Conn {
    std::string buffer;
    uint64_t n = 0;
    Clock::time_point sent;
    bool dead = false;
  };
  std::vector<Conn> conns(fds.size());
  std::vector<pollfd> pfds;
  for (size_t c = 0; c < fds.size(); ++c) {
    pfds.push_back(pollfd{fds[c], POLLIN, 0});
    conns[c].sent = Clock::now();
    if (!sendAll(fds[c], request(static_cast<int>(c), conns[c].n++))) conns[c].dead = true;
  }
  const auto begin = Clock::now();
  const auto measure_from = begin + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o.warmup));
  const auto measure_to = measure_from + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(o.seconds));
  for (;;) {
    const auto now = Clock::now();
    if (now >= measure_to) break;
    size_t alive = 0;
    for (size_t c = 0; c < conns.size(); ++c) {
      pfds[c].fd = conns[c].dead ? -1 : fds[c];
      alive += conns[c].dead ? 0 : 1;
    }
    if (alive == 0) break;
    if (poll(pfds.data(), pfds.size(), 10000) <= 0) {
      for (size_t c = 0; c < conns.size(); ++c) {
        if (conns[c].dead) continue;
        ++workers[c].errors;  // 10 s without a reply
        conns[c].dead = true;
      }
      break;
    }
    for (size_t c = 0; c < conns.size(); ++c) {
      if (conns[c].dead || (pfds[c].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char chunk[4096];
      ssize_t n = recv(fds[c], chunk, sizeof chunk, 0);
      if (n <= 0) {
        ++workers[c].errors;
        conns[c].dead = true;
        continue;
      }
      conns[c].buffer.append(chunk, static_cast<size_t>(n));
      std::string action = takeReply(conns[c].buffer);
      if (action.empty()) continue;
      const auto t1 = Clock::now();
      if (action == "!") {
        ++workers[c].errors;
        conns[c].dead = true;
        continue;
      }
      if (conns[c].sent >= measure_from && t1 <= measure_to) {
        workers[c].latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(t1 - conns[c].sent).count()));
        ++workers[c].actions[action];
      }
      conns[c].sent = Clock::now();
      if (!sendAll(fds[c], request(static_cast<int>(c), conns[c].n++))) {
        ++workers[c].errors;
        conns[c].dead = true;
      }
    }
  }
  return o.seconds;
}

uint32_t percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// A thread per connection (open loop, or --threads): returns the measured seconds.
double runThreads(const Options& o, const std::vector<int>& fds, std::vector<Worker>& workers) {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      Worker& w = workers[static_cast<size_t>(c)];
      w.latencies_us.reserve(1 << 20);
      std::string buffer;
      uint64_t n = 0;
      // Open loop: this connection's requests are due every `interval`, the connections
      // staggered across one interval.
      const auto interval = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(o.rate > 0 ? o.connections / o.rate : 0));
      auto due = Clock::now() + interval * c / o.connections;
      while (!stop.load(std::memory_order_relaxed)) {
        std::string req = request(c, n++);
        auto t0 = Clock::now();
        if (o.rate > 0) {
          if (due > t0) std::this_thread::sleep_until(due);
          t0 = due;
          due += interval;
        }
        std::string action = exchange(fds[static_cast<size_t>(c)], req, buffer);
        auto t1 = Clock::now();
        if (action.empty()) {
          ++w.errors;
          return;  // the connection is unusable
        }
        if (!measuring.load(std::memory_order_relaxed)) continue;
        w.latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
        ++w.actions[action];
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  measuring = true;
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  measuring = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& t : threads) t.join();
  return elapsed;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") return false;
    if (a == "--threads") {
      o.threads = true;
      continue;
    }
    if ((a == "--port" || a == "--host" || a == "--connections" || a == "--seconds" ||
         a == "--warmup" || a == "--label" || a == "--rate") && !(v = value())) {
      std::fprintf(stderr, "policyd_bench: %s needs a value\n", a.c_str());
      return false;
    }
    if (a == "--port") o.port = std::atoi(v);
    else if (a == "--host") o.host = v;
    else if (a == "--connections") o.connections = std::atoi(v);
    else if (a == "--seconds") o.seconds = std::atof(v);
    else if (a == "--warmup") o.warmup = std::atof(v);
    else if (a == "--label") o.label = v;
    else if (a == "--rate") o.rate = std::atof(v);
    else {
      std::fprintf(stderr, "policyd_bench: unknown argument %s\n", a.c_str());
      return false;
    }
  }
  return o.port > 0 && o.connections > 0 && o.seconds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: policyd_bench --port P [--host 127.0.0.1] [--connections 10] "
                 "[--seconds 5] [--warmup 1] [--label NAME] [--rate REQ_PER_S] [--threads]\n");
    return 2;
  }
  std::vector<Worker> workers(static_cast<size_t>(o.connections));
  std::vector<int> fds;
  for (int c = 0; c < o.connections; ++c) {
    int fd = connectTo(o);
    if (fd < 0) {
      std::fprintf(stderr, "policyd_bench: cannot connect to %s:%d: %s\n", o.host.c_str(), o.port,
                   std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  double elapsed = 0;
  if (o.rate <= 0 && !o.threads) {
    elapsed = runPollLoop(o, fds, workers);
  } else {
    elapsed = runThreads(o, fds, workers);
  }
  for (int fd : fds) close(fd);

  std::vector<uint32_t> all;
  std::map<std::string, uint64_t> actions;
  uint64_t errors = 0;
  for (auto& w : workers) {
    all.insert(all.end(), w.latencies_us.begin(), w.latencies_us.end());
    for (const auto& [a, n] : w.actions) actions[a] += n;
    errors += w.errors;
  }
  std::sort(all.begin(), all.end());
  std::string mix;
  for (const auto& [a, n] : actions) {
    mix += (mix.empty() ? "" : " ") + a + "=" + std::to_string(n);
  }
  std::printf("%-10s conns=%d requests=%zu seconds=%.2f req_per_s=%.0f p50_us=%u p90_us=%u "
              "p99_us=%u p999_us=%u max_us=%u errors=%llu actions: %s\n",
              o.label.c_str(), o.connections, all.size(), elapsed,
              static_cast<double>(all.size()) / elapsed, percentile(all, 0.50),
              percentile(all, 0.90), percentile(all, 0.99), percentile(all, 0.999),
              all.empty() ? 0 : all.back(), static_cast<unsigned long long>(errors), mix.c_str());
  return errors == 0 ? 0 : 1;
}
