// libFuzzer target: the strict YAML configuration loader (gateway/config/config_loader.h) on
// arbitrary text: never a crash or an exception, and an answer that is either a configuration
// or at least one error, each naming the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gateway/config/config_loader.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  meshgate::config::LoadResult r = meshgate::config::loadConfigString(text, "fuzz.yaml");
  check(r.ok() == (r.config != nullptr));
  for (const std::string& e : r.errors) check(e.starts_with("fuzz.yaml"));
  // Deterministic: the same text gives the same errors (no state kept between loads).
  check(meshgate::config::loadConfigString(text, "fuzz.yaml").errors == r.errors);
  return 0;
}
