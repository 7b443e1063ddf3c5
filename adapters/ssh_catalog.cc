// ssh_catalog.cc - see ssh_catalog.h.
#include "adapters/ssh_catalog.h"

#include <nlohmann/json.hpp>

#include "gateway/util/strings.h"

namespace meshgate::adapters {

namespace model = mesh::model;

namespace {
constexpr std::string_view kPermitLabel = "permit:ssh";
constexpr std::string_view kOptionPrefix = "option:";
constexpr std::string_view kHostsPrefix = "hosts:";
constexpr std::string_view kReasonPrefix = "reason:";

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
}  // namespace

Result<SshKeyEntry> makeSshKeyEntry(const SshPublicKey& key) {
  SshKeyEntry e;
  MESHGATE_ASSIGN_OR_RETURN(e.udf, sshKeyFingerprint(key));
  e.key = key;
  return e;
}

model::CatalogedApplicationSSH toCatalogedApplication(const SshKeyEntry& entry) {
  model::CatalogedApplicationSSH app;
  app.key = entry.udf;
  mesh::DareEnvelope env;
  env.header.content_meta_data =
      toBytes(nlohmann::json{{"cty", std::string(kSshKeyMediaType)}}.dump());
  env.payload = toBytes(entry.key.line());
  app.enveloped_capabilities.push_back(env);
  if (entry.permit) app.labels.emplace_back(kPermitLabel);
  for (const auto& o : entry.options) app.labels.push_back(std::string(kOptionPrefix) + o);
  if (!entry.hosts.empty()) app.labels.push_back(std::string(kHostsPrefix) + entry.hosts);
  if (!entry.reason.empty()) app.labels.push_back(std::string(kReasonPrefix) + entry.reason);
  return app;
}

Result<SshKeyEntry> fromCatalogedApplication(const model::CatalogedApplicationSSH& app) {
  if (!app.key || app.enveloped_capabilities.empty()) {
    return dataLoss("CatalogedApplicationSSH without Key or EnvelopedCapabilities");
  }
  const mesh::DareEnvelope& env = app.enveloped_capabilities.front();
  auto cty = mesh::dareContentType(env.header);
  if (!cty.ok() || !cty->has_value() || **cty != kSshKeyMediaType) {
    return dataLoss("entry " + *app.key + ": the capability is not an OpenSSH public key");
  }
  auto key = parseSshPublicKey(toString(env.payload));
  if (!key.ok()) return dataLoss("entry " + *app.key + ": " + key.status().message());
  MESHGATE_ASSIGN_OR_RETURN(SshKeyEntry e, makeSshKeyEntry(*key));
  if (e.udf != *app.key) {
    return dataLoss("entry " + *app.key + ": the stored key has fingerprint " + e.udf);
  }
  e.permit = false;
  std::vector<std::string> options;
  for (const auto& label : app.labels) {
    if (label == kPermitLabel) {
      e.permit = true;
    } else if (startsWith(label, kOptionPrefix)) {
      options.push_back(label.substr(kOptionPrefix.size()));
    } else if (startsWith(label, kHostsPrefix)) {
      e.hosts = label.substr(kHostsPrefix.size());
    } else if (startsWith(label, kReasonPrefix)) {
      e.reason = label.substr(kReasonPrefix.size());
    }
  }
  // Re-checked on the way out: the options end up on an authorized_keys line, the hosts on a
  // known_hosts line.
  if (!e.hosts.empty() && !isValidSshHostsPattern(e.hosts)) {
    return dataLoss("entry " + e.udf + ": host pattern \"" + printable(e.hosts) +
                    "\" is not a known_hosts pattern list");
  }
  auto normalized = normalizeSshOptions(options);
  if (!normalized.ok()) return dataLoss("entry " + e.udf + ": " + normalized.status().message());
  e.options = std::move(normalized).value();
  return e;
}

Status putSshKey(Store& store, std::string_view account, std::string_view catalog,
                 const SshKeyEntry& entry, int64_t now) {
  CatalogEntry e;
  e.account = std::string(account);
  e.catalog = std::string(catalog);
  e.key = entry.udf;
  e.data = model::serialize(toCatalogedApplication(entry));
  e.updated = now;
  auto r = store.putEntry(e, std::nullopt);
  return r.ok() ? Status() : r.status();
}

Result<std::vector<SshKeyEntry>> listSshKeys(Store& store, std::string_view account,
                                             std::string_view catalog,
                                             std::vector<std::string>* problems) {
  std::vector<SshKeyEntry> out;
  EntryQuery q;
  q.max_entries = 1000;
  for (;;) {
    MESHGATE_ASSIGN_OR_RETURN(Page<CatalogEntry> page, store.listEntries(account, catalog, q));
    for (const auto& row : page.items) {
      auto app = model::parse<model::CatalogedApplicationSSH>(row.data);
      Result<SshKeyEntry> e = app.ok() ? fromCatalogedApplication(*app)
                                       : Result<SshKeyEntry>(dataLoss(app.status().message()));
      if (!e.ok() && catalog == kSshRevokedCatalog) {
        // A revocation is honoured even when its entry is unreadable: the row key is the
        // fingerprint, and refusing that key is the safe reading.
        SshKeyEntry revoked;
        revoked.udf = row.key;
        revoked.permit = false;
        revoked.reason = "unreadable revocation entry";
        e = revoked;
      }
      if (!e.ok()) {
        if (problems) {
          problems->push_back(std::string(catalog) + " of " +
                              (account.empty() ? std::string("the service") : std::string(account)) +
                              ": " + row.key + ": " + e.status().message());
        }
        continue;
      }
      e->updated = row.updated;
      out.push_back(std::move(e).value());
    }
    if (page.next_page_key.empty()) break;
    q.page_key = page.next_page_key;
  }
  return out;
}

}  // namespace meshgate::adapters
