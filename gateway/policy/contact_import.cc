// contact_import.cc - see contact_import.h.
#include "gateway/policy/contact_import.h"

#include "gateway/util/strings.h"

namespace meshgate::policy {
namespace {

std::string where(const std::string& file, int line) { return file + ":" + std::to_string(line) + ": "; }

// vCard text values escape ',', ';' and '\' with a backslash and newlines as \n.
std::string unescapeVcard(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      char n = v[++i];
      out += (n == 'n' || n == 'N') ? ' ' : n;
    } else {
      out += v[i];
    }
  }
  return out;
}

// An address as exports write it, without a "mailto:" in any case ("MAILTO:bob@x.net").
std::string withoutMailto(std::string a) {
  if (a.size() >= 7 && equalsIgnoreCase(std::string_view(a).substr(0, 7), "mailto:")) a.erase(0, 7);
  return a;
}

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// RFC 4180: returns the fields of the record starting at `pos`, advancing `pos` and `line`.
// *unterminated is set when the text ends inside a quoted field.
std::vector<std::string> csvRecord(std::string_view text, size_t& pos, int& line,
                                   bool* unterminated = nullptr) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  while (pos < text.size()) {
    char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      ++line;
      break;
    } else if (c != '\r') {
      field += c;
    }
  }
  if (quoted && unterminated) *unterminated = true;
  fields.push_back(std::move(field));
  return fields;
}

}  // namespace

ImportResult parseVCards(std::string_view text, const std::string& file) {
  ImportResult r;
  // Unfold: a line starting with a space or tab continues the previous one.
  std::vector<std::pair<int, std::string>> lines;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string l(text.substr(pos, nl - pos));
    if (!l.empty() && l.back() == '\r') l.pop_back();
    ++line_no;
    if (!l.empty() && (l[0] == ' ' || l[0] == '\t') && !lines.empty()) {
      lines.back().second += l.substr(1);
    } else {
      lines.emplace_back(line_no, l);
    }
    pos = nl + 1;
  }
  bool in_card = false;
  std::string name;
  std::vector<ImportedContact> card;
  for (const auto& [n, l] : lines) {
    auto colon = l.find(':');
    std::string prop = toLowerAscii(l.substr(0, colon == std::string::npos ? l.size() : colon));
    std::string value = colon == std::string::npos ? "" : l.substr(colon + 1);
    if (auto dot = prop.find('.'); dot != std::string::npos && dot < prop.find(';')) {
      prop = prop.substr(dot + 1);  // "item1.email;type=work" -> "email;type=work"
    }
    std::string base = prop.substr(0, prop.find(';'));
    if (base == "begin" && equalsIgnoreCase(trimWhitespace(value), "vcard")) {
      in_card = true;
      name.clear();
      card.clear();
    } else if (base == "end" && equalsIgnoreCase(trimWhitespace(value), "vcard")) {
      if (in_card) {
        for (auto& c : card) {
          c.name = name;
          r.contacts.push_back(std::move(c));
        }
        if (card.empty()) r.errors.push_back(where(file, n) + "card without an EMAIL (skipped)");
      }
      in_card = false;
    } else if (in_card && base == "fn") {
      name = unescapeVcard(trimWhitespace(value));
    } else if (in_card && base == "email") {
      std::string a(trimWhitespace(value));
      a = withoutMailto(std::move(a));
      if (!a.empty()) card.push_back(ImportedContact{a, "", {}, n});
    }
  }
  if (in_card) r.errors.push_back(where(file, line_no) + "the last card has no END:VCARD");
  return r;
}

ImportResult parseContactCsv(std::string_view text, const std::string& file) {
  ImportResult r;
  size_t pos = 0;
  int line = 1;
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) pos = kUtf8Bom.size();
  std::vector<std::string> header = csvRecord(text, pos, line);
  int email = -1, name = -1, first = -1, last = -1, protocols = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string h = toLowerAscii(trimWhitespace(header[i]));
    int idx = static_cast<int>(i);
    if (email < 0 && (h == "email" || h == "e-mail" || h == "email address" ||
                      h == "e-mail address" || h == "primary email" || h == "e-mail 1 - value" ||
                      h == "address")) {
      email = idx;
    } else if (name < 0 && (h == "name" || h == "full name" || h == "display name")) {
      name = idx;
    } else if (h == "first name" || h == "given name") {
      first = idx;
    } else if (h == "last name" || h == "family name") {
      last = idx;
    } else if (h == "protocols" || h == "protocol") {
      protocols = idx;
    }
  }
  if (email < 0) {
    r.errors.push_back(where(file, 1) +
                       "no address column (expected a first row naming a column email, e-mail, "
                       "e-mail address or primary email)");
    return r;
  }
  while (pos < text.size()) {
    int record_line = line;
    bool unterminated = false;
    std::vector<std::string> f = csvRecord(text, pos, line, &unterminated);
    if (unterminated) {
      // Everything after the quote would be one field: nothing of it is imported.
      r.errors.push_back(where(file, record_line) +
                         "a quote opened in this row is never closed; this row and the rest of "
                         "the file are not imported (close the quote and import again)");
      break;
    }
    if (f.size() == 1 && trimWhitespace(f[0]).empty()) continue;  // blank line
    auto col = [&](int i) -> std::string {
      return i >= 0 && static_cast<size_t>(i) < f.size() ? std::string(trimWhitespace(f[static_cast<size_t>(i)])) : "";
    };
    ImportedContact c;
    c.line = record_line;
    c.address = withoutMailto(col(email));
    c.name = col(name);
    if (c.name.empty()) c.name = std::string(trimWhitespace(col(first) + " " + col(last)));
    if (protocols >= 0) c.protocols = splitList(col(protocols), ';');
    if (c.address.empty()) {
      r.errors.push_back(where(file, record_line) + "no address in this row (skipped)");
      continue;
    }
    r.contacts.push_back(std::move(c));
  }
  return r;
}

ImportResult parseContactFile(std::string_view text, const std::string& file) {
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  std::string_view t = trimWhitespace(text);
  if (t.size() >= 11 && equalsIgnoreCase(t.substr(0, 11), "begin:vcard")) return parseVCards(text, file);
  return parseContactCsv(text, file);
}

}  // namespace meshgate::policy
