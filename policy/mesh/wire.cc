// wire.cc - see wire.h.
#include "policy/mesh/wire.h"

#include <chrono>

#include "gateway/mesh/udf.h"

namespace meshgate::meshsvc {
namespace {

namespace model = mesh::model;

std::string formatTime(int64_t t) {
  return model::formatDateTime(model::DateTime(std::chrono::seconds(t)));
}

Result<int64_t> readTime(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return invalidArgument(std::string("ContentMetaData.") + name + ": missing or not a string");
  }
  auto t = model::parseDateTime(it->get<std::string>());
  if (!t.ok()) return invalidArgument(std::string("ContentMetaData.") + name + ": " + t.status().message());
  return static_cast<int64_t>(t->time_since_epoch().count());
}

Result<std::string> readString(const nlohmann::json& object, const char* name, bool required) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    if (required) return invalidArgument(std::string("ContentMetaData.") + name + ": missing");
    return std::string();
  }
  if (!it->is_string()) {
    return invalidArgument(std::string("ContentMetaData.") + name + ": not a string");
  }
  return it->get<std::string>();
}

Result<nlohmann::json> readMetadata(const mesh::DareEnvelope& envelope) {
  if (!envelope.header.content_meta_data) return invalidArgument("no ContentMetaData in the header");
  // Metadata is small; a large one is abuse.
  auto json = model::parseJsonText(toString(*envelope.header.content_meta_data),
                                   model::ParseLimits{.max_bytes = 16 * 1024, .max_depth = 8});
  if (!json.ok()) return invalidArgument("ContentMetaData: " + json.status().message());
  if (!json->is_object()) return invalidArgument("ContentMetaData is not a JSON object");
  return json;
}

Result<mesh::DareEnvelope> sealWith(std::string_view payload, const nlohmann::json& meta,
                                    const mesh::PrivateKey& key, bool embed_key) {
  mesh::DareEnvelope env;
  env.payload = toBytes(payload);
  env.header.content_meta_data = toBytes(model::dumpJson(meta));
  std::vector<mesh::PrivateKey> signers{key};
  MESHGATE_RETURN_IF_ERROR(mesh::signDare(env, signers, embed_key, /*bind_header=*/true));
  return env;
}

}  // namespace

std::string newNonce() {
  auto n = mesh::nonceUdf();
  if (n.ok()) return *n;
  // nonceUdf fails only when the system RNG does; no request may then be made at all.
  return {};
}

