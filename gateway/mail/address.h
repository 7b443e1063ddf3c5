// NAME
//   address.h - mail addresses: RFC 5321 envelope addresses, RFC 5322 mailbox lists, domains
//   (IDN via ICU UTS #46).
//
// SYNOPSIS
//   Result<Address> from = parseEnvelopeAddress("<Alice@Bücher.Example>");
//   from->localPart();      // "Alice"               (kept as sent: local parts are case-exact)
//   from->domain();         // "xn--bcher-kva.example" (A-label, lower-case: compare this)
//   from->domainUnicode();  // "bücher.example"        (U-label: show this, match lookalikes)
//
//   MailboxList list = parseMailboxList("\"Doe, John\" <jd@example.com>, (Bob) bob@example.org");
//   list.mailboxes[0].display_name;  // "Doe, John"
//
// DESCRIPTION
//   An Address is a local part and a domain. The local part is stored unquoted
//   ("john doe" for "\"john doe\"@x"), so that "\"john\"@x" and "john@x" are the same address;
//   toString() quotes it again when it is not a dot-atom. The domain is stored twice: as the
//   lower-case A-label form (what equality, hashing and DNS use) and as the U-label form. The
//   null address "<>" (empty reverse-path) is Address().
//
//   parseEnvelopeAddress takes what the MTA passes a milter for MAIL FROM / RCPT TO: with or
//   without angle brackets, "<>", a source route "<@a,@b:u@d>" (dropped), a quoted local part,
//   an SMTPUTF8 (UTF-8) local part or domain. It is as tolerant as Postfix's default
//   (strict_rfc821_envelopes = no) about the local part, since what the MTA accepted has to be
//   judged; the domain must be a valid DNS name or IDN, or an address literal "[192.0.2.1]".
//   A domain-less address is accepted only for "postmaster" (RFC 5321 4.5.1).
//
//   parseMailboxList reads From/To/Cc/Reply-To/Sender values: display names (phrases, quoted
//   strings, RFC 2047 encoded words, decoded to UTF-8), comments (a comment is used as the
//   display name when there is no phrase, as some clients show it), groups, routes and the
//   obsolete syntax of RFC 5322 section 4. It never fails: what it cannot read is skipped or
//   kept as a mailbox without address, and MailboxList::malformed is set, so that a policy can
//   treat a broken From: as suspicious rather than as absent.
//
// ERRORS
//   parseEnvelopeAddress, Address::make and normalizeDomain return kInvalidArgument with a
//   short reason ("invalid IDN domain", "no domain"); kInternal only if ICU's UTS #46 data
//   cannot be loaded. parseMailboxList and domainOf do not fail.
//
// LIMITS
//   Domains: 253 octets, 63 per label. Local parts: 512 octets (RFC 5321 says 64, but real
//   VERP/SRS addresses exceed it and the MTA accepted them). Mailboxes per field:
//   Limits::max_mailboxes (more sets truncated).
//
// THREAD SAFETY
//   Value types; all functions may run concurrently (the ICU IDNA instance is immutable and
//   shared).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/mail/limits.h"
#include "gateway/util/status.h"

namespace meshgate::mail {

struct Domain {
  std::string ascii;    // A-label form, lower-case, no trailing dot; literals as "[...]"
  std::string unicode;  // U-label form (NFC, lower-case); equal to ascii for ASCII names
};

// Validates and normalizes a domain given in A-label or U-label form (or mixed).
Result<Domain> normalizeDomain(std::string_view domain);

class Address {
 public:
  Address() = default;  // the null address "<>"

  // local_part unquoted. domain may be "" only for "postmaster" (any case).
  static Result<Address> make(std::string_view local_part, std::string_view domain);

  const std::string& localPart() const { return local_; }
  const std::string& domain() const { return domain_.ascii; }
  const std::string& domainUnicode() const { return domain_.unicode; }
  bool isNull() const { return local_.empty() && domain_.ascii.empty(); }

  // "local@domain" with the A-label domain, local part quoted if needed; "" for the null address.
  std::string toString() const;
  // The same with the U-label domain, for display.
  std::string toUnicodeString() const;

  // Local parts compare exactly (RFC 5321 2.4); domains compare by their lower-case A-label.
  friend bool operator==(const Address& a, const Address& b) {
    return a.local_ == b.local_ && a.domain_.ascii == b.domain_.ascii;
  }

 private:
  std::string local_;
  Domain domain_;
};

// An envelope address as a milter receives it ("<a@b>", "a@b", "<>").
Result<Address> parseEnvelopeAddress(std::string_view text);

// The form policy compares envelope addresses in, whatever form the client sent and the MTA
// delivers by: the local part unquoted (case kept), '@', the domain as a lower-case A-label
// without the root's trailing dot; a source route dropped; "<>" -> "". So <"bob"@Example.COM.>
// and <@relay:bob@example.com> are bob@example.com, as Postfix delivers them. Text that does not
// parse is still judged (the MTA accepted it): without its angle brackets, its domain
// lower-cased and without a trailing dot.
std::string canonicalEnvelopeAddress(std::string_view text);

// The normalized A-label domain of an address given as text ("<a@B.example>" ->
// "b.example"); "" if it has none or it does not parse.
std::string domainOf(std::string_view address_text);

struct Mailbox {
  std::string display_name;  // UTF-8, decoded and unquoted; "" if none
  Address address;           // null if the mailbox had no usable address
  std::string group;         // the group's display name when inside "Group: ...;"
};

struct MailboxList {
  std::vector<Mailbox> mailboxes;
  bool malformed = false;  // something was skipped, repaired or had no valid address
  bool truncated = false;  // more than Limits::max_mailboxes
};

// Parses an address-list / mailbox-list header value (raw, folded or not).
MailboxList parseMailboxList(std::string_view value, const Limits& limits = Limits());

}  // namespace meshgate::mail
