// NAME
//   codec_support.h - what the generated Mesh data model codec is built from: DateTime, the
//   bounded JSON parser, the field path used in error messages, and the per-value encoders and
//   decoders for the schema's scalar types.
//
// SYNOPSIS
//   #include "meshgate/mesh_model.h"     // includes this header; use that one
//
//   Result<nlohmann::json> j = parseJsonText(text, ParseLimits{.max_bytes = 1 << 20});
//   std::string when = formatDateTime(t);          // "2020-07-27T15:30:00Z"
//   Result<DateTime> t2 = parseDateTime(when);
//
// DESCRIPTION
//   MESH-FORMATS section 4: Binary is base64url without padding (decoding also accepts '+', '/'
//   and '=' padding, via gateway/util/encoding.h); DateTime is yyyy-MM-ddTHH:mm:ssZ in UTC.
//   parseDateTime also accepts a fractional second (".123"), which it drops: the model keeps
//   whole seconds, as the reference implementation writes them.
//
//   parseJsonText is the only way hostile text becomes JSON here: it refuses input longer than
//   ParseLimits::max_bytes before looking at it, and input nested deeper than max_depth while
//   parsing (nlohmann's parser is iterative, so depth costs no stack; the limit bounds what the
//   decoders below, which do recurse, will see).
//
//   Everything in namespace detail is for the generated code (build/.../mesh_model*.cc) and may
//   change with it.
//
// THREAD SAFETY
//   Pure functions and value types.
//
// ERRORS
//   kInvalidArgument for malformed input, with the field path first
//   ("CatalogedContact.Permissions[2].Name: expected a string, got number");
//   kResourceExhausted for input over the limits. Nothing here throws except std::bad_alloc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/mesh/dare.h"
#include "gateway/util/encoding.h"
#include "gateway/util/status.h"

namespace meshgate::mesh::model {

// A Mesh DateTime: UTC, whole seconds.
using DateTime = std::chrono::sys_seconds;

// "yyyy-MM-ddTHH:mm:ssZ". Years outside 0..9999 are printed as they are and will not parse.
std::string formatDateTime(DateTime time);
Result<DateTime> parseDateTime(std::string_view text);

struct ParseLimits {
  // Same bound as a DARE envelope's text: a Post of a mail message of tens of megabytes.
  std::size_t max_bytes = 64u * 1024 * 1024;
  // The deepest structure of the schema, wrapped and carrying envelopes, is under 20 levels.
  int max_depth = 64;
};

// Parses text as JSON within `limits`. Never throws (except std::bad_alloc).
Result<nlohmann::json> parseJsonText(std::string_view text, const ParseLimits& limits = {});

// Compact JSON text. Never throws: a string that is not UTF-8 (only possible in a value built
// by hand, never in one parsed) has its bad bytes replaced by U+FFFD.
std::string dumpJson(const nlohmann::json& json);

namespace detail {

// The path of the value being decoded, as a chain of stack frames; turned into text
// ("GetRequest.KeyValues[1].Key") only when there is an error to report.
class FieldPath {
 public:
  explicit FieldPath(std::string_view root) : name_(root) {}
  FieldPath(const FieldPath* parent, std::string_view member) : parent_(parent), name_(member) {}
  FieldPath(const FieldPath* parent, std::size_t index)
      : parent_(parent), index_(index), is_index_(true) {}

  std::string str() const;

 private:
  const FieldPath* parent_ = nullptr;
  std::string_view name_;
  std::size_t index_ = 0;
  bool is_index_ = false;
};

// "<path>: expected <expected>, got <json type>".
Status typeError(const FieldPath& path, std::string_view expected, const nlohmann::json& got);
// "<path>: <what>".
Status valueError(const FieldPath& path, std::string_view what);
// Hostile text quoted for an error message: at most 64 bytes, non-printable bytes as \xNN.
std::string quoteForError(std::string_view text);

// A polymorphic value: an object with exactly one member, named by the concrete type.
Status unwrapTag(const nlohmann::json& json, const FieldPath& path, std::string_view* tag,
                 const nlohmann::json** inner);
Status unknownTypeError(const FieldPath& path, std::string_view tag, std::string_view expected);

// Scalar encoders and decoders. The generated code adds overloads for every structure and
// polymorphic holder (found by argument-dependent lookup).
inline nlohmann::json encodeValue(const std::string& value) { return value; }
inline nlohmann::json encodeValue(bool value) { return value; }
inline nlohmann::json encodeValue(std::int64_t value) { return value; }
nlohmann::json encodeValue(DateTime value);
nlohmann::json encodeValue(const Bytes& value);
nlohmann::json encodeValue(const DareEnvelope& value);

Status decodeValue(const nlohmann::json& json, const FieldPath& path, std::string* out);
Status decodeValue(const nlohmann::json& json, const FieldPath& path, bool* out);
Status decodeValue(const nlohmann::json& json, const FieldPath& path, std::int64_t* out);
Status decodeValue(const nlohmann::json& json, const FieldPath& path, DateTime* out);
Status decodeValue(const nlohmann::json& json, const FieldPath& path, Bytes* out);
Status decodeValue(const nlohmann::json& json, const FieldPath& path, DareEnvelope* out);

// Fields: absent (or null) optionals and empty lists are omitted on output; a null member
// reads as absent.
template <typename T>
void encodeField(nlohmann::json* object, const char* name, const std::optional<T>& value) {
  if (value) (*object)[name] = encodeValue(*value);
}

template <typename T>
void encodeField(nlohmann::json* object, const char* name, const std::vector<T>& values) {
  if (values.empty()) return;
  nlohmann::json array = nlohmann::json::array();
  array.get_ref<nlohmann::json::array_t&>().reserve(values.size());
  for (const T& v : values) array.push_back(encodeValue(v));
  (*object)[name] = std::move(array);
}

template <typename T>
Status decodeField(const nlohmann::json& object, const char* name, const FieldPath& parent,
                   std::optional<T>* out) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    out->reset();
    return Status();
  }
  FieldPath path(&parent, name);
  T value{};
  MESHGATE_RETURN_IF_ERROR(decodeValue(*it, path, &value));
  *out = std::move(value);
  return Status();
}

template <typename T>
Status decodeField(const nlohmann::json& object, const char* name, const FieldPath& parent,
                   std::vector<T>* out) {
  out->clear();
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return Status();
  FieldPath path(&parent, name);
  if (!it->is_array()) return typeError(path, "an array", *it);
  out->reserve(it->size());
  std::size_t index = 0;
  for (const nlohmann::json& element : *it) {
    FieldPath element_path(&path, index++);
    T value{};
    MESHGATE_RETURN_IF_ERROR(decodeValue(element, element_path, &value));
    out->push_back(std::move(value));
  }
  return Status();
}

}  // namespace detail
}  // namespace meshgate::mesh::model
