// content_config.cc - reads the content-check sections of meshgate.yaml (payment, impersonation,
// egress, too_stupid) and holds their multi-language defaults.
#include <algorithm>
#include <cctype>
#include <set>

#include "gateway/config/content_config_reader.h"
#include "gateway/util/strings.h"

namespace meshgate::config {

std::vector<PhraseList> PaymentSection::defaultPaymentPhrases() {
  // Weights: one mention of an invoice is ordinary business mail; an invoice that is urgent,
  // or any talk of changed bank details, gift cards or a wallet, is what fraud looks like.
  return {
      {"invoice",
       1,
       {// en
        "invoice*", "payment due", "overdue", "outstanding balance", "outstanding payment",
        "wire transfer", "bank transfer", "remittance", "pay now", "proforma", "pro forma",
        "amount due", "past due",
        // de
        "rechnung*", "zahlung*", "überweisung*", "mahnung*", "offener betrag", "fällig*",
        "zahlungsziel",
        // fr
        "facture*", "paiement*", "virement*", "impayé*", "échéance", "montant dû",
        "relance de paiement",
        // es
        "factura*", "pago*", "transferencia*", "vencid*", "importe pendiente", "saldo pendiente"}},
      {"urgency",
       1,
       {"urgent*", "asap", "immediately", "today without fail", "before end of day",
        "dringend*", "sofort*", "umgehend*", "heute noch", "urgence", "immédiatement",
        "sans délai", "aujourd'hui même", "urgente*", "inmediatamente", "de inmediato",
        "hoy mismo"}},
      {"bank-change",
       2,
       {// en
        "new bank details", "new banking details", "updated bank details",
        "change of bank details", "changed our bank", "changed our bank account",
        "new account details", "updated banking information", "bank account has changed",
        "bank details have changed", "new bank account",
        // de
        "neue bankverbindung", "geänderte bankverbindung", "änderung der bankverbindung",
        "neue kontoverbindung", "bankverbindung hat sich geändert", "neues bankkonto",
        "neue iban",
        // fr
        "nouvelles coordonnées bancaires", "changement de coordonnées bancaires",
        "coordonnées bancaires ont changé", "nouveau rib", "changement de rib",
        "nouveau compte bancaire",
        // es
        "nuevos datos bancarios", "cambio de datos bancarios", "cambio de cuenta bancaria",
        "nueva cuenta bancaria", "nuevo número de cuenta"}},
      {"gift-card",
       2,
       {"gift card*", "giftcard*", "itunes card*", "apple gift card*", "google play card*",
        "steam card*", "amazon card*", "scratch the back", "card codes",
        "geschenkkarte*", "gutscheinkarte*", "gutscheincode*", "guthabenkarte*",
        "carte cadeau", "cartes cadeaux", "code de la carte",
        "tarjeta de regalo", "tarjetas de regalo", "tarjeta regalo"}},
      {"crypto",
       1,
       {"bitcoin*", "btc", "ethereum", "usdt", "tether", "crypto wallet", "wallet address",
        "kryptowährung*", "wallet-adresse", "cryptomonnaie*", "adresse du portefeuille",
        "criptomoneda*", "billetera", "monedero"}},
  };
}

std::map<std::string, std::vector<std::string>> MissingAttachmentCheck::defaultAttachmentWords() {
  return {
      {"en",
       {"attached", "attachment*", "enclosed", "i attach", "i have attached", "i've attached",
        "please find attached", "see attached", "in the attachment"}},
      {"de",
       {"anbei", "angehängt*", "anhang", "im anhang", "beigefügt*", "in der anlage",
        "als anlage", "hänge ich", "füge ich"}},
      {"fr",
       {"ci-joint*", "pièce jointe", "pièces jointes", "en pj", "je joins", "vous trouverez joint*",
        "joint à ce message"}},
      {"es",
       {"adjunto*", "adjunta*", "archivo adjunto", "te adjunto", "le adjunto", "anexo",
        "envío adjunto"}},
  };
}

std::string_view checkActionName(CheckAction a) {
  switch (a) {
    case CheckAction::kSignal: return "signal";
    case CheckAction::kTag: return "tag";
    case CheckAction::kQuarantine: return "quarantine";
    case CheckAction::kReject: return "reject";
  }
  return "?";
}

std::string_view egressActionName(EgressAction a) {
  switch (a) {
    case EgressAction::kAllow: return "allow";
    case EgressAction::kReject: return "reject";
    case EgressAction::kHold: return "hold";
    case EgressAction::kRequireEncryption: return "require-encryption";
    case EgressAction::kPreferEncryption: return "prefer-encryption";
    case EgressAction::kAddHeader: return "add-header";
    case EgressAction::kRemoveHeader: return "remove-header";
  }
  return "?";
}

const std::vector<std::string_view>& attachmentTypeNames() {
  static const std::vector<std::string_view> kNames = {
      "unknown", "zip",    "docx",   "xlsx", "pptx", "ooxml", "opendocument", "jar",
      "ole2",    "pdf",    "rtf",    "onenote", "exe", "elf", "macho",       "lnk",
      "script",  "rar",    "7z",     "gzip", "bzip2", "xz",   "tar",         "cab",
      "iso",     "png",    "jpeg",   "gif",  "html",  "email"};
  return kNames;
}

namespace {

bool isAsciiDomain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.' ||
      d.find('.') == std::string_view::npos) {
    return false;
  }
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    if (++label > 63) return false;
  }
  return true;
}

