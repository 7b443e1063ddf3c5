// brand_assertion.cc - see brand_assertion.h and docs/brand-assertion.md.
#include "gateway/policy/brand_assertion.h"

#include <algorithm>
#include <charconv>

#include "gateway/mail/address.h"
#include "gateway/policy/security_signal.h"
#include "gateway/util/encoding.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

constexpr size_t kMaxAssertionBytes = 8 * 1024;

bool plainTagByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~@:/+!,").find(static_cast<char>(c)) != std::string_view::npos;
}

std::vector<std::pair<std::string, std::string>> tags(const BrandAssertion& a) {
  std::vector<std::pair<std::string, std::string>> t;
  t.emplace_back("v", std::to_string(a.version));
  t.emplace_back("brand", encodeTagValue(a.brand));
  t.emplace_back("org", encodeTagValue(a.organization));
  if (!a.logo_url.empty()) t.emplace_back("logo", encodeTagValue(a.logo_url));
  t.emplace_back("addr", encodeTagValue(a.address));
  t.emplace_back("gw", encodeTagValue(a.gateway));
  t.emplace_back("kid", a.kid);
  t.emplace_back("t", std::to_string(a.time));
  t.emplace_back("h", joinList(a.bound_headers, ":"));
  t.emplace_back("bh", a.header_digest);
  return t;
}

std::string canonicalTags(const BrandAssertion& a) {
  std::string out = "Mesh-Brand-Assertion/1:";
  for (const auto& [k, v] : tags(a)) out += k + "=" + v + ";";
  return out;
}

// The address of the one From: mailbox, lower-case; "" when there is none or several.
std::string singleFromAddress(const mail::HeaderList& headers) {
  if (headers.count("From") != 1) return "";
  const std::string* from = headers.find("From");
  mail::MailboxList list = mail::parseMailboxList(*from);
  if (list.mailboxes.size() != 1 || list.mailboxes[0].address.isNull()) return "";
  return toLowerAscii(list.mailboxes[0].address.toString());
}

}  // namespace

std::string encodeTagValue(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (plainTagByte(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

Result<std::string> decodeTagValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    if (i + 2 >= value.size()) {
      return invalidArgument("truncated %-escape in \"" + std::string(value) + "\"");
    }
    int hi = hex(value[i + 1]);
    int lo = hex(value[i + 2]);
    if (hi < 0 || lo < 0) return invalidArgument("bad %-escape in \"" + std::string(value) + "\"");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

Result<std::string> signBrandAssertion(BrandAssertion& a, const mail::HeaderList& headers,
                                       const mesh::PrivateKey& key) {
  if (a.brand.empty()) return invalidArgument("brand assertion without a brand name");
  if (a.organization.empty()) return invalidArgument("brand assertion without an organization");
  a.kid = key.publicKey().kid();
  if (a.bound_headers.empty()) a.bound_headers = defaultBoundHeaders();
  a.header_digest = boundHeaderDigest(a.bound_headers, headers);
  auto sig = key.sign(asBytes(canonicalTags(a)));
  if (!sig.ok()) return sig.status();
  a.signature = base64UrlEncode(*sig);
  std::string out;
  for (const auto& [k, v] : tags(a)) {
    if (!out.empty()) out += "\n\t";
    out += k + "=" + v + ";";
  }
  out += "\n\ts=" + a.signature;
  return out;
}

Result<BrandAssertion> parseBrandAssertion(std::string_view value) {
  if (value.size() > kMaxAssertionBytes) return invalidArgument("brand assertion longer than 8 KiB");
  BrandAssertion a;
  std::vector<std::string> seen;
  for (const auto& item : splitList(value, ';')) {
    auto eq = item.find('=');
    if (eq == std::string::npos) return invalidArgument("tag without '=': \"" + item + "\"");
    std::string key(trimWhitespace(std::string_view(item).substr(0, eq)));
    std::string v = canonicalHeaderValue(std::string_view(item).substr(eq + 1));
    v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return invalidArgument("tag " + key + " repeated");
    }
    seen.push_back(key);
    auto decoded = [&](std::string& out) -> Status {
      auto d = decodeTagValue(v);
      if (!d.ok()) return d.status().withContext("tag " + key);
      out = std::move(*d);
      return Status();
    };
    if (key == "v") {
      if (v != "1") return invalidArgument("unsupported brand assertion version " + v);
    } else if (key == "brand") {
      MESHGATE_RETURN_IF_ERROR(decoded(a.brand));
    } else if (key == "org") {
      MESHGATE_RETURN_IF_ERROR(decoded(a.organization));
    } else if (key == "logo") {
      MESHGATE_RETURN_IF_ERROR(decoded(a.logo_url));
    } else if (key == "addr") {
      MESHGATE_RETURN_IF_ERROR(decoded(a.address));
    } else if (key == "gw") {
      MESHGATE_RETURN_IF_ERROR(decoded(a.gateway));
    } else if (key == "kid") {
      a.kid = v;
    } else if (key == "t") {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), a.time);
      if (ec != std::errc() || p != v.data() + v.size()) {
        return invalidArgument("tag t: expected a number, got \"" + v + "\"");
      }
    } else if (key == "h") {
      a.bound_headers = splitList(v, ':');
    } else if (key == "bh") {
      a.header_digest = v;
    } else if (key == "s") {
      a.signature = v;
    }
    // Unknown tags are not signed and carry no assertion: ignored.
  }
  for (const char* required : {"v", "brand", "org", "addr", "gw", "kid", "t", "h", "bh", "s"}) {
    if (std::find(seen.begin(), seen.end(), required) == seen.end()) {
      return invalidArgument(std::string("missing tag ") + required);
    }
  }
  if (std::find(a.bound_headers.begin(), a.bound_headers.end(), "from") == a.bound_headers.end()) {
    return invalidArgument("h= does not bind the From header");
  }
  return a;
}

Status verifyBrandAssertion(const BrandAssertion& a, const mail::HeaderList& headers,
                            const mesh::PublicKey& key) {
  if (a.kid != key.kid()) {
    return dataLoss("signed by key " + a.kid + ", not by " + key.kid());
  }
  if (boundHeaderDigest(a.bound_headers, headers) != a.header_digest) {
    return dataLoss("the message's headers (" + joinList(a.bound_headers, ", ") +
                    ") changed since the gateway signed them");
  }
  auto sig = base64UrlDecode(a.signature);
  if (!sig.ok()) return dataLoss("signature is not base64url");
  if (!key.verify(asBytes(canonicalTags(a)), *sig).ok()) {
    return dataLoss("signature does not verify: a signed field was altered");
  }
  std::string from = singleFromAddress(headers);
  if (from.empty() || from != toLowerAscii(a.address)) {
    return dataLoss("asserted for " + a.address + ", but the From: address is " +
                    (from.empty() ? std::string("missing or not a single mailbox") : from));
  }
  return Status();
}

}  // namespace meshgate::policy
