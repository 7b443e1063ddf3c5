#!/usr/bin/env python3
# NAME
#   postfix_tests.py - end-to-end tests: an SMTP client -> a private Postfix on loopback with
#   the real meshgate as its milter (and policy service) -> smtp-sink, which dumps what Postfix
#   delivers.
#
# SYNOPSIS
#   postfix_tests.py NAME --meshgate build/h-int/cli/meshgate
#   (ctest runs each NAME as integration.postfix.NAME; see tests.cmake)
#
# DESCRIPTION
#   Each test builds its own Postfix instance (postfix -c DIR: own main.cf/master.cf, queue,
#   data folder, maillog, smtpd on a free 127.0.0.1 port, every domain relayed to an smtp-sink
#   on another free port, smtpd_milters = unix:<meshgate's socket>, milter_default_action =
#   tempfail, no chroot) next to `meshgate milter` (or `meshgate run` with the policy service),
#   and checks what the SMTP client was told, what reached the sink (one file per delivered
#   transaction, counted by Message-Id), what sits in the queue (postqueue -c DIR -j) and what
#   the logs say. The accounts are those of milter_tests.py:
#     alice@example.com  contacts-only        contacts: friend@partner.example
#     bob@example.com    (default tag-unknown) contacts: friend@partner.example
#     carol@example.com  quarantine-unknown   contacts: friend@partner.example
import os
import random
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import (Process, RetryingSender, Skipped, check, free_port, log,  # noqa: E402
                       make_message, run, run_tests, smtp_send, wait_port)
from milter_tests import (FRIEND, LOCKER, install_notice_sendmail, log_lines,  # noqa: E402
                          notices, outbound_config, setup_accounts, verify_brand)

STRANGER = "stranger@elsewhere.example"
SIGNAL = "Mesh-Security-Signal"


def gateway(h, command="milter", postfix_extra=None, policyd=False, mg=None, **config):
    mg = mg or h.meshgate()
    mg.write_config(policyd=policyd, **config)
    setup_accounts(mg)
    mg.start(command)
    sink = h.smtp_sink()
    extra = dict(postfix_extra or {})
    if policyd:
        extra["smtpd_recipient_restrictions"] = (
            "reject_unauth_destination, check_policy_service inet:127.0.0.1:%d" %
            mg.policyd_port)
    pf = h.postfix(sink, milter=mg, extra=extra)
    return mg, sink, pf


def settle(h, pf, sink, expected, what):
    """Waits until Postfix's active/deferred queues are empty and the sink holds `expected`
    files, then a moment more, so that a duplicate delivery would show up too."""
    check(pf.wait_queue_empty(h.scaled(60)), "%s: Postfix's queue did not drain:\n%s" %
          (what, pf.queue()))
    check(sink.wait_count(expected, h.scaled(30)),
          "%s: %d message(s) at the sink, expected %d; maillog:\n%s" %
          (what, len(sink.files()), expected, pf.maillog()[-3000:]))
    time.sleep(1.0)
    got = sink.messages()
    check(len(got) == expected, "%s: %d message(s) at the sink, expected %d" %
          (what, len(got), expected))
    return got


def by_message_id(messages, mid):
    return [m for m in messages if m.message_id() == mid]


def check_signal(h, mg, sink_msg, contact):
    """The delivered message carries exactly one signal, as its first header (above Postfix's
    Received), which `meshgate signal verify --key` verifies with the expected contact."""
    names = sink_msg.header_names()
    signals = [n for n in names if n.lower() == SIGNAL.lower()]
    check(len(signals) == 1, "%s: %d %s headers, expected 1: %s" %
          (sink_msg.path, len(signals), SIGNAL, names))
    check(names[0] == SIGNAL, "%s: the signal is not the first header (index 0): %s" %
          (sink_msg.path, names[:4]))
    check(names[1] == "Received" and "(Postfix)" in sink_msg.headers("Received")[0],
          "%s: the header after the signal should be Postfix's Received: %s" %
          (sink_msg.path, names[:4]))
    path = sink_msg.write_message(h.path(os.path.basename(sink_msg.path) + ".eml"))
    rc, out = mg.verify_signal(path)
    log("meshgate signal verify %s -> exit %d: %s" %
        (os.path.basename(path), rc, " | ".join(out.strip().splitlines())))
    check(rc == 0 and "result:   verified" in out,
          "%s: the signal does not verify (exit %d):\n%s" % (path, rc, out))
    check("contact:  %s\n" % contact in out, "%s: signal should say contact=%s:\n%s" %
          (path, contact, out))


