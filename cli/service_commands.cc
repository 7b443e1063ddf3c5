// service_commands.cc - `meshgate run|milter|policy|policyd`: load the configuration, open the
// log, and hand the chosen services to ServiceHost.
#include <iostream>
#include <thread>

#include "adapters/mesh_inbound_service.h"
#include "adapters/smtp_to_mesh.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exec.h"
#include "cli/service_host.h"
#include "gateway/config/config_loader.h"
#include "gateway/policy/brand_filter.h"
#include "gateway/util/log.h"
#include "gateway/util/thread_stack.h"
#include "milter/milter_service.h"
#include "policy/mesh_service.h"
#include "policy/policyd/policyd_service.h"
#include "policy/runtime.h"

namespace meshgate::cli {
namespace {

constexpr const char* kDefaultConfig = "/etc/meshgate/meshgate.yaml";

enum class Which { kAll, kMilter, kPolicy, kPolicyd };

int runServices(const Args& args, Which which, const std::string& command,
                const std::string& description, const std::string& ident) {
  std::string config_path = kDefaultConfig;
  bool foreground = false;
  ArgParser p(command, description);
  p.option("config", "FILE", std::string("configuration file (default ") + kDefaultConfig + ")",
           &config_path);
  p.flag("foreground", "also log to stderr (syslog always gets every line)", &foreground);
  p.epilog(
      "Signals: SIGHUP reloads the configuration (an invalid file is rejected and logged; the\n"
      "running configuration stays); SIGINT or SIGTERM stop cleanly.\n"
      "Logs: syslog facility mail, ident meshgate/" + ident + ".");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;

  log::open(ident, foreground);
  config::LoadResult loaded = config::loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      log::fatal("%s", e.c_str());
      if (!foreground) std::cerr << e << "\n";
    }
    std::cerr << "meshgate: " << loaded.errors.size() << " error(s) in " << config_path
              << "; run 'meshgate check-config " << config_path << "' after fixing them\n";
    return 1;
  }
  const config::Config& cfg = *loaded.config;
  log::setDebug(cfg.logging.debug);

