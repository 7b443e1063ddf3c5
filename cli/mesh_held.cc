// mesh_held.cc - `meshgate quarantine mesh list|show|release|delete`: Mesh messages the Mesh
// service's Post transaction held for a quarantine-unknown account (its `held` catalog).
//
// Mail held by the milter waits in Postfix's hold queue; a Mesh message has no queue, so the
// Post transaction keeps it in the account's `held` catalog, keyed by EnvelopeId, and nothing
// delivers it (not mesh_to_smtp, not the account's own devices, which read `inbound`).
// release  moves it to the account's `inbound` catalog, from where mesh_to_smtp delivers it as
//          mail once (when enabled) and the account's Mesh devices fetch it. The inbound copy is
//          written before the held one is removed, so a failure in between leaves it in both,
//          never in neither; a second release then finishes the move (same Digest).
// delete   removes it from `held`.
// Both are audited (kind "admin", rule quarantine.mesh-<action>, by=<administrator>).
#include "cli/mesh_held.h"

#include <ctime>
#include <iomanip>
#include <iostream>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "gateway/mesh/dare.h"
#include "gateway/util/log.h"
#include "meshgate/mesh_model.h"
#include "policy/mesh/mesh_dispatcher.h"

namespace meshgate::cli {
namespace {

const std::string kHeld(meshsvc::kHeldCatalog);
const std::string kInbound(meshsvc::kInboundCatalog);

// What the Post transaction recorded with a held envelope (policy/mesh/mesh_tx_post.cc).
struct HeldMessage {
  std::string account;
  std::string envelope_id;
  std::string sender;       // verified address, "" if unverified
  std::string claimed;      // what the message or its metadata said
  std::string sender_udf;   // the signer's Mesh identity
  std::string contact;      // quarantined, first-contact, ...
  std::string rule;         // the rule that held it
  std::string digest;
  int64_t received = 0;
  bool encrypted = false;
  std::string content_type;  // "" for a Mesh message
  Bytes payload;             // as carried (ciphertext when encrypted)

