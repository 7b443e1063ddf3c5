// NAME
//   mesh_service_bench - requests per second and p99 latency of the Mesh service over
//   keep-alive HTTPS (Hello, Get by Account with 100,000 accounts in the store), against a
//   trivial Poco HTTPRequestHandler on the same server settings in the same run; SQLite vs
//   PostgreSQL.
//
// SYNOPSIS
//   mesh_service_bench [--accounts N] [--seconds S] [--rounds R] [--connections C] [--pg DSN]
//
// DESCRIPTION
//   For each backend: opens the store on a fresh database and bulk-loads N accounts (behind
//   the store's back, one transaction) that all carry a copy of one real account profile
//   (signed by its offline key, countersigned by the service key: the size Get returns). Then
//   starts, one after the other, on 127.0.0.1 with the same TLS context (the service's
//   self-signed P-256 certificate, TLS 1.2+), the same worker thread count and keep-alive:
//     baseline   Poco::Net::HTTPServer with a handler that reads the body and answers a
//                fixed {"HelloResponse":{"Status":201}}
//     meshgate   the Mesh service (policy/mesh_service.h), the real thing
//   and drives each, in R interleaved rounds (baseline, Hello, Get, baseline, ...) of S seconds,
//   from C client threads, each one keep-alive
//   HTTPSClientSession (TLS 1.3), POSTing the request and reading the whole response:
//     Hello            {"HelloRequest":{}}
//     Get by Account   {"GetRequest":{"Account":"u<random>@example.com"}} (every answer checked
//                      to be 201 with the profile)
//   Reports the median round's requests/s, p50 and p99 (exact, from every request's latency in
//   that round), the ratio to the baseline's median, and every round's requests/s. Client and server share the machine: the absolute numbers include the clients'
//   own TLS and parsing cost, the ratio compares like with like.
//   PostgreSQL uses its own schema mesh_service_bench in the database of --pg or
//   MESHGATE_TEST_PG_DSN and is skipped when neither is set.
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <functional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "gateway/config/config_loader.h"
#include "gateway/mesh/profile.h"
#include "gateway/policy/engine.h"
#include "gateway/util/log.h"
#include "policy/mesh/http_server.h"
#include "policy/mesh/tls_files.h"
#include "policy/mesh_service.h"
#include "policy/store/postgres_store.h"
#include "policy/store/sqlite_store.h"

