// contacts_command.cc - `meshgate contacts add|remove|list|import`: an account's contacts
// catalog, which ingress control reads (seed 7.2.1). request|pending|accept|reject (contact
// exchange over the Mesh) are in contact_exchange.cc.
#include <array>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/contact_exchange.h"
#include "gateway/policy/contact_catalog.h"
#include "gateway/policy/contact_import.h"
#include "gateway/util/strings.h"

namespace meshgate::cli {
namespace {

namespace model = mesh::model;

constexpr const char* kProtocolHelp =
    "a protocol the contact may use to reach the account: smtp, ssh, xmpp, sip, mesh, ... or * "
    "for all (default: smtp)";

std::vector<std::string> normalizeProtocols(std::vector<std::string> protocols) {
  if (protocols.empty()) return {"smtp"};
  std::vector<std::string> out;
  for (auto& p : protocols) {
    for (auto& piece : splitList(p, ',')) out.push_back(toLowerAscii(piece));
  }
  return out;
}

Status putContact(Store& store, const std::string& account, const std::string& spec,
                  const std::vector<std::string>& protocols, const std::string& name) {
  if (hasControlCharacter(name)) {
    return invalidArgument("the name of " + spec + " contains a control character (such as ESC, "
                           "CR or LF): names are printed on terminals and in one-line lists");
  }
  model::CatalogedContact entry = policy::makeContactEntry(spec, protocols, name);
  CatalogEntry e;
  e.account = account;
  e.catalog = std::string(policy::kContactsCatalog);
  e.key = spec;
  e.data = model::serialize(entry);
  e.updated = nowSeconds();
  auto r = store.putEntry(e, policy::contactMatches(entry));
  return r.ok() ? Status() : r.status();
}

// Common to every subcommand: --account and --config, the account must exist.
struct Target {
  std::string config_path = kDefaultConfigPath;
  std::string account;
};

void addTargetOptions(ArgParser& p, Target& t) {
  p.option("account", "ADDRESS", "the account whose catalog to change", &t.account, true);
  p.option("config", "FILE", std::string("configuration (default ") + kDefaultConfigPath + ")",
           &t.config_path);
}

std::unique_ptr<AdminContext> openTarget(const std::string& cmd, Target& t, ArgParser& p,
                                         int* rc) {
  auto addr = parseAccountAddress(t.account);
  if (!addr.ok()) {
    *rc = p.usageError(addr.status().message());
    return nullptr;
  }
  t.account = *addr;
  auto ctx = openAdmin(cmd, t.config_path);
  if (!ctx) {
    *rc = 1;
    return nullptr;
  }
  auto a = ctx->store->getAccount(t.account);
  if (!a.ok()) {
    *rc = reportError(cmd, a.status().code() == StatusCode::kNotFound
                               ? notFound("no account " + t.account +
                                          " (create it with: meshgate account create " +
                                          t.account + ")")
                               : a.status());
    return nullptr;
  }
  return ctx;
}

int contactsAdd(const Args& args) {
  const std::string cmd = "meshgate contacts add";
  Target t;
  std::string contact, name;
  std::vector<std::string> protocols;
  ArgParser p(cmd, "Add a contact to an account's contacts catalog (or replace its protocols).");
  p.positional("CONTACT", "bob@example.net, @example.net (a whole domain) or udf:FINGERPRINT",
               &contact);
  addTargetOptions(p, t);
  p.repeated("protocol", "NAME", kProtocolHelp, &protocols);
  p.option("name", "TEXT", "the contact's display name", &name);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto spec = policy::normalizeContactSpec(contact);
  if (!spec.ok()) return p.usageError(spec.status().message());
  int rc = 0;
  auto ctx = openTarget(cmd, t, p, &rc);
  if (!ctx) return rc;
  auto protos = normalizeProtocols(protocols);
  Status st = auditedAdminChange(
      *ctx, "contact-add", t.account, "contact=" + *spec + " protocols=" + joinList(protos, ","),
      [&] { return putContact(*ctx->store, t.account, *spec, protos, name); });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << t.account << ": contact " << *spec << " may use " << joinList(protos, ",") << "\n";
  return 0;
}

int contactsRemove(const Args& args) {
  const std::string cmd = "meshgate contacts remove";
  Target t;
  std::string contact;
  ArgParser p(cmd, "Remove a contact from an account's contacts catalog.");
  p.positional("CONTACT", "as it was added: address, @domain or udf:FINGERPRINT", &contact);
  addTargetOptions(p, t);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto spec = policy::normalizeContactSpec(contact);
  if (!spec.ok()) return p.usageError(spec.status().message());
  int rc = 0;
  auto ctx = openTarget(cmd, t, p, &rc);
  if (!ctx) return rc;
  // Every key the entry may be stored under (a U-label twin written by an earlier version is
  // still honoured by the ingress check, so it must go too); removed if any existed.
  Status st = auditedAdminChange(*ctx, "contact-remove", t.account, "contact=" + *spec, [&] {
    Status missing;
    bool removed = false;
    for (const std::string& key : policy::storedContactKeys(*spec)) {
      Status one = ctx->store->deleteEntry(t.account, policy::kContactsCatalog, key);
      if (one.ok()) {
        removed = true;
      } else if (one.code() != StatusCode::kNotFound) {
        return one;
      } else if (missing.ok()) {
        missing = one;
      }
    }
    return removed ? Status() : missing;
  });
  if (!st.ok()) return reportError(cmd, st);
  std::cout << t.account << ": removed contact " << *spec << "\n";
  return 0;
}

int contactsList(const Args& args) {
  const std::string cmd = "meshgate contacts list";
  Target t;
  bool json = false;
  ArgParser p(cmd, "List an account's contacts with the protocols each may use.");
  addTargetOptions(p, t);
  p.flag("json", "print each entry as its CatalogedContact JSON", &json);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  int rc = 0;
  auto ctx = openTarget(cmd, t, p, &rc);
  if (!ctx) return rc;
  EntryQuery q;
  q.max_entries = 1000;
  size_t total = 0;
  for (;;) {
    auto page = ctx->store->listEntries(t.account, policy::kContactsCatalog, q);
    if (!page.ok()) return reportError(cmd, page.status());
    for (const auto& e : page->items) {
      ++total;
      if (json) {
        std::cout << e.data << "\n";
        continue;
      }
      auto entry = model::parse<model::CatalogedContact>(e.data);
      std::string protocols = entry.ok() ? policy::permittedProtocols(*entry) : "(unreadable)";
      std::cout << std::left << std::setw(40) << e.key << " " << protocols << "\n";
    }
    if (page->next_page_key.empty()) break;
    q.page_key = page->next_page_key;
  }
  std::cerr << total << " contact(s)\n";
  return 0;
}

int contactsImport(const Args& args) {
  const std::string cmd = "meshgate contacts import";
  Target t;
  std::string file;
  std::vector<std::string> protocols;
  bool allow_domains = false;
  ArgParser p(cmd,
              "Import contacts from a vCard (3.0/4.0) or CSV address-book export into an "
              "account's catalog.\nCSV: the first row names the columns (email / e-mail address, "
              "optional name, protocols).");
  p.positional("FILE", "the .vcf or .csv file (at most 64 MiB)", &file);
  addTargetOptions(p, t);
  p.repeated("protocol", "NAME", kProtocolHelp + std::string(" (rows without a protocols column)"),
             &protocols);
  p.flag("allow-domains",
         "import @domain rows too (each lets a whole domain reach the account); without it they "
         "are listed and skipped",
         &allow_domains);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  std::ifstream in(file, std::ios::binary);
  if (!in) return reportError(cmd, notFound(file + ": cannot open: " + std::strerror(errno)));
  // Read at most the limit and one byte more: an address book is never that large, and a
  // wrong FILE (a disk image, /dev/zero) must end with an error, not with memory exhausted.
  constexpr size_t kMaxImportBytes = size_t{64} << 20;
  std::string text;
  std::array<char, 1 << 16> chunk{};
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
    text.append(chunk.data(), static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxImportBytes) {
      return reportError(cmd, invalidArgument(file + ": larger than 64 MiB; split the address "
                                                     "book and import the parts"));
    }
  }
  policy::ImportResult parsed = policy::parseContactFile(text, file);
  text = std::string();
  int rc = 0;
  auto ctx = openTarget(cmd, t, p, &rc);
  if (!ctx) return rc;
  auto fallback = normalizeProtocols(protocols);
  size_t done = 0, added = 0;
  std::vector<std::string> problems = parsed.errors;
  // One record for the import: a file of thousands of contacts is one administrator action.
  Status imported = auditedAdminChange(
      *ctx, "contact-import", t.account,
      "file=" + file + " contacts=" + std::to_string(parsed.contacts.size()), [&]() -> Status {
        for (const auto& c : parsed.contacts) {
          ++done;
          // A row that cannot be written is a problem of that row, listed and skipped like a
          // bad address: it must not stop the import half-way with the rows before it written.
          auto spec = policy::normalizeContactSpec(c.address);
          if (spec.ok() && spec->front() == '@' && !allow_domains) {
            problems.push_back(file + ":" + std::to_string(c.line) + ": " + *spec +
                               " would let the whole domain reach " + t.account +
                               " (skipped; add it with meshgate contacts add, or import with "
                               "--allow-domains)");
            continue;
          }
          if (!spec.ok() || hasControlCharacter(c.name)) {
            problems.push_back(file + ":" + std::to_string(c.line) + ": " +
                               (spec.ok() ? "the name of " + *spec +
                                                " contains a control character (such as ESC, "
                                                "CR or LF)"
                                          : spec.status().message()));
            continue;
          }
          Status st =
              putContact(*ctx->store, t.account, *spec,
                         c.protocols.empty() ? fallback : normalizeProtocols(c.protocols), c.name);
          if (st.code() == StatusCode::kInvalidArgument ||
              st.code() == StatusCode::kAlreadyExists) {
            // The store refused this row's content (a key another entry's index already
            // holds, a text it cannot store): that row's problem, not the import's.
            problems.push_back(file + ":" + std::to_string(c.line) + ": " + *spec + ": " +
                               st.message());
            continue;
          }
          if (!st.ok()) {
            return st.withContext(file + ":" + std::to_string(c.line) + " (" +
                                  std::to_string(added) +
                                  " contact(s) before it were imported; the import can be run "
                                  "again: existing contacts are replaced)");
          }
          ++added;
          if (done % 1000 == 0) {
            std::cerr << "\r" << done << "/" << parsed.contacts.size() << " contacts" << std::flush;
          }
        }
        return Status();
      });
  if (!imported.ok()) return reportError(cmd, imported);
  if (parsed.contacts.size() >= 1000) std::cerr << "\n";
  for (const auto& e : problems) std::cerr << e << "\n";
  std::cout << t.account << ": imported " << added << " contact(s) from " << file;
  if (!problems.empty()) std::cout << ", " << problems.size() << " problem(s) listed above";
  std::cout << "\n";
  return problems.empty() ? 0 : 1;
}

int contacts(const Args& args) {
  return runGroup("meshgate contacts",
                  "Manage an account's contacts catalog: who may reach the account, by which "
                  "protocol.",
                  {{"add", "add a contact (address, @domain or Mesh fingerprint)", contactsAdd},
                   {"remove", "remove a contact", contactsRemove},
                   {"list", "list contacts and their protocols", contactsList},
                   {"import", "import a vCard or CSV address book", contactsImport},
                   {"request", "send a Mesh contact request to an address", contactsRequest},
                   {"pending", "list contact requests waiting for an answer", contactsPending},
                   {"accept", "accept a contact request (the requester becomes a contact)",
                    contactsAccept},
                   {"reject", "reject a contact request", contactsReject}},
                  args);
}

}  // namespace

MESHGATE_COMMAND(contacts, "contacts", "manage an account's contacts catalog", contacts, 41);

}  // namespace meshgate::cli
