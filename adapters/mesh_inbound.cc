// mesh_inbound.cc - Mesh Messages accepted by Post, rendered and handed to the local MTA.
#include "adapters/mesh_inbound.h"

#include "adapters/mesh_mail.h"
#include "gateway/mesh/dare.h"
#include "gateway/mesh/model/codec_support.h"
#include "gateway/util/encoding.h"
#include "gateway/util/log.h"
#include "meshgate/mesh_model.h"
#include "policy/accounts/account_provisioner.h"
#include "policy/mesh/mesh_dispatcher.h"

namespace meshgate::adapters {

namespace model = mesh::model;

bool MeshInboundDelivery::deliverEntry(const CatalogEntry& entry, PassContext& ctx) {
  InboundPass& pass = ctx.pass;
  const std::string id = entry.account + "/" + entry.key;
  // Not deliverable as mail: logged once and left in inbound, where the account's own Mesh
  // devices may still read it - except what the MTA refused for good (`to_held`): that is
  // moved to the account's held catalog, where `meshgate quarantine mesh list|release|delete`
  // reaches it, instead of being resubmitted in every attempt window for ever.
  auto refuse = [&](const std::string& why, bool to_held = false) {
    ++pass.refused;
    std::string not_moved;
    if (to_held) {
      auto moved = store_.moveEntry(entry.account, meshsvc::kInboundCatalog, entry.key,
                                    meshsvc::kHeldCatalog, entry.sequence, ctx.now);
      if (moved.ok()) {
        log::warning(
            "%s: to=<%s> action=refused: %s; moved to the held catalog (meshgate "
            "quarantine mesh show %s)",
            log::sanitize(entry.key).c_str(), entry.account.c_str(), log::sanitize(why).c_str(),
            log::sanitize(entry.key).c_str());
        reported_.erase(id);
        return false;
      }
      not_moved = " (not moved to held: " + log::sanitize(moved.status().message()) + ")";
    }
    if (reported_.insert(id).second) {
      log::warning("%s: to=<%s> action=refused: %s; it stays in the inbound catalog%s",
                   log::sanitize(entry.key).c_str(), entry.account.c_str(),
                   log::sanitize(why).c_str(), not_moved.c_str());
    }
    return false;
  };
  auto data = model::parseJsonText(entry.data);
  if (!data.ok() || !data->is_object() || !data->contains("Envelope")) {
    return refuse("the stored entry is not an accepted envelope");
  }
  auto envelope = mesh::dareFromJson((*data)["Envelope"]);
  if (!envelope.ok()) return refuse("stored envelope: " + envelope.status().message());
  model::AnyMessage message;
  std::vector<std::string> checks;
  if (envelope->header.enc) {
    // Mail another gateway bridged from SMTP (message/rfc822, encrypted to the account's
    // KeyEncryption, which this gateway holds for the accounts it provisioned) is opened and
    // delivered as the original message. Anything else encrypted end to end is for the
    // account's devices, which fetch it from the catalog.
    auto content_type = mesh::dareContentType(envelope->header);
    if (ctx.options.key_folder_root.empty() || !content_type.ok() || !*content_type ||
        **content_type != "message/rfc822") {
      ++pass.left_for_devices;
      return false;
    }
    auto folder = accounts::accountKeyFolder(ctx.options.key_folder_root, entry.account);
    Result<accounts::AccountKeys> keys =
        folder.ok() ? accounts::loadAccountKeys(*folder) : Result<accounts::AccountKeys>(folder.status());
    if (!keys.ok()) {
      ++pass.left_for_devices;  // the gateway does not hold this account's key
      return false;
    }
    const std::vector<mesh::PrivateKey> decryption{keys->encryption};
    auto opened = mesh::openDare(*envelope, decryption, {});
    if (!opened.ok()) return refuse("encrypted mail: " + opened.status().message());
    model::MessageMail mail;
    mail.body = std::move(opened->plaintext);
    message = model::AnyMessage(std::move(mail));
    checks.emplace_back("encrypted");
  } else {
    auto parsed = model::parseMessage(toString(envelope->payload));
    if (!parsed.ok()) return refuse("payload: " + parsed.status().message());
    message = std::move(parsed).value();
  }

  MeshMailContext context;
  context.recipient = entry.account;
  context.envelope_id = entry.key;
  context.gateway_node = ctx.options.gateway_node;
  context.now = ctx.now;
  context.checks = checks;
  if (data->contains("Contact") && (*data)["Contact"].is_string()) {
    context.contact = (*data)["Contact"].get<std::string>();
  }
  if (data->contains("Sender") && (*data)["Sender"].is_string()) {
    context.verified_sender = (*data)["Sender"].get<std::string>();
  }
  auto rendered = renderMeshMessage(message, context, ctx.gateway_key);
  if (!rendered.ok()) return refuse(rendered.status().message());

  auto outcome = deliverOnce(store_, ctx.smtp, *rendered, ctx.now);
  if (!outcome.ok()) {
    if (outcome.status().code() == StatusCode::kPermissionDenied) {
      return refuse(outcome.status().message(), /*to_held=*/true);
    }
    ++pass.deferred;  // deliverOnce logged it
    return false;
  }
  if (*outcome == DeliveryOutcome::kDelivered) {
    ++pass.delivered;
  } else {
    ++pass.duplicates;
  }
  return true;
}

Result<InboundPass> MeshInboundDelivery::runPass(const MeshInboundOptions& options,
                                                 SmtpSubmitter& smtp,
                                                 const mesh::PrivateKey& gateway_key, int64_t now) {
  InboundPass pass;
  if (now - last_forget_ >= 3600) {
    // Once an hour: delivery records past their retention go (a failure is retried next hour;
    // it only delays the clean-up).
    Result<int> forgotten =
        forgetDeliveriesBefore(now - options.delivered_retention_seconds, options.page_size);
    if (forgotten.ok()) {
      pass.forgotten = *forgotten;
    } else {
      log::warning("mesh-to-smtp: old delivery records not deleted: %s",
                   log::sanitize(forgotten.status().message()).c_str());
    }
    last_forget_ = now;
  }
  PassContext ctx{options, smtp, gateway_key, now, pass};
  MESHGATE_ASSIGN_OR_RETURN(std::vector<AccountRecord> accounts, store_.listAccounts());
  const std::string catalog(meshsvc::kInboundCatalog);
  for (const AccountRecord& account : accounts) {
    EntryQuery query;
    query.max_entries = options.page_size;
    for (;;) {
      MESHGATE_ASSIGN_OR_RETURN(Page<CatalogEntry> page,
                                store_.listEntries(account.address, catalog, query));
      for (const CatalogEntry& entry : page.items) {
        if (!deliverEntry(entry, ctx)) continue;
        // Delivered: out of "inbound". If this fails the next pass finds it delivered.
        Status removed = store_.deleteEntry(entry.account, catalog, entry.key);
        if (!removed.ok() && removed.code() != StatusCode::kNotFound) {
          log::warning("%s: to=<%s> delivered, still in the inbound catalog: %s",
                       log::sanitize(entry.key).c_str(), entry.account.c_str(),
                       log::sanitize(removed.message()).c_str());
        }
      }
      if (page.next_page_key.empty()) break;
      query.page_key = page.next_page_key;
    }
  }
  return pass;
}

Result<int> MeshInboundDelivery::forgetDeliveriesBefore(int64_t cutoff, int page_size) {
  EntryQuery query;
  query.before = cutoff;
  query.max_entries = page_size;
  int forgotten = 0;
  for (;;) {
    MESHGATE_ASSIGN_OR_RETURN(Page<CatalogEntry> page,
                              store_.listEntries("", kDeliveredCatalog, query));
    for (const CatalogEntry& entry : page.items) {
      Status removed = store_.deleteEntry("", kDeliveredCatalog, entry.key);
      if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
      ++forgotten;
    }
    if (page.next_page_key.empty()) break;
    query.page_key = page.next_page_key;
  }
  return forgotten;
}

}  // namespace meshgate::adapters
