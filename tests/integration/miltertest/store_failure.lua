-- store_failure.lua - what the milter answers when the store cannot be used (issue 5 item 7).
-- Run by the harness in phases (-D stage=mail|rcpt -D expect=continue|tempfail; the stage only
-- names where the failure happens: the answer comes at RCPT TO, see below):
--   before the failure: continue;  during it: a custom tempfail reply;  after it: continue.
-- A custom TEMPFAIL reply arrives as SMFIR_REPLYCODE (libmilter sends it only if the code is
-- 4xx; see common.lua); its text (451 4.3.0) is checked through Postfix and meshgate's log.
-- -D deadline=SECONDS bounds how long the failing callback may take (decision_timeout).
dofile(lib .. "/common.lua")

-- -D nr_mail=no plays an MTA that cannot skip the answer to MAIL FROM (no SMFIP_NR_MAIL offered).
local steps = nil
if nr_mail == "no" then
  steps = SMFIP_NOHELO + SMFIP_NOUNKNOWN + SMFIP_NODATA + SMFIP_NR_CONN + SMFIP_NR_HDR +
          SMFIP_NR_EOH + SMFIP_NR_BODY
end
local conn = open_session(client_ip, nil, steps)
if steps ~= nil then
  note(not mt.test_option(conn, SMFIP_NR_MAIL), "SMFIP_NR_MAIL negotiated though not offered")
end
local started = os.time()
must(mt.mailfrom(conn, "<friend@partner.example>"), "mt.mailfrom")
local want = (expect == "tempfail") and SMFIR_REPLYCODE or SMFIR_CONTINUE
local what = (expect == "tempfail") and "a custom tempfail reply (SMFIR_REPLYCODE)" or "CONTINUE"
-- stage=mail fails while MAIL FROM is decided (the sender's limits). meshgate does not answer
-- MAIL FROM (SMFIP_NR_MAIL); to an MTA that must have an answer, libmilter answers CONTINUE
-- itself. Either way the refusal comes at RCPT TO.
expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM")
must(mt.rcptto(conn, "<bob@example.com>"), "mt.rcptto(bob)")
expect_reply(conn, want, "RCPT bob after a failure at " .. stage .. ", expecting " .. what)
local took = os.time() - started
if deadline ~= nil then
  note(took <= tonumber(deadline), "the answer took " .. took .. " s, more than " .. deadline ..
       " s")
end
mt.disconnect(conn)
finish("store_failure (" .. stage .. ", " .. expect .. ")")