def send_ok(pf, sender, recipients, msg, what):
    r = smtp_send(pf.port, sender, recipients, msg)
    log("%s: %r" % (what, r))
    check(r.accepted, "%s: not accepted: %r" % (what, r))
    return r


# ---------------------------------------------------------------------------------------------


def test_known_contact_signal(h):
    """(a) A known contact's message is delivered once, with a signal at the top that verifies
    and says contact=known-contact."""
    mg, sink, pf = gateway(h)
    msg, mid = make_message(FRIEND, ["bob@example.com"], subject="from a friend")
    send_ok(pf, FRIEND, ["bob@example.com"], msg, "friend -> bob")
    got = settle(h, pf, sink, 1, "friend -> bob")
    check(len(by_message_id(got, mid)) == 1, "the message was not delivered exactly once")
    check(got[0].recipients == ["bob@example.com"], "wrong recipients: %s" % got[0].recipients)
    check_signal(h, mg, got[0], "known-contact")
    mg.stop()


def test_contacts_only_reject(h):
    """(b) A stranger writing to a contacts-only account is refused at RCPT with 550 5.7.1 and
    the text that tells how to request contact; nothing is queued or delivered. Another
    recipient of the same message is unaffected and gets it once."""
    mg, sink, pf = gateway(h)
    msg, mid = make_message(STRANGER, ["alice@example.com"], subject="let me in")
    r = smtp_send(pf.port, STRANGER, ["alice@example.com"], msg)
    log("stranger -> alice: %r" % r)
    code, text = r.rcpt["alice@example.com"]
    check(code == 550, "RCPT alice: expected 550, got %r" % (r.rcpt["alice@example.com"],))
    for part in ("5.7.1", "<alice@example.com> accepts mail only from its contacts",
                 "Mesh contact request", "https://mmm.example.com/"):
        check(part in text, "RCPT alice: %r not in the reply %r" % (part, text))
    check(r.data is None, "DATA was accepted although no recipient was: %r" % r)
    check(pf.wait_maillog(r"milter-reject: RCPT from .*: 550 5\.7\.1 .*to=<alice@example\.com>"),
          "no milter-reject of alice's RCPT in Postfix's maillog")

    msg2, mid2 = make_message(STRANGER, ["alice@example.com", "bob@example.com"],
                              subject="to both")
    r2 = smtp_send(pf.port, STRANGER, ["alice@example.com", "bob@example.com"], msg2)
    log("stranger -> alice + bob: %r" % r2)
    check(r2.rcpt["alice@example.com"][0] == 550, "alice not refused: %r" % r2)
    check(r2.rcpt["bob@example.com"][0] == 250, "bob refused: %r" % r2)
    check(r2.accepted, "the message for bob was not accepted: %r" % r2)
    got = settle(h, pf, sink, 1, "stranger -> alice + bob")
    check(not by_message_id(got, mid), "the refused message reached the sink")
    check(len(by_message_id(got, mid2)) == 1, "the message for bob was not delivered once")
    check(got[0].recipients == ["bob@example.com"],
          "delivered to %s, expected bob only" % got[0].recipients)
    check_signal(h, mg, got[0], "first-contact")
    mg.stop()


def test_forged_signal(h):
    """(c) A message carrying forged Mesh-Security-Signal headers (different spellings, at the
    top, in the middle and at the end) arrives with only the gateway's copy, which verifies.
    Deleting them in the wrong order (first copy first) would leave one behind."""
    mg, sink, pf = gateway(h)
    forged = "v=1; gw=mx.example.com; kid=MAAA-FAKE; t=1; contact=known-contact; s=AAAA"
    extra = [("X-Before", "1"), ("mesh-security-signal", forged), ("X-Middle", "2"),
             ("MESH-SECURITY-SIGNAL", forged), ("X-After", "3"), (SIGNAL, forged)]
    msg, mid = make_message(STRANGER, ["bob@example.com"], subject="trust me",
                            extra_headers=extra)
    msg = ("%s: %s\r\n" % (SIGNAL, forged)).encode() + msg  # and one above From:
    send_ok(pf, STRANGER, ["bob@example.com"], msg, "forged -> bob")
    got = settle(h, pf, sink, 1, "forged -> bob")
    m = got[0]
    check(m.message_id() == mid, "unexpected message at the sink")
    check(not any("MAAA-FAKE" in v for v in m.headers(SIGNAL)), "a forged copy was delivered:\n"
          + m.message.decode(errors="replace")[:3000])
    for name in ("X-Before", "X-Middle", "X-After", "Subject", "From", "To"):
        check(len(m.headers(name)) == 1, "header %s lost or duplicated" % name)
    check_signal(h, mg, m, "first-contact")
    mg.stop()


