-- per_recipient_reject.lua - ingress control decides per recipient at RCPT (issue 5 item 2).
--
-- alice@example.com is contacts-only with friend@partner.example in her catalog;
-- bob@example.com takes mail from anyone (tag-unknown). A stranger writing to both:
-- alice's RCPT is rejected (SMFIR_REPLYCODE = the custom 550 5.7.1 reply, see common.lua),
-- bob's continues, and the message goes on for bob with a first-contact signal. Then the
-- known contact writes to alice on the same connection and is accepted (known-contact).
dofile(lib .. "/common.lua")

local conn = open_session()

-- 1. stranger -> alice (refused) + bob (accepted)
must(mt.mailfrom(conn, "<stranger@elsewhere.example>"), "mt.mailfrom")
expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM stranger")
must(mt.rcptto(conn, "<alice@example.com>"), "mt.rcptto(alice)")
expect_reply(conn, SMFIR_REPLYCODE, "RCPT alice (contacts-only, stranger): custom 5xx reject")
must(mt.rcptto(conn, "<bob@example.com>"), "mt.rcptto(bob)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT bob (tag-unknown) after alice was refused")
send_headers_and_body(conn, standard_headers("stranger@elsewhere.example", "bob@example.com",
                                             "hello", "<prr-1@elsewhere.example>"),
                      "Hello Bob.\r\n")
must(mt.eom(conn), "mt.eom")
local r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT,
     "EOM for bob: expected CONTINUE/ACCEPT, got " .. reply_name(r))
note(not mt.eom_check(conn, MT_QUARANTINE), "message for bob was quarantined")
local signal = mt.getheader(conn, "Mesh-Security-Signal", 0)
note(contains(signal, "contact=first-contact;"),
     "signal for bob should say contact=first-contact, got: " .. tostring(signal))

-- 2. friend -> alice: known contact, accepted
must(mt.mailfrom(conn, "<friend@partner.example>"), "mt.mailfrom")
expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM friend")
must(mt.rcptto(conn, "<alice@example.com>"), "mt.rcptto(alice)")
expect_reply(conn, SMFIR_CONTINUE, "RCPT alice from her known contact")
send_headers_and_body(conn, standard_headers("friend@partner.example", "alice@example.com",
                                             "hi alice", "<prr-2@partner.example>"),
                      "Hello Alice.\r\n")
must(mt.eom(conn), "mt.eom")
r = mt.getreply(conn)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT,
     "EOM for alice: expected CONTINUE/ACCEPT, got " .. reply_name(r))
signal = mt.getheader(conn, "Mesh-Security-Signal", 0)
note(contains(signal, "contact=known-contact;"),
     "signal for alice should say contact=known-contact, got: " .. tostring(signal))

mt.disconnect(conn)
finish("per_recipient_reject")