bool isAcceptableNonce(std::string_view nonce) {
  if (nonce.size() < kMinNonceChars || nonce.size() > kMaxNonceChars) return false;
  for (char c : nonce) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

Result<mesh::DareEnvelope> sealRequest(std::string_view request_json, const RequestMetadata& meta,
                                       const mesh::PrivateKey& signer) {
  if (!isAcceptableNonce(meta.unique_id)) return invalidArgument("unacceptable nonce");
  nlohmann::json m = {{"cty", kRequestContentType},
                      {"MessageType", meta.message_type},
                      {"UniqueId", meta.unique_id},
                      {"Created", formatTime(meta.created)}};
  if (!meta.account.empty()) m["Account"] = meta.account;
  return sealWith(request_json, m, signer, /*embed_key=*/true);
}

Result<OpenedRequest> openRequest(const mesh::DareEnvelope& envelope,
                                  const model::ParseLimits& limits) {
  if (envelope.header.enc || envelope.header.recipients) {
    return unauthenticated("a request envelope must not be encrypted (TLS protects it)");
  }
  mesh::DareVerifyOptions options;
  options.allow_embedded_keys = true;
  options.require_header_binding = true;
  auto checks = mesh::verifyDare(envelope, {}, options);
  if (!checks.ok()) return unauthenticated("signature: " + checks.status().message());
  OpenedRequest out;
  // Every signature verified with its embedded key: collect those keys.
  for (const auto& s : *envelope.trailer->signatures) {
    if (!s.signature_key) return unauthenticated("a signature carries no SignatureKey");
    auto key = mesh::publicKeyFromDareKey(*s.signature_key);
    if (!key.ok()) return unauthenticated("SignatureKey: " + key.status().message());
    out.signers.push_back(*key);
  }
  auto meta = readMetadata(envelope);
  if (!meta.ok()) return unauthenticated(meta.status().message());
  auto cty = readString(*meta, "cty", false);
  if (!cty.ok()) return unauthenticated(cty.status().message());
  if (!cty->empty() && *cty != kRequestContentType) {
    return unauthenticated("ContentMetaData.cty is not " + std::string(kRequestContentType));
  }
  auto nonce = readString(*meta, "UniqueId", true);
  if (!nonce.ok()) return unauthenticated(nonce.status().message());
  if (!isAcceptableNonce(*nonce)) {
    return unauthenticated("ContentMetaData.UniqueId: a nonce of 16 to 128 printable characters "
                           "is required");
  }
  auto created = readTime(*meta, "Created");
  if (!created.ok()) return unauthenticated(created.status().message());
  auto type = readString(*meta, "MessageType", true);
  if (!type.ok()) return unauthenticated(type.status().message());
  auto account = readString(*meta, "Account", false);
  if (!account.ok()) return unauthenticated(account.status().message());
  out.meta = {*nonce, *type, *created, *account};

  auto message = model::parseMessage(toString(envelope.payload), limits);
  if (!message.ok()) return message.status();
  if (message->typeName() != out.meta.message_type) {
    return unauthenticated("ContentMetaData.MessageType \"" + model::detail::quoteForError(*type) +
                           "\" does not name the payload's type " +
                           std::string(message->typeName()));
  }
  out.message = std::move(message).value();
  out.envelope = envelope;
  return out;
}

Result<mesh::DareEnvelope> sealResponse(std::string_view response_json,
                                        const ResponseMetadata& meta,
                                        const mesh::PrivateKey& service_key) {
  nlohmann::json m = {{"cty", kResponseContentType},
                      {"MessageType", meta.message_type},
                      {"UniqueId", meta.unique_id},
                      {"Created", formatTime(meta.created)},
                      {"InResponseTo", meta.in_response_to}};
  // The client pins the service key; an embedded copy would only invite trusting it.
  return sealWith(response_json, m, service_key, /*embed_key=*/false);
}

Result<OpenedResponse> openResponse(const mesh::DareEnvelope& envelope,
                                    const mesh::PublicKey& service_key,
                                    std::string_view expected_nonce, int64_t now,
                                    int64_t window_seconds) {
  auto fail = [](const std::string& why) { return dataLoss("response not authentic: " + why); };
  mesh::DareVerifyOptions options;
  options.allow_embedded_keys = false;
  options.require_header_binding = true;
  std::vector<mesh::PublicKey> keys{service_key};
  auto checks = mesh::verifyDare(envelope, keys, options);
  if (!checks.ok()) return fail(checks.status().message());
  if (checks->size() != 1) return fail("expected exactly one signature (the service's)");
  auto meta = readMetadata(envelope);
  if (!meta.ok()) return fail(meta.status().message());
  auto cty = readString(*meta, "cty", true);
  if (!cty.ok() || *cty != kResponseContentType) return fail("ContentMetaData.cty");
  auto in_response_to = readString(*meta, "InResponseTo", true);
  if (!in_response_to.ok()) return fail(in_response_to.status().message());
  if (*in_response_to != expected_nonce) {
    return fail("it answers another request (InResponseTo is not this request's nonce)");
  }
  auto created = readTime(*meta, "Created");
  if (!created.ok()) return fail(created.status().message());
  if (*created > now + window_seconds || *created < now - window_seconds) {
    return fail("its Created time is outside the accepted window");
  }
  auto type = readString(*meta, "MessageType", true);
  if (!type.ok()) return fail(type.status().message());
  auto unique = readString(*meta, "UniqueId", false);
  OpenedResponse out;
  out.meta = {unique.ok() ? *unique : std::string(), *type, *created, *in_response_to};
  out.payload = toString(envelope.payload);
  // The payload's tag must be what the metadata says it is.
  auto json = model::parseJsonText(out.payload);
  if (!json.ok() || !json->is_object() || json->size() != 1 ||
      json->begin().key() != out.meta.message_type) {
    return fail("the payload's type is not ContentMetaData.MessageType");
  }
  return out;
}

}  // namespace meshgate::meshsvc
