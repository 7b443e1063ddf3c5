// libFuzzer target: the Postfix policy delegation parser (policy/policyd/policy_protocol.h),
// fed in chunks whose sizes come from the input itself, as a socket would deliver them, and the
// reply formatter with attribute values from the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/policyd/policy_protocol.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr size_t kLimit = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meshgate::policyd;
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;  // 1..64 bytes per read
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  PolicyStreamParser parser(kLimit);
  bool failed = false;
  for (size_t at = 0; at < input.size() && !failed; at += chunk) {
    parser.append(input.substr(at, chunk));
    while (true) {
      auto next = parser.next();
      if (!next.ok()) {
        failed = true;  // the connection would be closed here
        break;
      }
      if (!next->has_value()) break;
      for (const auto& [name, value] : (*next)->attributes) {
        check(!name.empty());
        check(name.find('=') == std::string::npos);
        check(name.find('\n') == std::string::npos && value.find('\n') == std::string::npos);
        check(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos);
        // Whatever a request carries, a reply built from it is exactly one line.
        std::string reply = formatReply("DUNNO", value);
        check(reply.starts_with("action=DUNNO"));
        check(reply.ends_with("\n\n"));
        check(reply.find('\n') == reply.size() - 2);
        check(reply.find('\r') == std::string::npos && reply.find('\0') == std::string::npos);
      }
    }
    // An incomplete request never grows past the limit without an error.
    if (!failed) check(parser.pending() <= kLimit + chunk);
  }
  return 0;
}
