// egress_filter.cc - see egress_filter.h.
#include "gateway/policy/egress_filter.h"

#include <algorithm>

#include "gateway/mail/filetype.h"
#include "gateway/mail/header.h"
#include "gateway/mail/mime.h"
#include "gateway/policy/content_action.h"
#include "gateway/policy/text_scan.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {

using config::EgressAction;

struct EgressFilter::Facts {
  std::vector<bool> labels;
  const std::vector<mail::Attachment>* attachments = nullptr;
  uint64_t attachments_total = 0;
  size_t recipients = 0;
  size_t external = 0;
  bool truncated = false;  // the body was cut before the end: attachments may be missing
};

namespace {

// "MSIP_Label_<guid>_Enabled=true" entries of one msip_labels value (lower-case GUIDs).
std::vector<std::string> enabledMsipLabels(std::string_view raw) {
  std::vector<std::string> out;
  std::string v = toLowerAscii(mail::unfold(raw));
  static constexpr std::string_view kPrefix = "msip_label_";
  for (size_t pos = v.find(kPrefix); pos != std::string::npos; pos = v.find(kPrefix, pos + 1)) {
    size_t guid_at = pos + kPrefix.size();
    if (guid_at + 36 > v.size()) break;
    std::string guid = v.substr(guid_at, 36);
    size_t p = guid_at + 36;
    static constexpr std::string_view kEnabled = "_enabled";
    if (v.compare(p, kEnabled.size(), kEnabled) != 0) continue;
    p += kEnabled.size();
    while (p < v.size() && (v[p] == ' ' || v[p] == '\t')) ++p;
    if (p >= v.size() || v[p] != '=') continue;
    ++p;
    while (p < v.size() && (v[p] == ' ' || v[p] == '\t')) ++p;
    if (v.compare(p, 4, "true") != 0) continue;
    size_t end = p + 4;
    if (end < v.size() && v[end] != ';' && v[end] != ' ' && v[end] != '\t') continue;
    out.push_back(std::move(guid));
  }
  return out;
}

// The marking="..." parameter of an RFC 7444 SIO-Label value, "" if none.
std::string sioMarking(std::string_view raw) {
  std::string v = mail::unfold(raw);
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ';')) ++i;
    size_t name_start = i;
    while (i < v.size() && v[i] != '=' && v[i] != ';') ++i;
    std::string name = toLowerAscii(trimWhitespace(std::string_view(v).substr(name_start, i - name_start)));
    std::string value;
    if (i < v.size() && v[i] == '=') {
      ++i;
      while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
      if (i < v.size() && v[i] == '"') {
        ++i;
        while (i < v.size() && v[i] != '"') {
          if (v[i] == '\\' && i + 1 < v.size()) ++i;
          value.push_back(v[i++]);
        }
        if (i < v.size()) ++i;  // closing quote
        while (i < v.size() && v[i] != ';') ++i;
      } else {
        size_t value_start = i;
        while (i < v.size() && v[i] != ';') ++i;
        value = std::string(trimWhitespace(std::string_view(v).substr(value_start, i - value_start)));
      }
    }
    if (name == "marking") return mail::decodeEncodedWords(value);
    if (i < v.size() && v[i] == ';') ++i;
  }
  return "";
}

std::string extensionOf(std::string_view filename) {
  auto dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == filename.size()) return "";
  return toLowerAscii(trimWhitespace(filename.substr(dot + 1)));
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Reply texts are ASCII: a UTF-8 address in %r must not make the reply 8-bit.
std::string asciiOnly(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

}  // namespace

