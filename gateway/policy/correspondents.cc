// correspondents.cc - see correspondents.h.
#include "gateway/policy/correspondents.h"

#include <algorithm>

namespace meshgate::policy {

Result<std::vector<std::string>> CorrespondentLog::domains(std::string_view sender,
                                                           int max) const {
  std::vector<std::string> out;
  EntryQuery query;
  query.max_bytes = 1 << 20;
  for (;;) {
    query.max_entries = std::min(500, max - static_cast<int>(out.size()));
    if (query.max_entries <= 0) break;
    auto page = store_.listEntries(sender, kCatalog, query);
    if (!page.ok()) return page.status().withContext("reading the sender's correspondents");
    for (auto& e : page->items) out.push_back(std::move(e.key));
    if (page->next_page_key.empty() || page->items.empty()) break;
    query.page_key = page->next_page_key;
  }
  return out;
}

Status CorrespondentLog::record(std::string_view sender, std::string_view domain) const {
  CatalogEntry entry;
  entry.account = std::string(sender);
  entry.catalog = std::string(kCatalog);
  entry.key = std::string(domain);
  entry.updated = clock_.now();
  entry.data = "{\"first\":" + std::to_string(entry.updated) + "}";
  auto written = store_.putEntry(entry, std::nullopt);
  if (!written.ok()) return written.status().withContext("recording a correspondent");
  return Status();
}

}  // namespace meshgate::policy