def wait_held(h, pf, qid):
    """Postfix's queue entry for qid once it is in the hold queue."""
    deadline = time.monotonic() + h.scaled(20)
    held = []
    while time.monotonic() < deadline:
        held = [m for m in pf.queue() if m.get("queue_id") == qid]
        if held and held[0].get("queue_name") == "hold":
            break
        time.sleep(0.2)
    check(held and held[0].get("queue_name") == "hold",
          "message %s not in the hold queue: %s" % (qid, pf.queue()))
    return held


def test_quarantine_hold(h):
    """(d) quarantine-unknown: a stranger's message to carol is accepted (250) and lands in
    Postfix's hold queue, not at the sink; released by the administrator with `meshgate
    quarantine release` (which checks with the real postcat that the id still names the held
    message, then runs postsuper -H), it is delivered once with a signal saying
    contact=quarantined. A second one, deleted with `meshgate quarantine delete`, leaves the
    queue and is never delivered."""
    mg, sink, pf = gateway(h)
    # The administrator's commands work on this test's Postfix instance.
    mg.write_config(extra="quarantine:\n  postfix_config_dir: %s\n" % pf.config_dir)
    msg, mid = make_message(STRANGER, ["carol@example.com"], subject="for carol")
    r = send_ok(pf, STRANGER, ["carol@example.com"], msg, "stranger -> carol")
    qid = re.search(r"queued as (\w+)", r.data[1]).group(1)
    held = wait_held(h, pf, qid)
    log("postqueue -j: %s" % held[0])
    mailq = run(["mailq", "-C", pf.config_dir], check_rc=False)
    log("mailq -C DIR:\n%s" % mailq.stdout.strip())
    check(re.search(r"\b%s!" % qid, mailq.stdout), "mailq does not mark %s as held (!)" % qid)
    # (Postfix 3.7 logs the fixed text "milter triggers HOLD action", not the milter's reason;
    # the reason is checked by miltertest/quarantine.lua.)
    check(pf.wait_maillog(r"%s: milter-hold: END-OF-MESSAGE from .*: milter triggers HOLD "
                          r"action; from=<stranger@elsewhere\.example> to=<carol@example\.com>"
                          % qid),
          "no milter-hold line for %s in the maillog" % qid)
    time.sleep(1.0)
    check(not sink.files(), "a held message reached the sink: %s" % sink.files())
    # A second one, to be deleted.
    msg2, mid2 = make_message(STRANGER, ["carol@example.com"], subject="to be deleted")
    r2 = send_ok(pf, STRANGER, ["carol@example.com"], msg2, "stranger -> carol, again")
    qid2 = re.search(r"queued as (\w+)", r2.data[1]).group(1)
    wait_held(h, pf, qid2)
    listed = mg.cli("quarantine", "list").stdout
    check(qid in listed and qid2 in listed, "quarantine list lacks %s or %s:\n%s" %
          (qid, qid2, listed))
    shown = mg.cli("quarantine", "show", qid).stdout
    check("Subject: for carol" in shown, "quarantine show did not print the message:\n" + shown)
    # Release the first, as an administrator would after review; delete the second.
    released = mg.cli("quarantine", "release", qid)
    check(released.stdout.strip() == qid + ": released", "release said %r" % released.stdout)
    deleted = mg.cli("quarantine", "delete", qid2)
    check(deleted.stdout.strip() == qid2 + ": deleted", "delete said %r" % deleted.stdout)
    check(not [m for m in pf.queue() if m.get("queue_id") == qid2],
          "the deleted message is still queued: %s" % pf.queue())
    # Done once, the id no longer names a held message: a second release changes nothing.
    again = mg.cli("quarantine", "release", qid, check_rc=False)
    check(again.returncode == 1 and "already released" in again.stderr,
          "a second release: %r" % again.stderr)
    pf.flush()
    got = settle(h, pf, sink, 1, "released")
    check(got[0].message_id() == mid, "unexpected message at the sink")
    check(not by_message_id(got, mid2), "the deleted message was delivered")
    check_signal(h, mg, got[0], "quarantined")
    mg.stop()


