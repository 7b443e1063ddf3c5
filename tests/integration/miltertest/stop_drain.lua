-- stop_drain.lua - meshgate is told to stop (SIGTERM to -D pid=...) while a message is under
-- way on one connection: that message is still finished (decided and signed), and a new
-- message on another connection is tempfailed meanwhile (451 4.3.2 at RCPT TO; the MTA retries
-- it).
-- libmilter's smfi_stop() waits for no session (and Debian's, with its worker pool, serves
-- none after it), so without the drain the message under way never got its answer.
dofile(lib .. "/common.lua")

local busy = open_session()
local other = open_session("192.0.2.11")

must(mt.mailfrom(busy, "<friend@partner.example>"), "mt.mailfrom")
must(mt.rcptto(busy, "<bob@example.com>"), "mt.rcptto(bob)")
expect_reply(busy, SMFIR_CONTINUE, "RCPT bob from his known contact")

-- Stop meshgate mid-message, then give it time to start draining.
local killed = os.execute("kill -TERM " .. pid)
if not killed then fail("kill -TERM " .. pid .. " failed") end
mt.sleep(1.5)

-- A new message while stopping: tempfailed with meshgate's reply, at RCPT TO (no answer to
-- MAIL FROM is awaited: SMFIP_NR_MAIL).
must(mt.mailfrom(other, "<friend@partner.example>"), "mt.mailfrom (new message)")
expect_reply(other, SMFIR_CONTINUE, "MAIL FROM while meshgate stops (no answer awaited)")
must(mt.rcptto(other, "<bob@example.com>"), "mt.rcptto(bob) (new message)")
expect_reply(other, SMFIR_REPLYCODE, "RCPT of a message begun while meshgate stops (451 4.3.2)")

-- The message under way is finished as if nothing happened.
send_headers_and_body(busy, standard_headers("friend@partner.example", "bob@example.com",
                                             "sent while meshgate stops", "<d-1@partner.example>"),
                      "Hello Bob.\r\n")
must(mt.eom(busy), "mt.eom")
local r = mt.getreply(busy)
note(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT,
     "EOM of the message under way: expected CONTINUE/ACCEPT, got " .. reply_name(r))
local signal = mt.getheader(busy, "Mesh-Security-Signal", 0)
note(contains(signal, "contact=known-contact;"),
     "the message under way should still be signed known-contact, got: " .. tostring(signal))

mt.disconnect(busy)
mt.disconnect(other)
finish("stop_drain")
