// profile_test.cc - building Mesh profiles and every rule of their verification (seed 7.1.5):
// each rule's failure is its own test and its own message.
#include "gateway/mesh/profile.h"

#include <gtest/gtest.h>

#include <chrono>

#include "gateway/mesh/udf.h"

namespace meshgate::mesh {
namespace {

using model::DateTime;
using namespace std::chrono_literals;

const DateTime kNow{std::chrono::seconds(1'750'000'000)};

PrivateKey newKey(KeyType type = KeyType::kEd25519) {
  auto k = PrivateKey::generate(type);
  EXPECT_TRUE(k.ok());
  return *k;
}

template <typename T>
T value(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().toString();
  return std::move(r).value();
}

// Expects a failure with `code` whose message contains `text`.
template <typename T>
void expectFailure(const Result<T>& r, StatusCode code, const std::string& text) {
  ASSERT_FALSE(r.ok()) << "expected a failure containing: " << text;
  EXPECT_EQ(r.status().code(), code) << r.status().toString();
  EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().toString();
}
void expectFailure(const Status& s, StatusCode code, const std::string& text) {
  ASSERT_FALSE(s.ok()) << "expected a failure containing: " << text;
  EXPECT_EQ(s.code(), code) << s.toString();
  EXPECT_NE(s.message().find(text), std::string::npos) << s.toString();
}

class ProfileTest : public ::testing::Test {
 protected:
  PrivateKey service_key = newKey();
  PrivateKey offline = newKey();
  PrivateKey admin = newKey();
  PrivateKey encryption = newKey(KeyType::kX25519);
  PrivateKey authentication = newKey();
  SignedProfile<model::ProfileService> service = value(makeServiceProfile(service_key, kNow));
  SignedProfile<model::ProfileAccount> account = makeAccount({"alice@example.com"});

  SignedProfile<model::ProfileAccount> makeAccount(std::vector<std::string> addresses) {
    return value(makeAccountProfile({.addresses = std::move(addresses),
                                     .offline_signature = offline,
                                     .online_signature = {admin.publicKey()},
                                     .encryption = encryption.publicKey(),
                                     .authentication = authentication.publicKey(),
                                     .updated = kNow},
                                    service, service_key));
  }

  VerifiedProfile<model::ProfileService> verifiedService() {
    return value(verifyServiceProfile(service.envelope, {.now = kNow}));
  }

  // The account profile as built, re-signed by `signers` after `edit`.
  DareEnvelope resigned(std::vector<PrivateKey> signers,
                        const std::function<void(model::ProfileAccount&)>& edit = {}) {
    model::ProfileAccount p = account.profile;
    if (edit) edit(p);
    return value(sealAssertion(p, signers));
  }
};

// ---- What is built --------------------------------------------------------------------------

TEST_F(ProfileTest, ServiceProfileIsSelfSignedAndNamedByItsKey) {
  auto v = value(verifyServiceProfile(service.envelope, {.now = kNow}));
  EXPECT_EQ(v.udf, service.udf);
  EXPECT_EQ(v.signer_kid, service_key.kid());
  std::vector<PublicKey> root{service_key.publicKey()};
  EXPECT_EQ(service.udf, value(profileFingerprint(root)));
  EXPECT_EQ(service.udf.substr(0, 2), "MB");
  ASSERT_TRUE(v.profile.key_authentication);
  EXPECT_EQ(v.profile.key_authentication->udf, service_key.kid());
}

TEST_F(ProfileTest, AccountProfileCarriesItsKeysAndIsCountersigned) {
  auto svc = verifiedService();
  auto v = value(verifyAccountProfile(account.envelope, {.now = kNow}, &svc));
  const auto& p = v.profile;
  EXPECT_EQ(v.udf, account.udf);
  EXPECT_EQ(v.signer_kid, offline.kid());
  EXPECT_EQ(p.account_addresses, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(p.key_offline_signature->udf, offline.kid());
  ASSERT_EQ(p.keys_online_signature.size(), 1u);
  EXPECT_EQ(p.keys_online_signature[0].udf, admin.kid());
  EXPECT_EQ(p.key_encryption->udf, encryption.kid());
  EXPECT_EQ(keyDataType(*p.key_encryption), "X25519");
  EXPECT_EQ(p.key_authentication->udf, authentication.kid());
  ASSERT_TRUE(p.enveloped_profile_service);
  ASSERT_EQ(v.signatures.size(), 2u);
  EXPECT_EQ(v.signatures[0].kid, offline.kid());
  EXPECT_EQ(v.signatures[1].kid, service_key.kid());
  EXPECT_TRUE(v.signatures[0].header_bound);
  // The encryption key comes back as a usable key.
  auto key = value(publicKeyOf(*p.key_encryption, "KeyEncryption"));
  EXPECT_EQ(key.raw(), encryption.publicKey().raw());
}

TEST_F(ProfileTest, AccountProfileSurvivesTextRoundTrip) {
  std::string text = serializeDareEnvelope(account.envelope);
  auto parsed = value(parseDareEnvelope(text));
  auto v = value(verifyAccountProfileWithEmbeddedService(parsed, {.now = kNow,
                                                                  .expected_udf = account.udf}));
  EXPECT_EQ(v.profile, account.profile);
}

TEST_F(ProfileTest, AccountProfileNeedsTheServiceKeyOfItsServiceProfile) {
  PrivateKey other = newKey();
  auto r = makeAccountProfile({.addresses = {"a@example.com"},
                               .offline_signature = offline,
                               .online_signature = {},
                               .encryption = encryption.publicKey(),
                               .authentication = authentication.publicKey(),
                               .updated = kNow},
                              service, other);
  expectFailure(r, StatusCode::kInvalidArgument, "is not the key of the service profile");
}

TEST_F(ProfileTest, AccountEncryptionKeyMustBeAnAgreementKey) {
  auto r = makeAccountProfile({.addresses = {"a@example.com"},
                               .offline_signature = offline,
                               .online_signature = {},
                               .encryption = authentication.publicKey(),
                               .authentication = authentication.publicKey(),
                               .updated = kNow},
                              service, service_key);
  expectFailure(r, StatusCode::kInvalidArgument, "must be X25519 or X448");
}

// ---- Rule: signed by its offline signature key or an online key it lists ---------------------

TEST_F(ProfileTest, ProfileSignedByAnOnlineKeyItListsIsValid) {
  DareEnvelope env = resigned({admin});
  auto v = value(verifyAccountProfile(env, {.now = kNow}, nullptr));
  EXPECT_EQ(v.signer_kid, admin.kid());
}

TEST_F(ProfileTest, ProfileSignedByAKeyItDoesNotListIsRefused) {
  PrivateKey stranger = newKey();
  auto r = verifyAccountProfile(resigned({stranger}), {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kPermissionDenied,
                "not signed by its offline signature key (" + offline.kid() +
                    ") or an online signature key it lists; signed by " + stranger.kid());
}

TEST_F(ProfileTest, ProfileSignedOnlyByTheServiceIsNotSignedByItsOwnKey) {
  auto svc = verifiedService();
  auto r = verifyAccountProfile(resigned({service_key}), {.now = kNow}, &svc);
  expectFailure(r, StatusCode::kPermissionDenied, "not signed by its offline signature key");
}

TEST_F(ProfileTest, UnsignedProfileIsRefused) {
  model::ProfileAccount p = account.profile;
  DareSealOptions options;
  auto env = value(sealDare(asBytes(model::serialize(p)), options));
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kDataLoss, ": not signed");
}

// ---- Rule: every signature verifies ----------------------------------------------------------

TEST_F(ProfileTest, ChangedPayloadFailsSignatureCheck) {
  DareEnvelope env = account.envelope;
  // Swap the encryption key inside the signed payload for another one.
  PrivateKey mallory = newKey(KeyType::kX25519);
  model::ProfileAccount p = account.profile;
  p.key_encryption = keyDataOf(mallory.publicKey());
  env.payload = toBytes(model::serialize(p));
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().toString();
  EXPECT_NE(r.status().message().find("ProfileAccount " + account.udf), std::string::npos)
      << r.status().toString();
}

TEST_F(ProfileTest, ChangedHeaderFailsSignatureCheck) {
  DareEnvelope env = account.envelope;
  env.header.envelope_id = "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF";
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kDataLoss, "does not verify");
}

TEST_F(ProfileTest, SignatureClaimingTheOfflineKidIsRefused) {
  PrivateKey mallory = newKey();
  DareEnvelope env = resigned({mallory});
  (*env.trailer->signatures)[0].kid = offline.kid();  // lie about who signed
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().toString();
}

// ---- Rule: the fingerprint matches the claimed UDF -------------------------------------------

TEST_F(ProfileTest, FingerprintMustMatchTheClaimedUdf) {
  auto ok = verifyAccountProfile(account.envelope, {.now = kNow, .expected_udf = account.udf},
                                 nullptr);
  EXPECT_TRUE(ok.ok()) << ok.status().toString();
  auto r = verifyAccountProfile(account.envelope, {.now = kNow, .expected_udf = service.udf},
                                nullptr);
  expectFailure(r, StatusCode::kDataLoss,
                "fingerprint " + account.udf + " does not match the claimed UDF " + service.udf);
}

TEST_F(ProfileTest, ReplacedOfflineKeyChangesTheFingerprint) {
  // Mallory rebuilds the whole profile around her own offline key: self-consistent, but not the
  // profile that was asked for.
  PrivateKey mallory = newKey();
  DareEnvelope env = resigned({mallory}, [&](model::ProfileAccount& p) {
    p.key_offline_signature = keyDataOf(mallory.publicKey());
  });
  auto r = verifyAccountProfile(env, {.now = kNow, .expected_udf = account.udf}, nullptr);
  expectFailure(r, StatusCode::kDataLoss, "does not match the claimed UDF " + account.udf);
}

TEST_F(ProfileTest, ProfileUdfIsAPrefixMatch) {
  auto r = verifyAccountProfile(account.envelope,
                                {.now = kNow, .expected_udf = account.udf.substr(0, 24)}, nullptr);
  EXPECT_TRUE(r.ok()) << r.status().toString();
}

// ---- Rule: a KeyData's UDF is the kid of its key ----------------------------------------------

TEST_F(ProfileTest, KeyDataWhoseUdfIsNotItsKeyIsRefused) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    p.key_encryption->udf = admin.kid();
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kDataLoss,
                "KeyEncryption: UDF " + admin.kid() + " is not the fingerprint of its public key");
}

TEST_F(ProfileTest, OfflineKeyDataWhoseUdfIsNotItsKeyIsRefused) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    p.key_offline_signature->udf = admin.kid();
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kDataLoss, "ProfileAccount.KeyOfflineSignature: UDF ");
}

