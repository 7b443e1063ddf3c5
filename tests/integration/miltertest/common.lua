-- common.lua - helpers for the miltertest scripts (loaded with dofile(lib .. "/common.lua")).
--
-- Every script is run by tests/integration/milter_tests.py against the REAL meshgate binary
-- (`meshgate milter --config ...` started by the harness), with:
--   -D socket=unix:/path/milter.sock   the milter's socket
--   -D lib=<this folder>               where common.lua lives
--   -D out=<folder>                    where a script may write files for the harness to check
-- and sometimes -D expect=... for scripts run in several phases. A script fails by raising a
-- Lua error (miltertest then exits non-zero) after listing every problem it found.
--
-- Facts about miltertest 1.3.0 (Debian's miltertest 2.11) these helpers rely on:
--   mt.getreply() returns the reply command as a number; compare it with SMFIR_* constants.
--   A milter that calls smfi_setreply() and returns REJECT/TEMPFAIL at MAIL or RCPT answers
--   SMFIR_REPLYCODE ('y'), not SMFIR_REJECT/SMFIR_TEMPFAIL: libmilter sends the custom reply
--   only when its first digit matches the status (5 with REJECT, 4 with TEMPFAIL) and falls
--   back to the bare status otherwise. miltertest keeps the reply TEXT only at end of message
--   (MT_SMTPREPLY); at MAIL/RCPT only the command is visible, so the harness checks the text
--   through a real Postfix (postfix_tests.py) and meshgate's log.
--   mt.getheader(conn, name, n) counts from 0 and sees inserted headers too.
--   smfi_chgheader(ctx, name, idx, NULL) travels as SMFIR_CHGHEADER with an empty value:
--   MT_HDRDELETE(name, idx) matches it (and so does MT_HDRCHANGE(name, "")).

problems = {}

function note(ok, message)
  if not ok then
    problems[#problems + 1] = message
    mt.echo("PROBLEM: " .. message)
  end
  return ok
end

-- miltertest does not print the message of a Lua error: echo it first.
function fail(message)
  mt.echo("FAILED: " .. message)
  error(message, 2)
end

function finish(name)
  if #problems > 0 then
    fail(name .. ": " .. #problems .. " problem(s)")
  end
  mt.echo(name .. ": OK")
end

local reply_names = {}
for _, n in ipairs({"SMFIR_CONTINUE", "SMFIR_ACCEPT", "SMFIR_REJECT", "SMFIR_TEMPFAIL",
                    "SMFIR_DISCARD", "SMFIR_REPLYCODE", "SMFIR_ADDHEADER", "SMFIR_INSHEADER",
                    "SMFIR_CHGHEADER", "SMFIR_QUARANTINE", "SMFIR_SKIP"}) do
  if _G[n] ~= nil then reply_names[_G[n]] = n end
end

function reply_name(r)
  if r == nil then return "nil" end
  return reply_names[r] or string.format("'%s' (%d)", string.char(math.floor(r)), math.floor(r))
end

function expect_reply(conn, expected, what)
  local r = mt.getreply(conn)
  return note(r == expected, what .. ": expected " .. reply_name(expected) .. ", got " ..
              reply_name(r))
end

-- Must succeed, or the rest of the script makes no sense.
function must(result, what)
  if result ~= nil then fail(what .. " failed: " .. tostring(result)) end
end

-- daemon_name: the {daemon_name} macro ("smtpd" = port 25; "ORIGINATING" = the submission
-- service of conf/postfix/master.cf.snippet, i.e. outbound mail).
-- steps: the protocol steps the MTA offers (nil: everything miltertest knows, as Postfix does).
function open_session(client_ip, daemon_name, steps)
  local conn = mt.connect(socket, 40, 0.25)
  if conn == nil then fail("cannot connect to the milter at " .. socket) end
  mt.set_timeout(tonumber(read_timeout or "10"))
  -- (miltertest uses its defaults for all three unless all three are given: protocol version
  -- 6, every action (SMFI_V6_ACTS, 0x1FF), and the steps.)
  if steps ~= nil then must(mt.negotiate(conn, 6, 0x1FF, steps), "mt.negotiate") end
  mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.com", "{daemon_name}", daemon_name or "smtpd")
  must(mt.conninfo(conn, "client.example.net", client_ip or "192.0.2.10"), "mt.conninfo")
  expect_reply(conn, SMFIR_CONTINUE, "connect")
  -- meshgate skips HELO when the MTA offers that (no decision reads the HELO name);
  -- miltertest's mt.helo fails on a skipped step.
  if not mt.test_option(conn, SMFIP_NOHELO) then
    must(mt.helo(conn, "client.example.net"), "mt.helo")
  end
  return conn
end

-- Standard headers of a test message, in order, as {name, value} pairs.
function standard_headers(from, to, subject, message_id)
  return {
    {"Received", "from client.example.net (client.example.net [192.0.2.10])\n\tby mx.example.com (Postfix) with ESMTP id 4ABCDEF; Mon, 2 Mar 2026 10:00:00 +0000"},
    {"From", "<" .. from .. ">"},
    {"To", "<" .. to .. ">"},
    {"Subject", subject},
    {"Date", "Mon, 2 Mar 2026 10:00:00 +0000"},
    {"Message-ID", message_id},
  }
end

function send_headers_and_body(conn, headers, body)
  for _, h in ipairs(headers) do
    must(mt.header(conn, h[1], h[2]), "mt.header(" .. h[1] .. ")")
  end
  must(mt.eoh(conn), "mt.eoh")
  must(mt.bodystring(conn, body), "mt.bodystring")
end

-- Writes an .eml (CRLF) with the given headers and body, for `meshgate signal verify`.
function write_eml(path, headers, body)
  local f = assert(io.open(path, "wb"))
  for _, h in ipairs(headers) do
    f:write(h[1] .. ": " .. string.gsub(h[2], "\n", "\r\n") .. "\r\n")
  end
  f:write("\r\n" .. body)
  f:close()
end

function contains(haystack, needle)
  return haystack ~= nil and string.find(haystack, needle, 1, true) ~= nil
end
