-- forged_signal.lua - every incoming copy of Mesh-Security-Signal (and of the Mesh -> SMTP
-- bridge's own headers), whatever the case of its
-- name and wherever it sits, is deleted (smfi_chgheader(name, index, NULL)) and the gateway's
-- own signal inserted at index 0 (issue 5 item 4, POSTFIX.md "results injection").
--
-- Deletion order (last copy first, so that indexes do not shift: OpenDKIM CVE-2022-48521)
-- is not visible through miltertest, which keeps EOM requests unordered; the end-to-end test
-- through Postfix (postfix_tests.py forged_signal) proves it on the delivered message.
dofile(lib .. "/common.lua")

local conn = open_session()
must(mt.mailfrom(conn, "<stranger@elsewhere.example>"), "mt.mailfrom")
must(mt.rcptto(conn, "<bob@example.com>"), "mt.rcptto(bob)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT bob")
local forged = "v=1; gw=mx.example.com; kid=MAAA-FAKE; t=1; contact=known-contact; checks=none; s=AAAA"
local headers = {
  {"Mesh-Security-Signal", forged},
  {"Received", "from relay.elsewhere.example by client.example.net; Mon, 2 Mar 2026 09:59:00 +0000"},
  {"From", "<stranger@elsewhere.example>"},
  {"mesh-security-signal", forged},
  {"To", "<bob@example.com>"},
  {"Subject", "trust me"},
  {"MESH-Security-SIGNAL", forged},
  {"Mesh-Message-Type", "RequestContact"},
  {"mesh-envelope-id", "MDAA-FAKE"},
  {"Mesh-Message-Id", "fake-1"},
  {"Date", "Mon, 2 Mar 2026 10:00:00 +0000"},
  {"Message-ID", "<fs-1@elsewhere.example>"},
}
local body = "I am a known contact, honest.\r\n"
send_headers_and_body(conn, headers, body)
must(mt.eom(conn), "mt.eom")
local r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "EOM: expected CONTINUE/ACCEPT, got " ..
     reply_name(r))
for i = 1, 3 do
  note(mt.eom_check(conn, MT_HDRDELETE, "Mesh-Security-Signal", i),
       "forged copy " .. i .. " of 3 not deleted (MT_HDRDELETE Mesh-Security-Signal " .. i .. ")")
end
note(not mt.eom_check(conn, MT_HDRDELETE, "Mesh-Security-Signal", 4),
     "a 4th copy deleted, but only 3 were sent")
-- The headers only the gateway's Mesh -> SMTP bridge writes are forgeries on SMTP mail too.
for _, name in ipairs({"Mesh-Message-Type", "Mesh-Envelope-Id", "Mesh-Message-Id"}) do
  note(mt.eom_check(conn, MT_HDRDELETE, name, 1), "forged " .. name .. " not deleted")
end
note(mt.eom_check(conn, MT_HDRCHANGE, "Mesh-Security-Signal", ""),
     "deletion is not an SMFIR_CHGHEADER with an empty value")
local value = mt.getheader(conn, "Mesh-Security-Signal", 0)
if note(value ~= nil, "no signal of the gateway's own inserted") then
  note(mt.eom_check(conn, MT_HDRINSERT, "Mesh-Security-Signal", value, 0),
       "the gateway's signal is not at index 0")
  note(contains(value, "contact=first-contact;"),
       "the stranger's message must say first-contact whatever the forgery claimed: " .. value)
  note(not contains(value, "MAAA-FAKE"), "the forged value leaked into the new signal")
  -- The message as it will be delivered: forged copies gone, the new signal on top.
  local delivered = {{"Mesh-Security-Signal", value}}
  for _, h in ipairs(headers) do
    local lower = string.lower(h[1])
    if lower ~= "mesh-security-signal" and lower ~= "mesh-message-type" and
       lower ~= "mesh-envelope-id" and lower ~= "mesh-message-id" then
      delivered[#delivered + 1] = h
    end
  end
  write_eml(out .. "/delivered.eml", delivered, body)
end
mt.disconnect(conn)
finish("forged_signal")
