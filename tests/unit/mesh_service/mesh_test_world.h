// NAME
//   mesh_test_world.h - what the Mesh service tests share: a real SQLite store in a temporary
//   folder, a configuration, keys (service, administrator, accounts, devices), accounts with
//   signed profiles, and the client side of the wire format (signed requests, verified
//   responses).
//
// DESCRIPTION
//   MeshWorld builds everything the dispatcher needs from a YAML text (so the configuration
//   goes through the real loader) and a FixedClock. Accounts get real Mesh profiles
//   (mesh::makeAccountProfile: offline key, administration key, encryption and authentication
//   keys), signed by their offline key and countersigned by the service key, as account
//   provisioning stores them. signedRequest() builds what a Mesh client sends; openSigned()
//   checks a response exactly as a client must (service key pinned, bound to the nonce).
//
// THREAD SAFETY
//   One world per test.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/config/config.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"
#include "gateway/policy/engine.h"
#include "gateway/ports/store.h"
#include "meshgate/mesh_model.h"
#include "policy/mesh/mesh_dispatcher.h"
#include "policy/mesh/wire.h"
#include "tests/support/mock_store.h"
#include "tests/support/subprocess.h"

namespace meshgate::meshtest {

inline constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

struct AccountKeys {
  std::string address;
  mesh::PrivateKey offline;
  mesh::PrivateKey administration;
  mesh::PrivateKey encryption;
  mesh::PrivateKey authentication;
  std::string profile_udf;
};

mesh::PrivateKey newSigningKey();

// The YAML of a node serving example.com from `dir`, with `admin_pub` as its one
// administrator key file and its TLS pair in dir (created on first start); `mesh_extra` is
// added to the mesh_service section (lines indented by two spaces), `extra` appended.
std::string worldYaml(const testing::TempDir& dir, const std::string& admin_pub,
                      const std::string& mesh_extra = "", const std::string& extra = "");

class MeshWorld {
 public:
  explicit MeshWorld(const std::string& mesh_extra_yaml = "", const std::string& extra_yaml = "");

  // The account with a real profile (ingress "" = the configured default).
  AccountKeys addAccount(const std::string& address, const std::string& ingress = "");
  // Adds `spec` ("bob@example.net", "@example.net", "udf:MB...") to the account's contacts.
  void addContact(const std::string& account, const std::string& spec,
                  const std::vector<std::string>& protocols = {"*"});

  meshsvc::DispatchResult dispatch(const std::string& body);

  // A request body signed by `signer`: {"DareEnvelope":[...]} with nonce and Created.
  std::string signedRequest(const nlohmann::json& request, const mesh::PrivateKey& signer,
                            std::string nonce = "", std::optional<int64_t> created = {},
                            const std::string& account = "") const;
  // The tagged response JSON of a signed response, verified against the service key and bound
  // to `nonce`; an error result when it does not verify.
  Result<nlohmann::json> openSigned(const std::string& body, const std::string& nonce) const;
  // The same against another service key (the real binary's gateway key).
  static Result<nlohmann::json> openSignedWith(const std::string& body, const std::string& nonce,
                                               const mesh::PublicKey& service_key, int64_t now);
  // Profiles made from now on are countersigned by `key` (the real binary's gateway key).
  void setServiceKey(const mesh::PrivateKey& key);

  // The nonce of the last signedRequest().
  const std::string& lastNonce() const { return last_nonce_; }

  Store& store() { return *store_; }
  testing::FixedClock& clock() { return clock_; }
  const config::Config& config() const { return *config_; }
  std::shared_ptr<const config::Config> configPtr() const { return config_; }
  const mesh::PrivateKey& serviceKey() const { return *service_key_; }
  std::shared_ptr<const mesh::PrivateKey> serviceKeyPtr() const { return service_key_; }
  std::shared_ptr<const policy::DecisionEngine> engine() const { return engine_; }
  const mesh::PrivateKey& adminKey() const { return admin_key_; }
  const testing::TempDir& dir() const { return dir_; }
  meshsvc::MeshDispatcher& dispatcher() { return *dispatcher_; }
  // The dispatcher from now on asks `verify` about senders in other domains (as the resolver
  // does in the service); null (as at construction) = none.
  void setRemoteSenderVerifier(meshsvc::RemoteSenderVerifier verify);
  // A new dispatcher on the same store, with `config`'s settings: the service restarted.
  void restartDispatcher(std::shared_ptr<const config::Config> config);
  int64_t auditCount();

 private:
  void startDispatcher(meshsvc::RemoteSenderVerifier verify,
                       std::shared_ptr<const config::Config> config);

  testing::TempDir dir_;
  testing::FixedClock clock_{kNow};
  mesh::PrivateKey admin_key_ = newSigningKey();
  std::shared_ptr<const mesh::PrivateKey> service_key_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const policy::DecisionEngine> engine_;
  std::optional<mesh::DareEnvelope> service_profile_;
  std::unique_ptr<meshsvc::MeshDispatcher> dispatcher_;
  mutable std::string last_nonce_;
};

// Parses a plain (unsigned) response body: {"XResponse":{...}} -> the tag and the object.
struct PlainResponse {
  std::string type;
  nlohmann::json object;
};
PlainResponse parsePlain(const std::string& body);

// A RequestContact from `sender`, signed (header-bound, key embedded) by `signer`.
mesh::DareEnvelope makeContactRequestEnvelope(const std::string& envelope_id,
                                              const std::string& sender,
                                              const mesh::PrivateKey& signer);
// A Mesh Message (MessageMail with a Subject and Text from `sender`) in a DARE envelope with an
// EnvelopeId, signed by `signer` with its key embedded, as another service would Post it.
mesh::DareEnvelope makeMessageEnvelope(const std::string& envelope_id, const std::string& sender,
                                       const mesh::PrivateKey& signer);

// A service request {"TYPE": fields} for the portal example.com, as a client sends it.
inline nlohmann::json portalRequest(const std::string& type,
                                    nlohmann::json fields = nlohmann::json::object()) {
  fields["Portal"] = "example.com";
  return nlohmann::json{{type, fields}};
}

// The profile fingerprint of a single signing key (the identity Post records for a signer).
std::string keyIdentity(const mesh::PrivateKey& key);

}  // namespace meshgate::meshtest
