// contact_exchange.cc - `meshgate contacts request|pending|accept|reject`: contact exchange
// over the Mesh (issue 7 item 3, seed 7.2.1: a stranger asks, the account answers).
//
// request  ACCOUNT asks TARGET: a RequestContact (Sender ACCOUNT, Reply true), signed by this
//          gateway, posted to TARGET's Mesh service (adapters/smtp_to_mesh.h postEnvelope; a
//          local TARGET gets it in its catalog directly). TARGET is added to ACCOUNT's contacts
//          at once: whoever ACCOUNT asks may answer, also by mail.
// pending  the requests waiting in ACCOUNT's contact-requests catalog (the Post transaction
//          puts every RequestContact there, also from senders ingress control would refuse).
// accept   adds the requester to the account's contacts (its verified address, else its Mesh
//          identity udf:...), answers with a ReplyContact (Accept) when the requester's address
//          was verified, and removes the request.
// reject   removes the request. Nothing is sent: a stranger learns nothing.
// Every change is audited (kind "admin", rule contacts.<action>).
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>

#include "adapters/smtp_to_mesh.h"
#include "cli/admin_support.h"
#include "cli/args.h"
#include "cli/contact_exchange.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/model/codec_support.h"
#include "gateway/policy/contact_catalog.h"
#include "gateway/util/log.h"
#include "gateway/util/strings.h"
#include "meshgate/mesh_model.h"
#include "policy/mesh/mesh_dispatcher.h"
#include "policy/mesh/wire.h"
#include "policy/resolver/resolver.h"