EgressFilter::EgressFilter(std::shared_ptr<const config::Config> config)
    : config_(std::move(config)) {
  const config::EgressSection& e = config_->egress;
  for (const auto& l : e.labels) {
    CompiledLabel c;
    c.sensitivity = l.sensitivity;
    c.msip_label_ids = l.msip_label_ids;
    for (const auto& m : l.sio_markings) c.sio_markings.push_back(foldForMatching(m));
    c.header_name = l.header_name;
    for (const auto& v : l.header_values) c.header_values.push_back(foldForMatching(v));
    for (const auto& m : l.subject_markers) c.subject_markers.push_back(foldForMatching(m));
    labels_.push_back(std::move(c));
  }
  auto expand = [&](const std::vector<std::string>& addresses,
                    const std::vector<std::string>& domains,
                    const std::vector<std::string>& groups) {
    std::vector<std::string> members = addresses;
    members.insert(members.end(), domains.begin(), domains.end());
    for (const auto& g : groups) {
      auto it = e.groups.find(g);
      if (it != e.groups.end()) members.insert(members.end(), it->second.begin(), it->second.end());
    }
    return members;
  };
  for (const auto& rule : e.rules) {
    const config::EgressMatch& m = rule.match;
    CompiledRule c;
    c.rule = &rule;
    c.has_sender = !m.sender_address.empty() || !m.sender_domain.empty() || !m.sender_group.empty();
    c.has_recipient =
        !m.recipient_address.empty() || !m.recipient_domain.empty() || !m.recipient_group.empty();
    c.senders = expand(m.sender_address, m.sender_domain, m.sender_group);
    c.recipients = expand(m.recipient_address, m.recipient_domain, m.recipient_group);
    for (const auto& name : m.labels) {
      for (size_t i = 0; i < e.labels.size(); ++i) {
        if (e.labels[i].name == name) c.labels.push_back(i);
      }
    }
    c.needs_content = !m.labels.empty() || !m.attachment_types.empty() ||
                      !m.attachment_extensions.empty() || m.attachment_larger_than > 0 ||
                      m.attachments_total_larger_than > 0 || m.min_recipients > 0 ||
                      m.min_external_recipients > 0;
    c.blocking = rule.action == EgressAction::kReject || rule.action == EgressAction::kHold ||
                 rule.action == EgressAction::kRequireEncryption;
    rules_.push_back(std::move(c));
  }
}

bool EgressFilter::memberMatches(const std::vector<std::string>& members,
                                 std::string_view address) {
  if (address.empty()) return false;
  std::string a = toLowerAscii(address);
  std::string domain = addressDomain(a);
  for (const auto& m : members) {
    if (m.find('@') != std::string::npos ? m == a : isSameOrSubdomain(domain, m)) return true;
  }
  return false;
}

bool EgressFilter::senderMatches(const CompiledRule& r, std::string_view sender) const {
  return !r.has_sender || memberMatches(r.senders, sender);
}

bool EgressFilter::recipientMatches(const CompiledRule& r, std::string_view recipient) const {
  if (r.has_recipient && !memberMatches(r.recipients, recipient)) return false;
  switch (r.rule->match.recipient_scope) {
    case config::RecipientScope::kAny:
      return true;
    case config::RecipientScope::kInternal:
      return !recipient.empty() && isInternalDomain(*config_, addressDomain(recipient));
    case config::RecipientScope::kExternal:
      return !recipient.empty() && !isInternalDomain(*config_, addressDomain(recipient));
  }
  return false;
}

std::vector<bool> EgressFilter::labelMask(const mail::MessageView& view) const {
  std::vector<bool> found(labels_.size(), false);
  if (labels_.empty()) return found;
  const mail::HeaderList& headers = view.headers();
  std::vector<std::string> sensitivity;
  for (const auto* h : headers.all("Sensitivity")) {
    sensitivity.push_back(toLowerAscii(trimWhitespace(mail::unfold(h->value))));
  }
  std::vector<std::string> msip;
  for (const auto* h : headers.all("msip_labels")) {
    for (auto& g : enabledMsipLabels(h->value)) msip.push_back(std::move(g));
  }
  std::vector<std::string> markings;
  for (const auto* h : headers.all("SIO-Label")) markings.push_back(foldForMatching(sioMarking(h->value)));
  std::vector<std::string> subjects = {foldForMatching(view.subject())};
  for (const auto& m : view.embeddedMessages()) subjects.push_back(foldForMatching(m.subject));

  for (size_t i = 0; i < labels_.size(); ++i) {
    const CompiledLabel& l = labels_[i];
    bool hit = false;
    for (const auto& s : sensitivity) hit = hit || contains(l.sensitivity, s);
    for (const auto& g : msip) hit = hit || contains(l.msip_label_ids, g);
    for (const auto& m : markings) {
      for (const auto& w : l.sio_markings) hit = hit || containsWord(m, w);
    }
    if (!hit && !l.header_name.empty()) {
      for (const auto* h : headers.all(l.header_name)) {
        std::string value = foldForMatching(mail::decodeEncodedWords(h->value));
        for (const auto& w : l.header_values) hit = hit || containsWord(value, w);
      }
    }
    for (const auto& s : subjects) {
      for (const auto& marker : l.subject_markers) {
        hit = hit || s.find(marker) != std::string::npos;
      }
    }
    found[i] = hit;
  }
  return found;
}