  // Who sent it, as an administrator should read it.
  std::string from() const {
    if (!sender.empty()) return sender;
    if (!claimed.empty()) return claimed + " (unverified)";
    return sender_udf.empty() ? "(unknown)" : "udf:" + sender_udf;
  }
  // For the audit record's sender field.
  std::string auditedSender() const { return !sender.empty() ? sender : claimed; }
};

HeldMessage readHeld(const CatalogEntry& e) {
  HeldMessage m;
  m.account = e.account;
  m.envelope_id = e.key;
  auto data = mesh::model::parseJsonText(e.data);
  if (!data.ok() || !data->is_object()) return m;
  auto text = [&](const char* name) {
    auto it = data->find(name);
    return it != data->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  m.sender = text("Sender");
  m.claimed = text("ClaimedSender");
  m.sender_udf = text("SenderUdf");
  m.contact = text("Contact");
  m.rule = text("Rule");
  m.digest = text("Digest");
  if (auto it = data->find("Received"); it != data->end() && it->is_number_integer()) {
    m.received = it->get<int64_t>();
  }
  if (auto it = data->find("Envelope"); it != data->end()) {
    auto env = mesh::dareFromJson(*it);
    if (env.ok()) {
      m.encrypted = env->header.enc.has_value();
      auto type = mesh::dareContentType(env->header);
      if (type.ok() && *type) m.content_type = **type;
      m.payload = std::move(env->payload);
    }
  }
  return m;
}

// Message text for a terminal: control characters other than tab and line ends become '?',
// so a hostile payload cannot drive the administrator's terminal.
std::string forTerminal(const Bytes& bytes) {
  std::string out(bytes.begin(), bytes.end());
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t' && c != '\r') || u == 0x7f) c = '?';
  }
  return out;
}

// The audit record of an action on a held Mesh message.
AuditRecord heldAuditRecord(const HeldMessage& m, const std::string& action) {
  AuditRecord a;
  a.message_id = m.envelope_id;
  a.sender = m.auditedSender();
  a.recipients = m.account;
  a.rule = "quarantine.mesh-" + action;
  a.action = action;
  a.detail = "held_by=" + m.rule;
  return a;
}

// Out of `held` and into `inbound` in one store transaction, and only the entry as read: a
// message deleted (or replaced) by someone else meanwhile is not released.
Status moveToInbound(Store& store, const CatalogEntry& held, const HeldMessage& m) {
  auto moved = store.moveEntry(held.account, kHeld, held.key, kInbound, held.sequence,
                               static_cast<int64_t>(std::time(nullptr)));
  if (moved.ok()) return Status();
  if (moved.status().code() == StatusCode::kNotFound) {
    return notFound("held Mesh message " + held.key + " of " + held.account +
                    " is gone (deleted or released meanwhile); nothing was released");
  }
  if (moved.status().code() == StatusCode::kFailedPrecondition) {
    return failedPrecondition("held Mesh message " + held.key + " of " + held.account +
                              " was replaced meanwhile; nothing was released (run the command "
                              "again to release what is held now)");
  }
  if (moved.status().code() != StatusCode::kAlreadyExists) return moved.status();
  // Released half-way by an earlier version (into inbound, still in held), or a different
  // envelope with the same id.
  auto existing = store.getEntry(held.account, kInbound, held.key);
  if (!existing.ok()) return existing.status();
  if (readHeld(*existing).digest != m.digest) {
    return alreadyExists(held.account + "'s inbound catalog already has another envelope " +
                         held.key);
  }
  return store.deleteEntry(held.account, kHeld, held.key);
}

struct Selection {
  std::string config_path = kDefaultConfigPath;
  std::string account;
  std::string id;
};

// Parses ID [--account A] [--config F], opens the store and finds the held message.
std::unique_ptr<AdminContext> openHeld(const std::string& cmd, const std::string& description,
                                       const Args& args, CatalogEntry* entry, int* rc) {
  Selection s;
  ArgParser p(cmd, description);
  p.positional("ID", "the EnvelopeId, as `meshgate quarantine mesh list` shows it", &s.id);
  p.option("account", "ADDRESS", "the account (needed only when two accounts hold the ID)",
           &s.account);
  p.option("config", "FILE", "configuration file", &s.config_path);
  if (int r = p.parse(args); r != ArgParser::kContinue) {
    *rc = r;
    return nullptr;
  }
  if (!isCatalogKeyText(s.id)) {
    *rc = p.usageError("ID: not an EnvelopeId (printable ASCII without spaces)");
    return nullptr;
  }
  if (!s.account.empty()) {
    auto addr = parseAccountAddress(s.account);
    if (!addr.ok()) {
      *rc = p.usageError(addr.status().message());
      return nullptr;
    }
    s.account = *addr;
  }
  auto ctx = openAdmin(cmd, s.config_path);
  if (!ctx) {
    *rc = 1;
    return nullptr;
  }
  auto found = findAccountEntry(*ctx->store, kHeld, s.account, s.id);
  if (!found.ok()) {
    *rc = reportError(cmd, found.status().code() == StatusCode::kNotFound
                               ? notFound("no held Mesh message " + s.id +
                                          (s.account.empty() ? "" : " for " + s.account) +
                                          " (see meshgate quarantine mesh list)")
                               : found.status());
    return nullptr;
  }
  *entry = std::move(found).value();
  return ctx;
}

int meshList(const Args& args) {
  const std::string cmd = "meshgate quarantine mesh list";
  Selection s;
  bool json = false;
  ArgParser p(cmd, "List the Mesh messages held for review (quarantine-unknown accounts' first\n"
                   "contacts posted by other Mesh services), oldest first per account.");
  p.option("account", "ADDRESS", "only messages held for this account", &s.account);
  p.flag("json", "one JSON object per message", &json);
  p.option("config", "FILE", "configuration file", &s.config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  std::vector<std::string> accounts;
  if (!s.account.empty()) {
    auto addr = parseAccountAddress(s.account);
    if (!addr.ok()) return p.usageError(addr.status().message());
    accounts.push_back(*addr);
  }
  auto ctx = openAdmin(cmd, s.config_path);
  if (!ctx) return 1;
  if (accounts.empty()) {
    auto all = ctx->store->listAccounts();
    if (!all.ok()) return reportError(cmd, all.status());
    for (const auto& a : *all) accounts.push_back(a.address);
  }
  size_t total = 0;
  for (const auto& account : accounts) {
    EntryQuery q;
    q.max_entries = 500;
    for (;;) {
      auto page = ctx->store->listEntries(account, kHeld, q);
      if (!page.ok()) return reportError(cmd, page.status());
      for (const auto& e : page->items) {
        ++total;
        const HeldMessage m = readHeld(e);
        if (json) {
          std::cout << nlohmann::json{{"id", m.envelope_id},       {"account", m.account},
                                      {"sender", m.sender},        {"claimed_sender", m.claimed},
                                      {"sender_udf", m.sender_udf}, {"contact", m.contact},
                                      {"rule", m.rule},            {"received", m.received},
                                      {"encrypted", m.encrypted}}
                           .dump()
                    << "\n";
          continue;
        }
        std::cout << std::left << std::setw(30) << log::sanitize(m.envelope_id) << " "
                  << utcTime(m.received) << " to=<" << m.account << "> from=<"
                  << log::sanitize(m.from()) << "> contact=" << log::sanitize(m.contact)
                  << " rule=" << log::sanitize(m.rule) << (m.encrypted ? " encrypted" : "")
                  << "\n";
      }
      if (page->next_page_key.empty()) break;
      q.page_key = page->next_page_key;
    }
  }
  std::cerr << total << " held Mesh message(s)\n";
  return 0;
}

int meshShow(const Args& args) {
  const std::string cmd = "meshgate quarantine mesh show";
  CatalogEntry entry;
  int rc = 0;
  auto ctx = openHeld(cmd, "Show a held Mesh message: who sent it, why it was held, and its "
                           "content\nwhen it is not end-to-end encrypted.", args, &entry, &rc);
  if (!ctx) return rc;
  const HeldMessage m = readHeld(entry);
  std::cout << "id:       " << log::sanitize(m.envelope_id) << "\naccount:  " << m.account
            << "\nheld:     " << utcTime(m.received) << "\nfrom:     " << log::sanitize(m.from())
            << "\ncontact:  " << log::sanitize(m.contact) << "\nrule:     "
            << log::sanitize(m.rule) << "\ncontent:  "
            << (m.content_type.empty() ? "Mesh message" : log::sanitize(m.content_type))
            << (m.encrypted ? ", end-to-end encrypted (only the account can read it)" : "")
            << "\n\n";
  if (!m.encrypted) std::cout << forTerminal(m.payload) << "\n";
  return 0;
}

int meshChange(const Args& args, const std::string& action) {
  const std::string cmd = "meshgate quarantine mesh " + action;
  CatalogEntry entry;
  int rc = 0;
  auto ctx = openHeld(cmd,
                      action == "release"
                          ? "Release a held Mesh message: it moves to the account's inbound "
                            "catalog, where\nmesh_to_smtp delivers it as mail (when enabled) and "
                            "the account's Mesh devices\nfetch it."
                          : "Delete a held Mesh message.",
                      args, &entry, &rc);
  if (!ctx) return rc;
  const HeldMessage m = readHeld(entry);
  Status st = auditedChange(*ctx, heldAuditRecord(m, action), [&] {
    return action == "release" ? moveToInbound(*ctx->store, entry, m)
                               : ctx->store->deleteEntry(entry.account, kHeld, entry.key);
  });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << log::sanitize(m.envelope_id) << ": " << (action == "release" ? "released" : "deleted")
            << " (to=<" << m.account << "> from=<" << log::sanitize(m.from()) << ">)\n";
  return 0;
}

int meshRelease(const Args& args) { return meshChange(args, "release"); }
int meshDelete(const Args& args) { return meshChange(args, "delete"); }

}  // namespace

int quarantineMesh(const Args& args) {
  return runGroup("meshgate quarantine mesh",
                  "Mesh messages the Mesh service held for review (a quarantine-unknown "
                  "account's first\ncontacts): they wait in the account's held catalog, not "
                  "in Postfix's hold queue.",
                  {{"list", "list held Mesh messages", meshList},
                   {"show", "show who sent one, why it was held, and its content", meshShow},
                   {"release", "move one to the account's inbound catalog (delivered from there)",
                    meshRelease},
                   {"delete", "delete one", meshDelete}},
                  args);
}

}  // namespace meshgate::cli
