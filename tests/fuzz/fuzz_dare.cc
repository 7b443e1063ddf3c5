// libFuzzer target: arbitrary bytes as a DARE envelope. Parses, checks that a parsed envelope
// serializes to text that parses back to the same envelope, verifies its signatures (with a
// fixed trusted key and with embedded keys), reads its content type and tries to decrypt it
// with fixed X25519/X448 keys, so the corpus's envelopes sealed to those keys reach the
// decryption path. Any crash, leak or broken invariant is a finding; errors are expected.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"

namespace {

using namespace meshgate;
using namespace meshgate::mesh;

void check(bool ok) {
  if (!ok) std::abort();
}

// Fixed keys (raw private keys of all 0x01 / 0x02 / 0x03 / 0x04 bytes) so that corpus envelopes
// can be sealed by and to them. The corpus's signed and encrypted envelopes were made with
// `meshgate dare seal --sign ... --encrypt-to ...` and key files holding these raw keys
// ({"PrivateKeyECDH":{"crv":"Ed25519","Private":"AQEB...AQE"}} etc.); the two vector_*.json
// are the published examples.
struct FixedKeys {
  std::vector<PrivateKey> decrypt;
  std::vector<PublicKey> trusted;
  FixedKeys() {
    decrypt.push_back(PrivateKey::fromRaw(KeyType::kX25519, Bytes(32, 0x03)).value());
    decrypt.push_back(PrivateKey::fromRaw(KeyType::kX448, Bytes(56, 0x04)).value());
    trusted.push_back(PrivateKey::fromRaw(KeyType::kEd25519, Bytes(32, 0x01)).value().publicKey());
    trusted.push_back(PrivateKey::fromRaw(KeyType::kEd448, Bytes(57, 0x02)).value().publicKey());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const FixedKeys keys;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  Result<DareEnvelope> env = parseDareEnvelope(input);
  if (!env.ok()) {
    check(!env.status().message().empty());
    return 0;
  }
  // The codec is lossless: text -> envelope -> text -> envelope is the identity.
  Result<DareEnvelope> again = parseDareEnvelope(serializeDareEnvelope(*env));
  check(again.ok());
  check(*again == *env);
  check(dareToJson(*again) == dareToJson(*env));

  Result<std::vector<DareSignatureCheck>> trusted = verifyDare(*env, keys.trusted);
  if (!trusted.ok()) check(trusted.status().code() == StatusCode::kDataLoss);
  DareVerifyOptions strict;
  strict.allow_embedded_keys = false;
  strict.require_header_binding = true;
  Result<std::vector<DareSignatureCheck>> strict_result = verifyDare(*env, keys.trusted, strict);
  // Strict verification never accepts what lenient verification refuses.
  if (strict_result.ok()) check(trusted.ok());

  (void)dareContentType(env->header);
  for (const PrivateKey& k : keys.decrypt) (void)decryptDare(*env, k);
  (void)openDare(*env, keys.decrypt, keys.trusted);
  return 0;
}
