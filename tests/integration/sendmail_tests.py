#!/usr/bin/env python3
# NAME
#   sendmail_tests.py - end-to-end tests through a real Sendmail: an SMTP client -> Sendmail
#   on loopback with the real meshgate as its milter (INPUT_MAIL_FILTER) -> smtp-sink.
#
# SYNOPSIS
#   sendmail_tests.py NAME --meshgate build/h-int/cli/meshgate
#   (ctest runs each NAME as integration.sendmail.NAME; see tests.cmake)
#
# DESCRIPTION
#   Debian's sendmail packages conflict with Postfix, so Sendmail is not installed: the test
#   fetches sendmail-bin and sendmail-cf with `apt-get download` into a cache folder
#   (~/.cache/meshgate/debs, or $MESHGATE_DEB_CACHE; `scripts/deps --test` fills it, so a test
#   run needs no network) and unpacks them with `dpkg -x` next to the .debs, once. The setgid
#   bit of the unpacked binaries is dropped: they run as root, and a setgid exec would cancel
#   the harness's PR_SET_PDEATHSIG.
#
#   Each test builds its own sendmail.cf with m4 from tests/integration/sendmail/test-mta.mc.in
#   and the INPUT_MAIL_FILTER line of the shipped conf/sendmail/meshgate.mc (socket path
#   changed), and runs `sendmail -C CF -bD` (daemon in the foreground) as root on a free
#   loopback port; it relays every domain to smtp-sink. Queue, pid and status files are in the
#   work folder; nothing global is read or written. Two things make that work:
#     - Sendmail canonicalises the host name before it reads its configuration and sleeps 60
#       seconds when the name has no dot: it runs in its own UTS namespace (unshare --uts) with
#       the host name mx.example.com.
#     - The work folder is under /tmp (world-writable, sticky): DontBlameSendmail=TrustStickyBit
#       lets Sendmail use a milter socket and queue below it.
#   The accounts are those of milter_tests.py (alice contacts-only, bob tag-unknown, carol
#   quarantine-unknown; friend@partner.example is everyone's contact).
import fcntl
import glob
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import (SOURCE_DIR, Process, Skipped, TestFailed, check, free_port,  # noqa: E402
                       log, make_message, pid_alive, run, run_tests, smtp_send, wait_port)
from milter_tests import FRIEND, setup_accounts  # noqa: E402

STRANGER = "stranger@elsewhere.example"
SIGNAL = "Mesh-Security-Signal"
PACKAGES = ("sendmail-bin", "sendmail-cf")
TEMPLATE = os.path.join(SOURCE_DIR, "tests", "integration", "sendmail", "test-mta.mc.in")
SHIPPED_SNIPPET = os.path.join(SOURCE_DIR, "conf", "sendmail", "meshgate.mc")


def deb_cache():
    return os.environ.get("MESHGATE_DEB_CACHE") or \
        os.path.join(os.path.expanduser("~"), ".cache", "meshgate", "debs")


