// config_loader.cc - the mapping from meshgate.yaml to Config. One function per section; each
// names every key it accepts, so that YamlMap::finish() can report the rest as unknown.
#include "gateway/config/config_loader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <tuple>

#include "gateway/config/content_config_reader.h"
#include "gateway/config/yaml_reader.h"

namespace meshgate::config {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

std::string toLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool isValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    if (++label > 63) return false;
  }
  return true;
}

bool parsePort(std::string_view s, uint16_t& port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  port = static_cast<uint16_t>(v);
  return true;
}

// "host:port" or "[v6]:port".
bool parseEndpoint(const std::string& text, Endpoint& out) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return false;
  }
  if (host.empty() || !parsePort(port, out.port)) return false;
  out.host = host;
  return true;
}

void readEndpoint(YamlMap& m, std::string_view key, Endpoint& out) {
  m.known(key);
  if (!m.has(key)) return;
  std::string text;
  m.string(key, text);
  Endpoint ep;
  if (!parseEndpoint(text, ep)) {
    m.error(key, "expected host:port such as 127.0.0.1:10050, got \"" + text + "\"");
    return;
  }
  out = ep;
}

// The same test as the Mesh service's at start (an address in 127.0.0.0/8 or ::1, or
// "localhost"): a name such as 127.evil.example is not loopback.
bool isLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

void readGateway(YamlMap m, GatewaySection& g) {
  m.lineString("node", g.node);
  std::vector<std::string> domains;
  m.stringList("domains", domains, /*required=*/true);
  for (auto& d : domains) {
    d = toLower(d);
    if (!isValidDomain(d)) {
      m.error("domains", "\"" + d + "\" is not a domain name (expected e.g. example.com)");
    } else if (std::find(g.domains.begin(), g.domains.end(), d) != g.domains.end()) {
      m.error("domains", "\"" + d + "\" is listed twice");
    } else {
      g.domains.push_back(d);
    }
  }
  if (m.has("domains") && domains.empty()) m.error("domains", "at least one domain is required");
  m.nonEmptyString("data_dir", g.data_dir);
  // The key lives with the rest of the gateway's files unless placed elsewhere on purpose, so
  // two gateways (or two tests) with different data_dirs never share or race for one key.
  if (m.has("key_file")) {
    m.nonEmptyString("key_file", g.key_file);
  } else {
    g.key_file = g.data_dir + "/keys/gateway.key";
  }
  m.string("user", g.user);
  m.finish();
  if (g.node.empty()) {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) == 0) g.node = host;
    if (g.node.empty()) g.node = "localhost";
  }
}

// Files the gateway creates live in gateway.data_dir unless placed elsewhere on purpose: with
// data_dir set and the store path not, an administrator's command run from another folder
// must not open (and create) an empty ./var/meshgate.db there.
void readStore(YamlMap m, StoreSection& s, const GatewaySection& g) {
  m.choice("backend", s.backend,
           {{"sqlite", StoreBackend::kSqlite}, {"postgresql", StoreBackend::kPostgresql}});
  YamlMap sq = m.map("sqlite");
  s.sqlite.path = g.data_dir + "/meshgate.db";
  sq.nonEmptyString("path", s.sqlite.path);
  sq.duration("busy_timeout", s.sqlite.busy_timeout, 0ms, 60s);
  sq.finish();
  YamlMap pg = m.map("postgresql");
  pg.nonEmptyString("dsn", s.postgresql.dsn);
  pg.integer("pool_size", s.postgresql.pool_size, 1, 256);
  pg.finish();
  m.duration("account_cache_ttl", s.account_cache_ttl, 0ms, 60s);
  m.finish();
}

void readFailureAction(YamlMap& m, std::string_view key, FailureAction& out) {
  m.choice(key, out,
           {{"tempfail", FailureAction::kTempfail},
            {"accept", FailureAction::kAccept},
            {"reject", FailureAction::kReject}});
}

