// Tests of the strict configuration loader: every error class is asserted on its message and
// its line:column, and the shipped example must load.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "gateway/config/config_loader.h"

namespace meshgate::config {
namespace {

LoadResult load(const std::string& yaml) { return loadConfigString(yaml, "t.yaml"); }

std::string joined(const LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e + "\n";
  return s;
}

TEST(ConfigLoader, ShippedExampleIsValidAndMatchesTheIssue) {
  LoadResult r = loadConfigFile(std::string(MESHGATE_SOURCE_DIR) + "/conf/meshgate.yaml");
  ASSERT_TRUE(r.ok()) << joined(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.gateway.domains, std::vector<std::string>{"example.com"});
  EXPECT_EQ(c.store.backend, StoreBackend::kSqlite);
  EXPECT_EQ(c.store.sqlite.path, "./var/meshgate.db");
  EXPECT_EQ(c.milter.socket.kind, MilterSocket::Kind::kUnix);
  EXPECT_EQ(c.milter.socket.path, "./var/run/milter.sock");
  EXPECT_EQ(c.mesh_service.listen.host, "127.0.0.1");
  EXPECT_EQ(c.mesh_service.listen.port, 15099);
  EXPECT_EQ(c.policyd.listen.port, 10050);
  EXPECT_EQ(c.ingress.default_policy, IngressPolicy::kTagUnknown);
  EXPECT_EQ(c.mesh_service.max_body_bytes, 1024u * 1024u);
}

TEST(ConfigLoader, ExampleKeysEqualTheBuiltInDefaults) {
  // Every key in conf/meshgate.yaml shows its default: a file with only the required key must
  // load to the same values.
  LoadResult full = loadConfigFile(std::string(MESHGATE_SOURCE_DIR) + "/conf/meshgate.yaml");
  LoadResult minimal = load("gateway:\n  node: mx1.example.com\n  domains: [example.com]\n");
  ASSERT_TRUE(full.ok()) << joined(full);
  ASSERT_TRUE(minimal.ok()) << joined(minimal);
  const Config& a = *full.config;
  const Config& b = *minimal.config;
  EXPECT_EQ(a.gateway.data_dir, b.gateway.data_dir);
  EXPECT_EQ(a.gateway.key_file, b.gateway.key_file);
  EXPECT_EQ(a.store.sqlite.busy_timeout, b.store.sqlite.busy_timeout);
  EXPECT_EQ(a.store.postgresql.dsn, b.store.postgresql.dsn);
  EXPECT_EQ(a.milter.socket.spec, b.milter.socket.spec);
  EXPECT_EQ(a.milter.socket_mode, b.milter.socket_mode);
  EXPECT_EQ(a.milter.on_error, b.milter.on_error);
  EXPECT_EQ(a.milter.timeout, b.milter.timeout);
  EXPECT_EQ(a.milter.decision_timeout, b.milter.decision_timeout);
  EXPECT_EQ(a.mesh_service.listen.port, b.mesh_service.listen.port);
  EXPECT_EQ(a.mesh_service.tls.certificate, b.mesh_service.tls.certificate);
  EXPECT_EQ(a.mesh_service.service_name, b.mesh_service.service_name);
  EXPECT_EQ(a.mesh_to_smtp.delivered_retention, b.mesh_to_smtp.delivered_retention);
  EXPECT_EQ(a.mesh_service.max_body_bytes, b.mesh_service.max_body_bytes);
  EXPECT_EQ(a.mesh_service.request_timeout, b.mesh_service.request_timeout);
  EXPECT_EQ(a.policyd.idle_timeout, b.policyd.idle_timeout);
  EXPECT_EQ(a.policyd.max_request_bytes, b.policyd.max_request_bytes);
  EXPECT_EQ(a.ingress.default_policy, b.ingress.default_policy);
  EXPECT_EQ(a.ingress.reject_text, b.ingress.reject_text);
}

TEST(ConfigLoader, KeyFileDefaultsToTheDataDir) {
  LoadResult moved = load("gateway:\n  domains: [example.com]\n  data_dir: /srv/mg\n");
  ASSERT_TRUE(moved.ok()) << joined(moved);
  EXPECT_EQ(moved.config->gateway.key_file, "/srv/mg/keys/gateway.key");
  LoadResult placed = load(
      "gateway:\n  domains: [example.com]\n  data_dir: /srv/mg\n  key_file: /etc/k/gw.key\n");
  ASSERT_TRUE(placed.ok()) << joined(placed);
  EXPECT_EQ(placed.config->gateway.key_file, "/etc/k/gw.key");
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expected;  // the whole first error line
};

// Keeps gtest from printing the struct's bytes in test names.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ConfigLoaderErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigLoaderErrors, NamesFileLineColumnPathAndExpectation) {
  LoadResult r = load(GetParam().yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.config, nullptr);
  // The expected text is the whole message, or its start where it lists the known keys.
  EXPECT_EQ(r.errors.front().substr(0, std::strlen(GetParam().expected)), GetParam().expected)
      << joined(r);
}

INSTANTIATE_TEST_SUITE_P(
    EachErrorClass, ConfigLoaderErrors,
    ::testing::Values(
        BadCase{"UnknownValue", "gateway:\n  domains: [example.com]\ningress:\n  default: rejct\n",
                "t.yaml:4:12: ingress.default: unknown value \"rejct\" (expected one of: open, "
                "tag-unknown, quarantine-unknown, contacts-only)"},
        BadCase{"UnknownKey", "gateway:\n  domains: [example.com]\nmilter:\n  enabeld: true\n",
                "t.yaml:4:3: milter.enabeld: unknown key (known keys here: backlog, "
                "decision_timeout, enabled, max_buffered_bytes, max_scan_bytes, on_error, socket, "
                "socket_group, "
                "socket_mode, timeout)"},
        BadCase{"UnknownSection", "gateway:\n  domains: [example.com]\nmiltr: {}\n",
                "t.yaml:3:1: miltr: unknown key (known keys here: "},
        BadCase{"WrongTypeBool", "gateway:\n  domains: [example.com]\nmilter:\n  enabled: maybe\n",
                "t.yaml:4:12: milter.enabled: expected true or false, got \"maybe\""},
        BadCase{"WrongTypeMapping", "gateway:\n  domains: [example.com]\nmilter: [1, 2]\n",
                "t.yaml:3:9: milter: expected a mapping of keys, got a list"},
        BadCase{"WrongTypeInteger",
                "gateway:\n  domains: [example.com]\nmesh_service:\n  threads: many\n",
                "t.yaml:4:12: mesh_service.threads: expected an integer, got \"many\""},
        BadCase{"OutOfRange", "gateway:\n  domains: [example.com]\nmesh_service:\n  threads: 0\n",
                "t.yaml:4:12: mesh_service.threads: value 0 is out of range (expected 1 to "
                "1024)"},
        BadCase{"SizeOutOfRange",
                "gateway:\n  domains: [example.com]\nmesh_service:\n  max_body_bytes: 1G\n",
                "t.yaml:4:19: mesh_service.max_body_bytes: size 1073741824 bytes is out of range "
                "(expected 1024 to 268435456 bytes)"},
        BadCase{"BadDuration",
                "gateway:\n  domains: [example.com]\nmilter:\n  timeout: 10 parsecs\n",
                "t.yaml:4:12: milter.timeout: expected a duration such as 250ms, 10s, 5m, 1h or "
                "1d, got \"10 parsecs\""},
        BadCase{"DecisionTimeoutAbovePostfix",
                "gateway:\n  domains: [example.com]\nmilter:\n  decision_timeout: 30s\n",
                "t.yaml:4:21: milter.decision_timeout: duration 30s is out of range (expected "
                "10ms to 25s)"},
        BadCase{"DeliveredRetentionShorterThanADay",
                "gateway:\n  domains: [example.com]\nmesh_to_smtp:\n  delivered_retention: 12h\n",
                "t.yaml:4:24: mesh_to_smtp.delivered_retention: duration 12h is out of range "
                "(expected 1d to 3650d)"},
        BadCase{"MissingRequiredSection", "milter:\n  enabled: true\n",
                "t.yaml:1:1: gateway: missing required section"},
        BadCase{"EmptyRequiredSection", "gateway:\nmilter: {}\n",
                "t.yaml:1:1: gateway.domains: missing required key"},
        BadCase{"MissingRequiredKey", "gateway:\n  node: a\n",
                "t.yaml:2:3: gateway.domains: missing required key"},
        BadCase{"BadDomain", "gateway:\n  domains: [\"exa mple.com\"]\n",
                "t.yaml:2:12: gateway.domains: \"exa mple.com\" is not a domain name (expected "
                "e.g. example.com)"},
        BadCase{"DuplicateKey", "gateway:\n  domains: [example.com]\n  domains: [example.org]\n",
                "t.yaml:3:3: gateway.domains: duplicate key (each key may appear once)"},
        BadCase{"BadEndpoint", "gateway:\n  domains: [example.com]\npolicyd:\n  listen: 10050\n",
                "t.yaml:4:11: policyd.listen: expected host:port such as 127.0.0.1:10050, got "
                "\"10050\""},
        BadCase{"BadMilterSocket",
                "gateway:\n  domains: [example.com]\nmilter:\n  socket: inet:127.0.0.1:10025\n",
                "t.yaml:4:11: milter.socket: expected inet:PORT@HOST (libmilter syntax), e.g. "
                "inet:10025@127.0.0.1, got \"inet:127.0.0.1:10025\""},
        BadCase{"BadFileMode",
                "gateway:\n  domains: [example.com]\nmilter:\n  socket_mode: \"0968\"\n",
                "t.yaml:4:16: milter.socket_mode: expected an octal file mode such as \"0660\", "
                "got \"0968\""},
        BadCase{"PlainHttpOffLoopback",
                "gateway:\n  domains: [example.com]\nmesh_service:\n  listen: 0.0.0.0:8080\n  "
                "plain_http: true\n",
                "t.yaml:5:15: mesh_service.plain_http: plain HTTP is only allowed on a loopback "
                "address (listen is 0.0.0.0); use TLS or listen on 127.0.0.1"},
        BadCase{
            "PlainHttpOnANameThatStartsWith127",
            "gateway:\n  domains: [example.com]\nmesh_service:\n  listen: 127.evil.example:8080\n  "
            "plain_http: true\n",
            "t.yaml:5:15: mesh_service.plain_http: plain HTTP is only allowed on a loopback "
            "address (listen is 127.evil.example)"},
        BadCase{"SecondDocument",
                "gateway:\n  domains: [example.com]\n---\npolicyd:\n  max_connections: 5\n",
                "t.yaml:4:1: a second YAML document (after a --- line): meshgate reads one "
                "document per file"},
        // yaml-cpp 0.7 reads a stray ',' as an empty document and, asked for the next,
        // returns the same one for ever (YAML::LoadAll never ended: the first case hung the
        // fuzzer and would hang check-config).
        BadCase{"StrayCommaAtTheTop", ",\n", "t.yaml:1:1: YAML syntax error: unexpected ','"},
        BadCase{"StrayCommaBeforeTheSettings", "\n  ,\ngateway:\n  domains: [example.com]\n",
                "t.yaml:2:3: YAML syntax error: unexpected ','"},
        BadCase{"StrayCommaInAnEmptySecondDocument", "gateway:\n  domains: [example.com]\n---\n,\n",
                "t.yaml:4:1: YAML syntax error: unexpected ','"},
        BadCase{"SecondDocumentAfterAnEmptyOne",
                "gateway:\n  domains: [example.com]\n---\n---\nmilter:\n  enabled: no\n",
                "t.yaml:5:1: a second YAML document"},
        BadCase{"MultiLineRejectText",
                "gateway:\n  domains: [example.com]\ningress:\n  reject_text: \"a\\r\\nb\"\n",
                "t.yaml:4:16: ingress.reject_text: must be one line (no line breaks)"},
        BadCase{"EmptyValueIsReportedAtItsKey",
                "gateway:\n  domains: [example.com]\nstore:\n  sqlite:\n    path:\n\n# a comment\n"
                "milter:\n  enabled: true\n",
                "t.yaml:5:5: store.sqlite.path: expected a string, got nothing (null)"},
        BadCase{"ServiceDomainTwiceInAnotherCase",
                "gateway:\n  domains: [example.com]\nresolver:\n  services:\n    example.net: "
                "https://a.example.net\n    Example.NET: https://b.example.net\n",
                "t.yaml:6:18: resolver.services.Example.NET: \"Example.NET\" is listed twice "
                "(domain names ignore case)"},
        BadCase{"ListWrittenAsOneString", "gateway:\n  domains: example.com, example.org\n",
                "t.yaml:2:12: gateway.domains: \"example.com, example.org\" is one string, not a "
                "list: write [a, b]"},
        BadCase{"HeloWithALineBreak",
                "gateway:\n  domains: [example.com]\nmesh_to_smtp:\n  helo: \"a\\r\\nRSET\"\n",
                "t.yaml:4:9: mesh_to_smtp.helo: must be one line of text (no line breaks or "
                "control characters)"},
        BadCase{"DigestFromNotAnAddress",
                "gateway:\n  domains: [example.com]\nquarantine:\n  digest_from: not an address\n",
                "t.yaml:4:16: quarantine.digest_from: \"not an address\" is not an address"},
        BadCase{"SyntaxError", "gateway:\n  domains: [example.com\n",
                "t.yaml:3:1: YAML syntax error: end of sequence flow not found"},
        BadCase{"TopLevelNotAMap", "- a\n- b\n",
                "t.yaml:1:1: (top level): expected a mapping of keys, got a list"},
        BadCase{"EmptyFile", "",
                "t.yaml:1:1: the file is empty (expected at least gateway.domains)"}),
    [](const ::testing::TestParamInfo<BadCase>& tp) { return tp.param.name; });

TEST(ConfigLoader, DocumentMarkersAroundTheOneDocumentAreFine) {
  // Only a second document with settings in it is refused (see SecondDocument above).
  EXPECT_TRUE(load("---\ngateway:\n  domains: [example.com]\n").ok());
  EXPECT_TRUE(load("gateway:\n  domains: [example.com]\n---\n").ok());
  EXPECT_TRUE(load("gateway:\n  domains: [example.com]\n...\n").ok());
}

TEST(ConfigLoader, ReportsEveryErrorNotJustTheFirst) {
  LoadResult r = load(
      "gateway:\n  domains: [example.com]\nmilter:\n  enabled: maybe\n  backlog: -1\n"
      "ingress:\n  default: rejct\n  colour: blue\n");
  ASSERT_EQ(r.errors.size(), 4u) << joined(r);
  EXPECT_NE(r.errors[0].find("t.yaml:4:"), std::string::npos);
  EXPECT_NE(r.errors[1].find("t.yaml:5:"), std::string::npos);
  EXPECT_NE(r.errors[2].find("t.yaml:7:"), std::string::npos);
  EXPECT_NE(r.errors[3].find("t.yaml:8:"), std::string::npos);
}

TEST(ConfigLoader, AcceptsUnitsAndLibmilterInetSyntax) {
  LoadResult r = load(
      "gateway:\n  domains: [Example.COM, example.net]\nmilter:\n  socket: inet:10025@127.0.0.1\n"
      "  timeout: 1500ms\nmesh_service:\n  max_body_bytes: 64k\n  listen: \"[::1]:8443\"\n"
      "  plain_http: yes\n");
  ASSERT_TRUE(r.ok()) << joined(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.gateway.domains, (std::vector<std::string>{"example.com", "example.net"}));
  EXPECT_TRUE(c.isLocalDomain("EXAMPLE.net"));
  EXPECT_FALSE(c.isLocalDomain("example.org"));
  EXPECT_EQ(c.milter.socket.kind, MilterSocket::Kind::kInet);
  EXPECT_EQ(c.milter.socket.inet.port, 10025);
  EXPECT_EQ(c.milter.socket.inet.host, "127.0.0.1");
  EXPECT_EQ(c.milter.timeout.count(), 1500);
  EXPECT_EQ(c.mesh_service.max_body_bytes, 65536u);
  EXPECT_EQ(c.mesh_service.listen.host, "::1");
  EXPECT_TRUE(c.mesh_service.plain_http);
}

TEST(ConfigLoader, MissingFileSaysHowToFix) {
  LoadResult r = loadConfigFile("/nonexistent/meshgate.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0],
            "/nonexistent/meshgate.yaml: cannot open: No such file or directory (give the path "
            "of a meshgate.yaml; see conf/meshgate.yaml)");
  LoadResult folder = loadConfigFile("/tmp");
  ASSERT_EQ(folder.errors.size(), 1u);
  EXPECT_EQ(folder.errors[0],
            "/tmp: is a folder, not a file (give the path of a meshgate.yaml; "
            "see conf/meshgate.yaml)");
}

}  // namespace
}  // namespace meshgate::config