bool isPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool isHeaderName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != ':';
  });
}

bool isGuid(std::string_view s) {
  static constexpr size_t kDash[] = {8, 13, 18, 23};
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = std::find(std::begin(kDash), std::end(kDash), i) != std::end(kDash);
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool isName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// One-line texts that go into SMTP replies or the Subject: printable ASCII only, because
// neither a 5xx reply nor a raw Subject prefix may carry 8-bit text without SMTPUTF8.
void readReplyText(YamlMap& m, std::string_view key, std::string& out) {
  m.nonEmptyString(key, out);
  if (!isPrintableAscii(out)) {
    m.error(key, "must be one line of printable ASCII (it goes into an SMTP reply)");
  }
  // "5.7.1 text" as in ingress.reject_text: the status codes are the reply's, not the text's.
  if (out.rfind("5.7.1 ", 0) == 0) out = out.substr(6);
}

void readSubjectTag(YamlMap& m, std::string_view key, std::string& out) {
  m.nonEmptyString(key, out);
  if (!isPrintableAscii(out) || out.size() > 64) {
    m.error(key, "must be at most 64 characters of printable ASCII (it is put into the raw "
                 "Subject header)");
  }
}

enum class ActionSet { kPayment, kFull, kNoTag };

void readCheckAction(YamlMap& m, CheckAction& out, ActionSet set) {
  switch (set) {
    case ActionSet::kPayment:
      m.choice("action", out,
               {{"signal", CheckAction::kSignal},
                {"tag", CheckAction::kTag},
                {"quarantine", CheckAction::kQuarantine}});
      break;
    case ActionSet::kFull:
      m.choice("action", out,
               {{"signal", CheckAction::kSignal},
                {"tag", CheckAction::kTag},
                {"quarantine", CheckAction::kQuarantine},
                {"reject", CheckAction::kReject}});
      break;
    case ActionSet::kNoTag:
      // Outbound checks do not tag: the tag would be shown to the recipients, not the sender.
      m.choice("action", out,
               {{"signal", CheckAction::kSignal},
                {"quarantine", CheckAction::kQuarantine},
                {"reject", CheckAction::kReject}});
      break;
  }
}

// enabled, action, [subject_tag], reject_text: the keys every switchable check has.
void readCheckSetting(YamlMap& m, CheckSetting& c, ActionSet set) {
  m.boolean("enabled", c.enabled);
  readCheckAction(m, c.action, set);
  if (set != ActionSet::kNoTag) readSubjectTag(m, "subject_tag", c.subject_tag);
  readReplyText(m, "reject_text", c.reject_text);
}

// A list of phrases: each non-empty and one line; '*' only at the end.
void checkPhrases(YamlMap& m, std::string_view key, const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (w.find_first_not_of(" \t") == std::string::npos) {
      m.error(key, "phrases must not be empty");
    } else if (w.find_first_of("\r\n") != std::string::npos) {
      m.error(key, "\"" + w + "\": phrases must be one line");
    } else if (auto star = w.find('*'); star != std::string::npos && star + 1 != w.size()) {
      m.error(key, "\"" + w + "\": '*' is only allowed at the end of a phrase (a prefix match)");
    } else if (w == "*") {
      m.error(key, "\"*\" alone would match every word");
    }
  }
}

