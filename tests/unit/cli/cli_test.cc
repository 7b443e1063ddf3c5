// The `meshgate` executable as an administrator uses it: help, version, check-config.
#include <gtest/gtest.h>

#include "meshgate/version.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

using testing::runMeshgate;
using testing::TempDir;

TEST(Cli, VersionPrintsTheProjectVersion) {
  auto r = runMeshgate({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("meshgate ") + MESHGATE_VERSION + "\n");
}

TEST(Cli, HelpListsEveryServiceAndCheckConfig) {
  auto r = runMeshgate({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"run", "milter", "policy", "policyd", "check-config"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + cmd + " "), std::string::npos) << cmd;
  }
}

TEST(Cli, NoArgumentsIsAUsageError) {
  auto r = runMeshgate({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Usage: meshgate COMMAND"), std::string::npos);
}

TEST(Cli, UnknownCommandIsAUsageErrorThatPointsToHelp) {
  auto r = runMeshgate({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command \"frobnicate\""), std::string::npos);
  EXPECT_NE(r.err.find("meshgate --help"), std::string::npos);
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd : {"run", "milter", "policy", "policyd", "check-config"}) {
    auto r = runMeshgate({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_EQ(r.out.rfind(std::string("Usage: meshgate ") + cmd, 0), 0u) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << cmd;
  }
}

TEST(Cli, UnknownOptionIsAUsageError) {
  auto r = runMeshgate({"run", "--colour"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option --colour"), std::string::npos);
}

TEST(Cli, CheckConfigAcceptsTheShippedExample) {
  auto r = runMeshgate({"check-config", std::string(MESHGATE_SOURCE_DIR) + "/conf/meshgate.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": OK (domains: example.com;"), std::string::npos) << r.out;
}

TEST(Cli, CheckConfigListsEveryErrorAndExitsOne) {
  TempDir dir;
  dir.write("bad.yaml",
            "gateway:\n  domains: [example.com]\ningress:\n  default: rejct\nmilter:\n  enabeld: "
            "true\n");
  auto r = runMeshgate({"check-config", dir.file("bad.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir.file("bad.yaml") + ":4:12: ingress.default: unknown value \"rejct\" "
                                              "(expected one of: open, tag-unknown, "
                                              "quarantine-unknown, contacts-only)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(dir.file("bad.yaml") + ":6:3: milter.enabeld: unknown key"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(": 2 error(s)"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, CheckConfigWithoutFileIsAUsageError) {
  auto r = runMeshgate({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing argument FILE"), std::string::npos);
}

TEST(Cli, RunRefusesAnInvalidConfigurationNamingTheError) {
  TempDir dir;
  dir.write("bad.yaml", "gateway:\n  domains: [example.com]\npolicyd:\n  listen: nowhere\n");
  auto r = runMeshgate({"run", "--config", dir.file("bad.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(":4:11: policyd.listen: expected host:port"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace meshgate
