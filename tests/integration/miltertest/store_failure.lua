-- store_failure.lua - what the milter answers when the store cannot be used (issue 5 item 7).
-- Run by the harness in phases (-D stage=mail|rcpt -D expect=continue|tempfail):
--   before the failure: continue;  during it: a custom tempfail reply;  after it: continue.
-- A custom TEMPFAIL reply arrives as SMFIR_REPLYCODE (libmilter sends it only if the code is
-- 4xx; see common.lua); its text (451 4.3.0) is checked through Postfix and meshgate's log.
-- -D deadline=SECONDS bounds how long the failing callback may take (decision_timeout).
dofile(lib .. "/common.lua")

local conn = open_session(client_ip)
local started = os.time()
must(mt.mailfrom(conn, "<friend@partner.example>"), "mt.mailfrom")
local want = (expect == "tempfail") and SMFIR_REPLYCODE or SMFIR_CONTINUE
local what = (expect == "tempfail") and "a custom tempfail reply (SMFIR_REPLYCODE)" or "CONTINUE"
if stage == "mail" then
  expect_reply(conn, want, "MAIL FROM, expecting " .. what)
else
  expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM")
  must(mt.rcptto(conn, "<bob@example.com>"), "mt.rcptto(bob)")
  expect_reply(conn, want, "RCPT bob, expecting " .. what)
end
local took = os.time() - started
if deadline ~= nil then
  note(took <= tonumber(deadline), "the answer took " .. took .. " s, more than " .. deadline ..
       " s")
end
mt.disconnect(conn)
finish("store_failure (" .. stage .. ", " .. expect .. ")")
