#!/usr/bin/env python3
"""Writes the golden .eml inputs of tests/unit/mail/mime_test.cc (run from anywhere).

The files are checked in; this script documents how their bytes (charsets, base64, CRLF) were
made, and remakes them. The expected dumps (*.expected) are reviewed by hand: regenerate them
with MESHGATE_UPDATE_GOLDEN=1 unit_mail --gtest_filter='Golden*' and read the diff.
"""
import base64
import os
import quopri

HERE = os.path.dirname(os.path.abspath(__file__))


def crlf(text: bytes) -> bytes:
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data)  # 76-character lines


def write(name: str, data: bytes) -> None:
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 4


def zip_entry(name: bytes, data: bytes) -> bytes:
    import struct
    return (b"PK\x03\x04" + struct.pack("<HHHHHIII", 20, 0, 0, 0, 0, 0, len(data), len(data)) +
            struct.pack("<HH", len(name), 0) + name + data)


DOCX = (zip_entry(b"[Content_Types].xml", b"<Types/>") + zip_entry(b"_rels/.rels", b"<R/>") +
        zip_entry(b"word/document.xml", b"<w:document/>"))

# 1. multipart/mixed: alternative text+html, a PDF, a docx, an exe posing as a PDF.
write("multipart_attachments.eml", crlf(b"""Return-Path: <billing@supplier.example>
Received: from mx.supplier.example (mx.supplier.example [192.0.2.10])
\tby mx.example.com (Postfix) with ESMTPS id 4Q1
\tfor <ap@example.com>; Mon, 15 Jan 2024 10:00:00 +0100
From: "Supplier Billing" <billing@supplier.example>
To: Accounts Payable <ap@example.com>
Reply-To: payments@other.example
Subject: Invoice 2024-001 and new bank details
Date: Mon, 15 Jan 2024 10:00:00 +0100
Message-ID: <inv-2024-001@supplier.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer-boundary"

This is a multi-part message in MIME format.

--outer-boundary
Content-Type: multipart/alternative; boundary="alt-boundary"

--alt-boundary
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Dear customer,

please find attached invoice 2024-001 (amount =E2=82=AC 12.400,00).
Our bank details have changed: IBAN DE89 3704 0044 0532 0130 00, BIC COBADEF=
FXXX.

--alt-boundary
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {color: red}</style></head><body><p>Dear customer,</p>=
<p>please find attached invoice 2024-001 (amount &euro;&nbsp;12.400,00).</p>=
<p>Our <b>bank</b> details have changed: <span>IBAN</span> DE89 3704 0044 0532=
 0130 00</p></body></html>

--alt-boundary--

--outer-boundary
Content-Type: application/pdf; name="invoice-2024-001.pdf"
Content-Disposition: attachment; filename="invoice-2024-001.pdf"
Content-Transfer-Encoding: base64

""" + b64(PDF) + b"""
--outer-boundary
Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document
Content-Disposition: attachment;
 filename="new-bank-details.docx"
Content-Transfer-Encoding: base64

""" + b64(DOCX) + b"""
--outer-boundary
Content-Type: application/pdf
Content-Disposition: attachment; filename="payment-confirmation.pdf.exe"
Content-Transfer-Encoding: base64

""" + b64(EXE) + b"""
--outer-boundary--

Epilogue text is not part of any part.
"""))

# 2. Charsets: ISO-8859-1 QP, windows-1252 8bit, Shift_JIS base64, UTF-8 base64, KOI8-R.
latin1 = "Grüße aus Köln, 100 € sind fällig.".encode("cp1252")
write("charsets.eml", crlf(b"""From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <juergen@example.de>
To: =?shift_jis?B?k/qWe4zq?= <nihongo@example.jp>
Subject: =?UTF-8?B?UmVjaG51bmcg4oCTIOivt+axgg==?= =?iso-8859-1?q?_f=FCr_Sie?=
Date: Tue, 16 Jan 2024 09:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=sep

--sep
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

""" + quopri.encodestring(latin1) + b"""
--sep
Content-Type: text/plain; charset=windows-1252
Content-Transfer-Encoding: 8bit

\x93Smart quotes\x94 \x96 and the euro: \x80 5
--sep
Content-Type: text/plain; charset="Shift_JIS"
Content-Transfer-Encoding: base64

""" + b64("請求書をお送りします。お支払いは銀行振込でお願いします。".encode("shift_jis")) + b"""--sep
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

""" + b64("Привет! Оплатите счёт сегодня. 日本語 ✓".encode("utf-8")) + b"""--sep
Content-Type: text/plain; charset=koi8-r

""" + "Счёт на оплату".encode("koi8-r") + b"""
--sep--
"""))

