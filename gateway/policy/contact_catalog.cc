// contact_catalog.cc - see contact_catalog.h.
#include "gateway/policy/contact_catalog.h"

#include <algorithm>

#include "gateway/mail/address.h"
#include "gateway/mail/codec.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {

namespace model = mesh::model;

Result<std::string> normalizeContactSpec(std::string_view spec_in) {
  std::string spec(trimWhitespace(spec_in));
  auto bad = [&](const std::string& why) {
    return invalidArgument("\"" + printable(spec) + "\" is not a contact: " + why +
                           " (expected user@domain, @domain or udf:FINGERPRINT)");
  };
  if (spec.size() > 320) return bad("too long");
  if (spec.find_first_of(" \t\r\n<>,;\"") != std::string::npos) return bad("invalid characters");
  // A key is printed by `contacts list` and in errors: no control byte (ESC would drive the
  // administrator's terminal) and valid UTF-8 (PostgreSQL stores nothing else).
  if (std::any_of(spec.begin(), spec.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return bad("a control character (such as NUL or ESC)");
  }
  if (!mail::isValidUtf8(spec)) return bad("not UTF-8 (convert the file to UTF-8 first)");
  if (spec.rfind("udf:", 0) == 0 || spec.rfind("UDF:", 0) == 0) {
    std::string udf = spec.substr(4);
    if (udf.size() < 20) return bad("fingerprint too short");
    for (char& c : udf) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7') || c == '-')) {
        return bad("a fingerprint is Base32 with dashes");
      }
    }
    return "udf:" + udf;
  }
  auto at = spec.rfind('@');
  if (at == std::string::npos) return bad("no @");
  std::string domain = toLowerAscii(spec.substr(at + 1));
  if (domain.empty() || domain.find('.') == std::string::npos || domain.front() == '.' ||
      domain.back() == '.') {
    return bad("no domain");
  }
  // An internationalized domain is kept in its A-label form, the form the front-ends look the
  // sender up in: "@bücher.example" is stored as "@xn--bcher-kva.example".
  if (std::any_of(domain.begin(), domain.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    auto idn = mail::normalizeDomain(domain);
    if (!idn.ok()) return bad("the domain is not a valid internationalized domain name");
    domain = idn->ascii;
  }
  return toLowerAscii(spec.substr(0, at)) + "@" + domain;
}

std::vector<std::string> storedContactKeys(const std::string& normalized) {
  std::vector<std::string> keys{normalized};
  const auto at = normalized.rfind('@');
  if (normalized.rfind("udf:", 0) == 0 || at == std::string::npos) return keys;
  const std::string domain = normalized.substr(at + 1);
  if (domain.find("xn--") == std::string::npos) return keys;
  Result<mail::Domain> idn = mail::normalizeDomain(domain);
  if (idn.ok() && idn->unicode != domain)
    keys.push_back(normalized.substr(0, at + 1) + idn->unicode);
  return keys;
}

model::CatalogedContact makeContactEntry(const std::string& spec,
                                         const std::vector<std::string>& protocols,
                                         const std::string& display_name) {
  model::CatalogedContact entry;
  entry.key = spec;
  model::ContactPerson person;
  if (spec.rfind("udf:", 0) == 0) {
    model::Anchor anchor;
    anchor.udf = spec.substr(4);
    anchor.validation = "administrator";
    person.anchors.push_back(anchor);
  } else {
    model::NetworkAddress na;
    na.address = spec;
    for (const auto& p : protocols) {
      model::NetworkProtocol np;
      np.protocol = p;
      na.protocols.push_back(np);
    }
    person.network_addresses.push_back(na);
  }
  if (!display_name.empty()) {
    model::PersonName name;
    name.full_name = display_name;
    person.common_names.push_back(name);
  }
  entry.contact = person;
  for (const auto& p : protocols) {
    model::Permission perm;
    perm.name = p;
    perm.role = std::string(kPermitRole);
    entry.permissions.push_back(perm);
  }
  return entry;
}

std::string permittedProtocols(const model::CatalogedContact& entry) {
  std::vector<std::string> names;
  for (const auto& p : entry.permissions) {
    if (!p.name || p.name->empty()) continue;
    if (p.role && *p.role != kPermitRole) continue;  // only grants count
    if (*p.name == "*") return "*";
    std::string n = toLowerAscii(*p.name);
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  return joinList(names, ",");
}

std::vector<ContactMatch> contactMatches(const model::CatalogedContact& entry) {
  std::vector<ContactMatch> rows;
  const std::string protocols = permittedProtocols(entry);
  const std::string key = entry.key.value_or("");
  if (!entry.contact) return rows;
  std::visit(
      [&](const auto& contact) {
        for (const auto& na : contact.network_addresses) {
          if (na.inactive.value_or(false) || !na.address) continue;
          auto spec = normalizeContactSpec(*na.address);
          if (spec.ok()) rows.push_back({*spec, protocols, key});
        }
        for (const auto& anchor : contact.anchors) {
          if (!anchor.udf) continue;
          auto spec = normalizeContactSpec("udf:" + *anchor.udf);
          if (spec.ok()) rows.push_back({*spec, protocols, key});
        }
      },
      *entry.contact);
  return rows;
}

}  // namespace meshgate::policy
