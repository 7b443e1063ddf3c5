// NAME
//   config.h - meshgate's configuration as typed structs.
//
// DESCRIPTION
//   One Config is loaded from YAML by loadConfig() (config_loader.h), validated strictly, and
//   then shared read-only: services hold a std::shared_ptr<const Config> and a reload (SIGHUP)
//   swaps in a new one. Every field has the default documented in conf/meshgate.yaml and
//   docs/configuration.md; keep the three in step.
//
// THREAD SAFETY
//   A loaded Config is immutable and may be read from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gateway/config/content_config.h"
#include "gateway/util/network.h"

namespace meshgate::config {

using Millis = std::chrono::milliseconds;

// What a recipient's account does with mail from a sender not in its contacts catalog
// (seed 7.2.1).
enum class IngressPolicy {
  kOpen,               // deliver, no first-contact signal
  kTagUnknown,         // deliver with the first-contact signal
  kQuarantineUnknown,  // accept, then hold (Postfix hold queue)
  kContactsOnly,       // reject the recipient at RCPT (550 5.7.1)
};

// What a front-end does when it cannot decide (store down, timeout, internal error).
enum class FailureAction { kTempfail, kAccept, kReject };

enum class StoreBackend { kSqlite, kPostgresql };

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

// A socket for libmilter: "unix:/path" or "inet:port@host" (libmilter's own syntax).
struct MilterSocket {
  enum class Kind { kUnix, kInet } kind = Kind::kUnix;
  std::string path;  // kUnix
  Endpoint inet;     // kInet
  std::string spec;  // as written, for libmilter's smfi_setconn
};

struct GatewaySection {
  std::string node;                  // this node's name in logs, audit and signals
  std::vector<std::string> domains;  // local domains (lower case)
  std::string data_dir = "./var";
  std::string key_file = "./var/keys/gateway.key";  // Ed25519, created on first start;
                                                    // default <data_dir>/keys/gateway.key
  std::string user;                  // drop root privileges to this user ("" = stay)
};

struct SqliteSection {
  std::string path = "./var/meshgate.db";
  Millis busy_timeout{2000};
};

struct PostgresqlSection {
  std::string dsn = "host=127.0.0.1 port=5432 dbname=meshgate user=meshgate";
  int pool_size = 8;
};

struct StoreSection {
  StoreBackend backend = StoreBackend::kSqlite;
  SqliteSection sqlite;
  PostgresqlSection postgresql;
  // How long the milter and policy service keep an account lookup (gateway/policy/
  // account_cache.h); 0 reads the store at every RCPT.
  Millis account_cache_ttl{1000};
};

struct MilterSection {
  bool enabled = true;
  MilterSocket socket{MilterSocket::Kind::kUnix, "./var/run/milter.sock", {},
                      "unix:./var/run/milter.sock"};
  uint32_t socket_mode = 0660;
  std::string socket_group;  // "" = the process's group
  FailureAction on_error = FailureAction::kTempfail;
  Millis timeout{7000};      // libmilter's own I/O timeout towards the MTA
  Millis decision_timeout{5000};  // store/resolver budget per callback; far below Postfix's 30 s
  int backlog = 64;
  // Body bytes kept per message for content checks (payment language, attachments); the
  // rest of a larger body passes through unexamined and the message is flagged as truncated.
  uint64_t max_scan_bytes = 4 * 1024 * 1024;
  // Header and body bytes all messages under way may keep at once (each up to max_scan_bytes, or
  // smtp_to_mesh.max_message_bytes); a message that would pass it is tempfailed (452 4.3.1).
  uint64_t max_buffered_bytes = 512ull * 1024 * 1024;
};

struct TlsSection {
  std::string certificate = "./var/tls/service.crt";
  std::string private_key = "./var/tls/service.key";
  bool create_self_signed = true;  // create the pair on first start if both files are missing
};

struct MeshServiceSection {
  bool enabled = true;
  Endpoint listen{"127.0.0.1", 15099};
  bool plain_http = false;  // only allowed with a loopback listen address
  TlsSection tls;
  std::string service_name;  // Host name clients use; default: first gateway domain
  uint64_t max_body_bytes = 1024 * 1024;
  int max_connections = 256;
  // Per client address (an IPv6 client by its /64): below `threads`, so that one address
  // holding silent connections cannot occupy every worker.
  int max_connections_per_client = 8;
  int threads = 16;
  Millis request_timeout{10000};
  Millis keep_alive_timeout{15000};  // an idle keep-alive connection is closed after this
  // Public key files of the service's administrators: they may sign any request (create and
  // delete accounts, Transfer). Ed25519/Ed448, Mesh JSON or PEM.
  std::vector<std::string> admin_keys;
  // A signed request is accepted only within this much of its Created time (either way), and
  // its nonce is remembered that long (replay protection, seed 8.1.4).
  Millis replay_window{300000};
  // Clients that may ask /access-check whether SENDER may reach RECIPIENT over PROTOCOL
  // (network applications: XMPP, SIP servers). The answer reveals catalog contents, so by
  // default only this host; the loader fills in 127.0.0.0/8 and ::1.
  std::vector<Network> access_check_networks;
};

struct PolicydSection {
  bool enabled = true;
  Endpoint listen{"127.0.0.1", 10050};
  int max_connections = 256;
  Millis idle_timeout{300000};  // Postfix keeps policy connections open; close idle ones
  uint64_t max_request_bytes = 64 * 1024;
};

// Local-domain recipients that have no meshgate account.
enum class UnlistedRecipients {
  kPass,           // not subject to ingress control (Postfix decides whether they exist)
  kDefaultPolicy,  // the default policy with an empty contacts catalog
};

struct IngressSection {
  IngressPolicy default_policy = IngressPolicy::kTagUnknown;
  UnlistedRecipients unlisted_recipients = UnlistedRecipients::kPass;
  std::string reject_text =
      "5.7.1 <%r> accepts mail only from its contacts; ask the recipient to add you, or send a "
      "Mesh contact request (see %u)";
  std::string contact_request_url;  // shown in the rejection text (%u); "" = mmm.<domain>
};

// What happens to a message over a rate limit.
enum class LimitAction { kTempfail, kReject, kHold, kTag };

struct RateLimit {
  std::string name;  // appears as rule "abuse.<name>"
  enum class Key { kSender, kSenderDomain, kClientAddress } key = Key::kClientAddress;
  Millis window{60000};
  int64_t max = 300;  // messages per window
  LimitAction action = LimitAction::kTempfail;
};

struct AbuseSection {
  bool enabled = true;
  std::vector<RateLimit> limits = {
      {"per-client", RateLimit::Key::kClientAddress, Millis(60000), 300, LimitAction::kTempfail},
      {"per-sender", RateLimit::Key::kSender, Millis(3600000), 1000, LimitAction::kTempfail},
  };
  // Clients in these networks are not counted (local submission, trusted relays).
  std::vector<Network> exempt_networks;
  bool exempt_authenticated = true;  // SASL-authenticated clients are not counted
  // Client-address limits count an IPv6 client by its network of this many bits: one
  // customer holds a /64 and could otherwise send each message from a new address.
  int ipv6_prefix = 64;
  // Counts are added to the store's shared counters at this interval (0: every message at
  // once). Nodes sharing a store see each other's counts up to one interval late.
  Millis flush_interval{250};
};

// The append-only, hash-chained audit log (seed 7.2.4, 7.1.7).
struct AuditSection {
  bool enabled = true;
  // When a decision cannot be written to the audit log: tempfail the message (nothing decided
  // goes unrecorded) or log the failure and go on.
  enum class OnFailure { kTempfail, kLog } on_failure = OnFailure::kTempfail;
  // How often the chain head is signed with the service key into a checkpoint (the Mesh
  // Status transaction returns the latest).
  Millis checkpoint_interval{3600000};
};

// Where held messages live (the Postfix hold queue) and how administrators act on them.
struct QuarantineSection {
  std::string postfix_config_dir;  // "" = Postfix's default (/etc/postfix); passed as -c
  std::string postsuper = "/usr/sbin/postsuper";
  std::string postcat = "/usr/sbin/postcat";
  std::string sendmail = "/usr/sbin/sendmail";  // for digest mail
  std::string digest_from;                      // "" = postmaster@<first gateway domain>
  // Where digests send recipients to confirm a held payment request; "" = the Mesh
  // service's own address, https://<mesh_service.service_name>:<port>/quarantine/confirm.
  std::string confirm_url;
};

// A Mesh service URL from resolver.services: https://HOST[:PORT][/PATH].
struct ServiceUrl {
  std::string text;  // as written
  std::string host;  // name or address (IPv6 without brackets)
  uint16_t port = 443;
  std::string path = "/.well-known/mmm/";
};

// The profile resolver: address -> verified Mesh profile (local accounts, else the domain's
// Mesh service found by resolver.services, DNS SRV _mmm._tcp.<domain>, or mmm.<domain>:443).
struct ResolverSection {
  Millis cache_ttl{3600000};    // verified profiles
  Millis negative_ttl{600000};  // "no profile" answers and refused (unverifiable) profiles
  Millis failure_ttl{60000};    // unreachable services, timeouts
  int max_cache_entries = 100000;
  bool discovery = true;  // look up domains not in `services` (SRV, then mmm.<domain>)
  Millis dns_timeout{2000};
  Millis connect_timeout{2000};  // TCP connect + TLS handshake, per address tried
  Millis total_timeout{5000};    // everything one resolution does; far below Postfix's 30 s
  uint64_t max_response_bytes = 1024 * 1024;
  std::map<std::string, ServiceUrl> services;  // domain (lower case) -> URL
  // Server certificates: verified against ca_file ("" = the system CA store), or listed in
  // trusted_certificates (PEM files; pinned, whatever the issuer); either way they must name
  // the host connected to or the domain.
  std::string ca_file;
  std::vector<std::string> trusted_certificates;
};

// The SSH adapter (`meshgate ssh authorized-keys` for sshd's AuthorizedKeysCommand): which
// account a local login stands for and how long its local cache may answer alone.
struct SshSection {
  std::string cache_file;        // "" = <gateway.data_dir>/ssh.cache
  Millis cache_refresh{300000};  // younger than this: answered from the cache alone
  Millis cache_max_age{86400000};  // older than this: not trusted, nothing is printed
  Millis store_timeout{25};      // budget for asking the store when the cache is stale
  std::string domain;            // login -> login@domain; "" = the first gateway domain
  std::map<std::string, std::string> users;  // login -> account address (overrides domain)
};

// Mesh -> SMTP: where Mesh Messages accepted for local accounts are submitted as mail.
struct MeshToSmtpSection {
  bool enabled = false;              // deliver accepted Mesh Messages as mail (with the service)
  Millis interval{5000};             // between delivery passes
  // The local MTA's reinjection service, which runs no milter (conf/postfix/master.cf.snippet):
  // the message has been judged and signed already, and a milter would judge it again.
  Endpoint server{"127.0.0.1", 10026};
  std::string helo;                  // "" = gateway.node
  Millis timeout{30000};             // every SMTP wait
  // How long "delivered" is remembered per EnvelopeId and recipient (catalog smtp-delivered):
  // a sender's Post retried within it is recognised and not delivered twice.
  Millis delivered_retention{std::chrono::hours(24 * 30)};
};

// SMTP -> Mesh: outbound mail that an egress encryption rule sends over the Mesh (the milter).
struct SmtpToMeshSection {
  bool enabled = false;                          // require-/prefer-encryption rules use the Mesh
  Millis timeout{30000};                         // one recipient: resolve, encrypt, Post, answer
  uint64_t max_message_bytes = 25ull << 20;      // larger messages cannot be sent over the Mesh
};

struct LoggingSection {
  bool debug = false;
};

struct Config {
  std::string source_file;  // the file it was loaded from, for messages

  GatewaySection gateway;
  StoreSection store;
  MilterSection milter;
  MeshServiceSection mesh_service;
  PolicydSection policyd;
  IngressSection ingress;
  AbuseSection abuse;
  PaymentSection payment;
  ImpersonationSection impersonation;
  EgressSection egress;
  TooStupidSection too_stupid;
  BrandsSection brands;
  AuditSection audit;
  QuarantineSection quarantine;
  ResolverSection resolver;
  SshSection ssh;
  MeshToSmtpSection mesh_to_smtp;
  SmtpToMeshSection smtp_to_mesh;
  LoggingSection logging;

  bool isLocalDomain(std::string_view domain) const;
};

std::string_view ingressPolicyName(IngressPolicy p);
std::string_view failureActionName(FailureAction a);
std::string_view limitActionName(LimitAction a);

}  // namespace meshgate::config