TEST_F(ProfileTest, KeyDataWithPrivateParametersIsRefused) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    model::PrivateKeyECDH priv;
    priv.crv = "X25519";
    priv.private_key = encryption.rawPrivate();
    p.key_encryption->public_parameters = priv;
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kInvalidArgument, "PublicParameters holds a private key");
}

TEST_F(ProfileTest, ProfileWithoutOfflineKeyIsRefused) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    p.key_offline_signature.reset();
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kInvalidArgument, "no KeyOfflineSignature");
}

TEST_F(ProfileTest, AccountProfileWithoutEncryptionKeyIsRefused) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) { p.key_encryption.reset(); });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kInvalidArgument, "no KeyEncryption");
}

TEST_F(ProfileTest, AccountEncryptionKeyThatCannotEncryptIsRefused) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    p.key_encryption = keyDataOf(authentication.publicKey());
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kInvalidArgument, "is not an encryption (key agreement) key");
}

// ---- Rule: keys outside NotBefore / NotOnOrAfter are rejected ---------------------------------

TEST_F(ProfileTest, ExpiredSigningKeyIsRejected) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    p.key_offline_signature->not_on_or_after = kNow;  // "not valid on or after": now is out
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kFailedPrecondition,
                "KeyOfflineSignature (kid " + offline.kid() + "): expired at");
  // One second earlier the same profile is fine.
  EXPECT_TRUE(verifyAccountProfile(env, {.now = kNow - 1s}, nullptr).ok());
}