void readPayment(YamlMap m, PaymentSection& s) {
  m.boolean("enabled", s.enabled);
  readCheckAction(m, s.action, ActionSet::kPayment);
  readSubjectTag(m, "subject_tag", s.subject_tag);
  m.choice("apply_when", s.apply_when,
           {{"first-contact-or-reply-to", PaymentApplyWhen::kSuspicious},
            {"always", PaymentApplyWhen::kAlways}});
  m.integer("min_score", s.min_score, 1, 100);
  YamlMap ids = m.map("identifiers");
  ids.integer("iban", s.iban_weight, 0, 100);
  ids.integer("bic", s.bic_weight, 0, 100);
  ids.integer("routing_number", s.routing_number_weight, 0, 100);
  ids.integer("crypto_wallet", s.crypto_wallet_weight, 0, 100);
  ids.finish();
  if (m.has("phrases")) {
    std::vector<PhraseList> lists;
    m.listOfMaps("phrases", [&](YamlMap& l) {
      PhraseList p;
      l.nonEmptyString("name", p.name, /*required=*/true);
      if (!p.name.empty() && !isName(p.name)) {
        l.error("name", "\"" + p.name + "\": use letters, digits, '-', '_' (it appears in logs)");
      }
      l.integer("weight", p.weight, 0, 100);
      l.stringList("words", p.words, /*required=*/true);
      if (l.has("words") && p.words.empty()) l.error("words", "at least one phrase is required");
      checkPhrases(l, "words", p.words);
      for (const auto& other : lists) {
        if (other.name == p.name) l.error("name", "\"" + p.name + "\" is used by another list");
      }
      lists.push_back(std::move(p));
    });
    s.phrases = std::move(lists);
  } else {
    m.known("phrases");
  }
  m.finish();
}

// Lower-cased ASCII domains; IDNs must be written as A-labels (the configuration does not
// depend on ICU).
void readDomainList(YamlMap& m, std::string_view key, std::vector<std::string>& out) {
  std::vector<std::string> texts;
  m.stringList(key, texts);
  std::vector<std::string> domains;
  for (auto& t : texts) {
    std::string d = toLowerAscii(t);
    if (!d.empty() && d.front() == '@') d.erase(0, 1);
    if (!isAsciiDomain(d)) {
      m.error(key, "\"" + t + "\" is not a domain name (expected e.g. example.com; write IDNs as "
                              "A-labels, xn--...)");
      continue;
    }
    domains.push_back(d);
  }
  if (m.has(key)) out = std::move(domains);
}

void readImpersonation(YamlMap m, ImpersonationSection& s) {
  m.boolean("enabled", s.enabled);
  YamlMap dn = m.map("display_name");
  readCheckSetting(dn, s.display_name, ActionSet::kFull);
  dn.finish();
  YamlMap ld = m.map("lookalike_domain");
  readCheckSetting(ld, s.lookalike_domain, ActionSet::kFull);
  ld.finish();
  m.stringList("protected_names", s.protected_names);
  for (const auto& n : s.protected_names) {
    if (n.find_first_not_of(" \t") == std::string::npos) {
      m.error("protected_names", "names must not be empty");
    }
  }
  readDomainList(m, "protected_domains", s.protected_domains);
  m.duration("account_cache_ttl", s.account_cache_ttl, std::chrono::seconds(1),
             std::chrono::hours(24));
  m.integer("max_edit_distance", s.max_edit_distance, 0, 3);
  m.finish();
}

// An address "user@example.com" or a domain "example.com" / "@example.com"; "" if neither.
std::string addressOrDomain(const std::string& text) {
  std::string t = toLowerAscii(text);
  if (!t.empty() && t.front() == '@') t.erase(0, 1);
  auto at = t.rfind('@');
  if (at == std::string::npos) return isAsciiDomain(t) ? t : "";
  if (at == 0 || !isAsciiDomain(t.substr(at + 1))) return "";
  return t;
}