def test_store_locked_tempfail(h):
    """Store failure through Postfix: the SQLite store is locked beyond busy_timeout, so the
    abuse counter cannot be written at MAIL FROM (abuse.flush_interval 0: every count written
    at once): the client gets 451 4.3.0 at RCPT TO (a 4xx code with the tempfail status, never
    a 5xx), nothing is queued; once the lock is gone the same message is accepted and delivered
    once."""
    limits = [("per-client", "client_address", "1m", 100000, "tempfail")]
    mg, sink, pf = gateway(h, abuse_exempt_loopback=False, abuse_limits=limits,
                           busy_timeout="300ms", abuse_flush_interval="0s")
    msg, mid = make_message(FRIEND, ["bob@example.com"], subject="store trouble")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, mg.db_path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        check(locker.stdout.readline().strip() == "locked", "the locker could not lock the store")
        r = smtp_send(pf.port, FRIEND, ["bob@example.com"], msg)
        log("store locked: %r" % r)
    finally:
        locker.stdin.close()
        locker.wait(timeout=10)
    # Postfix waits for no answer to MAIL FROM (meshgate asks for SMFIP_NR_MAIL): the refusal
    # decided there is given to the recipient, and no recipient means nothing is queued.
    check(r.mail is not None and r.mail[0] == 250, "MAIL FROM: expected 250, got %r" % r)
    rcpt = r.rcpt.get("bob@example.com")
    check(rcpt is not None and rcpt[0] == 451, "RCPT bob: expected 451, got %r" % r)
    check(rcpt[1].startswith("4.3.0 meshgate: temporary failure"),
          "RCPT bob: expected the 4.3.0 tempfail text, got %r" % (rcpt,))
    check(r.data is None, "DATA went ahead with no recipient: %r" % r)
    lines = log_lines(mg, "milter: mail: cannot decide")
    check(lines and "action=tempfail" in lines[-1],
          "the failure was not at MAIL FROM: no 'mail: cannot decide' line:\n" + mg.log()[-3000:])
    check(not pf.queue(), "something was queued: %s" % pf.queue())
    send_ok(pf, FRIEND, ["bob@example.com"], msg, "store back")
    got = settle(h, pf, sink, 1, "after the lock")
    check(len(by_message_id(got, mid)) == 1, "not delivered exactly once")
    check_signal(h, mg, got[0], "known-contact")
    mg.stop()


def deliver_through_fault(h, mg, pf, sink, what, total, inject, restore, down=2.0,
                          deferral=None):
    """The no-loss harness for issue 9's faults: `total` messages from a client that retries
    4xx like a real MTA (10 sessions); once 30% were accepted, inject() the fault, keep it for
    `down` seconds, restore() it. Then every message that got a 250 must be at the sink exactly
    once with exactly one signal (nothing lost, nothing doubled, nothing let through
    unchecked), no client ever saw a 5xx, Postfix deferred while the fault lasted (a 4xx
    containing `deferral`), and the store passes `meshgate store check` and
    `meshgate audit verify`. Logs one FAULT line with the figures docs/reliability.md quotes."""
    sender = RetryingSender(pf.port, FRIEND, "bob@example.com", total, threads=10,
                            deadline=h.scaled(240)).start()
    t0 = time.monotonic()
    while sender.accepted_count() < int(total * 0.3):
        check(time.monotonic() - t0 < h.scaled(120), "%s: only %d accepted after %ds" %
              (what, sender.accepted_count(), h.scaled(120)))
        time.sleep(0.02)
    inject()
    # Counted once the fault is in place (a graceful stop may finish its sessions first).
    before = sender.accepted_count()
    injected = time.monotonic()
    log("%s: fault injected after %d messages accepted (%.1fs)" % (what, before, injected - t0))
    time.sleep(down)
    during = sender.accepted_count()
    restore()
    log("%s: restored after %.1fs; accepted meanwhile: %d" %
        (what, time.monotonic() - injected, during - before))
    check(sender.join(h.scaled(240)), "%s: the senders did not finish" % what)
    elapsed = time.monotonic() - t0
    log("%s: %d messages in %.1fs, %d SMTP attempts; deferrals: %s; errors: %s" %
        (what, total, elapsed, sender.attempts, sender.deferrals, sender.errors))
    check(not sender.rejections, "%s: 5xx replies: %s" % (what, sender.rejections[:5]))
    check(not sender.errors, "%s: client errors: %s" % (what, sender.errors))
    check(len(sender.accepted) == total, "%s: %d of %d messages accepted" %
          (what, len(sender.accepted), total))
    doubled = {k: v for k, v in sender.accepted.items() if v != 1}
    check(not doubled, "%s: messages answered 250 more than once: %s" % (what, list(doubled)[:5]))
    deferred = sum(n for k, n in sender.deferrals.items() if k.startswith("4"))
    if deferral is not None:
        check(any(deferral in k for k in sender.deferrals),
              "%s: no 4xx with %r while the fault lasted: %s" % (what, deferral,
                                                                 sender.deferrals))

    got = settle(h, pf, sink, total, what)
    counts = {}
    unsigned = []
    for m in got:
        mid = m.message_id()
        counts[mid] = counts.get(mid, 0) + 1
        if len(m.headers(SIGNAL)) != 1:
            unsigned.append(m.path)
    missing = [k for k in sender.accepted if k not in counts]
    twice = [k for k, n in counts.items() if n > 1]
    unknown = [k for k in counts if k not in sender.accepted]
    check(not missing, "%s: accepted but never delivered: %s" % (what, missing[:5]))
    check(not twice, "%s: delivered more than once: %s" % (what, twice[:5]))
    check(not unknown, "%s: delivered but never accepted: %s" % (what, unknown[:5]))
    check(not unsigned, "%s: delivered without exactly one signal: %s" % (what, unsigned[:5]))
    for m in random.sample(got, 3):
        check_signal(h, mg, m, "known-contact")
    store = mg.cli("store", "check", check_rc=False)
    check(store.returncode == 0 and "store OK" in store.stdout,
          "%s: meshgate store check failed:\n%s%s" % (what, store.stdout, store.stderr))
    audit = mg.cli("audit", "verify", check_rc=False)
    check(audit.returncode == 0 and "audit log OK" in audit.stdout,
          "%s: meshgate audit verify failed:\n%s%s" % (what, audit.stdout, audit.stderr))
    log("FAULT %s: sent %d, delivered %d, duplicated %d, lost %d, unsigned %d; %d SMTP "
        "attempts, %d deferred (4xx), %d accepted during the fault; %.1fs; %s; %s" %
        (what, total, len(counts), len(twice), len(missing), len(unsigned), sender.attempts,
         deferred, during - before, elapsed, store.stdout.strip(), audit.stdout.strip()))
    return sender, during - before


