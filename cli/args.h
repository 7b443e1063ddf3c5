// NAME
//   args.h - a small command-line parser for meshgate's subcommands, with generated --help.
//
// SYNOPSIS
//   ArgParser p("meshgate key generate", "Generate a key pair.");
//   p.option("type", "TYPE", "Ed25519, Ed448, X25519 or X448", &type, /*required=*/true);
//   p.option("out", "FILE", "where to write the private key", &out, true);
//   if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
//
// DESCRIPTION
//   Long options only ("--name VALUE" or "--name=VALUE"), flags, repeatable options and
//   positional arguments. "-h"/"--help" print the help to stdout and parse() returns 0; a usage
//   error prints the problem and a pointer to --help on stderr and returns 2. "--" ends options.
#pragma once

#include <string>
#include <vector>

namespace meshgate::cli {

class ArgParser {
 public:
  static constexpr int kContinue = -1;

  ArgParser(std::string command, std::string description);

  void flag(std::string name, std::string help, bool* out);
  void option(std::string name, std::string metavar, std::string help, std::string* out,
              bool required = false);
  void repeated(std::string name, std::string metavar, std::string help,
                std::vector<std::string>* out);
  void positional(std::string name, std::string help, std::string* out, bool required = true);
  // Collects every remaining positional argument.
  void rest(std::string name, std::string help, std::vector<std::string>* out);
  // Free text printed after the option list (examples, exit status).
  void epilog(std::string text) { epilog_ = std::move(text); }

  int parse(const std::vector<std::string>& args);
  std::string help() const;

  // Prints "meshgate X: message" and the --help hint to stderr; returns 2.
  int usageError(const std::string& message) const;

 private:
  struct Opt {
    std::string name, metavar, help;
    bool* flag = nullptr;
    std::string* value = nullptr;
    std::vector<std::string>* values = nullptr;
    bool required = false;
    bool seen = false;
  };
  struct Pos {
    std::string name, help;
    std::string* value = nullptr;
    bool required = true;
  };
  Opt* find(const std::string& name);

  std::string command_, description_, epilog_;
  std::vector<Opt> options_;
  std::vector<Pos> positionals_;
  std::string rest_name_, rest_help_;
  std::vector<std::string>* rest_ = nullptr;
};

}  // namespace meshgate::cli
