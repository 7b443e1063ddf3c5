#!/usr/bin/env python3
# NAME
#   milter_tests.py - miltertest scripts (tests/integration/miltertest/*.lua) against the real
#   `meshgate milter`, one behaviour per test.
#
# SYNOPSIS
#   milter_tests.py NAME --meshgate build/h-int/cli/meshgate
#   (ctest runs each NAME as integration.miltertest.NAME; see tests.cmake)
#
# DESCRIPTION
#   Each test: a work folder, a meshgate.yaml with a SQLite store in it (or a private
#   PostgreSQL for the store-failure tests), the demo accounts created with the real CLI
#   (`meshgate account create`, `meshgate contacts add`), `meshgate milter --config ...
#   --foreground` started and awaited ("meshgate ready"), then `miltertest -s SCRIPT
#   -D socket=unix:...`. Afterwards meshgate is stopped with SIGTERM and must exit 0 with no
#   sanitizer report. No Postfix is involved here (postfix_tests.py does that).
#
#   Accounts (the same in every test):
#     alice@example.com  contacts-only        contacts: friend@partner.example
#     bob@example.com    (default tag-unknown) contacts: friend@partner.example
#     carol@example.com  quarantine-unknown   contacts: friend@partner.example
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import (TestFailed, check, log, miltertest, run, run_tests)  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "miltertest")
FRIEND = "friend@partner.example"


def setup_accounts(mg):
    mg.account("alice@example.com", "contacts-only")
    mg.account("bob@example.com")
    mg.account("carol@example.com", "quarantine-unknown")
    for account in ("alice@example.com", "bob@example.com", "carol@example.com"):
        mg.contact(account, FRIEND)


def start_milter(h, **config):
    mg = h.meshgate()
    mg.write_config(**config)
    setup_accounts(mg)
    mg.start("milter")
    return mg


def script(h, mg, name, timeout=None, **defines):
    out_dir = h.path("out")
    os.makedirs(out_dir, exist_ok=True)
    d = {"socket": "unix:" + mg.socket_path, "lib": SCRIPTS, "out": out_dir}
    d.update({k: str(v) for k, v in defines.items()})
    rc, out = miltertest(os.path.join(SCRIPTS, name), d, timeout=timeout or h.scaled(60))
    print(out.rstrip(), flush=True)
    return rc, out


def run_script(h, mg, name, **defines):
    rc, out = script(h, mg, name, **defines)
    check(rc == 0, "miltertest %s failed (exit %d); meshgate log:\n%s" %
          (name, rc, mg.log()[-3000:]))
    return out


def log_lines(mg, *needles):
    return [line for line in mg.log().splitlines() if all(n in line for n in needles)]


# ---------------------------------------------------------------------------------------------


def test_negotiation(h):
    mg = start_milter(h)
    run_script(h, mg, "negotiation.lua")
    mg.stop()


def test_per_recipient_reject(h):
    mg = start_milter(h)
    run_script(h, mg, "per_recipient_reject.lua")
    refused = log_lines(mg, "to=<alice@example.com>", "action=reject",
                        "rule=ingress.contacts-only")
    check(len(refused) == 1, "expected one contacts-only reject for alice in meshgate's log, "
          "found %d:\n%s" % (len(refused), mg.log()[-3000:]))
    check("from=<stranger@elsewhere.example>" in refused[0], "reject logged for the wrong "
          "sender: " + refused[0])
    mg.stop()


def test_quarantine(h):
    mg = start_milter(h)
    run_script(h, mg, "quarantine.lua",
               expected_reason="meshgate: first contact for carol@example.com")
    mg.stop()


def verify(mg, path, want_rc, *needles):
    rc, out = mg.verify_signal(path)
    log("meshgate signal verify %s -> exit %d\n%s" % (os.path.basename(path), rc, out.rstrip()))
    check(rc == want_rc, "meshgate signal verify %s: exit %d, expected %d:\n%s" %
          (path, rc, want_rc, out))
    for n in needles:
        check(n in out, "meshgate signal verify %s: %r not in its output:\n%s" % (path, n, out))


def test_signal_insert(h):
    mg = start_milter(h)
    run_script(h, mg, "signal_insert.lua")
    verify(mg, h.path("out", "signed.eml"), 0, "contact:  known-contact", "result:   verified")
    verify(mg, h.path("out", "altered.eml"), 1, "FAILED")
    mg.stop()


def test_forged_signal(h):
    mg = start_milter(h)
    run_script(h, mg, "forged_signal.lua")
    verify(mg, h.path("out", "delivered.eml"), 0, "contact:  first-contact",
           "result:   verified")
    mg.stop()


def test_stop_drain(h):
    mg = start_milter(h)
    run_script(h, mg, "stop_drain.lua", pid=mg.process.pid)
    for needle in ("milter: stopping: waiting up to 10s for 1 message(s) under way",
                   "milter: stopping; MAIL FROM tempfailed"):
        check(log_lines(mg, needle), "%r not in meshgate's log:\n%s" % (needle, mg.log()[-3000:]))
    check(not log_lines(mg, "still under way after"),
          "the drain gave up on the message:\n" + mg.log()[-3000:])
    mg.stop()  # already stopping: it must exit 0 with no sanitizer report