std::vector<std::string> EgressFilter::labelsOf(const mail::MessageView& view) const {
  std::vector<bool> mask = labelMask(view);
  std::vector<std::string> out;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (mask[i]) out.push_back(config_->egress.labels[i].name);
  }
  return out;
}

bool EgressFilter::contentMatches(const CompiledRule& r, const Facts& facts) const {
  const config::EgressMatch& m = r.rule->match;
  if (!r.labels.empty()) {
    bool any = false;
    for (size_t i : r.labels) any = any || facts.labels[i];
    if (!any) return false;
  }
  if (m.min_recipients > 0 && facts.recipients < static_cast<size_t>(m.min_recipients)) {
    return false;
  }
  if (m.min_external_recipients > 0 &&
      facts.external < static_cast<size_t>(m.min_external_recipients)) {
    return false;
  }
  const bool attachment_conditions = !m.attachment_types.empty() ||
                                     !m.attachment_extensions.empty() ||
                                     m.attachment_larger_than > 0 ||
                                     m.attachments_total_larger_than > 0;
  if (!attachment_conditions) return true;
  // Fail closed: what was not scanned may hold the attachment a blocking rule is about.
  if (facts.truncated && r.blocking) return true;
  const auto& attachments = *facts.attachments;
  if (!m.attachment_types.empty() || !m.attachment_extensions.empty()) {
    bool any = false;
    for (const auto& a : attachments) {
      any = any || contains(m.attachment_types, mail::fileTypeName(a.detected_type)) ||
            contains(m.attachment_extensions, extensionOf(a.filename));
    }
    if (!any) return false;
  }
  if (m.attachment_larger_than > 0 &&
      std::none_of(attachments.begin(), attachments.end(),
                   [&](const mail::Attachment& a) { return a.size > m.attachment_larger_than; })) {
    return false;
  }
  if (m.attachments_total_larger_than > 0 &&
      facts.attachments_total <= m.attachments_total_larger_than) {
    return false;
  }
  return true;
}

std::string egressReplyText(std::string_view text_template, std::string_view rule_name,
                            const std::vector<std::string>& rcpts, bool encryption) {
  std::string text(text_template);
  if (text.empty()) {
    text = encryption ? "your message to %r was not sent: rule %n requires encryption, and no "
                        "encrypted delivery to this recipient is available"
                      : "your message to %r was not sent: the organization's mail policy does "
                        "not allow it (rule %n)";
  }
  std::vector<std::string> shown;
  for (size_t i = 0; i < rcpts.size() && i < 3; ++i) shown.push_back("<" + rcpts[i] + ">");
  std::string who = joinList(shown, ", ");
  if (rcpts.size() > 3) who += " and " + std::to_string(rcpts.size() - 3) + " more";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 1 < text.size() && (text[i + 1] == 'r' || text[i + 1] == 'n')) {
      out += text[i + 1] == 'r' ? who : std::string(rule_name);
      ++i;
      continue;
    }
    out += text[i];
  }
  return asciiOnly(out);
}

std::string EgressFilter::replyText(const config::EgressRule& rule,
                                    const std::vector<std::string>& rcpts, bool encryption) const {
  return egressReplyText(rule.reject_text, rule.name, rcpts, encryption);
}

Status EgressFilter::onRecipient(const MessageRequest& req, RecipientDecision& rcpt) {
  if (req.direction != Direction::kOutbound) return Status();
  for (const auto& r : rules_) {
    if (!senderMatches(r, req.sender) || !recipientMatches(r, rcpt.recipient)) continue;
    // The first rule that may match decides; if it needs the content, only the end of the
    // message can tell, so nothing is decided here.
    if (r.needs_content) return Status();
    if (r.rule->action == EgressAction::kReject) {
      rcpt.verdict = Verdict::kReject;
      rcpt.rule = "egress." + r.rule->name;
      rcpt.reply = Reply{"550", "5.7.1", replyText(*r.rule, {rcpt.recipient}, false)};
    }
    return Status();
  }
  return Status();
}

