// NAME
//   policy_protocol.h - Postfix SMTPD policy delegation protocol: request parsing and replies.
//
// SYNOPSIS
//   PolicyStreamParser parser(64 * 1024);
//   parser.append(bytes_from_socket);
//   while (auto r = parser.next()) { ... }   // Result<std::optional<PolicyRequest>>
//
// DESCRIPTION
//   A request is "name=value" lines ended by an empty line (Postfix SMTPD_POLICY_README).
//   Parsing is strict: a line without '=', an empty or invalid attribute name, a repeated
//   attribute, a NUL byte, or a request larger than the limit is an error (the caller logs it,
//   sends no reply and disconnects, so Postfix applies its default action). Unknown attributes
//   are kept and ignored by the caller. A "\r\n" line end is tolerated.
//
//   The reply is exactly one "action=..." line and an empty line; text is sanitized (no CR/LF,
//   no NUL) so that a value derived from the request cannot inject a second reply line.
//
// THREAD SAFETY
//   A parser belongs to one connection.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/util/status.h"

namespace meshgate::policyd {

struct PolicyRequest {
  std::map<std::string, std::string, std::less<>> attributes;

  // The value of an attribute, "" when absent.
  const std::string& get(std::string_view name) const;
  bool has(std::string_view name) const { return attributes.find(name) != attributes.end(); }
};

class PolicyStreamParser {
 public:
  explicit PolicyStreamParser(size_t max_request_bytes) : max_request_bytes_(max_request_bytes) {}

  void append(std::string_view bytes) { buffer_.append(bytes); }

  // The next complete request, nullopt when more bytes are needed, or an error
  // (kInvalidArgument for malformed input, kResourceExhausted when over the size limit).
  // After an error the parser is unusable: the connection must be closed.
  Result<std::optional<PolicyRequest>> next();

  // Bytes received but not yet part of a complete request.
  size_t pending() const { return buffer_.size(); }

 private:
  size_t max_request_bytes_;
  std::string buffer_;
  size_t scanned_ = 0;  // buffer_[0, scanned_) is whole lines of the request, none empty
};

// "action=<action>[ <text>]\n\n" with text made safe for one line.
std::string formatReply(std::string_view action, std::string_view text = "");

}  // namespace meshgate::policyd
