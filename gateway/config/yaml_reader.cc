// yaml_reader.cc - strict typed reads with file:line:column errors.
#include "gateway/config/yaml_reader.h"

#include <cctype>
#include <charconv>
#include <limits>

#include "gateway/util/strings.h"

namespace meshgate::config {
namespace {

// Finds key in a mapping without modifying it (non-const operator[] may insert).
YAML::Node findKey(const YAML::Node& map, std::string_view key, YAML::Node* key_node) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      if (key_node) *key_node = it->first;
      return it->second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool parseInt64(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (*begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end;
}

bool parseUint64(std::string_view text, uint64_t& out) {
  if (text.empty() || text.front() == '-') return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Splits "64k" into 64 and "k".
bool splitNumberUnit(std::string_view text, uint64_t& number, std::string& unit) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return false;
  if (!parseUint64(text.substr(0, i), number)) return false;
  std::string_view rest = text.substr(i);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  unit = toLowerAscii(rest);
  return true;
}

// A duration in the largest unit that writes it whole, as a configuration would: 25s, 1d.
std::string durationText(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  for (const auto& [unit, size] : {std::pair<const char*, int64_t>{"d", 86'400'000},
                                   {"h", 3'600'000},
                                   {"m", 60'000},
                                   {"s", 1'000}}) {
    if (ms != 0 && ms % size == 0) return std::to_string(ms / size) + unit;
  }
  return std::to_string(ms) + "ms";
}

bool mulOverflows(uint64_t a, uint64_t b) {
  return b != 0 && a > std::numeric_limits<uint64_t>::max() / b;
}

}  // namespace

std::string ConfigError::toString() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!path.empty()) s += path + ": ";
  s += message;
  return s;
}

void ConfigErrors::add(const YAML::Mark& mark, std::string path, std::string message) {
  if (mark.is_null()) {
    addAt(0, 0, std::move(path), std::move(message));
  } else {
    addAt(mark.line + 1, mark.column + 1, std::move(path), std::move(message));
  }
}

void ConfigErrors::addAt(int line, int column, std::string path, std::string message) {
  errors_.push_back(ConfigError{file_, line, column, std::move(path), std::move(message)});
}

YamlMap::YamlMap(ConfigErrors& errors, YAML::Node node, std::string path, YAML::Mark key_mark)
    : errors_(errors), node_(node), path_(std::move(path)), key_mark_(key_mark) {
  if (!node_.IsDefined() || node_.IsNull()) return;
  if (!node_.IsMap()) {
    errors_.add(node_.Mark(), path_.empty() ? "(top level)" : path_,
                "expected a mapping of keys, got " + describe(node_));
    return;
  }
  valid_ = true;
  // Duplicate keys: yaml-cpp keeps them all but lookups see only one.
  std::set<std::string, std::less<>> keys;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      errors_.add(it->first.Mark(), path_, "keys must be plain words");
      continue;
    }
    if (!keys.insert(it->first.Scalar()).second) {
      errors_.add(it->first.Mark(), childPath(it->first.Scalar()),
                  "duplicate key (each key may appear once)");
    }
  }
}

bool YamlMap::has(std::string_view key) const {
  return valid_ && findKey(node_, key, nullptr).IsDefined();
}

std::string YamlMap::childPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void YamlMap::markSeen(std::string_view key) { seen_.insert(std::string(key)); }

YAML::Mark YamlMap::markOf(std::string_view key) const {
  if (!valid_) return node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark();
  YAML::Node key_node;
  if (findKey(node_, key, &key_node).IsDefined()) return key_node.Mark();
  return node_.Mark();
}

std::string YamlMap::describe(const YAML::Node& n) const {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "\"" + n.Scalar() + "\"";
    default: return "nothing";
  }
}

