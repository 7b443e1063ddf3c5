// subprocess.cc - fork/exec with pipes and a deadline.
#include "tests/support/subprocess.h"

#include "cli/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace meshgate::testing {

RunResult runProgram(const std::vector<std::string>& argv, const std::string& stdin_data,
                     int timeout_ms) {
  auto r = cli::execProgram(argv, stdin_data, timeout_ms);
  if (!r.ok()) return RunResult{-1, "", r.status().message()};
  return RunResult{r->exit_code, std::move(r->out), std::move(r->err)};
}

RunResult runMeshgate(const std::vector<std::string>& args, const std::string& stdin_data) {
  std::vector<std::string> argv{MESHGATE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProgram(argv, stdin_data);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "meshgate-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  std::ofstream f(file(name), std::ios::binary);
  f << content;
}

}  // namespace meshgate::testing
