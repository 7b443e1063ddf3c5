// NAME
//   security_signal.h - the Mesh-Security-Signal header: what the gateway asserts about a
//   message, signed with the gateway's key (seed 7.2.3).
//
// SYNOPSIS
//   SecuritySignal s = signalFromDecision(decision, node, now, nonce);
//   Result<std::string> value = signSignal(s, headers_after_our_edits, gateway_key);
//   ...
//   Result<SecuritySignal> parsed = parseSignal(value);
//   Status ok = verifySignal(*parsed, delivered_headers, gateway_public_key);
//
// DESCRIPTION
//   The header value is a list of tag=value pairs (the format is specified in
//   docs/security-signal.md):
//     v=1; gw=<node>; kid=<key UDF>; t=<unix time>; contact=<status>; checks=<a,b>;
//     [brand=<name, percent-encoded>;] [n=<nonce>; rcpt=<hash:status,...>;] h=<from:to:...>; bh=<digest>; s=<sig>
//   `bh` binds the signal to this message: a SHA-512 over the canonical values of the headers
//   listed in `h`, so the signal cannot be moved to another message. `s` is an Ed25519/Ed448
//   signature over the canonical tag list (every tag but s, in order). Senders cannot forge it:
//   the milter deletes every incoming copy before inserting its own, and a copy forged
//   elsewhere does not verify against the gateway's key.
//
//   When recipients differ in contact status, `contact=mixed` and `rcpt` lists, per recipient,
//   a salted hash of the address (so recipients do not learn each other's addresses, e.g. Bcc)
//   and its status; each recipient's client finds its own entry with recipientHash().
//
// ERRORS
//   parseSignal: kInvalidArgument naming the bad tag. verifySignal: kDataLoss with the reason
//   (header digest mismatch, bad signature, key id mismatch).
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mail/header.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/decision.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

inline constexpr std::string_view kSignalHeader = "Mesh-Security-Signal";

// Headers that only this gateway writes besides the signal: on mail its Mesh -> SMTP bridge
// renders (adapters/mesh_mail.h), which reaches the MTA by a port without the milter. Mail that
// arrives by SMTP carries them only as forgeries, and the milter deletes every copy.
inline constexpr std::string_view kBridgeHeaders[] = {"Mesh-Message-Type", "Mesh-Envelope-Id",
                                                      "Mesh-Message-Id"};

// Whether only this gateway may write a header of this name: the signal or a bridge header.
bool isGatewayOnlyHeader(std::string_view name);

struct SecuritySignal {
  int version = 1;
  std::string gateway;  // the asserting node (gw=)
  std::string kid;      // UDF of the gateway's signing key
  int64_t time = 0;
  std::string contact;  // known-contact, first-contact, quarantined, none, mixed
  std::vector<std::string> checks;  // e.g. payment-request, reply-to-mismatch
  std::string brand;                // a verified brand, "" if none
  std::string nonce;                // salt for rcpt hashes (only with contact=mixed)
  std::vector<std::pair<std::string, std::string>> recipients;  // (hash, status)
  std::vector<std::string> bound_headers;  // lower-case names (h=)
  std::string header_digest;               // bh=, base64url
  std::string signature;                   // s=, base64url
};

// The headers a signal binds by default (those a reader relies on).
const std::vector<std::string>& defaultBoundHeaders();

// Builds the unsigned signal for a decision: contact summary (or mixed + per-recipient
// hashes), checks (names, deduplicated, in order), brand. make_nonce is called only for a
// mixed signal (the salt of its recipient hashes): random bytes cost a per-thread DRBG set-up
// in OpenSSL, and libmilter runs each SMTP session on a new thread.
SecuritySignal signalFromDecision(const Decision& decision, std::string gateway, int64_t now,
                                  const std::function<std::string()>& make_nonce);

// The per-recipient hash used in rcpt=: base64url(SHA-256(nonce ":" lower(address)))[0..16).
std::string recipientHash(std::string_view nonce, std::string_view address);

// Fills kid, h, bh and s; returns the header value (folded lines for smfi_insheader).
Result<std::string> signSignal(SecuritySignal& signal, const mail::HeaderList& headers,
                               const mesh::PrivateKey& key);

Result<SecuritySignal> parseSignal(std::string_view header_value);

// Checks kid, the header digest over `headers` and the signature.
Status verifySignal(const SecuritySignal& signal, const mail::HeaderList& headers,
                    const mesh::PublicKey& key);

// base64url(SHA-512) over the digest form (digestHeaderValue) of every occurrence of each named
// header, in order (the bh= of signals and brand assertions).
std::string boundHeaderDigest(const std::vector<std::string>& names, const mail::HeaderList& headers);

// A header's value in canonical form: unfolded, runs of whitespace as one space, trimmed (how
// the signal's own tag values are read).
std::string canonicalHeaderValue(std::string_view value);

// A bound header's value as the digest sees it: every space, tab, CR and LF removed. Relays
// fold lines longer than 998 bytes by inserting CRLF + space where there was no space (Postfix
// does, after the milter signed), so neither unfolding nor collapsing whitespace survives
// them; only where the words are, not how they are spaced, is bound.
std::string digestHeaderValue(std::string_view value);

}  // namespace meshgate::policy