YAML::Node YamlMap::scalar(std::string_view key, std::string_view expected) {
  markSeen(key);
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node key_node;
  YAML::Node n = findKey(node_, key, &key_node);
  if (!n.IsDefined()) return n;
  if (!n.IsScalar()) {
    // An empty value ("path:" and nothing after it) has no position of its own: yaml-cpp
    // gives the next token's, lines further down. The key's is where the fix goes.
    errors_.add(n.IsNull() ? key_node.Mark() : n.Mark(), childPath(key),
                "expected " + std::string(expected) + ", got " + describe(n));
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return n;
}

void YamlMap::boolean(std::string_view key, bool& out) {
  YAML::Node n = scalar(key, "true or false");
  if (!n.IsDefined()) return;
  std::string v = toLowerAscii(n.Scalar());
  if (v == "true" || v == "yes" || v == "on") {
    out = true;
  } else if (v == "false" || v == "no" || v == "off") {
    out = false;
  } else {
    errors_.add(n.Mark(), childPath(key), "expected true or false, got \"" + n.Scalar() + "\"");
  }
}

void YamlMap::integer(std::string_view key, int64_t& out, int64_t min, int64_t max) {
  YAML::Node n = scalar(key, "an integer");
  if (!n.IsDefined()) return;
  int64_t v = 0;
  if (!parseInt64(n.Scalar(), v)) {
    errors_.add(n.Mark(), childPath(key), "expected an integer, got \"" + n.Scalar() + "\"");
    return;
  }
  if (v < min || v > max) {
    errors_.add(n.Mark(), childPath(key),
                "value " + std::to_string(v) + " is out of range (expected " +
                    std::to_string(min) + " to " + std::to_string(max) + ")");
    return;
  }
  out = v;
}

void YamlMap::integer(std::string_view key, int& out, int64_t min, int64_t max) {
  int64_t v = out;
  integer(key, v, min, max);
  out = static_cast<int>(v);
}

void YamlMap::unsignedInteger(std::string_view key, uint32_t& out, uint64_t min, uint64_t max) {
  int64_t v = out;
  integer(key, v, static_cast<int64_t>(min), static_cast<int64_t>(max));
  out = static_cast<uint32_t>(v);
}

void YamlMap::size(std::string_view key, uint64_t& out, uint64_t min, uint64_t max) {
  YAML::Node n = scalar(key, "a size such as 1048576, 64k or 1M");
  if (!n.IsDefined()) return;
  uint64_t number = 0;
  std::string unit;
  uint64_t mult = 0;
  if (splitNumberUnit(n.Scalar(), number, unit)) {
    if (unit.empty() || unit == "b") mult = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib") mult = 1024;
    else if (unit == "m" || unit == "mb" || unit == "mib") mult = 1024 * 1024;
    else if (unit == "g" || unit == "gb" || unit == "gib") mult = 1024ull * 1024 * 1024;
  }
  if (mult == 0 || mulOverflows(number, mult)) {
    errors_.add(n.Mark(), childPath(key),
                "expected a size such as 1048576, 64k or 1M, got \"" + n.Scalar() + "\"");
    return;
  }
  uint64_t v = number * mult;
  if (v < min || v > max) {
    errors_.add(n.Mark(), childPath(key),
                "size " + std::to_string(v) + " bytes is out of range (expected " +
                    std::to_string(min) + " to " + std::to_string(max) + " bytes)");
    return;
  }
  out = v;
}

void YamlMap::duration(std::string_view key, std::chrono::milliseconds& out,
                       std::chrono::milliseconds min, std::chrono::milliseconds max) {
  YAML::Node n = scalar(key, "a duration such as 250ms, 10s, 5m, 1h or 1d");
  if (!n.IsDefined()) return;
  uint64_t number = 0;
  std::string unit;
  uint64_t mult = 0;
  if (splitNumberUnit(n.Scalar(), number, unit)) {
    if (unit == "ms") mult = 1;
    else if (unit.empty() || unit == "s") mult = 1000;
    else if (unit == "m" || unit == "min") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
  }
  if (mult == 0 || mulOverflows(number, mult) ||
      number * mult > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    errors_.add(n.Mark(), childPath(key),
                "expected a duration such as 250ms, 10s, 5m, 1h or 1d, got \"" + n.Scalar() +
                    "\"");
    return;
  }
  std::chrono::milliseconds v(static_cast<int64_t>(number * mult));
  if (v < min || v > max) {
    errors_.add(n.Mark(), childPath(key),
                "duration " + n.Scalar() + " is out of range (expected " + durationText(min) +
                    " to " + durationText(max) + ")");
    return;
  }
  out = v;
}

void YamlMap::string(std::string_view key, std::string& out, bool required) {
  YAML::Node n = scalar(key, "a string");
  if (!n.IsDefined()) {
    if (required && valid_ && !findKey(node_, key, nullptr).IsDefined()) {
      errors_.add(node_.Mark(), childPath(key), "missing required key");
    } else if (required && !valid_ && node_.IsDefined()) {
      // The section is present but empty; an absent section is reported by its parent.
      errors_.add(key_mark_.is_null() ? node_.Mark() : key_mark_, childPath(key),
                  "missing required key");
    }
    return;
  }
  out = n.Scalar();
}

void YamlMap::nonEmptyString(std::string_view key, std::string& out, bool required) {
  std::string v = out;
  bool was_present = has(key);
  string(key, v, required);
  if (was_present && v.empty()) {
    error(key, "must not be empty");
    return;
  }
  out = v;
}

void YamlMap::lineString(std::string_view key, std::string& out) {
  std::string v = out;
  string(key, v);
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) {
      error(key, "must be one line of text (no line breaks or control characters)");
      return;
    }
  }
  out = v;
}

