// resolver.cc - see resolver.h. The cache and the lookup sharing live in CachingResolver; the
// checks a remote answer goes through are the free functions profileFromGetResponse and
// verifyResolvedProfile, so the tests reach them without a network.
#include "policy/resolver/resolver.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "gateway/mesh/profile.h"
#include "gateway/mesh/udf.h"
#include "gateway/ports/deadline.h"
#include "gateway/util/log.h"
#include "gateway/util/metrics.h"
#include "gateway/util/strings.h"
#include "meshgate/mesh_model.h"

namespace meshgate::resolver {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr int kMeshOk = 201;  // the Mesh service's success Status (reference implementation)

mesh::model::DateTime toDateTime(int64_t seconds) {
  return mesh::model::DateTime(std::chrono::seconds(seconds));
}

int64_t ttlSeconds(milliseconds ttl) { return std::max<int64_t>(1, (ttl.count() + 999) / 1000); }

// "bob@example.net" -> lower case; the domain must be non-empty and the local part too.
Result<std::string> normalizeAddress(std::string_view in) {
  std::string address = toLowerAscii(trimWhitespace(in));
  const size_t at = address.rfind('@');
  if (address.empty() || address.size() > 320 || at == std::string::npos || at == 0 ||
      at + 1 == address.size()) {
    return invalidArgument("\"" + log::sanitize(std::string(in)) +
                           "\" is not an address (expected user@domain)");
  }
  for (unsigned char c : address) {
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '\\') {
      return invalidArgument("\"" + log::sanitize(std::string(in)) +
                             "\" is not an address (control character, space or slash)");
    }
  }
  return address;
}