void readMilter(YamlMap m, MilterSection& s, const GatewaySection& g) {
  m.boolean("enabled", s.enabled);
  s.socket.path = g.data_dir + "/run/milter.sock";
  s.socket.spec = "unix:" + s.socket.path;
  m.known("socket");
  if (m.has("socket")) {
    std::string spec;
    m.string("socket", spec);
    MilterSocket sock;
    sock.spec = spec;
    if (spec.rfind("unix:", 0) == 0 || spec.rfind("local:", 0) == 0) {
      sock.kind = MilterSocket::Kind::kUnix;
      sock.path = spec.substr(spec.find(':') + 1);
      if (sock.path.empty()) m.error("socket", "unix socket path is empty");
      else s.socket = sock;
    } else if (spec.rfind("inet:", 0) == 0) {
      // libmilter syntax: inet:port@host
      std::string rest = spec.substr(5);
      auto at = rest.find('@');
      sock.kind = MilterSocket::Kind::kInet;
      sock.inet.host = at == std::string::npos ? "127.0.0.1" : rest.substr(at + 1);
      if (!parsePort(rest.substr(0, at), sock.inet.port) || sock.inet.host.empty()) {
        m.error("socket", "expected inet:PORT@HOST (libmilter syntax), e.g. inet:10025@127.0.0.1, "
                          "got \"" + spec + "\"");
      } else {
        s.socket = sock;
      }
    } else {
      m.error("socket", "expected unix:/path/to/socket or inet:PORT@HOST, got \"" + spec + "\"");
    }
  }
  m.fileMode("socket_mode", s.socket_mode);
  m.string("socket_group", s.socket_group);
  readFailureAction(m, "on_error", s.on_error);
  m.duration("timeout", s.timeout, 1s, 3600s);
  m.duration("decision_timeout", s.decision_timeout, 10ms, 25s);
  m.integer("backlog", s.backlog, 1, 65535);
  m.size("max_scan_bytes", s.max_scan_bytes, 64 * 1024, 256ull * 1024 * 1024);
  m.size("max_buffered_bytes", s.max_buffered_bytes, 1024 * 1024, 1ull << 40);
  m.finish();
}

void readNetworks(YamlMap& m, std::string_view key, std::vector<Network>& out);

void readMeshService(YamlMap m, MeshServiceSection& s, const GatewaySection& g) {
  m.boolean("enabled", s.enabled);
  readEndpoint(m, "listen", s.listen);
  m.boolean("plain_http", s.plain_http);
  YamlMap tls = m.map("tls");
  s.tls.certificate = g.data_dir + "/tls/service.crt";
  s.tls.private_key = g.data_dir + "/tls/service.key";
  tls.nonEmptyString("certificate", s.tls.certificate);
  tls.nonEmptyString("private_key", s.tls.private_key);
  tls.boolean("create_self_signed", s.tls.create_self_signed);
  tls.finish();
  m.string("service_name", s.service_name);
  m.size("max_body_bytes", s.max_body_bytes, 1024, 256ull * 1024 * 1024);
  m.integer("max_connections", s.max_connections, 1, 100000);
  m.integer("max_connections_per_client", s.max_connections_per_client, 1, 100000);
  m.integer("threads", s.threads, 1, 1024);
  m.duration("request_timeout", s.request_timeout, 100ms, 600s);
  m.duration("keep_alive_timeout", s.keep_alive_timeout, 100ms, 3600s);
  m.stringList("admin_keys", s.admin_keys);
  for (const std::string& k : s.admin_keys) {
    if (k.empty()) m.error("admin_keys", "an empty file name");
  }
  m.duration("replay_window", s.replay_window, 10s, 86400s);
  s.access_check_networks = {*Network::parse("127.0.0.0/8"), *Network::parse("::1")};
  readNetworks(m, "access_check_networks", s.access_check_networks);
  if (s.plain_http && !isLoopback(s.listen.host)) {
    m.error("plain_http",
            "plain HTTP is only allowed on a loopback address (listen is " + s.listen.host +
                "); use TLS or listen on 127.0.0.1");
  }
  m.finish();
  if (s.service_name.empty() && !g.domains.empty()) s.service_name = g.domains.front();
}

void readPolicyd(YamlMap m, PolicydSection& s) {
  m.boolean("enabled", s.enabled);
  readEndpoint(m, "listen", s.listen);
  m.integer("max_connections", s.max_connections, 1, 100000);
  m.duration("idle_timeout", s.idle_timeout, 1s, 86400s);
  m.size("max_request_bytes", s.max_request_bytes, 1024, 16ull * 1024 * 1024);
  m.finish();
}