def sendmail_tree():
    """The unpacked sendmail-bin + sendmail-cf (downloaded once, cached). Skipped (with apt's
    exact error) when they are not cached and cannot be downloaded."""
    cache = deb_cache()
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel tests: one downloads, the others wait
        debs = []
        for pkg in PACKAGES:
            found = sorted(glob.glob(os.path.join(cache, pkg + "_*.deb")), key=os.path.getmtime)
            if not found:
                log("downloading %s into %s" % (pkg, cache))
                p = subprocess.run(["apt-get", "download", "-q", pkg], cwd=cache,
                                   capture_output=True, text=True, timeout=300)
                found = sorted(glob.glob(os.path.join(cache, pkg + "_*.deb")),
                               key=os.path.getmtime)
                if p.returncode != 0 or not found:
                    raise Skipped("Sendmail is not cached in %s and `apt-get download %s` failed "
                                  "(exit %d): %s" % (cache, pkg, p.returncode,
                                                     (p.stderr or p.stdout).strip()))
            debs.append(found[-1])
        name = "-".join(os.path.basename(d)[:-4] for d in debs)
        tree = os.path.join(cache, "unpacked", name)
        if not os.path.exists(os.path.join(tree, ".complete")):
            shutil.rmtree(tree, ignore_errors=True)
            os.makedirs(tree)
            for deb in debs:
                run(["dpkg", "-x", deb, tree])
            for path in glob.glob(os.path.join(tree, "usr", "libexec", "sendmail", "*")):
                if not os.path.islink(path):
                    os.chmod(path, os.stat(path).st_mode & 0o777 & ~0o2000)
            open(os.path.join(tree, ".complete"), "w").close()
    binary = os.path.join(tree, "usr", "libexec", "sendmail", "sendmail")
    missing = [line.split()[0] for line in
               run(["ldd", binary], check_rc=False).stdout.splitlines() if "not found" in line]
    if missing:
        raise Skipped("the unpacked Sendmail needs %s (Debian packages libwrap0 ...: "
                      "scripts/deps --test)" % ", ".join(missing))
    if shutil.which("m4") is None:
        raise Skipped("m4 is missing (Debian package m4: scripts/deps --test)")
    return tree


def shipped_milter_line(socket_path):
    """The INPUT_MAIL_FILTER line of conf/sendmail/meshgate.mc, with our socket."""
    with open(SHIPPED_SNIPPET) as f:
        lines = [line.rstrip("\n") for line in f if line.startswith("INPUT_MAIL_FILTER(")]
    check(len(lines) == 1, "%s: expected one INPUT_MAIL_FILTER line, found %d" %
          (SHIPPED_SNIPPET, len(lines)))
    line, n = re.subn(r"S=unix:[^,']+", "S=unix:" + socket_path, lines[0])
    check(n == 1, "%s: no S=unix:... in %r" % (SHIPPED_SNIPPET, lines[0]))
    check("F=T" in line, "%s: the filter must tempfail when meshgate is down (F=T): %r" %
          (SHIPPED_SNIPPET, lines[0]))
    return line