// Errors that say "could not find out now" (kept for failure_ttl), as opposed to answers
// ("no profile", "refused profile", kept for negative_ttl).
bool isTransientFailure(StatusCode code) {
  switch (code) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnauthenticated:  // a certificate problem is fixed by an operator
    case StatusCode::kResourceExhausted:
    case StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

// The Mesh service's answer other than OK, as a Status of ours.
Status statusFromService(int mesh_status, const std::string& description, const std::string& where) {
  const std::string text = where + " answered " + std::to_string(mesh_status) +
                           (description.empty() ? "" : " (" + log::sanitize(description) + ")");
  if (mesh_status == 404) return notFound(text);
  if (mesh_status == 408 || mesh_status == 429) return unavailable(text);
  if (mesh_status >= 500) return unavailable(text);
  if (mesh_status >= 400) return invalidArgument(text);
  return unavailable(text + ": not a Mesh service answer");
}

std::optional<std::string> udfKey(const std::optional<std::string>& key) {
  if (!key) return std::nullopt;
  Result<std::string> canonical = mesh::canonicalUdf(*key);
  if (!canonical.ok()) return std::nullopt;  // an address or another label, not a fingerprint
  return *key;
}

// The envelope a DataItem carries (Envelope, or Data holding the envelope's text). Whether it
// is a ProfileAccount is for verification to say: a tampered one must be refused, not skipped.
std::optional<mesh::DareEnvelope> envelopeOf(const mesh::model::DataItem& item) {
  if (item.envelope) return item.envelope;
  if (item.data) {
    Result<mesh::DareEnvelope> parsed = mesh::parseDareEnvelope(toString(*item.data));
    if (parsed.ok()) return std::move(parsed).value();
  }
  return std::nullopt;
}

// ---- The resolver --------------------------------------------------------------------------

struct CacheEntry {
  std::shared_ptr<const ResolvedProfile> profile;  // set, or `status` is the answer
  Status status;
  int64_t expires = 0;  // Clock seconds
};

// One lookup in progress; later callers for the same address wait for it.
struct Pending {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  // The lookup ran out of its leader's budget, shorter than resolver.total_timeout: not an
  // answer about the address, so a waiter with time left asks again rather than take it.
  bool cut_short = false;
  std::shared_ptr<const ResolvedProfile> profile;
  Status status;
};

// When a cached answer stops being true: after `ttl`, and for a profile no later than the
// first of its keys to expire (a key past its NotOnOrAfter must not keep being used).
int64_t cacheExpiry(int64_t now, milliseconds ttl, const ResolvedProfile* profile) {
  int64_t expires = now + ttlSeconds(ttl);
  if (profile != nullptr && profile->valid_until > 0)
    expires = std::min(expires, profile->valid_until);
  return expires;
}

// The first NotOnOrAfter, after `now`, among the keys of the account profile and of the
// service profile that countersigned it: each was checked for validity, so the answer holds
// until the first of them expires. Keys already expired were not relied on.
int64_t firstKeyExpiry(const mesh::model::ProfileAccount& account,
                       const mesh::model::ProfileService& service, int64_t now) {
  int64_t first = 0;
  auto consider = [&](const std::optional<mesh::model::KeyData>& key) {
    if (!key || !key->not_on_or_after) return;
    const int64_t t = key->not_on_or_after->time_since_epoch().count();
    if (t > now && (first == 0 || t < first)) first = t;
  };
  for (const mesh::model::Profile* p : {static_cast<const mesh::model::Profile*>(&account),
                                        static_cast<const mesh::model::Profile*>(&service)}) {
    consider(p->key_offline_signature);
    for (const auto& k : p->keys_online_signature) consider(k);
  }
  consider(account.key_encryption);
  consider(account.key_authentication);
  consider(service.key_encryption);
  consider(service.key_authentication);
  return first;
}

struct LocalEntry {
  std::string text;  // the stored envelope text it was verified from
  std::shared_ptr<const ResolvedProfile> profile;
  int64_t expires = 0;
};

class CachingResolver : public ProfileResolver {
 public:
  explicit CachingResolver(ResolverDeps deps) : deps_(std::move(deps)) {}

  Result<std::shared_ptr<const ResolvedProfile>> resolve(std::string_view address_in) override {
    MESHGATE_ASSIGN_OR_RETURN(std::string address, normalizeAddress(address_in));
    const std::string domain = addressDomain(address);
    if (deps_.config->isLocalDomain(domain)) return resolveLocal(address);
    return resolveRemote(address, domain);
  }

  void invalidate(std::string_view address_in) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (address_in.empty()) {
      cache_.clear();
      local_.clear();
      return;
    }
    const std::string address = toLowerAscii(address_in);
    cache_.erase(address);
    local_.erase(address);
  }

 private:
  const config::ResolverSection& settings() const { return deps_.config->resolver; }

  Result<std::shared_ptr<const ResolvedProfile>> resolveLocal(const std::string& address) {
    Result<AccountRecord> record = deps_.store->getAccount(address);
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) {
        return notFound(address + ": no such local account");
      }
      return record.status().withContext("reading account " + address);
    }
    if (record->profile.empty()) {
      return notFound(address + ": the local account has no Mesh profile (meshgate account "
                                "provision " + address + " gives it one)");
    }
    const int64_t now = deps_.clock->now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = local_.find(address);
      if (it != local_.end() && it->second.text == record->profile && now < it->second.expires) {
        metrics::countCacheLookup("resolver-local", true);
        return it->second.profile;
      }
    }
    metrics::countCacheLookup("resolver-local", false);
    Result<mesh::DareEnvelope> envelope = mesh::parseDareEnvelope(record->profile);
    if (!envelope.ok()) {
      return dataLoss(address + ": the stored profile is unreadable: " +
                      envelope.status().message());
    }
    if (!deps_.service_key) {
      return failedPrecondition(address + ": cannot check a local profile without the gateway "
                                          "key (gateway.key_file)");
    }
    std::optional<std::string> expected;
    if (!record->profile_udf.empty()) expected = record->profile_udf;
    Result<std::shared_ptr<const ResolvedProfile>> verified =
        verifyResolvedProfile(address, *envelope, expected, now, deps_.service_key);
    if (!verified.ok()) {
      log::warning("resolver: local profile of %s refused: %s", address.c_str(),
                   verified.status().toString().c_str());
      return verified.status();
    }
    auto profile = std::make_shared<ResolvedProfile>(**verified);
    profile->source = ProfileSource::kLocalStore;
    profile->origin = "store";
    std::lock_guard<std::mutex> lock(mutex_);
    makeRoom();
    local_[address] = {record->profile, profile,
                       cacheExpiry(now, settings().cache_ttl, profile.get())};
    return std::shared_ptr<const ResolvedProfile>(profile);
  }

  Result<std::shared_ptr<const ResolvedProfile>> resolveRemote(const std::string& address,
                                                                const std::string& domain) {
    for (;;) {
      std::shared_ptr<Pending> pending;
      bool leader = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        const int64_t now = deps_.clock->now();
        auto it = cache_.find(address);
        if (it != cache_.end()) {
          if (now < it->second.expires) {
            metrics::countCacheLookup("resolver", true);
            if (it->second.profile) return it->second.profile;
            return it->second.status;
          }
          cache_.erase(it);
        }
        metrics::countCacheLookup("resolver", false);
        auto p = pending_.find(address);
        if (p != pending_.end()) {
          pending = p->second;
        } else {
          pending = std::make_shared<Pending>();
          pending_[address] = pending;
          leader = true;
        }
      }
      const milliseconds budget = Deadline::remaining(settings().total_timeout);
      if (leader) return lead(address, domain, budget, *pending);
      // Someone else is asking already: wait for that answer, within our own budget.
      std::unique_lock<std::mutex> lock(pending->mutex);
      if (!pending->done_cv.wait_for(lock, budget, [&] { return pending->done; })) {
        return deadlineExceeded(address + ": the lookup under way did not finish within " +
                                std::to_string(budget.count()) + " ms");
      }
      if (pending->profile) return pending->profile;
      // The leader's own budget ran out: ask again with ours, if any is left.
      if (pending->cut_short && Deadline::remaining(settings().total_timeout).count() > 0) continue;
      return pending->status;
    }
  }

  // The one lookup for `address` that others wait on: asks, caches the answer (unless the
  // caller's budget cut it short), and hands it to the waiters.
  Result<std::shared_ptr<const ResolvedProfile>> lead(const std::string& address,
                                                      const std::string& domain,
                                                      milliseconds budget, Pending& pending) {
    const auto deadline = SteadyClock::now() + budget;
    Result<std::shared_ptr<const ResolvedProfile>> result = lookUpRemote(address, domain, deadline);
    // A failure when the caller's budget (shorter than total_timeout) ran out says nothing
    // about the service: remembering it for failure_ttl would fail every other caller too.
    const bool cut_short = !result.ok() && isTransientFailure(result.status().code()) &&
                           budget < settings().total_timeout && SteadyClock::now() >= deadline;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!cut_short) {
        const int64_t now = deps_.clock->now();
        CacheEntry entry;
        if (result.ok()) {
          entry.profile = *result;
          entry.expires = cacheExpiry(now, settings().cache_ttl, result->get());
        } else {
          entry.status = result.status();
          const milliseconds ttl = isTransientFailure(result.status().code())
                                       ? settings().failure_ttl
                                       : std::min(settings().negative_ttl, settings().cache_ttl);
          entry.expires = cacheExpiry(now, ttl, nullptr);
        }
        makeRoom();
        cache_[address] = std::move(entry);
      }
      pending_.erase(address);
    }
    {
      std::lock_guard<std::mutex> lock(pending.mutex);
      pending.done = true;
      pending.cut_short = cut_short;
      if (result.ok()) {
        pending.profile = *result;
      } else {
        pending.status = result.status();
      }
    }
    pending.done_cv.notify_all();
    if (result.ok()) {
      log::info("resolver: %s -> profile %s from %s", address.c_str(), (*result)->udf.c_str(),
                (*result)->origin.c_str());
    } else {
      log::info("resolver: %s -> %s%s", address.c_str(), result.status().toString().c_str(),
                cut_short ? " (the caller's time ran out; not cached)" : "");
    }
    return result;
  }

  Result<std::shared_ptr<const ResolvedProfile>> lookUpRemote(const std::string& address,
                                                               const std::string& domain,
                                                               MeshClient::Deadline deadline) {
    auto left = [&] {
      return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(
                                           deadline - SteadyClock::now()));
    };
    Result<std::vector<ServiceEndpoint>> endpoints =
        deps_.locator->locate(domain, std::min(settings().dns_timeout, left()));
    if (!endpoints.ok()) return endpoints.status().withContext(address);
    const std::string body = getRequestBody(address);
    Status last = deadlineExceeded(address + ": no time left to ask " + domain + "'s service");
    for (const ServiceEndpoint& endpoint : *endpoints) {
      if (left().count() == 0) break;
      Result<MeshReply> reply = deps_.client->post(endpoint, domain, body, deadline);
      if (!reply.ok()) {
        Status st = reply.status();
        if (st.code() == StatusCode::kNotFound) {
          // The host of a fallback mmm.<domain> does not exist: the domain has no service.
          st = notFound(domain + " has no Mesh service (" + endpoint.found_by + ": " +
                        st.message() + ")");
        }
        last = st.withContext(address);
        continue;  // the next SRV target, if any
      }
      const std::string where = endpoint.url() + " (" + endpoint.found_by + ")";
      Result<std::shared_ptr<const ResolvedProfile>> profile =
          profileFromGetResponse(address, reply->http_status, reply->body, deps_.clock->now());
      if (!profile.ok()) {
        if (profile.status().code() == StatusCode::kNotFound) return profile.status();
        return profile.status().withContext(address + " from " + where);
      }
      auto out = std::make_shared<ResolvedProfile>(**profile);
      out->source = ProfileSource::kMeshService;
      out->origin = where;
      return std::shared_ptr<const ResolvedProfile>(out);
    }
    return last;
  }

  // Called with mutex_ held, before an insert.
  void makeRoom() {
    const size_t limit = static_cast<size_t>(std::max(1, settings().max_cache_entries));
    if (cache_.size() + local_.size() < limit) return;
    const int64_t now = deps_.clock->now();
    std::erase_if(cache_, [now](const auto& kv) { return kv.second.expires <= now; });
    std::erase_if(local_, [now](const auto& kv) { return kv.second.expires <= now; });
    // Still full: drop arbitrary entries (each is only a cached answer; it is asked again).
    while (cache_.size() + local_.size() >= limit) {
      if (!cache_.empty()) {
        cache_.erase(cache_.begin());
      } else if (!local_.empty()) {
        local_.erase(local_.begin());
      } else {
        break;
      }
    }
  }

  ResolverDeps deps_;
  std::mutex mutex_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::unordered_map<std::string, LocalEntry> local_;
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending_;
};

}  // namespace

