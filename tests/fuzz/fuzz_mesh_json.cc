// NAME
//   fuzz_mesh_json.cc - libFuzzer target for the Mesh data model's JSON codec.
//
// DESCRIPTION
//   Feeds arbitrary bytes to parseMessage (the path every Mesh service request and every Mesh
//   Message payload takes). Whatever parses must serialize, parse back to an equal value, and
//   serialize to the same text again; anything else (a crash, a sanitizer report, an exception,
//   a value that does not survive its own round trip) is a finding. Seed corpus:
//   tests/fuzz/corpus/mesh_json/.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "meshgate/mesh_model.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_mesh_json: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meshgate::mesh::model;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  meshgate::Result<AnyMessage> message = parseMessage(text);
  if (!message.ok()) return 0;

  const std::string once = serialize(*message);
  meshgate::Result<AnyMessage> again = parseMessage(once);
  if (!again.ok()) fail("serialized value does not parse", once + "\n" + again.status().toString());
  if (!(*again == *message)) fail("round trip changed the value", once);
  const std::string twice = serialize(*again);
  if (twice != once) fail("serialization is not stable", once + "\n" + twice);
  return 0;
}