void readIngress(YamlMap m, IngressSection& s) {
  m.choice("default", s.default_policy,
           {{"open", IngressPolicy::kOpen},
            {"tag-unknown", IngressPolicy::kTagUnknown},
            {"quarantine-unknown", IngressPolicy::kQuarantineUnknown},
            {"contacts-only", IngressPolicy::kContactsOnly}});
  m.nonEmptyString("reject_text", s.reject_text);
  if (s.reject_text.find_first_of("\r\n") != std::string::npos) {
    m.error("reject_text", "must be one line (no line breaks)");
  }
  m.lineString("contact_request_url", s.contact_request_url);
  m.choice("unlisted_recipients", s.unlisted_recipients,
           {{"pass", UnlistedRecipients::kPass},
            {"default-policy", UnlistedRecipients::kDefaultPolicy}});
  m.finish();
}

void readNetworks(YamlMap& m, std::string_view key, std::vector<Network>& out) {
  if (!m.has(key)) {
    m.known(key);
    return;
  }
  std::vector<std::string> texts;
  m.stringList(key, texts);
  std::vector<Network> networks;
  for (const auto& t : texts) {
    auto n = Network::parse(t);
    if (!n.ok()) {
      m.error(key, n.status().message());
      continue;
    }
    networks.push_back(*n);
  }
  out = std::move(networks);
}

void readAbuse(YamlMap m, AbuseSection& s) {
  m.boolean("enabled", s.enabled);
  if (m.has("limits")) {
    std::vector<RateLimit> limits;
    m.listOfMaps("limits", [&](YamlMap& l) {
      RateLimit r;
      l.nonEmptyString("name", r.name, /*required=*/true);
      l.choice("key", r.key,
               {{"client_address", RateLimit::Key::kClientAddress},
                {"sender", RateLimit::Key::kSender},
                {"sender_domain", RateLimit::Key::kSenderDomain}});
      l.duration("window", r.window, 1s, 7 * 24h);
      l.integer("max", r.max, 1, 1'000'000'000);
      l.choice("action", r.action,
               {{"tempfail", LimitAction::kTempfail},
                {"reject", LimitAction::kReject},
                {"hold", LimitAction::kHold},
                {"tag", LimitAction::kTag}});
      for (const auto& other : limits) {
        if (other.name == r.name) l.error("name", "\"" + r.name + "\" is used by another limit");
      }
      limits.push_back(r);
    });
    s.limits = std::move(limits);
  } else {
    m.known("limits");
  }
  readNetworks(m, "exempt_networks", s.exempt_networks);
  m.boolean("exempt_authenticated", s.exempt_authenticated);
  m.integer("ipv6_prefix", s.ipv6_prefix, 32, 128);
  m.duration("flush_interval", s.flush_interval, 0s, 60s);
  m.finish();
}

void readAudit(YamlMap m, AuditSection& s) {
  m.boolean("enabled", s.enabled);
  m.choice("on_failure", s.on_failure,
           {{"tempfail", AuditSection::OnFailure::kTempfail}, {"log", AuditSection::OnFailure::kLog}});
  m.duration("checkpoint_interval", s.checkpoint_interval, 1s, 7 * 24h);
  m.finish();
}

void readQuarantine(YamlMap m, QuarantineSection& s, const GatewaySection& g) {
  m.string("postfix_config_dir", s.postfix_config_dir);
  m.nonEmptyString("postsuper", s.postsuper);
  m.nonEmptyString("postcat", s.postcat);
  m.nonEmptyString("sendmail", s.sendmail);
  m.lineString("digest_from", s.digest_from);
  m.lineString("confirm_url", s.confirm_url);
  m.finish();
  if (!s.digest_from.empty()) {
    const auto at = s.digest_from.rfind('@');
    if (at == std::string::npos || at == 0 ||
        s.digest_from.find_first_of(" <>") != std::string::npos ||
        !isValidDomain(toLower(s.digest_from.substr(at + 1)))) {
      m.error("digest_from",
              "\"" + s.digest_from + "\" is not an address (expected postmaster@example.com)");
    }
  }
  if (!s.confirm_url.empty() && !s.confirm_url.starts_with("https://") &&
      !s.confirm_url.starts_with("http://")) {
    m.error("confirm_url", "expected an http:// or https:// URL (the policy server's "
                           "/quarantine/confirm page as recipients reach it)");
  }
  if (s.digest_from.empty() && !g.domains.empty()) s.digest_from = "postmaster@" + g.domains.front();
}

// https://HOST[:PORT][/PATH]; no user info, query or fragment. An empty path or "/" is the
// well-known Mesh path.
bool parseServiceUrl(const std::string& text, ServiceUrl& out, std::string& why) {
  const std::string scheme = "https://";
  if (toLower(text.substr(0, scheme.size())) != scheme) {
    why = "must start with https:// (the Mesh service protocol runs over TLS)";
    return false;
  }
  std::string rest = text.substr(scheme.size());
  if (rest.find_first_of("@?# \t") != std::string::npos) {
    why = "must not contain user info, a query, a fragment or spaces";
    return false;
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  ServiceUrl url;
  url.text = text;
  if (!path.empty() && path != "/") url.path = path;
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      why = "unterminated [IPv6 address]";
      return false;
    }
    url.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        why = "expected :PORT after the [IPv6 address]";
        return false;
      }
      port = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    url.host = toLower(authority.substr(0, colon));
    if (colon != std::string::npos) port = authority.substr(colon + 1);
    if (!url.host.empty() && !isValidDomain(url.host)) {
      why = "\"" + url.host + "\" is not a host name or address";
      return false;
    }
  }
  if (url.host.empty()) {
    why = "no host";
    return false;
  }
  if (!port.empty() && !parsePort(port, url.port)) {
    why = "port \"" + port + "\" is not 1-65535";
    return false;
  }
  out = url;
  return true;
}

