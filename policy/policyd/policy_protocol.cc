// policy_protocol.cc - see policy_protocol.h.
#include "policy/policyd/policy_protocol.h"

#include <algorithm>

namespace meshgate::policyd {
namespace {

constexpr size_t kMaxAttributes = 256;

bool validName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

}  // namespace

const std::string& PolicyRequest::get(std::string_view name) const {
  static const std::string kEmpty;
  auto it = attributes.find(name);
  return it == attributes.end() ? kEmpty : it->second;
}

Result<std::optional<PolicyRequest>> PolicyStreamParser::next() {
  // Find the end of the request: an empty line ("\n\n", or "\r\n\r\n" / mixed). Lines already
  // seen to be complete and not empty are not looked at again (a request sent a byte at a
  // time cost a scan of all of it per byte).
  size_t pos = scanned_;
  size_t end = std::string::npos;
  size_t consumed = 0;
  while (pos < buffer_.size()) {
    size_t nl = buffer_.find('\n', pos);
    if (nl == std::string::npos) break;
    size_t line_len = nl - pos;
    if (line_len > 0 && buffer_[nl - 1] == '\r') --line_len;
    if (line_len == 0) {
      end = pos;
      consumed = nl + 1;
      break;
    }
    pos = nl + 1;
  }
  if (end == std::string::npos) {
    scanned_ = pos;
    if (buffer_.size() > max_request_bytes_) {
      return resourceExhausted("policy request larger than " + std::to_string(max_request_bytes_) +
                               " bytes");
    }
    return std::optional<PolicyRequest>();
  }
  if (consumed > max_request_bytes_ + 2) {
    return resourceExhausted("policy request larger than " + std::to_string(max_request_bytes_) +
                             " bytes");
  }

  PolicyRequest req;
  size_t line_start = 0;
  int line_no = 0;
  while (line_start < end) {
    ++line_no;
    size_t nl = buffer_.find('\n', line_start);
    std::string_view line(buffer_.data() + line_start, nl - line_start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line_start = nl + 1;
    if (line.find('\0') != std::string_view::npos) {
      return invalidArgument("line " + std::to_string(line_no) + ": NUL byte in request");
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return invalidArgument("line " + std::to_string(line_no) + ": expected name=value");
    }
    std::string_view name = line.substr(0, eq);
    if (!validName(name)) {
      return invalidArgument("line " + std::to_string(line_no) + ": invalid attribute name");
    }
    if (req.attributes.size() >= kMaxAttributes) {
      return resourceExhausted("more than " + std::to_string(kMaxAttributes) + " attributes");
    }
    auto [it, inserted] = req.attributes.emplace(std::string(name), std::string(line.substr(eq + 1)));
    if (!inserted) {
      return invalidArgument("line " + std::to_string(line_no) + ": attribute " +
                             std::string(name) + " repeated");
    }
  }
  buffer_.erase(0, consumed);
  scanned_ = 0;
  return std::optional<PolicyRequest>(std::move(req));
}

std::string formatReply(std::string_view action, std::string_view text) {
  std::string out = "action=";
  out += action;
  if (!text.empty()) {
    out += ' ';
    for (char c : text) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  }
  out += "\n\n";
  return out;
}

}  // namespace meshgate::policyd
