// NAME
//   form.h - application/x-www-form-urlencoded fields (a query string or a POSTed form) for the
//   policy server's small non-Mesh endpoints (/quarantine/confirm, /access-check).
//
// DESCRIPTION
//   parseForm: '&'-separated name=value pairs, '+' as space, %XX escapes decoded. A repeated
//   field keeps its first value; an empty pair is skipped; a malformed escape makes the whole
//   form invalid (nullopt), so that a half-decoded value is never acted on.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace meshgate::meshsvc {

using FormFields = std::map<std::string, std::string>;

std::optional<FormFields> parseForm(const std::string& text);

}  // namespace meshgate::meshsvc
