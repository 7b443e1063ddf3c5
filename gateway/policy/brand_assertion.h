// NAME
//   brand_assertion.h - the Mesh-Brand-Assertion header: a gateway's signed statement that a
//   message was sent for a brand and which organization is accountable for it (seed 7.2.3.1).
//
// SYNOPSIS
//   BrandAssertion a{.brand = "Example Bank", .organization = "Example Bank plc", ...};
//   Result<std::string> value = signBrandAssertion(a, headers_as_delivered, gateway_key);
//   ...
//   Result<BrandAssertion> parsed = parseBrandAssertion(value);
//   Status ok = verifyBrandAssertion(*parsed, headers, trusted_public_key);
//
// DESCRIPTION
//   The value is a tag list like the security signal's (docs/brand-assertion.md):
//     v=1; brand=<name>; org=<organization>; [logo=<url>;] addr=<From address>; gw=<node>;
//     kid=<key UDF>; t=<unix time>; h=<from:to:...>; bh=<digest>; s=<signature>
//   brand, org and logo are percent-encoded UTF-8 (encodeTagValue), so names may hold spaces
//   and any script. `bh` binds the assertion to the message's From, To, Subject, Date,
//   Message-ID... (boundHeaderDigest); `s` signs the canonical tag list with the prefix
//   "Mesh-Brand-Assertion/1:", so neither a security signal's signature nor an assertion's can
//   be passed off as the other.
//
// ERRORS
//   parseBrandAssertion: kInvalidArgument naming the bad or missing tag. verifyBrandAssertion:
//   kDataLoss with the reason (key id, header digest, signature, From address).
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mail/header.h"
#include "gateway/mesh/keys.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

inline constexpr std::string_view kBrandAssertionHeader = "Mesh-Brand-Assertion";

struct BrandAssertion {
  int version = 1;
  std::string brand;         // decoded
  std::string organization;  // decoded
  std::string logo_url;      // decoded; "" if none
  std::string address;       // the From: address the brand speaks through, lower-case
  std::string gateway;       // the asserting node (gw=)
  std::string kid;           // UDF of the gateway's signing key
  int64_t time = 0;
  std::vector<std::string> bound_headers;  // lower-case names (h=)
  std::string header_digest;               // bh=
  std::string signature;                   // s=
};

// Percent-encodes every byte but ASCII letters, digits and "-._~@:/+!," so that the value is
// one token of a tag list (no space, ';', '=' or control characters).
std::string encodeTagValue(std::string_view value);
// The inverse; kInvalidArgument on a bad escape.
Result<std::string> decodeTagValue(std::string_view value);

// Fills kid, h (when empty: defaultBoundHeaders()), bh and s; returns the header value,
// folded after each tag.
Result<std::string> signBrandAssertion(BrandAssertion& assertion, const mail::HeaderList& headers,
                                       const mesh::PrivateKey& key);

Result<BrandAssertion> parseBrandAssertion(std::string_view header_value);

// Checks kid against `key`, the header digest, the signature, and that addr= is the address
// of the (single) From: field of `headers`.
Status verifyBrandAssertion(const BrandAssertion& assertion, const mail::HeaderList& headers,
                            const mesh::PublicKey& key);

}  // namespace meshgate::policy
