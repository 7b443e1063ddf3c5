// dare.cc - the DARE envelope JSON codec; see dare.h. Signing and encryption: dare_crypto.cc.
#include "gateway/mesh/dare.h"

#include <optional>
#include <utility>

namespace meshgate::mesh {
namespace {

using json = nlohmann::json;

Status fieldError(const std::string& path, const std::string& what) {
  return invalidArgument(path + ": " + what);
}

// Depth of nesting, stopping as soon as it passes `limit`, so the recursion is bounded.
bool deeperThan(const json& j, int limit) {
  if (limit < 0) return true;
  if (j.is_array()) {
    for (const auto& e : j) {
      if (deeperThan(e, limit - 1)) return true;
    }
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (deeperThan(v, limit - 1)) return true;
    }
  }
  return false;
}

// Nesting depth of JSON text without parsing it, so hostile input never reaches a recursive
// parser or destructor: counts [ and { outside strings.
bool textDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

Result<std::string> readString(const json& j, const std::string& path) {
  if (!j.is_string()) return fieldError(path, "expected a string");
  return j.get<std::string>();
}

Result<Bytes> readBinary(const json& j, const std::string& path) {
  if (!j.is_string()) return fieldError(path, "expected a base64url string");
  auto bytes = base64UrlDecode(j.get_ref<const std::string&>());
  if (!bytes.ok()) return bytes.status().withContext(path);
  return bytes;
}

Result<DareKey> readKey(const json& j, const std::string& path) {
  if (!j.is_object()) return fieldError(path, "expected a typed key object");
  if (j.size() != 1 || !j.contains("PublicKeyECDH")) {
    return fieldError(path, "expected {\"PublicKeyECDH\":{...}}");
  }
  const json& body = j.at("PublicKeyECDH");
  const std::string body_path = path + ".PublicKeyECDH";
  if (!body.is_object()) return fieldError(body_path, "expected an object");
  DareKey key;
  bool have_crv = false, have_public = false;
  for (const auto& [name, value] : body.items()) {
    if (name == "crv") {
      MESHGATE_ASSIGN_OR_RETURN(key.crv, readString(value, body_path + ".crv"));
      have_crv = true;
    } else if (name == "Public") {
      MESHGATE_ASSIGN_OR_RETURN(key.public_key, readBinary(value, body_path + ".Public"));
      have_public = true;
    } else {
      key.extensions.emplace(name, value);
    }
  }
  if (!have_crv) return fieldError(body_path + ".crv", "missing");
  if (!have_public) return fieldError(body_path + ".Public", "missing");
  return key;
}

json writeKey(const DareKey& key) {
  json body(key.extensions);
  body["crv"] = key.crv;
  body["Public"] = base64UrlEncode(key.public_key);
  return json{{"PublicKeyECDH", std::move(body)}};
}

Result<DareRecipient> readRecipient(const json& j, const std::string& path) {
  if (!j.is_object()) return fieldError(path, "expected an object");
  DareRecipient r;
  for (const auto& [name, value] : j.items()) {
    const std::string p = path + "." + name;
    if (name == "kid") {
      MESHGATE_ASSIGN_OR_RETURN(r.kid, readString(value, p));
    } else if (name == "epk") {
      MESHGATE_ASSIGN_OR_RETURN(r.epk, readKey(value, p));
    } else if (name == "wmk") {
      MESHGATE_ASSIGN_OR_RETURN(r.wmk, readBinary(value, p));
    } else {
      r.extensions.emplace(name, value);
    }
  }
  return r;
}

json writeRecipient(const DareRecipient& r) {
  json j(r.extensions);
  if (r.kid) j["kid"] = *r.kid;
  if (r.epk) j["epk"] = writeKey(*r.epk);
  if (r.wmk) j["wmk"] = base64UrlEncode(*r.wmk);
  return j;
}

Result<DareSignature> readSignature(const json& j, const std::string& path) {
  if (!j.is_object()) return fieldError(path, "expected an object");
  DareSignature s;
  for (const auto& [name, value] : j.items()) {
    const std::string p = path + "." + name;
    if (name == "alg") {
      MESHGATE_ASSIGN_OR_RETURN(s.alg, readString(value, p));
    } else if (name == "kid") {
      MESHGATE_ASSIGN_OR_RETURN(s.kid, readString(value, p));
    } else if (name == "SignatureKey") {
      MESHGATE_ASSIGN_OR_RETURN(s.signature_key, readKey(value, p));
    } else if (name == "signature") {
      MESHGATE_ASSIGN_OR_RETURN(s.signature, readBinary(value, p));
    } else if (name == "MeshgateBinding") {
      MESHGATE_ASSIGN_OR_RETURN(s.binding, readString(value, p));
    } else {
      s.extensions.emplace(name, value);
    }
  }
  return s;
}

json writeSignature(const DareSignature& s) {
  json j(s.extensions);
  if (s.alg) j["alg"] = *s.alg;
  if (s.kid) j["kid"] = *s.kid;
  if (s.signature_key) j["SignatureKey"] = writeKey(*s.signature_key);
  if (s.signature) j["signature"] = base64UrlEncode(*s.signature);
  if (s.binding) j["MeshgateBinding"] = *s.binding;
  return j;
}

template <typename T, typename ReadOne>
Result<std::vector<T>> readArray(const json& j, const std::string& path, ReadOne read_one) {
  if (!j.is_array()) return fieldError(path, "expected an array");
  std::vector<T> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    MESHGATE_ASSIGN_OR_RETURN(T item, read_one(j[i], path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(item));
  }
  return out;
}

Result<DareHeader> readHeader(const json& j, const std::string& path) {
  if (!j.is_object()) return fieldError(path, "expected the header object");
  DareHeader h;
  for (const auto& [name, value] : j.items()) {
    const std::string p = path + "." + name;
    if (name == "EnvelopeId") {
      MESHGATE_ASSIGN_OR_RETURN(h.envelope_id, readString(value, p));
    } else if (name == "enc") {
      MESHGATE_ASSIGN_OR_RETURN(h.enc, readString(value, p));
    } else if (name == "kid") {
      MESHGATE_ASSIGN_OR_RETURN(h.kid, readString(value, p));
    } else if (name == "Salt") {
      MESHGATE_ASSIGN_OR_RETURN(h.salt, readBinary(value, p));
    } else if (name == "annotations") {
      MESHGATE_ASSIGN_OR_RETURN(h.annotations, readArray<Bytes>(value, p, readBinary));
    } else if (name == "recipients") {
      MESHGATE_ASSIGN_OR_RETURN(h.recipients, readArray<DareRecipient>(value, p, readRecipient));
    } else if (name == "policy") {
      if (!value.is_object()) return fieldError(p, "expected an object");
      h.policy = value;
    } else if (name == "ContentMetaData") {
      MESHGATE_ASSIGN_OR_RETURN(h.content_meta_data, readBinary(value, p));
    } else if (name == "dig") {
      MESHGATE_ASSIGN_OR_RETURN(h.dig, readString(value, p));
    } else {
      h.extensions.emplace(name, value);
    }
  }
  return h;
}

json writeHeader(const DareHeader& h) {
  json j(h.extensions);
  if (h.envelope_id) j["EnvelopeId"] = *h.envelope_id;
  if (h.enc) j["enc"] = *h.enc;
  if (h.kid) j["kid"] = *h.kid;
  if (h.salt) j["Salt"] = base64UrlEncode(*h.salt);
  if (h.annotations) {
    json a = json::array();
    for (const Bytes& b : *h.annotations) a.push_back(base64UrlEncode(b));
    j["annotations"] = std::move(a);
  }
  if (h.recipients) {
    json a = json::array();
    for (const DareRecipient& r : *h.recipients) a.push_back(writeRecipient(r));
    j["recipients"] = std::move(a);
  }
  if (h.policy) j["policy"] = *h.policy;
  if (h.content_meta_data) j["ContentMetaData"] = base64UrlEncode(*h.content_meta_data);
  if (h.dig) j["dig"] = *h.dig;
  return j;
}

Result<DareTrailer> readTrailer(const json& j, const std::string& path) {
  if (!j.is_object()) return fieldError(path, "expected the trailer object");
  DareTrailer t;
  for (const auto& [name, value] : j.items()) {
    const std::string p = path + "." + name;
    if (name == "signatures") {
      if (value.is_array() && value.size() > kMaxDareSignatures) {
        return fieldError(p, std::to_string(value.size()) + " signatures, at most " +
                                 std::to_string(kMaxDareSignatures) + " are accepted");
      }
      MESHGATE_ASSIGN_OR_RETURN(t.signatures, readArray<DareSignature>(value, p, readSignature));
    } else if (name == "PayloadDigest") {
      MESHGATE_ASSIGN_OR_RETURN(t.payload_digest, readBinary(value, p));
    } else if (name == "WitnessValue") {
      MESHGATE_ASSIGN_OR_RETURN(t.witness_value, readBinary(value, p));
    } else {
      t.extensions.emplace(name, value);
    }
  }
  return t;
}

json writeTrailer(const DareTrailer& t) {
  json j(t.extensions);
  if (t.signatures) {
    json a = json::array();
    for (const DareSignature& s : *t.signatures) a.push_back(writeSignature(s));
    j["signatures"] = std::move(a);
  }
  if (t.payload_digest) j["PayloadDigest"] = base64UrlEncode(*t.payload_digest);
  if (t.witness_value) j["WitnessValue"] = base64UrlEncode(*t.witness_value);
  return j;
}

Result<DareEnvelope> readEnvelope(const json& j, const std::string& path) {
  if (!j.is_array() || j.size() < 2 || j.size() > 3) {
    return fieldError(path, "expected an array [header, payload, trailer]");
  }
  DareEnvelope e;
  MESHGATE_ASSIGN_OR_RETURN(e.header, readHeader(j[0], path + "[0]"));
  MESHGATE_ASSIGN_OR_RETURN(e.payload, readBinary(j[1], path + "[1]"));
  if (j.size() == 3) {
    MESHGATE_ASSIGN_OR_RETURN(e.trailer, readTrailer(j[2], path + "[2]"));
  }
  return e;
}

// Where the payload string's characters lie in envelope text, found by a structural scan, so
// that the JSON parser (which copies a string one character at a time and keeps a second copy
// for its error messages) never has to read a payload of megabytes. std::nullopt when the text
// does not have the plain shape {"DareEnvelope":[{...},"...",...]} or [{...},"...",...] with an
// escape-free payload; the caller then parses the whole text. The rest of the text is still
// parsed and validated in full, with the payload replaced by "".
struct PayloadSpan {
  size_t begin;
  size_t end;
};

std::optional<PayloadSpan> locatePayload(std::string_view t) {
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  };
  auto take = [&](std::string_view s) {
    if (t.substr(i, s.size()) != s) return false;
    i += s.size();
    return true;
  };
  skipSpace();
  if (i < t.size() && t[i] == '{') {
    ++i;
    skipSpace();
    if (!take("\"DareEnvelope\"")) return std::nullopt;
    skipSpace();
    if (!take(":")) return std::nullopt;
    skipSpace();
  }
  if (!take("[")) return std::nullopt;
  skipSpace();
  if (i >= t.size() || t[i] != '{') return std::nullopt;
  int depth = 0;
  bool in_string = false;
  bool closed = false;
  for (; i < t.size() && !closed; ++i) {
    const char c = t[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      closed = --depth == 0;
    }
  }
  if (!closed) return std::nullopt;
  skipSpace();
  if (!take(",")) return std::nullopt;
  skipSpace();
  if (!take("\"")) return std::nullopt;
  const size_t begin = i;
  while (i < t.size() && t[i] != '"') {
    if (t[i] == '\\') return std::nullopt;
    ++i;
  }
  if (i >= t.size()) return std::nullopt;
  return PayloadSpan{begin, i};
}

