-- negotiation.lua - meshgate negotiates only the milter actions it uses (issue 5 item 1).
--
-- meshgate's end-of-message actions are smfi_insheader (SMFIF_ADDHDRS), smfi_chgheader to
-- delete forged signals and tag the Subject (SMFIF_CHGHDRS) and smfi_quarantine
-- (SMFIF_QUARANTINE); it calls smfi_setsymlist (SMFIF_SETSYMLIST). It deletes recipients
-- (SMFIF_DELRCPT) only to send their copies over the Mesh, so it asks for that right only when
-- smtp_to_mesh is enabled (not in this configuration; the bridge tests use it through Postfix).
-- It never adds recipients, replaces the body or changes the envelope sender, so it must not ask for
-- those rights: an MTA grants every right asked for, and a milter holding rights it does not
-- use is a wider attack surface (and some MTAs refuse such filters). It also skips the steps
-- it does not need (unknown commands, DATA, HELO) and asks for no answer where it decides nothing.
dofile(lib .. "/common.lua")

local conn = mt.connect(socket, 40, 0.25)
if conn == nil then fail("cannot connect to the milter at " .. socket) end
-- mt.test_action/test_option negotiate implicitly with everything libmilter offers.
local used = {SMFIF_ADDHDRS = "smfi_insheader (the signal)",
              SMFIF_CHGHDRS = "smfi_chgheader (forged signals, Subject tag)",
              SMFIF_QUARANTINE = "smfi_quarantine (quarantine-unknown)",
              SMFIF_SETSYMLIST = "smfi_setsymlist (macros)"}
local unused = {"SMFIF_ADDRCPT", "SMFIF_DELRCPT", "SMFIF_CHGBODY", "SMFIF_CHGFROM",
                "SMFIF_ADDRCPT_PAR"}
for name, why in pairs(used) do
  note(mt.test_action(conn, _G[name]), "action " .. name .. " not requested, but meshgate uses " ..
       why)
end
for _, name in ipairs(unused) do
  if _G[name] ~= nil then
    note(not mt.test_action(conn, _G[name]),
         "action " .. name .. " requested, but meshgate never uses it")
  end
end
note(mt.test_option(conn, SMFIP_NOUNKNOWN), "step SMFIP_NOUNKNOWN not requested")
note(mt.test_option(conn, SMFIP_NODATA), "step SMFIP_NODATA not requested")
note(mt.test_option(conn, SMFIP_NOHELO), "step SMFIP_NOHELO not requested (no decision reads it)")
-- Steps collected and decided on later need no answer: one round trip less each. MAIL FROM is
-- decided on, but a refusal of it is given at RCPT TO (as Postfix's smtpd_delay_reject does):
-- per message, the MTA then waits for the milter only at RCPT TO and end of message.
for _, name in ipairs({"SMFIP_NR_CONN", "SMFIP_NR_MAIL", "SMFIP_NR_HDR", "SMFIP_NR_EOH",
                       "SMFIP_NR_BODY"}) do
  note(mt.test_option(conn, _G[name]), "no-reply option " .. name .. " not requested")
end
-- RCPT TO is decided on, per recipient: its answer must be awaited.
note(not mt.test_option(conn, SMFIP_NR_RCPT), "option SMFIP_NR_RCPT requested, but meshgate " ..
     "rejects at that step")
-- meshgate needs these steps: it must not skip them.
for _, name in ipairs({"SMFIP_NOCONNECT", "SMFIP_NOMAIL", "SMFIP_NORCPT", "SMFIP_NOHDRS",
                       "SMFIP_NOBODY"}) do
  note(not mt.test_option(conn, _G[name]), "step " .. name .. " requested, but meshgate needs it")
end
mt.disconnect(conn)
finish("negotiation")