# Outbound detection, an egress rule and a brand (issue 6), shared with postfix_tests.py. The
# notice goes to a stand-in for sendmail that keeps what it was given (NOTICE_SENDMAIL).
def outbound_config(notice_dir):
    return """egress:
  labels:
    - name: secret
      subject_markers: ["[SECRET]"]
  rules:
    # First: a rule that needs only the envelope decides at RCPT (policy service and milter)
    # only when no earlier rule that needs the content could match.
    - name: no-rival
      match: {recipient_domain: [rival.example]}
      action: reject
      reject_text: "mail to %%r is not allowed"
    - name: no-secret-outside
      match: {labels: [secret], recipient_scope: external}
      action: reject
      reject_text: "your message to %%r was not sent: it is classified SECRET"
brands:
  list:
    - name: Example Bank
      domains: [examplebank.com]
      addresses: [news@example.com]
      organization: Example Bank plc
quarantine:
  sendmail: %s/fake-sendmail
""" % notice_dir


NOTICE_SENDMAIL = """#!/bin/sh
# Stands in for sendmail: keeps its arguments and the message it was given.
n=$(ls "$(dirname "$0")"/notice-*.txt 2>/dev/null | wc -l)
f="$(dirname "$0")/notice-$n.txt"
echo "ARGS: $*" > "$f.tmp"
cat >> "$f.tmp"
mv "$f.tmp" "$f"
"""


def install_notice_sendmail(h):
    d = h.path("notices")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "fake-sendmail")
    with open(path, "w") as f:
        f.write(NOTICE_SENDMAIL)
    os.chmod(path, 0o755)
    return d


def notices(notice_dir):
    out = []
    for name in sorted(os.listdir(notice_dir)):
        if name.startswith("notice-") and name.endswith(".txt"):
            with open(os.path.join(notice_dir, name)) as f:
                out.append(f.read())
    return out


def verify_brand(mg, path, want_rc, *needles):
    p = run([mg.binary, "brand", "verify", path, "--key", mg.public_key], timeout=60,
            check_rc=False)
    out = p.stdout + p.stderr
    log("meshgate brand verify %s -> exit %d\n%s" % (os.path.basename(path), p.returncode,
                                                      out.rstrip()))
    check(p.returncode == want_rc, "meshgate brand verify %s: exit %d, expected %d:\n%s" %
          (path, p.returncode, want_rc, out))
    for n in needles:
        check(n in out, "meshgate brand verify %s: %r not in its output:\n%s" % (path, n, out))