void readResolver(YamlMap m, ResolverSection& s) {
  m.duration("cache_ttl", s.cache_ttl, 1s, 7 * 24h);
  m.duration("negative_ttl", s.negative_ttl, 1s, 24h);
  m.duration("failure_ttl", s.failure_ttl, 1s, 1h);
  m.integer("max_cache_entries", s.max_cache_entries, 1, 10'000'000);
  m.boolean("discovery", s.discovery);
  m.duration("dns_timeout", s.dns_timeout, 100ms, 25s);
  m.duration("connect_timeout", s.connect_timeout, 100ms, 25s);
  m.duration("total_timeout", s.total_timeout, 100ms, 25s);
  m.size("max_response_bytes", s.max_response_bytes, 4 * 1024, 64ull * 1024 * 1024);
  YamlMap services = m.map("services");
  if (services.present() && services.node().IsMap()) {
    for (auto it = services.node().begin(); it != services.node().end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string key = it->first.Scalar();
      std::string text;
      services.string(key, text);
      const std::string domain = toLower(key);
      if (!isValidDomain(domain)) {
        services.error(key, "\"" + key + "\" is not a domain name (expected e.g. example.net)");
        continue;
      }
      ServiceUrl url;
      std::string why;
      if (!parseServiceUrl(text, url, why)) {
        services.error(key, "\"" + text + "\": " + why +
                                " (expected e.g. https://mmm.example.net or "
                                "https://127.0.0.1:15099/.well-known/mmm/)");
        continue;
      }
      if (s.services.count(domain)) {
        services.error(key, "\"" + key + "\" is listed twice (domain names ignore case)");
        continue;
      }
      s.services[domain] = url;
    }
  }
  services.finish();
  m.string("ca_file", s.ca_file);
  m.stringList("trusted_certificates", s.trusted_certificates);
  for (const auto& f : s.trusted_certificates) {
    if (f.empty()) m.error("trusted_certificates", "a file name is empty");
  }
  if (s.connect_timeout > s.total_timeout) {
    m.error("connect_timeout", "must not be longer than total_timeout");
  }
  if (s.dns_timeout > s.total_timeout) {
    m.error("dns_timeout", "must not be longer than total_timeout");
  }
  if (s.negative_ttl > s.cache_ttl) m.error("negative_ttl", "must not be longer than cache_ttl");
  m.finish();
}

