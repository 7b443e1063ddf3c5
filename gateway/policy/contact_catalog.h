// NAME
//   contact_catalog.h - contacts catalog entries (CatalogedContact) and the index rows that
//   ingress control looks up.
//
// DESCRIPTION
//   A contact is stored as a CatalogedContact (seed 2.8.4) whose Contact lists the sender's
//   NetworkAddresses (an address "bob@example.net" or a whole domain "@example.net") and
//   Anchors (Mesh profile fingerprints), and whose Permissions name the protocols the contact
//   may use to reach the account: Permission{Name: "smtp", Role: "permit"}; Name "*" permits
//   every protocol. contactMatches() derives the rows of the store's contact index from an
//   entry, so the index is always a function of the stored entry.
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/ports/store.h"
#include "gateway/util/status.h"
#include "meshgate/mesh_model.h"

namespace meshgate::policy {

inline constexpr std::string_view kContactsCatalog = "contacts";
inline constexpr std::string_view kPermitRole = "permit";

// A contact as the administrator writes it: "bob@example.net", "@example.net", or
// "udf:MBQX-...". Returns the normalized form (lower case; the UDF upper case) or an error.
Result<std::string> normalizeContactSpec(std::string_view spec);

// The keys an entry for `normalized` (an address or @domain as normalizeContactSpec returns
// it) may be stored under: that key and, for an internationalized domain, the U-label form
// versions before 2026-11 stored ("@bücher.example" for "@xn--bcher-kva.example"), which the
// ingress filter still honours and `contacts remove` must therefore remove too.
std::vector<std::string> storedContactKeys(const std::string& normalized);

// A CatalogedContact for one spec (already normalized), permitting `protocols`.
mesh::model::CatalogedContact makeContactEntry(const std::string& spec,
                                               const std::vector<std::string>& protocols,
                                               const std::string& display_name = "");

// The index rows of an entry: one per active network address and per anchor.
std::vector<ContactMatch> contactMatches(const mesh::model::CatalogedContact& entry);

// The protocols an entry permits, comma-joined ("smtp,ssh"; "*" for all; "" for none).
std::string permittedProtocols(const mesh::model::CatalogedContact& entry);

}  // namespace meshgate::policy
