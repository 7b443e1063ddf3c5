// form.cc - see form.h.
#include "policy/mesh/form.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

namespace meshgate::meshsvc {

std::optional<FormFields> parseForm(const std::string& text) {
  FormFields fields;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('&', start);
    if (end == std::string::npos) end = text.size();
    std::string pair = text.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string name, value;
      try {
        Poco::URI::decode(pair.substr(0, eq), name, true);
        if (eq != std::string::npos) Poco::URI::decode(pair.substr(eq + 1), value, true);
      } catch (const Poco::Exception&) {
        return std::nullopt;
      }
      fields.emplace(std::move(name), std::move(value));
    }
    start = end + 1;
  }
  return fields;
}

}  // namespace meshgate::meshsvc
