// libFuzzer target: a whole message (.eml bytes) through parseMessage and every accessor of
// the MessageView, plus the milter path (HeaderList built field by field, body separate).
// Checks invariants that the policy relies on, not just "no crash".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/mail/codec.h"
#include "gateway/mail/mime.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void inspect(const meshgate::mail::MessageView& v, const meshgate::mail::Limits& limits) {
  using meshgate::mail::isValidUtf8;
  check(isValidUtf8(v.subject()));
  size_t text = 0;
  for (const auto& t : v.textParts()) {
    check(isValidUtf8(t.text));
    check(t.text.find('\0') == std::string::npos);
    check(t.depth <= limits.max_depth);
    text += t.text.size();
  }
  check(text <= limits.max_text_bytes_total);
  for (const auto& a : v.attachments()) {
    check(isValidUtf8(a.filename));
    check(a.depth <= limits.max_depth);
  }
  for (const auto* list : {&v.from(), &v.replyTo(), &v.to(), &v.cc(), &v.sender()}) {
    check(list->size() <= limits.max_mailboxes);
    for (const auto& m : *list) check(isValidUtf8(m.display_name));
  }
  check(v.partCount() <= limits.max_parts);
  check(v.maxDepth() <= limits.max_depth);
  check(v.headers().size() <= limits.max_headers);
  (void)meshgate::mail::describe(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Small limits so that the fuzzer reaches them with small inputs.
  meshgate::mail::Limits limits;
  limits.max_headers = 64;
  limits.max_header_value_bytes = 4096;
  limits.max_depth = 8;
  limits.max_parts = 64;
  limits.max_text_bytes_per_part = 2048;
  limits.max_text_bytes_total = 8192;
  limits.max_mailboxes = 32;
  inspect(meshgate::mail::parseMessage(input, limits), limits);
  inspect(meshgate::mail::parseMessage(input), meshgate::mail::Limits());

  meshgate::mail::HeaderList headers(limits);
  size_t body = meshgate::mail::readHeaderSection(input, &headers);
  check(body <= input.size());
  meshgate::mail::HeaderList milter(limits);
  for (const auto& h : headers) milter.add(h.name, h.value);
  inspect(meshgate::mail::parseMime(std::move(milter), input.substr(body), limits), limits);
  return 0;
}
