// NAME
//   correspondents.h - CorrespondentLog: the external domains each local sender has written
//   to, for the "recipient domain looks like one you write to" check (too_stupid_filter.h).
//
// SYNOPSIS
//   CorrespondentLog log(store, clock);
//   Result<std::vector<std::string>> known = log.domains("alice@example.com", 1000);
//   Status s = log.record("alice@example.com", "partner.net");
//
// DESCRIPTION
//   Kept in the store, so every node sees the same history, as catalog entries: account = the
//   sender's address (lower case), catalog "meshgate.correspondents", key = the recipient's
//   domain, data = {"first":<unix time>}. Catalog entries can be listed per account, which the
//   lookalike comparison needs; rate counters (Store::addToCounter) can only be asked about a
//   key already known, and "which known domain does this new one look like" cannot be asked
//   that way. Senders need no meshgate account (the entries table has no foreign key to
//   accounts); deleting an account deletes its history with its other catalogs.
//
//   Entries come back in the order they were first written; `max` bounds what one message
//   reads, so a sender with more domains is compared against the first `max`.
//
// ERRORS
//   The store's Status (kUnavailable...), never an empty history in its place.
//
// THREAD SAFETY
//   Stateless; safe for concurrent use (the Store is).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/ports/clock.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::policy {

class CorrespondentLog {
 public:
  static constexpr std::string_view kCatalog = "meshgate.correspondents";

  CorrespondentLog(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  Result<std::vector<std::string>> domains(std::string_view sender, int max) const;
  Status record(std::string_view sender, std::string_view domain) const;

 private:
  Store& store_;
  const Clock& clock_;
};

}  // namespace meshgate::policy
