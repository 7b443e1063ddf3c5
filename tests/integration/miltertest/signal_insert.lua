-- signal_insert.lua - the security signal is INSERTED at index 0 (smfi_insheader, above
-- Postfix's Received:), never appended, and it verifies over the headers the milter saw
-- (issue 5 item 4). The harness verifies out/signed.eml with `meshgate signal verify --key`.
dofile(lib .. "/common.lua")

local conn = open_session()
must(mt.mailfrom(conn, "<friend@partner.example>"), "mt.mailfrom")
must(mt.rcptto(conn, "<bob@example.com>"), "mt.rcptto(bob)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT bob from his known contact")
local headers = standard_headers("friend@partner.example", "bob@example.com",
                                 "signed hello", "<si-1@partner.example>")
local body = "Hello Bob, this message should carry a signal.\r\n"
send_headers_and_body(conn, headers, body)
must(mt.eom(conn), "mt.eom")
local r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "EOM: expected CONTINUE/ACCEPT, got " ..
     reply_name(r))

local value = mt.getheader(conn, "Mesh-Security-Signal", 0)
if note(value ~= nil, "no Mesh-Security-Signal inserted") then
  note(mt.eom_check(conn, MT_HDRINSERT, "Mesh-Security-Signal", value, 0),
       "the signal is not inserted at index 0")
  note(not mt.eom_check(conn, MT_HDRADD, "Mesh-Security-Signal"),
       "the signal was appended (smfi_addheader) instead of inserted at the top")
  note(mt.getheader(conn, "Mesh-Security-Signal", 1) == nil, "more than one signal inserted")
  note(contains(value, "contact=known-contact;"), "signal should say known-contact: " .. value)
  note(contains(value, "gw=mx.example.com;"), "signal should name gw=mx.example.com: " .. value)
  note(not mt.eom_check(conn, MT_HDRDELETE), "a header was deleted from a message without forgery")
  local delivered = {{"Mesh-Security-Signal", value}}
  for _, h in ipairs(headers) do delivered[#delivered + 1] = h end
  write_eml(out .. "/signed.eml", delivered, body)
  -- The same signal on a message whose Subject changed afterwards must not verify.
  local altered = {{"Mesh-Security-Signal", value}}
  for _, h in ipairs(headers) do
    if h[1] == "Subject" then altered[#altered + 1] = {"Subject", "signed hello (altered)"}
    else altered[#altered + 1] = h end
  end
  write_eml(out .. "/altered.eml", altered, body)
end
mt.disconnect(conn)
finish("signal_insert")
