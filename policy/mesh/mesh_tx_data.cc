// mesh_tx_data.cc - Get and Publish (seed 3.9, 3.10).
//
// Get by Account returns the account's enveloped profile: public (the resolver of another
// domain calls it without credentials) and self-authenticating (the profile is signed by its
// owner and countersigned by this service). Get by Identifier looks in the service's
// publications, then among the accounts' profile fingerprints. Get with KeyValues reads one of
// an account's catalogs and needs that account's (or an administrator's) signature.
#include <algorithm>

#include "gateway/mesh/udf.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "policy/mesh/dispatcher_internal.h"

namespace meshgate::meshsvc {
namespace {

constexpr int64_t kProfileIndexTtl = 60;  // seconds

Result<model::DataItem> profileItem(const AccountRecord& account) {
  if (account.profile.empty()) {
    return notFound("account " + account.address + " has no published profile");
  }
  auto envelope = mesh::parseDareEnvelope(account.profile);
  if (!envelope.ok()) {
    log::error("mesh: stored profile of %s is unreadable: %s", account.address.c_str(),
               envelope.status().toString().c_str());
    return dataLoss("the stored profile is unreadable");
  }
  model::DataItem item;
  item.key = account.address;
  item.updated = toDateTime(account.updated);
  item.envelope = std::move(envelope).value();
  return item;
}

Result<std::shared_ptr<const std::unordered_map<std::string, std::string>>> profileIndex(Call& call) {
  std::lock_guard<std::mutex> lock(call.state.index_mutex);
  if (call.state.profile_index && call.now - call.state.profile_index_time < kProfileIndexTtl &&
      call.now >= call.state.profile_index_time) {
    return call.state.profile_index;
  }
  auto accounts = call.store().listAccounts();
  if (!accounts.ok()) return accounts.status();
  auto index = std::make_shared<std::unordered_map<std::string, std::string>>();
  for (const AccountRecord& a : *accounts) {
    if (a.profile_udf.empty()) continue;
    auto canonical = mesh::canonicalUdf(a.profile_udf);
    if (canonical.ok()) index->emplace(*canonical, a.address);
  }
  call.state.profile_index = index;
  call.state.profile_index_time = call.now;
  return call.state.profile_index;
}

Result<nlohmann::json> getCatalog(Call& call, const model::GetRequest& request) {
  MESHGATE_ASSIGN_OR_RETURN(std::string account,
                            localAccountAddress(call, request.account, "GetRequest.Account"));
  std::string catalog, key;
  for (const model::KeyValue& kv : request.key_values) {
    const std::string name = kv.key.value_or("");
    const std::string value = kv.value.value_or("");
    if (name == "Catalog") {
      if (!isCatalogName(value)) {
        return invalidArgument("GetRequest.KeyValues: Catalog must be a catalog name such as "
                               "\"contacts\"");
      }
      catalog = value;
    } else if (name == "Key") {
      if (!isEntryKey(value)) return invalidArgument("GetRequest.KeyValues: malformed Key");
      key = value;
    } else {
      return invalidArgument("GetRequest.KeyValues: unknown key \"" +
                             model::detail::quoteForError(name) +
                             "\" (this service knows Catalog and Key)");
    }
  }
  if (catalog.empty()) return invalidArgument("GetRequest.KeyValues: Catalog is required");
  MESHGATE_ASSIGN_OR_RETURN(EntryQuery query, entryQueryFrom(request.search_constraints));
  MESHGATE_RETURN_IF_ERROR(requireAccount(call, account));
  // "held" is the quarantine: what it holds reaches the account only when an administrator
  // releases it, so the account's own keys and devices do not read it either.
  if (catalog == kHeldCatalog && call.principal.rfind("admin:", 0) != 0) {
    return permissionDenied(
        "the held catalog is the quarantine; an administrator releases its "
        "messages (meshgate quarantine mesh release)");
  }
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  model::GetResponse r;
  auto toItem = [](const CatalogEntry& e) {
    model::DataItem item;
    item.key = e.key;
    item.updated = toDateTime(e.updated);
    item.data = toBytes(e.data);
    return item;
  };
  if (!key.empty()) {
    auto entry = call.store().getEntry(account, catalog, key);
    if (!entry.ok()) return entry.status();
    r.data_items.push_back(toItem(*entry));
    return model::toJson(r);
  }
  auto page = call.store().listEntries(account, catalog, query);
  if (!page.ok()) return page.status();
  for (const CatalogEntry& e : page->items) r.data_items.push_back(toItem(e));
  std::string next = meshPageKey(query, page->next_page_key);
  if (!next.empty()) r.page_key = next;
  return model::toJson(r);
}

}  // namespace

Result<nlohmann::json> handleGet(Call& call, const model::GetRequest& request) {
  if (!request.key_values.empty()) return getCatalog(call, request);
  model::GetResponse r;
  if (request.account) {
    MESHGATE_ASSIGN_OR_RETURN(std::string account,
                              localAccountAddress(call, request.account, "GetRequest.Account"));
    MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
    auto record = call.store().getAccount(account);
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) {
        return notFound("no account " + account);
      }
      return record.status();
    }
    MESHGATE_ASSIGN_OR_RETURN(model::DataItem item, profileItem(*record));
    r.data_items.push_back(std::move(item));
    return model::toJson(r);
  }
  if (request.identifier) {
    const std::string& id = *request.identifier;
    if (!isEntryKey(id)) return invalidArgument("GetRequest.Identifier: malformed");
    MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
    // An account's profile fingerprint names that profile first: what an account published
    // under someone else's fingerprint must not be served as their profile.
    auto canonical = mesh::canonicalUdf(id);
    if (canonical.ok()) {
      MESHGATE_ASSIGN_OR_RETURN(auto index, profileIndex(call));
      auto it = index->find(*canonical);
      if (it != index->end()) {
        auto record = call.store().getAccount(it->second);
        if (record.ok() && !record->profile.empty()) {
          MESHGATE_ASSIGN_OR_RETURN(model::DataItem item, profileItem(*record));
          r.data_items.push_back(std::move(item));
          return model::toJson(r);
        }
        if (!record.ok() && record.status().code() != StatusCode::kNotFound) {
          return record.status();
        }
      }
    }
    auto published = call.store().getEntry("", kPublicationsCatalog, id);
    if (published.ok()) {
      auto json = model::parseJsonText(published->data);
      if (!json.ok() || !json->is_object() || !json->contains("DataItem")) {
        return dataLoss("stored publication is unreadable");
      }
      auto item = model::fromJson<model::DataItem>((*json)["DataItem"], "DataItem");
      if (!item.ok()) return dataLoss("stored publication: " + item.status().message());
      r.data_items.push_back(std::move(item).value());
      return model::toJson(r);
    }
    if (published.status().code() != StatusCode::kNotFound) return published.status();
    return notFound("nothing is published under that identifier");
  }
  return invalidArgument("GetRequest needs Account, Identifier or KeyValues");
}

