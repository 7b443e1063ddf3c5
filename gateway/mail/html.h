// NAME
//   html.h - HTML reduced to plain text, well enough for word and pattern matching.
//
// SYNOPSIS
//   std::string text = htmlToText("<p>Pay<b>Pal</b> &amp; co</p><script>x()</script>", limit);
//   // "PayPal & co"
//
// DESCRIPTION
//   Not a renderer: a single pass that drops tags, comments and the content of script, style,
//   title, template and noscript; turns block elements into line breaks and cells into spaces;
//   decodes character references (numeric and the named ones that occur in mail); and collapses
//   whitespace. Inline tags add nothing, so "pay<span>pal</span>" reads "paypal" as it
//   displays. Input is taken as UTF-8 (the MIME layer converts first).
//
// ERRORS
//   None: any byte string gives some text.
//
// LIMITS
//   Linear in the input; output at most max_out bytes (cut at a character boundary). Unclosed
//   tags, comments and script elements run to the end of the input, as in browsers.
//
// THREAD SAFETY
//   Pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace meshgate::mail {

std::string htmlToText(std::string_view html, size_t max_out);

}  // namespace meshgate::mail
