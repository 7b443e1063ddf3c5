// security_signal.cc - see security_signal.h and docs/security-signal.md.
#include "gateway/policy/security_signal.h"

#include <algorithm>
#include <charconv>

#include "gateway/mesh/crypto.h"
#include "gateway/policy/brand_assertion.h"
#include "gateway/util/encoding.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

constexpr size_t kMaxSignalBytes = 16 * 1024;

bool tokenOk(std::string_view v) {
  // Values are tokens: no whitespace, no ';' or '=' that would confuse the tag list.
  return std::none_of(v.begin(), v.end(), [](char c) {
    return c == ';' || c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
           static_cast<unsigned char>(c) < 0x20;
  });
}

// The tag list without s=, in the fixed order, as signed.
std::vector<std::pair<std::string, std::string>> tags(const SecuritySignal& s) {
  std::vector<std::pair<std::string, std::string>> t;
  t.emplace_back("v", std::to_string(s.version));
  t.emplace_back("gw", s.gateway);
  t.emplace_back("kid", s.kid);
  t.emplace_back("t", std::to_string(s.time));
  t.emplace_back("contact", s.contact);
  t.emplace_back("checks", s.checks.empty() ? "none" : joinList(s.checks, ","));
  if (!s.brand.empty()) t.emplace_back("brand", s.brand);
  if (!s.recipients.empty()) {
    t.emplace_back("n", s.nonce);
    std::vector<std::string> r;
    for (const auto& [hash, status] : s.recipients) r.push_back(hash + ":" + status);
    t.emplace_back("rcpt", joinList(r, ","));
  }
  t.emplace_back("h", joinList(s.bound_headers, ":"));
  t.emplace_back("bh", s.header_digest);
  return t;
}

std::string canonicalTags(const SecuritySignal& s) {
  std::string out = "Mesh-Security-Signal/1:";
  for (const auto& [k, v] : tags(s)) out += k + "=" + v + ";";
  return out;
}

}  // namespace

std::string boundHeaderDigest(const std::vector<std::string>& names, const mail::HeaderList& headers) {
  std::string data;
  for (const auto& name : names) {
    // Every occurrence, in order: a second From: cannot be slipped past the signal.
    for (const mail::Header* h : headers.all(name)) {
      data += name;
      data += ':';
      data += digestHeaderValue(h->value);
      data += "\r\n";
    }
    data += "--\r\n";
  }
  return base64UrlEncode(mesh::sha512(asBytes(data)));
}

const std::vector<std::string>& defaultBoundHeaders() {
  static const std::vector<std::string> kHeaders = {"from",     "sender", "reply-to", "to",
                                                     "cc",       "subject", "date",
                                                     "message-id"};
  return kHeaders;
}

std::string canonicalHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string digestHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
  }
  return out;
}

std::string recipientHash(std::string_view nonce, std::string_view address) {
  std::string data = std::string(nonce) + ":" + toLowerAscii(address);
  return base64UrlEncode(mesh::hash(mesh::HashAlgorithm::kSha256, asBytes(data))).substr(0, 16);
}

SecuritySignal signalFromDecision(const Decision& decision, std::string gateway, int64_t now,
                                  const std::function<std::string()>& make_nonce) {
  SecuritySignal s;
  s.gateway = std::move(gateway);
  s.time = now;
  std::vector<std::string> statuses;
  for (const auto& r : decision.recipients) {
    if (r.verdict != Verdict::kAccept) continue;  // refused recipients get no copy
    statuses.emplace_back(contactStatusName(r.contact));
  }
  bool same = std::adjacent_find(statuses.begin(), statuses.end(), std::not_equal_to<>()) ==
              statuses.end();
  if (statuses.empty()) {
    s.contact = "none";
  } else if (same) {
    s.contact = statuses.front();
  } else {
    s.contact = "mixed";
    s.nonce = make_nonce();
    for (const auto& r : decision.recipients) {
      if (r.verdict != Verdict::kAccept) continue;
      s.recipients.emplace_back(recipientHash(s.nonce, r.recipient),
                                std::string(contactStatusName(r.contact)));
    }
  }
  for (const auto& c : decision.checks) {
    if (std::find(s.checks.begin(), s.checks.end(), c.name) == s.checks.end()) {
      s.checks.push_back(c.name);
    }
  }
  // A brand a trusted gateway asserted (brand_filter.h); names may hold spaces: encoded.
  s.brand = encodeTagValue(decision.brand.verified);
  return s;
}

