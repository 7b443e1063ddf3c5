// mesh_service.cc - see mesh_service.h: the Service that ties the HTTPS server to the Mesh
// dispatcher, with the Runtime's store, clock, engine and key.
#include "policy/mesh_service.h"

#include <mutex>
#include <optional>

#include "gateway/mesh/profile.h"
#include "gateway/util/log.h"
#include "meshgate/mesh_model.h"
#include "policy/mesh/http_server.h"
#include "policy/mesh/mesh_dispatcher.h"
#include "policy/mesh/status_table.h"
#include "policy/mesh/tls_files.h"
#include "policy/mesh/wire.h"

namespace meshgate::policy {
namespace {

using meshsvc::HttpRequest;
using meshsvc::HttpResponse;

constexpr std::string_view kHealthPath = "/healthz";

meshsvc::HttpLimits limitsOf(const config::MeshServiceSection& m) {
  meshsvc::HttpLimits l;
  l.max_body_bytes = m.max_body_bytes;
  l.max_connections = m.max_connections;
  l.request_timeout = m.request_timeout;
  l.keep_alive_timeout = m.keep_alive_timeout;
  return l;
}

bool isMeshPath(const std::string& path) {
  const std::string_view prefix = meshsvc::kWellKnownPath;  // "/.well-known/mmm/"
  return path == prefix.substr(0, prefix.size() - 1) || path.starts_with(prefix);
}

HttpResponse jsonResponse(const nlohmann::json& body, int status) {
  HttpResponse r;
  r.status = status;
  r.body = mesh::model::dumpJson(body);
  return r;
}

class MeshService : public Service {
 public:
  explicit MeshService(std::shared_ptr<Runtime> runtime) : runtime_(std::move(runtime)) {}
  ~MeshService() override { stop(); }

  std::string name() const override { return "policy"; }

  Status start(std::shared_ptr<const config::Config> config) override {
    auto settings = meshsvc::makeDispatcherSettings(config);
    if (!settings.ok()) return settings.status();
    const auto& m = config->mesh_service;
    if (!m.plain_http) MESHGATE_RETURN_IF_ERROR(meshsvc::ensureTlsFiles(m));
    makeServiceProfile();

    meshsvc::DispatcherEnv env;
    env.store = &runtime_->store();
    env.clock = &runtime_->clock();
    auto runtime = runtime_;
    env.engine = [runtime] { return runtime->engine(); };
    env.service_key = [runtime] { return runtime->gatewayKey(); };
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
          return jsonResponse(meshsvc::meshErrorBody(st), meshsvc::meshStatusFor(st.code()).status);
        });
    Status st = http_->start();
    if (!st.ok()) {
      http_.reset();
      dispatcher_.reset();
      return st;
    }
    listen_ = m;
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
    const auto& m = config->mesh_service;
    http_->setLimits(limitsOf(m));
    if (m.listen.host != listen_.listen.host || m.listen.port != listen_.listen.port ||
        m.plain_http != listen_.plain_http || m.tls.certificate != listen_.tls.certificate ||
        m.tls.private_key != listen_.tls.private_key || m.threads != listen_.threads) {
      return failedPrecondition(
          "mesh_service.listen, plain_http, tls or threads changed; restart meshgate to apply "
          "(still serving " + listen_.listen.host + ":" + std::to_string(listen_.listen.port) +
          ")");
    }
    return Status();
  }

  void stop() override {
    if (http_) http_->stop();
    http_.reset();
    dispatcher_.reset();
  }

 private:
  void makeServiceProfile() {
    auto key = runtime_->gatewayKey();
    if (!key) return;
    auto profile = mesh::makeServiceProfile(
        *key, mesh::model::DateTime(std::chrono::seconds(runtime_->clock().now())));
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
    if (request.path == kHealthPath) {
      if (request.method != "GET" && request.method != "HEAD") return methodNotAllowed("GET");
      Status ping = runtime_->store().ping();
      HttpResponse r = ping.ok() ? jsonResponse({{"Status", "ok"}}, 200)
                                 : jsonResponse(meshsvc::meshErrorBody(ping),
                                                meshsvc::meshStatusFor(ping.code()).status);
      if (request.method == "HEAD") r.body.clear();
      return r;
    }
    if (!isMeshPath(request.path)) {
      return jsonResponse(meshsvc::meshErrorBody(notFound("no such endpoint (the Mesh service "
                                                          "is at /.well-known/mmm/)")),
                          meshsvc::meshStatusFor(StatusCode::kNotFound).status);
    }
    if (request.method != "POST") return methodNotAllowed("POST");
    meshsvc::DispatchResult d = dispatcher_->dispatch(request.body, {request.peer});
    if (d.status >= 400) {
      log::info("mesh: %s %s -> %d", request.peer.c_str(),
                d.transaction.empty() ? "(no transaction)" : d.transaction.c_str(), d.status);
    } else {
      log::debug("mesh: %s %s -> %d", request.peer.c_str(), d.transaction.c_str(), d.status);
    }
    HttpResponse r;
    r.status = d.status;
    r.body = std::move(d.body);
    return r;
  }

  static HttpResponse methodNotAllowed(const char* allow) {
    const meshsvc::MeshStatus row = meshsvc::meshMethodNotAllowed();
    HttpResponse r = jsonResponse(meshsvc::meshErrorBody(row, std::string("use ") + allow), row.status);
    r.headers.emplace_back("Allow", allow);
    return r;
  }

  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<meshsvc::MeshDispatcher> dispatcher_;
  std::unique_ptr<meshsvc::HttpServer> http_;
  config::MeshServiceSection listen_;
  std::mutex mutex_;
  std::optional<mesh::DareEnvelope> service_profile_;
};

}  // namespace

std::unique_ptr<Service> makeMeshService(std::shared_ptr<Runtime> runtime) {
  return std::make_unique<MeshService>(std::move(runtime));
}

}  // namespace meshgate::policy
