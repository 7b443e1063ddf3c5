// The Mesh service's dispatcher, per transaction and per error, against a real SQLite store:
// what each transaction answers, who may call it, and that a refused request changes nothing
// (no account, no entry, no audit record, not even its nonce).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "gateway/mesh/profile.h"
#include "gateway/policy/audit_checkpoint.h"
#include "gateway/ports/deadline.h"
#include "policy/mesh/status_table.h"
#include "tests/unit/mesh_service/mesh_test_world.h"

namespace meshgate::meshtest {
namespace {

using nlohmann::json;
namespace model = mesh::model;

// Status of a plain response, checking that the HTTP status mirrors the payload's.
int plainStatus(const meshsvc::DispatchResult& r) {
  PlainResponse p = parsePlain(r.body);
  EXPECT_FALSE(p.type.empty()) << r.body;
  EXPECT_EQ(p.object.value("Status", -1), r.status) << r.body;
  return r.status;
}

class Dispatcher : public ::testing::Test {
 protected:
  // Dispatches a signed request and returns the verified response object (tag checked).
  json signedCall(const json& request, const mesh::PrivateKey& signer, int expect_status,
                  const std::string& account_meta = "") {
    const std::string body =
        world_.signedRequest(request, signer, "", std::nullopt, account_meta);
    const std::string nonce = world_.lastNonce();
    meshsvc::DispatchResult r = world_.dispatch(body);
    EXPECT_EQ(r.status, expect_status) << r.body;
    auto opened = world_.openSigned(r.body, nonce);
    EXPECT_TRUE(opened.ok()) << opened.status().toString() << "\n" << r.body;
    if (!opened.ok()) return json();
    EXPECT_EQ(opened->size(), 1u);
    const json& inner = opened->begin().value();
    EXPECT_EQ(inner.value("Status", -1), expect_status) << *opened;
    return inner;
  }

  json plainCall(const json& request, int expect_status, std::string expect_type = "") {
    meshsvc::DispatchResult r = world_.dispatch(request.dump());
    EXPECT_EQ(r.status, expect_status) << r.body;
    PlainResponse p = parsePlain(r.body);
    EXPECT_EQ(p.object.value("Status", -1), expect_status) << r.body;
    if (!expect_type.empty()) {
      EXPECT_EQ(p.type, expect_type) << r.body;
    }
    return p.object;
  }

  bool accountExists(const std::string& a) { return world_.store().getAccount(a).ok(); }

  // An administrator's CreateRequest for `account` (signed with Created = `created`, default
  // now).
  std::string createBody(const std::string& account, std::optional<int64_t> created = {}) {
    return world_.signedRequest(portalRequest("CreateRequest", {{"Account", account}}),
                                world_.adminKey(), "", created);
  }
  // A create request that was accepted and whose account is gone again: a replay of it shows
  // by the account coming back.
  std::string acceptedThenUndone(const std::string& account, std::optional<int64_t> created = {}) {
    const std::string body = createBody(account, created);
    EXPECT_EQ(world_.dispatch(body).status, 201);
    EXPECT_TRUE(world_.store().deleteAccount(account).ok());
    return body;
  }
  // The world's configuration with another replay window.
  std::shared_ptr<config::Config> withReplayWindow(std::chrono::minutes window) {
    auto c = std::make_shared<config::Config>(world_.config());
    c->mesh_service.replay_window = window;
    return c;
  }

  MeshWorld world_;
};

// ---- Hello, ValidateAccount --------------------------------------------------------------------

TEST_F(Dispatcher, HelloPlainAnswersVersionAndSignedServiceProfile) {
  json r = plainCall(json{{"HelloRequest", json::object()}}, 201, "HelloResponse");
  EXPECT_EQ(r["Version"]["Major"], 3);
  EXPECT_EQ(r["Version"]["Encodings"][0]["ID"][0], "application/json");
  EXPECT_EQ(r["Version"]["URI"][0], "https://example.com/.well-known/mmm/");
  ASSERT_TRUE(r.contains("EnvelopedProfileService")) << r;
  auto env = mesh::dareFromJson(r["EnvelopedProfileService"]);
  ASSERT_TRUE(env.ok());
  mesh::ProfileCheck check;
  check.now = model::DateTime(std::chrono::seconds(kNow));
  auto verified = mesh::verifyServiceProfile(*env, check);
  ASSERT_TRUE(verified.ok()) << verified.status().toString();
  EXPECT_EQ(r["StatusDescription"], "OK");
}

TEST_F(Dispatcher, HelloSignedByAnyKeyGetsAResponseBoundToItsNonce) {
  const std::string body = world_.signedRequest(portalRequest("HelloRequest"), newSigningKey());
  const std::string nonce = world_.lastNonce();
  auto r = world_.dispatch(body);
  ASSERT_EQ(r.status, 201) << r.body;
  auto env = mesh::parseDareEnvelope(r.body);
  ASSERT_TRUE(env.ok()) << r.body;
  // Bound to this request: a client waiting for another nonce refuses it.
  EXPECT_TRUE(meshsvc::openResponse(*env, world_.serviceKey().publicKey(), nonce, kNow, 300).ok());
  auto other = meshsvc::openResponse(*env, world_.serviceKey().publicKey(), meshsvc::newNonce(),
                                     kNow, 300);
  EXPECT_EQ(other.status().code(), StatusCode::kDataLoss);
  // Signed by the service key only: checked against another key it fails.
  auto forged = meshsvc::openResponse(*env, newSigningKey().publicKey(), nonce, kNow, 300);
  EXPECT_EQ(forged.status().code(), StatusCode::kDataLoss);
  // Too old for a client to accept (a response replayed much later).
  auto stale = meshsvc::openResponse(*env, world_.serviceKey().publicKey(), nonce, kNow + 3600, 300);
  EXPECT_EQ(stale.status().code(), StatusCode::kDataLoss);
}

TEST_F(Dispatcher, ValidateAccountJudgesNames) {
  world_.addAccount("taken@example.com");
  struct Case {
    std::string account;
    bool valid;
  } cases[] = {{"alice@example.com", true},  {"Alice.B@Example.com", true},
               {"taken@example.com", false}, {"bad name@example.com", false},
               {"a..b@example.com", false},  {"bob@elsewhere.net", false},
               {"bob+tag@example.com", false}};
  for (const auto& c : cases) {
    json r = plainCall(json{{"ValidateRequest", {{"Account", c.account}}}}, 201,
                       "ValidateResponse");
    EXPECT_EQ(r.value("Valid", !c.valid), c.valid) << c.account << " " << r;
    if (!c.valid) {
      EXPECT_TRUE(r.contains("Reason")) << c.account;
    }
  }
  plainCall(json{{"ValidateRequest", json::object()}}, 400, "ValidateResponse");
}

// ---- CreateAccount, DeleteAccount -------------------------------------------------------------

TEST_F(Dispatcher, CreateAccountOnlyByAnAdministrator) {
  const int64_t audit_before = world_.auditCount();
  // Unsigned: 401, nothing written.
  plainCall(json{{"CreateRequest", {{"Account", "new@example.com"}}}}, 401, "CreateResponse");
  // Signed by a key that is no administrator (here: an account's own key): 401.
  AccountKeys alice = world_.addAccount("alice@example.com");
  signedCall(portalRequest("CreateRequest", {{"Account", "new@example.com"}}), alice.authentication,
             401);
  signedCall(portalRequest("CreateRequest", {{"Account", "new@example.com"}}), newSigningKey(),
             401);
  EXPECT_FALSE(accountExists("new@example.com"));
  EXPECT_EQ(world_.auditCount(), audit_before);

  signedCall(portalRequest("CreateRequest", {{"Account", "New@Example.com"}}), world_.adminKey(),
             201);
  EXPECT_TRUE(accountExists("new@example.com"));
  EXPECT_EQ(world_.auditCount(), audit_before + 1);
  auto audit = world_.store().readAudit(1, 100);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->back().action, "create-account");
  EXPECT_EQ(audit->back().recipients, "new@example.com");
  EXPECT_EQ(audit->back().sender, "admin:" + world_.adminKey().kid());