std::string getRequestBody(std::string_view address) {
  mesh::model::GetRequest request;
  request.account = std::string(address);
  return mesh::model::serialize(request);
}

Result<std::shared_ptr<const ResolvedProfile>> verifyResolvedProfile(
    std::string_view address, const mesh::DareEnvelope& envelope,
    const std::optional<std::string>& expected_udf, int64_t now,
    const std::optional<mesh::PublicKey>& service_key) {
  const mesh::ProfileCheck check{.now = toDateTime(now), .expected_udf = expected_udf};
  Result<mesh::model::ProfileAccount> payload =
      mesh::assertionPayload<mesh::model::ProfileAccount>(envelope);
  if (!payload.ok()) return payload.status();
  if (!payload->enveloped_profile_service) {
    return permissionDenied("ProfileAccount carries no EnvelopedProfileService, so its "
                            "service's countersignature cannot be checked");
  }
  Result<mesh::VerifiedProfile<mesh::model::ProfileService>> service = mesh::verifyServiceProfile(
      *payload->enveloped_profile_service, mesh::ProfileCheck{.now = toDateTime(now)});
  if (!service.ok()) return service.status().withContext("ProfileAccount.EnvelopedProfileService");
  if (service_key) {
    const std::vector<mesh::PublicKey> root{*service_key};
    MESHGATE_ASSIGN_OR_RETURN(std::string own, mesh::profileFingerprint(root));
    Result<std::string> own_canonical = mesh::canonicalUdf(own);
    Result<std::string> theirs = mesh::canonicalUdf(service->udf);
    if (!own_canonical.ok() || !theirs.ok() || *own_canonical != *theirs) {
      return permissionDenied("the profile is countersigned by the service " + service->udf +
                              ", not by this gateway (" + own + ", gateway.key_file)");
    }
  }
  Result<mesh::VerifiedProfile<mesh::model::ProfileAccount>> verified =
      mesh::verifyAccountProfile(envelope, check, &*service);
  if (!verified.ok()) return verified.status();
  MESHGATE_RETURN_IF_ERROR(mesh::checkListsAddress(verified->profile, address));
  Result<mesh::PublicKey> encryption =
      mesh::publicKeyOf(*verified->profile.key_encryption, "ProfileAccount.KeyEncryption");
  if (!encryption.ok()) return encryption.status();
  std::optional<mesh::PublicKey> signing_service;
  if (service->profile.key_offline_signature) {
    auto k = mesh::publicKeyOf(*service->profile.key_offline_signature,
                               "ProfileService.KeyOfflineSignature");
    if (k.ok()) signing_service = std::move(k).value();
  }
  const int64_t valid_until = firstKeyExpiry(verified->profile, service->profile, now);
  auto out = std::make_shared<ResolvedProfile>(
      ResolvedProfile{.address = toLowerAscii(address),
                      .udf = verified->udf,
                      .profile = std::move(verified->profile),
                      .envelope = envelope,
                      .encryption_key = std::move(encryption).value(),
                      .signer_kid = verified->signer_kid,
                      .service_udf = service->udf,
                      .service_key = std::move(signing_service),
                      .source = ProfileSource::kMeshService,
                      .origin = "",
                      .resolved_at = now,
                      .valid_until = valid_until});
  return std::shared_ptr<const ResolvedProfile>(out);
}