void YamlMap::fileMode(std::string_view key, uint32_t& out) {
  YAML::Node n = scalar(key, "an octal file mode such as \"0660\"");
  if (!n.IsDefined()) return;
  const std::string& s = n.Scalar();
  uint32_t v = 0;
  bool valid = !s.empty() && s.size() <= 4;
  for (char c : s) {
    if (c < '0' || c > '7') valid = false;
    else v = v * 8 + static_cast<uint32_t>(c - '0');
  }
  if (!valid || v > 07777) {
    errors_.add(n.Mark(), childPath(key),
                "expected an octal file mode such as \"0660\", got \"" + s + "\"");
    return;
  }
  out = v;
}

void YamlMap::stringList(std::string_view key, std::vector<std::string>& out, bool required) {
  markSeen(key);
  if (!valid_) {
    // The section is present but empty; an absent section is reported by its parent.
    if (required && node_.IsDefined()) {
      errors_.add(key_mark_.is_null() ? node_.Mark() : key_mark_, childPath(key),
                  "missing required key");
    }
    return;
  }
  YAML::Node n = findKey(node_, key, nullptr);
  if (!n.IsDefined()) {
    if (required) errors_.add(node_.Mark(), childPath(key), "missing required key");
    return;
  }
  if (n.IsNull()) {
    out.clear();
    return;
  }
  if (n.IsScalar()) {  // a single word where a list is expected: accept it as a list of one
    // ... but not "a, b": that is a list written as one string, and it would load as the one
    // phrase "a, b", which no word or label ever matches.
    if (n.Scalar().find(',') != std::string::npos) {
      errors_.add(
          n.Mark(), childPath(key),
          "\"" + n.Scalar() +
              "\" is one string, not a list: write [a, b] (or one item per "
              "line, each after \"- \"); for one item with a comma, quote it inside brackets: "
              "[\"a, b\"]");
      return;
    }
    out = {n.Scalar()};
    return;
  }
  if (!n.IsSequence()) {
    errors_.add(n.Mark(), childPath(key), "expected a list of strings, got " + describe(n));
    return;
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      errors_.add(n[i].Mark(), childPath(key) + "[" + std::to_string(i) + "]",
                  "expected a string, got " + describe(n[i]));
      continue;
    }
    values.push_back(n[i].Scalar());
  }
  out = std::move(values);
}

YamlMap YamlMap::map(std::string_view key) {
  markSeen(key);
  if (!valid_) return YamlMap(errors_, YAML::Node(YAML::NodeType::Undefined), childPath(key));
  YAML::Node key_node;
  YAML::Node value = findKey(node_, key, &key_node);
  return YamlMap(errors_, value, childPath(key),
                 value.IsDefined() ? key_node.Mark() : YAML::Mark::null_mark());
}

void YamlMap::listOfMaps(std::string_view key, const std::function<void(YamlMap&)>& fn) {
  markSeen(key);
  if (!valid_) return;
  YAML::Node n = findKey(node_, key, nullptr);
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) {
    errors_.add(n.Mark(), childPath(key), "expected a list, got " + describe(n));
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    std::string p = childPath(key) + "[" + std::to_string(i) + "]";
    if (!n[i].IsMap()) {
      errors_.add(n[i].Mark(), p, "expected a mapping, got " + describe(n[i]));
      continue;
    }
    YamlMap element(errors_, n[i], p);
    fn(element);
    element.finish();
  }
}

void YamlMap::error(std::string_view key, std::string message) {
  YAML::Node n = valid_ ? findKey(node_, key, nullptr) : YAML::Node(YAML::NodeType::Undefined);
  errors_.add(n.IsDefined() ? n.Mark() : markOf(key), childPath(key), std::move(message));
}

void YamlMap::finish() {
  if (!valid_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& k = it->first.Scalar();
    if (seen_.count(k) == 0) {
      std::string known;
      for (const auto& s : seen_) {
        if (!known.empty()) known += ", ";
        known += s;
      }
      errors_.add(it->first.Mark(), childPath(k),
                  "unknown key (known keys here: " + known + ")");
    }
  }
}

}  // namespace meshgate::config