TEST_F(ProfileTest, SigningKeyNotYetValidIsRejected) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    p.key_offline_signature->not_before = kNow + 1s;
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kFailedPrecondition, "not valid before");
  EXPECT_TRUE(verifyAccountProfile(env, {.now = kNow + 1s}, nullptr).ok());
}

TEST_F(ProfileTest, ExpiredOnlineKeyDoesNotAuthorize) {
  DareEnvelope env = resigned({admin}, [&](model::ProfileAccount& p) {
    p.keys_online_signature[0].not_on_or_after = kNow - 1h;
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kFailedPrecondition, "KeysOnlineSignature[0]");
}

TEST_F(ProfileTest, ExpiredEncryptionKeyIsRejected) {
  DareEnvelope env = resigned({offline}, [&](model::ProfileAccount& p) {
    p.key_encryption->not_on_or_after = kNow - 1s;
  });
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kFailedPrecondition, "KeyEncryption (kid " + encryption.kid() +
                                                        "): expired at");
}

TEST(KeyValidity, BoundsAreInclusiveAndExclusive) {
  auto key = value(PrivateKey::generate(KeyType::kEd25519));
  model::KeyData k = keyDataOf(key.publicKey(), {.not_before = kNow, .not_on_or_after = kNow + 10s});
  EXPECT_TRUE(checkKeyValidity(k, kNow, "k").ok());
  EXPECT_TRUE(checkKeyValidity(k, kNow + 9s, "k").ok());
  expectFailure(checkKeyValidity(k, kNow - 1s, "k"), StatusCode::kFailedPrecondition,
                "not valid before 2025-06-15T15:06:40Z (NotBefore; now 2025-06-15T15:06:39Z)");
  expectFailure(checkKeyValidity(k, kNow + 10s, "k"), StatusCode::kFailedPrecondition,
                "expired at 2025-06-15T15:06:50Z (NotOnOrAfter");
}