  signedCall(portalRequest("CreateRequest", {{"Account", "new@example.com"}}), world_.adminKey(),
             409);
  signedCall(portalRequest("CreateRequest", {{"Account", "no way@example.com"}}), world_.adminKey(),
             400);
  signedCall(portalRequest("CreateRequest", {{"Account", "x@not-ours.example"}}), world_.adminKey(),
             400);
  signedCall(portalRequest("CreateRequest"), world_.adminKey(), 400);
  EXPECT_EQ(world_.auditCount(), audit_before + 1);
}

TEST_F(Dispatcher, DeleteAccountByItsOwnKeyOrAnAdministrator) {
  AccountKeys alice = world_.addAccount("alice@example.com");
  AccountKeys bob = world_.addAccount("bob@example.com");
  // A stranger, or another account's key: 401 and alice stays.
  signedCall(portalRequest("DeleteRequest", {{"Account", "alice@example.com"}}), newSigningKey(),
             401);
  signedCall(portalRequest("DeleteRequest", {{"Account", "alice@example.com"}}), bob.authentication,
             401);
  plainCall(json{{"DeleteRequest", {{"Account", "alice@example.com"}}}}, 401);
  EXPECT_TRUE(accountExists("alice@example.com"));
  // A stranger learns nothing about accounts that do not exist: 401 as well.
  signedCall(portalRequest("DeleteRequest", {{"Account", "ghost@example.com"}}), newSigningKey(),
             401);

  signedCall(portalRequest("DeleteRequest", {{"Account", "alice@example.com"}}),
             alice.authentication, 201);
  EXPECT_FALSE(accountExists("alice@example.com"));
  signedCall(portalRequest("DeleteRequest", {{"Account", "bob@example.com"}}), world_.adminKey(),
             201);
  EXPECT_FALSE(accountExists("bob@example.com"));
  signedCall(portalRequest("DeleteRequest", {{"Account", "ghost@example.com"}}), world_.adminKey(),
             404);
}

// ---- Get ----------------------------------------------------------------------------------------

TEST_F(Dispatcher, GetByAccountReturnsTheVerifiableProfileWithoutCredentials) {
  AccountKeys alice = world_.addAccount("alice@example.com");
  json r = plainCall(json{{"GetRequest", {{"Account", "Alice@example.com"}}}}, 201, "GetResponse");
  ASSERT_EQ(r["DataItems"].size(), 1u) << r;
  EXPECT_EQ(r["DataItems"][0]["Key"], "alice@example.com");
  auto env = mesh::dareFromJson(r["DataItems"][0]["Envelope"]);
  ASSERT_TRUE(env.ok());
  // As another domain's resolver checks it: with the service profile it carries.
  mesh::ProfileCheck check;
  check.now = model::DateTime(std::chrono::seconds(kNow));
  check.expected_udf = alice.profile_udf;
  auto verified = mesh::verifyAccountProfileWithEmbeddedService(*env, check);
  ASSERT_TRUE(verified.ok()) << verified.status().toString();
  EXPECT_EQ(verified->udf, alice.profile_udf);
  EXPECT_TRUE(mesh::checkListsAddress(verified->profile, "alice@example.com").ok());

  plainCall(json{{"GetRequest", {{"Account", "nobody@example.com"}}}}, 404, "GetResponse");
  plainCall(json{{"GetRequest", {{"Account", "bob@elsewhere.net"}}}}, 404, "GetResponse");
  plainCall(json{{"GetRequest", {{"Account", "not an address"}}}}, 400, "GetResponse");
  plainCall(json{{"GetRequest", json::object()}}, 400, "GetResponse");
}

TEST_F(Dispatcher, GetByIdentifierFindsProfilesAndPublications) {
  AccountKeys alice = world_.addAccount("alice@example.com");
  json r = plainCall(json{{"GetRequest", {{"Identifier", alice.profile_udf}}}}, 201);
  ASSERT_EQ(r["DataItems"].size(), 1u) << r;
  EXPECT_EQ(r["DataItems"][0]["Key"], "alice@example.com");
  // Lower case, without dashes: the same fingerprint.
  std::string loose;
  for (char c : alice.profile_udf) {
    if (c != '-') loose += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  r = plainCall(json{{"GetRequest", {{"Identifier", loose}}}}, 201);
  EXPECT_EQ(r["DataItems"].size(), 1u);

  signedCall(portalRequest(
                 "PublishRequest",
                 {{"Entry", {{"Key", "service-note"}, {"Data", base64UrlEncode(asBytes("hi"))}}}}),
             world_.adminKey(), 201);
  r = plainCall(json{{"GetRequest", {{"Identifier", "service-note"}}}}, 201);
  ASSERT_EQ(r["DataItems"].size(), 1u) << r;
  EXPECT_EQ(r["DataItems"][0]["Data"], base64UrlEncode(asBytes("hi")));
  plainCall(json{{"GetRequest", {{"Identifier", "MBQX-NONE-XXXX-XXXX"}}}}, 404);
  plainCall(json{{"GetRequest", {{"Identifier", "has space"}}}}, 400);

  // Another account publishing under alice's fingerprint does not replace her profile there.
  AccountKeys mallory = world_.addAccount("mallory@example.com");
  signedCall(portalRequest("PublishRequest", {{"Entry",
                                               {{"Key", alice.profile_udf},
                                                {"Data", base64UrlEncode(asBytes("not alice"))}}}}),
             mallory.authentication, 201, "mallory@example.com");
  r = plainCall(json{{"GetRequest", {{"Identifier", alice.profile_udf}}}}, 201);
  ASSERT_EQ(r["DataItems"].size(), 1u) << r;
  EXPECT_EQ(r["DataItems"][0]["Key"], "alice@example.com") << r;
}

class GetCatalog : public Dispatcher {
 protected:
  void SetUp() override {
    alice_ = world_.addAccount("alice@example.com");
    // 25 entries, one per 10 s, data "entry-NN".
    for (int i = 0; i < 25; ++i) {
      CatalogEntry e;
      e.account = "alice@example.com";
      e.catalog = "applications";
      e.key = "k" + std::to_string(100 + i);
      e.data = "{\"n\":" + std::to_string(i) + "}";
      e.updated = kNow + 10 * i;
      ASSERT_TRUE(world_.store().putEntry(e, std::nullopt).ok());
    }
  }
  json get(json constraints, int status = 201, const std::string& key = "") {
    json kv = json::array({{{"Key", "Catalog"}, {"Value", "applications"}}});
    if (!key.empty()) kv.push_back({{"Key", "Key"}, {"Value", key}});
    json fields = {{"Account", "alice@example.com"}, {"KeyValues", kv}};
    if (!constraints.is_null()) fields["SearchConstraints"] = constraints;
    return signedCall(portalRequest("GetRequest", fields), alice_->authentication, status);
  }
  static std::vector<std::string> keys(const json& r) {
    std::vector<std::string> out;
    for (const auto& item : r.value("DataItems", json::array())) out.push_back(item["Key"]);
    return out;
  }
  std::optional<AccountKeys> alice_;
};

TEST_F(GetCatalog, PagesWithMaxEntriesAndPageKey) {
  json p1 = get({{"MaxEntries", 10}});
  ASSERT_EQ(keys(p1).size(), 10u) << p1;
  EXPECT_EQ(keys(p1).front(), "k100");
  ASSERT_TRUE(p1.contains("PageKey"));
  json p2 = get({{"MaxEntries", 10}, {"PageKey", p1["PageKey"]}});
  ASSERT_EQ(keys(p2).size(), 10u);
  EXPECT_EQ(keys(p2).front(), "k110");
  json p3 = get({{"MaxEntries", 10}, {"PageKey", p2["PageKey"]}});
  ASSERT_EQ(keys(p3).size(), 5u);
  EXPECT_EQ(keys(p3).back(), "k124");
  EXPECT_FALSE(p3.contains("PageKey"));
  // Every entry's data comes back intact.
  EXPECT_EQ(p1["DataItems"][3]["Data"], base64UrlEncode(asBytes("{\"n\":3}")));
}

TEST_F(GetCatalog, TimeWindowIsKeptAcrossPages) {
  // [kNow+50, kNow+150): entries 5..14.
  json p1 = get({{"NotBefore", "2026-01-01T00:00:50Z"},
                 {"Before", "2026-01-01T00:02:30Z"},
                 {"MaxEntries", 4}});
  EXPECT_EQ(keys(p1), (std::vector<std::string>{"k105", "k106", "k107", "k108"}));
  std::vector<std::string> all = keys(p1);
  json page = p1;
  for (int i = 0; i < 5 && page.contains("PageKey"); ++i) {
    // With a page key the other constraints are ignored (seed 3.4.2): the window carries on.
    page = get({{"MaxEntries", 4}, {"PageKey", page["PageKey"]}});
    for (const auto& k : keys(page)) all.push_back(k);
  }
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all.back(), "k114");
}

TEST_F(GetCatalog, MaxBytesAndKeyLookup) {
  json small = get({{"MaxBytes", 10}});
  EXPECT_GE(keys(small).size(), 1u);
  EXPECT_LT(keys(small).size(), 25u);
  EXPECT_TRUE(small.contains("PageKey"));
  json one = get(nullptr, 201, "k107");
  EXPECT_EQ(keys(one), std::vector<std::string>{"k107"});
  get(nullptr, 404, "k999");
}

TEST_F(GetCatalog, RefusesBadConstraintsAndStrangers) {
  get({{"MaxEntries", 0}}, 400);
  get({{"MaxBytes", -1}}, 400);
  get({{"PageKey", "!!not base64!!"}}, 400);
  get({{"PageKey", base64UrlEncode(asBytes("{\"x\":1}"))}}, 400);
  json fields = {{"Account", "alice@example.com"},
                 {"KeyValues", json::array({{{"Key", "Catalog"}, {"Value", "applications"}}})}};
  // Unsigned, a stranger, another account: 401.
  plainCall(json{{"GetRequest", fields}}, 401);
  signedCall(portalRequest("GetRequest", fields), newSigningKey(), 401);
  AccountKeys bob = world_.addAccount("bob@example.com");
  signedCall(portalRequest("GetRequest", fields), bob.authentication, 401);
  // The administrator may read it.
  EXPECT_EQ(keys(signedCall(portalRequest("GetRequest", fields), world_.adminKey(), 201)).size(),
            25u);
  // Unknown selector keys and malformed catalog names.
  json bad = fields;
  bad["KeyValues"] = json::array({{{"Key", "Colour"}, {"Value", "red"}}});
  signedCall(portalRequest("GetRequest", bad), alice_->authentication, 400);
  bad["KeyValues"] = json::array({{{"Key", "Catalog"}, {"Value", "../etc"}}});
  signedCall(portalRequest("GetRequest", bad), alice_->authentication, 400);
}

TEST_F(GetCatalog, TheHeldCatalogIsForTheAdministratorOnly) {
  CatalogEntry held{"alice@example.com", "held", "MENV-HELD", "{\"Envelope\":{}}", kNow, 0};
  ASSERT_TRUE(world_.store().putEntry(held, std::nullopt).ok());
  json fields = {{"Account", "alice@example.com"},
                 {"KeyValues", json::array({{{"Key", "Catalog"}, {"Value", "held"}}})}};
  // The account's own key would deliver the quarantined message without a release.
  json refused = signedCall(portalRequest("GetRequest", fields), alice_->authentication, 403);
  EXPECT_FALSE(refused.contains("DataItems")) << refused;
  EXPECT_EQ(keys(signedCall(portalRequest("GetRequest", fields), world_.adminKey(), 201)),
            std::vector<std::string>{"MENV-HELD"});
}

// ---- Publish -------------------------------------------------------------------------------------

TEST_F(Dispatcher, PublishByAnAccountIsItsOwnKey) {
  AccountKeys alice = world_.addAccount("alice@example.com");
  AccountKeys bob = world_.addAccount("bob@example.com");
  json entry = {{"Entry", {{"Key", "alice-card"}, {"Data", base64UrlEncode(asBytes("card"))}}}};
  // No account named in the metadata and no administrator: 401.
  signedCall(portalRequest("PublishRequest", entry), alice.authentication, 401);
  // Names alice but signed by bob: 401.
  signedCall(portalRequest("PublishRequest", entry), bob.authentication, 401, "alice@example.com");
  plainCall(json{{"PublishRequest", entry}}, 401);
  plainCall(json{{"GetRequest", {{"Identifier", "alice-card"}}}}, 404);

  signedCall(portalRequest("PublishRequest", entry), alice.authentication, 201,
             "alice@example.com");
  plainCall(json{{"GetRequest", {{"Identifier", "alice-card"}}}}, 201);
  // Bob cannot take over alice's key; alice may replace it; the administrator may too.
  json other = {{"Entry", {{"Key", "alice-card"}, {"Data", base64UrlEncode(asBytes("bob"))}}}};
  signedCall(portalRequest("PublishRequest", other), bob.authentication, 409, "bob@example.com");
  signedCall(portalRequest("PublishRequest", entry), alice.authentication, 201,
             "alice@example.com");
  signedCall(portalRequest("PublishRequest", other), world_.adminKey(), 201);
  // Malformed entries.
  signedCall(portalRequest("PublishRequest"), world_.adminKey(), 400);
  signedCall(portalRequest("PublishRequest", {{"Entry", {{"Key", "x"}}}}), world_.adminKey(), 400);
  signedCall(portalRequest("PublishRequest", {{"Entry", {{"Data", "AA"}}}}), world_.adminKey(),
             400);
}

// ---- Status, Transfer ----------------------------------------------------------------------------

TEST_F(Dispatcher, StatusReturnsTheLastSignedCheckpoint) {
  // Empty log: nothing to report but success.
  json r = plainCall(json{{"StatusRequest", json::object()}}, 201, "StatusResponse");
  EXPECT_FALSE(r.contains("CheckpointValue"));
  EXPECT_FALSE(r.contains("LastWriteTime"));

  world_.clock().set(kNow + 60);
  signedCall(portalRequest("CreateRequest", {{"Account", "a1@example.com"}}), world_.adminKey(),
             201);
  auto head = world_.store().readAudit(1, 10);
  ASSERT_TRUE(head.ok() && !head->empty());
  auto checkpoint = policy::makeAuditCheckpoint(head->back(), kNow + 120, "test-node",
                                                world_.serviceKey());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().toString();
  ASSERT_TRUE(world_.store().putCheckpoint(*checkpoint).ok());
  world_.clock().set(kNow + 180);
  signedCall(portalRequest("CreateRequest", {{"Account", "a2@example.com"}}), world_.adminKey(),
             201);

  r = plainCall(json{{"StatusRequest", json::object()}}, 201, "StatusResponse");
  EXPECT_EQ(r["LastWriteTime"], "2026-01-01T00:03:00Z");
  EXPECT_EQ(r["LastCheckpointTime"], "2026-01-01T00:02:00Z");
  EXPECT_EQ(r["NextCheckpointTime"], "2026-01-01T01:02:00Z");  // + audit.checkpoint_interval 1h
  ASSERT_TRUE(r["CheckpointValue"].is_string());
  // The value is the checkpoint itself: anyone with the service key can check it.
  AuditCheckpoint returned = *checkpoint;
  returned.signature = r["CheckpointValue"].get<std::string>();
  EXPECT_TRUE(policy::verifyAuditCheckpoint(returned, world_.serviceKey().publicKey()).ok());
  // Signed, it is answered signed.
  json s = signedCall(portalRequest("StatusRequest"), newSigningKey(), 201);
  EXPECT_EQ(s["CheckpointValue"], r["CheckpointValue"]);
}

TEST_F(Dispatcher, TransferOnlyForAdministratorsAndPaged) {
  for (int i = 0; i < 7; ++i) {
    world_.clock().set(kNow + i);
    signedCall(
        portalRequest("CreateRequest", {{"Account", "t" + std::to_string(i) + "@example.com"}}),
        world_.adminKey(), 201);
  }
  plainCall(json{{"TransferRequest", json::object()}}, 401, "TransferResponse");
  AccountKeys alice = world_.addAccount("alice@example.com");
  signedCall(portalRequest("TransferRequest"), alice.authentication, 401);
  signedCall(portalRequest("TransferRequest"), alice.offline, 401);

  json p1 =
      signedCall(portalRequest("TransferRequest", {{"SearchConstraints", {{"MaxEntries", 3}}}}),
                 world_.adminKey(), 201);
  ASSERT_EQ(p1["DataItems"].size(), 3u) << p1;
  ASSERT_TRUE(p1.contains("PageKey"));
  EXPECT_EQ(p1["DataItems"][0]["Key"], "1");
  auto record = json::parse(toString(*base64UrlDecode(p1["DataItems"][0]["Data"].get<std::string>())));
  EXPECT_EQ(record["Action"], "create-account");
  EXPECT_EQ(record["Recipients"], "t0@example.com");
  EXPECT_EQ(record["Hash"].get<std::string>().size(), 128u);
  std::vector<std::string> seen;
  json page = p1;
  for (const auto& i : page["DataItems"]) seen.push_back(i["Key"]);
  while (page.contains("PageKey")) {
    page = signedCall(
        portalRequest("TransferRequest",
                      {{"SearchConstraints", {{"MaxEntries", 3}, {"PageKey", page["PageKey"]}}}}),
        world_.adminKey(), 201);
    for (const auto& i : page["DataItems"]) seen.push_back(i["Key"]);
  }
  // 7 creates plus 2 Transfers are not changes: exactly the 7 records, in order, once each.
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7"}));
  // A time window: the records of seconds 2..4.
  json w = signedCall(portalRequest("TransferRequest", {{"SearchConstraints",
                                                         {{"NotBefore", "2026-01-01T00:00:02Z"},
                                                          {"Before", "2026-01-01T00:00:05Z"}}}}),
                      world_.adminKey(), 201);
  EXPECT_EQ(w["DataItems"].size(), 3u) << w;
  // Not a sequence number, or more than one can be: 400 (the last was a 500, std::stoll threw).
  for (const char* key : {"abc", "9999999999999999999", "-5", "12x"}) {
    signedCall(portalRequest("TransferRequest", {{"SearchConstraints", {{"PageKey", key}}}}),
               world_.adminKey(), 400);
  }
}

// ---- Connect -------------------------------------------------------------------------------------

TEST_F(Dispatcher, DeviceConnectionFromStartToAuthorizedRequests) {
  AccountKeys alice = world_.addAccount("alice@example.com");
  mesh::PrivateKey device = newSigningKey();
  const std::string request_id = "NCON-0001-REQUEST";
  json rc = {{"RequestConnection",
              {{"MessageID", request_id}, {"AccountAddress", "alice@example.com"}}}};
  std::vector<mesh::PrivateKey> dev{device};
  auto signed_rc = mesh::sealAssertionJson(rc.dump(), dev);
  ASSERT_TRUE(signed_rc.ok());
  json start = portalRequest(
      "ConnectStartRequest",
      {{"AccountID", "alice@example.com"}, {"SignedRequest", mesh::dareToJson(*signed_rc)}});
  // The request envelope must be signed by the same key as the RequestConnection.
  signedCall(start, newSigningKey(), 401);
  plainCall(start, 401);
  signedCall(start, device, 201);
  signedCall(start, device, 201);  // the same request again: still one pending entry

  json status = portalRequest("ConnectStatusRequest",
                              {{"AccountID", "alice@example.com"}, {"DeviceID", device.kid()}});
  json s1 = signedCall(status, device, 201);
  EXPECT_FALSE(s1.contains("Result")) << s1;  // pending
  signedCall(status, newSigningKey(), 401);   // someone else asking about this device

  json pending = portalRequest("ConnectPendingRequest", {{"AccountID", "alice@example.com"}});
  signedCall(pending, device, 401);  // the device is not the account (yet)
  json p = signedCall(pending, alice.authentication, 201);
  ASSERT_EQ(p["Pending"].size(), 1u) << p;

  // A device key may not yet read the account's catalogs.
  json read = portalRequest(
      "GetRequest", {{"Account", "alice@example.com"},
                     {"KeyValues", json::array({{{"Key", "Catalog"}, {"Value", "contacts"}}})}});
  signedCall(read, device, 401);

  json respond = {{"RespondConnection",
                   {{"MessageID", "NRES-0001-RESPONSE"},
                    {"Result", "Accept"},
                    {"References", json::array({{{"MessageID", request_id}}})},
                    {"CatalogedDevice", {{"UDF", device.kid()}}}}}};
  // Signed by a key that is not an administration key of the profile: 403.
  std::vector<mesh::PrivateKey> wrong{alice.authentication};
  auto wrong_result = mesh::sealAssertionJson(respond.dump(), wrong);
  ASSERT_TRUE(wrong_result.ok());
  signedCall(portalRequest("ConnectCompleteRequest", {{"AccountID", "alice@example.com"},
                                                      {"Result", mesh::dareToJson(*wrong_result)}}),
             alice.authentication, 403);
  signedCall(read, device, 401);

  std::vector<mesh::PrivateKey> admin{alice.administration};
  auto result = mesh::sealAssertionJson(respond.dump(), admin);
  ASSERT_TRUE(result.ok());
  json complete = portalRequest("ConnectCompleteRequest", {{"AccountID", "alice@example.com"},
                                                           {"Result", mesh::dareToJson(*result)}});
  signedCall(complete, newSigningKey(), 401);  // the request itself must come from the account
  signedCall(complete, alice.authentication, 201);

  json s2 = signedCall(status, device, 201);
  ASSERT_TRUE(s2.contains("Result")) << s2;
  EXPECT_EQ(s2["Result"], mesh::dareToJson(*result));
  EXPECT_EQ(signedCall(pending, alice.authentication, 201)["Pending"].size(), 0u);
  // Now the device speaks for the account.
  signedCall(read, device, 201);

  // A Reject withdraws it; the old Accept (readable by the device through ConnectStatus),
  // sent again by any key of the account, does not bring it back, nor does a Pending.
  json withdraw = {{"RespondConnection",
                    {{"MessageID", "NRES-0002-WITHDRAW"},
                     {"Result", "Reject"},
                     {"References", json::array({{{"MessageID", request_id}}})}}}};
  auto rejected = mesh::sealAssertionJson(withdraw.dump(), admin);
  ASSERT_TRUE(rejected.ok());
  signedCall(portalRequest("ConnectCompleteRequest", {{"AccountID", "alice@example.com"},
                                                      {"Result", mesh::dareToJson(*rejected)}}),
             alice.authentication, 201);
  signedCall(read, device, 401);
  signedCall(complete, alice.authentication, 409);
  signedCall(read, device, 401);
}

TEST_F(Dispatcher, OnlyRecentUnansweredConnectionRequestsCountTowardTheLimit) {
  world_.addAccount("alice@example.com");
  int n = 0;
  auto start = [&](int status) {
    mesh::PrivateKey device = newSigningKey();
    json rc = {{"RequestConnection",
                {{"MessageID", "NCON-NEW-" + std::to_string(++n)},
                 {"AccountAddress", "alice@example.com"}}}};
    std::vector<mesh::PrivateKey> dev{device};
    auto signed_rc = mesh::sealAssertionJson(rc.dump(), dev);
    ASSERT_TRUE(signed_rc.ok());
    signedCall(
        portalRequest("ConnectStartRequest", {{"AccountID", "alice@example.com"},
                                              {"SignedRequest", mesh::dareToJson(*signed_rc)}}),
        device, status);
  };
  // Requests as the catalog keeps them, kMaxPendingPerAccount of them in `state`.
  auto fill = [&](const std::string& state) {
    for (int i = 0; i < meshsvc::kMaxPendingPerAccount; ++i) {
      const std::string id = "NOLD-" + state + "-" + std::to_string(i);
      CatalogEntry e{"alice@example.com",
                     std::string(meshsvc::kPendingCatalog),
                     id,
                     json{{"MessageID", id}, {"State", state}}.dump(),
                     world_.clock().now(),
                     0};
      ASSERT_TRUE(world_.store().putEntry(e, std::nullopt).ok());
    }
  };
  fill("accepted");
  fill("rejected");
  start(201);  // answered requests do not count (they once did, for good)
  fill("pending");
  start(409);  // a hundred wait: the next is refused
  // A week on, requests nobody answered no longer count.
  world_.clock().set(world_.clock().now() + meshsvc::kPendingLifetimeSeconds + 1);
  start(201);
}

TEST_F(Dispatcher, ConnectStartRefusesMalformedRequests) {
  world_.addAccount("alice@example.com");
  mesh::PrivateKey device = newSigningKey();
  std::vector<mesh::PrivateKey> dev{device};
  auto other_account = mesh::sealAssertionJson(
      json{{"RequestConnection", {{"MessageID", "NCON-2"}, {"AccountAddress", "bob@example.com"}}}}
          .dump(),
      dev);
  auto no_id = mesh::sealAssertionJson(json{{"RequestConnection", json::object()}}.dump(), dev);
  ASSERT_TRUE(other_account.ok() && no_id.ok());
  signedCall(
      portalRequest("ConnectStartRequest", {{"AccountID", "alice@example.com"},
                                            {"SignedRequest", mesh::dareToJson(*other_account)}}),
      device, 400);
  signedCall(portalRequest("ConnectStartRequest", {{"AccountID", "alice@example.com"},
                                                   {"SignedRequest", mesh::dareToJson(*no_id)}}),
             device, 400);
  signedCall(portalRequest("ConnectStartRequest", {{"AccountID", "alice@example.com"}}), device,
             400);
  auto ok = mesh::sealAssertionJson(
      json{{"RequestConnection", {{"MessageID", "NCON-3"}}}}.dump(), dev);
  signedCall(portalRequest("ConnectStartRequest", {{"AccountID", "ghost@example.com"},
                                                   {"SignedRequest", mesh::dareToJson(*ok)}}),
             device, 404);
  auto pending = world_.store().listEntries("alice@example.com", meshsvc::kPendingCatalog, {});
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->items.empty());
}