namespace meshgate::cli {
namespace {

namespace model = mesh::model;

const std::string kRequests(meshsvc::kContactRequestsCatalog);

std::vector<std::string> protocolsOrDefault(const std::vector<std::string>& given) {
  if (given.empty()) return {"smtp", "mesh"};
  std::vector<std::string> out;
  for (const auto& p : given) {
    for (auto& piece : splitList(p, ',')) out.push_back(toLowerAscii(piece));
  }
  return out;
}

// `from` asked `to` (request), or `from`'s request to `to` was answered (accept, reject).
// The audit record of a contact exchange step, written before its change.
AuditRecord exchangeAuditRecord(const std::string& from, const std::string& to,
                                const std::string& action, const std::string& id) {
  AuditRecord a;
  a.message_id = id;
  a.sender = from;
  a.recipients = {to};
  a.rule = "contacts." + action;
  a.action = action;
  return a;
}

Status addContact(Store& store, const std::string& account, const std::string& spec,
                  const std::vector<std::string>& protocols) {
  model::CatalogedContact entry = policy::makeContactEntry(spec, protocols, "");
  CatalogEntry e{account, std::string(policy::kContactsCatalog), spec, model::serialize(entry),
                 nowSeconds(), 0};
  auto r = store.putEntry(e, policy::contactMatches(entry));
  return r.ok() ? Status() : r.status();
}

// A Mesh message from `account`, signed by this gateway, in an envelope whose EnvelopeId is
// the message's MessageID.
Result<mesh::DareEnvelope> sealMessage(const model::AnyMessage& message, const std::string& id,
                                       const mesh::PrivateKey& key) {
  const std::string text = model::serialize(message);
  MESHGATE_ASSIGN_OR_RETURN(mesh::DareEnvelope env, mesh::sealDare(asBytes(text), {}));
  env.header.envelope_id = id;
  const std::vector<mesh::PrivateKey> signers{key};
  MESHGATE_RETURN_IF_ERROR(mesh::signDare(env, signers));
  return env;
}

// What sending needs besides the store: the gateway key and a way to post.
struct Sender {
  mesh::PrivateKey key;
  std::unique_ptr<adapters::SmtpToMeshDelivery> delivery;
};

Result<Sender> openSender(AdminContext& ctx, const Clock& clock) {
  MESHGATE_ASSIGN_OR_RETURN(mesh::PrivateKey key,
                            mesh::loadPrivateKeyFile(ctx.config->gateway.key_file));
  resolver::ResolverDeps deps;
  deps.config = ctx.config;
  deps.store = ctx.store.get();
  deps.clock = &clock;
  deps.service_key = key.publicKey();
  MESHGATE_ASSIGN_OR_RETURN(std::unique_ptr<ProfileResolver> resolver,
                            resolver::makeProfileResolver(std::move(deps)));
  MESHGATE_ASSIGN_OR_RETURN(
      adapters::SmtpToMeshDeps post,
      adapters::smtpToMeshDepsFromConfig(std::shared_ptr<ProfileResolver>(std::move(resolver)),
                                         *ctx.config, [&clock] { return clock.now(); }));
  return Sender{std::move(key), std::make_unique<adapters::SmtpToMeshDelivery>(std::move(post))};
}

// Posts `env` to `to`; a local account gets it in `local_catalog` directly (as the Post
// transaction would store it). Returns how it went, for the user.
Result<std::string> send(AdminContext& ctx, Sender& sender, const std::string& to,
                         const mesh::DareEnvelope& env, const std::string& local_catalog,
                         const nlohmann::json& local_data) {
  auto posted = sender.delivery->postEnvelope(to, env, sender.key, ctx.config->smtp_to_mesh.timeout);
  if (!posted.ok()) return posted.status();
  switch (posted->outcome) {
    case adapters::MeshPostOutcome::kDelivered:
    case adapters::MeshPostOutcome::kAlreadyDelivered:
      return "posted to " + posted->detail;
    case adapters::MeshPostOutcome::kLocalAccount: {
      CatalogEntry e{to, local_catalog, *env.header.envelope_id, model::dumpJson(local_data),
                     nowSeconds(), 0};
      auto put = ctx.store->putEntry(e, std::nullopt);
      if (!put.ok()) return put.status();
      return std::string("stored for the local account");
    }
    case adapters::MeshPostOutcome::kNoProfile:
      return notFound(to + " has no verified Mesh profile (" + posted->detail + ")");
    case adapters::MeshPostOutcome::kRefused:
      return permissionDenied(to + "'s Mesh service refused it (" + posted->detail + ")");
    case adapters::MeshPostOutcome::kReachable:
      break;
  }
  return internalError("unexpected outcome");
}

void addOptions(ArgParser& p, std::string& config_path) {
  p.option("config", "FILE", std::string("configuration (default ") + kDefaultConfigPath + ")",
           &config_path);
}

std::unique_ptr<AdminContext> openAccount(const std::string& cmd, const std::string& config_path,
                                          const std::string& account) {
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return nullptr;
  auto a = ctx->store->getAccount(account);
  if (!a.ok()) {
    reportError(cmd, a.status().code() == StatusCode::kNotFound
                         ? notFound("no account " + account + " (create it with: meshgate account "
                                    "create " + account + ")")
                         : a.status());
    return nullptr;
  }
  return ctx;
}

// The pending request `id`: in `account`'s catalog, or found among all accounts.
Result<CatalogEntry> findRequest(Store& store, const std::string& account, const std::string& id) {
  auto e = findAccountEntry(store, kRequests, account, id);
  if (e.ok() || e.status().code() != StatusCode::kNotFound) return e;
  return notFound("no pending contact request " + id +
                  (account.empty() ? std::string()
                                   : " for " + account + " (meshgate contacts pending --account " +
                                         account + ")"));
}

struct PendingRequest {
  std::string sender;      // verified address, "" if unverified
  std::string claimed;     // what the message said
  std::string sender_udf;  // the signer's Mesh identity
  std::string subject;
  int64_t received = 0;
};

PendingRequest readPending(const CatalogEntry& e) {
  PendingRequest r;
  auto data = model::parseJsonText(e.data);
  if (!data.ok() || !data->is_object()) return r;
  auto text = [&](const char* name) {
    return data->contains(name) && (*data)[name].is_string() ? (*data)[name].get<std::string>() : "";
  };
  r.sender = text("Sender");
  r.claimed = text("ClaimedSender");
  r.sender_udf = text("SenderUdf");
  if (data->contains("Received") && (*data)["Received"].is_number_integer()) {
    r.received = (*data)["Received"].get<int64_t>();
  }
  if (data->contains("Envelope")) {
    auto env = mesh::dareFromJson((*data)["Envelope"]);
    if (env.ok()) {
      auto msg = model::parseMessage(toString(env->payload));
      if (msg.ok()) {
        if (const auto* rc = msg->get<model::RequestContact>(); rc && rc->subject) r.subject = *rc->subject;
      }
    }
  }
  return r;
}

}  // namespace

int contactsRequest(const Args& args) {
  const std::string cmd = "meshgate contacts request";
  std::string config_path = kDefaultConfigPath, account, target, message;
  std::vector<std::string> protocols;
  ArgParser p(cmd,
              "Send a Mesh contact request (RequestContact) from a local account to TARGET, and "
              "add TARGET to the\naccount's contacts so that the answer, and TARGET's mail, get "
              "through.");
  p.positional("TARGET", "the address asked, e.g. bob@example.net", &target);
  p.option("account", "ADDRESS", "the local account that asks", &account, true);
  p.option("message", "TEXT", "a short message shown to TARGET", &message);
  p.repeated("protocol", "NAME",
             "a protocol TARGET may use to reach the account (default: smtp and mesh)", &protocols);
  addOptions(p, config_path);
  p.epilog("TARGET's Mesh service is found and checked as `meshgate profile show` does.\n"
           "Exit status: 0 sent; 1 TARGET has no Mesh profile, its service refused or could not "
           "be reached; 2 usage error.\n");
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto from = parseAccountAddress(account);
  if (!from.ok()) return p.usageError(from.status().message());
  auto to = parseAccountAddress(target);
  if (!to.ok()) return p.usageError(to.status().message());
  if (*to == *from) return p.usageError("an account cannot ask itself");
  // The catalog key in the form every other command and the front-ends use (A-label domain):
  // `contacts remove` must find it, and a sender must match it.
  auto contact = policy::normalizeContactSpec(*to);
  if (!contact.ok()) return p.usageError(contact.status().message());
  if (hasControlCharacter(message) || message.size() > 1000) {
    return p.usageError("--message: at most 1000 characters, no control characters");
  }
  auto ctx = openAccount(cmd, config_path, *from);
  if (!ctx) return 1;
  SystemClock clock;
  auto sender = openSender(*ctx, clock);
  if (!sender.ok()) return reportError(cmd, sender.status());

  const std::string id = meshsvc::newNonce();
  model::RequestContact request;
  request.message_id = id;
  request.sender = *from;
  request.recipient = *to;
  request.reply = true;
  if (!message.empty()) request.subject = message;
  auto env = sealMessage(model::AnyMessage(request), id, sender->key);
  if (!env.ok()) return reportError(cmd, env.status());
  const auto protos = protocolsOrDefault(protocols);
  const nlohmann::json local = {{"EnvelopeId", id},       {"MessageId", id},
                                {"Envelope", mesh::dareToJson(*env)},
                                {"Sender", *from},        {"ClaimedSender", *from},
                                {"SenderUdf", ""},        {"Via", "local"},
                                {"Received", nowSeconds()}};
  // Added first (and audited as such): the answer may come back before this command ends.
  Status st = auditedAdminChange(*ctx, "contact-add", *from,
                                 "contact=" + *contact + " protocols=" + joinList(protos, ","),
                                 [&] { return addContact(*ctx->store, *from, *contact, protos); });
  if (!st.ok()) return reportError(cmd, st);
  Result<std::string> sent = internalError("not sent");
  st = auditedChange(*ctx, exchangeAuditRecord(*from, *to, "request", id), [&] {
    sent = send(*ctx, *sender, *to, *env, kRequests, local);
    return sent.status();
  });
  if (!st.ok()) {
    return reportError(cmd, st.withContext("contact request to " + *to + " not sent (" + *to +
                                           " stays in " + *from + "'s contacts)"));
  }
  std::cout << *from << ": contact request " << id << " to " << *to << " " << *sent << "; " << *to
            << " may now reach " << *from << " by " << joinList(protos, ",") << "\n";
  return 0;
}

int contactsPending(const Args& args) {
  const std::string cmd = "meshgate contacts pending";
  std::string config_path = kDefaultConfigPath, account;
  bool json = false;
  ArgParser p(cmd, "List the contact requests waiting for an account's answer.");
  p.option("account", "ADDRESS", "the account", &account, true);
  p.flag("json", "one JSON object per request", &json);
  addOptions(p, config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  auto addr = parseAccountAddress(account);
  if (!addr.ok()) return p.usageError(addr.status().message());
  auto ctx = openAccount(cmd, config_path, *addr);
  if (!ctx) return 1;
  EntryQuery q;
  q.max_entries = 500;
  size_t total = 0;
  for (;;) {
    auto page = ctx->store->listEntries(*addr, kRequests, q);
    if (!page.ok()) return reportError(cmd, page.status());
    for (const auto& e : page->items) {
      ++total;
      PendingRequest r = readPending(e);
      if (json) {
        std::cout << nlohmann::json{{"id", e.key}, {"sender", r.sender}, {"claimed_sender", r.claimed},
                                    {"sender_udf", r.sender_udf}, {"subject", r.subject},
                                    {"received", r.received}}
                         .dump()
                  << "\n";
        continue;
      }
      std::string from = !r.sender.empty() ? r.sender
                         : !r.claimed.empty() ? r.claimed + " (unverified)"
                                              : "udf:" + r.sender_udf;
      std::cout << std::left << std::setw(30) << log::sanitize(e.key) << " " << utcTime(r.received)
                << " " << log::sanitize(from);
      if (!r.subject.empty()) std::cout << "  \"" << log::sanitize(r.subject) << "\"";
      std::cout << "\n";
    }
    if (page->next_page_key.empty()) break;
    q.page_key = page->next_page_key;
  }
  std::cerr << total << " pending contact request(s)\n";
  return 0;
}

namespace {

std::string requesterOf(const PendingRequest& r) {
  return !r.sender.empty() ? r.sender : !r.claimed.empty() ? r.claimed : "udf:" + r.sender_udf;
}

// `meshgate contacts reject --account A --received-before T`: every request of the account
// received before T, each audited and removed as a single reject is (a flood of requests fills
// the catalog, and the Mesh service answers TryLater to new ones until room is made).
int rejectReceivedBefore(const std::string& cmd, const std::string& config_path,
                         const std::string& account, int64_t cutoff) {
  auto ctx = openAccount(cmd, config_path, account);
  if (!ctx) return 1;
  // Collected first: removing entries while paging by sequence would skip none, but the list
  // also gives the progress its total.
  std::vector<std::pair<std::string, std::string>> old;  // id, requester
  EntryQuery q;
  q.max_entries = 500;
  for (;;) {
    auto page = ctx->store->listEntries(account, kRequests, q);
    if (!page.ok()) return reportError(cmd, page.status());
    for (const auto& e : page->items) {
      const PendingRequest r = readPending(e);
      const int64_t received = r.received > 0 ? r.received : e.updated;
      if (received < cutoff) old.emplace_back(e.key, requesterOf(r));
    }
    if (page->next_page_key.empty()) break;
    q.page_key = page->next_page_key;
  }
  size_t done = 0, gone = 0;
  for (const auto& request : old) {
    // Named copies, not a structured binding: clang 14 cannot capture one in the lambda.
    const std::string& id = request.first;
    const std::string& who = request.second;
    Status st = auditedChange(*ctx, exchangeAuditRecord(who, account, "reject", id),
                              [&] { return ctx->store->deleteEntry(account, kRequests, id); });
    if (st.code() == StatusCode::kNotFound) {
      ++gone;  // answered by someone else meanwhile
    } else if (!st.ok()) {
      std::cerr << cmd << ": stopped after " << done << " of " << old.size() << "\n";
      return reportError(cmd, st);
    } else {
      ++done;
    }
    if ((done + gone) % 100 == 0 && done + gone < old.size()) {
      std::cerr << cmd << ": " << (done + gone) << "/" << old.size() << "\n";
    }
  }
  std::cout << account << ": rejected " << done << " contact request(s) received before "
            << utcTime(cutoff);
  if (gone > 0) std::cout << " (" << gone << " answered meanwhile)";
  std::cout << "\n";
  return 0;
}

int answer(const Args& args, bool accept) {
  const std::string cmd = std::string("meshgate contacts ") + (accept ? "accept" : "reject");
  std::string config_path = kDefaultConfigPath, account, id, received_before;
  std::vector<std::string> protocols;
  ArgParser p(cmd, accept ? "Accept a pending contact request: the requester becomes a contact "
                            "(and is told so, when its address was verified)."
                          : "Reject a pending contact request. Nothing is sent to the requester.");
  p.positional("ID", "the request, as `meshgate contacts pending` lists it", &id,
               /*required=*/accept);
  p.option("account", "ADDRESS", "the account (needed only when two accounts have the ID)", &account);
  if (!accept) {
    p.option("received-before", "TIME",
             "instead of one ID: every request of --account received before TIME (a date, ISO "
             "time, Unix seconds, or an age such as 30d)",
             &received_before);
  }
  if (accept) {
    p.repeated("protocol", "NAME",
               "a protocol the requester may use to reach the account (default: smtp and mesh)",
               &protocols);
  }
  addOptions(p, config_path);
  if (int rc = p.parse(args); rc != ArgParser::kContinue) return rc;
  if (!account.empty()) {
    auto addr = parseAccountAddress(account);
    if (!addr.ok()) return p.usageError(addr.status().message());
    account = *addr;
  }
  if (!received_before.empty()) {
    if (!id.empty()) return p.usageError("give an ID or --received-before, not both");
    if (account.empty()) return p.usageError("--received-before needs --account");
    const int64_t now = nowSeconds();
    auto cutoff = parseTimeOrAge("--received-before", received_before, now);
    if (!cutoff.ok()) return p.usageError(cutoff.status().message());
    if (*cutoff > now) {
      return p.usageError("--received-before: \"" + received_before +
                          "\" is in the future; every pending request would go");
    }
    return rejectReceivedBefore(cmd, config_path, account, *cutoff);
  }
  if (id.empty()) return p.usageError("missing ID (or --received-before with --account)");
  if (!isCatalogKeyText(id)) return p.usageError("ID: not a request identifier");
  auto ctx = openAdmin(cmd, config_path);
  if (!ctx) return 1;
  auto entry = findRequest(*ctx->store, account, id);
  if (!entry.ok()) return reportError(cmd, entry.status());
  const std::string owner = entry->account;
  PendingRequest r = readPending(*entry);
  const std::string who = requesterOf(r);
  // Only what was verified becomes a contact: the address when its profile vouched for the
  // signer, else the signer's Mesh identity (an unverified address proves nothing).
  std::string contact;
  const auto protos = protocolsOrDefault(protocols);
  if (accept) {
    std::string spec;
    if (!r.sender.empty()) spec = r.sender;
    else if (!r.sender_udf.empty()) spec = "udf:" + r.sender_udf;
    else return reportError(cmd, failedPrecondition("request " + id + " names no verifiable sender"));
    auto normalized = policy::normalizeContactSpec(spec);
    if (!normalized.ok()) return reportError(cmd, normalized.status());
    contact = *normalized;
  }
  Status answered =
      auditedChange(*ctx, exchangeAuditRecord(who, owner, accept ? "accept" : "reject", id), [&] {
        // The request is taken first: of two administrators answering it at once, one finds
        // it gone, so a rejected requester is never made a contact by a concurrent accept.
        Status removed = ctx->store->deleteEntry(owner, kRequests, id);
        if (removed.code() == StatusCode::kNotFound) {
          return failedPrecondition("request " + id +
                                    " was answered meanwhile by another command; nothing changed");
        }
        if (!removed.ok() || !accept) return removed;
        Status added = addContact(*ctx->store, owner, contact, protos);
        if (!added.ok()) {
          return added.withContext("request " + id + " is answered but " + contact +
                                   " was not added: meshgate contacts add " + contact +
                                   " --account " + owner);
        }
        return added;
      });
  if (!answered.ok()) return reportError(cmd, answered);
  int rc = 0;
  if (accept) {
    std::cout << owner << ": accepted " << log::sanitize(id) << "; contact " << contact
              << " may use " << joinList(protos, ",") << "\n";
    if (!r.sender.empty()) {
      SystemClock clock;
      auto sender = openSender(*ctx, clock);
      Result<std::string> sent = internalError("not sent");
      if (!sender.ok()) {
        sent = sender.status();
      } else {
        const std::string reply_id = meshsvc::newNonce();
        model::ReplyContact reply;
        reply.message_id = reply_id;
        reply.sender = owner;
        reply.recipient = r.sender;
        model::Reference ref;
        ref.message_id = id;
        ref.relationship = "Accept";
        reply.references.push_back(std::move(ref));
        auto env = sealMessage(model::AnyMessage(reply), reply_id, sender->key);
        sent = env.ok() ? send(*ctx, *sender, r.sender, *env, std::string(meshsvc::kInboundCatalog),
                               nlohmann::json{{"EnvelopeId", reply_id},
                                              {"Envelope", mesh::dareToJson(*env)},
                                              {"Sender", owner},
                                              {"Contact", "known-contact"},
                                              {"Received", nowSeconds()}})
                        : Result<std::string>(env.status());
      }
      if (sent.ok()) {
        std::cout << "reply (ReplyContact) to " << r.sender << " " << *sent << "\n";
      } else {
        std::cerr << cmd << ": the contact was added, but the reply to " << r.sender
                  << " was not sent: " << sent.status().message() << "\n";
        rc = 1;
      }
    }
  } else {
    std::cout << owner << ": rejected " << log::sanitize(id) << " from " << log::sanitize(who) << "\n";
  }
  return rc;
}

}  // namespace

int contactsAccept(const Args& args) { return answer(args, true); }
int contactsReject(const Args& args) { return answer(args, false); }

}  // namespace meshgate::cli