# 3. Nested message/rfc822, inline and base64-encoded, with a digest.
inner = crlf(b"""From: "CEO" <ceo@example.com>
To: finance@example.com
Subject: =?utf-8?q?Urgent_wire_transfer_=E2=80=93_confidential?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain; charset=us-ascii

Please wire 50,000 USD today. Gift cards are fine too.
--inner
Content-Type: application/zip; name="details.zip"
Content-Transfer-Encoding: base64

""" + b64(zip_entry(b"details.txt", b"account 123")) + b"""--inner--
""")
encoded_inner = crlf(b"""From: helpdesk@it.example
Subject: Password expiry
Content-Type: text/html; charset=utf-8

<p>Your password expires. <a href="https://it.example.evil/">Keep it</a></p>
""")
write("nested_rfc822.eml", crlf(b"""From: Assistant <assistant@example.com>
To: boss@example.com
Subject: Fwd: Urgent wire transfer
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain

See the forwarded messages below.
--fwd
Content-Type: message/rfc822
Content-Disposition: attachment; filename="original.eml"

""") + inner + crlf(b"""
--fwd
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

""") + b64(encoded_inner) + crlf(b"""--fwd
Content-Type: multipart/digest; boundary="dig"

--dig

From: a@list.example
Subject: Digest item one

First item text.
--dig

From: b@list.example
Subject: Digest item two

Second item text.
--dig--
--fwd--
"""))

# 4. File names: RFC 2231 (charset, continuations), RFC 2047 in quotes, Content-Type name only.
write("filenames.eml", crlf(b"""From: files@example.org
To: x@example.com
Subject: file names
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="f"

--f
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20Rechnung%20M%C3%A4rz.pdf
Content-Transfer-Encoding: base64

""" + b64(PDF) + b"""--f
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=iso-8859-1''Gr%FC%DFe%20;
 filename*1*=aus%20K%F6ln;
 filename*2=".txt"

hello
--f
Content-Type: application/x-msdownload; name="=?utf-8?B?0YHRh9C10YIuZXhl?="
Content-Transfer-Encoding: base64

""" + b64(EXE) + b"""--f
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment

attached text is an attachment, not body text
--f
Content-Type: image/png; name="logo.png"
Content-Disposition: inline; filename="logo.png"
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--f--
"""))

# 5. Hostile headers: two From:, a NUL, a forged security header, duplicate Subject, a
#    display name that is an address, an over-long line, a bad encoded word.
write("hostile_headers.eml", crlf(b"""Mesh-Security-Signal: v=1; status=known-contact; forged
From: "security@bank.example" <attacker@evil.example>
From: Bank <service@bank.example>
To: victim@example.com
Subject: =?x-unknown-charset?q?Account_locked?=
Subject: second subject
Mesh-Security-Signal: v=1; forged again
X-Nul: a\x00b
X-Long: """ + b"A" * 1200 + b"""
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Your account is locked.\x00 Verify now.
"""))

# 6. Truncated multipart: inner part never closed, outer closing boundary missing.
write("truncated_multipart.eml", crlf(b"""From: a@example.com
To: b@example.com
Subject: truncated
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="A"

--A
Content-Type: multipart/alternative; boundary="B"

--B
Content-Type: text/plain

inner text
--A
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

QUJD!!!REVG
"""))

# 7. HTML only, windows-1252 from <meta>, hidden script, words broken by invisible characters.
write("html_only.eml", crlf(b"""From: Newsletter <news@shop.example>
To: x@example.com
Subject: Sale
MIME-Version: 1.0
Content-Type: text/html
Content-Transfer-Encoding: 8bit

<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<script>document.write('<p>tracking</p>')</script></head>
<body><h1>Caf\xe9 sale \x96 50% off</h1><p>Gift&shy;card bonus: pay&#x200B;pal accepted &amp; more.</p>
<!-- <p>hidden comment</p> --><table><tr><td>Total</td><td>\x8020</td></tr></table></body></html>
"""))

# 8. No MIME at all, LF line ends, mbox From line, bare single part.
write("plain_lf.eml", b"""From sender@example.net Sat Jan 13 12:00:00 2024
From: Plain Sender <sender@example.net>
To: rcpt@example.com
Subject: plain
  folded subject

Just a plain body.
Second line.
""")
