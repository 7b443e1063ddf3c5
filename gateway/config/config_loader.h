// NAME
//   config_loader.h - load and validate meshgate.yaml.
//
// SYNOPSIS
//   LoadResult r = loadConfigFile("conf/meshgate.yaml");
//   if (!r.ok()) for (auto& e : r.errors) puts(e.toString().c_str());
//
// DESCRIPTION
//   Parses YAML with yaml-cpp and maps it onto Config (config.h) strictly: unknown keys, wrong
//   types, out-of-range values, missing required keys and cross-field mistakes (plain HTTP on a
//   public address, a domain written twice) are all reported with file:line:column and key
//   path. A YAML syntax error is reported at its position. Nothing here touches the network,
//   the store or key files: it is safe to run as `meshgate check-config` on a live system.
//
// THREAD SAFETY
//   Reentrant.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config.h"

namespace meshgate::config {

struct ConfigError;  // yaml_reader.h

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<std::string> errors;       // "file:line:col: path: message", in file order
  bool ok() const { return errors.empty(); }
};

LoadResult loadConfigFile(const std::string& path);
LoadResult loadConfigString(const std::string& yaml, const std::string& display_name);

}  // namespace meshgate::config
