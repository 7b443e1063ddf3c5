// service_locator.cc - see service_locator.h. The DNS answer is parsed here (with dn_expand for
// names) rather than with libresolv's ns_* helpers, so every length is checked against the
// buffer in one place.
#include "policy/resolver/service_locator.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include <algorithm>
#include <cstring>

#include "gateway/util/strings.h"

namespace meshgate::resolver {
namespace {

constexpr int kDnsHeaderBytes = 12;

uint16_t get16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// Skips (or expands) the name at `p`; returns its length in the message, or -1.
int expandName(const unsigned char* msg, const unsigned char* end, const unsigned char* p,
               std::string* out) {
  char name[NS_MAXDNAME];
  int n = dn_expand(msg, end, p, name, sizeof name);
  if (n < 0) return -1;
  if (out != nullptr) *out = name;
  return n;
}

std::string hostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

class DnsServiceLocator : public ServiceLocator {
 public:
  explicit DnsServiceLocator(const config::ResolverSection& config) : config_(config) {}

  Result<std::vector<ServiceEndpoint>> locate(std::string_view domain_in,
                                              std::chrono::milliseconds timeout) override {
    const std::string domain = toLowerAscii(domain_in);
    auto listed = config_.services.find(domain);
    if (listed != config_.services.end()) {
      const config::ServiceUrl& u = listed->second;
      return std::vector<ServiceEndpoint>{
          {u.host, u.port, u.path, "resolver.services (" + u.text + ")"}};
    }
    if (!config_.discovery) {
      return notFound(domain + " is not in resolver.services and resolver.discovery is off");
    }
    const std::string qname = "_mmm._tcp." + domain;
    const int retrans =
        static_cast<int>(std::max<int64_t>(1, (timeout.count() + 999) / 1000));
    Result<std::vector<SrvRecord>> srv = runWithTimeout<std::vector<SrvRecord>>(
        [qname, retrans]() { return querySrv(qname, retrans); }, timeout,
        "DNS SRV lookup of " + qname);
    if (!srv.ok()) return srv.status();
    if (srv->empty()) {
      return std::vector<ServiceEndpoint>{{"mmm." + domain, 443, "/.well-known/mmm/",
                                           "mmm." + domain + " (no SRV record " + qname + ")",
                                           true}};
    }
    sortSrvRecords(*srv);
    std::vector<ServiceEndpoint> out;
    for (const auto& r : *srv) {
      if (r.target == "." || r.target.empty()) continue;
      out.push_back({r.target, r.port, "/.well-known/mmm/", "DNS SRV " + qname, true});
    }
    if (out.empty()) return notFound(domain + " has no Mesh service (its SRV record is \".\")");
    return out;
  }

 private:
  // Empty result: the name has no SRV record (NXDOMAIN or no data).
  static Result<std::vector<SrvRecord>> querySrv(const std::string& qname, int retrans_seconds) {
    struct __res_state state;
    std::memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) return unavailable("cannot initialize the DNS resolver");
    state.retrans = retrans_seconds;
    state.retry = 1;
    unsigned char answer[NS_MAXMSG];
    int n = res_nquery(&state, qname.c_str(), ns_c_in, ns_t_srv, answer, sizeof answer);
    int herr = state.res_h_errno;
    res_nclose(&state);
    if (n < 0) {
      if (herr == HOST_NOT_FOUND || herr == NO_DATA) return std::vector<SrvRecord>{};
      return unavailable("DNS SRV lookup of " + qname + " failed (" +
                         (herr == TRY_AGAIN ? std::string("no answer or server failure")
                                            : "error " + std::to_string(herr)) +
                         ")");
    }
    return parseSrvAnswer(answer, n);
  }

  config::ResolverSection config_;
};

}  // namespace

std::string ServiceEndpoint::url() const {
  return "https://" + hostForUrl(host) + ":" + std::to_string(port) + path;
}

Result<std::vector<SrvRecord>> parseSrvAnswer(const unsigned char* msg, int length) {
  if (msg == nullptr || length < kDnsHeaderBytes) return invalidArgument("DNS answer too short");
  const unsigned char* end = msg + length;
  const int questions = get16(msg + 4);
  const int answers = get16(msg + 6);
  const unsigned char* p = msg + kDnsHeaderBytes;
  for (int i = 0; i < questions; ++i) {
    int n = expandName(msg, end, p, nullptr);
    if (n < 0 || end - p < n + 4) return invalidArgument("DNS answer: malformed question");
    p += n + 4;  // type, class
  }
  std::vector<SrvRecord> out;
  for (int i = 0; i < answers; ++i) {
    int n = expandName(msg, end, p, nullptr);
    if (n < 0 || end - p < n + 10) return invalidArgument("DNS answer: malformed record");
    p += n;
    const uint16_t type = get16(p);
    const uint16_t klass = get16(p + 2);
    const uint16_t rdlength = get16(p + 8);
    p += 10;
    if (end - p < rdlength) return invalidArgument("DNS answer: record data past the end");
    if (type == ns_t_srv && klass == ns_c_in) {
      if (rdlength < 7) return invalidArgument("DNS answer: SRV record too short");
      SrvRecord r;
      r.priority = get16(p);
      r.weight = get16(p + 2);
      r.port = get16(p + 4);
      std::string target;
      int tn = expandName(msg, end, p + 6, &target);
      if (tn < 0 || tn > rdlength - 6) return invalidArgument("DNS answer: malformed SRV target");
      r.target = target.empty() ? "." : toLowerAscii(target);
      out.push_back(std::move(r));
    }
    p += rdlength;  // CNAMEs and others are skipped
  }
  return out;
}

void sortSrvRecords(std::vector<SrvRecord>& records) {
  std::stable_sort(records.begin(), records.end(), [](const SrvRecord& a, const SrvRecord& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.weight > b.weight;
  });
}

std::unique_ptr<ServiceLocator> makeServiceLocator(const config::ResolverSection& config) {
  return std::make_unique<DnsServiceLocator>(config);
}

}  // namespace meshgate::resolver
