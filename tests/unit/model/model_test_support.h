// NAME
//   model_test_support.h - helpers for the Mesh data model tests: distinct sample values and the
//   round-trip assertions the generated per-structure cases call.
//
// DESCRIPTION
//   Filler hands out a different value on every call (strings with characters JSON must
//   escape, binaries of every length modulo 3, negative and large integers, both booleans), so a
//   field decoded into the wrong member, or not at all, makes the round trip unequal.
//
// THREAD SAFETY
//   Test-only; single-threaded.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "meshgate/mesh_model.h"

namespace meshgate::mesh::model::testing_support {

class Filler {
 public:
  explicit Filler(int seed) : n_(static_cast<std::int64_t>(seed) * 1000) {}

  std::size_t next() { return static_cast<std::size_t>(++n_); }

  std::string string(std::string_view field) {
    return std::string(field) + "-" + std::to_string(++n_) + " \"q\" \\ </> \xc3\xa9\t";
  }
  bool boolean() { return ++n_ % 2 == 0; }
  std::int64_t integer() {
    ++n_;
    return n_ % 3 == 0 ? -n_ : (std::int64_t{1} << 40) + n_;
  }
  DateTime dateTime() { return DateTime(std::chrono::seconds(1595863800 + ++n_ * 3601)); }
  Bytes bytes() {
    ++n_;
    Bytes b;
    for (std::int64_t i = 0; i < n_ % 5 + 1; ++i) {
      b.push_back(static_cast<std::uint8_t>((n_ * 37 + i * 101) & 0xff));
    }
    return b;
  }
  DareEnvelope envelope() {
    DareEnvelope e;
    e.header.envelope_id = "MDEN-" + std::to_string(++n_);
    e.header.dig = "S512";
    e.payload = bytes();
    if (n_ % 2 == 0) {
      e.trailer.emplace();
      e.trailer->payload_digest = bytes();
    }
    return e;
  }

 private:
  std::int64_t n_;
};

inline std::vector<std::string> memberNames(const nlohmann::json& object) {
  std::vector<std::string> names;
  for (const auto& item : object.items()) names.push_back(item.key());
  return names;  // sorted: nlohmann::json objects are ordered maps
}

// toJson/fromJson, and for concrete structures serialize/parse<T>/parseMessage, all give back
// `value`; the JSON object has exactly `expected_members` (sorted).
template <typename T>
void expectRoundTrip(const T& value, const std::vector<std::string>& expected_members) {
  SCOPED_TRACE(std::string(T::kTypeName));
  const nlohmann::json json = toJson(value);
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(memberNames(json), expected_members);

  Result<T> back = fromJson<T>(json, T::kTypeName);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_TRUE(*back == value) << dumpJson(json) << "\nread back as\n" << dumpJson(toJson(*back));
  if (!expected_members.empty()) {
    EXPECT_FALSE(*back == T{});
  }

  if constexpr (!T::kAbstract) {
    const std::string text = serialize(value);
    EXPECT_EQ(text.rfind("{\"" + std::string(T::kTypeName) + "\":{", 0), 0u) << text;

    Result<T> parsed = parse<T>(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
    EXPECT_TRUE(*parsed == value);
    EXPECT_EQ(serialize(*parsed), text);

    Result<AnyMessage> any = parseMessage(text);
    ASSERT_TRUE(any.ok()) << any.status().toString();
    EXPECT_EQ(any->type(), T::kTypeId);
    EXPECT_EQ(any->typeName(), T::kTypeName);
    ASSERT_NE(any->template get<T>(), nullptr);
    EXPECT_TRUE(*any->template get<T>() == value);
    EXPECT_TRUE(*any == AnyMessage(value));
    EXPECT_EQ(serialize(*any), text);
  }
}

// A polymorphic holder is wrapped by its alternative's name and reads back equal.
template <typename Holder>
void expectHolderRoundTrip(const Holder& value, std::string_view base) {
  const nlohmann::json json = toJson(value);
  ASSERT_TRUE(json.is_object());
  ASSERT_EQ(json.size(), 1u) << dumpJson(json);
  std::visit(
      [&](const auto& alternative) {
        using Alternative = std::decay_t<decltype(alternative)>;
        EXPECT_EQ(json.begin().key(), Alternative::kTypeName);
        EXPECT_TRUE(inheritsFrom(Alternative::kTypeId, typeIdFromName(base).value()));
        EXPECT_TRUE(json.begin().value() == toJson(alternative));
      },
      value);
  Result<Holder> back = fromJson<Holder>(json, base);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_TRUE(*back == value) << dumpJson(json);
}

}  // namespace meshgate::mesh::model::testing_support
