// too_stupid_filter.cc - see too_stupid_filter.h.
#include "gateway/policy/too_stupid_filter.h"

#include <algorithm>
#include <set>

#include "gateway/mail/lookalike.h"
#include "gateway/mail/mime.h"
#include "gateway/policy/content_action.h"
#include "gateway/policy/content_patterns.h"
#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

// Paragraphs with these phrases are legal boilerplate ("This e-mail and any attachments are
// confidential..."), which mentions attachments in every message.
constexpr std::string_view kDisclaimerPhrases[] = {
    "intended recipient", "intended recipients", "intended solely", "intended only",
    "addressee", "if you have received this", "if you are not the", "received this email in error",
    "received this e-mail in error", "bestimmungsgemäße empfänger", "nicht der richtige adressat",
    "falls sie nicht der", "irrtümlich erhalten", "vertrauliche informationen",
    "destinataire", "si vous avez reçu", "si vous n'êtes pas", "destinatario",
    "si usted no es", "si ha recibido", "información confidencial"};

bool startsWithAny(std::string_view line, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes) {
    if (line.size() >= p.size() && equalsIgnoreCase(line.substr(0, p.size()), p)) return true;
  }
  return false;
}

bool hasLetter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80;
  });
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (end == text.size()) break;
    start = end + 1;
  }
  return out;
}

std::string lowerFileName(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  return toLowerAscii(trimWhitespace(name));
}

}  // namespace

TooStupidFilter::TooStupidFilter(std::shared_ptr<const config::Config> config, Store& store,
                                 const Clock& clock)
    : config_(std::move(config)), correspondents_(store, clock) {
  for (const auto& [language, words] : config_->too_stupid.missing_attachment.words) {
    if (languages_.size() >= PhraseMatcher::kMaxCategories) break;
    for (const auto& w : words) {
      attachment_words_.add(w, static_cast<unsigned>(languages_.size()));
    }
    languages_.push_back(language);
  }
  for (auto p : kDisclaimerPhrases) disclaimer_words_.add(p, 0);
  for (const auto& d : config_->gateway.domains) {
    own_domains_.push_back(std::make_shared<const mail::LookalikeDomain>(mail::LookalikeDomain::make(d)));
  }
}

std::shared_ptr<const mail::LookalikeDomain> TooStupidFilter::prepared(const std::string& domain) {
  constexpr size_t kMaxPrepared = 50'000;
  {
    std::lock_guard<std::mutex> lock(prepared_mu_);
    auto it = prepared_.find(domain);
    if (it != prepared_.end()) return it->second;
  }
  // Prepared without the lock (ICU work); two threads may prepare the same domain, harmlessly.
  auto made = std::make_shared<const mail::LookalikeDomain>(mail::LookalikeDomain::make(domain));
  std::lock_guard<std::mutex> lock(prepared_mu_);
  if (prepared_.size() >= kMaxPrepared) prepared_.clear();
  prepared_.emplace(domain, made);
  return made;
}

bool TooStupidFilter::isReply(const mail::MessageView& view) {
  if (view.headers().find("In-Reply-To") || view.headers().find("References")) return true;
  std::string_view subject = trimWhitespace(view.subject());
  // Re: in the languages mail clients write it: en, de (Aw, Antw), nordic (Sv, Vs), it (R, Rif),
  // fr (Réf), es/pt (Res).
  return startsWithAny(subject, {"re:", "re :", "aw:", "antw:", "sv:", "vs:", "r:", "rif:",
                                 "réf:", "réf.:", "ref:", "res:"});
}