namespace {

using meshgate::Store;
using Clock = std::chrono::steady_clock;

int g_accounts = 100000;
double g_seconds = 1.0;
int g_connections = 4;
int g_rounds = 3;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "mesh_service_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string g_dir;

// ---- the account profile every loaded account carries -----------------------------------------

struct Profile {
  std::string text;
  std::string udf;
};

Profile makeProfile(const meshgate::mesh::PrivateKey& service_key) {
  using meshgate::mesh::KeyType;
  using meshgate::mesh::PrivateKey;
  namespace model = meshgate::mesh::model;
  auto gen = [](KeyType t) {
    auto k = PrivateKey::generate(t);
    if (!k.ok()) die(k.status().toString());
    return *k;
  };
  const model::DateTime now(std::chrono::seconds(std::time(nullptr)));
  auto service = meshgate::mesh::makeServiceProfile(service_key, now);
  if (!service.ok()) die(service.status().toString());
  meshgate::mesh::AccountProfileParams p{{"u0@example.com"},
                                         gen(KeyType::kEd25519),
                                         {gen(KeyType::kEd25519).publicKey()},
                                         gen(KeyType::kX25519).publicKey(),
                                         gen(KeyType::kEd25519).publicKey(),
                                         now};
  auto profile = meshgate::mesh::makeAccountProfile(p, *service, service_key);
  if (!profile.ok()) die(profile.status().toString());
  return {meshgate::mesh::serializeDareEnvelope(profile->envelope), profile->udf};
}

// ---- load generator -------------------------------------------------------------------------------

struct Run {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t requests = 0;
};

Run drive(int port, const std::function<std::string(std::mt19937_64&)>& body_for,
          const std::string& expect_in_body) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(g_connections);
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  std::string failure;
  std::mutex failure_mutex;
  const auto start = Clock::now();
  for (int t = 0; t < g_connections; ++t) {
    clients.emplace_back([&, t] {
      Poco::Net::Context::Ptr ctx = new Poco::Net::Context(
          Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE, 9,
          false);
      Poco::Net::HTTPSClientSession session("127.0.0.1", static_cast<uint16_t>(port), ctx);
      session.setKeepAlive(true);
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 17);
      auto& mine = latencies[static_cast<size_t>(t)];
      mine.reserve(200000);
      while (!stop.load(std::memory_order_relaxed)) {
        const std::string body = body_for(rng);
        const auto began = Clock::now();
        try {
          Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, "/.well-known/mmm/",
                                     Poco::Net::HTTPMessage::HTTP_1_1);
          req.setHost("example.com");
          req.setKeepAlive(true);
          req.setContentType("application/json");
          req.setContentLength(static_cast<std::streamsize>(body.size()));
          session.sendRequest(req) << body;
          Poco::Net::HTTPResponse resp;
          std::istream& in = session.receiveResponse(resp);
          std::string answer;
          Poco::StreamCopier::copyToString(in, answer);
          if (resp.getStatus() != 201 || answer.find(expect_in_body) == std::string::npos) {
            std::lock_guard<std::mutex> lock(failure_mutex);
            failure = std::to_string(resp.getStatus()) + " " + answer.substr(0, 200);
            failures++;
            continue;
          }
        } catch (const Poco::Exception& e) {
          std::lock_guard<std::mutex> lock(failure_mutex);
          failure = e.displayText();
          failures++;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - began).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(g_seconds));
  stop = true;
  for (auto& c : clients) c.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (failures > 0) die(std::to_string(failures.load()) + " failed requests, e.g. " + failure);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  if (all.empty()) die("no request completed");
  std::sort(all.begin(), all.end());
  Run r;
  r.requests = static_cast<int64_t>(all.size());
  r.rps = static_cast<double>(all.size()) / elapsed;
  r.p50_ms = all[all.size() / 2];
  r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

// ---- the trivial Poco handler (baseline) --------------------------------------------------------

class TrivialHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    static const std::string kAnswer = "{\"HelloResponse\":{\"Status\":201}}";
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(201));
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(kAnswer.size()));
    response.setKeepAlive(true);
    response.send() << kAnswer;
  }
};

class TrivialFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new TrivialHandler;
  }
};

Run median(std::vector<Run> runs) {
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.rps < b.rps; });
  return runs[runs.size() / 2];
}

void report(const char* what, const Run& r, const Run& base, const std::vector<Run>& rounds) {
  std::printf("  %-32s %7.0f req/s  p50 %5.2f ms  p99 %6.2f ms  ratio %.2f  (rounds:", what,
              r.rps, r.p50_ms, r.p99_ms, r.rps / base.rps);
  for (const Run& x : rounds) std::printf(" %.0f", x.rps);
  std::printf(" req/s)\n");
}

// ---- one backend --------------------------------------------------------------------------------

