// NAME
//   runtime.h - what the services of one meshgate process share: the store, the clock and the
//   current DecisionEngine.
//
// DESCRIPTION
//   The Runtime is itself a Service, started first and stopped last by ServiceHost: start()
//   opens the store (creating the data folder), loads the gateway's signing key (creating an
//   Ed25519 key, mode 0600, on first start; refusing a key file readable by others) and builds
//   the engine and the profile resolver; a thread adds the batched rate-limit counts to the
//   store every abuse.flush_interval (and at stop); reload() builds a new engine and resolver from the
//   new configuration and swaps them in (requests in flight keep the ones they started with,
//   through their shared_ptr). Changing store settings needs a restart; reload says so and
//   keeps the open store.
//
// THREAD SAFETY
//   engine() and store() may be called from any thread after start().
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "gateway/mesh/keys.h"
#include "gateway/policy/abuse_counters.h"
#include "gateway/policy/audit_group_commit.h"
#include "gateway/policy/engine.h"
#include "gateway/ports/clock.h"
#include "gateway/ports/profile_resolver.h"
#include "gateway/ports/service.h"
#include "gateway/ports/store.h"

namespace meshgate {

class Runtime : public Service {
 public:
  Runtime() = default;
  ~Runtime() override;

  std::string name() const override { return "store"; }
  Status start(std::shared_ptr<const config::Config> config) override;
  Status reload(std::shared_ptr<const config::Config> config) override;
  void stop() override;

  std::shared_ptr<const policy::DecisionEngine> engine() const;
  std::shared_ptr<const config::Config> config() const;
  Store& store() { return *store_; }
  std::shared_ptr<const mesh::PrivateKey> gatewayKey() const;

  // Signs the audit chain head into a checkpoint now (also done every
  // audit.checkpoint_interval by a background thread). OK and nothing stored when the log is
  // empty or the head is already checkpointed.
  Status checkpointAudit();
  const Clock& clock() const { return clock_; }

  // Appends an audit record, committed together with those of concurrent callers
  // (gateway/policy/audit_group_commit.h); returns once it is durable.
  Result<AuditRecord> appendAudit(const AuditRecord& record);

  // The profile resolver for the current configuration (policy/resolver/resolver.h): the Mesh
  // service verifies other domains' senders with it, the milter finds Mesh recipients.
  std::shared_ptr<ProfileResolver> profileResolver() const;

 private:
  // Called with mutex_ held (start) or not (reload): takes the key rather than locking.
  Result<std::shared_ptr<ProfileResolver>> makeResolver(std::shared_ptr<const config::Config> config,
                                                        const mesh::PublicKey& service_key);

  SystemClock clock_;
  std::unique_ptr<Store> store_;
  mutable std::mutex mutex_;
  std::shared_ptr<const policy::DecisionEngine> engine_;
  std::shared_ptr<const mesh::PrivateKey> gateway_key_;
  std::shared_ptr<ProfileResolver> resolver_;

  // Batched rate-limit counts (abuse.flush_interval), shared by every engine this runtime
  // builds; flushed by counter_flusher_ and once more at stop.
  std::unique_ptr<policy::AbuseCounters> abuse_counters_;
  // Account lookups of the ingress check (store.account_cache_ttl), shared by every engine
  // this runtime builds, like the counters above.
  std::unique_ptr<policy::AccountCache> account_cache_;
  std::unique_ptr<policy::AuditGroupCommit> audit_writer_;
  std::shared_ptr<const policy::DecisionEngine> makeEngine(std::shared_ptr<const config::Config> config);

  std::thread checkpointer_;
  std::thread counter_flusher_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

// Loads the private key at `path`, or creates an Ed25519 key there (and path + ".pub") when
// the file does not exist.
Result<mesh::PrivateKey> loadOrCreateGatewayKey(const std::string& path);

}  // namespace meshgate
