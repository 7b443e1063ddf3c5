// model_test_support.cc - the assertions of the generated round-trip cases (see
// model_test_support.h).
#include "tests/unit/model/model_test_support.h"

namespace meshgate::mesh::model::testing_support {

void checkRoundTrip(const RoundTrip& r) {
  SCOPED_TRACE(r.type_name);
  ASSERT_TRUE(r.json.is_object());
  EXPECT_EQ(memberNames(r.json), r.expected_members);
  // Every member filled: a value equal to the default would prove nothing.
  EXPECT_EQ(r.value_is_default, r.expected_members.empty());

  ASSERT_TRUE(r.from_json.ok()) << r.from_json.toString();
  EXPECT_TRUE(r.from_json_equal) << dumpJson(r.json) << "\nread back as\n" << r.from_json_text;
  if (r.abstract) return;

  EXPECT_EQ(r.text.rfind("{\"" + r.type_name + "\":{", 0), 0u) << r.text;
  ASSERT_TRUE(r.parse.ok()) << r.parse.toString();
  EXPECT_TRUE(r.parse_equal) << r.text;
  EXPECT_EQ(r.parse_serialized, r.text);

  ASSERT_TRUE(r.parse_message.ok()) << r.parse_message.toString();
  EXPECT_EQ(r.any_type_name, r.type_name);
  EXPECT_EQ(typeIdFromName(r.type_name), r.any_type);
  EXPECT_TRUE(r.any_get_equal);
  EXPECT_EQ(r.any_serialized, r.text);
}

}  // namespace meshgate::mesh::model::testing_support
