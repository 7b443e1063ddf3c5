// The fuzz seed corpus (tests/fuzz/corpus/mesh_json/) stays valid as the schema changes: every
// file is a message that parses, and round-trips through serialize.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "meshgate/mesh_model.h"

namespace meshgate::mesh::model {
namespace {

TEST(MeshModelCorpus, EverySeedParsesAndRoundTrips) {
  const std::filesystem::path dir =
      std::filesystem::path(MESHGATE_SOURCE_DIR) / "tests/fuzz/corpus/mesh_json";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    SCOPED_TRACE(entry.path().filename().string());
    Result<AnyMessage> message = parseMessage(text.str());
    ASSERT_TRUE(message.ok()) << message.status().toString();
    // Every member of the seed is one the schema knows: nothing is dropped on the way through.
    EXPECT_EQ(toTaggedJson(*message), nlohmann::json::parse(text.str())) << serialize(*message);
    Result<AnyMessage> again = parseMessage(serialize(*message));
    ASSERT_TRUE(again.ok()) << again.status().toString();
    EXPECT_TRUE(*again == *message);
    ++files;
  }
  EXPECT_GE(files, 12);
}

}  // namespace
}  // namespace meshgate::mesh::model