// ---- Rule: the account profile is countersigned by its service ---------------------------------

TEST_F(ProfileTest, AccountProfileWithoutServiceCountersignatureIsRefused) {
  auto svc = verifiedService();
  auto r = verifyAccountProfile(resigned({offline}), {.now = kNow}, &svc);
  expectFailure(r, StatusCode::kPermissionDenied,
                "not countersigned by its service " + service.udf + " (service key " +
                    service_key.kid() + ")");
  // Without a service to check against, the same profile passes the other rules.
  EXPECT_TRUE(verifyAccountProfile(resigned({offline}), {.now = kNow}, nullptr).ok());
}

TEST_F(ProfileTest, AccountProfileCountersignedByAnotherServiceIsRefused) {
  PrivateKey other_key = newKey();
  auto other = value(makeServiceProfile(other_key, kNow));
  auto other_verified = value(verifyServiceProfile(other.envelope, {.now = kNow}));
  auto r = verifyAccountProfile(account.envelope, {.now = kNow}, &other_verified);
  expectFailure(r, StatusCode::kPermissionDenied, "not countersigned by its service " + other.udf);
}

TEST_F(ProfileTest, EmbeddedServiceProfileMustBeTheCountersigningService) {
  // Countersigned by the right service, but carrying another service's profile.
  PrivateKey other_key = newKey();
  auto other = value(makeServiceProfile(other_key, kNow));
  DareEnvelope env = resigned({offline, service_key}, [&](model::ProfileAccount& p) {
    p.enveloped_profile_service = other.envelope;
  });
  auto svc = verifiedService();
  auto r = verifyAccountProfile(env, {.now = kNow}, &svc);
  expectFailure(r, StatusCode::kDataLoss,
                "EnvelopedProfileService: fingerprint " + other.udf +
                    " does not match the claimed UDF " + service.udf);
}

