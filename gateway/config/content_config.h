// NAME
//   content_config.h - configuration of the content checks: payment requests, impersonation,
//   egress rules, "mail too stupid to send", brands.
//
// DESCRIPTION
//   Part of Config (config.h); read by readContentSections() (content_config.cc) with the same
//   strict YamlMap rules as every other section.
#pragma once

namespace meshgate::config {

struct PaymentSection {};
struct ImpersonationSection {};
struct EgressSection {};
struct TooStupidSection {};
struct BrandsSection {};

}  // namespace meshgate::config
