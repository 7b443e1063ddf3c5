// tls_files.cc - see tls_files.h. OpenSSL 3 EVP and X509 APIs.
#include "policy/mesh/tls_files.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "gateway/mesh/crypto.h"
#include "gateway/util/log.h"

namespace meshgate::meshsvc {
namespace {

constexpr long kValiditySeconds = 10L * 365 * 24 * 3600;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

Status openSslError(const std::string& what) {
  return internalError(what + ": " + mesh::takeOpenSslErrors());
}

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// Writes `text` to `path` with `mode` via a temporary file and rename(2): readers never see a
// partial file, and the file never has a wider mode than `mode`.
Status writeFileAtomically(const std::string& path, const std::string& text, mode_t mode) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return unavailable("cannot create " + dir.string() + ": " + ec.message());
  }
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return unavailable("cannot write " + tmp + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return unavailable("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return Status();
}

bool addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status createSelfSigned(const config::MeshServiceSection& s) {
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  if (!key) return openSslError("cannot generate an EC P-256 key");
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!cert) return openSslError("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return openSslError("RAND_bytes");
  serial[0] &= 0x7f;  // a positive INTEGER
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    return openSslError("serial number");
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds);
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return openSslError("X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = s.service_name.empty() ? s.listen.host : s.service_name;
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return openSslError("subject name");
  }
  std::string san = "DNS:" + cn;
  if (!s.listen.host.empty() && s.listen.host != cn && s.listen.host != "0.0.0.0" &&
      s.listen.host != "::") {
    san += (isIpAddress(s.listen.host) ? ",IP:" : ",DNS:") + s.listen.host;
  }
  if (!addExtension(cert.get(), NID_subject_alt_name, san) ||
      !addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !addExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !addExtension(cert.get(), NID_subject_key_identifier, "hash")) {
    return openSslError("certificate extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return openSslError("X509_sign");

  std::unique_ptr<BIO, BioFree> key_bio(BIO_new(BIO_s_mem()));
  std::unique_ptr<BIO, BioFree> cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return openSslError("PEM encoding");
  }
  MESHGATE_RETURN_IF_ERROR(writeFileAtomically(s.tls.private_key, bioText(key_bio.get()), 0600));
  Status st = writeFileAtomically(s.tls.certificate, bioText(cert_bio.get()), 0644);
  if (!st.ok()) {
    ::unlink(s.tls.private_key.c_str());  // never leave half a pair behind
    return st;
  }
  log::info("mesh: created a self-signed certificate %s (CN=%s, %s) and key %s",
            s.tls.certificate.c_str(), cn.c_str(), san.c_str(), s.tls.private_key.c_str());
  return Status();
}

}  // namespace

Status ensureTlsFiles(const config::MeshServiceSection& s) {
  const bool have_cert = exists(s.tls.certificate);
  const bool have_key = exists(s.tls.private_key);
  if (!have_cert && !have_key) {
    if (!s.tls.create_self_signed) {
      return notFound("mesh_service.tls: " + s.tls.certificate + " and " + s.tls.private_key +
                      " do not exist (set tls.create_self_signed: true to create a self-signed "
                      "pair, or install a certificate)");
    }
    return createSelfSigned(s);
  }
  if (!have_cert || !have_key) {
    return failedPrecondition("mesh_service.tls: " +
                              (have_cert ? s.tls.private_key : s.tls.certificate) +
                              " is missing but " +
                              (have_cert ? s.tls.certificate : s.tls.private_key) +
                              " exists; install both, or remove both to have a self-signed pair "
                              "created");
  }
  struct stat st{};
  if (::stat(s.tls.private_key.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return failedPrecondition("mesh_service.tls.private_key " + s.tls.private_key +
                              " is readable by group or others; chmod 600 " + s.tls.private_key);
  }
  return Status();
}

}  // namespace meshgate::meshsvc
