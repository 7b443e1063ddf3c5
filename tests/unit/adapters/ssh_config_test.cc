// ssh_config_test.cc - the ssh section of meshgate.yaml: defaults, login map, strict errors.
#include <gtest/gtest.h>

#include "gateway/config/config_loader.h"

namespace meshgate::config {
namespace {

using namespace std::chrono_literals;

TEST(SshConfig, DefaultsFollowTheGatewaySection) {
  auto r = loadConfigString("gateway:\n  domains: [example.com, example.org]\n  data_dir: /var/lib/mg\n",
                            "t.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->ssh.cache_file, "/var/lib/mg/ssh.cache");
  EXPECT_EQ(r.config->ssh.domain, "example.com");
  EXPECT_EQ(r.config->ssh.cache_refresh, 300s);
  EXPECT_EQ(r.config->ssh.cache_max_age, 86400s);
  EXPECT_EQ(r.config->ssh.store_timeout, 25ms);
  EXPECT_TRUE(r.config->ssh.users.empty());
}

TEST(SshConfig, ReadsEveryKey) {
  auto r = loadConfigString(
      "gateway:\n  domains: [example.com]\n"
      "ssh:\n  cache_file: /run/c\n  cache_refresh: 0s\n  cache_max_age: 2h\n"
      "  store_timeout: 100ms\n  domain: Example.NET\n"
      "  users:\n    root: Admin@Example.com\n    backup-1: backup@example.com\n",
      "t.yaml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0]);
  const SshSection& s = r.config->ssh;
  EXPECT_EQ(s.cache_file, "/run/c");
  EXPECT_EQ(s.cache_refresh, 0s);
  EXPECT_EQ(s.cache_max_age, 7200s);
  EXPECT_EQ(s.store_timeout, 100ms);
  EXPECT_EQ(s.domain, "example.net");
  EXPECT_EQ(s.users.at("root"), "admin@example.com");
  EXPECT_EQ(s.users.at("backup-1"), "backup@example.com");
}

TEST(SshConfig, ErrorsNameFileLineAndKey) {
  struct Case {
    std::string yaml, expected;
  } cases[] = {
      {"ssh:\n  users:\n    \"bad login\": a@example.com\n", "t.yaml:5:18: ssh.users.bad login"},
      {"ssh:\n  users:\n    root: nobody\n", "is not an account address"},
      {"ssh:\n  cache_refresh: 2d\n  cache_max_age: 1d\n", "must not be longer than cache_max_age"},
      {"ssh:\n  store_timeout: 0ms\n", "ssh.store_timeout"},
      {"ssh:\n  cache_lifetime: 1d\n", "ssh.cache_lifetime"},
  };
  for (const auto& c : cases) {
    auto r = loadConfigString("gateway:\n  domains: [example.com]\n" + c.yaml, "t.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    std::string all;
    for (const auto& e : r.errors) all += e + "\n";
    EXPECT_NE(all.find(c.expected), std::string::npos) << c.yaml << " -> " << all;
  }
}

TEST(MeshToSmtpConfig, DefaultsAndValues) {
  auto d = loadConfigString("gateway:\n  node: mx.example.com\n  domains: [example.com]\n", "t.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.config->mesh_to_smtp.server.host, "127.0.0.1");
  EXPECT_EQ(d.config->mesh_to_smtp.server.port, 10026);  // the reinjection smtpd, no milter
  EXPECT_EQ(d.config->mesh_to_smtp.helo, "mx.example.com");
  EXPECT_EQ(d.config->mesh_to_smtp.timeout, 30s);
  auto r = loadConfigString(
      "gateway:\n  domains: [example.com]\nmesh_to_smtp:\n  server: 127.0.0.1:10025\n"
      "  helo: mesh.example.com\n  timeout: 5s\n",
      "t.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->mesh_to_smtp.server.port, 10025);
  EXPECT_EQ(r.config->mesh_to_smtp.helo, "mesh.example.com");
  EXPECT_EQ(r.config->mesh_to_smtp.timeout, 5s);
  auto bad = loadConfigString("gateway:\n  domains: [example.com]\nmesh_to_smtp:\n  server: nowhere\n",
                              "t.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.errors[0].find("t.yaml:4:"), std::string::npos) << bad.errors[0];
  EXPECT_NE(bad.errors[0].find("mesh_to_smtp.server"), std::string::npos) << bad.errors[0];
}

}  // namespace
}  // namespace meshgate::config
