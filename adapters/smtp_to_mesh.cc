// smtp_to_mesh.cc - one recipient's copy of an outbound message, posted to its Mesh service.
#include "adapters/smtp_to_mesh.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <mutex>

#include "gateway/mesh/crypto.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/model/codec_support.h"
#include "gateway/util/encoding.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "meshgate/mesh_model.h"
#include "policy/mesh/wire.h"

namespace meshgate::adapters {
namespace {

namespace model = mesh::model;
using SteadyClock = std::chrono::steady_clock;

// How far apart our clock and the service's may be when its answer is checked.
constexpr int64_t kResponseWindowSeconds = 300;
// An answer to one Post is small; anything larger is not one.
constexpr size_t kMaxAnswerBytes = 1 << 20;

bool isTraceField(std::string_view line) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = trimWhitespace(line.substr(0, colon));
  return equalsIgnoreCase(name, "Received") || equalsIgnoreCase(name, "Return-Path");
}

// The message without its trace fields (and their continuation lines), for the EnvelopeId.
std::string withoutTraceFields(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  size_t pos = 0;
  bool skipping = false;
  while (pos < message.size()) {
    size_t end = message.find('\n', pos);
    end = end == std::string_view::npos ? message.size() : end + 1;
    std::string_view line = message.substr(pos, end - pos);
    if (line == "\r\n" || line == "\n") {  // end of the header: the rest as it is
      out.append(message.substr(pos));
      break;
    }
    const bool continuation = line[0] == ' ' || line[0] == '\t';
    if (!continuation) skipping = isTraceField(line);
    if (!skipping) out.append(line);
    pos = end;
  }
  return out;
}

Result<mesh::DareEnvelope> sealMessage(const MeshPostRequest& request, const std::string& id,
                                       const ResolvedProfile& profile,
                                       const mesh::PrivateKey& gateway_key) {
  mesh::DareSealOptions options;
  options.recipients.push_back(profile.encryption_key);
  Result<mesh::DareEnvelope> sealed = mesh::sealDare(asBytes(request.message), options);
  if (!sealed.ok()) return sealed.status();
  mesh::DareEnvelope envelope = std::move(sealed).value();
  // Set before signing: the header binding puts both under the gateway's signature.
  envelope.header.envelope_id = id;
  const nlohmann::json meta = {{"cty", "message/rfc822"}, {"Sender", request.sender}};
  envelope.header.content_meta_data = toBytes(model::dumpJson(meta));
  const std::vector<mesh::PrivateKey> signers{gateway_key};
  MESHGATE_RETURN_IF_ERROR(mesh::signDare(envelope, signers));
  return envelope;
}

// Reads the service's signed answer to our Post `nonce` about envelope `id`.
Result<MeshPostResult> readAnswer(const resolver::MeshReply& reply, const ResolvedProfile& profile,
                                  const std::string& nonce, const std::string& id, int64_t now,
                                  const std::string& where) {
  if (reply.http_status != 200 && reply.http_status != 201) {
    // The reason is in the (signed) response's StatusDescription when the service got as far
    // as reading the request; otherwise show the start of the body.
    std::string why = log::sanitize(reply.body.substr(0, 200));
    auto signed_error = mesh::parseDareEnvelope(reply.body.substr(0, kMaxAnswerBytes));
    if (signed_error.ok()) {
      auto opened = meshsvc::openResponse(*signed_error, *profile.service_key, nonce, now,
                                          kResponseWindowSeconds);
      auto json = opened.ok() ? model::parseJsonText(opened->payload) : Result<nlohmann::json>(opened.status());
      if (json.ok() && json->is_object() && !json->empty()) {
        const nlohmann::json& inner = json->begin().value();
        if (inner.is_object() && inner.contains("StatusDescription") &&
            inner["StatusDescription"].is_string()) {
          why = log::sanitize(inner["StatusDescription"].get<std::string>());
        }
      }
    }
    return unavailable(where + " answered HTTP " + std::to_string(reply.http_status) + ": " + why);
  }
  if (reply.body.size() > kMaxAnswerBytes) return dataLoss(where + ": answer too large");
  auto envelope = mesh::parseDareEnvelope(reply.body);
  if (!envelope.ok()) {
    return dataLoss(where + ": the answer is not a signed response: " + envelope.status().message());
  }
  auto opened = meshsvc::openResponse(*envelope, *profile.service_key, nonce, now,
                                      kResponseWindowSeconds);
  if (!opened.ok()) return dataLoss(where + ": " + opened.status().message());
  auto json = model::parseJsonText(opened->payload);
  if (!json.ok() || !json->is_object() || !json->contains("PostResponse")) {
    return dataLoss(where + ": the signed answer is not a PostResponse");
  }
  auto response = model::fromJson<model::PostResponse>((*json)["PostResponse"], "PostResponse");
  if (!response.ok()) return dataLoss(where + ": " + response.status().message());

  MeshPostResult result;
  result.envelope_id = id;
  result.detail = where;
  if (std::find(response->accepted.begin(), response->accepted.end(), id) !=
      response->accepted.end()) {
    result.outcome = MeshPostOutcome::kDelivered;
    return result;
  }
  for (size_t i = 0; i < response->rejected.size(); ++i) {
    if (response->rejected[i] != id) continue;
    std::string code = "Refused";
    if (i < response->errors.size() && response->errors[i].error_code) {
      code = *response->errors[i].error_code;
    }
    if (code == "DuplicateEnvelopeId") {
      result.outcome = MeshPostOutcome::kAlreadyDelivered;
      return result;
    }
    if (code == "TryLater") return unavailable(where + " said TryLater");
    result.outcome = MeshPostOutcome::kRefused;
    result.detail = log::sanitize(code);
    return result;
  }
  return dataLoss(where + ": the answer neither accepts nor refuses " + id);
}

}  // namespace

