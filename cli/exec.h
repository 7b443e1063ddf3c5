// NAME
//   exec.h - run a helper program (postsuper, postcat, sendmail) without a shell.
//
// DESCRIPTION
//   The arguments go to execv as they are: a queue id or address from the store can never be
//   interpreted by a shell. Output is captured (up to a limit); the child's exit status is
//   returned. Used by the quarantine commands.
#pragma once

#include <string>
#include <vector>

#include "gateway/util/status.h"

namespace meshgate::cli {

struct ExecResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] (an absolute path) with `input` on stdin. kUnavailable if it cannot be started;
// kDeadlineExceeded (the child killed) when timeout_ms >= 0 passes first.
Result<ExecResult> execProgram(const std::vector<std::string>& argv, const std::string& input = "",
                               int timeout_ms = -1, size_t max_output = 64 * 1024 * 1024);

}  // namespace meshgate::cli
