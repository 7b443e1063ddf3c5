// NAME
//   contact_import.h - read contacts from vCard (3.0 / 4.0) and CSV address-book exports.
//
// DESCRIPTION
//   vCard: every EMAIL property of every card (folded lines joined; group prefixes such as
//   "item1.EMAIL" and parameters such as ";TYPE=work" accepted), with the card's FN as name.
//   CSV (RFC 4180 quoting): the first row names the columns; the address column is the first
//   of email, e-mail, email address, e-mail address, primary email, e-mail 1 - value; a name
//   column (name, full name, display name, or first name + last name) and a protocols column
//   ("smtp;ssh") are optional. Rows without an address are reported, not fatal.
//
// ERRORS
//   Problems are collected per line as "FILE:LINE: what" so an administrator can fix the
//   file; a file with no recognizable format is one error.
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace meshgate::policy {

struct ImportedContact {
  std::string address;  // as written
  std::string name;
  std::vector<std::string> protocols;  // empty = the caller's default
  int line = 0;
};

struct ImportResult {
  std::vector<ImportedContact> contacts;
  std::vector<std::string> errors;
};

ImportResult parseVCards(std::string_view text, const std::string& file);
ImportResult parseContactCsv(std::string_view text, const std::string& file);
// Chooses vCard when the text starts with BEGIN:VCARD (after blank lines), else CSV.
ImportResult parseContactFile(std::string_view text, const std::string& file);

}  // namespace meshgate::policy