std::string_view meshPostOutcomeName(MeshPostOutcome outcome) {
  switch (outcome) {
    case MeshPostOutcome::kDelivered: return "delivered";
    case MeshPostOutcome::kAlreadyDelivered: return "already-delivered";
    case MeshPostOutcome::kNoProfile: return "no-profile";
    case MeshPostOutcome::kLocalAccount: return "local-account";
    case MeshPostOutcome::kRefused: return "refused";
    case MeshPostOutcome::kReachable: return "reachable";
  }
  return "?";
}

Result<std::string> meshEnvelopeId(const mesh::PrivateKey& gateway_key, std::string_view sender,
                                   std::string_view recipient, std::string_view message) {
  std::string input;
  input.append(toLowerAscii(sender)).push_back('\0');
  input.append(toLowerAscii(recipient)).push_back('\0');
  input.append(withoutTraceFields(message));
  Bytes raw = gateway_key.rawPrivate();
  constexpr std::string_view kLabel = "meshgate smtp-to-mesh EnvelopeId";
  auto key = mesh::hmac(mesh::HashAlgorithm::kSha512, raw, asBytes(kLabel));
  OPENSSL_cleanse(raw.data(), raw.size());
  if (!key.ok()) return key.status();
  auto mac = mesh::hmac(mesh::HashAlgorithm::kSha512, *key, asBytes(input));
  OPENSSL_cleanse(key->data(), key->size());
  if (!mac.ok()) return mac.status();
  return "MGSM-" + base32Encode(*mac).substr(0, 40);
}

Result<std::shared_ptr<const ResolvedProfile>> SmtpToMeshDelivery::resolve(
    std::string_view recipient, MeshPostResult& result) const {
  if (!deps_.resolver || !deps_.locator || !deps_.transport) {
    return failedPrecondition("SMTP -> Mesh delivery is not set up");
  }
  auto profile = deps_.resolver->resolve(recipient);
  if (!profile.ok()) {
    switch (profile.status().code()) {
      case StatusCode::kUnavailable:
      case StatusCode::kDeadlineExceeded:
      case StatusCode::kUnauthenticated:
      case StatusCode::kInternal:
        return profile.status();
      default:  // no profile, or one that failed a check: not a verified Mesh recipient
        result.outcome = MeshPostOutcome::kNoProfile;
        result.detail = profile.status().message();
        return std::shared_ptr<const ResolvedProfile>();
    }
  }
  if ((*profile)->source == ProfileSource::kLocalStore) {
    result.outcome = MeshPostOutcome::kLocalAccount;
    return std::shared_ptr<const ResolvedProfile>();
  }
  if (!(*profile)->service_key) {
    result.outcome = MeshPostOutcome::kNoProfile;
    result.detail = "the profile's service has no signature key to check its answers with";
    return std::shared_ptr<const ResolvedProfile>();
  }
  result.outcome = MeshPostOutcome::kReachable;
  return std::move(profile).value();
}

Result<MeshPostResult> SmtpToMeshDelivery::check(std::string_view recipient) const {
  MeshPostResult result;
  auto profile = resolve(recipient, result);
  if (!profile.ok()) return profile.status();
  return result;
}

Result<MeshPostResult> SmtpToMeshDelivery::deliver(const MeshPostRequest& request,
                                                   const mesh::PrivateKey& gateway_key,
                                                   std::chrono::milliseconds timeout) const {
  const SteadyClock::time_point deadline = SteadyClock::now() + timeout;
  MeshPostResult result;
  MESHGATE_ASSIGN_OR_RETURN(result.envelope_id, meshEnvelopeId(gateway_key, request.sender,
                                                               request.recipient, request.message));
  MESHGATE_ASSIGN_OR_RETURN(std::shared_ptr<const ResolvedProfile> profile,
                            resolve(request.recipient, result));
  if (!profile) return result;  // no profile, or a local account: nothing to post
  MESHGATE_ASSIGN_OR_RETURN(mesh::DareEnvelope envelope,
                            sealMessage(request, result.envelope_id, *profile, gateway_key));
  return post(request.recipient, *profile, envelope, gateway_key, deadline);
}