void readAddresses(YamlMap& m, std::string_view key, std::vector<std::string>& out) {
  std::vector<std::string> texts;
  m.stringList(key, texts);
  out.clear();
  for (const auto& t : texts) {
    std::string a = toLowerAscii(t);
    auto at = a.rfind('@');
    if (at == std::string::npos || at == 0 || !isAsciiDomain(a.substr(at + 1))) {
      m.error(key, "\"" + t + "\" is not an address (expected user@example.com)");
      continue;
    }
    out.push_back(a);
  }
}

void readNameRefs(YamlMap& m, std::string_view key, std::vector<std::string>& out,
                  const std::set<std::string>& defined, std::string_view what) {
  m.stringList(key, out);
  for (const auto& n : out) {
    if (defined.count(n) == 0) {
      std::string known;
      for (const auto& d : defined) known += (known.empty() ? "" : ", ") + d;
      m.error(key, "unknown " + std::string(what) + " \"" + n + "\" (defined: " +
                       (known.empty() ? "none" : known) + ")");
    }
  }
}

void readOutbound(YamlMap m, OutboundDetection& o) {
  m.boolean("authenticated", o.authenticated);
  m.stringList("daemon_names", o.daemon_names);
  for (const auto& d : o.daemon_names) {
    if (d.empty() || !isPrintableAscii(d)) m.error("daemon_names", "names must be non-empty ASCII");
  }
  if (m.has("networks")) {
    std::vector<std::string> texts;
    m.stringList("networks", texts);
    std::vector<Network> networks;
    for (const auto& t : texts) {
      auto n = Network::parse(t);
      if (!n.ok()) {
        m.error("networks", n.status().message());
        continue;
      }
      networks.push_back(*n);
    }
    o.networks = std::move(networks);
  } else {
    m.known("networks");
  }
  m.finish();
}

void readGroups(YamlMap m, std::map<std::string, std::vector<std::string>>& groups) {
  if (!m.present()) return;
  for (auto it = m.node().begin(); it != m.node().end(); ++it) {
    if (!it->first.IsScalar()) continue;  // reported by YamlMap
    const std::string name = it->first.Scalar();
    if (!isName(name)) {
      m.error(name, "\"" + name + "\": group names use letters, digits, '-', '_', '.'");
    }
    std::vector<std::string> texts;
    m.stringList(name, texts);
    std::vector<std::string> members;
    for (const auto& t : texts) {
      std::string member = addressOrDomain(t);
      if (member.empty()) {
        m.error(name, "\"" + t + "\" is neither an address (user@example.com) nor a domain "
                                 "(example.com)");
        continue;
      }
      members.push_back(member);
    }
    groups[name] = std::move(members);
  }
  m.finish();
}

void readLabels(YamlMap& m, std::vector<EgressLabel>& labels) {
  m.listOfMaps("labels", [&](YamlMap& l) {
    EgressLabel label;
    l.nonEmptyString("name", label.name, /*required=*/true);
    if (!label.name.empty() && !isName(label.name)) {
      l.error("name", "\"" + label.name + "\": use letters, digits, '-', '_', '.'");
    }
    l.stringList("sensitivity", label.sensitivity);
    for (auto& v : label.sensitivity) v = toLowerAscii(v);
    l.stringList("msip_label_ids", label.msip_label_ids);
    for (auto& g : label.msip_label_ids) {
      std::string guid = toLowerAscii(g);
      if (!guid.empty() && guid.front() == '{' && guid.back() == '}') {
        guid = guid.substr(1, guid.size() - 2);
      }
      if (!isGuid(guid)) {
        l.error("msip_label_ids", "\"" + g + "\" is not a label GUID (expected e.g. "
                                             "7c1e4b1a-0d3e-4f2b-9a4c-2f1e0c8b5d6a)");
      }
      g = guid;
    }
    l.stringList("sio_markings", label.sio_markings);
    l.string("header_name", label.header_name);
    l.stringList("header_values", label.header_values);
    if (!label.header_name.empty() && !isHeaderName(label.header_name)) {
      l.error("header_name", "\"" + label.header_name + "\" is not a header field name");
    }
    if (label.header_name.empty() != label.header_values.empty()) {
      l.error(label.header_name.empty() ? "header_values" : "header_name",
              "header_name and header_values go together");
    }
    l.stringList("subject_markers", label.subject_markers);
    for (const auto& list : {&label.sio_markings, &label.header_values, &label.subject_markers,
                             &label.sensitivity}) {
      for (const auto& v : *list) {
        if (v.find_first_not_of(" \t") == std::string::npos) {
          l.error("name", "label \"" + label.name + "\" has an empty value in a list");
        }
      }
    }
    if (label.sensitivity.empty() && label.msip_label_ids.empty() && label.sio_markings.empty() &&
        label.header_name.empty() && label.subject_markers.empty()) {
      l.error("name", "label \"" + label.name +
                          "\" has no way to be recognized (give sensitivity, msip_label_ids, "
                          "sio_markings, header_name/header_values or subject_markers)");
    }
    for (const auto& other : labels) {
      if (other.name == label.name) {
        l.error("name", "\"" + label.name + "\" is used by another label");
      }
    }
    labels.push_back(std::move(label));
  });
}