namespace meshgate::config {
namespace {

// Every key of the shipped example is documented in docs/configuration.md (as `key` in the
// section's table, or `parent.key` for nested ones).
void collectKeys(const YAML::Node& node, const std::string& prefix,
                 std::vector<std::string>& out) {
  if (!node.IsMap()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.Scalar();
    std::string path = prefix.empty() ? key : prefix + "." + key;
    // Sections ("store") and leaves ("store.sqlite.path") are documented; intermediate
    // mappings ("store.sqlite") are not entries of their own.
    if (!it->second.IsMap() || prefix.empty()) out.push_back(path);
    collectKeys(it->second, path, out);
  }
}

TEST(ConfigDocs, EveryExampleKeyIsDocumented) {
  YAML::Node root = YAML::LoadFile(std::string(MESHGATE_SOURCE_DIR) + "/conf/meshgate.yaml");
  std::ifstream doc_file(std::string(MESHGATE_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream doc;
  doc << doc_file.rdbuf();
  std::vector<std::string> keys;
  collectKeys(root, "", keys);
  ASSERT_GT(keys.size(), 30u);
  for (const auto& path : keys) {
    auto dot = path.find('.');
    if (dot == std::string::npos) {
      EXPECT_NE(doc.str().find("## " + path), std::string::npos) << "section " << path;
      continue;
    }
    std::string in_section = path.substr(dot + 1);  // "sqlite.path" within "## store"
    EXPECT_NE(doc.str().find("| `" + in_section + "` |"), std::string::npos)
        << path << " is not documented in docs/configuration.md";
  }
}

}  // namespace
}  // namespace meshgate::config