Result<std::shared_ptr<const ResolvedProfile>> profileFromGetResponse(std::string_view address,
                                                                      int http_status,
                                                                      std::string_view body,
                                                                      int64_t now) {
  const std::string where = "the Mesh service";
  Result<nlohmann::json> json =
      mesh::model::parseJsonText(body, mesh::model::ParseLimits{.max_bytes = body.size() + 1});
  if (!json.ok() || !json->is_object() || json->size() != 1) {
    if (http_status != kMeshOk) return statusFromService(http_status, "", where);
    return invalidArgument(where + " sent a body that is not a Mesh response (HTTP " +
                           std::to_string(http_status) + ")");
  }
  const std::string tag = json->begin().key();
  const nlohmann::json& inner = json->begin().value();
  if (tag != "GetResponse") {
    // An error answer: {"MeshResponse":{"Status":404,...}} (or another type naming one).
    Result<mesh::model::MeshResponse> generic =
        mesh::model::fromJson<mesh::model::MeshResponse>(inner, tag);
    int status = http_status;
    std::string description;
    if (generic.ok()) {
      if (generic->status) status = static_cast<int>(*generic->status);
      description = generic->status_description.value_or("");
    }
    if (status == kMeshOk) {
      return invalidArgument(where + " answered a GetRequest with " + log::sanitize(tag));
    }
    return statusFromService(status, description, where);
  }
  Result<mesh::model::GetResponse> response =
      mesh::model::fromJson<mesh::model::GetResponse>(inner, "GetResponse");
  if (!response.ok()) {
    return invalidArgument(where + " sent a malformed GetResponse: " +
                           response.status().message());
  }
  // The payload's Status is authoritative (MESH-FORMATS 4).
  const int status = response->status ? static_cast<int>(*response->status) : http_status;
  if (status != kMeshOk) {
    return statusFromService(status, response->status_description.value_or(""), where);
  }
  for (const mesh::model::DataItem& item : response->data_items) {
    std::optional<mesh::DareEnvelope> envelope = envelopeOf(item);
    if (!envelope) continue;
    return verifyResolvedProfile(address, *envelope, udfKey(item.key), now, std::nullopt);
  }
  return invalidArgument(where + " returned no enveloped profile for " + std::string(address));
}

Result<std::unique_ptr<ProfileResolver>> makeProfileResolver(ResolverDeps deps) {
  if (!deps.config || deps.store == nullptr || deps.clock == nullptr) {
    return invalidArgument("resolver: configuration, store and clock are required");
  }
  if (!deps.locator) deps.locator = makeServiceLocator(deps.config->resolver);
  if (!deps.client) {
    Result<std::shared_ptr<MeshClient>> client = MeshClient::create(deps.config->resolver);
    if (!client.ok()) return client.status();
    deps.client = std::move(client).value();
  }
  return std::unique_ptr<ProfileResolver>(new CachingResolver(std::move(deps)));
}

}  // namespace meshgate::resolver
