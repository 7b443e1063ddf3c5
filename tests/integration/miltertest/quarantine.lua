-- quarantine.lua - quarantine-unknown holds a stranger's message with smfi_quarantine
-- (MT_QUARANTINE; Postfix puts it in the hold queue) and signals contact=quarantined; the
-- same account's known contact is not held (issue 5 item 2).
dofile(lib .. "/common.lua")

local conn = open_session()

must(mt.mailfrom(conn, "<stranger@elsewhere.example>"), "mt.mailfrom")
must(mt.rcptto(conn, "<carol@example.com>"), "mt.rcptto(carol)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT carol (quarantine-unknown): accepted at RCPT")
send_headers_and_body(conn, standard_headers("stranger@elsewhere.example", "carol@example.com",
                                             "hello carol", "<q-1@elsewhere.example>"),
                      "Hello Carol.\r\n")
must(mt.eom(conn), "mt.eom")
local r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT,
     "EOM: a held message is accepted (CONTINUE/ACCEPT), got " .. reply_name(r))
note(mt.eom_check(conn, MT_QUARANTINE), "no smfi_quarantine for a stranger's message to carol")
note(mt.eom_check(conn, MT_QUARANTINE, expected_reason),
     "quarantine reason is not \"" .. expected_reason .. "\"")
local signal = mt.getheader(conn, "Mesh-Security-Signal", 0)
note(contains(signal, "contact=quarantined;"),
     "signal should say contact=quarantined, got: " .. tostring(signal))

must(mt.mailfrom(conn, "<friend@partner.example>"), "mt.mailfrom")
must(mt.rcptto(conn, "<carol@example.com>"), "mt.rcptto(carol)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT carol from her known contact")
send_headers_and_body(conn, standard_headers("friend@partner.example", "carol@example.com",
                                             "hi carol", "<q-2@partner.example>"),
                      "Hello Carol.\r\n")
must(mt.eom(conn), "mt.eom")
note(not mt.eom_check(conn, MT_QUARANTINE), "a known contact's message was quarantined")
signal = mt.getheader(conn, "Mesh-Security-Signal", 0)
note(contains(signal, "contact=known-contact;"),
     "signal should say contact=known-contact, got: " .. tostring(signal))

mt.disconnect(conn)
finish("quarantine")
