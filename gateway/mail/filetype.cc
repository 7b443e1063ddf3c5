// filetype.cc - magic-byte detection of attachment types.
#include "gateway/mail/filetype.h"

#include <cstring>

#include "gateway/util/strings.h"

namespace meshgate::mail {
namespace {

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool at(std::string_view s, size_t offset, std::string_view what) {
  return s.size() >= offset + what.size() && s.compare(offset, what.size(), what) == 0;
}

uint32_t le16(std::string_view s, size_t off) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[off])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[off + 1])) << 8;
}

uint32_t le32(std::string_view s, size_t off) { return le16(s, off) | le16(s, off + 2) << 16; }

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Walks the zip local file headers inside head and classifies the archive by its entry names.
FileType classifyZip(std::string_view head) {
  bool content_types = false;
  FileType office = FileType::kUnknown;
  size_t off = 0;
  for (int entries = 0; entries < 256 && at(head, off, "PK\x03\x04"); ++entries) {
    if (off + 30 > head.size()) break;
    uint32_t flags = le16(head, off + 6);
    uint32_t compressed = le32(head, off + 18);
    uint32_t name_len = le16(head, off + 26);
    uint32_t extra_len = le16(head, off + 28);
    if (off + 30 + name_len > head.size()) break;
    std::string_view name = head.substr(off + 30, name_len);
    size_t data = off + 30 + name_len + extra_len;
    if (name == "[Content_Types].xml") content_types = true;
    if (office == FileType::kUnknown) {
      if (startsWith(name, "word/")) office = FileType::kDocx;
      if (startsWith(name, "xl/")) office = FileType::kXlsx;
      if (startsWith(name, "ppt/")) office = FileType::kPptx;
    }
    if (name == "mimetype" && at(head, data, "application/vnd.oasis.opendocument")) {
      return FileType::kOpenDocument;
    }
    if (name == "META-INF/MANIFEST.MF" || (startsWith(name, "META-INF/") && entries == 0)) {
      return FileType::kJar;
    }
    if ((flags & 0x08) != 0 && compressed == 0) break;  // size only in a trailing descriptor
    off = data + compressed;
  }
  if (office != FileType::kUnknown) return office;
  if (content_types) return FileType::kOoxml;
  return FileType::kZip;
}

}  // namespace

FileType detectFileType(std::string_view head) {
  if (head.size() > kFileTypeHeadBytes) head = head.substr(0, kFileTypeHeadBytes);
  if (startsWith(head, "PK\x03\x04")) return classifyZip(head);
  if (startsWith(head, "PK\x05\x06") || startsWith(head, "PK\x07\x08")) return FileType::kZip;
  if (startsWith(head, std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))) {
    return FileType::kOle2;
  }
  if (startsWith(head, "MZ")) return FileType::kPe;
  if (startsWith(head,
                 "\x7F"
                 "ELF"))
    return FileType::kElf;
  if (startsWith(head, "\xFE\xED\xFA\xCE") || startsWith(head, "\xFE\xED\xFA\xCF") ||
      startsWith(head, "\xCE\xFA\xED\xFE") || startsWith(head, "\xCF\xFA\xED\xFE")) {
    return FileType::kMachO;
  }
  if (startsWith(head, std::string_view("L\0\0\0\x01\x14\x02\0", 8))) return FileType::kLnk;
  if (startsWith(head, "{\\rtf")) return FileType::kRtf;
  if (startsWith(head, "\xE4\x52\x5C\x7B\x8C\xD8\xA7\x4D")) return FileType::kOneNote;
  if (startsWith(head, "Rar!\x1A\x07")) return FileType::kRar;
  if (startsWith(head, "7z\xBC\xAF\x27\x1C")) return FileType::kSevenZip;
  if (startsWith(head, "\x1F\x8B")) return FileType::kGzip;
  if (startsWith(head, "BZh")) return FileType::kBzip2;
  if (startsWith(head, std::string_view("\xFD"
                                        "7zXZ\0",
                                        6)))
    return FileType::kXz;
  if (startsWith(head, "MSCF")) return FileType::kCab;
  if (startsWith(head, "\x89PNG")) return FileType::kPng;
  if (startsWith(head, "\xFF\xD8\xFF")) return FileType::kJpeg;
  if (startsWith(head, "GIF87a") || startsWith(head, "GIF89a")) return FileType::kGif;
  if (startsWith(head, "#!")) return FileType::kScript;
  if (at(head, 257, "ustar")) return FileType::kTar;
  if (at(head, 0x8001, "CD001") || at(head, 0x8801, "CD001") || at(head, 0x9001, "CD001")) {
    return FileType::kIso;
  }
  // PDF readers accept the header anywhere in the first KiB.
  if (std::string_view first = head.substr(0, 1024);
      first.find("%PDF-") != std::string_view::npos) {
    return FileType::kPdf;
  }
  std::string_view text = head;
  if (startsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                           text.front() == '\n')) {
    text.remove_prefix(1);
  }
  if (startsWithNoCase(text, "<!doctype html") || startsWithNoCase(text, "<html") ||
      startsWithNoCase(text, "<head") || startsWithNoCase(text, "<script") ||
      startsWithNoCase(text, "<svg")) {
    return FileType::kHtml;
  }
  return FileType::kUnknown;
}

std::string_view fileTypeName(FileType type) {
  switch (type) {
    case FileType::kUnknown:
      return "unknown";
    case FileType::kZip:
      return "zip";
    case FileType::kDocx:
      return "docx";
    case FileType::kXlsx:
      return "xlsx";
    case FileType::kPptx:
      return "pptx";
    case FileType::kOoxml:
      return "ooxml";
    case FileType::kOpenDocument:
      return "opendocument";
    case FileType::kJar:
      return "jar";
    case FileType::kOle2:
      return "ole2";
    case FileType::kPdf:
      return "pdf";
    case FileType::kRtf:
      return "rtf";
    case FileType::kOneNote:
      return "onenote";
    case FileType::kPe:
      return "exe";
    case FileType::kElf:
      return "elf";
    case FileType::kMachO:
      return "macho";
    case FileType::kLnk:
      return "lnk";
    case FileType::kScript:
      return "script";
    case FileType::kRar:
      return "rar";
    case FileType::kSevenZip:
      return "7z";
    case FileType::kGzip:
      return "gzip";
    case FileType::kBzip2:
      return "bzip2";
    case FileType::kXz:
      return "xz";
    case FileType::kTar:
      return "tar";
    case FileType::kCab:
      return "cab";
    case FileType::kIso:
      return "iso";
    case FileType::kPng:
      return "png";
    case FileType::kJpeg:
      return "jpeg";
    case FileType::kGif:
      return "gif";
    case FileType::kHtml:
      return "html";
    case FileType::kEmail:
      return "email";
  }
  return "unknown";
}

}  // namespace meshgate::mail
