// mesh_test_world.cc - see mesh_test_world.h.
#include "tests/unit/mesh_service/mesh_test_world.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "gateway/config/config_loader.h"
#include "gateway/mesh/profile.h"
#include "gateway/policy/contact_catalog.h"
#include "policy/store/store_factory.h"

namespace meshgate::meshtest {

namespace model = mesh::model;

namespace {

template <typename T>
T orDie(Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.status().toString());
  return std::move(r).value();
}

void orDie(const Status& st, const char* what) {
  if (!st.ok()) throw std::runtime_error(std::string(what) + ": " + st.toString());
}

model::DateTime at(int64_t t) { return model::DateTime(std::chrono::seconds(t)); }

}  // namespace

mesh::PrivateKey newSigningKey() {
  return orDie(mesh::PrivateKey::generate(mesh::KeyType::kEd25519), "generate");
}

std::string worldYaml(const testing::TempDir& dir, const std::string& admin_pub,
                      const std::string& mesh_extra, const std::string& extra) {
  return "gateway:\n  node: test-node\n  domains: [example.com, example.org]\n  data_dir: " +
         dir.path() + "\n  key_file: " + dir.file("gateway.key") +
         "\nstore:\n  sqlite:\n    path: " + dir.file("store.db") +
         "\nmilter:\n  enabled: false\npolicyd:\n  enabled: false\n"
         "mesh_service:\n  service_name: example.com\n  admin_keys: [" + admin_pub +
         "]\n  replay_window: 5m\n  tls:\n    certificate: " + dir.file("tls/service.crt") +
         "\n    private_key: " + dir.file("tls/service.key") + "\n" + mesh_extra + extra;
}

MeshWorld::MeshWorld(const std::string& mesh_extra_yaml, const std::string& extra_yaml) {
  orDie(mesh::savePublicKeyFile(admin_key_.publicKey(), dir_.file("admin.pub")), "admin.pub");
  service_key_ = std::make_shared<const mesh::PrivateKey>(newSigningKey());
  dir_.write("meshgate.yaml", worldYaml(dir_, dir_.file("admin.pub"), mesh_extra_yaml, extra_yaml));
  auto loaded = config::loadConfigFile(dir_.file("meshgate.yaml"));
  if (!loaded.ok()) {
    std::string all;
    for (const auto& e : loaded.errors) all += e + "\n";
    throw std::runtime_error("test configuration: " + all);
  }
  config_ = loaded.config;
  store_ = orDie(store::openStore(config_->store), "store");
  engine_ = std::make_shared<policy::DecisionEngine>(config_, *store_, clock_);
  auto profile = orDie(mesh::makeServiceProfile(*service_key_, at(kNow)), "service profile");
  service_profile_ = profile.envelope;
  setRemoteSenderVerifier(nullptr);
}

AccountKeys MeshWorld::addAccount(const std::string& address, const std::string& ingress) {
  AccountKeys k{address,         newSigningKey(), newSigningKey(),
                orDie(mesh::PrivateKey::generate(mesh::KeyType::kX25519), "x25519"),
                newSigningKey(), ""};
  auto service = orDie(mesh::makeServiceProfile(*service_key_, at(clock_.now())), "service profile");
  mesh::AccountProfileParams p{{address},
                               k.offline,
                               {k.administration.publicKey()},
                               k.encryption.publicKey(),
                               k.authentication.publicKey(),
                               at(clock_.now())};
  auto profile = orDie(mesh::makeAccountProfile(p, service, *service_key_), "account profile");
  k.profile_udf = profile.udf;
  AccountRecord r;
  r.address = address;
  r.ingress_policy = ingress;
  r.profile_udf = profile.udf;
  r.profile = mesh::serializeDareEnvelope(profile.envelope);
  r.created = r.updated = clock_.now();
  orDie(store_->createAccount(r), "createAccount");
  return k;
}

void MeshWorld::addContact(const std::string& account, const std::string& spec,
                           const std::vector<std::string>& protocols) {
  model::CatalogedContact entry = policy::makeContactEntry(spec, protocols, "");
  CatalogEntry e;
  e.account = account;
  e.catalog = std::string(policy::kContactsCatalog);
  e.key = spec;
  e.data = model::serialize(entry);
  e.updated = clock_.now();
  orDie(store_->putEntry(e, policy::contactMatches(entry)), "putEntry contact");
}

void MeshWorld::setRemoteSenderVerifier(meshsvc::RemoteSenderVerifier verify) {
  startDispatcher(std::move(verify), config_);
}

