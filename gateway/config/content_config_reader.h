// content_config_reader.h - internal to gateway/config: the loader's hook for the content
// sections (payment, impersonation, egress, too_stupid, brands).
#pragma once

#include "gateway/config/config.h"
#include "gateway/config/yaml_reader.h"

namespace meshgate::config {

// Reads every content section from the top-level mapping (each a YamlMap of its own, finished
// there) into config.
void readContentSections(YamlMap& root, Config& config);

}  // namespace meshgate::config
