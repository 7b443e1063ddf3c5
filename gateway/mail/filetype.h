// NAME
//   filetype.h - the type of an attachment from its first bytes ("magic"), not from its name.
//
// SYNOPSIS
//   FileType t = detectFileType(first_bytes);   // e.g. FileType::kPe for "MZ..."
//   std::string_view name = fileTypeName(t);    // "exe"
//
// DESCRIPTION
//   Declared content types and file names are chosen by the sender; the first bytes are what
//   the reader's software will act on. detectFileType recognizes the formats that mail
//   policies ask about: archives (zip, rar, 7z, gzip, bzip2, xz, tar, cab, iso), Office
//   documents (OOXML docx/xlsx/pptx told apart by their zip entries, OpenDocument, OLE2 for
//   the old doc/xls/ppt/msg), PDF, RTF, OneNote, executables (PE, ELF, Mach-O), Windows
//   shortcuts, Java archives, HTML, scripts with "#!", and common images.
//
// ERRORS
//   None: anything unrecognized is kUnknown.
//
// LIMITS
//   Looks at most kFileTypeHeadBytes bytes (ISO 9660 keeps its signature at 32 KiB; OOXML's
//   telling entry names come after the first zip entries). Give it fewer and it does what it
//   can.
//
// THREAD SAFETY
//   Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace meshgate::mail {

enum class FileType : uint8_t {
  kUnknown,
  kZip,
  kDocx,
  kXlsx,
  kPptx,
  kOoxml,
  kOpenDocument,
  kJar,
  kOle2,
  kPdf,
  kRtf,
  kOneNote,
  kPe,
  kElf,
  kMachO,
  kLnk,
  kScript,
  kRar,
  kSevenZip,
  kGzip,
  kBzip2,
  kXz,
  kTar,
  kCab,
  kIso,
  kPng,
  kJpeg,
  kGif,
  kHtml,
  kEmail,  // message/rfc822 parts (set by the MIME parser, not from magic)
};

inline constexpr size_t kFileTypeHeadBytes = 64 * 1024;

FileType detectFileType(std::string_view head);

// Stable lower-case names: "unknown", "zip", "docx", ..., "exe", "email".
std::string_view fileTypeName(FileType type);

}  // namespace meshgate::mail
