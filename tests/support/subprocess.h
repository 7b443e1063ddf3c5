// NAME
//   subprocess.h - run a program (usually the real `meshgate` binary) and capture its output.
//
// DESCRIPTION
//   For tests that exercise a command exactly as an administrator types it. stdout and stderr
//   are captured separately; stdin may be given. The child is killed after `timeout_ms`.
#pragma once

#include <string>
#include <vector>

namespace meshgate::testing {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};

RunResult runProgram(const std::vector<std::string>& argv, const std::string& stdin_data = "",
                     int timeout_ms = 30000);

// Runs MESHGATE_BINARY with args.
RunResult runMeshgate(const std::vector<std::string>& args, const std::string& stdin_data = "");

// A fresh temporary folder removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace meshgate::testing
