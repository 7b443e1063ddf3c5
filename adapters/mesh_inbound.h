// NAME
//   mesh_inbound.h - Mesh Messages that the Post transaction accepted for local accounts,
//   handed to the local MTA as mail (issue 7 item 2: Mesh -> SMTP).
//
// SYNOPSIS
//   MeshInboundDelivery delivery(store);
//   SmtpClientSubmitter smtp(smtpOptionsFromConfig(config));
//   Result<InboundPass> pass = delivery.runPass({.gateway_node = "mx.example.com"}, smtp,
//                                               gateway_key, now);   // every few seconds
//
// DESCRIPTION
//   The Post transaction (policy/mesh/mesh_tx_post.cc) stores each envelope that ingress
//   control accepted in the account's "inbound" catalog, with the decision (Contact). A pass
//   walks every account's inbound catalog and, for each envelope:
//     - signed but not encrypted: renders the message (renderMeshMessage, with a security
//       signal saying the contact status Post decided) and submits it with deliverOnce; once
//       the MTA took it (or it was delivered before) the entry leaves "inbound", so the next
//       pass does not see it and a retried Post of the same envelope is a duplicate that
//       deliverOnce recognises;
//     - encrypted mail that another gateway bridged from SMTP (content type message/rfc822,
//       issue 7 item 1): opened with the account's encryption key, which this gateway holds
//       for the accounts it provisioned, and delivered as the original message (forged
//       Mesh-* fields removed, our signal with the check "encrypted" added);
//     - anything else encrypted end to end (or an account whose key is not here): not
//       opened; it stays in "inbound" for the account's own Mesh devices (left_for_devices);
//     - the MTA deferred it or the store failed: stays, retried on the next pass;
//     - refused for good by the MTA (a 5xx): moved to the account's "held" catalog; a message
//       type that is not rendered as mail stays in "inbound", logged once per process run.
//   The record that an envelope was delivered (catalog "smtp-delivered") is what recognises a
//   retried Post after the entry left "inbound"; records older than
//   mesh_to_smtp.delivered_retention (30 days by default) are deleted, once an hour.
//   Held envelopes (catalog "held", first contacts of quarantine-unknown accounts) are not
//   delivered: that is the quarantine's decision.
//
// THREAD SAFETY
//   One pass at a time per object (the service runs them from one thread).
//
// ERRORS
//   runPass: kUnavailable when the store cannot list accounts or entries (the pass stops; the
//   next one starts over). A single envelope's failure is counted, never an error of the pass.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "adapters/smtp_delivery.h"
#include "gateway/mesh/keys.h"
#include "gateway/ports/store.h"

namespace meshgate::adapters {

struct InboundPass {
  int delivered = 0;         // submitted now
  int duplicates = 0;        // delivered before (a retried Post); removed from inbound
  int deferred = 0;          // retried next pass
  int refused = 0;           // refused for good
  int left_for_devices = 0;  // encrypted end to end
  int forgotten = 0;         // delivery records past mesh_to_smtp.delivered_retention, deleted
};

struct MeshInboundOptions {
  std::string gateway_node;  // the signal's gw= and synthesized Message-IDs
  // gateway.data_dir: where the accounts' keys are (encrypted mail bridged from SMTP is opened
  // with the account's encryption key). "" = encrypted envelopes are all left for devices.
  std::string key_folder_root;
  int page_size = 100;
  // Delivery records (smtp-delivered) older than this are deleted, once an hour at most.
  int64_t delivered_retention_seconds = 30 * 86400;
};

class MeshInboundDelivery {
 public:
  explicit MeshInboundDelivery(Store& store) : store_(store) {}

  // Options and submitter per pass: a reloaded configuration applies to the next pass.
  Result<InboundPass> runPass(const MeshInboundOptions& options, SmtpSubmitter& smtp,
                              const mesh::PrivateKey& gateway_key, int64_t now);

 private:
  struct PassContext {
    const MeshInboundOptions& options;
    SmtpSubmitter& smtp;
    const mesh::PrivateKey& gateway_key;
    int64_t now;
    InboundPass& pass;
  };
  // Delivers one stored envelope; adds to the pass. Returns true when it leaves "inbound".
  bool deliverEntry(const CatalogEntry& entry, PassContext& ctx);
  // Deletes the delivery records last written before `cutoff`; returns how many.
  Result<int> forgetDeliveriesBefore(int64_t cutoff, int page_size);

  Store& store_;
  int64_t last_forget_ = 0;         // when forgetDeliveriesBefore last ran (Unix seconds)
  std::set<std::string> reported_;  // "account/EnvelopeId" already logged as refused
};

}  // namespace meshgate::adapters