Result<DareEnvelope> envelopeFromDocument(const json& doc) {
  // The top-level form is {"DareEnvelope":[...]}; the bare array is accepted too, since that
  // is how an envelope appears inside other structures.
  if (doc.is_object()) {
    if (doc.size() != 1 || !doc.contains("DareEnvelope")) {
      return invalidArgument("not a DARE envelope: expected {\"DareEnvelope\":[...]}");
    }
    return dareFromJson(doc.at("DareEnvelope"));
  }
  if (doc.is_array()) return dareFromJson(doc);
  return invalidArgument("not a DARE envelope: expected {\"DareEnvelope\":[...]}");
}

std::string dumpCompact(const json& j) {
  // `replace`: strings put into a struct by a caller might not be UTF-8; never throw for it.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

// Separate from the anonymous namespace so dare_crypto.cc can reuse them through dare.h's
// public functions only; these are the codec's entry points.

nlohmann::json dareToJson(const DareEnvelope& envelope) {
  json j = json::array();
  j.push_back(writeHeader(envelope.header));
  j.push_back(base64UrlEncode(envelope.payload));
  if (envelope.trailer) j.push_back(writeTrailer(*envelope.trailer));
  return j;
}

Result<DareEnvelope> dareFromJson(const nlohmann::json& json_value) {
  try {
    if (deeperThan(json_value, kMaxDareJsonDepth)) {
      return resourceExhausted("DareEnvelope: nested deeper than " +
                               std::to_string(kMaxDareJsonDepth) + " levels");
    }
    return readEnvelope(json_value, "DareEnvelope");
  } catch (const std::exception& e) {
    return invalidArgument(std::string("DareEnvelope: ") + e.what());
  }
}

Result<DareEnvelope> parseDareEnvelope(std::string_view text) {
  if (text.size() > kMaxDareTextBytes) {
    return resourceExhausted("DARE envelope of " + std::to_string(text.size()) +
                             " bytes is larger than the limit of " +
                             std::to_string(kMaxDareTextBytes));
  }
  if (textDeeperThan(text, kMaxDareJsonDepth + 1)) {
    return resourceExhausted("DARE envelope nested deeper than " +
                             std::to_string(kMaxDareJsonDepth) + " levels");
  }
  try {
    const std::optional<PayloadSpan> span = locatePayload(text);
    if (!span) return envelopeFromDocument(json::parse(text.begin(), text.end()));
    std::string rest;
    rest.reserve(text.size() - (span->end - span->begin));
    rest.append(text.substr(0, span->begin));
    rest.append(text.substr(span->end));
    MESHGATE_ASSIGN_OR_RETURN(DareEnvelope env, envelopeFromDocument(json::parse(rest)));
    auto payload = base64UrlDecode(text.substr(span->begin, span->end - span->begin));
    if (!payload.ok()) return payload.status().withContext("DareEnvelope[1]");
    env.payload = std::move(payload).value();
    return env;
  } catch (const json::parse_error& e) {
    return invalidArgument(std::string("not a DARE envelope: invalid JSON: ") + e.what());
  } catch (const std::bad_alloc&) {
    return resourceExhausted("DARE envelope: out of memory while parsing");
  } catch (const std::exception& e) {
    return invalidArgument(std::string("not a DARE envelope: ") + e.what());
  }
}

std::string serializeDareEnvelope(const DareEnvelope& envelope) {
  // Assembled by hand around the payload, which is written once and never passes through the
  // JSON serializer's per-character escaping (base64url needs none). The result is exactly
  // what dumping {"DareEnvelope": dareToJson(envelope)} gives.
  const std::string header = dumpCompact(writeHeader(envelope.header));
  const std::string trailer =
      envelope.trailer ? dumpCompact(writeTrailer(*envelope.trailer)) : std::string();
  const std::string payload = base64UrlEncode(envelope.payload);
  std::string out;
  out.reserve(header.size() + payload.size() + trailer.size() + 24);
  out += "{\"DareEnvelope\":[";
  out += header;
  out += ",\"";
  out += payload;
  out += '"';
  if (envelope.trailer) {
    out += ',';
    out += trailer;
  }
  out += "]}";
  return out;
}

DareKey toDareKey(const PublicKey& key) {
  DareKey k;
  k.crv = std::string(keyTypeName(key.type()));
  k.public_key = key.raw();
  return k;
}

Result<PublicKey> publicKeyFromDareKey(const DareKey& key) {
  MESHGATE_ASSIGN_OR_RETURN(KeyType type, parseKeyType(key.crv));
  return PublicKey::fromRaw(type, key.public_key);
}

Result<std::optional<std::string>> dareContentType(const DareHeader& header) {
  if (!header.content_meta_data) return std::optional<std::string>();
  const Bytes& meta = *header.content_meta_data;
  std::string_view text(reinterpret_cast<const char*>(meta.data()), meta.size());
  if (textDeeperThan(text, kMaxDareJsonDepth)) {
    return resourceExhausted("ContentMetaData: nested too deeply");
  }
  try {
    json j = json::parse(text.begin(), text.end());
    if (!j.is_object()) return invalidArgument("ContentMetaData: expected a JSON object");
    auto it = j.find("cty");
    if (it == j.end()) return std::optional<std::string>();
    if (!it->is_string()) return invalidArgument("ContentMetaData.cty: expected a string");
    return std::optional<std::string>(it->get<std::string>());
  } catch (const std::exception& e) {
    return invalidArgument(std::string("ContentMetaData: ") + e.what());
  }
}

}  // namespace meshgate::mesh