Result<MeshPostResult> SmtpToMeshDelivery::postEnvelope(std::string_view recipient,
                                                        const mesh::DareEnvelope& envelope,
                                                        const mesh::PrivateKey& gateway_key,
                                                        std::chrono::milliseconds timeout) const {
  const SteadyClock::time_point deadline = SteadyClock::now() + timeout;
  MeshPostResult result;
  result.envelope_id = envelope.header.envelope_id.value_or("");
  MESHGATE_ASSIGN_OR_RETURN(std::shared_ptr<const ResolvedProfile> profile,
                            resolve(recipient, result));
  if (!profile) return result;
  return post(recipient, *profile, envelope, gateway_key, deadline);
}

Result<MeshPostResult> SmtpToMeshDelivery::post(std::string_view recipient,
                                                const ResolvedProfile& profile,
                                                const mesh::DareEnvelope& envelope,
                                                const mesh::PrivateKey& gateway_key,
                                                SteadyClock::time_point deadline) const {
  const std::string domain = addressDomain(recipient);
  if (domain.empty()) return invalidArgument("<" + std::string(recipient) + "> has no domain");
  const std::string id = envelope.header.envelope_id.value_or("");
  if (id.empty()) return invalidArgument("the envelope has no EnvelopeId");
  const nlohmann::json request = {
      {"PostRequest",
       {{"Portal", domain},  // the service it is meant for: not replayable at another
        {"Account", std::string(recipient)},
        {"Envelopes", nlohmann::json::array({mesh::dareToJson(envelope)})}}}};
  meshsvc::RequestMetadata meta;
  meta.unique_id = meshsvc::newNonce();
  meta.message_type = "PostRequest";
  meta.created = deps_.now();
  MESHGATE_ASSIGN_OR_RETURN(mesh::DareEnvelope signed_post,
                            meshsvc::sealRequest(model::dumpJson(request), meta, gateway_key));
  const std::string body = mesh::serializeDareEnvelope(signed_post);

  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  if (left.count() <= 0) return deadlineExceeded("no time left to find " + domain + "'s Mesh service");
  MESHGATE_ASSIGN_OR_RETURN(std::vector<resolver::ServiceEndpoint> endpoints,
                            deps_.locator->locate(domain, left));
  Status last = unavailable("no Mesh service found for " + domain);
  for (const resolver::ServiceEndpoint& endpoint : endpoints) {
    if (SteadyClock::now() >= deadline) {
      return deadlineExceeded("posting to " + domain + "'s Mesh service took too long");
    }
    auto reply = deps_.transport->post(endpoint, domain, body, deadline);
    if (!reply.ok()) {
      last = reply.status();
      continue;  // the next address of the service
    }
    // Once one address answered, its signed answer decides; the Post is not sent again
    // elsewhere (a retry later uses the same EnvelopeId).
    return readAnswer(*reply, profile, meta.unique_id, id, deps_.now(), endpoint.url());
  }
  return last;
}

Result<SmtpToMeshDeps> smtpToMeshDepsFromConfig(std::shared_ptr<ProfileResolver> resolver,
                                                const config::Config& config,
                                                std::function<int64_t()> now) {
  MESHGATE_ASSIGN_OR_RETURN(std::shared_ptr<resolver::MeshClient> client,
                            resolver::MeshClient::create(config.resolver));
  SmtpToMeshDeps deps;
  deps.resolver = std::move(resolver);
  deps.locator = resolver::makeServiceLocator(config.resolver);
  deps.transport = std::move(client);
  deps.now = std::move(now);
  return deps;
}

MeshDeliverFunction makeMeshDeliverFunction(std::shared_ptr<Runtime> runtime) {
  struct Built {
    std::mutex mutex;
    std::shared_ptr<const config::Config> config;  // what `delivery` was built from
    std::shared_ptr<ProfileResolver> resolver;
    std::shared_ptr<const SmtpToMeshDelivery> delivery;
  };
  auto built = std::make_shared<Built>();
  return [runtime, built](const MeshPostRequest& request,
                          bool resolve_only) -> Result<MeshPostResult> {
    std::shared_ptr<const config::Config> config = runtime->config();
    std::shared_ptr<ProfileResolver> resolver = runtime->profileResolver();
    std::shared_ptr<const mesh::PrivateKey> key = runtime->gatewayKey();
    if (!config || !resolver || !key) return unavailable("not started");
    std::shared_ptr<const SmtpToMeshDelivery> delivery;
    {
      std::lock_guard<std::mutex> lock(built->mutex);
      if (built->config != config || built->resolver != resolver || !built->delivery) {
        MESHGATE_ASSIGN_OR_RETURN(
            SmtpToMeshDeps deps,
            smtpToMeshDepsFromConfig(resolver, *config, [runtime] { return runtime->clock().now(); }));
        built->delivery = std::make_shared<const SmtpToMeshDelivery>(std::move(deps));
        built->config = config;
        built->resolver = resolver;
      }
      delivery = built->delivery;
    }
    if (resolve_only) return delivery->check(request.recipient);
    return delivery->deliver(request, *key, config->smtp_to_mesh.timeout);
  };
}

}  // namespace meshgate::adapters