Result<nlohmann::json> handlePublish(Call& call, const model::PublishRequest& request) {
  MESHGATE_RETURN_IF_ERROR(requireSigned(call, "PublishRequest"));
  if (!request.entry) return invalidArgument("PublishRequest.Entry is required");
  model::DataItem item = *request.entry;
  if (!item.key || !isEntryKey(*item.key)) {
    return invalidArgument("PublishRequest.Entry.Key: 1 to 256 printable characters required");
  }
  if (!item.data && !item.envelope) {
    return invalidArgument("PublishRequest.Entry: Data or Envelope is required");
  }
  // On whose behalf: an administrator, or the account the request's metadata names.
  std::string publisher = "admin";
  if (!requireAdmin(call).ok()) {
    const std::string& named = call.signed_request->meta.account;
    if (named.empty()) {
      return unauthenticated("not signed by an administrator key, and the request names no "
                             "account (ContentMetaData.Account) to publish for");
    }
    MESHGATE_ASSIGN_OR_RETURN(publisher,
                              localAccountAddress(call, named, "ContentMetaData.Account"));
    MESHGATE_RETURN_IF_ERROR(requireAccount(call, publisher));
  }
  MESHGATE_RETURN_IF_ERROR(consumeNonce(call));
  auto existing = call.store().getEntry("", kPublicationsCatalog, *item.key);
  if (existing.ok()) {
    auto json = model::parseJsonText(existing->data);
    std::string owner;
    if (json.ok() && json->is_object() && json->contains("Publisher") &&
        (*json)["Publisher"].is_string()) {
      owner = (*json)["Publisher"].get<std::string>();
    }
    if (owner != publisher && publisher != "admin") {
      return alreadyExists("another account published under this key");
    }
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  item.updated = toDateTime(call.now);
  nlohmann::json stored = {{"DataItem", model::toJson(item)}, {"Publisher", publisher}};
  MESHGATE_RETURN_IF_ERROR(auditChange(call, "publish", publisher == "admin" ? "" : publisher,
                                       {{"key", *item.key}}));
  CatalogEntry entry;
  entry.catalog = std::string(kPublicationsCatalog);
  entry.key = *item.key;
  entry.data = model::dumpJson(stored);
  entry.updated = call.now;
  auto put = call.store().putEntry(entry, std::nullopt);
  if (!put.ok()) {
    auditFailed(call, "publish", publisher, put.status());
    return put.status();
  }
  return model::toJson(model::PublishResponse{});
}

}  // namespace meshgate::meshsvc
