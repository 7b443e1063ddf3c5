// ssh_keys.cc - see ssh_keys.h.
#include "adapters/ssh_keys.h"

#include <algorithm>
#include <array>

#include "gateway/mesh/keys.h"
#include "gateway/mesh/udf.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"

namespace meshgate::adapters {
namespace {

constexpr std::array<std::string_view, 7> kKeyTypes = {
    "ssh-ed25519",         "ssh-rsa",
    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com"};

// Flags `restrict` turns off that a grant may turn back on, and flags that only tighten.
constexpr std::array<std::string_view, 7> kFlagOptions = {
    "agent-forwarding", "port-forwarding",   "pty",           "user-rc",
    "x11-forwarding",   "no-touch-required", "verify-required"};
constexpr std::array<std::string_view, 6> kValueOptions = {
    "command", "from", "permitopen", "permitlisten", "environment", "expiry-time"};

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Reads one SSH wire string (uint32 big-endian length + bytes) at `pos`.
bool readWireString(const Bytes& blob, size_t& pos, std::string& out) {
  if (blob.size() - pos < 4) return false;
  uint32_t n = (uint32_t(blob[pos]) << 24) | (uint32_t(blob[pos + 1]) << 16) |
               (uint32_t(blob[pos + 2]) << 8) | uint32_t(blob[pos + 3]);
  pos += 4;
  if (blob.size() - pos < n) return false;
  out.assign(blob.begin() + static_cast<std::ptrdiff_t>(pos),
             blob.begin() + static_cast<std::ptrdiff_t>(pos + n));
  pos += n;
  return true;
}

bool safeOptionValue(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

std::string base64StdEncode(ByteView data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t v = uint32_t(data[i]) << 16;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<Bytes> base64StdDecode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return invalidArgument("base64: length is not a multiple of 4");
  }
  size_t pad = 0;
  while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size() - pad; ++i) {
    auto p = kBase64Alphabet.find(text[i]);
    if (p == std::string_view::npos) return invalidArgument("base64: invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  // The bits left over must be zero (canonical encoding), as sshd's decoder requires.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return invalidArgument("base64: non-canonical padding bits");
  }
  return out;
}

std::string SshPublicKey::line() const {
  std::string s = type + " " + base64;
  if (!comment.empty()) s += " " + comment;
  return s;
}

Result<SshPublicKey> sshPublicKeyFromParts(std::string_view type, std::string_view base64) {
  if (std::find(kKeyTypes.begin(), kKeyTypes.end(), type) == kKeyTypes.end()) {
    return invalidArgument("unknown key type \"" + log::sanitize(type) +
                           "\" (expected ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 or "
                           "an sk- security key type)");
  }
  if (base64.size() > 16384) return invalidArgument("the key is too long");
  auto blob = base64StdDecode(base64);
  if (!blob.ok()) return invalidArgument("the key is not valid base64 (" + blob.status().message() + ")");
  size_t pos = 0;
  std::string inner;
  if (!readWireString(*blob, pos, inner) || inner != type) {
    return invalidArgument("the key's encoded type does not match \"" + std::string(type) + "\"");
  }
  SshPublicKey key;
  key.type = std::string(type);
  key.blob = std::move(blob).value();
  key.base64 = base64StdEncode(key.blob);
  return key;
}

Result<SshPublicKey> parseSshPublicKey(std::string_view text) {
  std::string_view t = trimWhitespace(text);
  if (t.find_first_of("\r\n") != std::string_view::npos) {
    return invalidArgument("a public key is one line");
  }
  auto sp = t.find_first_of(" \t");
  if (sp == std::string_view::npos) return invalidArgument("expected \"TYPE BASE64 [COMMENT]\"");
  std::string_view type = t.substr(0, sp);
  std::string_view rest = trimWhitespace(t.substr(sp));
  auto sp2 = rest.find_first_of(" \t");
  std::string_view b64 = rest.substr(0, sp2);
  std::string_view comment =
      sp2 == std::string_view::npos ? std::string_view() : trimWhitespace(rest.substr(sp2));
  MESHGATE_ASSIGN_OR_RETURN(SshPublicKey key, sshPublicKeyFromParts(type, b64));
  for (unsigned char c : comment) {
    if (c < 0x20 || c == 0x7f) return invalidArgument("the comment has a control character");
  }
  key.comment = std::string(comment);
  return key;
}

Result<std::string> sshKeyFingerprint(const SshPublicKey& key) {
  if (key.type == "ssh-ed25519") {
    size_t pos = 0;
    std::string type, raw;
    if (readWireString(key.blob, pos, type) && readWireString(key.blob, pos, raw) &&
        raw.size() == mesh::publicKeySize(mesh::KeyType::kEd25519)) {
      MESHGATE_ASSIGN_OR_RETURN(mesh::PublicKey pk,
                                mesh::PublicKey::fromRaw(mesh::KeyType::kEd25519, asBytes(raw)));
      return pk.kid();
    }
    return invalidArgument("ssh-ed25519 key without a 32-byte public key");
  }
  return mesh::contentDigestUdf(key.blob, kSshKeyContentType);
}

bool isValidSshHostsPattern(std::string_view hosts) {
  if (hosts.empty() || hosts.size() > 1024) return false;
  for (char c : hosts) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && std::string_view(".-_*?!,[]:").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

Result<std::vector<std::string>> normalizeSshOptions(const std::vector<std::string>& options) {
  std::vector<std::string> out;
  for (const auto& raw : options) {
    std::string_view o = trimWhitespace(raw);
    if (o.empty()) continue;
    auto eq = o.find('=');
    std::string name = toLowerAscii(o.substr(0, eq));
    std::string normalized;
    if (name == "restrict") continue;
    if (eq == std::string_view::npos) {
      if (std::find(kFlagOptions.begin(), kFlagOptions.end(), name) == kFlagOptions.end()) {
        return invalidArgument("unknown SSH option \"" + log::sanitize(o) +
                               "\" (expected agent-forwarding, port-forwarding, pty, user-rc, "
                               "X11-forwarding, no-touch-required, verify-required, or "
                               "command=, from=, permitopen=, permitlisten=, environment=, "
                               "expiry-time=)");
      }
      normalized = name == "x11-forwarding" ? "X11-forwarding" : name;
    } else {
      if (std::find(kValueOptions.begin(), kValueOptions.end(), name) == kValueOptions.end()) {
        return invalidArgument("unknown SSH option \"" + log::sanitize(name) +
                               "=\" (expected command=, from=, permitopen=, permitlisten=, "
                               "environment= or expiry-time=)");
      }
      std::string_view value = o.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (value.empty()) return invalidArgument("SSH option " + name + "= has no value");
      if (!safeOptionValue(value)) {
        return invalidArgument("SSH option " + name +
                               "= must not contain a double quote, a backslash or a control "
                               "character");
      }
      normalized = name + "=\"" + std::string(value) + "\"";
    }
    if (std::find(out.begin(), out.end(), normalized) == out.end()) out.push_back(normalized);
  }
  return out;
}

std::string authorizedKeysLine(const SshPublicKey& key, const std::vector<std::string>& options,
                               std::string_view udf, std::string_view account) {
  std::string line = "restrict";
  for (const auto& o : options) line += "," + o;
  line += " " + key.type + " " + key.base64 + " udf:" + std::string(udf);
  if (!account.empty()) line += " " + std::string(account);
  return line;
}

}  // namespace meshgate::adapters