void benchBackend(const std::string& name, Store& store,
                  std::shared_ptr<const meshgate::config::Config> config,
                  std::shared_ptr<const meshgate::mesh::PrivateKey> service_key) {
  meshgate::SystemClock clock;
  auto engine = std::make_shared<meshgate::policy::DecisionEngine>(config, store, clock);
  const auto& m = config->mesh_service;

  // Baseline: Poco's own HTTPS server, same context, threads, queue and keep-alive.
  auto ctx = meshgate::meshsvc::makeServerTlsContext(m.tls.certificate, m.tls.private_key);
  if (!ctx.ok()) die(ctx.status().toString());
  Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 128, *ctx);
  const int base_port = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(m.threads);
  params->setMaxQueued(m.max_connections + 16);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // unlimited, like the Mesh service
  params->setKeepAliveTimeout(Poco::Timespan(
      std::chrono::duration_cast<std::chrono::microseconds>(m.keep_alive_timeout).count()));
  params->setTimeout(Poco::Timespan(
      std::chrono::duration_cast<std::chrono::microseconds>(m.request_timeout).count()));
  Poco::ThreadPool pool(2, m.threads + 2, 60);
  Poco::Net::HTTPServer server(new TrivialFactory, pool, socket, params);
  server.start();

  uint16_t port = 0;
  meshgate::policy::MeshServiceEnv env;
  env.store = [&store] { return &store; };
  env.clock = &clock;
  env.engine = [engine] { return engine; };
  env.service_key = [service_key] { return service_key; };
  env.listening = [&port](uint16_t p) { port = p; };
  auto service = meshgate::policy::makeMeshService(std::move(env));
  auto c = std::make_shared<meshgate::config::Config>(*config);
  c->mesh_service.listen.port = 0;
  meshgate::Status st = service->start(c);
  if (!st.ok()) die(st.toString());

  // Rounds of baseline, Hello, Get interleaved, so that the load of a shared machine drifting
  // during the run touches all three alike; each is reported by its median round.
  const auto hello_body = [](std::mt19937_64&) { return std::string("{\"HelloRequest\":{}}"); };
  const auto get_body = [](std::mt19937_64& rng) {
    return "{\"GetRequest\":{\"Account\":\"u" +
           std::to_string(rng() % static_cast<uint64_t>(g_accounts)) + "@example.com\"}}";
  };
  std::vector<Run> base, hello, get;
  for (int round = 0; round < g_rounds; ++round) {
    base.push_back(drive(base_port, hello_body, "HelloResponse"));
    hello.push_back(drive(port, hello_body, "HelloResponse"));
    get.push_back(drive(port, get_body, "\"DataItems\""));
  }
  service->stop();
  server.stop();
  pool.joinAll();
  std::printf("%s, %d accounts, %d keep-alive TLS connections, %d rounds of %.1f s, server "
              "threads %d (median round; ratio = req/s over the baseline's median):\n",
              name.c_str(), g_accounts, g_connections, g_rounds, g_seconds, m.threads);
  const Run b = median(base);
  report("baseline (trivial Poco handler)", b, b, base);
  report("Hello", median(hello), b, hello);
  report("Get by Account", median(get), b, get);
}

// ---- loading --------------------------------------------------------------------------------------

void sqliteExec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    die(std::string(sql) + ": " + (error ? error : "?"));
  }
}

void loadSqlite(const std::string& path, const Profile& profile) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    die("sqlite open");
  }
  sqlite3_busy_timeout(db, 5000);
  sqliteExec(db, "BEGIN IMMEDIATE");
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO accounts (address, ingress_policy, display_name, profile_udf, "
                     "profile, created, updated) VALUES (?1, '', '', ?2, ?3, 0, 0)",
                     -1, &insert, nullptr);
  for (int i = 0; i < g_accounts; ++i) {
    const std::string address = "u" + std::to_string(i) + "@example.com";
    sqlite3_bind_text(insert, 1, address.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, profile.udf.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, profile.text.c_str(), -1, SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) die(sqlite3_errmsg(db));
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  sqliteExec(db, "COMMIT");
  sqlite3_close_v2(db);
}

PGresult* pgExec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die(sql + ": " + PQresultErrorMessage(r));
  return r;
}

void loadPostgres(const std::string& dsn, const Profile& profile) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) die(PQerrorMessage(conn));
  const std::string n = std::to_string(g_accounts);
  const char* values[] = {profile.udf.c_str(), profile.text.c_str()};
  PGresult* r = PQexecParams(conn,
                             ("INSERT INTO accounts (address, ingress_policy, display_name, "
                              "profile_udf, profile, created, updated) SELECT 'u' || (g - 1) || "
                              "'@example.com', '', '', $1, $2, 0, 0 FROM generate_series(1, " +
                              n + ") g")
                                 .c_str(),
                             2, nullptr, values, nullptr, nullptr, 0);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) die(PQresultErrorMessage(r));
  PQclear(r);
  PQclear(pgExec(conn, "ANALYZE"));
  PQfinish(conn);
}

std::shared_ptr<const meshgate::config::Config> benchConfig(const std::string& store_yaml) {
  const std::string yaml =
      "gateway:\n  node: bench\n  domains: [example.com]\n  data_dir: " + g_dir +
      "\n  key_file: " + g_dir + "/gateway.key\n" + store_yaml +
      "milter:\n  enabled: false\npolicyd:\n  enabled: false\n"
      "mesh_service:\n  max_connections_per_client: " +
      std::to_string(g_connections + 8) + "\n  tls:\n    certificate: " + g_dir +
      "/tls/service.crt\n    private_key: " + g_dir + "/tls/service.key\n";
  auto loaded = meshgate::config::loadConfigString(yaml, "mesh_service_bench.yaml");
  if (!loaded.ok()) die(loaded.errors.front());
  return loaded.config;
}

}  // namespace