void MeshWorld::restartDispatcher(std::shared_ptr<const config::Config> config) {
  startDispatcher(nullptr, std::move(config));
}

void MeshWorld::startDispatcher(meshsvc::RemoteSenderVerifier verify,
                                std::shared_ptr<const config::Config> config) {
  meshsvc::DispatcherEnv env;
  env.store = store_.get();
  env.clock = &clock_;
  env.engine = [this] { return engine_; };
  env.service_key = [this] { return service_key_; };
  env.service_profile = [this] { return service_profile_; };
  env.verify_remote_sender = std::move(verify);
  dispatcher_ = std::make_unique<meshsvc::MeshDispatcher>(std::move(env));
  dispatcher_->setSettings(orDie(meshsvc::makeDispatcherSettings(config), "settings"));
}

meshsvc::DispatchResult MeshWorld::dispatch(const std::string& body) {
  return dispatcher_->dispatch(body, {"192.0.2.7"});
}

std::string MeshWorld::signedRequest(const nlohmann::json& request, const mesh::PrivateKey& signer,
                                     std::string nonce, std::optional<int64_t> created,
                                     const std::string& account) const {
  if (nonce.empty()) nonce = meshsvc::newNonce();
  last_nonce_ = nonce;
  meshsvc::RequestMetadata meta;
  meta.unique_id = nonce;
  meta.message_type = request.begin().key();
  meta.created = created.value_or(clock_.now());
  meta.account = account;
  auto env = orDie(meshsvc::sealRequest(model::dumpJson(request), meta, signer), "sealRequest");
  return mesh::serializeDareEnvelope(env);
}

Result<nlohmann::json> MeshWorld::openSigned(const std::string& body,
                                             const std::string& nonce) const {
  return openSignedWith(body, nonce, service_key_->publicKey(), clock_.now());
}

Result<nlohmann::json> MeshWorld::openSignedWith(const std::string& body, const std::string& nonce,
                                                 const mesh::PublicKey& service_key, int64_t now) {
  auto env = mesh::parseDareEnvelope(body);
  if (!env.ok()) return env.status();
  auto opened = meshsvc::openResponse(*env, service_key, nonce, now, 300);
  if (!opened.ok()) return opened.status();
  return model::parseJsonText(opened->payload);
}

void MeshWorld::setServiceKey(const mesh::PrivateKey& key) {
  service_key_ = std::make_shared<const mesh::PrivateKey>(key);
}

int64_t MeshWorld::auditCount() {
  auto records = store_->readAudit(1, 100000);
  return records.ok() ? static_cast<int64_t>(records->size()) : -1;
}

PlainResponse parsePlain(const std::string& body) {
  PlainResponse r;
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || json.size() != 1) return r;
  r.type = json.begin().key();
  r.object = json.begin().value();
  return r;
}

namespace {
mesh::DareEnvelope signedMessage(const model::AnyMessage& message, const std::string& envelope_id,
                                 const mesh::PrivateKey& signer) {
  mesh::DareEnvelope env;
  env.header.envelope_id = envelope_id;
  env.payload = toBytes(model::serialize(message));
  std::vector<mesh::PrivateKey> signers{signer};
  orDie(mesh::signDare(env, signers, /*embed=*/true, /*bind_header=*/true), "signDare");
  return env;
}
}  // namespace

mesh::DareEnvelope makeContactRequestEnvelope(const std::string& envelope_id,
                                              const std::string& sender,
                                              const mesh::PrivateKey& signer) {
  model::RequestContact m;
  m.message_id = "NAAA-" + envelope_id;
  m.sender = sender;
  m.subject = "may I write to you?";
  m.reply = true;
  return signedMessage(model::AnyMessage(m), envelope_id, signer);
}

mesh::DareEnvelope makeMessageEnvelope(const std::string& envelope_id, const std::string& sender,
                                       const mesh::PrivateKey& signer) {
  model::MessageMail m;
  m.message_id = "NAAA-" + envelope_id;
  m.sender = sender;
  m.subject = "hello";
  m.text = "hello from " + sender;
  return signedMessage(model::AnyMessage(m), envelope_id, signer);
}

std::string keyIdentity(const mesh::PrivateKey& key) {
  std::vector<mesh::PublicKey> root{key.publicKey()};
  return orDie(mesh::profileFingerprint(root), "profileFingerprint");
}

}  // namespace meshgate::meshtest
