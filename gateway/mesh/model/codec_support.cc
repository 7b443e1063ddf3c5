// codec_support.cc - DateTime, bounded JSON parsing, field paths and scalar codecs for the
// generated Mesh data model (see codec_support.h).
#include "gateway/mesh/model/codec_support.h"

#include <cstdio>
#include <exception>
#include <new>

namespace meshgate::mesh::model {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Reads `count` decimal digits at text[pos]; false if any is not a digit.
bool readDigits(std::string_view text, std::size_t pos, std::size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (!isDigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

}  // namespace

std::string formatDateTime(DateTime time) {
  using namespace std::chrono;
  const sys_days day = floor<days>(time);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(time - day);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buffer;
}

Result<DateTime> parseDateTime(std::string_view text) {
  // yyyy-MM-ddTHH:mm:ss[.fraction]Z
  auto bad = [&]() {
    return invalidArgument("invalid DateTime " + detail::quoteForError(text) +
                           " (expected yyyy-MM-ddTHH:mm:ssZ)");
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || !readDigits(text, 0, 4, &year) || text[4] != '-' ||
      !readDigits(text, 5, 2, &month) || text[7] != '-' || !readDigits(text, 8, 2, &day) ||
      text[10] != 'T' || !readDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !readDigits(text, 14, 2, &minute) || text[16] != ':' || !readDigits(text, 17, 2, &second)) {
    return bad();
  }
  std::size_t pos = 19;
  if (text[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    while (pos < text.size() && isDigit(text[pos])) ++pos;
    if (pos == start || pos - start > 9) return bad();
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return bad();
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year(year),
                           std::chrono::month(static_cast<unsigned>(month)),
                           std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return bad();
  return DateTime(sys_days(ymd)) + hours(hour) + minutes(minute) + seconds(second);
}

Result<nlohmann::json> parseJsonText(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return resourceExhausted("JSON text of " + std::to_string(text.size()) +
                             " bytes is over the limit of " + std::to_string(limits.max_bytes));
  }
  bool too_deep = false;
  const int max_depth = limits.max_depth;
  // nlohmann reports the depth of the container being opened (0 for the outermost); values
  // past the limit are discarded as they are read, so nothing deep is ever built.
  nlohmann::json::parser_callback_t callback =
      [&too_deep, max_depth](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start) &&
            depth >= max_depth) {
          too_deep = true;
        }
        return !too_deep;
      };
  try {
    nlohmann::json json = nlohmann::json::parse(text.begin(), text.end(), callback,
                                                /*allow_exceptions=*/true,
                                                /*ignore_comments=*/false);
    if (too_deep) {
      return resourceExhausted("JSON nested deeper than " + std::to_string(max_depth) + " levels");
    }
    return json;
  } catch (const nlohmann::json::exception& e) {
    if (too_deep) {
      return resourceExhausted("JSON nested deeper than " + std::to_string(max_depth) + " levels");
    }
    return invalidArgument(std::string("malformed JSON: ") + e.what());
  } catch (const std::bad_alloc&) {
    return resourceExhausted("out of memory parsing JSON");
  }
}

std::string dumpJson(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace detail {

std::string FieldPath::str() const {
  if (parent_ == nullptr) return std::string(name_);
  std::string out = parent_->str();
  if (is_index_) {
    out += '[';
    out += std::to_string(index_);
    out += ']';
  } else {
    out += '.';
    out += name_;
  }
  return out;
}

Status typeError(const FieldPath& path, std::string_view expected, const nlohmann::json& got) {
  std::string message = path.str();
  message += ": expected ";
  message += expected;
  message += ", got ";
  message += got.type_name();
  return invalidArgument(std::move(message));
}

Status valueError(const FieldPath& path, std::string_view what) {
  std::string message = path.str();
  message += ": ";
  message += what;
  return invalidArgument(std::move(message));
}

std::string quoteForError(std::string_view text) {
  constexpr std::size_t kMax = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += text.size() > kMax ? "\"..." : "\"";
  return out;
}

Status unwrapTag(const nlohmann::json& json, const FieldPath& path, std::string_view* tag,
                 const nlohmann::json** inner) {
  if (!json.is_object()) return typeError(path, "an object wrapped by its type name", json);
  if (json.size() != 1) {
    return valueError(path, "expected an object with exactly one member (the type name), got " +
                                std::to_string(json.size()));
  }
  auto it = json.begin();
  *tag = it.key();
  *inner = &it.value();
  return Status();
}

Status unknownTypeError(const FieldPath& path, std::string_view tag, std::string_view expected) {
  std::string what = "unknown type " + quoteForError(tag);
  if (!expected.empty()) {
    what += " (expected ";
    what += expected;
    what += ")";
  }
  return valueError(path, what);
}

nlohmann::json encodeValue(DateTime value) { return formatDateTime(value); }

nlohmann::json encodeValue(const Bytes& value) { return base64UrlEncode(value); }

nlohmann::json encodeValue(const DareEnvelope& value) { return dareToJson(value); }

Status decodeValue(const nlohmann::json& json, const FieldPath& path, std::string* out) {
  if (!json.is_string()) return typeError(path, "a string", json);
  *out = json.get_ref<const std::string&>();
  return Status();
}

Status decodeValue(const nlohmann::json& json, const FieldPath& path, bool* out) {
  if (!json.is_boolean()) return typeError(path, "a boolean", json);
  *out = json.get<bool>();
  return Status();
}

Status decodeValue(const nlohmann::json& json, const FieldPath& path, std::int64_t* out) {
  if (json.is_number_integer() && !json.is_number_unsigned()) {
    *out = json.get<std::int64_t>();
    return Status();
  }
  if (json.is_number_unsigned()) {
    const auto value = json.get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(INT64_MAX)) {
      return valueError(path, "integer out of range");
    }
    *out = static_cast<std::int64_t>(value);
    return Status();
  }
  if (json.is_number_float()) return valueError(path, "expected an integer, got a fraction");
  return typeError(path, "an integer", json);
}

Status decodeValue(const nlohmann::json& json, const FieldPath& path, DateTime* out) {
  if (!json.is_string()) return typeError(path, "a DateTime string", json);
  Result<DateTime> time = parseDateTime(json.get_ref<const std::string&>());
  if (!time.ok()) return valueError(path, time.status().message());
  *out = *time;
  return Status();
}

Status decodeValue(const nlohmann::json& json, const FieldPath& path, Bytes* out) {
  if (!json.is_string()) return typeError(path, "a base64url string", json);
  Result<Bytes> bytes = base64UrlDecode(json.get_ref<const std::string&>());
  if (!bytes.ok()) return valueError(path, "invalid base64url: " + bytes.status().message());
  *out = std::move(bytes).value();
  return Status();
}

Status decodeValue(const nlohmann::json& json, const FieldPath& path, DareEnvelope* out) {
  Result<DareEnvelope> envelope = dareFromJson(json);
  if (!envelope.ok()) return envelope.status().withContext(path.str());
  *out = std::move(envelope).value();
  return Status();
}

}  // namespace detail
}  // namespace meshgate::mesh::model