void readSsh(YamlMap m, SshSection& s, const GatewaySection& g) {
  m.string("cache_file", s.cache_file);
  m.duration("cache_refresh", s.cache_refresh, 0ms, 7 * 24h);
  m.duration("cache_max_age", s.cache_max_age, 1s, 365 * 24h);
  m.duration("store_timeout", s.store_timeout, 1ms, 10s);
  m.string("domain", s.domain);
  YamlMap users = m.map("users");
  if (users.present() && users.node().IsMap()) {
    for (auto it = users.node().begin(); it != users.node().end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string login = it->first.Scalar();
      std::string account;
      users.nonEmptyString(login, account);
      bool login_ok = !login.empty() && login.size() <= 64 && login.front() != '-';
      for (char c : login) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
          login_ok = false;
        }
      }
      if (!login_ok) {
        users.error(login, "\"" + login + "\" is not a login name (letters, digits, . _ -)");
        continue;
      }
      auto at = account.rfind('@');
      if (at == std::string::npos || at == 0 || at + 1 >= account.size()) {
        users.error(login, "\"" + account + "\" is not an account address (expected user@domain)");
        continue;
      }
      s.users[login] = toLower(account);
    }
  }
  users.finish();
  if (s.cache_refresh > s.cache_max_age) {
    m.error("cache_refresh", "must not be longer than cache_max_age");
  }
  m.finish();
  if (s.cache_file.empty()) s.cache_file = g.data_dir + "/ssh.cache";
  s.domain = toLower(s.domain);
  if (s.domain.empty() && !g.domains.empty()) s.domain = g.domains.front();
}

void readMeshToSmtp(YamlMap m, MeshToSmtpSection& s, const GatewaySection& g) {
  m.boolean("enabled", s.enabled);
  m.duration("interval", s.interval, 1s, 1h);
  readEndpoint(m, "server", s.server);
  m.lineString("helo", s.helo);
  m.duration("timeout", s.timeout, 1s, 10min);
  m.duration("delivered_retention", s.delivered_retention, std::chrono::hours(24),
             std::chrono::hours(24 * 3650));
  m.finish();
  if (s.helo.empty()) s.helo = g.node;
}

void readSmtpToMesh(YamlMap m, SmtpToMeshSection& s) {
  m.boolean("enabled", s.enabled);
  m.duration("timeout", s.timeout, 1s, 10min);
  m.size("max_message_bytes", s.max_message_bytes, 1024, 1ull << 30);
  m.finish();
}

void readLogging(YamlMap m, LoggingSection& s) {
  m.boolean("debug", s.debug);
  m.finish();
}

void crossChecks(ConfigErrors& errors, YamlMap& root, const Config& c) {
  if (c.mesh_service.enabled && c.policyd.enabled &&
      c.mesh_service.listen.port == c.policyd.listen.port &&
      c.mesh_service.listen.host == c.policyd.listen.host) {
    root.error("policyd", "policyd.listen and mesh_service.listen are the same address");
  }
  (void)errors;
}

struct DocumentProblem {
  YAML::Mark mark;
  std::string message;
};

