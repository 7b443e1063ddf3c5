// content_config.cc - reads the content-check sections of meshgate.yaml.
#include "gateway/config/content_config_reader.h"

namespace meshgate::config {

void readContentSections(YamlMap& root, Config& config) {
  (void)root;
  (void)config;
}

}  // namespace meshgate::config
