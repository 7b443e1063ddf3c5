// key_command.cc - `meshgate key generate|id`: Mesh key files.
#include <iostream>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/mesh/keys.h"

namespace meshgate::cli {
namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int keyGenerate(const Args& args) {
  const std::string cmd = "meshgate key generate";
  std::string type_name, out, format;
  bool force = false;
  ArgParser p(cmd,
              "Generate a key pair: the private key goes to FILE (mode 0600), the public key to "
              "FILE.pub.\nEd25519 and Ed448 keys sign; X25519 and X448 keys receive encrypted "
              "envelopes. Prints the\nkey's identifier (kid).");
  p.option("type", "TYPE", "Ed25519, Ed448, X25519 or X448", &type_name, true);
  p.option("out", "FILE", "where to write the private key", &out, true);
  p.option("format", "FORMAT",
           "json (Mesh typed JSON) or pem; default pem for a FILE ending in .pem, else json",
           &format);
  p.flag("force", "replace FILE and FILE.pub if they exist", &force);
  p.epilog("Example: meshgate key generate --type Ed25519 --out /etc/meshgate/signer.key");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto type = mesh::parseKeyType(type_name);
  if (!type.ok()) return p.usageError(type.status().message());
  mesh::KeyFileFormat fmt =
      endsWith(out, ".pem") ? mesh::KeyFileFormat::kPem : mesh::KeyFileFormat::kMeshJson;
  if (format == "pem") {
    fmt = mesh::KeyFileFormat::kPem;
  } else if (format == "json") {
    fmt = mesh::KeyFileFormat::kMeshJson;
  } else if (!format.empty()) {
    return p.usageError("--format must be json or pem, not \"" + format + "\"");
  }
  auto key = mesh::PrivateKey::generate(*type);
  if (!key.ok()) {
    std::cerr << cmd << ": " << key.status().message() << "\n";
    return 1;
  }
  // The public file first: if the private one then fails, no orphaned secret is left behind.
  if (Status s = mesh::savePublicKeyFile(key->publicKey(), out + ".pub", fmt, force); !s.ok()) {
    std::cerr << cmd << ": " << s.message() << "\n";
    return 1;
  }
  if (Status s = mesh::savePrivateKeyFile(*key, out, fmt, force); !s.ok()) {
    std::cerr << cmd << ": " << s.message() << "\n";
    return 1;
  }
  std::cout << key->kid() << "\n";
  return 0;
}

int keyId(const Args& args) {
  const std::string cmd = "meshgate key id";
  std::string file;
  ArgParser p(cmd,
              "Print the identifier (kid, a UDF) of the key in KEYFILE: Mesh typed JSON or PEM, "
              "private or\npublic. A private key file must not be accessible by group or others.");
  p.positional("KEYFILE", "the key file", &file);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto key = mesh::loadPublicKeyFile(file);
  if (!key.ok()) {
    std::cerr << cmd << ": " << key.status().message() << "\n";
    return 1;
  }
  std::cout << key->kid() << "\n";
  return 0;
}

int keyGroup(const Args& args) {
  static const std::vector<Command> kCommands = {
      {"generate", "generate a key pair (FILE and FILE.pub)", keyGenerate, 0},
      {"id", "print a key file's identifier (kid)", keyId, 1},
  };
  return runGroup("meshgate key", "Mesh keys: Ed25519 and Ed448 sign, X25519 and X448 decrypt.",
                  kCommands, args);
}

}  // namespace

MESHGATE_COMMAND(key, "key", "Mesh keys: generate, id", keyGroup, 31);

}  // namespace meshgate::cli
