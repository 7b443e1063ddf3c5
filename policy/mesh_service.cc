// mesh_service.cc - see mesh_service.h: the Service that ties the HTTPS server to the Mesh
// dispatcher, with the Runtime's store, clock, engine and key.
#include "policy/mesh_service.h"

#include <Poco/Net/IPAddress.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <span>

#include "gateway/mesh/profile.h"
#include "gateway/util/log.h"
#include "gateway/util/metrics.h"
#include "meshgate/mesh_model.h"
#include "policy/mesh/access_check.h"
#include "policy/mesh/http_server.h"
#include "policy/mesh/mesh_dispatcher.h"
#include "policy/mesh/quarantine_page.h"
#include "policy/mesh/status_table.h"
#include "policy/mesh/tls_files.h"
#include "policy/mesh/wire.h"

namespace meshgate::policy {
namespace {

using meshsvc::HttpRequest;
using meshsvc::HttpResponse;

meshsvc::HttpLimits limitsOf(const config::MeshServiceSection& m) {
  meshsvc::HttpLimits l;
  l.max_body_bytes = m.max_body_bytes;
  l.max_connections = m.max_connections;
  l.max_connections_per_client = m.max_connections_per_client;
  l.request_timeout = m.request_timeout;
  l.keep_alive_timeout = m.keep_alive_timeout;
  return l;
}

// The configuration loader refuses plain_http on another address; checked again here because
// a Config can also be built in code.
bool isLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  Poco::Net::IPAddress ip;
  return Poco::Net::IPAddress::tryParse(host, ip) && ip.isLoopback();
}

HttpResponse jsonResponse(const nlohmann::json& body, int status) {
  HttpResponse r;
  r.status = status;
  r.body = mesh::model::dumpJson(body);
  return r;
}

// The transaction as a metric label: only the names of the schema's requests, so that a
// client cannot mint label values (and series) with made-up type names.
std::string transactionLabel(const std::string& type) {
  if (type.empty()) return "none";
  auto id = mesh::model::typeIdFromName(type);
  if (id && mesh::model::inheritsFrom(*id, mesh::model::TypeId::kMeshRequest)) return type;
  return "other";
}

void countRequest(const std::string& transaction, int status) {
  metrics::counter("meshgate_mesh_requests_total",
                   "Mesh service requests, by transaction and response status (transaction "
                   "\"http\": refused by the HTTP layer before any transaction was read).",
                   {{"transaction", transaction}, {"status", std::to_string(status)}})
      .inc();
}

metrics::Histogram& requestLatency() {
  static metrics::Histogram& h = metrics::histogram(
      "meshgate_request_seconds", "Time to answer one request, by front-end.",
      {{"frontend", "mesh"}});
  return h;
}

class MeshService : public Service {
 public:
  explicit MeshService(MeshServiceEnv env) : env_(std::move(env)) {}
  ~MeshService() override { stop(); }

  std::string name() const override { return "policy"; }

  Status start(std::shared_ptr<const config::Config> config) override {
    auto settings = meshsvc::makeDispatcherSettings(config);
    if (!settings.ok()) return settings.status();
    const auto& m = config->mesh_service;
    if (m.plain_http && !isLoopbackHost(m.listen.host)) {
      return failedPrecondition("mesh_service.plain_http is only allowed on a loopback listen "
                                "address (not " + m.listen.host + "); use TLS");
    }
    if (!m.plain_http) MESHGATE_RETURN_IF_ERROR(meshsvc::ensureTlsFiles(m));
    makeServiceProfile();

    meshsvc::DispatcherEnv env;
    store_ = env_.store ? env_.store() : nullptr;
    if (store_ == nullptr || env_.clock == nullptr) return internalError("mesh service: no store");
    env.store = store_;
    env.clock = env_.clock;
    env.engine = env_.engine;
    env.service_key = env_.service_key;
    if (env_.resolver) {
      env.verify_remote_sender = [resolver = env_.resolver](std::string_view claimed,
                                                            const mesh::PublicKey& signer)
          -> Result<meshsvc::VerifiedSender> {
        std::shared_ptr<ProfileResolver> r = resolver();
        if (!r) return meshsvc::VerifiedSender{};
        return verifyRemoteSender(*r, claimed, signer);
      };
    }
    env.service_profile = [this]() -> std::optional<mesh::DareEnvelope> {
      std::lock_guard<std::mutex> lock(mutex_);
      return service_profile_;
    };
    dispatcher_ = std::make_unique<meshsvc::MeshDispatcher>(std::move(env));
    dispatcher_->setSettings(*settings);

    meshsvc::HttpServerOptions options;
    options.name = "mesh";
    options.host = m.listen.host;
    options.port = m.listen.port;
    options.tls = !m.plain_http;
    options.certificate_file = m.tls.certificate;
    options.private_key_file = m.tls.private_key;
    options.threads = m.threads;
    options.limits = limitsOf(m);
    http_ = std::make_unique<meshsvc::HttpServer>(
        options, [this](const HttpRequest& r) { return handle(r); },
        [](const Status& st) {
          const int status = meshsvc::meshStatusFor(st.code()).status;
          countRequest("http", status);
          return jsonResponse(meshsvc::meshErrorBody(st), status);
        });
    Status st = http_->start();
    if (!st.ok()) {
      http_.reset();
      dispatcher_.reset();
      return st;
    }
    listen_ = m;
    setConfig(config);
    if (env_.listening) env_.listening(http_->port());
    log::info("mesh: serving %s://%s:%u%s for %s (%zu administrator key(s), replay window %llds)",
              m.plain_http ? "http" : "https", m.listen.host.c_str(), http_->port(),
              std::string(meshsvc::kWellKnownPath).c_str(), (*settings)->service_name.c_str(),
              (*settings)->admin_keys.size(),
              static_cast<long long>((*settings)->replay_window_seconds));
    return Status();
  }