// ---- Post and ingress control ------------------------------------------------------------------

class Post : public Dispatcher {
 protected:
  json post(const std::string& account, const std::vector<mesh::DareEnvelope>& envelopes,
            const mesh::PrivateKey& service, int status = 201) {
    json list = json::array();
    for (const auto& e : envelopes) list.push_back(mesh::dareToJson(e));
    return signedCall(portalRequest("PostRequest", {{"Account", account}, {"Envelopes", list}}),
                      service, status);
  }
  size_t stored(const std::string& account, std::string_view catalog) {
    auto page = world_.store().listEntries(account, catalog, {});
    return page.ok() ? page->items.size() : 999;
  }
  mesh::PrivateKey remote_service_ = newSigningKey();
};

TEST_F(Post, ContactsOnlyAccountRefusesStrangersWithMessageError) {
  world_.addAccount("alice@example.com", "contacts-only");
  mesh::PrivateKey stranger = newSigningKey();
  json r = post("alice@example.com",
                {makeMessageEnvelope("EAAA-STRANGER-1", "mallory@evil.example", stranger)},
                remote_service_);
  EXPECT_TRUE(r.value("Accepted", json::array()).empty()) << r;
  ASSERT_EQ(r["Rejected"], json::array({"EAAA-STRANGER-1"}));
  ASSERT_EQ(r["Errors"].size(), 1u);
  EXPECT_EQ(r["Errors"][0]["ErrorCode"], "ContactRequired");
  EXPECT_EQ(r["Errors"][0]["Recipient"], "alice@example.com");
  EXPECT_EQ(r["Errors"][0]["References"][0]["MessageID"], "NAAA-EAAA-STRANGER-1");
  EXPECT_EQ(stored("alice@example.com", meshsvc::kInboundCatalog), 0u);
  // The refusal is in the audit log.
  auto audit = world_.store().readAudit(1, 100);
  ASSERT_TRUE(audit.ok() && !audit->empty());
  EXPECT_EQ(audit->back().action, "reject");
  EXPECT_EQ(audit->back().rule, "ingress.contacts-only");
}