  ServiceHost::blockSignals();
  if (Status st = setDefaultThreadStackSize(ServiceHost::kThreadStackBytes); !st.ok()) {
    log::warning("%s; threads keep the default stack size", st.message().c_str());
  }
  ServiceHost host(config_path, loaded.config);
  // The runtime (store + decision engine) starts first and stops last.
  auto runtime = std::make_shared<Runtime>();
  struct RuntimeHandle : Service {
    explicit RuntimeHandle(std::shared_ptr<Runtime> r) : r_(std::move(r)) {}
    std::string name() const override { return r_->name(); }
    Status start(std::shared_ptr<const config::Config> c) override { return r_->start(c); }
    Status reload(std::shared_ptr<const config::Config> c) override { return r_->reload(c); }
    void stop() override { r_->stop(); }
    std::shared_ptr<Runtime> r_;
  };
  host.add(std::make_unique<RuntimeHandle>(runtime));
  auto engine = [runtime] { return runtime->engine(); };
  auto audit = [runtime](const AuditRecord& r) -> Status {
    auto appended = runtime->appendAudit(r);  // group commit with concurrent messages
    return appended.ok() ? Status() : appended.status();
  };
  bool any = false;
  if ((which == Which::kAll && cfg.milter.enabled) || which == Which::kMilter) {
    milter::MilterContext context = milter::makeMilterContext(
        engine, [runtime] { return runtime->gatewayKey(); }, audit,
        [runtime](const QuarantineRecord& q) { return runtime->store().putQuarantine(q); },
        // Brand sender notices go through the local sendmail (quarantine.sendmail), off the
        // milter's thread: the reply to the MTA never waits for it.
        [runtime](const policy::SenderNotice& n) -> Status {
          auto current = runtime->config();
          if (!current) return unavailable("not started");
          std::vector<std::string> argv = {current->quarantine.sendmail, "-i", "-f", n.from, "--",
                                           n.to};
          std::string message = policy::senderNoticeMessage(n);
          // std::thread throws when no thread can be made (the process's limit): the notice is
          // then not sent, and the milter logs that; the message is not affected.
          std::thread([argv = std::move(argv), message = std::move(message), to = n.to] {
            auto r = execProgram(argv, message, 60000);
            if (!r.ok() || r->exit_code != 0) {
              log::warning("milter: brand notice to <%s>: %s failed: %s", log::sanitize(to).c_str(),
                           argv[0].c_str(),
                           log::sanitize(r.ok() ? r->err : r.status().message()).c_str());
            }
          }).detach();
          return Status();
        });
    // SMTP -> Mesh for egress encryption rules (used when smtp_to_mesh.enabled).
    context.mesh_deliver = adapters::makeMeshDeliverFunction(runtime);
    host.add(milter::makeMilterService(std::move(context)));
    any = true;
  }
  if ((which == Which::kAll && cfg.mesh_service.enabled) || which == Which::kPolicy) {
    host.add(policy::makeMeshService(runtime));
    // Mesh -> SMTP: what Post accepted, delivered as mail by the same process.
    if (cfg.mesh_to_smtp.enabled) host.add(adapters::makeMeshInboundService(runtime));
    any = true;
  }
  if ((which == Which::kAll && cfg.policyd.enabled) || which == Which::kPolicyd) {
    host.add(policyd::makePolicydService(engine));
    any = true;
    const bool milter_here = which == Which::kAll || which == Which::kMilter;
    if (!milter_here && cfg.milter.enabled && cfg.abuse.enabled && !cfg.abuse.limits.empty()) {
      // The policy service leaves the counting to the milter when milter.enabled says one
      // runs; run alone, that is only true if a meshgate milter serves the same Postfix.
      log::warning(
          "policyd: abuse limits are counted by the milter (milter.enabled: true in %s); if no "
          "meshgate milter serves this Postfix, set milter.enabled: false so that the policy "
          "service counts",
          config_path.c_str());
    }
  }
  if (!any) {
    log::fatal("no service is enabled in %s (milter.enabled, mesh_service.enabled, "
               "policyd.enabled)", config_path.c_str());
    return 1;
  }
  return host.run();
}

int runAll(const Args& args) {
  return runServices(args, Which::kAll, "meshgate run",
                     "Run every service enabled in the configuration (milter, Mesh service, "
                     "Postfix policy service)\nin one process, sharing one store.",
                     "run");
}

int runMilter(const Args& args) {
  return runServices(args, Which::kMilter, "meshgate milter",
                     "Run the milter alone: Postfix (smtpd_milters) and Sendmail "
                     "(INPUT_MAIL_FILTER) call it for every message.",
                     "milter");
}

int runPolicy(const Args& args) {
  return runServices(args, Which::kPolicy, "meshgate policy",
                     "Run the organization's Mesh service alone: HTTPS POST at "
                     "/.well-known/mmm/ (accounts, profiles, catalogs).",
                     "policy");
}

int runPolicyd(const Args& args) {
  return runServices(args, Which::kPolicyd, "meshgate policyd",
                     "Run the Postfix SMTPD policy delegation service alone "
                     "(check_policy_service inet:HOST:PORT).",
                     "policyd");
}

}  // namespace

MESHGATE_COMMAND(run, "run", "run every service enabled in the configuration, in one process",
                 runAll, 10);
MESHGATE_COMMAND(milter, "milter", "run the milter alone (Postfix smtpd_milters, Sendmail)",
                 runMilter, 11);
MESHGATE_COMMAND(policy, "policy", "run the Mesh service (HTTPS /.well-known/mmm/) alone",
                 runPolicy, 12);
MESHGATE_COMMAND(policyd, "policyd", "run the Postfix policy delegation service alone",
                 runPolicyd, 13);

}  // namespace meshgate::cli