  Status reload(std::shared_ptr<const config::Config> config) override {
    if (!dispatcher_ || !http_) return Status();
    auto settings = meshsvc::makeDispatcherSettings(config);
    if (!settings.ok()) {
      return settings.status().withContext("mesh service keeps its previous settings");
    }
    dispatcher_->setSettings(*settings);
    setConfig(config);
    const auto& m = config->mesh_service;
    Status limits = http_->setLimits(limitsOf(m));
    if (m.listen.host != listen_.listen.host || m.listen.port != listen_.listen.port ||
        m.plain_http != listen_.plain_http || m.tls.certificate != listen_.tls.certificate ||
        m.tls.private_key != listen_.tls.private_key || m.threads != listen_.threads) {
      return failedPrecondition(
          std::string("mesh_service.listen, plain_http, tls or threads changed") +
          (limits.ok() ? "" : " and max_connections was raised") +
          "; restart meshgate to apply (still serving " + listen_.listen.host + ":" +
          std::to_string(listen_.listen.port) + ")");
    }
    if (!limits.ok()) return limits.withContext("the other mesh_service settings are applied");
    return Status();
  }

  void stop() override {
    if (http_) http_->stop();
    http_.reset();
    dispatcher_.reset();
  }

 private:
  // The endpoints. `path` ending in '/' is a prefix (and also matches without the slash).
  // Adding an endpoint is one row here and one member function.
  struct Route {
    std::string_view path;
    std::string_view methods;  // comma-separated; HEAD is answered like GET without a body
    HttpResponse (MeshService::*serve)(const HttpRequest&);
  };
  static std::span<const Route> routes() {
    static constexpr Route kRoutes[] = {
        {meshsvc::kWellKnownPath, "POST", &MeshService::serveMesh},
        {"/healthz", "GET,HEAD", &MeshService::serveHealth},
        {"/metrics", "GET,HEAD", &MeshService::serveMetrics},
        {meshsvc::kQuarantineConfirmPath, "GET,HEAD,POST", &MeshService::serveQuarantine},
        {meshsvc::kAccessCheckPath, "GET,POST", &MeshService::serveAccessCheck},
    };
    return kRoutes;
  }

  static bool routeMatches(std::string_view route, const std::string& path) {
    if (!route.ends_with('/')) return path == route;
    return path.starts_with(route) || path == route.substr(0, route.size() - 1);
  }

  static bool allows(std::string_view methods, const std::string& method) {
    while (!methods.empty()) {
      auto comma = methods.find(',');
      if (methods.substr(0, comma) == method) return true;
      if (comma == std::string_view::npos) break;
      methods.remove_prefix(comma + 1);
    }
    return false;
  }

  void makeServiceProfile() {
    auto key = env_.service_key ? env_.service_key() : nullptr;
    if (!key) return;
    auto profile = mesh::makeServiceProfile(
        *key, mesh::model::DateTime(std::chrono::seconds(env_.clock->now())));
    std::lock_guard<std::mutex> lock(mutex_);
    if (profile.ok()) {
      service_profile_ = profile->envelope;
      log::info("mesh: service profile %s", profile->udf.c_str());
    } else {
      log::warning("mesh: cannot sign the service profile: %s (Hello will not carry it)",
                   profile.status().toString().c_str());
    }
  }

  HttpResponse handle(const HttpRequest& request) {
    for (const Route& route : routes()) {
      if (!routeMatches(route.path, request.path)) continue;
      if (!allows(route.methods, request.method)) return methodNotAllowed(route.methods);
      HttpResponse r = (this->*route.serve)(request);
      if (request.method == "HEAD") r.body.clear();
      return r;
    }
    return jsonResponse(meshsvc::meshErrorBody(notFound("no such endpoint (the Mesh service "
                                                        "is at /.well-known/mmm/)")),
                        meshsvc::meshStatusFor(StatusCode::kNotFound).status);
  }

