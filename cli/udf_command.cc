// udf_command.cc - `meshgate udf digest|mac|nonce|message-ids`: Uniform Data Fingerprints.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/mesh/crypto.h"
#include "gateway/mesh/udf.h"

namespace meshgate::cli {
namespace {

using mesh::DigestAlgorithm;
using mesh::HashAlgorithm;

// Parses --bits; returns false (after a usage error) when it is not a number in range.
bool parseBits(const ArgParser& p, const std::string& text, int fallback, int* bits, int* rc) {
  if (text.empty()) {
    *bits = fallback;
    return true;
  }
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || v < mesh::kUdfMinBits ||
      v > mesh::kUdfMaxBits) {
    *rc = p.usageError("--bits must be a number from " + std::to_string(mesh::kUdfMinBits) +
                       " to " + std::to_string(mesh::kUdfMaxBits) + ", not \"" + text + "\"");
    return false;
  }
  *bits = static_cast<int>(v);
  return true;
}

// Hashes FILE (or stdin for "" and "-") in pieces, so inputs of any size use constant memory.
Result<Bytes> hashInput(const std::string& file, HashAlgorithm alg) {
  const bool use_stdin = file.empty() || file == "-";
  std::FILE* f = use_stdin ? stdin : std::fopen(file.c_str(), "rb");
  if (f == nullptr) return notFound(file + ": " + std::strerror(errno));
  mesh::Hasher hasher(alg);
  std::vector<uint8_t> buffer(1 << 20);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) {
    hasher.update(ByteView(buffer.data(), n));
  }
  const bool failed = std::ferror(f) != 0;
  if (!use_stdin) std::fclose(f);
  if (failed) return unavailable((use_stdin ? std::string("stdin") : file) + ": read error");
  return hasher.finish();
}

int udfDigest(const Args& args) {
  const std::string cmd = "meshgate udf digest";
  bool sha3 = false;
  std::string bits_text, content_type, file;
  ArgParser p(cmd,
              "Print the content digest UDF of FILE (or standard input): SHA-512 (type 96, 'M...') "
              "or SHA3-512\n(type 80, 'K...') of the content type and the data.");
  p.flag("sha3", "use SHA3-512 instead of SHA-512", &sha3);
  p.option("bits", "N", "precision in bits, 100..440 (default 140)", &bits_text);
  p.option("content-type", "TYPE", "the data's content type, e.g. text/plain", &content_type, true);
  p.positional("FILE", "the data; '-' or nothing for standard input", &file, false);
  p.epilog(
      "Example: echo -n 'UDF Data Value' | meshgate udf digest --content-type text/plain\n"
      "  MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  int bits = 0, rc = 0;
  if (!parseBits(p, bits_text, mesh::kUdfDefaultBits, &bits, &rc)) return rc;
  const DigestAlgorithm alg = sha3 ? DigestAlgorithm::kSha3_512 : DigestAlgorithm::kSha512;
  auto cdv = hashInput(file, sha3 ? HashAlgorithm::kSha3_512 : HashAlgorithm::kSha512);
  if (!cdv.ok()) return reportError(cmd, cdv.status());
  auto udf = mesh::presentUdf(mesh::contentDigestBinaryFromCdv(*cdv, content_type, alg), bits);
  if (!udf.ok()) return reportError(cmd, udf.status());
  std::cout << *udf << "\n";
  return 0;
}

int udfMac(const Args& args) {
  const std::string cmd = "meshgate udf mac";
  std::string key, content_type, bits_text, file;
  ArgParser p(cmd,
              "Print the authenticator UDF (type 0, 'A...') of FILE (or standard input) under KEY, "
              "a UDF\nshared by the parties (for example from 'meshgate udf nonce').");
  p.option("key", "KEY", "the key, a UDF (case, dashes and spaces do not matter)", &key, true);
  p.option("content-type", "TYPE", "the data's content type, e.g. text/plain", &content_type, true);
  p.option("bits", "N", "precision in bits, 100..440 (default 140)", &bits_text);
  p.positional("FILE", "the data; '-' or nothing for standard input", &file, false);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  int bits = 0, rc = 0;
  if (!parseBits(p, bits_text, mesh::kUdfDefaultBits, &bits, &rc)) return rc;
  if (!mesh::canonicalUdf(key).ok()) {
    return p.usageError(
        "--key must be a UDF of at least 100 bits (e.g. from 'meshgate udf nonce')");
  }
  auto digest = hashInput(file, HashAlgorithm::kSha512);
  if (!digest.ok()) return reportError(cmd, digest.status());
  auto udf = mesh::authenticatorUdfFromDigest(*digest, content_type, key, bits);
  if (!udf.ok()) return reportError(cmd, udf.status());
  std::cout << *udf << "\n";
  return 0;
}

int udfNonce(const Args& args) {
  const std::string cmd = "meshgate udf nonce";
  std::string bits_text;
  ArgParser p(cmd, "Print a random nonce UDF (type 104, 'N...'), e.g. a MessageId or a MAC key.");
  p.option(
      "bits", "N",
      "precision in bits, 100..440 (default " + std::to_string(mesh::kUdfDefaultNonceBits) + ")",
      &bits_text);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  int bits = 0, rc = 0;
  if (!parseBits(p, bits_text, mesh::kUdfDefaultNonceBits, &bits, &rc)) return rc;
  auto udf = mesh::nonceUdf(bits);
  if (!udf.ok()) return reportError(cmd, udf.status());
  std::cout << *udf << "\n";
  return 0;
}

int udfMessageIds(const Args& args) {
  const std::string cmd = "meshgate udf message-ids";
  std::string message_id, bits_text;
  ArgParser p(cmd,
              "Print the EnvelopeId and ResponseId of a Mesh MessageId (a nonce UDF): content "
              "digests of\nits value under application/mmm/envelopeid and "
              "application/mmm/responseid.");
  p.positional("MESSAGEID", "the MessageId, a nonce UDF ('N...')", &message_id);
  p.option("bits", "N", "precision of the ids in bits, 100..440 (default 140)", &bits_text);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  int bits = 0, rc = 0;
  if (!parseBits(p, bits_text, mesh::kUdfDefaultBits, &bits, &rc)) return rc;
  auto ids = mesh::messageIdsFor(message_id, bits);
  if (!ids.ok()) return reportError(cmd, ids.status());
  std::cout << "EnvelopeId: " << ids->envelope_id << "\nResponseId: " << ids->response_id << "\n";
  return 0;
}

int udfGroup(const Args& args) {
  static const std::vector<Command> kCommands = {
      {"digest", "content digest UDF of a file or standard input", udfDigest, 0},
      {"mac", "authenticator (keyed) UDF of a file or standard input", udfMac, 1},
      {"nonce", "a random nonce UDF", udfNonce, 2},
      {"message-ids", "EnvelopeId and ResponseId of a MessageId", udfMessageIds, 3},
  };
  return runGroup("meshgate udf",
                  "Uniform Data Fingerprints (Mesh UDF): Base32 fingerprints with a type prefix, "
                  "grouped in fours.",
                  kCommands, args);
}

}  // namespace

MESHGATE_COMMAND(udf, "udf", "Mesh fingerprints: digest, mac, nonce, message-ids", udfGroup, 30);

}  // namespace meshgate::cli