def test_kill_restart_no_loss(h):
    """(e) 1,000 messages from a client that retries 4xx like a real MTA; meshgate is
    SIGKILLed after ~300 were accepted and restarted 2 s later. While it is down Postfix must
    defer (milter_default_action = tempfail: '451 4.7.1 Service unavailable'), and in the end
    every message that got a 250 is at the sink exactly once, each with one signal."""
    total = int(os.environ.get("MESHGATE_IT_NOLOSS_MESSAGES", "1000"))
    mg, sink, pf = gateway(h)
    _, during = deliver_through_fault(h, mg, pf, sink, "milter killed", total, mg.kill,
                                      lambda: mg.start("milter"), deferral="451 4.7.1")
    check(during <= 10, "%d messages accepted while the milter was down" % during)
    mg.stop()


def test_policyd_stop_start_no_loss(h):
    """Issue 9: the policy server (`meshgate policyd`, Postfix's check_policy_service) is
    stopped under load and started again 2 s later, while `meshgate milter` keeps running in
    its own process. Postfix answers RCPT with its smtpd_policy_service_default_action
    (451 4.3.5) meanwhile; the client retries; nothing is lost or doubled."""
    total = int(os.environ.get("MESHGATE_IT_FAULT_MESSAGES", "300"))
    mg, sink, pf = gateway(h, policyd=True)
    policyd = []

    def start_policyd():
        p = Process(h, "policyd-%d" % (len(policyd) + 1),
                    [mg.binary, "policyd", "--config", mg.config_path, "--foreground"],
                    mg.log_path + ".policyd")
        policyd.append(p)
        wait_port(mg.policyd_port, h.scaled(30), "meshgate policyd", alive=p.alive)

    def stop_policyd():
        rc = policyd[-1].stop(timeout=h.scaled(15))
        check(rc == 0, "meshgate policyd exited with status %s after SIGTERM" % rc)

    start_policyd()
    _, during = deliver_through_fault(h, mg, pf, sink, "policy server stopped", total,
                                      stop_policyd, start_policyd, deferral="451 4.3.5")
    check(during <= 10, "%d messages accepted while the policy server was down" % during)
    stop_policyd()
    mg.stop()


