// NAME
//   yaml_reader.h - strict, declarative reading of YAML mappings into typed fields.
//
// SYNOPSIS
//   ConfigErrors errors("conf/meshgate.yaml");
//   YamlMap root(errors, node, "");
//   YamlMap milter = root.map("milter");
//   milter.boolean("enabled", cfg.milter.enabled);
//   milter.choice("on_error", cfg.milter.on_error, {{"tempfail", kTempfail}, ...});
//   milter.finish();   // every key not read above is reported as unknown
//
// DESCRIPTION
//   Each reader call looks up one key; if present it is converted and range-checked, and on
//   any problem an error "file:line:column: path.to.key: what is wrong (expected ...)" is
//   recorded and the default is kept. Errors are collected, not thrown, so an administrator
//   sees every mistake in one run of `meshgate check-config`. Duplicate keys are errors
//   (yaml-cpp silently keeps one of them).
//
//   Internal to gateway/config: nothing outside includes yaml-cpp through this header.
//
// THREAD SAFETY
//   Single-threaded use during loading.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshgate::config {

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
  std::string path;
  std::string message;

  std::string toString() const;
};

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}
  void add(const YAML::Mark& mark, std::string path, std::string message);
  void addAt(int line, int column, std::string path, std::string message);
  const std::vector<ConfigError>& list() const { return errors_; }
  bool empty() const { return errors_.empty(); }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

class YamlMap {
 public:
  // node may be undefined/null (a missing section): every field then keeps its default.
  YamlMap(ConfigErrors& errors, YAML::Node node, std::string path,
          YAML::Mark key_mark = YAML::Mark::null_mark());

  bool present() const { return valid_; }
  bool has(std::string_view key) const;
  YAML::Node node() const { return node_; }
  const std::string& path() const { return path_; }
  std::string childPath(std::string_view key) const;

  void boolean(std::string_view key, bool& out);
  void integer(std::string_view key, int& out, int64_t min, int64_t max);
  void integer(std::string_view key, int64_t& out, int64_t min, int64_t max);
  void unsignedInteger(std::string_view key, uint32_t& out, uint64_t min, uint64_t max);
  // Accepts 1048576, 64k, 1M, 1MiB, 2G.
  void size(std::string_view key, uint64_t& out, uint64_t min, uint64_t max);
  // Accepts 250ms, 10s, 5m, 1h, 1d; a bare number is seconds.
  void duration(std::string_view key, std::chrono::milliseconds& out, std::chrono::milliseconds min,
                std::chrono::milliseconds max);
  void string(std::string_view key, std::string& out, bool required = false);
  void nonEmptyString(std::string_view key, std::string& out, bool required = false);
  // A string that ends up in a header, an SMTP command or a log line: no line breaks or other
  // control characters.
  void lineString(std::string_view key, std::string& out);
  // Octal file mode such as "0660" (quoted or not).
  void fileMode(std::string_view key, uint32_t& out);
  void stringList(std::string_view key, std::vector<std::string>& out, bool required = false);

  template <typename E>
  void choice(std::string_view key, E& out,
              std::initializer_list<std::pair<std::string_view, E>> options);

  // A nested mapping; absent -> a reader whose fields keep their defaults.
  YamlMap map(std::string_view key);
  // A sequence of mappings; fn is called once per element.
  void listOfMaps(std::string_view key, const std::function<void(YamlMap&)>& fn);

  // Declares key as accepted without reading it (the caller parses it itself).
  void known(std::string_view key) { markSeen(key); }

  // Records a custom error at the key (or at this mapping when the key is absent).
  void error(std::string_view key, std::string message);

  // Reports every key of this mapping that no reader call asked for.
  void finish();

 private:
  // Returns the scalar node for key, or an undefined node (after recording an error when the
  // key is present but not a scalar).
  YAML::Node scalar(std::string_view key, std::string_view expected);
  void markSeen(std::string_view key);
  YAML::Mark markOf(std::string_view key) const;
  std::string describe(const YAML::Node& n) const;

  ConfigErrors& errors_;
  YAML::Node node_;
  std::string path_;
  YAML::Mark key_mark_;  // where this mapping's key is written (for "section is empty")
  bool valid_ = false;
  std::set<std::string, std::less<>> seen_;
};

template <typename E>
void YamlMap::choice(std::string_view key, E& out,
                     std::initializer_list<std::pair<std::string_view, E>> options) {
  YAML::Node n = scalar(key, "one of the listed words");
  if (!n.IsDefined()) return;
  const std::string& text = n.Scalar();
  std::string expected;
  for (const auto& [name, value] : options) {
    if (text == name) {
      out = value;
      return;
    }
    if (!expected.empty()) expected += ", ";
    expected += name;
  }
  errors_.add(n.Mark(), childPath(key),
              "unknown value \"" + text + "\" (expected one of: " + expected + ")");
}

}  // namespace meshgate::config