TEST_F(ProfileTest, EmbeddedServiceProfileIsVerifiedToo) {
  DareEnvelope broken = service.envelope;
  broken.payload.back() ^= 1;
  DareEnvelope env = resigned({offline, service_key}, [&](model::ProfileAccount& p) {
    p.enveloped_profile_service = broken;
  });
  auto r = verifyAccountProfileWithEmbeddedService(env, {.now = kNow});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ProfileAccount.EnvelopedProfileService"),
            std::string::npos)
      << r.status().toString();
}

TEST_F(ProfileTest, ProfileWithoutEmbeddedServiceCannotBeCheckedAgainstIt) {
  DareEnvelope env = resigned({offline, service_key},
                              [&](model::ProfileAccount& p) { p.enveloped_profile_service.reset(); });
  auto r = verifyAccountProfileWithEmbeddedService(env, {.now = kNow});
  expectFailure(r, StatusCode::kPermissionDenied, "carries no EnvelopedProfileService");
}

TEST_F(ProfileTest, ExpiredServiceKeyDoesNotCountersign) {
  model::ProfileService p = service.profile;
  p.key_offline_signature->not_on_or_after = kNow + 1h;  // the service profile itself is valid now
  auto svc_env = value(sealAssertion(p, std::vector<PrivateKey>{service_key}));
  auto svc = value(verifyServiceProfile(svc_env, {.now = kNow}));
  svc.profile.key_offline_signature->not_on_or_after = kNow - 1s;  // as if judged later
  auto r = verifyAccountProfile(account.envelope, {.now = kNow}, &svc);
  expectFailure(r, StatusCode::kFailedPrecondition, "countersigned with a service key not valid now");
}

// ---- Envelope and payload shape -------------------------------------------------------------

TEST_F(ProfileTest, PayloadOfAnotherTypeIsRefused) {
  auto r = verifyAccountProfile(service.envelope, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kInvalidArgument,
                "payload is not a valid ProfileAccount: expected a ProfileAccount, got "
                "\"ProfileService\"");
}

TEST_F(ProfileTest, EncryptedProfileIsRefused) {
  DareSealOptions options;
  options.signers = {offline};
  options.recipients = {encryption.publicKey()};
  auto env = value(sealDare(asBytes(model::serialize(account.profile)), options));
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kInvalidArgument, "the envelope is encrypted");
}

TEST_F(ProfileTest, OversizedPayloadIsRefused) {
  DareEnvelope env = account.envelope;
  env.payload.resize(kMaxProfileBytes + 1, ' ');
  auto r = verifyAccountProfile(env, {.now = kNow}, nullptr);
  expectFailure(r, StatusCode::kResourceExhausted, "over the");
}

// ---- Rule: the profile lists the address ----------------------------------------------------

TEST_F(ProfileTest, ProfileMustListTheAddress) {
  EXPECT_TRUE(checkListsAddress(account.profile, "Alice@Example.com").ok());
  expectFailure(checkListsAddress(account.profile, "bob@example.com"),
                StatusCode::kPermissionDenied,
                "does not list the address bob@example.com (it lists: alice@example.com)");
}

// ---- Devices: connections signed by an administration device; the catalog -----------------

class DeviceTest : public ProfileTest {
 protected:
  PrivateKey device_offline = newKey();
  PrivateKey device_encryption = newKey(KeyType::kX25519);
  PrivateKey device_authentication = newKey();
  PrivateKey device_signature = newKey();  // the device's key under the account
  SignedProfile<model::ProfileDevice> device =
      value(makeDeviceProfile(device_offline, device_encryption.publicKey(),
                              device_authentication.publicKey(), "Alice's laptop", kNow));

