// NAME
//   ssh_catalog.h - SSH keys in the Mesh catalogs: device keys an account permits over
//   protocol ssh, the service-wide revocation list and host credentials.
//
// SYNOPSIS
//   SshKeyEntry e = ...;                               // key + options
//   Status s = putSshKey(store, "alice@example.com", kSshCatalog, e, now);
//   Result<std::vector<SshKeyEntry>> keys = listSshKeys(store, "alice@example.com", kSshCatalog);
//   Result<std::vector<SshKeyEntry>> revoked = listSshKeys(store, "", kSshRevokedCatalog);
//
// DESCRIPTION
//   Every SSH key is a CatalogedApplicationSSH (seed 2.8.19, which defines no fields of its
//   own) keyed by the key's Mesh fingerprint:
//     Key                     the fingerprint (sshKeyFingerprint)
//     EnvelopedCapabilities   one unsigned, unencrypted DARE envelope whose payload is the
//                             OpenSSH public key line and whose ContentMetaData is
//                             {"cty":"application/x-openssh-public-key"}
//     Labels                  "permit:ssh" (a grant over protocol ssh, as a contact's
//                             Permission{Name:"ssh",Role:"permit"}), "option:<option>" per
//                             re-enabled sshd option, "hosts:<pattern>" for a host CA,
//                             "reason:<text>" for a revocation
//   Catalogs: the account's "ssh" catalog holds its device keys; the service-wide account ""
//   holds "ssh-revoked" (keys refused everywhere, also printed as @revoked) and "ssh-hosts"
//   (host certificate authorities, printed as @cert-authority). An entry whose stored key does
//   not have the fingerprint it is filed under is refused when read, so a hand-edited row
//   cannot grant a different key.
//
// THREAD SAFETY
//   Pure functions and calls on the (thread-safe) Store.
//
// ERRORS
//   Store errors pass through; kDataLoss for an entry that does not decode or verify.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "adapters/ssh_keys.h"
#include "gateway/ports/store.h"
#include "meshgate/mesh_model.h"

namespace meshgate::adapters {

inline constexpr std::string_view kSshCatalog = "ssh";
inline constexpr std::string_view kSshRevokedCatalog = "ssh-revoked";
inline constexpr std::string_view kSshHostsCatalog = "ssh-hosts";
inline constexpr std::string_view kSshProtocol = "ssh";
inline constexpr std::string_view kSshKeyMediaType = "application/x-openssh-public-key";

struct SshKeyEntry {
  std::string udf;
  SshPublicKey key;
  std::vector<std::string> options;  // normalized (normalizeSshOptions)
  bool permit = true;                // "permit:ssh"; false = on file but not granted
  std::string hosts;                 // host CA: the known_hosts pattern it signs for
  std::string reason;                // revocation: why
  int64_t updated = 0;

  friend bool operator==(const SshKeyEntry&, const SshKeyEntry&) = default;
};

// A new entry for `key` (fingerprint computed).
Result<SshKeyEntry> makeSshKeyEntry(const SshPublicKey& key);

mesh::model::CatalogedApplicationSSH toCatalogedApplication(const SshKeyEntry& entry);
Result<SshKeyEntry> fromCatalogedApplication(const mesh::model::CatalogedApplicationSSH& app);

Status putSshKey(Store& store, std::string_view account, std::string_view catalog,
                 const SshKeyEntry& entry, int64_t now);
// Every entry of the catalog, in sequence order. Entries that do not decode are skipped and
// reported through `problems` (when given): one bad row must not hide the others, and a
// skipped grant only ever refuses a login. In kSshRevokedCatalog an unreadable entry is kept
// as its fingerprint alone (key.type empty), so it still refuses.
Result<std::vector<SshKeyEntry>> listSshKeys(Store& store, std::string_view account,
                                             std::string_view catalog,
                                             std::vector<std::string>* problems = nullptr);

}  // namespace meshgate::adapters