std::string TooStupidFilter::newText(std::string_view text) {
  std::string out;
  std::vector<std::string_view> ls = lines(text);
  for (size_t i = 0; i < ls.size(); ++i) {
    std::string_view raw = ls[i];
    std::string_view line = trimWhitespace(raw);
    if (!line.empty() && line.front() == '>') continue;  // quoted
    if (raw == "-- " || raw == "--") break;                // signature delimiter (RFC 3676)
    // "-----Original Message-----", "---------- Forwarded message ---------", ...
    if (line.rfind("-----", 0) == 0 && hasLetter(line)) break;
    if (startsWithAny(line, {"begin forwarded message", "anfang der weitergeleiteten"})) break;
    // Outlook quotes the previous message under a "From: / Sent:" block, without '>'.
    if (startsWithAny(line, {"from:", "von:", "de:", "de :", "da:"})) {
      bool block = false;
      for (size_t j = i + 1; j < ls.size() && j <= i + 3; ++j) {
        block = block || startsWithAny(trimWhitespace(ls[j]),
                                       {"sent:", "gesendet:", "envoyé :", "envoyé:", "enviado:",
                                        "date:", "datum:", "inviato:"});
      }
      if (block) break;
    }
    out.append(raw);
    out.push_back('\n');
  }
  return out;
}

bool TooStupidFilter::hasRealAttachment(const mail::MessageView& view) {
  for (const auto& a : view.attachments()) {
    if (a.in_embedded_message) continue;
    // Inline pictures are signature logos and pasted screenshots, not "the attached file".
    bool image = a.content_type.rfind("image/", 0) == 0;
    if (image && a.disposition != "attachment") continue;
    return true;
  }
  return false;
}

std::string TooStupidFilter::mentionedAttachment(const mail::MessageView& view) const {
  if (attachment_words_.empty()) return "";
  uint64_t found = attachment_words_.scan(foldForMatching(view.subject()));
  bool have_plain = std::any_of(view.textParts().begin(), view.textParts().end(),
                                [](const mail::TextPart& p) {
                                  return !p.in_embedded_message && p.content_type == "text/plain";
                                });
  std::vector<std::string_view> words;
  for (const auto& part : view.textParts()) {
    if (found != 0) break;
    if (part.in_embedded_message) continue;
    // HTML quotes with <blockquote>, which leaves no '>' to recognize; the plain alternative
    // says the same with the quotes marked.
    if (have_plain && part.content_type != "text/plain") continue;
    std::string folded = foldForMatching(newText(part.text));
    std::string_view rest = folded;
    while (!rest.empty() && found == 0) {
      size_t blank = rest.find("\n\n");
      std::string_view paragraph = rest.substr(0, blank);
      rest = blank == std::string_view::npos ? std::string_view() : rest.substr(blank + 2);
      splitWords(paragraph, &words);
      if (disclaimer_words_.scanWords(words) != 0) continue;
      found |= attachment_words_.scanWords(words);
    }
  }
  for (size_t i = 0; i < languages_.size(); ++i) {
    if (found & (uint64_t{1} << i)) return languages_[i];
  }
  return "";
}

std::string TooStupidFilter::secretIn(const mail::MessageView& view) const {
  const config::SecretsCheck& s = config_->too_stupid.secrets;
  SecretKinds kinds{s.private_keys, s.password_lines, s.api_tokens};
  if (kinds.private_keys || kinds.password_lines || kinds.api_tokens) {
    if (auto m = findSecret(view.subject(), kinds)) return m->kind;
    for (const auto& part : view.textParts()) {
      if (auto m = findSecret(part.text, kinds)) return m->kind;
    }
  }
  if (s.key_files) {
    for (const auto& a : view.attachments()) {
      std::string name = lowerFileName(a.filename);
      if (name.empty()) continue;
      if (name == "id_rsa" || name == "id_dsa" || name == "id_ecdsa" || name == "id_ed25519") {
        return "key-file";
      }
      auto dot = name.rfind('.');
      std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
      // Keynote presentations are .key too, and are zip archives; key files are text or DER.
      if (ext == "p12" || ext == "pfx" || ext == "ppk" ||
          (ext == "key" && a.detected_type != mail::FileType::kZip)) {
        return "key-file";
      }
    }
  }
  return "";
}