Result<std::string> signSignal(SecuritySignal& signal, const mail::HeaderList& headers,
                               const mesh::PrivateKey& key) {
  signal.kid = key.publicKey().kid();
  if (signal.bound_headers.empty()) signal.bound_headers = defaultBoundHeaders();
  for (const auto& v : {signal.gateway, signal.contact, signal.brand, signal.nonce}) {
    if (!tokenOk(v)) return invalidArgument("signal value \"" + v + "\" is not a token");
  }
  for (const auto& c : signal.checks) {
    if (!tokenOk(c) || c.find(',') != std::string::npos) {
      return invalidArgument("check name \"" + c + "\" is not a token");
    }
  }
  signal.header_digest = boundHeaderDigest(signal.bound_headers, headers);
  auto sig = key.sign(asBytes(canonicalTags(signal)));
  if (!sig.ok()) return sig.status();
  signal.signature = base64UrlEncode(*sig);
  // Folded after each tag so no line exceeds RFC 5322's limits.
  std::string out;
  for (const auto& [k, v] : tags(signal)) {
    if (!out.empty()) out += "\n\t";
    out += k + "=" + v + ";";
  }
  out += "\n\ts=" + signal.signature;
  return out;
}

Result<SecuritySignal> parseSignal(std::string_view value) {
  if (value.size() > kMaxSignalBytes) return invalidArgument("signal longer than 16 KiB");
  SecuritySignal s;
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
    auto number = [&](int64_t& out) -> Status {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
      if (ec != std::errc() || p != v.data() + v.size()) {
        return invalidArgument("tag " + key + ": expected a number, got \"" + v + "\"");
      }
      return Status();
    };
    if (key == "v") {
      int64_t ver = 0;
      MESHGATE_RETURN_IF_ERROR(number(ver));
      if (ver != 1) return invalidArgument("unsupported signal version " + v);
      s.version = 1;
    } else if (key == "gw") {
      s.gateway = v;
    } else if (key == "kid") {
      s.kid = v;
    } else if (key == "t") {
      MESHGATE_RETURN_IF_ERROR(number(s.time));
    } else if (key == "contact") {
      s.contact = v;
    } else if (key == "checks") {
      if (v != "none") s.checks = splitList(v, ',');
    } else if (key == "brand") {
      s.brand = v;
    } else if (key == "n") {
      s.nonce = v;
    } else if (key == "rcpt") {
      for (const auto& entry : splitList(v, ',')) {
        auto colon = entry.find(':');
        if (colon == std::string::npos) return invalidArgument("rcpt entry without ':'");
        s.recipients.emplace_back(entry.substr(0, colon), entry.substr(colon + 1));
      }
    } else if (key == "h") {
      s.bound_headers = splitList(v, ':');
    } else if (key == "bh") {
      s.header_digest = v;
    } else if (key == "s") {
      s.signature = v;
    }
    // Unknown tags are ignored for forward compatibility; they are not signed, so they carry
    // no assertion.
  }
  for (const char* required : {"v", "gw", "kid", "t", "contact", "h", "bh", "s"}) {
    if (std::find(seen.begin(), seen.end(), required) == seen.end()) {
      return invalidArgument(std::string("missing tag ") + required);
    }
  }
  return s;
}

Status verifySignal(const SecuritySignal& signal, const mail::HeaderList& headers,
                    const mesh::PublicKey& key) {
  if (signal.kid != key.kid()) {
    return dataLoss("signed by key " + signal.kid + ", not by the gateway key " + key.kid());
  }
  if (boundHeaderDigest(signal.bound_headers, headers) != signal.header_digest) {
    return dataLoss("the message's headers (" + joinList(signal.bound_headers, ", ") +
                    ") changed since the gateway signed them");
  }
  auto sig = base64UrlDecode(signal.signature);
  if (!sig.ok()) return dataLoss("signature is not base64url");
  Status st = key.verify(asBytes(canonicalTags(signal)), *sig);
  if (!st.ok()) return dataLoss("signature does not verify: a signed field was altered");
  return Status();
}

bool isGatewayOnlyHeader(std::string_view name) {
  if (equalsIgnoreCase(name, kSignalHeader)) return true;
  for (std::string_view bridge : kBridgeHeaders) {
    if (equalsIgnoreCase(name, bridge)) return true;
  }
  return false;
}

}  // namespace meshgate::policy