void readMatch(YamlMap m, EgressMatch& match, const std::set<std::string>& groups,
               const std::set<std::string>& labels) {
  readAddresses(m, "sender_address", match.sender_address);
  readDomainList(m, "sender_domain", match.sender_domain);
  readNameRefs(m, "sender_group", match.sender_group, groups, "group");
  readAddresses(m, "recipient_address", match.recipient_address);
  readDomainList(m, "recipient_domain", match.recipient_domain);
  readNameRefs(m, "recipient_group", match.recipient_group, groups, "group");
  m.choice("recipient_scope", match.recipient_scope,
           {{"any", RecipientScope::kAny},
            {"internal", RecipientScope::kInternal},
            {"external", RecipientScope::kExternal}});
  readNameRefs(m, "labels", match.labels, labels, "label");
  m.stringList("attachment_types", match.attachment_types);
  for (auto& t : match.attachment_types) {
    t = toLowerAscii(t);
    const auto& names = attachmentTypeNames();
    if (std::find(names.begin(), names.end(), t) == names.end()) {
      std::string known;
      for (auto n : names) known += (known.empty() ? "" : ", ") + std::string(n);
      m.error("attachment_types", "unknown type \"" + t + "\" (expected one of: " + known + ")");
    }
  }
  m.stringList("attachment_extensions", match.attachment_extensions);
  for (auto& e : match.attachment_extensions) {
    e = toLowerAscii(e);
    if (!e.empty() && e.front() == '.') e.erase(0, 1);
    if (e.empty() || !isName(e)) {
      m.error("attachment_extensions", "\"" + e + "\" is not a file name extension");
    }
  }
  m.size("attachment_larger_than", match.attachment_larger_than, 0, 1ull << 40);
  m.size("attachments_total_larger_than", match.attachments_total_larger_than, 0, 1ull << 40);
  m.integer("min_recipients", match.min_recipients, 0, 100000);
  m.integer("min_external_recipients", match.min_external_recipients, 0, 100000);
  m.finish();
}

