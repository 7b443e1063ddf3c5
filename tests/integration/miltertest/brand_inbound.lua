-- brand_inbound.lua - inbound mail that claims a protected brand (issue 6 item 4): a lookalike
-- sender domain with the brand's display name and a forged Mesh-Brand-Assertion. The forged
-- copy is deleted, the Subject tagged [UNVERIFIED BRAND], and the gateway's signal lists the
-- check brand-unverified.
dofile(lib .. "/common.lua")

local conn = open_session("198.51.100.30")
must(mt.mailfrom(conn, "<alerts@examp1ebank.com>"), "mt.mailfrom")
must(mt.rcptto(conn, "<bob@example.com>"), "mt.rcptto")
expect_reply(conn, SMFIR_CONTINUE, "RCPT bob")
local forged = "v=1; brand=Example%20Bank; org=Example%20Bank%20plc; addr=alerts@examp1ebank.com; gw=mx1.example.com; kid=MAAA-FAKE; t=1; h=from; bh=x; s=y"
local headers = {
  {"From", "Example Bank <alerts@examp1ebank.com>"},
  {"Mesh-Brand-Assertion", forged},
  {"To", "<bob@example.com>"},
  {"Subject", "Verify your account"},
  {"Date", "Mon, 2 Mar 2026 10:00:00 +0000"},
  {"Message-ID", "<claim-1@examp1ebank.com>"},
}
send_headers_and_body(conn, headers, "Click here.\r\n")
must(mt.eom(conn), "mt.eom")
local r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "EOM: expected CONTINUE/ACCEPT, got " ..
     reply_name(r))
note(mt.eom_check(conn, MT_HDRDELETE, "Mesh-Brand-Assertion", 1), "forged assertion not deleted")
note(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[UNVERIFIED BRAND] Verify your account"),
     "Subject not tagged [UNVERIFIED BRAND]")
local value = mt.getheader(conn, "Mesh-Security-Signal", 0)
if note(value ~= nil, "no signal inserted") then
  note(contains(value, "brand-unverified"), "signal without brand-unverified: " .. value)
  note(not contains(value, "brand="), "the signal names a brand nobody verified: " .. value)
end
mt.disconnect(conn)
finish("brand_inbound")
