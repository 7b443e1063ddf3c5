// NAME
//   content_test_support.h - shared fixtures of the content-check tests (payment,
//   impersonation, egress, too-stupid): configurations, messages through the real MIME parser,
//   and a MockStore with the accounts and correspondents the tests need.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config_loader.h"
#include "gateway/mail/mime.h"
#include "gateway/policy/decision.h"
#include "gateway/policy/request.h"
#include "tests/support/mock_store.h"

namespace meshgate::policy::content_testing {

// gateway.domains [example.com, example.org]... plus `sections` (YAML, top level).
inline std::shared_ptr<const config::Config> loadConfig(const std::string& sections) {
  auto loaded = config::loadConfigString(
      "gateway:\n  node: mx.example.com\n  domains: [example.com]\nabuse:\n  enabled: false\n" +
          sections,
      "t.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
  return loaded.config;
}

// The first error of a configuration, "" if it loads.
inline std::string firstError(const std::string& sections) {
  auto loaded = config::loadConfigString(
      "gateway:\n  domains: [example.com]\n" + sections, "t.yaml");
  return loaded.errors.empty() ? "" : loaded.errors[0];
}

inline std::string allErrors(const std::string& sections) {
  auto loaded = config::loadConfigString(
      "gateway:\n  domains: [example.com]\n" + sections, "t.yaml");
  std::string out;
  for (const auto& e : loaded.errors) out += e + "\n";
  return out;
}

// A message from headers and a body; "\n" line ends become CRLF as on the wire.
inline std::string crlf(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

inline mail::MessageView parse(const std::string& eml) { return mail::parseMessage(crlf(eml)); }

// A simple text/plain message.
inline std::string textMessage(const std::string& from, const std::string& subject,
                               const std::string& body, const std::string& extra_headers = "") {
  return "From: " + from + "\nTo: someone@example.net\nSubject: " + subject + "\n" +
         extra_headers + "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body;
}

inline RecipientDecision recipient(const std::string& address,
                                   ContactStatus contact = ContactStatus::kNotApplicable) {
  RecipientDecision r;
  r.recipient = address;
  r.contact = contact;
  return r;
}

inline bool hasCheck(const Decision& d, const std::string& name) {
  for (const auto& c : d.checks) {
    if (c.name == name) return true;
  }
  return false;
}

inline std::string checkDetail(const Decision& d, const std::string& name) {
  for (const auto& c : d.checks) {
    if (c.name == name) return c.detail;
  }
  return "<none>";
}

inline std::string checkNames(const Decision& d) {
  std::string out;
  for (const auto& c : d.checks) out += (out.empty() ? "" : ",") + c.name;
  return out;
}

}  // namespace meshgate::policy::content_testing