Status EgressFilter::onMessage(const MessageRequest& req, Decision& decision) {
  // Without content (a policyd request at END-OF-DATA) the RCPT stage has applied every rule
  // that needs no content; the content rules are the milter's, which sees the message.
  if (req.direction != Direction::kOutbound || rules_.empty() || req.content == nullptr) {
    return Status();
  }
  std::vector<std::string> recipients = acceptedRecipients(req, decision);
  Facts facts;
  facts.attachments = &req.content->attachments();
  for (const auto& a : *facts.attachments) facts.attachments_total += a.size;
  facts.labels = labelMask(*req.content);
  facts.recipients = recipients.size();
  for (const auto& r : recipients) {
    if (!isInternalDomain(*config_, addressDomain(r))) ++facts.external;
  }
  facts.truncated = (req.size > 0 && static_cast<uint64_t>(req.size) > req.content->bodySize()) ||
                    req.content->anomalies().has(mail::Anomaly::kBodyTruncated);

  // The first matching rule per recipient; a message without recipients is judged once.
  std::vector<std::vector<std::string>> decided(rules_.size());
  std::vector<bool> matched(rules_.size(), false);
  std::vector<std::string> judged = recipients.empty() ? std::vector<std::string>{""} : recipients;
  for (const auto& rcpt : judged) {
    for (size_t i = 0; i < rules_.size(); ++i) {
      const CompiledRule& r = rules_[i];
      if (!senderMatches(r, req.sender) || !recipientMatches(r, rcpt) ||
          !contentMatches(r, facts)) {
        continue;
      }
      matched[i] = true;
      if (!rcpt.empty()) decided[i].push_back(rcpt);
      break;
    }
  }

  for (size_t i = 0; i < rules_.size(); ++i) {
    if (!matched[i]) continue;
    const config::EgressRule& rule = *rules_[i].rule;
    const std::string rule_name = "egress." + rule.name;
    const std::string who = joinList(decided[i], ",");
    EgressAction action = rule.action;
    if (action == EgressAction::kRequireEncryption || action == EgressAction::kPreferEncryption) {
      const bool required = action == EgressAction::kRequireEncryption;
      addCheck(decision, required ? "encryption-required" : "encryption-preferred",
               rule.name + (who.empty() ? "" : ":" + who));
      if (req.mesh_delivery_available) {
        MeshDeliveryRequirement m;
        m.rule = rule_name;
        m.recipients = decided[i].empty() ? req.recipients : decided[i];
        m.no_profile = !required                               ? Verdict::kAccept
                       : rule.otherwise == EgressAction::kHold ? Verdict::kHold
                                                               : Verdict::kReject;
        m.reject_text = rule.reject_text;
        m.cleartext_fallback = rule.cleartext_fallback;
        decision.mesh_delivery.push_back(std::move(m));
        action = EgressAction::kAllow;  // the front-end decides per recipient
      } else {
        // No Mesh delivery here: required -> the rule's `else`; preferred -> plain SMTP.
        action = required ? rule.otherwise : EgressAction::kAllow;
      }
    }
    switch (action) {
      case EgressAction::kReject:
        decision.escalate(Verdict::kReject, rule_name,
                          Reply{"550", "5.7.1",
                                replyText(rule, decided[i],
                                          rule.action == EgressAction::kRequireEncryption)});
        break;
      case EgressAction::kHold:
        holdFor(decision, rule_name,
                "egress rule " + rule.name + (who.empty() ? "" : " for " + who));
        break;
      default:
        break;
    }
    for (const auto& h : rule.add_headers) {
      bool seen = false;
      for (const auto& e : decision.header_edits) {
        seen = seen || (e.kind == HeaderEdit::Kind::kAdd && equalsIgnoreCase(e.name, h.name) &&
                        e.value == h.value);
      }
      if (!seen) decision.header_edits.push_back({HeaderEdit::Kind::kAdd, h.name, h.value});
    }
    for (const auto& name : rule.remove_headers) {
      bool seen = false;
      for (const auto& e : decision.header_edits) {
        seen = seen || (e.kind == HeaderEdit::Kind::kRemoveAll && equalsIgnoreCase(e.name, name));
      }
      if (!seen) decision.header_edits.push_back({HeaderEdit::Kind::kRemoveAll, name, ""});
    }
  }
  return Status();
}

}  // namespace meshgate::policy