  HttpResponse serveMesh(const HttpRequest& request) {
    metrics::ScopedTimer timer(requestLatency());
    meshsvc::DispatchResult d = dispatcher_->dispatch(request.body, {request.peer});
    countRequest(transactionLabel(d.transaction), d.status);
    if (d.status >= 400) {
      log::info("mesh: %s %s -> %d", request.peer.c_str(),
                d.transaction.empty() ? "(no transaction)" : log::sanitize(d.transaction).c_str(),
                d.status);
    } else {
      log::debug("mesh: %s %s -> %d", request.peer.c_str(), d.transaction.c_str(), d.status);
    }
    HttpResponse r;
    r.status = d.status;
    r.body = std::move(d.body);
    return r;
  }

  // 200 when the store answers a round trip, else its error (503 for a store that is down).
  HttpResponse serveHealth(const HttpRequest&) {
    Status ping = store_->ping();
    if (ping.ok()) return jsonResponse({{"Status", "ok"}}, 200);
    log::warning("mesh: health check: the store does not answer: %s", ping.toString().c_str());
    return jsonResponse(meshsvc::meshErrorBody(ping), meshsvc::meshStatusFor(ping.code()).status);
  }

  HttpResponse serveQuarantine(const HttpRequest& request) {
    meshsvc::QuarantinePageEnv page;
    page.store = store_;
    page.gateway_key = env_.service_key ? env_.service_key() : nullptr;
    page.now = env_.clock->now();
    page.node = currentConfig()->gateway.node;
    return meshsvc::serveQuarantineConfirm(request, page);
  }

  HttpResponse serveAccessCheck(const HttpRequest& request) {
    return meshsvc::serveAccessCheck(request, currentConfig(), *store_);
  }

  std::shared_ptr<const config::Config> currentConfig() {
    std::lock_guard<std::mutex> lock(mutex_);
    return config_;
  }

  void setConfig(std::shared_ptr<const config::Config> config) {
    std::lock_guard<std::mutex> lock(mutex_);
    config_ = std::move(config);
  }

  HttpResponse serveMetrics(const HttpRequest&) {
    HttpResponse r;
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics::renderPrometheus();
    return r;
  }

  static HttpResponse methodNotAllowed(std::string_view allow) {
    const meshsvc::MeshStatus row = meshsvc::meshMethodNotAllowed();
    std::string methods(allow);
    HttpResponse r = jsonResponse(meshsvc::meshErrorBody(row, "use " + methods), row.status);
    r.headers.emplace_back("Allow", methods);
    return r;
  }

  MeshServiceEnv env_;
  Store* store_ = nullptr;
  std::unique_ptr<meshsvc::MeshDispatcher> dispatcher_;
  std::unique_ptr<meshsvc::HttpServer> http_;
  config::MeshServiceSection listen_;
  std::mutex mutex_;
  std::optional<mesh::DareEnvelope> service_profile_;
  std::shared_ptr<const config::Config> config_;  // the latest applied (reload)
};

}  // namespace

std::unique_ptr<Service> makeMeshService(MeshServiceEnv env) {
  return std::make_unique<MeshService>(std::move(env));
}

std::unique_ptr<Service> makeMeshService(std::shared_ptr<Runtime> runtime) {
  // The Runtime is started before this service (ServiceHost order) and outlives it; the
  // lambdas keep it alive regardless.
  MeshServiceEnv env;
  env.store = [runtime] { return &runtime->store(); };
  env.clock = &runtime->clock();
  env.engine = [runtime] { return runtime->engine(); };
  env.service_key = [runtime] { return runtime->gatewayKey(); };
  env.resolver = [runtime] { return runtime->profileResolver(); };
  return std::make_unique<MeshService>(std::move(env));
}

Result<meshsvc::VerifiedSender> verifyRemoteSender(ProfileResolver& resolver,
                                                   std::string_view claimed,
                                                   const mesh::PublicKey& signer) {
  meshsvc::VerifiedSender out;
  auto resolved = resolver.resolve(claimed);
  if (!resolved.ok()) {
    const StatusCode code = resolved.status().code();
    if (code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded) {
      return resolved.status().withContext("verifying the sender " + std::string(claimed));
    }
    return out;  // no profile, or one that failed its checks: not verified
  }
  const ResolvedProfile& p = **resolved;
  auto same = [&](const std::optional<mesh::model::KeyData>& key) {
    if (!key) return false;
    auto k = mesh::publicKeyOf(*key, "key");
    return k.ok() && k->kid() == signer.kid();
  };
  bool speaks = same(p.profile.key_offline_signature) ||
                (p.service_key && p.service_key->kid() == signer.kid());
  for (const auto& online : p.profile.keys_online_signature) speaks = speaks || same(online);
  if (!speaks) return out;
  out.address = p.address;
  out.profile_udf = p.udf;
  return out;
}

}  // namespace meshgate::policy