def test_brand_outbound(h):
    notice_dir = install_notice_sendmail(h)
    mg = start_milter(h, extra=outbound_config(notice_dir))
    run_script(h, mg, "brand_outbound.lua")
    verify_brand(mg, h.path("out", "brand.eml"), 0, "brand:        Example Bank",
                 "organization: Example Bank plc", "address:      news@example.com",
                 "result:       verified")
    # A changed Subject breaks it.
    with open(h.path("out", "brand.eml"), "rb") as f:
        altered = f.read().replace(b"Winter offers", b"Winter offers!")
    with open(h.path("out", "altered.eml"), "wb") as f:
        f.write(altered)
    verify_brand(mg, h.path("out", "altered.eml"), 1, "FAILED")
    # One notice to the envelope sender, through the configured sendmail, without a shell.
    deadline = time.monotonic() + h.scaled(20)
    while not notices(notice_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    got = notices(notice_dir)
    check(len(got) == 1, "expected one brand notice, got %d: %s" % (len(got), got))
    check("ARGS: -i -f postmaster@example.com -- alice@example.com" in got[0],
          "notice arguments: " + got[0][:300])
    check("Subject: You are sending mail on behalf of Example Bank" in got[0],
          "notice subject: " + got[0][:600])
    check(log_lines(mg, "brand notice to <alice@example.com> for Example Bank"),
          "no notice line in meshgate's log")
    check(log_lines(mg, "from=<alice@example.com>", "action=reject",
                    "rule=egress.no-secret-outside"),
          "the SECRET reject is not in meshgate's log:\n" + mg.log()[-3000:])
    mg.stop()


def test_brand_inbound(h):
    notice_dir = install_notice_sendmail(h)
    mg = start_milter(h, extra=outbound_config(notice_dir))
    run_script(h, mg, "brand_inbound.lua")
    check(not notices(notice_dir), "a notice for inbound mail")
    mg.stop()


LOCKER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN IMMEDIATE")          # holds the database's write lock (WAL mode)
print("locked", flush=True)
sys.stdin.read()                        # until the harness closes our stdin
con.execute("ROLLBACK")
"""


def test_store_locked_sqlite(h):
    """The SQLite store is locked by another process beyond store.sqlite.busy_timeout: the
    abuse counters (written at MAIL FROM for every message with abuse.flush_interval 0) cannot
    be updated, so meshgate cannot decide and must tempfail, in about busy_timeout, then
    recover when the lock goes. (With batched counts the audit write at end of message fails
    instead: postfix_tests.py store_locked_under_load_no_loss.)"""
    mg = start_milter(h, abuse_exempt_loopback=False, busy_timeout="300ms",
                      abuse_flush_interval="0s")
    run_script(h, mg, "store_failure.lua", stage="mail", expect="continue")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, mg.db_path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        check(locker.stdout.readline().strip() == "locked", "the locker could not lock the store")
        run_script(h, mg, "store_failure.lua", stage="mail", expect="tempfail",
                   deadline=int(h.scaled(3)))
        # An MTA that cannot skip the answer to MAIL FROM gets libmilter's CONTINUE there, and
        # the refusal at RCPT TO all the same.
        run_script(h, mg, "store_failure.lua", stage="mail", expect="tempfail", nr_mail="no",
                   deadline=int(h.scaled(3)))
    finally:
        locker.stdin.close()
        locker.wait(timeout=10)
    lines = log_lines(mg, "milter: mail: cannot decide")
    check(lines and "action=tempfail" in lines[-1],
          "no 'cannot decide ... action=tempfail' line in meshgate's log:\n" + mg.log()[-3000:])
    run_script(h, mg, "store_failure.lua", stage="mail", expect="continue")
    mg.stop()


def pg_milter(h, pg, **config):
    dsn = pg.start()
    mg = h.meshgate()
    mg.write_config(backend="postgresql", pg_dsn=dsn, abuse_enabled=False, **config)
    setup_accounts(mg)
    mg.start("milter")
    return mg


def test_store_gone_postgresql(h):
    """The PostgreSQL store stops while meshgate runs: the ingress lookup at RCPT fails and
    the recipient is tempfailed at once; when the server is back, mail flows again."""
    pg = h.pg_server()
    mg = pg_milter(h, pg)
    run_script(h, mg, "store_failure.lua", stage="rcpt", expect="continue")
    pg.stop()
    run_script(h, mg, "store_failure.lua", stage="rcpt", expect="tempfail",
               deadline=int(h.scaled(3)))
    # The pool must not keep handing out dead connections: a second message fails the same way.
    run_script(h, mg, "store_failure.lua", stage="rcpt", expect="tempfail",
               deadline=int(h.scaled(3)))
    lines = log_lines(mg, "milter: rcpt: cannot decide")
    check(lines and "action=tempfail" in lines[-1],
          "no 'rcpt: cannot decide ... action=tempfail' in meshgate's log:\n" + mg.log()[-3000:])
    pg.start()
    run_script(h, mg, "store_failure.lua", stage="rcpt", expect="continue")
    mg.stop()


def cluster_pids(postmaster):
    """The postmaster and every process it forked (its backends)."""
    pids = [postmaster]
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                pids.append(int(name))
    return pids


def test_store_hung_postgresql(h):
    """The PostgreSQL server hangs (SIGSTOP: the TCP connections stay open, nothing answers).
    milter.decision_timeout (1s here) promises a tempfail within that budget, far below
    Postfix's 30 s milter_command_timeout; the callback must not hang."""
    pg = h.pg_server()
    mg = pg_milter(h, pg, decision_timeout="1s")
    run_script(h, mg, "store_failure.lua", stage="rcpt", expect="continue")
    stopped = cluster_pids(pg.postmaster_pid())
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        rc, out = script(h, mg, "store_failure.lua", stage="rcpt", expect="tempfail",
                         deadline=int(h.scaled(3)), timeout=h.scaled(60),
                         read_timeout=int(h.scaled(10)))
        took = time.monotonic() - t0
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    check(rc == 0, "with the store hung, RCPT was not tempfailed within decision_timeout=1s "
          "(miltertest exit %d after %.1fs): the callback blocks on the database; meshgate "
          "log:\n%s" % (rc, took, mg.log()[-2000:]))
    mg.stop()


TESTS = {
    "negotiation": (test_negotiation, {"miltertest": True, "budget": 60}),
    "per_recipient_reject": (test_per_recipient_reject, {"miltertest": True, "budget": 60}),
    "quarantine": (test_quarantine, {"miltertest": True, "budget": 60}),
    "signal_insert": (test_signal_insert, {"miltertest": True, "budget": 60}),
    "forged_signal": (test_forged_signal, {"miltertest": True, "budget": 60}),
    "stop_drain": (test_stop_drain, {"miltertest": True, "budget": 60}),
    "brand_outbound": (test_brand_outbound, {"miltertest": True, "budget": 60}),
    "brand_inbound": (test_brand_inbound, {"miltertest": True, "budget": 60}),
    "store_locked_sqlite": (test_store_locked_sqlite, {"miltertest": True, "budget": 90}),
    "store_gone_postgresql": (test_store_gone_postgresql, {"miltertest": True, "budget": 150}),
    "store_hung_postgresql": (test_store_hung_postgresql, {"miltertest": True, "budget": 150}),
}

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
