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

// What one structure's round trip produced. Filled by the template below, checked by
// checkRoundTrip (model_test_support.cc), so the gtest assertions are compiled once rather than
// once per structure.
struct RoundTrip {
  std::string type_name;
  bool abstract = false;
  nlohmann::json json;                  // toJson(value)
  std::vector<std::string> expected_members;
  Status from_json;                     // fromJson<T>(json)
  bool from_json_equal = false;         // ... == value
  bool value_is_default = false;        // value == T{}
  std::string from_json_text;           // toJson(fromJson<T>(json)), for the message
  std::string text;                     // serialize(value)
  Status parse;                         // parse<T>(text)
  bool parse_equal = false;
  std::string parse_serialized;         // serialize(parse<T>(text))
  Status parse_message;                 // parseMessage(text)
  TypeId any_type = TypeId::kNone;
  std::string any_type_name;
  bool any_get_equal = false;           // *any->get<T>() == value
  std::string any_serialized;           // serialize(*any)
};

void checkRoundTrip(const RoundTrip& r);

// toJson/fromJson, and for concrete structures serialize/parse<T>/parseMessage, all give back
// `value`; the JSON object has exactly `expected_members` (sorted).
template <typename T>
void expectRoundTrip(const T& value, const std::vector<std::string>& expected_members) {
  RoundTrip r;
  r.type_name = std::string(T::kTypeName);
  r.abstract = T::kAbstract;
  r.json = toJson(value);
  r.expected_members = expected_members;
  r.value_is_default = value == T{};
  Result<T> back = fromJson<T>(r.json, T::kTypeName);
  r.from_json = back.status();
  if (back.ok()) {
    r.from_json_equal = *back == value;
    r.from_json_text = dumpJson(toJson(*back));
  }
  if constexpr (!T::kAbstract) {
    r.text = serialize(value);
    Result<T> parsed = parse<T>(r.text);
    r.parse = parsed.status();
    if (parsed.ok()) {
      r.parse_equal = *parsed == value;
      r.parse_serialized = serialize(*parsed);
    }
    Result<AnyMessage> any = parseMessage(r.text);
    r.parse_message = any.status();
    if (any.ok()) {
      r.any_type = any->type();
      r.any_type_name = std::string(any->typeName());
      const T* typed = any->template get<T>();
      r.any_get_equal = typed != nullptr && *typed == value;
      r.any_serialized = serialize(*any);
    }
  }
  checkRoundTrip(r);
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