class Sendmail:
    """A private Sendmail daemon (sendmail -C CF -bD) on a free loopback port."""

    def __init__(self, h, tree, sink, mg):
        self.h = h
        self.tree = tree
        self.binary = os.path.join(tree, "usr", "libexec", "sendmail", "sendmail")
        self.dir = h.path("sendmail")
        self.queue_dir = os.path.join(self.dir, "queue")
        os.makedirs(self.queue_dir)
        os.chmod(self.dir, 0o755)
        os.chmod(self.queue_dir, 0o700)
        self.port = free_port()
        with open(os.path.join(self.dir, "service.switch"), "w") as f:
            f.write("hosts files\n")
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("127.0.0.1 mx.example.com localhost\n")
        with open(TEMPLATE) as f:
            mc = f.read()
        values = {
            "DIR": self.dir,
            "PORT": str(self.port),
            "SINK_PORT": str(sink.port),
            "HELPFILE": os.path.join(tree, "etc", "mail", "helpfile"),
            "MILTER": shipped_milter_line(mg.socket_path),
        }
        for k, v in values.items():
            mc = mc.replace("@%s@" % k, v)
        check("@" not in re.sub(r"@(example|test)\.", "", mc.split("divert(0)")[1]),
              "unfilled placeholder in the .mc:\n" + mc)
        self.mc_path = os.path.join(self.dir, "sendmail.mc")
        self.cf_path = os.path.join(self.dir, "sendmail.cf")
        self.traffic_path = os.path.join(self.dir, "traffic.log")
        with open(self.mc_path, "w") as f:
            f.write(mc)
        cf_dir = os.path.join(tree, "usr", "share", "sendmail", "cf")
        p = run(["m4", "-D_CF_DIR_=%s/" % cf_dir, os.path.join(cf_dir, "m4", "cf.m4"),
                 self.mc_path])
        with open(self.cf_path, "w") as f:
            f.write(p.stdout)
        self.process = None
        h.on_teardown(self.stop, "stop Sendmail")

    def start(self):
        # Own UTS namespace: Sendmail qualifies the host name before reading sendmail.cf.
        cmd = ["unshare", "--uts", "sh", "-c", 'hostname mx.example.com && exec "$0" "$@"',
               self.binary, "-C", self.cf_path, "-bD", "-q5s", "-X", self.traffic_path]
        self.process = Process(self.h, "sendmail", cmd, os.path.join(self.dir, "sendmail.log"))
        wait_port(self.port, self.h.scaled(20), "Sendmail", self.process.alive)
        log("Sendmail %s listening on 127.0.0.1:%d (pid %d)" %
            (os.path.basename(self.binary), self.port, self.process.pid))
        return self

    def command(self, *args):
        """`sendmail -C CF ARGS` (e.g. -bp to list the queue), in the same host name."""
        return run(["unshare", "--uts", "sh", "-c", 'hostname mx.example.com && exec "$0" "$@"',
                    self.binary, "-C", self.cf_path] + list(args), check_rc=False,
                   timeout=self.h.scaled(30))

    def _our_processes(self):
        """Sendmail's children (one per connection or queue run) work in our queue folder."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                exe = os.readlink("/proc/%s/exe" % entry)
                cwd = os.readlink("/proc/%s/cwd" % entry)
            except OSError:
                continue
            if exe == self.binary and cwd.startswith(self.dir):
                pids.append(int(entry))
        return pids

    def stop(self):
        if self.process is not None:
            self.process.stop(timeout=10)
        for pid in self._our_processes():
            log("Sendmail child %d still running after the daemon stopped: SIGKILL" % pid)
            os.kill(pid, signal.SIGKILL)

    def queued(self):
        """Messages in Sendmail's queue (one qf file each)."""
        return sorted(n for n in os.listdir(self.queue_dir) if n.startswith("qf"))

    def traffic(self):
        try:
            with open(self.traffic_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_output(self):
        return self.process.output() if self.process else ""


def gateway(h, start_milter=True):
    tree = sendmail_tree()
    mg = h.meshgate()
    mg.write_config()
    setup_accounts(mg)
    if start_milter:
        mg.start("milter")
    sink = h.smtp_sink()
    sm = Sendmail(h, tree, sink, mg).start()
    return mg, sink, sm


def settle(h, sm, sink, expected, what):
    """Waits until Sendmail's queue is empty and the sink holds `expected` files, then a
    moment more, so that a duplicate delivery would show up too."""
    deadline = time.monotonic() + h.scaled(60)
    while time.monotonic() < deadline and (sm.queued() or len(sink.files()) < expected):
        time.sleep(0.1)
    check(not sm.queued(), "%s: Sendmail's queue did not drain: %s\n%s" %
          (what, sm.queued(), sm.log_output()[-3000:]))
    time.sleep(1.0)
    got = sink.messages()
    check(len(got) == expected, "%s: %d message(s) at the sink, expected %d; Sendmail:\n%s" %
          (what, len(got), expected, sm.log_output()[-3000:]))
    return got


def by_message_id(messages, mid):
    return [m for m in messages if m.message_id() == mid]


def check_signal(h, mg, sink_msg, contact):
    """Exactly one signal, the first header, which `meshgate signal verify` verifies with the
    expected contact status."""
    names = sink_msg.header_names()
    signals = [n for n in names if n.lower() == SIGNAL.lower()]
    check(len(signals) == 1, "%s: %d %s headers, expected 1: %s" %
          (sink_msg.path, len(signals), SIGNAL, names))
    check(names[0] == SIGNAL, "%s: the signal is not the first header: %s" %
          (sink_msg.path, names[:4]))
    path = sink_msg.write_message(h.path(os.path.basename(sink_msg.path) + ".eml"))
    rc, out = mg.verify_signal(path)
    log("meshgate signal verify %s -> exit %d: %s" %
        (os.path.basename(path), rc, " | ".join(out.strip().splitlines())))
    check(rc == 0 and "result:   verified" in out,
          "%s: the signal does not verify (exit %d):\n%s" % (path, rc, out))
    check("contact:  %s\n" % contact in out, "%s: signal should say contact=%s:\n%s" %
          (path, contact, out))


def send_ok(sm, sender, recipients, msg, what):
    r = smtp_send(sm.port, sender, recipients, msg)
    log("%s: %r" % (what, r))
    check(r.accepted, "%s: not accepted: %r\nSMTP traffic:\n%s" % (what, r, sm.traffic()[-3000:]))
    return r


# ---------------------------------------------------------------------------------------------


def test_contacts_only_reject(h):
    """A stranger writing to alice (contacts-only) is refused at RCPT with 550 5.7.1 and the
    text that says how to request contact; bob, a second recipient of the same message, gets
    it once, with a first-contact signal that verifies."""
    mg, sink, sm = gateway(h)
    msg, mid = make_message(STRANGER, ["alice@example.com", "bob@example.com"],
                            subject="to both")
    r = smtp_send(sm.port, STRANGER, ["alice@example.com", "bob@example.com"], msg)
    log("stranger -> alice + bob: %r" % r)
    code, text = r.rcpt.get("alice@example.com", (None, ""))
    check(code == 550, "RCPT alice: expected 550, got %r" % (r.rcpt,))
    for part in ("5.7.1", "<alice@example.com> accepts mail only from its contacts",
                 "https://mmm.example.com/"):
        check(part in text, "RCPT alice: %r not in the reply %r" % (part, text))
    check(r.rcpt.get("bob@example.com", (0,))[0] == 250, "bob refused: %r" % r)
    check(r.accepted, "the message for bob was not accepted: %r" % r)
    got = settle(h, sm, sink, 1, "stranger -> alice + bob")
    check(len(by_message_id(got, mid)) == 1, "the message was not delivered once")
    check(got[0].recipients == ["bob@example.com"],
          "delivered to %s, expected bob only" % got[0].recipients)
    check_signal(h, mg, got[0], "first-contact")

    msg2, mid2 = make_message(STRANGER, ["alice@example.com"], subject="let me in")
    r2 = smtp_send(sm.port, STRANGER, ["alice@example.com"], msg2)
    log("stranger -> alice: %r" % r2)
    check(r2.rcpt["alice@example.com"][0] == 550, "alice not refused: %r" % r2)
    check(r2.data is None, "DATA was accepted although no recipient was: %r" % r2)
    got = settle(h, sm, sink, 1, "stranger -> alice")
    check(not by_message_id(got, mid2), "the refused message reached the sink")
    mg.stop()


def test_known_contact_signal(h):
    """A known contact's message is delivered once with a signal that verifies and says
    contact=known-contact."""
    mg, sink, sm = gateway(h)
    msg, mid = make_message(FRIEND, ["bob@example.com"], subject="from a friend")
    r = send_ok(sm, FRIEND, ["bob@example.com"], msg, "friend -> bob")
    got = settle(h, sm, sink, 1, "friend -> bob")
    check(len(by_message_id(got, mid)) == 1, "the message was not delivered exactly once")
    check(got[0].recipients == ["bob@example.com"], "wrong recipients: %s" % got[0].recipients)
    check_signal(h, mg, got[0], "known-contact")
    # Sendmail's reply "2.0.0 QUEUEID Message accepted": its Received line names that id, and
    # meshgate logged its decision under it (the macro i).
    qid = r.data[1].split()[1]
    check(any("id %s" % qid in v for v in got[0].headers("Received")),
          "no Received header of Sendmail with id %s: %s" % (qid, got[0].headers("Received")))
    check("%s: milter: from=<%s> to=<bob@example.com>" % (qid, FRIEND) in mg.log() and
          "contact=known-contact" in mg.log(),
          "meshgate did not log its decision under Sendmail's queue id %s:\n%s" %
          (qid, mg.log()[-2000:]))
    mg.stop()


def test_forged_signal(h):
    """Forged Mesh-Security-Signal headers (several spellings, at the top, in the middle, at
    the end) are all removed; only the gateway's copy arrives, and it verifies."""
    mg, sink, sm = gateway(h)
    forged = "v=1; gw=mx.example.com; kid=MAAA-FAKE; t=1; contact=known-contact; s=AAAA"
    extra = [("X-Before", "1"), ("mesh-security-signal", forged), ("X-Middle", "2"),
             ("MESH-SECURITY-SIGNAL", forged), ("X-After", "3"), (SIGNAL, forged)]
    msg, mid = make_message(STRANGER, ["bob@example.com"], subject="trust me",
                            extra_headers=extra)
    msg = ("%s: %s\r\n" % (SIGNAL, forged)).encode() + msg  # and one above From:
    send_ok(sm, STRANGER, ["bob@example.com"], msg, "forged -> bob")
    got = settle(h, sm, sink, 1, "forged -> bob")
    m = got[0]
    check(m.message_id() == mid, "unexpected message at the sink")
    check(not any("MAAA-FAKE" in v for v in m.headers(SIGNAL)),
          "a forged copy was delivered:\n" + m.message.decode(errors="replace")[:3000])
    for name in ("X-Before", "X-Middle", "X-After", "Subject", "From", "To"):
        check(len(m.headers(name)) == 1, "header %s lost or duplicated" % name)
    check_signal(h, mg, m, "first-contact")
    mg.stop()


def test_quarantine_hold(h):
    """quarantine-unknown: a stranger's message to carol is accepted (250) and held in
    Sendmail's queue as quarantined (smfi_quarantine: the qf file becomes an hf file with the
    reason on a q line), not delivered; `sendmail -bp -qQ` lists it. Released with
    `sendmail -Q -qQ -qI<queue id>`, it is delivered once with a signal saying contact=quarantined."""
    mg, sink, sm = gateway(h)
    msg, mid = make_message(STRANGER, ["carol@example.com"], subject="for carol")
    r = send_ok(sm, STRANGER, ["carol@example.com"], msg, "stranger -> carol")
    qid = r.data[1].split()[1]
    deadline = time.monotonic() + h.scaled(20)
    held = []
    while time.monotonic() < deadline and not held:
        held = [n for n in os.listdir(sm.queue_dir) if n == "hf" + qid]
        time.sleep(0.2)
    check(held, "message %s is not quarantined in Sendmail's queue: %s" %
          (qid, os.listdir(sm.queue_dir)))
    with open(os.path.join(sm.queue_dir, held[0]), "rb") as f:
        reasons = [line[1:].decode(errors="replace") for line in f.read().split(b"\n")
                   if line.startswith(b"q")]
    log("%s quarantined, reason: %s" % (qid, reasons))
    check(reasons and reasons[0].strip(), "no quarantine reason in %s" % held[0])
    listed = sm.command("-bp", "-qQ")
    log("sendmail -bp -qQ:\n%s" % (listed.stdout + listed.stderr).strip())
    check(qid in listed.stdout and "QUARANTINE" in listed.stdout.upper(),
          "sendmail -bp -qQ does not list %s as quarantined" % qid)
    time.sleep(6.0)  # a queue run (-q5s) must not deliver it
    check(not sink.files(), "the quarantined message was delivered")
    check(not sm.queued(), "the message is also in the normal queue: %s" % sm.queued())

    # The administrator releases it (sendmail -Q without a reason, -qQ -qI for that quarantined
    # queue id); the next queue run (-q5s) delivers it once, with the signal meshgate inserted
    # before holding it.
    released = sm.command("-Q", "-qQ", "-qI" + qid)
    log("sendmail -Q -qQ -qI%s: exit %d %s" % (qid, released.returncode,
                                              (released.stdout + released.stderr).strip()))
    check(released.returncode == 0, "sendmail -Q -qQ -qI%s failed" % qid)
    got = settle(h, sm, sink, 1, "released")
    check(len(by_message_id(got, mid)) == 1, "the released message was not delivered once")
    check_signal(h, mg, got[0], "quarantined")
    mg.stop()


def test_milter_down_tempfail(h):
    """meshgate is not running: Sendmail (F=T) answers 4xx, queues nothing and delivers
    nothing unchecked. The client keeps the message and retries; once meshgate is back the
    retry is delivered exactly once, with a signal that verifies. The same when meshgate is
    killed in the middle of a transaction, and when it is stopped after serving mail."""
    mg, sink, sm = gateway(h, start_milter=False)
    msg, mid = make_message(FRIEND, ["bob@example.com"], subject="while the milter is down")
    for attempt in (1, 2):
        r = smtp_send(sm.port, FRIEND, ["bob@example.com"], msg)
        log("attempt %d, meshgate down: %r" % (attempt, r))
        fail = r.first_failure()
        check(not r.accepted and fail is not None and 400 <= fail[0] < 500,
              "meshgate down: expected a 4xx reply, got %r" % r)
    time.sleep(1.0)
    check(not sink.files(), "a message reached the sink while meshgate was down")
    check(not sm.queued(), "Sendmail queued the message although it answered 4xx: %s" %
          sm.queued())

    mg.start("milter")
    r = send_ok(sm, FRIEND, ["bob@example.com"], msg, "retry, meshgate up")
    got = settle(h, sm, sink, 1, "retry after restart")
    check(len(by_message_id(got, mid)) == 1, "the retried message was not delivered once")
    check_signal(h, mg, got[0], "known-contact")

    # Killed in the middle of a transaction (after RCPT was accepted, before the end of the
    # message): Sendmail answers the end of DATA with 4xx and keeps nothing.
    msg3, mid3 = make_message(FRIEND, ["bob@example.com"], subject="killed mid-message")
    with smtplib.SMTP("127.0.0.1", sm.port, local_hostname="client.example.net",
                      timeout=60) as s:
        s.ehlo()
        check(s.mail(FRIEND)[0] == 250, "MAIL refused with meshgate up")
        check(s.rcpt("bob@example.com")[0] == 250, "RCPT refused with meshgate up")
        mg.kill()
        try:
            code, text = s.data(msg3)
        except smtplib.SMTPResponseException as e:
            code, text = e.smtp_code, e.smtp_error
        log("meshgate killed before DATA: %d %r" % (code, text))
        check(400 <= code < 500, "meshgate killed mid-message: expected 4xx at DATA, got %d %r" %
              (code, text))
    time.sleep(1.0)
    check(len(sink.files()) == 1 and not sm.queued(),
          "meshgate killed mid-message: the sink has %d message(s), the queue %s" %
          (len(sink.files()), sm.queued()))
    mg.start("milter")
    send_ok(sm, FRIEND, ["bob@example.com"], msg3, "retry after the kill")
    got = settle(h, sm, sink, 2, "retry after the kill")
    check(len(by_message_id(got, mid3)) == 1, "the message retried after the kill was not "
          "delivered once")

    # Stopped cleanly after deliveries (the MTA had connected to it before): still 4xx.
    mg.stop()
    msg2, mid2 = make_message(FRIEND, ["bob@example.com"], subject="down again")
    r2 = smtp_send(sm.port, FRIEND, ["bob@example.com"], msg2)
    log("meshgate stopped again: %r" % r2)
    fail = r2.first_failure()
    check(not r2.accepted and fail is not None and 400 <= fail[0] < 500,
          "meshgate stopped: expected a 4xx reply, got %r" % r2)
    time.sleep(1.0)
    check(len(sink.files()) == 2 and not sm.queued(),
          "meshgate stopped: the sink has %d message(s), the queue %s" %
          (len(sink.files()), sm.queued()))


if __name__ == "__main__":
    sys.exit(run_tests({
        "contacts_only_reject": (test_contacts_only_reject, {"budget": 120}),
        "known_contact_signal": (test_known_contact_signal, {"budget": 120}),
        "forged_signal": (test_forged_signal, {"budget": 120}),
        "milter_down_tempfail": (test_milter_down_tempfail, {"budget": 120}),
        "quarantine_hold": (test_quarantine_hold, {"budget": 120}),
    }))