void readRules(YamlMap& m, std::vector<EgressRule>& rules, const std::set<std::string>& groups,
               const std::set<std::string>& labels) {
  m.listOfMaps("rules", [&](YamlMap& r) {
    EgressRule rule;
    r.nonEmptyString("name", rule.name, /*required=*/true);
    if (!rule.name.empty() && !isName(rule.name)) {
      r.error("name", "\"" + rule.name + "\": use letters, digits, '-', '_', '.' (the rule is "
                                         "logged as egress.<name>)");
    }
    readMatch(r.map("match"), rule.match, groups, labels);
    r.choice("action", rule.action,
             {{"allow", EgressAction::kAllow},
              {"reject", EgressAction::kReject},
              {"hold", EgressAction::kHold},
              {"require-encryption", EgressAction::kRequireEncryption},
              {"prefer-encryption", EgressAction::kPreferEncryption},
              {"add-header", EgressAction::kAddHeader},
              {"remove-header", EgressAction::kRemoveHeader}});
    if (r.has("else") && rule.action != EgressAction::kRequireEncryption) {
      r.error("else", "only a require-encryption rule has an else");
    }
    r.choice("else", rule.otherwise,
             {{"reject", EgressAction::kReject}, {"hold", EgressAction::kHold}});
    const bool encrypts = rule.action == EgressAction::kRequireEncryption ||
                          rule.action == EgressAction::kPreferEncryption;
    if (r.has("cleartext_fallback") && !encrypts) {
      r.error("cleartext_fallback", "only a require-encryption or prefer-encryption rule has one");
    }
    r.boolean("cleartext_fallback", rule.cleartext_fallback);
    if (r.has("reject_text")) readReplyText(r, "reject_text", rule.reject_text);
    else r.known("reject_text");
    r.listOfMaps("add_headers", [&](YamlMap& h) {
      HeaderToAdd add;
      h.nonEmptyString("name", add.name, /*required=*/true);
      h.string("value", add.value, /*required=*/true);
      if (!add.name.empty() && !isHeaderName(add.name)) {
        h.error("name", "\"" + add.name + "\" is not a header field name");
      }
      if (equalsIgnoreCase(add.name, "Mesh-Security-Signal") ||
          equalsIgnoreCase(add.name, "Mesh-Brand-Assertion")) {
        h.error("name", "\"" + add.name + "\" is written by meshgate itself");
      }
      if (add.value.find_first_of("\r\n") != std::string::npos) {
        h.error("value", "must be one line");
      }
      rule.add_headers.push_back(std::move(add));
    });
    r.stringList("remove_headers", rule.remove_headers);
    for (const auto& n : rule.remove_headers) {
      if (!isHeaderName(n)) r.error("remove_headers", "\"" + n + "\" is not a header field name");
    }
    if (rule.action == EgressAction::kAddHeader && rule.add_headers.empty()) {
      r.error("action", "add-header needs add_headers");
    }
    if (rule.action == EgressAction::kRemoveHeader && rule.remove_headers.empty()) {
      r.error("action", "remove-header needs remove_headers");
    }
    for (const auto& other : rules) {
      if (other.name == rule.name) r.error("name", "\"" + rule.name + "\" is used by another rule");
    }
    rules.push_back(std::move(rule));
  });
}

void readEgress(YamlMap m, EgressSection& s) {
  m.boolean("enabled", s.enabled);
  readOutbound(m.map("outbound"), s.outbound);
  readGroups(m.map("groups"), s.groups);
  readLabels(m, s.labels);
  std::set<std::string> group_names;
  for (const auto& [name, members] : s.groups) group_names.insert(name);
  std::set<std::string> label_names;
  for (const auto& l : s.labels) label_names.insert(l.name);
  readRules(m, s.rules, group_names, label_names);
  m.finish();
}

void readTooStupid(YamlMap m, TooStupidSection& s) {
  m.boolean("enabled", s.enabled);

  YamlMap ra = m.map("reply_all");
  readCheckSetting(ra, s.reply_all, ActionSet::kNoTag);
  ra.integer("max_external_recipients", s.reply_all.max_external_recipients, 1, 100000);
  ra.finish();

  YamlMap ma = m.map("missing_attachment");
  readCheckSetting(ma, s.missing_attachment, ActionSet::kNoTag);
  YamlMap words = ma.map("words");
  if (words.present()) {
    std::map<std::string, std::vector<std::string>> by_language;
    for (auto it = words.node().begin(); it != words.node().end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string language = it->first.Scalar();
      std::vector<std::string> list;
      words.stringList(language, list);
      checkPhrases(words, language, list);
      by_language[language] = std::move(list);
    }
    s.missing_attachment.words = std::move(by_language);
  }
  words.finish();
  ma.finish();

  YamlMap se = m.map("secrets");
  readCheckSetting(se, s.secrets, ActionSet::kNoTag);
  se.boolean("private_keys", s.secrets.private_keys);
  se.boolean("password_lines", s.secrets.password_lines);
  se.boolean("api_tokens", s.secrets.api_tokens);
  se.boolean("key_files", s.secrets.key_files);
  se.finish();

  YamlMap cn = m.map("card_numbers");
  readCheckSetting(cn, s.card_numbers, ActionSet::kNoTag);
  cn.finish();

  YamlMap lr = m.map("lookalike_recipient");
  readCheckSetting(lr, s.lookalike_recipient, ActionSet::kNoTag);
  lr.integer("max_remembered_domains", s.lookalike_recipient.max_remembered_domains, 1, 100000);
  lr.finish();

  m.finish();
}