  DeviceConnectionParams connectionParams() {
    return {.master_udf = account.udf,
            .device_udf = device.udf,
            .signature = device_signature.publicKey(),
            .encryption = device_encryption.publicKey(),
            .authentication = device_authentication.publicKey(),
            .permissions = {{.name = "Message", .role = "Sender"}},
            .updated = kNow};
  }
  SignedProfile<model::ConnectionDevice> connect(const PrivateKey& signer) {
    return value(makeDeviceConnection(connectionParams(), signer));
  }
};

TEST_F(DeviceTest, DeviceProfileIsSelfSigned) {
  auto v = value(verifyDeviceProfile(device.envelope, {.now = kNow, .expected_udf = device.udf}));
  EXPECT_EQ(v.signer_kid, device_offline.kid());
  EXPECT_EQ(v.profile.description, "Alice's laptop");
}

TEST_F(DeviceTest, ConnectionSignedByAnAdministrationKeyIsValid) {
  auto c = connect(admin);
  auto v = value(verifyDeviceConnection(c.envelope, account.profile, account.udf, device.udf, kNow));
  EXPECT_EQ(v.signer_kid, admin.kid());
  EXPECT_EQ(v.profile.key_signature->udf, device_signature.kid());
}

TEST_F(DeviceTest, ConnectionSignedByTheOfflineKeyIsNotAnAdministrationDevice) {
  auto c = connect(offline);
  auto r = verifyDeviceConnection(c.envelope, account.profile, account.udf, device.udf, kNow);
  expectFailure(r, StatusCode::kPermissionDenied,
                "not signed by an administration device of profile " + account.udf +
                    " (its administration keys: " + admin.kid() + "); signed by " + offline.kid());
}

TEST_F(DeviceTest, ConnectionSignedByTheDeviceItselfIsRefused) {
  auto c = connect(device_offline);
  auto r = verifyDeviceConnection(c.envelope, account.profile, account.udf, device.udf, kNow);
  expectFailure(r, StatusCode::kPermissionDenied, "not signed by an administration device");
}

TEST_F(DeviceTest, MasterWithoutAdministrationKeysAuthorizesNothing) {
  model::ProfileAccount master = account.profile;
  master.keys_online_signature.clear();
  auto c = connect(admin);
  auto r = verifyDeviceConnection(c.envelope, master, account.udf, device.udf, kNow);
  expectFailure(r, StatusCode::kPermissionDenied, "lists no administration key");
}

TEST_F(DeviceTest, ConnectionForAnotherMasterIsRefused) {
  auto params = connectionParams();
  params.master_udf = service.udf;
  auto c = value(makeDeviceConnection(params, admin));
  auto r = verifyDeviceConnection(c.envelope, account.profile, account.udf, device.udf, kNow);
  expectFailure(r, StatusCode::kDataLoss,
                "AuthorityUDF " + service.udf + " is not the master profile " + account.udf);
}

TEST_F(DeviceTest, ConnectionForAnotherDeviceIsRefused) {
  auto c = connect(admin);
  auto r = verifyDeviceConnection(c.envelope, account.profile, account.udf, account.udf, kNow);
  expectFailure(r, StatusCode::kDataLoss, "SubjectUDF " + device.udf + " is not the device profile");
}

TEST_F(DeviceTest, ConnectionByAnExpiredAdministrationKeyIsRefused) {
  model::ProfileAccount master = account.profile;
  master.keys_online_signature[0].not_on_or_after = kNow;
  auto c = connect(admin);
  auto r = verifyDeviceConnection(c.envelope, master, account.udf, device.udf, kNow);
  expectFailure(r, StatusCode::kFailedPrecondition, "administration key KeysOnlineSignature[0]");
}

