// dare_command.cc - `meshgate dare seal|verify|open`: DARE envelopes from the command line.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <vector>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/keys.h"

namespace meshgate::cli {
namespace {

// A payload must fit an envelope of kMaxDareTextBytes once base64url-encoded.
constexpr size_t kMaxPayloadBytes = mesh::kMaxDareTextBytes / 4 * 3 - 64 * 1024;

// Reads FILE (or stdin for "" and "-"), refusing more than `limit` bytes.
Result<std::string> readInput(const std::string& file, size_t limit) {
  const bool use_stdin = file.empty() || file == "-";
  const std::string name = use_stdin ? "stdin" : file;
  std::FILE* f = use_stdin ? stdin : std::fopen(file.c_str(), "rb");
  if (f == nullptr) return notFound(file + ": " + std::strerror(errno));
  std::string data;
  std::vector<char> buffer(1 << 16);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) {
    if (data.size() + n > limit) {
      if (!use_stdin) std::fclose(f);
      return resourceExhausted(name + ": larger than the limit of " + std::to_string(limit) +
                               " bytes");
    }
    data.append(buffer.data(), n);
  }
  const bool failed = std::ferror(f) != 0;
  if (!use_stdin) std::fclose(f);
  if (failed) return unavailable(name + ": read error");
  return data;
}

Result<mesh::DareEnvelope> readEnvelope(const std::string& file) {
  MESHGATE_ASSIGN_OR_RETURN(std::string text, readInput(file, mesh::kMaxDareTextBytes));
  auto env = mesh::parseDareEnvelope(text);
  if (!env.ok()) return env.status().withContext(file == "-" ? "stdin" : file);
  return env;
}

std::string describe(const mesh::DareSignatureCheck& c) {
  return "Verified: " + c.kid + " (" + c.alg +
         "; key: " + (c.embedded_key ? "embedded SignatureKey" : "--key") +
         "; covers: " + (c.header_bound ? "header, payload and trailer" : "payload only") + ")";
}

int dareSeal(const Args& args) {
  const std::string cmd = "meshgate dare seal";
  std::vector<std::string> sign_files, encrypt_files;
  std::string content_type, file;
  bool reference = false, no_signature_key = false;
  ArgParser p(cmd,
              "Seal FILE (or standard input) in a DARE envelope, written to standard output: "
              "encrypted to\nevery --encrypt-to key, then signed by every --sign key. Signatures "
              "cover the header and\ntrailer too (meshgate's MGB1 binding) unless "
              "--reference-signatures is given.");
  p.repeated("sign", "KEYFILE", "sign with this Ed25519 or Ed448 private key", &sign_files);
  p.repeated("encrypt-to", "KEYFILE", "encrypt to this X25519 or X448 public key", &encrypt_files);
  p.option("content-type", "TYPE", "record the payload's content type (ContentMetaData cty)",
           &content_type);
  p.flag("reference-signatures",
         "sign the payload digest only, as the reference implementation does", &reference);
  p.flag("no-signature-key", "do not embed the signers' public keys", &no_signature_key);
  p.positional("FILE", "the payload; '-' or nothing for standard input", &file, false);
  p.epilog(
      "Example: meshgate dare seal --sign alice.key --encrypt-to bob.key.pub msg.eml > msg.dare");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;

  mesh::DareSealOptions options;
  for (const std::string& f : sign_files) {
    auto k = mesh::loadPrivateKeyFile(f);
    if (!k.ok()) return reportError(cmd, k.status());
    if (!mesh::isSignatureKey(k->type())) {
      return reportError(
          cmd, invalidArgument(f + ": a key of type " + std::string(mesh::keyTypeName(k->type())) +
                               " cannot sign (use Ed25519 or Ed448)"));
    }
    options.signers.push_back(*k);
  }
  for (const std::string& f : encrypt_files) {
    auto k = mesh::loadPublicKeyFile(f);
    if (!k.ok()) return reportError(cmd, k.status());
    if (!mesh::isAgreementKey(k->type())) {
      return reportError(cmd, invalidArgument(f + ": cannot encrypt to a key of type " +
                                              std::string(mesh::keyTypeName(k->type())) +
                                              " (use X25519 or X448)"));
    }
    options.recipients.push_back(*k);
  }
  if (!content_type.empty()) options.content_type = content_type;
  options.bind_header = !reference;
  options.embed_signature_keys = !no_signature_key;
  auto payload = readInput(file, kMaxPayloadBytes);
  if (!payload.ok()) return reportError(cmd, payload.status());
  auto env = mesh::sealDare(asBytes(*payload), options);
  if (!env.ok()) return reportError(cmd, env.status());
  std::cout << mesh::serializeDareEnvelope(*env) << "\n";
  return 0;
}

int dareVerify(const Args& args) {
  const std::string cmd = "meshgate dare verify";
  std::vector<std::string> key_files;
  std::string file;
  bool require_binding = false, no_embedded = false;
  ArgParser p(cmd,
              "Verify every signature of a DARE envelope. Each signature is checked with the "
              "--key whose kid\nit names, else with the public key embedded in it (SignatureKey). "
              "Prints one line per signer.");
  p.repeated("key", "KEYFILE", "a trusted signer's key (public or private)", &key_files);
  p.flag("require-binding", "refuse reference signatures that do not cover the header",
         &require_binding);
  p.flag("no-embedded-keys", "use only --key keys, never an embedded SignatureKey", &no_embedded);
  p.positional("ENVELOPE", "the envelope file; '-' for standard input", &file);
  p.epilog(
      "Exit status: 0 when every signature verifies, 1 otherwise (the reason on stderr), "
      "2 on a usage error.\nAn embedded SignatureKey proves integrity, not identity: compare "
      "the kid with one you trust.");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  std::vector<mesh::PublicKey> keys;
  for (const std::string& f : key_files) {
    auto k = mesh::loadPublicKeyFile(f);
    if (!k.ok()) return reportError(cmd, k.status());
    keys.push_back(*k);
  }
  auto env = readEnvelope(file);
  if (!env.ok()) return reportError(cmd, env.status());
  mesh::DareVerifyOptions options;
  options.require_header_binding = require_binding;
  options.allow_embedded_keys = !no_embedded;
  auto checks = mesh::verifyDare(*env, keys, options);
  if (!checks.ok()) return reportError(cmd, checks.status().withContext(file));
  for (const auto& c : *checks) std::cout << describe(c) << "\n";
  return 0;
}

int dareOpen(const Args& args) {
  const std::string cmd = "meshgate dare open";
  std::vector<std::string> key_files;
  std::string file;
  bool require_binding = false;
  ArgParser p(cmd,
              "Open a DARE envelope: verify its signatures (if it is signed), decrypt it (if it "
              "is encrypted)\nand write the payload to standard output. Nothing is written unless "
              "every signature verifies.");
  p.repeated("key", "KEYFILE",
             "an X25519/X448 private key to decrypt with, or a trusted signer's key", &key_files);
  p.flag("require-binding", "refuse reference signatures that do not cover the header",
         &require_binding);
  p.positional("ENVELOPE", "the envelope file; '-' for standard input", &file);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (key_files.empty()) return p.usageError("missing required option --key");
  std::vector<mesh::PrivateKey> private_keys;
  std::vector<mesh::PublicKey> public_keys;
  for (const std::string& f : key_files) {
    auto k = mesh::loadKeyFile(f);
    if (!k.ok()) return reportError(cmd, k.status());
    if (k->private_key) {
      private_keys.push_back(*k->private_key);
    } else {
      public_keys.push_back(k->public_key);
    }
  }
  auto env = readEnvelope(file);
  if (!env.ok()) return reportError(cmd, env.status());
  mesh::DareVerifyOptions options;
  options.require_header_binding = require_binding;
  auto opened = mesh::openDare(*env, private_keys, public_keys, options);
  if (!opened.ok()) return reportError(cmd, opened.status().withContext(file));
  for (const auto& c : opened->signatures) std::cerr << describe(c) << "\n";
  std::cout.write(reinterpret_cast<const char*>(opened->plaintext.data()),
                  static_cast<std::streamsize>(opened->plaintext.size()));
  std::cout.flush();
  return std::cout ? 0 : 1;
}

int dareGroup(const Args& args) {
  static const std::vector<Command> kCommands = {
      {"seal", "sign and/or encrypt a payload into an envelope", dareSeal, 0},
      {"verify", "verify every signature of an envelope", dareVerify, 1},
      {"open", "verify, decrypt and print an envelope's payload", dareOpen, 2},
  };
  return runGroup("meshgate dare", "DARE envelopes (Mesh JSON form): seal, verify, open.",
                  kCommands, args);
}

}  // namespace

MESHGATE_COMMAND(dare, "dare", "DARE envelopes: seal, verify, open", dareGroup, 32);

}  // namespace meshgate::cli