bool isHttpsUrl(const std::string& u) {
  return u.rfind("https://", 0) == 0 && u.size() > 8 && isPrintableAscii(u) &&
         u.find_first_of(" \t\"<>") == std::string::npos;
}

void readBrands(YamlMap m, BrandsSection& s, const GatewaySection& gateway) {
  m.boolean("enabled", s.enabled);
  m.string("organization", s.organization);
  if (s.organization.find_first_of("\r\n") != std::string::npos) {
    m.error("organization", "must be one line");
  }
  if (m.has("list")) {
    std::vector<Brand> brands;
    m.listOfMaps("list", [&](YamlMap& b) {
      Brand brand;
      b.nonEmptyString("name", brand.name, /*required=*/true);
      if (brand.name.find_first_of("\r\n") != std::string::npos) b.error("name", "must be one line");
      for (const auto& other : brands) {
        if (other.name == brand.name) b.error("name", "\"" + brand.name + "\" is listed twice");
      }
      readDomainList(b, "domains", brand.domains);
      readAddresses(b, "addresses", brand.addresses);
      if (brand.domains.empty() && brand.addresses.empty() && b.has("name")) {
        b.error("name", "brand \"" + brand.name +
                            "\" needs domains or addresses (which mail speaks for it)");
      }
      b.string("logo_url", brand.logo_url);
      if (!brand.logo_url.empty() && !isHttpsUrl(brand.logo_url)) {
        b.error("logo_url", "expected an https:// URL, got \"" + brand.logo_url + "\"");
      }
      b.string("organization", brand.organization);
      readAddresses(b, "senders", brand.senders);
      readDomainList(b, "sender_domains", brand.sender_domains);
      b.finish();
      brands.push_back(std::move(brand));
    });
    s.list = std::move(brands);
  } else {
    m.known("list");
  }
  if (m.has("trusted_gateways")) {
    std::vector<TrustedGateway> gws;
    m.listOfMaps("trusted_gateways", [&](YamlMap& g) {
      TrustedGateway gw;
      g.nonEmptyString("name", gw.name, /*required=*/true);
      if (!gw.name.empty() && !isName(gw.name)) {
        g.error("name", "\"" + gw.name + "\": use letters, digits, '-', '_', '.' (it appears in logs)");
      }
      g.nonEmptyString("key_file", gw.key_file, /*required=*/true);
      g.finish();
      gws.push_back(std::move(gw));
    });
    s.trusted_gateways = std::move(gws);
  } else {
    m.known("trusted_gateways");
  }
  m.duration("max_assertion_age", s.max_assertion_age, std::chrono::minutes(1),
             std::chrono::hours(24 * 365));
  YamlMap n = m.map("sender_notice");
  n.boolean("enabled", s.sender_notice.enabled);
  n.duration("interval", s.sender_notice.interval, std::chrono::minutes(1),
             std::chrono::hours(24 * 365));
  n.lineString("from", s.sender_notice.from);
  if (!s.sender_notice.from.empty()) {
    std::string a = toLowerAscii(s.sender_notice.from);
    auto at = a.rfind('@');
    if (at == std::string::npos || at == 0 || !isAsciiDomain(a.substr(at + 1))) {
      n.error("from", "\"" + s.sender_notice.from + "\" is not an address (expected user@example.com)");
    }
  }
  readReplyText(n, "subject", s.sender_notice.subject);
  n.nonEmptyString("text", s.sender_notice.text);
  n.finish();
  YamlMap u = m.map("unverified_claim");
  readCheckSetting(u, s.unverified_claim, ActionSet::kFull);
  u.finish();
  m.finish();
  if (s.enabled && s.organization.empty() && !gateway.domains.empty()) {
    s.organization = gateway.domains.front();
  }
}

}  // namespace

void readContentSections(YamlMap& root, Config& config) {
  readPayment(root.map("payment"), config.payment);
  readImpersonation(root.map("impersonation"), config.impersonation);
  readEgress(root.map("egress"), config.egress);
  readTooStupid(root.map("too_stupid"), config.too_stupid);
  readBrands(root.map("brands"), config.brands, config.gateway);
}

}  // namespace meshgate::config
