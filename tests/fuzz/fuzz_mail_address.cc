// libFuzzer target: envelope addresses, mailbox lists, RFC 2047 encoded words, RFC 2231
// parameters, domains and the lookalike functions. The first byte picks nothing: every parser
// sees the whole input, so one corpus serves all of them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/mail/address.h"
#include "gateway/mail/codec.h"
#include "gateway/mail/header.h"
#include "gateway/mail/lookalike.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meshgate::mail;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  meshgate::Result<Address> envelope = parseEnvelopeAddress(input);
  if (envelope.ok()) {
    // A parsed address prints to text that parses back to the same address.
    meshgate::Result<Address> again = parseEnvelopeAddress("<" + envelope->toString() + ">");
    check(again.ok());
    check(*again == *envelope);
    check(isValidUtf8(envelope->domainUnicode()));
  }

  Limits limits;
  limits.max_mailboxes = 16;
  MailboxList list = parseMailboxList(input, limits);
  check(list.mailboxes.size() <= 16);
  for (const Mailbox& m : list.mailboxes) {
    check(isValidUtf8(m.display_name));
    check(isValidUtf8(m.group));
  }

  bool malformed = false;
  std::string decoded = decodeEncodedWords(input, &malformed);
  check(isValidUtf8(decoded));
  check(decoded.find('\0') == std::string::npos);

  StructuredField field = parseStructuredField(input);
  for (const auto& [name, value] : field.params) check(isValidUtf8(value));

  meshgate::Result<Domain> domain = normalizeDomain(input);
  if (domain.ok()) {
    meshgate::Result<Domain> again = normalizeDomain(domain->unicode);
    check(again.ok() && again->ascii == domain->ascii);
  }

  // Split the input in two for the pairwise functions.
  std::string_view a = input.substr(0, input.size() / 2);
  std::string_view b = input.substr(input.size() / 2);
  check(looksLike(a, b) == looksLike(b, a));
  check(!looksLike(a, a));
  check(sameDisplayName(a, b) == sameDisplayName(b, a));
  size_t d = editDistance(a, b, 3);
  check(d <= 4 && d == editDistance(b, a, 3));
  check(isValidUtf8(confusableSkeleton(input)));
  check(isValidUtf8(displayNameKey(input)));
  return 0;
}