// Records where a document starts and where its first value is, if it has one.
class DocumentOutline : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> start;
  std::optional<YAML::Mark> content;  // the first scalar, list, map or alias
  YAML::Mark null_mark;               // where an empty document's null was read

  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    if (!content) null_mark = mark;
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { sawContent(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    sawContent(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    sawContent(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    sawContent(mark);
  }
  void OnMapEnd() override {}

 private:
  void sawContent(const YAML::Mark& mark) {
    if (!content) content = mark;
  }
};

// Reads the stream document by document without building nodes, and finds what YAML::Load
// would pass over in silence: a second document with settings in it (read by nothing), or a
// token yaml-cpp 0.7 cannot place (a stray ',' at the top level). On the latter its parser
// returns an empty document again and again without moving on, which is why this is not
// YAML::LoadAll: that loops for ever and fills memory (yaml-cpp PR #1319, fixed after 0.7).
// Here a document that starts where the last one did ends the scan, so it reads each
// character at most once. Syntax errors are thrown as YAML::ParserException, as by Load.
std::optional<DocumentProblem> scanDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  std::optional<YAML::Mark> last_start;
  for (int index = 0;; ++index) {
    DocumentOutline doc;
    if (!parser.HandleNextDocument(doc)) return std::nullopt;
    if (last_start && doc.start && doc.start->pos <= last_start->pos && !doc.content) {
      char c = doc.null_mark.pos >= 0 && static_cast<size_t>(doc.null_mark.pos) < text.size()
                   ? text[static_cast<size_t>(doc.null_mark.pos)]
                   : '?';
      return DocumentProblem{
          doc.null_mark,
          std::string("YAML syntax error: unexpected '") + c +
              "' (outside any [ ] or { }); remove it or quote the value it belongs to"};
    }
    if (index > 0 && doc.content) {
      return DocumentProblem{
          *doc.content,
          "a second YAML document (after a --- line): meshgate reads one document per file; "
          "merge its settings into the first or remove the --- line"};
    }
    last_start = doc.start;
  }
}

LoadResult parse(const std::string& text, const std::string& name) {
  LoadResult result;
  ConfigErrors errors(name);
  YAML::Node root_node;
  try {
    // The scan comes first: on a stray token YAML::Load returns an empty document and says
    // nothing, which would read as "the file is empty".
    if (std::optional<DocumentProblem> problem = scanDocuments(text)) {
      errors.add(problem->mark, "", problem->message);
    } else {
      root_node = YAML::Load(text);
    }
  } catch (const YAML::ParserException& e) {
    errors.add(e.mark, "", "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    errors.add(e.mark, "", std::string("YAML error: ") + e.what());
  }
  auto config = std::make_shared<Config>();
  config->source_file = name;
  if (errors.empty()) {
    if (!root_node.IsDefined() || root_node.IsNull()) {
      errors.addAt(1, 1, "", "the file is empty (expected at least gateway.domains)");
    } else {
      try {
        YamlMap root(errors, root_node, "");
        if (!root.present()) {
          // error already recorded
        } else {
          if (!root.has("gateway")) {
            errors.add(root_node.Mark(), "gateway", "missing required section");
          }
          readGateway(root.map("gateway"), config->gateway);
          readStore(root.map("store"), config->store, config->gateway);
          readMilter(root.map("milter"), config->milter, config->gateway);
          readMeshService(root.map("mesh_service"), config->mesh_service, config->gateway);
          readPolicyd(root.map("policyd"), config->policyd);
          readIngress(root.map("ingress"), config->ingress);
          readAbuse(root.map("abuse"), config->abuse);
          readContentSections(root, *config);
          readAudit(root.map("audit"), config->audit);
          readQuarantine(root.map("quarantine"), config->quarantine, config->gateway);
          readResolver(root.map("resolver"), config->resolver);
          readSsh(root.map("ssh"), config->ssh, config->gateway);
          readMeshToSmtp(root.map("mesh_to_smtp"), config->mesh_to_smtp, config->gateway);
          readSmtpToMesh(root.map("smtp_to_mesh"), config->smtp_to_mesh);
          readLogging(root.map("logging"), config->logging);
          crossChecks(errors, root, *config);
          root.finish();
        }
      } catch (const YAML::Exception& e) {
        errors.add(e.mark, "", std::string("YAML error: ") + e.what());
      }
    }
  }
  std::vector<ConfigError> list = errors.list();
  std::stable_sort(list.begin(), list.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  for (const auto& e : list) result.errors.push_back(e.toString());
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

LoadResult loadConfigString(const std::string& yaml, const std::string& display_name) {
  return parse(yaml, display_name);
}

LoadResult loadConfigFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    LoadResult r;
    r.errors.push_back(path +
                       ": is a folder, not a file (give the path of a meshgate.yaml; see "
                       "conf/meshgate.yaml)");
    return r;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back(path + ": cannot open: " + std::strerror(errno) +
                       " (give the path of a meshgate.yaml; see conf/meshgate.yaml)");
    return r;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse(buf.str(), path);
}

bool Config::isLocalDomain(std::string_view domain) const {
  std::string d = toLower(std::string(domain));
  return std::find(gateway.domains.begin(), gateway.domains.end(), d) != gateway.domains.end();
}

std::string_view ingressPolicyName(IngressPolicy p) {
  switch (p) {
    case IngressPolicy::kOpen: return "open";
    case IngressPolicy::kTagUnknown: return "tag-unknown";
    case IngressPolicy::kQuarantineUnknown: return "quarantine-unknown";
    case IngressPolicy::kContactsOnly: return "contacts-only";
  }
  return "?";
}

std::string_view limitActionName(LimitAction a) {
  switch (a) {
    case LimitAction::kTempfail: return "tempfail";
    case LimitAction::kReject: return "reject";
    case LimitAction::kHold: return "hold";
    case LimitAction::kTag: return "tag";
  }
  return "?";
}

std::string_view failureActionName(FailureAction a) {
  switch (a) {
    case FailureAction::kTempfail: return "tempfail";
    case FailureAction::kAccept: return "accept";
    case FailureAction::kReject: return "reject";
  }
  return "?";
}

}  // namespace meshgate::config