TEST_F(DeviceTest, TamperedConnectionIsRefused) {
  auto c = connect(admin);
  model::ConnectionDevice changed = c.profile;
  changed.permissions.push_back({.name = "Administrator", .role = "Administrator"});
  c.envelope.payload = toBytes(model::serialize(changed));
  auto r = verifyDeviceConnection(c.envelope, account.profile, account.udf, device.udf, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().toString();
}

TEST_F(DeviceTest, CatalogSignedByAnAdministrationDeviceVerifies) {
  auto c = connect(admin);
  auto entry = value(makeCatalogedDevice(device, c, admin));
  std::vector<DareEnvelope> catalog{entry.envelope, entry.envelope};
  auto v = value(verifyDeviceCatalog(catalog, account.profile, account.udf, kNow));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].device.udf, device.udf);
  EXPECT_EQ(v[0].entry.signer_kid, admin.kid());
  EXPECT_EQ(v[0].connection.profile.key_signature->udf, device_signature.kid());
}

TEST_F(DeviceTest, CatalogEntryNotSignedByAnAdministrationDeviceIsRefused) {
  auto c = connect(admin);
  auto good = value(makeCatalogedDevice(device, c, admin));
  auto bad = value(makeCatalogedDevice(device, c, device_offline));
  std::vector<DareEnvelope> catalog{good.envelope, bad.envelope};
  auto r = verifyDeviceCatalog(catalog, account.profile, account.udf, kNow);
  expectFailure(r, StatusCode::kPermissionDenied,
                "device catalog entry 1: CatalogedDevice " + device.udf +
                    ": not signed by an administration device");
}

TEST_F(DeviceTest, CatalogEntryWithConnectionNotByAnAdministratorIsRefused) {
  auto c = connect(offline);  // the entry is signed by the admin, its credential is not
  auto entry = value(makeCatalogedDevice(device, c, admin));
  auto r = verifyCatalogedDevice(entry.envelope, account.profile, account.udf, kNow);
  expectFailure(r, StatusCode::kPermissionDenied, "ConnectionDevice of " + device.udf +
                                                      ": not signed by an administration device");
}

TEST_F(DeviceTest, CatalogEntryWithAnotherDevicesProfileIsRefused) {
  auto c = connect(admin);
  PrivateKey other_offline = newKey();
  auto other = value(makeDeviceProfile(other_offline, device_encryption.publicKey(),
                                       device_authentication.publicKey(), "", kNow));
  auto entry = value(makeCatalogedDevice(device, c, admin));
  entry.profile.enveloped_profile_device = other.envelope;  // DeviceUDF still names `device`
  auto env = value(sealAssertion(entry.profile, std::vector<PrivateKey>{admin}));
  auto r = verifyCatalogedDevice(env, account.profile, account.udf, kNow);
  expectFailure(r, StatusCode::kDataLoss,
                "fingerprint " + other.udf + " does not match the claimed UDF " + device.udf);
}

TEST_F(DeviceTest, CatalogEntryWhoseUdfIsNotTheDeviceSignatureKeyIsRefused) {
  auto c = connect(admin);
  auto entry = value(makeCatalogedDevice(device, c, admin));
  entry.profile.udf = device_offline.kid();
  auto env = value(sealAssertion(entry.profile, std::vector<PrivateKey>{admin}));
  auto r = verifyCatalogedDevice(env, account.profile, account.udf, kNow);
  expectFailure(r, StatusCode::kDataLoss,
                "is not the device's signature key in its connection (" + device_signature.kid());
}

TEST_F(DeviceTest, TamperedCatalogEntryIsRefused) {
  auto c = connect(admin);
  auto entry = value(makeCatalogedDevice(device, c, admin));
  model::CatalogedDevice changed = entry.profile;
  changed.labels.push_back("trusted");
  entry.envelope.payload = toBytes(model::serialize(changed));
  auto r = verifyCatalogedDevice(entry.envelope, account.profile, account.udf, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().toString();
}

}  // namespace
}  // namespace meshgate::mesh
