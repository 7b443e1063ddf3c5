// NAME
//   ssh_keys.h - OpenSSH public keys and authorized_keys lines for the SSH adapter.
//
// SYNOPSIS
//   Result<SshPublicKey> key = parseSshPublicKey("ssh-ed25519 AAAAC3Nza... alice-laptop");
//   Result<std::string> udf = sshKeyFingerprint(*key);           // "MCCR-IPW7-..."
//   Result<std::vector<std::string>> opts = normalizeSshOptions({"pty", "command=/bin/true"});
//   std::string line = authorizedKeysLine(*key, *opts, *udf, "alice@example.com");
//     // restrict,pty,command="/bin/true" ssh-ed25519 AAAAC3Nza... udf:MCCR-... alice@example.com
//
// DESCRIPTION
//   A key is checked the way sshd reads it: a known type, standard base64 of the SSH wire
//   blob, and the blob's own type string equal to the written type. Its Mesh fingerprint is
//   the kid a Mesh device key has (keys.h: UDF of the reference SubjectPublicKeyInfo,
//   "PKIXKey") for ssh-ed25519, so a device's Ed25519 key has the same fingerprint in the Mesh
//   and in SSH; for other types it is the content digest UDF of the wire blob with content type
//   kSshKeyContentType.
//
//   Options: every line starts with `restrict` (no forwarding, no pty, no ~/.ssh/rc), and only
//   what the catalog grants is re-enabled: agent-forwarding, port-forwarding, pty, user-rc,
//   X11-forwarding, no-touch-required, verify-required, and the valued options command=,
//   from=, permitopen=, permitlisten=, environment=, expiry-time=. Values may not contain a
//   double quote, a backslash or a control character, so a catalog entry can never add an
//   option or a second key to the line.
//
// THREAD SAFETY
//   Value types and pure functions.
//
// ERRORS
//   kInvalidArgument naming what is wrong ("unknown key type \"ssh-dss\"").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/encoding.h"
#include "gateway/util/status.h"

namespace meshgate::adapters {

// Content type of the fingerprint of non-Ed25519 keys (a name, like the Mesh's "PKIXKey").
inline constexpr std::string_view kSshKeyContentType = "OpenSSHKey";

struct SshPublicKey {
  std::string type;     // "ssh-ed25519"
  std::string base64;   // standard base64 with padding, as in .pub files
  Bytes blob;           // the decoded wire form
  std::string comment;  // "" if none

  std::string line() const;  // "type base64 comment" (no comment: "type base64")
  friend bool operator==(const SshPublicKey&, const SshPublicKey&) = default;
};

// "type base64 [comment]" as in a .pub file (one line; surrounding white space ignored).
Result<SshPublicKey> parseSshPublicKey(std::string_view text);
// The two values sshd passes to AuthorizedKeysCommand as %t and %k.
Result<SshPublicKey> sshPublicKeyFromParts(std::string_view type, std::string_view base64);

Result<std::string> sshKeyFingerprint(const SshPublicKey& key);

// Checks and normalizes option words as an administrator writes them ("PTY",
// "command=/usr/bin/backup", "command=\"/usr/bin/backup --full\""): flags lower case (X11 as
// sshd spells it), values quoted. Duplicates are dropped; `restrict` itself is implied.
Result<std::vector<std::string>> normalizeSshOptions(const std::vector<std::string>& options);

// A known_hosts host pattern list as `meshgate ssh add-host-ca --hosts` takes it: comma-separated
// names and addresses with the wildcards * and ?, negation !, and [host]:port, nothing else
// (no space, quote or '#' that would change the meaning of a known_hosts line). Checked when
// the pattern is stored and again on every read, since it reaches a known_hosts line.
bool isValidSshHostsPattern(std::string_view hosts);

// One authorized_keys line: restrict[,options] type base64 udf:UDF account.
std::string authorizedKeysLine(const SshPublicKey& key, const std::vector<std::string>& options,
                               std::string_view udf, std::string_view account);

// Standard base64 (RFC 4648 section 4, with padding), as OpenSSH writes keys.
std::string base64StdEncode(ByteView data);
Result<Bytes> base64StdDecode(std::string_view text);

}  // namespace meshgate::adapters