// A contact request is how a stranger asks: a contacts-only account does not refuse it, it
// waits in contact-requests (not inbound, not delivered) for `meshgate contacts accept`. A
// known contact's request is also delivered; abuse limits still refuse.
TEST_F(Post, ContactRequestsFromStrangersWaitForTheAccountsAnswer) {
  world_.addAccount("alice@example.com", "contacts-only");
  world_.addAccount("careful@example.com", "quarantine-unknown");
  mesh::PrivateKey stranger = newSigningKey();
  json r = post("alice@example.com",
                {makeContactRequestEnvelope("EAAA-ASK-1", "mallory@evil.example", stranger),
                 makeMessageEnvelope("EAAA-MAIL-1", "mallory@evil.example", stranger)},
                remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-ASK-1"})) << r;
  EXPECT_EQ(r["Rejected"], json::array({"EAAA-MAIL-1"})) << "only the request gets through";
  EXPECT_EQ(stored("alice@example.com", meshsvc::kInboundCatalog), 0u);
  auto pending = world_.store().getEntry("alice@example.com", meshsvc::kContactRequestsCatalog,
                                         "NAAA-EAAA-ASK-1");
  ASSERT_TRUE(pending.ok()) << pending.status().toString();
  auto data = json::parse(pending->data);
  EXPECT_EQ(data["ClaimedSender"], "mallory@evil.example");
  EXPECT_EQ(data["Sender"], "") << "not verified: no profile lists the key";
  EXPECT_EQ(data["SenderUdf"], keyIdentity(stranger));
  // Retried: still one pending request.
  r = post("alice@example.com",
           {makeContactRequestEnvelope("EAAA-ASK-1", "mallory@evil.example", stranger)},
           remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-ASK-1"}));
  EXPECT_EQ(stored("alice@example.com", meshsvc::kContactRequestsCatalog), 1u);
  // quarantine-unknown: pending too, not held.
  r = post("careful@example.com",
           {makeContactRequestEnvelope("EAAA-ASK-2", "x@y.example", newSigningKey())},
           remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-ASK-2"}));
  EXPECT_EQ(stored("careful@example.com", meshsvc::kHeldCatalog), 0u);
  EXPECT_EQ(stored("careful@example.com", meshsvc::kContactRequestsCatalog), 1u);
  // From a known contact: pending and delivered.
  mesh::PrivateKey friend_key = newSigningKey();
  world_.addContact("alice@example.com", "udf:" + keyIdentity(friend_key), {"mesh"});
  r = post("alice@example.com",
           {makeContactRequestEnvelope("EAAA-ASK-3", "fred@friends.example", friend_key)},
           remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-ASK-3"}));
  EXPECT_EQ(stored("alice@example.com", meshsvc::kInboundCatalog), 1u);
  EXPECT_EQ(stored("alice@example.com", meshsvc::kContactRequestsCatalog), 2u);
  auto audit = world_.store().readAudit(1, 100);
  ASSERT_TRUE(audit.ok());
  size_t requests = 0;
  for (const auto& a : *audit) requests += a.action == "contact-request";
  EXPECT_EQ(requests, 3u);
}

// The abuse limits count each envelope, as the milter counts each message: a stranger's
// contact requests (which ingress control lets wait) cannot fill an account's catalog.
TEST(PostAbuseLimits, CountEveryEnvelopeContactRequestsIncluded) {
  MeshWorld world("",
                  "abuse:\n  limits:\n    - {name: per-client, key: client_address, "
                  "window: 1h, max: 2, action: tempfail}\n");
  world.addAccount("alice@example.com", "contacts-only");
  mesh::PrivateKey remote_service = newSigningKey();
  json list = json::array();
  for (int i = 1; i <= 3; ++i) {
    list.push_back(mesh::dareToJson(makeContactRequestEnvelope(
        "EAAA-ASK-" + std::to_string(i), "mallory@evil.example", newSigningKey())));
  }
  const std::string body = world.signedRequest(
      portalRequest("PostRequest", {{"Account", "alice@example.com"}, {"Envelopes", list}}),
      remote_service);
  meshsvc::DispatchResult r = world.dispatch(body);
  auto opened = world.openSigned(r.body, world.lastNonce());
  ASSERT_TRUE(opened.ok()) << opened.status().toString() << r.body;
  const json& inner = opened->begin().value();
  EXPECT_EQ(inner["Accepted"], json::array({"EAAA-ASK-1", "EAAA-ASK-2"})) << inner;
  EXPECT_EQ(inner["Rejected"], json::array({"EAAA-ASK-3"})) << inner;
  EXPECT_EQ(inner["Errors"][0]["ErrorCode"], "TryLater") << inner;
  auto pending =
      world.store().listEntries("alice@example.com", meshsvc::kContactRequestsCatalog, {});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->items.size(), 2u);
}

// An abuse limit whose action is hold holds the envelopes past it (held catalog), for an
// account whose ingress control would deliver them: it is not dropped in favour of the
// recipient's decision.
TEST(PostAbuseLimits, AHoldingLimitHoldsWhatIngressWouldDeliver) {
  MeshWorld world("",
                  "abuse:\n  limits:\n    - {name: per-client, key: client_address, "
                  "window: 1h, max: 1, action: hold}\n");
  world.addAccount("alice@example.com", "open");
  mesh::PrivateKey remote_service = newSigningKey();
  json list = json::array();
  for (int i = 1; i <= 2; ++i) {
    list.push_back(mesh::dareToJson(makeMessageEnvelope("EAAA-FLOOD-" + std::to_string(i),
                                                        "bob@partner.example", newSigningKey())));
  }
  const std::string body = world.signedRequest(
      portalRequest("PostRequest", {{"Account", "alice@example.com"}, {"Envelopes", list}}),
      remote_service);
  meshsvc::DispatchResult r = world.dispatch(body);
  auto opened = world.openSigned(r.body, world.lastNonce());
  ASSERT_TRUE(opened.ok()) << opened.status().toString() << r.body;
  const json& inner = opened->begin().value();
  EXPECT_EQ(inner["Accepted"], json::array({"EAAA-FLOOD-1", "EAAA-FLOOD-2"})) << inner;
  EXPECT_TRUE(
      world.store().getEntry("alice@example.com", meshsvc::kInboundCatalog, "EAAA-FLOOD-1").ok());
  EXPECT_EQ(world.store()
                .getEntry("alice@example.com", meshsvc::kInboundCatalog, "EAAA-FLOOD-2")
                .status()
                .code(),
            StatusCode::kNotFound);
  auto held = world.store().getEntry("alice@example.com", meshsvc::kHeldCatalog, "EAAA-FLOOD-2");
  ASSERT_TRUE(held.ok()) << held.status().toString();
  EXPECT_NE(held->data.find("abuse.per-client"), std::string::npos) << held->data;
}

// A claimed sender with control bytes is refused as an invalid message (the peer's fault),
// not stored, and does not stop the envelopes after it; before, its audit record (a NUL the
// store refuses) failed the whole Post as an outage.
TEST(PostInput, AClaimedSenderWithControlBytesIsAnInvalidMessage) {
  MeshWorld world;
  world.addAccount("alice@example.com", "open");
  json list = json::array();
  list.push_back(mesh::dareToJson(
      makeMessageEnvelope("EAAA-NUL", std::string("bob\0@partner.example", 20), newSigningKey())));
  list.push_back(
      mesh::dareToJson(makeMessageEnvelope("EAAA-FINE", "carol@partner.example", newSigningKey())));
  const std::string body = world.signedRequest(
      portalRequest("PostRequest", {{"Account", "alice@example.com"}, {"Envelopes", list}}),
      newSigningKey());
  meshsvc::DispatchResult r = world.dispatch(body);
  ASSERT_EQ(r.status, 201) << r.body;  // the Post succeeded, envelope by envelope
  auto opened = world.openSigned(r.body, world.lastNonce());
  ASSERT_TRUE(opened.ok()) << opened.status().toString() << r.body;
  const json& inner = opened->begin().value();
  EXPECT_EQ(inner["Accepted"], json::array({"EAAA-FINE"})) << inner;
  EXPECT_EQ(inner["Rejected"], json::array({"EAAA-NUL"})) << inner;
  EXPECT_EQ(inner["Errors"][0]["ErrorCode"], "InvalidMessage") << inner;
  EXPECT_EQ(world.store()
                .getEntry("alice@example.com", meshsvc::kInboundCatalog, "EAAA-NUL")
                .status()
                .code(),
            StatusCode::kNotFound);
}

// A Post's sender lookups share one budget (2 x resolver.total_timeout): envelopes naming
// many slow domains cannot hold a worker for minutes.
TEST(PostBudget, SlowSenderLookupsEndThePostWithinItsBudget) {
  MeshWorld world("",
                  "resolver:\n  total_timeout: 200ms\n  connect_timeout: 100ms\n  "
                  "dns_timeout: 100ms\n");
  world.addAccount("alice@example.com", "tag-unknown");
  int lookups = 0;
  world.setRemoteSenderVerifier(
      [&lookups](std::string_view, const mesh::PublicKey&) -> Result<meshsvc::VerifiedSender> {
        // As the resolver: each lookup waits at most what is left of the budget (here a slow
        // service that answers "not verified" after 150 ms).
        ++lookups;
        const auto wait = Deadline::remaining(std::chrono::milliseconds(150));
        std::this_thread::sleep_for(wait);
        if (wait < std::chrono::milliseconds(150)) return deadlineExceeded("lookup: out of time");
        return meshsvc::VerifiedSender{};
      });
  json list = json::array();
  for (int i = 1; i <= 20; ++i) {
    list.push_back(mesh::dareToJson(makeMessageEnvelope("EAAA-SLOW-" + std::to_string(i),
                                                        "a" + std::to_string(i) + "@slow.example",
                                                        newSigningKey())));
  }
  const std::string body = world.signedRequest(
      portalRequest("PostRequest", {{"Account", "alice@example.com"}, {"Envelopes", list}}),
      newSigningKey());
  meshsvc::DispatchResult r = world.dispatch(body);
  EXPECT_EQ(r.status, 503) << r.body;
  // 400 ms of budget, 150 ms a lookup: the third runs out of time; none after it is tried.
  EXPECT_EQ(lookups, 3);
}

// Seed 7.2.3: a held payment request is released when its recipient confirms it, here with a
// Mesh ResponseConfirmation signed by the account's own key (the quarantine page is the other
// way). Only the account itself counts, only for a message held for it alone.
TEST_F(Post, AResponseConfirmationFromTheAccountConfirmsItsHeldPaymentRequest) {
  AccountKeys alice = world_.addAccount("alice@example.com", "contacts-only");
  auto hold = [&](const std::string& id, const std::string& recipients) {
    QuarantineRecord q;
    q.id = q.queue_id = id;
    q.message_id = "<" + id + "@billing.example.net>";
    q.sender = "billing@example.net";
    q.recipients = recipients;
    q.reason = "payment request from a first contact";
    q.time = 1'800'000'000;
    q.state = "held";
    ASSERT_TRUE(world_.store().putQuarantine(q).ok());
  };
  hold("5PAY1", "alice@example.com");
  hold("5PAY2", "alice@example.com,carol@example.com");
  auto confirmation = [&](const std::string& envelope_id, const std::string& held, bool accept,
                          const mesh::PrivateKey& signer) {
    model::ResponseConfirmation m;
    m.message_id = "NRSP-" + envelope_id;
    m.sender = "alice@example.com";
    m.accept = accept;
    model::Reference ref;
    ref.message_id = held;
    ref.relationship = "Confirm";
    m.references.push_back(ref);
    mesh::DareEnvelope env;
    env.header.envelope_id = envelope_id;
    env.payload = toBytes(model::serialize(model::AnyMessage(m)));
    std::vector<mesh::PrivateKey> signers{signer};
    EXPECT_TRUE(mesh::signDare(env, signers, true, true).ok());
    return env;
  };
  // Someone else claiming to be alice: an ordinary message from a stranger, refused.
  json r = post("alice@example.com", {confirmation("ECNF-1", "5PAY1", true, newSigningKey())},
                remote_service_);
  EXPECT_EQ(r["Rejected"], json::array({"ECNF-1"})) << r;
  EXPECT_EQ(world_.store().getQuarantine("5PAY1")->confirmed_by, "");
  // Alice herself: confirmed (release-confirmed releases it).
  r = post("alice@example.com", {confirmation("ECNF-2", "5PAY1", true, alice.authentication)},
           remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"ECNF-2"})) << r;
  EXPECT_EQ(world_.store().getQuarantine("5PAY1")->confirmed_by, "alice@example.com");
  EXPECT_EQ(stored("alice@example.com", meshsvc::kInboundCatalog), 0u) << "not delivered as mail";
  // Held for two recipients: her word alone does not release it. Unknown IDs are refused.
  r = post("alice@example.com",
           {confirmation("ECNF-3", "5PAY2", true, alice.authentication),
            confirmation("ECNF-4", "5NOPE", true, alice.authentication)},
           remote_service_);
  EXPECT_EQ(r["Rejected"], json::array({"ECNF-3", "ECNF-4"})) << r;
  EXPECT_EQ(r["Errors"][0]["ErrorCode"], "NotConfirmable");
  EXPECT_EQ(r["Errors"][1]["ErrorCode"], "UnknownConfirmation");
  EXPECT_EQ(world_.store().getQuarantine("5PAY2")->confirmed_by, "");
  auto audit = world_.store().readAudit(1, 100);
  ASSERT_TRUE(audit.ok() && !audit->empty());
  bool confirmed = false;
  for (const auto& a : *audit) confirmed = confirmed || (a.action == "confirm" && a.rule == "quarantine.confirm");
  EXPECT_TRUE(confirmed);
}

TEST_F(Post, ContactByMeshIdentityIsAcceptedOnceEvenWhenRetried) {
  world_.addAccount("alice@example.com", "contacts-only");
  mesh::PrivateKey friend_key = newSigningKey();
  world_.addContact("alice@example.com", "udf:" + keyIdentity(friend_key), {"mesh"});
  auto env = makeMessageEnvelope("EAAA-FRIEND-1", "carol@elsewhere.example", friend_key);
  json r = post("alice@example.com", {env}, remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-FRIEND-1"})) << r;
  EXPECT_TRUE(r.value("Rejected", json::array()).empty());
  EXPECT_EQ(stored("alice@example.com", meshsvc::kInboundCatalog), 1u);
  auto entry = world_.store().getEntry("alice@example.com", meshsvc::kInboundCatalog,
                                       "EAAA-FRIEND-1");
  ASSERT_TRUE(entry.ok());
  auto data = json::parse(entry->data);
  EXPECT_EQ(data["Contact"], "known-contact");
  EXPECT_EQ(data["Sender"], "");  // the claimed address was not verified, only the key
  EXPECT_EQ(data["SenderUdf"], keyIdentity(friend_key));
  // A retry (new request, same envelope) is accepted and not stored twice.
  r = post("alice@example.com", {env}, remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-FRIEND-1"}));
  EXPECT_EQ(stored("alice@example.com", meshsvc::kInboundCatalog), 1u);
  // Another envelope under the same id is refused, the stored one kept.
  r = post("alice@example.com",
           {makeMessageEnvelope("EAAA-FRIEND-1", "carol@elsewhere.example", newSigningKey())},
           remote_service_);
  EXPECT_EQ(r["Errors"][0]["ErrorCode"], "DuplicateEnvelopeId");
}

TEST_F(Post, LocalSenderVerifiedByItsProfileMatchesAnAddressContact) {
  world_.addAccount("alice@example.com", "contacts-only");
  AccountKeys bob = world_.addAccount("bob@example.com");
  world_.addContact("alice@example.com", "bob@example.com");
  // Bob's own key, claiming bob: verified against his profile, the address contact matches.
  json r = post("alice@example.com",
                {makeMessageEnvelope("EAAA-BOB-1", "bob@example.com", bob.authentication),
                 // Someone else claiming to be bob: not verified, a stranger.
                 makeMessageEnvelope("EAAA-FAKEBOB", "bob@example.com", newSigningKey())},
                remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-BOB-1"})) << r;
  EXPECT_EQ(r["Rejected"], json::array({"EAAA-FAKEBOB"}));
  EXPECT_EQ(r["Errors"][0]["ErrorCode"], "ContactRequired");
}

TEST_F(Post, OpenAccountAcceptsAndQuarantineHolds) {
  world_.addAccount("open@example.com", "open");
  world_.addAccount("careful@example.com", "quarantine-unknown");
  json r = post("open@example.com", {makeMessageEnvelope("EAAA-O1", "x@y.example", newSigningKey())},
                remote_service_);
  EXPECT_EQ(r["Accepted"].size(), 1u) << r;
  EXPECT_EQ(stored("open@example.com", meshsvc::kInboundCatalog), 1u);
  r = post("careful@example.com", {makeMessageEnvelope("EAAA-Q1", "x@y.example", newSigningKey())},
           remote_service_);
  EXPECT_EQ(r["Accepted"].size(), 1u) << r;
  EXPECT_EQ(stored("careful@example.com", meshsvc::kInboundCatalog), 0u);
  EXPECT_EQ(stored("careful@example.com", meshsvc::kHeldCatalog), 1u);
}

TEST_F(Post, FullHeldAndContactRequestCatalogsRefuseMoreForNow) {
  world_.addAccount("careful@example.com", "quarantine-unknown");
  for (std::string_view catalog : {meshsvc::kHeldCatalog, meshsvc::kContactRequestsCatalog}) {
    for (int i = 0; i < meshsvc::kMaxWaitingPerAccount; ++i) {
      CatalogEntry e{
          "careful@example.com", std::string(catalog), "W-" + std::to_string(i), "{}", kNow, 0};
      ASSERT_TRUE(world_.store().putEntry(e, std::nullopt).ok());
    }
  }
  json r = post("careful@example.com",
                {makeMessageEnvelope("EAAA-Q1", "x@y.example", newSigningKey()),
                 makeContactRequestEnvelope("EAAA-ASK-1", "z@y.example", newSigningKey())},
                remote_service_);
  EXPECT_TRUE(r.value("Accepted", json::array()).empty()) << r;
  EXPECT_EQ(r["Rejected"], json::array({"EAAA-Q1", "EAAA-ASK-1"})) << r;
  ASSERT_EQ(r["Errors"].size(), 2u) << r;
  EXPECT_EQ(r["Errors"][0]["ErrorCode"], "TryLater");
  EXPECT_EQ(r["Errors"][1]["ErrorCode"], "TryLater");
  EXPECT_FALSE(
      world_.store().getEntry("careful@example.com", meshsvc::kHeldCatalog, "EAAA-Q1").ok());
  auto audit = world_.store().readAudit(1, 100);
  ASSERT_TRUE(audit.ok());
  std::vector<std::string> rules;
  for (const auto& a : *audit) {
    if (a.action == "tempfail") rules.push_back(a.rule);
  }
  EXPECT_EQ(rules, (std::vector<std::string>{"quarantine.full", "contacts.requests-full"}));
  // One decided (deleted) makes room again.
  ASSERT_TRUE(world_.store().deleteEntry("careful@example.com", meshsvc::kHeldCatalog, "W-0").ok());
  r = post("careful@example.com", {makeMessageEnvelope("EAAA-Q2", "x@y.example", newSigningKey())},
           remote_service_);
  EXPECT_EQ(r["Accepted"], json::array({"EAAA-Q2"})) << r;
}

TEST_F(Post, RefusesUnsignedRequestsAndBadEnvelopes) {
  world_.addAccount("alice@example.com", "open");
  auto good = makeMessageEnvelope("EAAA-G1", "x@y.example", newSigningKey());
  plainCall(json{{"PostRequest",
                  {{"Account", "alice@example.com"},
                   {"Envelopes", json::array({mesh::dareToJson(good)})}}}},
            401, "PostResponse");
  auto tampered = good;
  tampered.header.envelope_id = "EAAA-G2";  // header-bound: the signature no longer holds
  mesh::DareEnvelope unsigned_env;
  unsigned_env.header.envelope_id = "EAAA-G3";
  unsigned_env.payload = toBytes("{\"RequestContact\":{}}");
  mesh::DareEnvelope no_id = good;
  no_id.header.envelope_id.reset();
  json r = post("alice@example.com", {tampered, unsigned_env, no_id}, remote_service_);
  EXPECT_TRUE(r.value("Accepted", json::array()).empty()) << r;
  ASSERT_EQ(r["Errors"].size(), 3u) << r;
  EXPECT_EQ(r["Errors"][0]["ErrorCode"], "BadSignature");
  EXPECT_EQ(r["Errors"][1]["ErrorCode"], "NotSigned");
  EXPECT_EQ(r["Errors"][2]["ErrorCode"], "InvalidEnvelope");
  EXPECT_EQ(stored("alice@example.com", meshsvc::kInboundCatalog), 0u);
  post("ghost@example.com", {good}, remote_service_, 404);
  post("alice@example.com", {}, remote_service_, 400);
}

// ---- authentication and replay (seed 8.1.4, 8.1.5) ----------------------------------------------

TEST_F(Dispatcher, StaleOrFutureTimestampIsRefusedAndChangesNothing) {
  const std::string create =
      portalRequest("CreateRequest", {{"Account", "late@example.com"}}).dump();
  for (int64_t skew : {-301, 301, -86400}) {
    std::string body = world_.signedRequest(json::parse(create), world_.adminKey(), "",
                                            kNow + skew);
    auto r = world_.dispatch(body);
    EXPECT_EQ(r.status, 401) << skew << " " << r.body;
    auto opened = world_.openSigned(r.body, world_.lastNonce());
    ASSERT_TRUE(opened.ok()) << r.body;  // the error is signed and bound too
    EXPECT_NE(opened->begin().value().value("StatusDescription", "").find("window"),
              std::string::npos);
  }
  EXPECT_FALSE(accountExists("late@example.com"));
  EXPECT_EQ(world_.auditCount(), 0);
  // Inside the window either way: accepted.
  std::string body = world_.signedRequest(json::parse(create), world_.adminKey(), "", kNow - 299);
  EXPECT_EQ(world_.dispatch(body).status, 201);
}

TEST_F(Dispatcher, ReplayedNonceIsRefusedAndChangesNothing) {
  AccountKeys alice = world_.addAccount("alice@example.com");
  std::string body = world_.signedRequest(
      portalRequest("DeleteRequest", {{"Account", "alice@example.com"}}), alice.authentication);
  ASSERT_EQ(world_.dispatch(body).status, 201);
  world_.addAccount("alice@example.com");  // recreated by someone
  const int64_t audit = world_.auditCount();
  auto replay = world_.dispatch(body);  // the very same bytes, later
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_TRUE(accountExists("alice@example.com"));
  EXPECT_EQ(world_.auditCount(), audit);
  // The same nonce on a new, validly signed request: refused too.
  std::string again =
      world_.signedRequest(portalRequest("CreateRequest", {{"Account", "z@example.com"}}),
                           world_.adminKey(), world_.lastNonce());
  EXPECT_EQ(world_.dispatch(again).status, 401);
  EXPECT_FALSE(accountExists("z@example.com"));
}

TEST_F(Dispatcher, RaisingTheReplayWindowByReloadDoesNotReopenForgottenNonces) {
  const std::string body = acceptedThenUndone("once@example.com");
  // The 5-minute window has passed (the nonce is forgotten); a reload raises it to 10.
  world_.clock().set(kNow + 302);
  world_.dispatcher().setSettings(
      *meshsvc::makeDispatcherSettings(withReplayWindow(std::chrono::minutes(10))));
  auto replay = world_.dispatch(body);
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_FALSE(accountExists("once@example.com"));
  // New requests inside the old window pass now; older ones once no request the old window
  // accepted can still pass the new one.
  auto fresh = [&](int64_t age) {
    return world_.dispatch(createBody("once@example.com", world_.clock().now() - age));
  };
  EXPECT_EQ(fresh(10).status, 201);
  ASSERT_TRUE(world_.store().deleteAccount("once@example.com").ok());
  world_.clock().set(kNow + 302 + 301 + 600 + 1);
  EXPECT_EQ(fresh(500).status, 201);
}

TEST_F(Dispatcher, AFutureDatedRequestStaysUnreplayableAcrossLaterReloads) {
  // Created as far ahead as the 5-minute window allows: its nonce is remembered until
  // Created + 5 min, which a 10-minute window judging by the reload time alone would outlive.
  const std::string body = acceptedThenUndone("ahead@example.com", kNow + 299);
  auto wider = withReplayWindow(std::chrono::minutes(10));
  world_.clock().set(kNow + 1);
  world_.dispatcher().setSettings(*meshsvc::makeDispatcherSettings(wider));
  // A later reload that changes nothing keeps what the raise put in place.
  world_.clock().set(kNow + 2);
  world_.dispatcher().setSettings(*meshsvc::makeDispatcherSettings(wider));
  world_.clock().set(kNow + 601);  // the nonce is forgotten
  auto replay = world_.dispatch(body);
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_FALSE(accountExists("ahead@example.com"));
}

TEST_F(Dispatcher, RaisingTheReplayWindowByRestartDoesNotReopenForgottenNonces) {
  const std::string body = acceptedThenUndone("again@example.com");
  // The service restarts with a 10-minute window once the nonce is forgotten: the window the
  // last run kept nonces for is in the store.
  world_.clock().set(kNow + 302);
  auto wider = withReplayWindow(std::chrono::minutes(10));
  world_.restartDispatcher(wider);
  EXPECT_EQ(world_.dispatch(body).status, 401);
  EXPECT_FALSE(accountExists("again@example.com"));
  auto recorded =
      world_.store().getEntry("", meshsvc::kServiceStateCatalog, meshsvc::kReplayWindowKey);
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->data, "600");
  // Once nothing the 5-minute window accepted can pass, the 10-minute window applies whole.
  world_.clock().set(kNow + 302 + 301 + 600 + 1);
  world_.restartDispatcher(wider);
  EXPECT_EQ(world_.dispatch(createBody("again@example.com", world_.clock().now() - 500)).status,
            201);
}

TEST_F(Dispatcher, FailedAuthenticationDoesNotSpendTheNonce) {
  AccountKeys alice = world_.addAccount("alice@example.com");
  const std::string nonce = meshsvc::newNonce();
  // A stranger's attempt with some nonce...
  auto r = world_.dispatch(world_.signedRequest(
      portalRequest("DeleteRequest", {{"Account", "alice@example.com"}}), newSigningKey(), nonce));
  EXPECT_EQ(r.status, 401);
  // ...does not burn it for the rightful owner.
  r = world_.dispatch(
      world_.signedRequest(portalRequest("DeleteRequest", {{"Account", "alice@example.com"}}),
                           alice.authentication, nonce));
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(Dispatcher, TamperedOrMisboundRequestsAre401) {
  const json create = portalRequest("CreateRequest", {{"Account", "t@example.com"}});
  // Payload changed after signing.
  {
    auto env = mesh::parseDareEnvelope(world_.signedRequest(create, world_.adminKey()));
    ASSERT_TRUE(env.ok());
    env->payload =
        toBytes(portalRequest("CreateRequest", {{"Account", "evil@example.com"}}).dump());
    auto r = world_.dispatch(mesh::serializeDareEnvelope(*env));
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_TRUE(world_.openSigned(r.body, world_.lastNonce()).ok());
  }
  // Metadata changed after signing (a fresh nonce spliced in): the header is bound.
  {
    auto env = mesh::parseDareEnvelope(world_.signedRequest(create, world_.adminKey()));
    ASSERT_TRUE(env.ok());
    auto meta = json::parse(toString(*env->header.content_meta_data));
    meta["UniqueId"] = meshsvc::newNonce();
    env->header.content_meta_data = toBytes(meta.dump());
    EXPECT_EQ(world_.dispatch(mesh::serializeDareEnvelope(*env)).status, 401);
  }
  // No Portal, another Portal: signed for another service.
  {
    json no_portal = {{"CreateRequest", {{"Account", "t@example.com"}}}};
    EXPECT_EQ(world_.dispatch(world_.signedRequest(no_portal, world_.adminKey())).status, 401);
    json other = {{"CreateRequest", {{"Account", "t@example.com"}, {"Portal", "example.net"}}}};
    EXPECT_EQ(world_.dispatch(world_.signedRequest(other, world_.adminKey())).status, 401);
  }
  // MessageType that does not name the payload.
  {
    meshsvc::RequestMetadata meta{meshsvc::newNonce(), "HelloRequest", kNow, ""};
    auto env = meshsvc::sealRequest(create.dump(), meta, world_.adminKey());
    ASSERT_TRUE(env.ok());
    EXPECT_EQ(world_.dispatch(mesh::serializeDareEnvelope(*env)).status, 401);
  }
  // A nonce too short to be random.
  {
    auto env = mesh::parseDareEnvelope(world_.signedRequest(create, world_.adminKey()));
    auto meta = json::parse(toString(*env->header.content_meta_data));
    meta["UniqueId"] = "short";
    env->header.content_meta_data = toBytes(meta.dump());
    std::vector<mesh::PrivateKey> k{world_.adminKey()};
    env->trailer.reset();
    env->header.dig.reset();
    ASSERT_TRUE(mesh::signDare(*env, k, true, true).ok());
    EXPECT_EQ(world_.dispatch(mesh::serializeDareEnvelope(*env)).status, 401);
  }
  EXPECT_FALSE(accountExists("t@example.com"));
  EXPECT_FALSE(accountExists("evil@example.com"));
  EXPECT_EQ(world_.auditCount(), 0);
}

// ---- bad input ---------------------------------------------------------------------------------

TEST_F(Dispatcher, MalformedBodiesAre400WithAMeshResponse) {
  const std::string bodies[] = {
      "",
      "{",
      "not json",
      "[]",
      "\"HelloRequest\"",
      "{}",
      "{\"HelloRequest\":{},\"GetRequest\":{}}",
      "{\"NoSuchRequest\":{}}",
      "{\"HelloResponse\":{}}",             // a response is no request
      "{\"ProfileAccount\":{}}",            // a data type is no request
      "{\"GetRequest\":{\"Account\":5}}",   // wrong member type
      "{\"GetRequest\":[]}",
      "{\"DareEnvelope\":[1,2,3]}",
      "{\"DareEnvelope\":[{},\"@@@\",{}]}",
      std::string(200, '[') + std::string(200, ']'),  // deeper than the parser allows
  };
  for (const std::string& body : bodies) {
    auto r = world_.dispatch(body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    PlainResponse p = parsePlain(r.body);
    EXPECT_FALSE(p.type.empty()) << r.body;
    EXPECT_EQ(p.object.value("Status", -1), 400) << r.body;
    EXPECT_TRUE(p.object.value("StatusDescription", "").starts_with("Bad request")) << r.body;
  }
  // An unknown transaction names itself in the description.
  auto r = world_.dispatch("{\"NoSuchRequest\":{}}");
  EXPECT_NE(r.body.find("NoSuchRequest"), std::string::npos) << r.body;
}

TEST_F(Dispatcher, InvalidUtf8AndHugeNumbersAreRefusedNotCrashed) {
  const std::string bodies[] = {
      "{\"GetRequest\":{\"Account\":\"\xff\xfe@example.com\"}}",
      "{\"GetRequest\":{\"SearchConstraints\":{\"MaxEntries\":1e400}}}",
      "{\"ValidateRequest\":{\"Account\":\"" + std::string(100000, 'a') + "@example.com\"}}",
  };
  for (const std::string& body : bodies) {
    auto r = world_.dispatch(body);
    EXPECT_GE(r.status, 201) << r.body;
    EXPECT_LT(r.status, 500) << r.body;
    EXPECT_EQ(plainStatus(r), r.status);
  }
}

// ---- the status table ----------------------------------------------------------------------------

TEST(StatusTable, EveryCodeMapsToOneMeshStatusAndHttpMirrorsIt) {
  struct Row {
    StatusCode code;
    int status;
  } rows[] = {{StatusCode::kOk, 201},
              {StatusCode::kInvalidArgument, 400},
              {StatusCode::kUnauthenticated, 401},
              {StatusCode::kPermissionDenied, 403},
              {StatusCode::kNotFound, 404},
              {StatusCode::kDeadlineExceeded, 408},
              {StatusCode::kAlreadyExists, 409},
              {StatusCode::kFailedPrecondition, 409},
              {StatusCode::kResourceExhausted, 413},
              {StatusCode::kDataLoss, 500},
              {StatusCode::kInternal, 500},
              {StatusCode::kUnavailable, 503}};
  for (const auto& row : rows) {
    EXPECT_EQ(meshsvc::meshStatusFor(row.code).status, row.status);
  }
  EXPECT_EQ(meshsvc::meshMethodNotAllowed().status, 405);
  json body = meshsvc::meshErrorBody(unavailable(
      "cannot connect to PostgreSQL: connection to server at \"db.internal\" (10.0.0.5), port "
      "5432 failed"));
  EXPECT_EQ(body["MeshResponse"]["Status"], 503);
  EXPECT_EQ(body["MeshResponse"]["StatusDescription"], "Service unavailable");
}

TEST(StatusTable, InternalDetailsAreNotSentToClients) {
  json body = meshsvc::meshErrorBody(internalError("sqlite: /var/lib/meshgate/store.db: locked"));
  EXPECT_EQ(body["MeshResponse"]["Status"], 500);
  EXPECT_EQ(body["MeshResponse"]["StatusDescription"], "Internal error");
  body = meshsvc::meshErrorBody(dataLoss("row 17 of table accounts is corrupt"));
  EXPECT_EQ(body["MeshResponse"]["StatusDescription"], "Internal error");
}

}  // namespace
}  // namespace meshgate::meshtest