def test_store_locked_under_load_no_loss(h):
    """Issue 9: the SQLite store is locked by another process for 3 s under load (beyond
    busy_timeout, so the milter cannot write its audit record): those messages tempfail at
    end of data ('451 4.3.0'), are retried, and are delivered once the lock is gone."""
    total = int(os.environ.get("MESHGATE_IT_FAULT_MESSAGES", "300"))
    mg, sink, pf = gateway(h, busy_timeout="300ms")
    locker = {}

    def lock():
        locker["p"] = subprocess.Popen([sys.executable, "-c", LOCKER, mg.db_path],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        check(locker["p"].stdout.readline().strip() == "locked",
              "the locker could not lock the store")

    def unlock():
        locker["p"].stdin.close()
        locker["p"].wait(timeout=10)

    deliver_through_fault(h, mg, pf, sink, "store locked", total, lock, unlock, down=3.0,
                          deferral="4.3.0")
    mg.stop()


def test_disk_full_no_loss(h):
    """Issue 9: meshgate's data folder (SQLite store, WAL, key) is a 16 MB tmpfs; under load
    it is filled to the last byte for 3 s, then freed. Writes that cannot be stored tempfail
    the message (never accept it unrecorded); afterwards the store passes integrity_check and
    the audit chain verifies."""
    if os.geteuid() != 0:
        raise Skipped("mounting a tmpfs needs root")
    total = int(os.environ.get("MESHGATE_IT_FAULT_MESSAGES", "300"))
    mg = h.meshgate()
    data = os.path.join(mg.dir, "var")
    os.makedirs(data, exist_ok=True)
    p = run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", data], check_rc=False)
    if p.returncode != 0:
        raise Skipped("cannot mount a tmpfs here: %s" % p.stderr.strip())
    h.on_teardown(lambda: run(["umount", "-l", data], check_rc=False), "unmount " + data)
    mg, sink, pf = gateway(h, mg=mg)
    filler = os.path.join(data, "filler")

    def fill():
        # dd stops at ENOSPC; its non-zero exit is the point.
        run(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"], check_rc=False, timeout=60)
        free = os.statvfs(data)
        log("tmpfs after filling: %d bytes free" % (free.f_bavail * free.f_frsize))

    def free_it():
        os.unlink(filler)

    deliver_through_fault(h, mg, pf, sink, "disk full", total, fill, free_it, down=3.0,
                          deferral="4.3.0")
    mg.stop()


def test_postgresql_restart_no_loss(h):
    """Issue 9: the store is PostgreSQL (several nodes share it); the server is stopped under
    load and started again after 2 s. Messages meanwhile tempfail (4.3.0), the pool reconnects
    on its own, nothing is lost or doubled, and the chain is whole afterwards."""
    total = int(os.environ.get("MESHGATE_IT_FAULT_MESSAGES", "300"))
    pg = h.pg_server()
    dsn = pg.start()
    mg, sink, pf = gateway(h, backend="postgresql", pg_dsn=dsn)
    deliver_through_fault(h, mg, pf, sink, "postgresql restarted", total, pg.stop, pg.start,
                          deferral="4.3.0")
    mg.stop()


def test_policyd_rcpt_reject(h):
    """(f) `meshgate run` as both check_policy_service (in smtpd_recipient_restrictions after
    reject_unauth_destination) and milter: the contacts-only stranger is refused at RCPT by the
    policy service, before the milter sees that recipient; a known contact passes both and is
    delivered with a verifying signal; a stranger to a tag-unknown account passes too."""
    mg, sink, pf = gateway(h, command="run", policyd=True)
    msg, mid = make_message(STRANGER, ["alice@example.com"], subject="policyd")
    r = smtp_send(pf.port, STRANGER, ["alice@example.com"], msg)
    log("stranger -> alice: %r" % r)
    code, text = r.rcpt["alice@example.com"]
    check(code == 550 and "5.7.1" in text and "accepts mail only from its contacts" in text,
          "RCPT alice: expected 550 5.7.1 with the contacts-only text, got %r" % ((code, text),))
    check(pf.wait_maillog(r"NOQUEUE: reject: RCPT from .*: 550 5\.7\.1 <alice@example\.com>: "
                          r"Recipient address rejected: .*accepts mail only from its contacts"),
          "no policy-service reject in the maillog:\n" + pf.maillog()[-3000:])
    maillog = pf.maillog()
    check("milter-reject" not in maillog, "the milter rejected, not the policy service")
    pd = [line for line in mg.log().splitlines()
          if "policyd:" in line and "to=<alice@example.com>" in line]
    check(pd and "action=reject" in pd[0] and "rule=ingress.contacts-only" in pd[0],
          "meshgate's policy service did not log the reject: %s" % pd)
    check(not [line for line in mg.log().splitlines()
               if "milter:" in line and "to=<alice@example.com>" in line
               and STRANGER in line],
          "the milter saw the recipient the policy service refused")

    ok, ok_mid = make_message(FRIEND, ["alice@example.com"], subject="friend via policyd")
    send_ok(pf, FRIEND, ["alice@example.com"], ok, "friend -> alice")
    tag, tag_mid = make_message(STRANGER, ["bob@example.com"], subject="stranger to bob")
    send_ok(pf, STRANGER, ["bob@example.com"], tag, "stranger -> bob")
    got = settle(h, pf, sink, 2, "policyd")
    check(not by_message_id(got, mid), "the refused message was delivered")
    check_signal(h, mg, by_message_id(got, ok_mid)[0], "known-contact")
    check_signal(h, mg, by_message_id(got, tag_mid)[0], "first-contact")
    mg.stop()


def outbound_gateway(h):
    """`meshgate run` (milter + policy service) with the egress rules and brand of
    milter_tests.outbound_config, behind a Postfix with two smtpd services, as in
    conf/postfix/: port 25 (inbound; check_policy_service after reject_unauth_destination) and a
    submission service marked outbound with -o milter_macro_daemon_name=ORIGINATING and
    check_policy_service { ..., policy_context=ORIGINATING }."""
    notice_dir = install_notice_sendmail(h)
    mg = h.meshgate()
    mg.write_config(policyd=True, extra=outbound_config(notice_dir))
    setup_accounts(mg)
    mg.start("run")
    sink = h.smtp_sink()
    policy = "inet:127.0.0.1:%d" % mg.policyd_port
    extra = {
        # rival.example is relayed as a backup MX would: inbound mail for it passes port 25.
        "relay_domains": "example.com, rival.example",
        "smtpd_recipient_restrictions":
            "reject_unauth_destination, check_policy_service %s" % policy,
        "submission_recipient_restrictions":
            "check_policy_service { %s, policy_context=ORIGINATING }" % policy,
    }
    pf = h.postfix(sink, milter=mg, extra=extra, start=False)
    submission_port = free_port()
    with open(os.path.join(pf.config_dir, "master.cf"), "a") as f:
        f.write("127.0.0.1:%d inet n - n - - smtpd\n"
                "  -o syslog_name=postfix/submission\n"
                "  -o smtpd_recipient_restrictions=$submission_recipient_restrictions\n"
                "  -o milter_macro_daemon_name=ORIGINATING\n" % submission_port)
    pf.start()
    wait_port(submission_port, h.scaled(20), "Postfix submission smtpd")
    return mg, sink, pf, submission_port, notice_dir


def brand_message(subject, message_id):
    lines = [
        "Mesh-Brand-Assertion: v=1; brand=Example%20Bank; org=Someone%20Else; "
        "addr=news@example.com; gw=x; kid=K; t=1; h=from; bh=x; s=y",
        "From: Example Bank <news@example.com>",
        "To: <customer@partner.example>",
        "Subject: %s" % subject,
        "Date: Mon, 2 Mar 2026 10:00:00 +0000",
        "Message-ID: %s" % message_id,
    ]
    return ("\r\n".join(lines) + "\r\n\r\nDear customer,\r\nour winter offers.\r\n").encode()


def test_outbound_egress_and_brand(h):
    """Issue 6 end to end, milter and policy service together. On the submission service
    (outbound): a recipient in an egress-blocked domain is refused at RCPT by the policy
    service; a message labelled [SECRET] to the outside is refused at end of DATA by the milter;
    mail From: a brand address is delivered with the gateway's Mesh-Brand-Assertion as its
    first header (the author's forged copy gone), which `meshgate brand verify` verifies, and
    its sender gets one notice through sendmail. The same blocked recipient on port 25
    (inbound) passes: direction, not the envelope, decides."""
    mg, sink, pf, sub, notice_dir = outbound_gateway(h)

    blocked, _ = make_message("alice@example.com", ["x@rival.example"], subject="hello rival")
    r = smtp_send(sub, "alice@example.com", ["x@rival.example"], blocked)
    log("submission alice -> rival: %r" % r)
    code, text = r.rcpt["x@rival.example"]
    check(code == 550 and "5.7.1" in text and "mail to <x@rival.example> is not allowed" in text,
          "RCPT x@rival.example on submission: expected 550 5.7.1 from the egress rule, got %r" %
          ((code, text),))
    check(pf.wait_maillog(r"NOQUEUE: reject: RCPT from .*: 550 5\.7\.1 <x@rival\.example>: "
                          r"Recipient address rejected: mail to <x@rival\.example> is not allowed"),
          "no policy-service reject in the maillog:\n" + pf.maillog()[-3000:])
    pd = [line for line in mg.log().splitlines()
          if "policyd:" in line and "to=<x@rival.example>" in line]
    check(pd and "rule=egress.no-rival" in pd[0] and "direction=outbound" in pd[0],
          "meshgate's policy service did not log the outbound reject: %s" % pd)

    inbound, inbound_mid = make_message("alice@example.com", ["x@rival.example"],
                                        subject="inbound relay")
    send_ok(pf, "alice@example.com", ["x@rival.example"], inbound, "port 25 -> rival (inbound)")

    secret, secret_mid = make_message("alice@example.com", ["customer@partner.example"],
                                      subject="[SECRET] merger plans")
    r = smtp_send(sub, "alice@example.com", ["customer@partner.example"], secret)
    log("submission [SECRET]: %r" % r)
    check(r.data is not None and r.data[0] == 550 and "classified SECRET" in r.data[1],
          "the [SECRET] message was not refused at DATA: %r" % r)
    check(pf.wait_maillog(r"milter-reject: END-OF-MESSAGE from .*: 5\.7\.1 your message to "
                          r"<customer@partner\.example> was not sent: it is classified SECRET"),
          "no milter reject of the SECRET message in the maillog:\n" + pf.maillog()[-3000:])

    brand_mid = "<brand-e2e@example.com>"
    r = smtp_send(sub, "alice@example.com", ["customer@partner.example"],
                  brand_message("Winter offers", brand_mid))
    log("submission brand: %r" % r)
    check(r.accepted, "the brand message was not accepted: %r" % r)

    got = settle(h, pf, sink, 2, "outbound")
    check(not by_message_id(got, secret_mid), "the SECRET message was delivered")
    check(by_message_id(got, inbound_mid), "the inbound message to rival.example was not "
          "delivered")
    delivered = by_message_id(got, brand_mid)
    check(len(delivered) == 1, "brand message delivered %d times" % len(delivered))
    m = delivered[0]
    names = m.header_names()
    assertions = [n for n in names if n.lower() == "mesh-brand-assertion"]
    check(len(assertions) == 1, "%d Mesh-Brand-Assertion headers, expected 1 (the forged copy "
          "must be gone): %s" % (len(assertions), names))
    check(names[0] == "Mesh-Brand-Assertion",
          "the assertion is not the first header: %s" % names[:4])
    check("Someone%20Else" not in m.headers("Mesh-Brand-Assertion")[0], "the forged copy survived")
    check(not m.headers(SIGNAL), "a security signal on purely outbound mail")
    path = m.write_message(h.path("brand-delivered.eml"))
    verify_brand(mg, path, 0, "brand:        Example Bank", "organization: Example Bank plc",
                 "gateway:      mx.example.com", "result:       verified")

    deadline = time.monotonic() + h.scaled(20)
    while not notices(notice_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    got_notices = notices(notice_dir)
    check(len(got_notices) == 1 and "-- alice@example.com" in got_notices[0],
          "expected one notice to alice: %s" % got_notices)
    mg.stop()


TESTS = {
    "known_contact_signal": (test_known_contact_signal, {"budget": 90}),
    "contacts_only_reject": (test_contacts_only_reject, {"budget": 90}),
    "forged_signal": (test_forged_signal, {"budget": 90}),
    "quarantine_hold": (test_quarantine_hold, {"budget": 90}),
    "store_locked_tempfail": (test_store_locked_tempfail, {"budget": 90}),
    "kill_restart_no_loss": (test_kill_restart_no_loss, {"budget": 300}),
    "policyd_stop_start_no_loss": (test_policyd_stop_start_no_loss, {"budget": 240}),
    "store_locked_under_load_no_loss": (test_store_locked_under_load_no_loss, {"budget": 240}),
    "disk_full_no_loss": (test_disk_full_no_loss, {"budget": 240}),
    "postgresql_restart_no_loss": (test_postgresql_restart_no_loss, {"budget": 240}),
    "policyd_rcpt_reject": (test_policyd_rcpt_reject, {"budget": 90}),
    "outbound_egress_and_brand": (test_outbound_egress_and_brand, {"budget": 120}),
}

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