int main(int argc, char** argv) {
  std::string pg;
  if (const char* env = std::getenv("MESHGATE_TEST_PG_DSN")) pg = env;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--accounts" && i + 1 < argc) {
      g_accounts = std::atoi(argv[++i]);
    } else if (arg == "--seconds" && i + 1 < argc) {
      g_seconds = std::atof(argv[++i]);
    } else if (arg == "--rounds" && i + 1 < argc) {
      g_rounds = std::atoi(argv[++i]);
    } else if (arg == "--connections" && i + 1 < argc) {
      g_connections = std::atoi(argv[++i]);
    } else if (arg == "--pg" && i + 1 < argc) {
      pg = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: mesh_service_bench [--accounts N] [--seconds S] [--rounds R] "
                   "[--connections C] [--pg DSN]\n");
      return 2;
    }
  }
  if (g_accounts < 1 || g_connections < 1 || g_rounds < 1 || g_seconds <= 0) die("bad arguments");
  std::signal(SIGPIPE, SIG_IGN);  // as meshgate's service host does
  // Warnings and errors to stderr; the per-request info lines would only measure syslog.
  meshgate::log::setSinkForTesting([](meshgate::log::Level level, const std::string& line) {
    if (level >= meshgate::log::Level::kWarning) std::fprintf(stderr, "%s\n", line.c_str());
  });
  char dir_template[] = "/tmp/mesh_service_bench.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (!dir) die("mkdtemp");
  g_dir = dir;
  Poco::Net::initializeSSL();

  auto key = meshgate::mesh::PrivateKey::generate(meshgate::mesh::KeyType::kEd25519);
  if (!key.ok()) die(key.status().toString());
  auto service_key = std::make_shared<const meshgate::mesh::PrivateKey>(*key);
  const Profile profile = makeProfile(*service_key);
  std::printf("profile: %zu bytes of DARE JSON per account\n", profile.text.size());

  {
    auto config = benchConfig("store:\n  sqlite:\n    path: " + g_dir + "/bench.db\n");
    if (auto st = meshgate::meshsvc::ensureTlsFiles(config->mesh_service); !st.ok()) {
      die(st.toString());
    }
    auto store = meshgate::store::openSqliteStore({g_dir + "/bench.db", std::chrono::seconds(5), 0});
    if (!store.ok()) die(store.status().toString());
    const auto load_start = Clock::now();
    loadSqlite(g_dir + "/bench.db", profile);
    std::printf("sqlite: loaded %d accounts in %.1f s\n", g_accounts,
                std::chrono::duration<double>(Clock::now() - load_start).count());
    benchBackend("sqlite", **store, config, service_key);
  }
  if (pg.empty()) {
    std::printf("postgresql: SKIPPED (no --pg and no MESHGATE_TEST_PG_DSN)\n");
  } else {
    PGconn* admin = PQconnectdb(pg.c_str());
    if (PQstatus(admin) != CONNECTION_OK) die(PQerrorMessage(admin));
    PQclear(pgExec(admin, "SET client_min_messages = warning"));
    PQclear(pgExec(admin, "DROP SCHEMA IF EXISTS mesh_service_bench CASCADE"));
    PQclear(pgExec(admin, "CREATE SCHEMA mesh_service_bench"));
    const std::string dsn = pg + " options='-c search_path=mesh_service_bench'";
    meshgate::store::PostgresStoreOptions options;
    options.dsn = dsn;
    options.pool_size = 8;
    auto store = meshgate::store::openPostgresStore(options);
    if (!store.ok()) die(store.status().toString());
    const auto load_start = Clock::now();
    loadPostgres(dsn, profile);
    std::printf("postgresql: loaded %d accounts in %.1f s\n", g_accounts,
                std::chrono::duration<double>(Clock::now() - load_start).count());
    auto config = benchConfig("");  // only its mesh_service section and policies are used
    benchBackend("postgresql (" + pg + ")", **store, config, service_key);
    store->reset();
    PQclear(pgExec(admin, "DROP SCHEMA mesh_service_bench CASCADE"));
    PQfinish(admin);
  }
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
  return 0;
}