void TooStupidFilter::act(Decision& decision, const config::CheckSetting& setting,
                          std::string_view check, std::string_view detail) const {
  addCheck(decision, check, detail);
  applyCheckAction(decision, setting.action, "too-stupid." + std::string(check), setting,
                   std::string(check) + (detail.empty() ? "" : " (" + std::string(detail) + ")"));
}

Status TooStupidFilter::onMessage(const MessageRequest& req, Decision& decision) {
  if (req.direction != Direction::kOutbound || req.content == nullptr) return Status();
  const config::TooStupidSection& s = config_->too_stupid;
  const mail::MessageView& view = *req.content;

  std::vector<std::string> external;  // distinct external recipient addresses
  std::vector<std::string> external_domains;
  for (const auto& r : acceptedRecipients(req, decision)) {
    std::string domain = addressDomain(r);
    if (isInternalDomain(*config_, domain)) continue;
    std::string a = toLowerAscii(r);
    if (std::find(external.begin(), external.end(), a) == external.end()) external.push_back(a);
    if (std::find(external_domains.begin(), external_domains.end(), domain) ==
        external_domains.end()) {
      external_domains.push_back(domain);
    }
  }

  if (s.reply_all.enabled &&
      external.size() > static_cast<size_t>(s.reply_all.max_external_recipients) &&
      isReply(view)) {
    act(decision, s.reply_all, "reply-all", std::to_string(external.size()) + " external");
  }
  if (s.missing_attachment.enabled && !hasRealAttachment(view)) {
    std::string language = mentionedAttachment(view);
    if (!language.empty()) act(decision, s.missing_attachment, "missing-attachment", language);
  }
  if (s.secrets.enabled) {
    std::string kind = secretIn(view);
    if (!kind.empty()) act(decision, s.secrets, "secret", kind);
  }
  if (s.card_numbers.enabled && !external.empty()) {
    bool card = findCardNumber(view.subject()).has_value();
    for (const auto& part : view.textParts()) {
      if (card) break;
      card = findCardNumber(part.text).has_value();
    }
    if (card) act(decision, s.card_numbers, "card-number", "");
  }

  const std::string sender = toLowerAscii(req.sender);
  if (!s.lookalike_recipient.enabled || external_domains.empty() || sender.empty()) {
    return Status();
  }
  const int max = s.lookalike_recipient.max_remembered_domains;
  MESHGATE_ASSIGN_OR_RETURN(std::vector<std::string> known, correspondents_.domains(sender, max));
  std::set<std::string> known_set(known.begin(), known.end());
  std::vector<std::string> fresh;
  std::vector<std::shared_ptr<const mail::LookalikeDomain>> candidates;
  for (const auto& domain : external_domains) {
    if (known_set.count(domain) != 0) continue;
    if (candidates.empty()) {  // only a domain not written to before needs the comparison
      candidates = own_domains_;
      for (const auto& d : known) candidates.push_back(prepared(d));
    }
    mail::LookalikeDomain candidate = mail::LookalikeDomain::make(domain);
    std::string imitated;
    for (const auto& c : candidates) {
      if (mail::looksLike(candidate, *c)) {
        imitated = c->ascii();
        break;
      }
    }
    if (imitated.empty()) {
      fresh.push_back(domain);
    } else {
      act(decision, s.lookalike_recipient, "lookalike-recipient", domain + "~" + imitated);
    }
  }
  // Only mail that leaves teaches the history; a flagged domain is never recorded, so it keeps
  // being flagged instead of becoming "known" after the first mistake.
  if (decision.verdict == Verdict::kAccept && known.size() < static_cast<size_t>(max)) {
    for (const auto& domain : fresh) {
      MESHGATE_RETURN_IF_ERROR(correspondents_.record(sender, domain));
    }
  }
  return Status();
}

}  // namespace meshgate::policy
