// NAME
//   wire.h - the Mesh service's signed request and response envelopes (docs/mesh-service.md,
//   "Wire format"), shared by the service and its client.
//
// SYNOPSIS
//   // client
//   RequestMetadata meta{.unique_id = newNonce(), .message_type = "CreateRequest",
//                        .created = now};
//   Result<mesh::DareEnvelope> env = sealRequest(request_json, meta, device_key);
//   // service
//   Result<OpenedRequest> req = openRequest(*env, limits);
//   Result<mesh::DareEnvelope> resp = sealResponse(response_json, response_meta, service_key);
//   // client again
//   Result<OpenedResponse> r = openResponse(*resp, service_public_key, meta.unique_id, now, window);
//
// DESCRIPTION
//   A state-changing request is a DARE envelope (MESH-FORMATS 3) whose payload is the request's
//   JSON ({"CreateRequest":{...}}), signed with header binding (MGB1, gateway/mesh/dare.h) by the
//   requester, with the signer's public key embedded (SignatureKey). Its header's
//   ContentMetaData is a JSON object:
//     {"cty":"application/mmm/request","MessageType":"CreateRequest",
//      "UniqueId":"<nonce>","Created":"2024-10-01T12:00:00Z"[,"Account":"alice@example.com"]}
//   UniqueId is the replay nonce (a nonce UDF); Created the timestamp; MessageType must name the
//   payload's type; Account (optional) is the account on whose behalf the signer acts when the
//   request itself names none (Publish). The header binding makes every one of these part of
//   what is signed: none can be changed, removed or added without breaking the signature.
//
//   The response to a signed request is a DARE envelope signed (header-bound, no embedded key:
//   the client checks it against the service key it expects) by the service, payload the
//   response JSON, ContentMetaData
//     {"cty":"application/mmm/response","MessageType":"CreateResponse","UniqueId":"<nonce>",
//      "Created":"...","InResponseTo":"<the request's UniqueId>"}
//   so a client detects a response replayed from another request or substituted by a third
//   party (seed 8.1.5).
//
// SECURITY
//   openRequest verifies signatures with the keys embedded in the envelope: it proves who signed
//   (possession of that key), not that the signer may do anything. Authorization is the
//   caller's (policy/mesh/authorizer.h), as is the nonce check against the store.
//
// THREAD SAFETY
//   Pure functions.
//
// ERRORS
//   openRequest: kUnauthenticated for a missing or bad signature, a payload that is encrypted,
//   missing or malformed metadata; kInvalidArgument when the payload is not a Mesh request.
//   openResponse: kDataLoss (as a "response not authentic" error) for anything that does not
//   verify against the expected key and nonce.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "gateway/util/status.h"
#include "meshgate/mesh_model.h"

namespace meshgate::meshsvc {

inline constexpr std::string_view kWellKnownPath = "/.well-known/mmm/";
inline constexpr std::string_view kRequestContentType = "application/mmm/request";
inline constexpr std::string_view kResponseContentType = "application/mmm/response";
// A nonce shorter than this cannot be random enough; longer than the max is refused as abuse.
inline constexpr size_t kMinNonceChars = 16;
inline constexpr size_t kMaxNonceChars = 128;

struct RequestMetadata {
  std::string unique_id;     // "UniqueId": the nonce
  std::string message_type;  // "MessageType": the request's type name
  int64_t created = 0;       // "Created": Unix seconds
  std::string account;       // "Account": optional
};

struct ResponseMetadata {
  std::string unique_id;
  std::string message_type;
  int64_t created = 0;
  std::string in_response_to;  // "InResponseTo": the request's UniqueId
};

// A fresh nonce (a 128-bit nonce UDF).
std::string newNonce();

Result<mesh::DareEnvelope> sealRequest(std::string_view request_json, const RequestMetadata& meta,
                                       const mesh::PrivateKey& signer);

struct OpenedRequest {
  mesh::DareEnvelope envelope;
  RequestMetadata meta;
  mesh::model::AnyMessage message;        // the payload, parsed
  std::vector<mesh::PublicKey> signers;   // every signature verified with these keys
};

// Verifies and reads a request envelope (see SECURITY: authentication only).
Result<OpenedRequest> openRequest(const mesh::DareEnvelope& envelope,
                                  const mesh::model::ParseLimits& limits);

Result<mesh::DareEnvelope> sealResponse(std::string_view response_json,
                                        const ResponseMetadata& meta,
                                        const mesh::PrivateKey& service_key);

struct OpenedResponse {
  ResponseMetadata meta;
  std::string payload;  // the response JSON
};

// Verifies a response envelope against `service_key` only (never an embedded key), requires
// header binding, InResponseTo == expected_nonce and Created within `window_seconds` of now.
Result<OpenedResponse> openResponse(const mesh::DareEnvelope& envelope,
                                    const mesh::PublicKey& service_key,
                                    std::string_view expected_nonce, int64_t now,
                                    int64_t window_seconds);

// True when `nonce` has an acceptable length and only printable ASCII without spaces.
bool isAcceptableNonce(std::string_view nonce);

}  // namespace meshgate::meshsvc
