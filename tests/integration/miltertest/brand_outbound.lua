-- brand_outbound.lua - outbound mail (issue 6 items 1 and 4) through the real milter:
--   1. {daemon_name}=ORIGINATING (the submission service): mail From: a brand address gets the
--      gateway's Mesh-Brand-Assertion inserted at index 0; the copies the author's client put
--      in are deleted (MT_HDRDELETE); the delivered message is written to out/brand.eml for
--      `meshgate brand verify` (milter_tests.py checks it).
--   2. the same connection, {auth_authen} set on a port-25 style connection: a message whose
--      Subject carries [SECRET] to an external recipient is refused at end of message (egress
--      rule no-secret-outside).
--   3. the same [SECRET] message from an anonymous client on port 25 is inbound: no egress
--      rule applies, it is accepted.
dofile(lib .. "/common.lua")

-- 1. submission: brand mail
local conn = open_session("203.0.113.20", "ORIGINATING")
must(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
must(mt.rcptto(conn, "<customer@partner.example>"), "mt.rcptto")
expect_reply(conn, SMFIR_CONTINUE, "RCPT customer")
local forged = "v=1; brand=Example%20Bank; org=Someone%20Else; addr=news@example.com; gw=x; kid=K; t=1; h=from; bh=x; s=y"
local headers = {
  {"Mesh-Brand-Assertion", forged},
  {"From", "Example Bank <news@example.com>"},
  {"To", "<customer@partner.example>"},
  {"Subject", "Winter offers"},
  {"mesh-brand-assertion", forged},
  {"Date", "Mon, 2 Mar 2026 10:00:00 +0000"},
  {"Message-ID", "<brand-1@example.com>"},
}
local body = "Dear customer,\r\nour winter offers.\r\n"
send_headers_and_body(conn, headers, body)
must(mt.eom(conn), "mt.eom")
local r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "EOM brand: expected CONTINUE/ACCEPT, got " ..
     reply_name(r))
for i = 1, 2 do
  note(mt.eom_check(conn, MT_HDRDELETE, "Mesh-Brand-Assertion", i),
       "incoming copy " .. i .. " of 2 not deleted")
end
note(not mt.eom_check(conn, MT_HDRDELETE, "Mesh-Brand-Assertion", 3), "a 3rd copy deleted")
local value = mt.getheader(conn, "Mesh-Brand-Assertion", 0)
if note(value ~= nil, "no Mesh-Brand-Assertion inserted") then
  note(mt.eom_check(conn, MT_HDRINSERT, "Mesh-Brand-Assertion", value, 0),
       "the assertion is not at index 0")
  note(contains(value, "brand=Example%20Bank;"), "brand not named: " .. value)
  note(contains(value, "org=Example%20Bank%20plc;"), "organization not named: " .. value)
  note(not contains(value, "Someone%20Else"), "the forged value leaked: " .. value)
  local delivered = {{"Mesh-Brand-Assertion", value}}
  for _, h in ipairs(headers) do
    if string.lower(h[1]) ~= "mesh-brand-assertion" then delivered[#delivered + 1] = h end
  end
  write_eml(out .. "/brand.eml", delivered, body)
end
-- No local recipient: no security signal.
note(mt.getheader(conn, "Mesh-Security-Signal", 0) == nil, "a signal on purely outbound mail")
mt.disconnect(conn)

-- 2. authenticated client ({auth_authen}), classified mail to the outside
conn = open_session("203.0.113.21", "smtpd")
mt.macro(conn, SMFIC_MAIL, "{auth_authen}", "alice", "{auth_type}", "PLAIN")
must(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom (auth)")
must(mt.rcptto(conn, "<customer@partner.example>"), "mt.rcptto (auth)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT customer (auth)")
send_headers_and_body(conn, standard_headers("alice@example.com", "customer@partner.example",
                                             "[SECRET] merger plans", "<secret-1@example.com>"),
                      "Numbers attached later.\r\n")
must(mt.eom(conn), "mt.eom (secret)")
r = mt.getreply(conn)
note(r == SMFIR_REPLYCODE or r == SMFIR_REJECT, "EOM secret: expected a reject, got " ..
     reply_name(r))
note(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
                  "your message to <customer@partner.example> was not sent: it is classified SECRET"),
     "the reject text is not the rule's")
mt.disconnect(conn)

-- 3. the same from an anonymous port-25 client: inbound, accepted
conn = open_session("203.0.113.22", "smtpd")
must(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom (anon)")
must(mt.rcptto(conn, "<customer@partner.example>"), "mt.rcptto (anon)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT customer (anon)")
send_headers_and_body(conn, standard_headers("alice@example.com", "customer@partner.example",
                                             "[SECRET] merger plans", "<secret-2@example.com>"),
                      "Numbers attached later.\r\n")
must(mt.eom(conn), "mt.eom (anon)")
r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "EOM anon: expected CONTINUE/ACCEPT, got " ..
     reply_name(r))
mt.disconnect(conn)
finish("brand_outbound")
