#!/usr/bin/env python3
# NAME
#   bridge_tests.py - SMTP -> Mesh -> SMTP between two real meshgate gateways on loopback
#   (issue 7 items 1 and 6): example.com (A) and example.net (B), each `meshgate run` with its
#   own configuration, SQLite store, gateway key, self-signed TLS certificate and Mesh service;
#   each pins the other's certificate (resolver.trusted_certificates) and names its URL
#   (resolver.services).
#
# SYNOPSIS
#   bridge_tests.py NAME --meshgate build/h-bridge/cli/meshgate
#   (ctest runs each NAME as integration.bridge.NAME; see tests.cmake)
#
# DESCRIPTION
#   A: milter (for its own private Postfix, which relays every domain to A's smtp-sink) and
#      Mesh service; smtp_to_mesh enabled; mail from 127.0.0.0/8 is outbound; the egress rule
#      mesh-partners requires encryption for example.net. Account alice@example.com (so that B
#      can verify her as the sender: A's gateway key countersigned her profile).
#   B: Mesh service, milter and mesh_to_smtp, in front of its own Postfix (milter on its smtpd;
#      mesh_to_smtp hands over to its reinjection smtpd, which runs no milter), relaying to B's sink.
#      Account bob@example.net, contacts-only, with alice@example.com as a contact.
#
#   encrypted_delivery   one message alice -> bob@example.net + carol@other.example through
#                        A's Postfix: carol's copy reaches A's sink (bob removed from the
#                        envelope); bob's copy goes encrypted over the Mesh and reaches B's sink
#                        once, header fields and body as sent, with B's verifiable signal
#                        (checks via-mesh,encrypted, contact=known-contact) and no forged
#                        Mesh-* field. The
#                        same bytes sent again to bob (a client's retry): accepted (discarded
#                        by A's milter) and not delivered twice at B. mallory@example.com (no
#                        account on A: unverifiable, a first contact) -> bob: 550 naming
#                        ContactRequired. nobody@example.net (no profile): 550 "requires
#                        encryption". Bob's copy came through B's reinjection smtpd, and a
#                        stranger writing to bob through B's Postfix gets 550 at RCPT from B's
#                        milter. Both gateways stop cleanly; audit verify passes on both.
#   service_down_defers  B stopped: alice -> bob through A's Postfix is deferred (451 4.4.3 at
#                        DATA), nothing reaches A's sink (no cleartext fallback), nothing is
#                        queued; B started again, the same message (the client retrying) is
#                        delivered once at B's sink. Twice: first before A ever resolved bob
#                        (the profile lookup fails), then with bob's profile cached at A (the
#                        Post itself fails).
#
#   contact_request_round_trip  bob has no contacts: alice's bridged mail gets 550
#                        ContactRequired. `meshgate contacts request` on A posts a RequestContact
#                        to B (bob added to alice's contacts); `contacts pending` on B lists it
#                        from the verified alice with her message; `contacts accept` adds alice
#                        to bob's contacts and posts a ReplyContact to A, which A's mesh_to_smtp
#                        delivers to alice as mail; the same message from alice now arrives at B
#                        once, contact=known-contact. Both audit logs record it.
#
#   held_release         bob is quarantine-unknown and alice not his contact: her bridged mail
#                        is accepted and waits in bob's held catalog at B, undelivered; `meshgate
#                        quarantine mesh release` on B delivers it once (contact=quarantined);
#                        a second one, deleted, never arrives. B's audit log has both.
#
#   Waits are scaled for a sanitizer build (Harness.scaled). On failure the message carries the
#   tails of both meshgate logs, A's Postfix maillog and the sinks' files.
import json
import os
import re
import shutil
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import (Process, SmtpSink, TestFailed, check, free_port, log,  # noqa: E402
                       make_message, run, run_tests, smtp_send, wait_port)

SIGNAL = "Mesh-Security-Signal"
ALICE = "alice@example.com"
BOB = "bob@example.net"
CAROL = "carol@other.example"
MALLORY = "mallory@example.com"
NOBODY = "nobody@example.net"
FORGED = "v=1; gw=mx.example.net; kid=MAAA-FORGED; t=1; contact=known-contact; s=AAAA"


class NamedSink(SmtpSink):
    """smtp-sink with its own dump folder and log (the harness's SmtpSink always uses "sink",
    and this test needs one per gateway)."""

    def __init__(self, harness, name):
        self.h = harness
        self.port = free_port()
        self.dir = harness.path(name)
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postfix", "postfix")
        self.process = Process(harness, name,
                               ["smtp-sink", "-u", "postfix", "-d",
                                os.path.join(self.dir, "%Y%m%d%H%M%S."),
                                "127.0.0.1:%d" % self.port, "1024"],
                               harness.path(name + ".log"))
        wait_port(self.port, harness.scaled(10), "smtp-sink " + name, self.process.alive)


def named_sink(h, name):
    for _ in range(3):
        if os.path.exists(h.path(name)):
            shutil.rmtree(h.path(name))
        sink = NamedSink(h, name)
        h.on_teardown(sink.stop, "stop " + name)
        time.sleep(0.2)
        if sink.process.alive():
            return sink
        log("%s could not use port %d; trying another" % (name, sink.port))
    raise TestFailed("smtp-sink %s does not start" % name)


class Side:
    """One organization: `meshgate run` with its own domain, milter socket, Mesh service port,
    certificate and store."""

    def __init__(self, h, name, domain):
        self.h = h
        self.name = name
        self.domain = domain
        self.mg = h.meshgate(name)
        self.port = free_port()
        self.tls_dir = os.path.join(self.mg.dir, "var", "tls")
        self.cert = os.path.join(self.tls_dir, "service.crt")
        self.key = os.path.join(self.tls_dir, "service.key")
        self.peers = []
        self.extra = ""

    def write_config(self):
        d = self.mg.dir
        services = "".join("    %s: %s\n" % (dom, url) for dom, url, _ in self.peers) or \
            "    {}\n"
        certs = ", ".join(cert for _, _, cert in self.peers)
        text = f"""# written by tests/integration/bridge_tests.py
gateway:
  node: mx.{self.domain}
  domains: [{self.domain}]
  data_dir: {d}/var
  key_file: {self.mg.key_file}
store:
  backend: sqlite
  sqlite:
    path: {self.mg.db_path}
    busy_timeout: 2s
milter:
  enabled: true
  socket: unix:{self.mg.socket_path}
  socket_mode: "0660"
  socket_group: postfix
  on_error: tempfail
  decision_timeout: 5s
policyd:
  enabled: false
mesh_service:
  enabled: true
  listen: 127.0.0.1:{self.port}
  service_name: {self.domain}
  tls:
    certificate: {self.cert}
    private_key: {self.key}
    create_self_signed: true
abuse:
  enabled: true
  exempt_networks: ["127.0.0.0/8"]
resolver:
  discovery: false
  connect_timeout: 1s
  total_timeout: 5s
  failure_ttl: 1s
  negative_ttl: 1s
  services:
{services}  trusted_certificates: [{certs}]
{self.extra}"""
        with open(self.mg.config_path, "w") as f:
            f.write(text)

    @property
    def url(self):
        return "https://127.0.0.1:%d/.well-known/mmm/" % self.port

    def start(self):
        self.mg.start("run", timeout=self.h.scaled(30))
        wait_port(self.port, self.h.scaled(10), "the Mesh service of " + self.domain)
        check(os.path.exists(self.cert), "no self-signed certificate at " + self.cert)

    def cli(self, *args, check_rc=True):
        return run([self.mg.binary] + list(args) + ["--config", self.mg.config_path],
                   timeout=self.h.scaled(60), check_rc=check_rc)

    def log_text(self):
        return self.mg.log()

    def stop(self):
        """SIGTERM; a clean exit (status 0) is required. Logs how long it took."""
        t0 = time.monotonic()
        self.mg.stop()
        log("meshgate %s (%s) stopped in %.1fs" % (self.name, self.domain,
                                                    time.monotonic() - t0))


def a_extra(sink):
    # mesh_to_smtp on A as well: answers to alice's contact requests come back as Mesh messages.
    return """mesh_to_smtp:
  enabled: true
  interval: 1s
  server: 127.0.0.1:%d
  timeout: 10s
smtp_to_mesh:
  enabled: true
  timeout: 15s
egress:
  outbound:
    networks: [127.0.0.0/8]
  rules:
    - {name: mesh-partners, match: {recipient_domain: [example.net]}, action: require-encryption}
""" % sink.port


def b_extra(reinject_port):
    return """mesh_to_smtp:
  enabled: true
  interval: 1s
  server: 127.0.0.1:%d
  timeout: 10s
""" % reinject_port


class Bridge:
    """Both gateways, A's Postfix and the two sinks; `diagnostics()` for failure messages."""

    def __init__(self, h, alice_is_bobs_contact=True, bob_ingress="contacts-only"):
        self.h = h
        self.a = Side(h, "a", "example.com")
        self.b = Side(h, "b", "example.net")
        self.a_sink = named_sink(h, "sink-a")
        self.b_sink = named_sink(h, "sink-b")
        # B in front of its own Postfix too: its milter on B's smtpd, and the reinjection smtpd
        # (no milter) where B's mesh_to_smtp hands over what came over the Mesh.
        self.pf_b = h.postfix(self.b_sink, milter=self.b.mg, name="postfix-b", reinject=True,
                              extra={"relay_domains": "example.net", "myhostname": "mx.example.net"})
        self.a.extra = a_extra(self.a_sink)
        self.b.extra = b_extra(self.pf_b.reinject_port)
        # The certificates are made on first start: each side starts once without peers,
        # stops, and starts again with the other's certificate pinned and its URL named.
        self.a.write_config()
        self.b.write_config()
        self.a.start()
        self.b.start()
        self.a.stop()
        self.b.stop()
        self.a.peers = [("example.net", self.b.url, self.b.cert)]
        self.b.peers = [("example.com", self.a.url, self.a.cert)]
        self.a.write_config()
        self.b.write_config()
        self.a.cli("account", "create", ALICE)
        self.b.cli("account", "create", BOB, "--ingress", bob_ingress)
        # A plain contact entry, as an administrator adds one for mail (the CLI's default
        # protocol is smtp): alice's mail, bridged over the Mesh, must still match it.
        if alice_is_bobs_contact:
            self.b.cli("contacts", "add", "--account", BOB, ALICE)
        self.a.start()
        self.b.start()
        self.pf = h.postfix(self.a_sink, milter=self.a.mg, name="postfix-a")

    def diagnostics(self, what=""):
        def tail(text, n=4000):
            return text[-n:] if len(text) > n else text
        return ("%s\n--- A's meshgate log (%s):\n%s\n--- B's meshgate log (%s):\n%s\n"
                "--- A's Postfix maillog (%s):\n%s\n--- A's sink: %s\n--- B's sink: %s" %
                (what, self.a.mg.log_path, tail(self.a.log_text()), self.b.mg.log_path,
                 tail(self.b.log_text()), self.pf.maillog_path, tail(self.pf.maillog()),
                 self.a_sink.files(), self.b_sink.files()))

    def check(self, condition, message):
        if not condition:
            raise TestFailed(self.diagnostics(message))

    def send(self, sender, recipients, msg, what):
        r = smtp_send(self.pf.port, sender, recipients, msg, timeout=self.h.scaled(60))
        log("%s: %r" % (what, r))
        return r

    def wait_a_log(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.a.log_text())
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.1)

    def count_maillog(self, pattern):
        return len(re.findall(pattern, self.pf.maillog()))

    def wait_maillog_count(self, pattern, n, timeout):
        """True once A's Postfix maillog has n lines matching (postlogd writes asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.count_maillog(pattern) >= n:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def wait_a_posts(self, envelope_id, n, timeout):
        """The action= of each smtp-to-mesh post of envelope_id in A's log, once there are n."""
        pattern = (r"milter: smtp-to-mesh: from=<[^>]*> to=<[^>]*> envelope=%s action=(\S+)" %
                   re.escape(envelope_id))
        deadline = time.monotonic() + timeout
        while True:
            found = re.findall(pattern, self.a.log_text())
            if len(found) >= n or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def wait_b_log(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.b.log_text())
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.1)

    def stop_and_audit(self):
        for side in (self.a, self.b):
            side.stop()
            p = side.cli("audit", "verify", check_rc=False)
            log("meshgate audit verify (%s): exit %d: %s" %
                (side.domain, p.returncode, " | ".join((p.stdout + p.stderr).strip()
                                                        .splitlines())))
            self.check(p.returncode == 0, "audit verify failed on %s (exit %d):\n%s%s" %
                       (side.domain, p.returncode, p.stdout, p.stderr))


def lines(data):
    """Text lines without line ends (smtp-sink's dump and the client's bytes differ in CR)."""
    return data.replace(b"\r\n", b"\n").decode("utf-8", "replace").split("\n")


def header_fields(msg_bytes):
    """[(name, value)] of the header section, unfolded, values stripped."""
    out = []
    for line in lines(msg_bytes):
        if line == "":
            break
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        out.append((name, value.strip()))
    return out


def body_lines(msg_bytes):
    ls = lines(msg_bytes)
    i = ls.index("")
    body = ls[i + 1:]
    while body and body[-1] == "":
        body.pop()
    return body


def bridged_message(subject, recipients, tag):
    extra = [("X-Test", tag), (SIGNAL, FORGED), ("mesh-envelope-id", "MGSM-FORGED"),
             ("Mesh-Message-Type", "forged")]
    body = ("Hello Bob,\r\n\r\nthis goes over the Mesh, encrypted (%s).\r\n"
            ".leading dot line\r\n\r\n-- \r\nAlice\r\n" % tag)
    msg, mid = make_message(ALICE, recipients, subject=subject, extra_headers=extra, body=body)
    # and one forged signal above From:
    msg = ("%s: %s\r\n" % (SIGNAL, FORGED)).encode() + msg
    return msg, mid


def check_bob_copy(br, got, sent, mid, tag, contact="known-contact"):
    """B's delivered copy: the original fields and body, B's own signal (verifiable with B's
    key, checks encrypted, the contact status given), no forged Mesh-* field."""
    m = got
    text = m.message.decode("utf-8", "replace")
    br.check(m.recipients == [BOB], "B delivered to %s, expected bob only" % m.recipients)
    br.check(m.message_id() == mid, "B delivered another message (%s, expected %s):\n%s" %
             (m.message_id(), mid, text[:3000]))
    sent_fields = header_fields(sent)
    got_fields = header_fields(m.message)
    for name in ("From", "To", "Subject", "Date", "Message-ID", "X-Test"):
        want = [v for k, v in sent_fields if k.lower() == name.lower()]
        have = [v for k, v in got_fields if k.lower() == name.lower()]
        br.check(have == want, "%s at B is %r, sent %r:\n%s" % (name, have, want, text[:3000]))
    br.check(body_lines(m.message) == body_lines(sent),
             "the body at B differs from what was sent:\nsent: %r\ngot:  %r" %
             (body_lines(sent), body_lines(m.message)))
    signals = [v for k, v in got_fields if k.lower() == SIGNAL.lower()]
    br.check(len(signals) == 1, "%d %s fields at B, expected B's own only: %r\n%s" %
             (len(signals), SIGNAL, signals, text[:3000]))
    br.check("FORGED" not in signals[0], "the sender's forged signal survived at B: %r" %
             signals[0])
    br.check("gw=mx.example.net" in signals[0], "the signal is not B's: %r" % signals[0])
    env_ids = [v for k, v in got_fields if k.lower() == "mesh-envelope-id"]
    br.check(len(env_ids) == 1 and env_ids[0].startswith("MGSM-") and "FORGED" not in env_ids[0],
             "Mesh-Envelope-Id at B: %r (expected B's one, MGSM-...)" % env_ids)
    types = [v for k, v in got_fields if k.lower() == "mesh-message-type"]
    br.check(len(types) == 1 and types[0] != "forged", "Mesh-Message-Type at B: %r" % types)
    path = m.write_message(br.h.path("bob-%s.eml" % tag))
    rc, out = br.b.mg.verify_signal(path)
    log("meshgate signal verify %s --key B's key -> exit %d: %s" %
        (os.path.basename(path), rc, " | ".join(out.strip().splitlines())))
    br.check(rc == 0 and "result:   verified" in out,
             "B's copy does not verify with B's gateway key (exit %d):\n%s" % (rc, out))
    br.check("contact:  %s\n" % contact in out, "the signal should say contact=%s:\n%s" %
             (contact, out))
    cm = re.search(r"checks:\s+(\S+)", out)
    checks = cm.group(1).split(",") if cm else []
    br.check("encrypted" in checks and "via-mesh" in checks,
             "the signal's checks should include via-mesh and encrypted:\n%s" % out)
    # The same copy does not verify with A's key: it is B's signal.
    rc_a, out_a = br.a.mg.verify_signal(path)
    br.check(rc_a != 0, "B's signal verified with A's key:\n%s" % out_a)
    return env_ids[0]


def wait_files(sink, n, timeout):
    sink.wait_count(n, timeout)
    return sink.messages()


def settle_quiet(h, seconds=3.0):
    """B's mesh_to_smtp runs every second: a duplicate delivery would show within this."""
    time.sleep(h.scaled(seconds))


# ---------------------------------------------------------------------------------------------


def test_encrypted_delivery(h):
    br = Bridge(h)
    tag = "bridge-" + os.urandom(4).hex()
    sent, mid = bridged_message("over the Mesh", [BOB, CAROL], tag)

    # 1. bob over the Mesh, carol by SMTP.
    r = br.send(ALICE, [BOB, CAROL], sent, "alice -> bob + carol")
    br.check(r.accepted, "alice -> bob + carol not accepted: %r" % (r,))
    m = br.wait_a_log(r"milter: smtp-to-mesh: from=<alice@example\.com> to=<bob@example\.net> "
                      r"envelope=(MGSM-\S+) action=delivered via=(\S+)", h.scaled(10))
    br.check(m is not None, "no smtp-to-mesh delivered line for bob in A's log")
    envelope_id, via = m.group(1), m.group(2)
    br.check(via.startswith("https://127.0.0.1:%d" % br.b.port),
             "A posted to %s, not to B's service %s" % (via, br.b.url))

    br.check(br.pf.wait_queue_empty(h.scaled(30)), "A's Postfix queue did not drain: %s" %
             br.pf.queue())
    a_got = wait_files(br.a_sink, 1, h.scaled(20))
    b_got = wait_files(br.b_sink, 1, h.scaled(20))
    settle_quiet(h)
    a_got, b_got = br.a_sink.messages(), br.b_sink.messages()
    br.check(len(a_got) == 1, "A's sink has %d messages, expected carol's copy only" %
             len(a_got))
    br.check(a_got[0].recipients == [CAROL], "A's sink got the message for %s, expected carol "
             "only (bob must have been removed from the envelope)" % a_got[0].recipients)
    br.check(a_got[0].message_id() == mid, "A's sink got another message")
    br.check(b"over the Mesh, encrypted" in a_got[0].message, "carol's copy lost its body")
    br.check(len(b_got) == 1, "B's sink has %d messages, expected one for bob" % len(b_got))
    got_env = check_bob_copy(br, b_got[0], sent, mid, tag)
    br.check(got_env == envelope_id, "B delivered envelope %s, A posted %s" %
             (got_env, envelope_id))
    br.check(br.wait_b_log(r"%s: to=<bob@example\.net> .*action=delivered" % re.escape(envelope_id),
                           h.scaled(5)),
             "no action=delivered line for %s in B's log" % envelope_id)

    # 2. The same bytes again, to bob only (a client retrying): accepted, discarded by A,
    #    not delivered twice.
    r = br.send(ALICE, [BOB], sent, "retry alice -> bob")
    br.check(r.accepted, "the retried message was not accepted: %r" % (r,))
    posts = br.wait_a_posts(envelope_id, 2, h.scaled(10))
    br.check(len(posts) >= 2, "A's log does not show the retry posted with the same EnvelopeId "
             "%s (A posts: %r)" % (envelope_id, posts))
    br.check(posts[1] in ("delivered", "already-delivered"),
             "the retry's post: action=%s" % posts[1])
    br.check(br.wait_maillog_count(DISCARD_LINE, 1, h.scaled(10)),
             "A's Postfix did not discard the retried message (milter-discard)")
    br.check(br.pf.wait_queue_empty(h.scaled(30)), "A's Postfix queue did not drain: %s" %
             br.pf.queue())
    # B recognises the EnvelopeId: either its Post already answered DuplicateEnvelopeId
    # (already-delivered), or its mesh_to_smtp pass finds it delivered before.
    if posts[1] == "delivered":
        br.check(br.wait_b_log(r"%s: to=<bob@example\.net> .*action=duplicate" %
                               re.escape(envelope_id), h.scaled(10)),
                 "B accepted the retried envelope again but did not report it as a duplicate")
    settle_quiet(h)
    br.check(len(br.b_sink.files()) == 1, "the retried message was delivered again at B: %d "
             "messages" % len(br.b_sink.files()))
    br.check(len(br.a_sink.files()) == 1, "the retried message went by SMTP from A: %s" %
             br.a_sink.files())

    # 3. mallory has no account on A: B cannot verify the sender, a first contact, which
    #    contacts-only bob refuses (ContactRequired).
    msg_m, _ = make_message(MALLORY, [BOB], subject="let me in",
                                extra_headers=[("X-Test", tag + "-mallory")])
    r = br.send(MALLORY, [BOB], msg_m, "mallory -> bob")
    fail = r.first_failure()
    br.check(fail is not None and fail[0] == 550,
             "mallory -> bob: expected 550, got %r" % (r,))
    br.check("ContactRequired" in fail[1] and "5.7.1" in fail[1] and "bob@example.net" in fail[1],
             "mallory -> bob: the reply does not name ContactRequired and bob: %r" % (fail,))
    settle_quiet(h)
    br.check(len(br.b_sink.files()) == 1, "something new at B's sink after mallory's message")
    br.check(len(br.a_sink.files()) == 1, "mallory's message went by SMTP from A")

    # 4. nobody@example.net has no account on B, so no Mesh profile: refused, never cleartext.
    msg_n, _ = make_message(ALICE, [NOBODY], subject="to nobody")
    r = br.send(ALICE, [NOBODY], msg_n, "alice -> nobody")
    fail = r.first_failure()
    br.check(fail is not None and fail[0] == 550 and "requires encryption" in fail[1],
             "alice -> nobody: expected 550 ... requires encryption, got %r" % (r,))
    br.check(NOBODY in fail[1], "the reply does not name the recipient: %r" % (fail,))
    settle_quiet(h, 1.5)
    br.check(len(br.a_sink.files()) == 1, "the message to nobody went by SMTP from A")
    br.check(len(br.b_sink.files()) == 1, "something new at B's sink after alice -> nobody")
    br.check(not br.pf.queue(), "something is queued at A's Postfix: %s" % br.pf.queue())

    # 5. B is in front of its own Postfix: bob's copy came in through its reinjection smtpd
    #    (no milter), and a stranger writing to bob over plain SMTP meets B's milter at RCPT.
    br.check(re.search(r"postfix/meshgate-reinject/smtpd\[\d+\]: \w+: client=", br.pf_b.maillog()),
             "bob's copy did not come through B's Postfix reinjection service:\n%s" %
             br.pf_b.maillog()[-3000:])
    msg_s, _ = make_message("stranger@elsewhere.example", [BOB], subject="plain SMTP to bob")
    r = smtp_send(br.pf_b.port, "stranger@elsewhere.example", [BOB], msg_s,
                  timeout=h.scaled(60))
    log("stranger -> bob through B's Postfix: %r" % (r,))
    br.check(r.rcpt.get(BOB, (0, ""))[0] == 550 and "contacts" in r.rcpt[BOB][1],
             "B's milter should refuse a stranger to contacts-only bob at RCPT: %r" % (r,))

    br.stop_and_audit()


TEMPFAIL_LINE = r"milter-reject: END-OF-MESSAGE from .*: 4\.4\.3 .*to=<bob@example\.net>"
DISCARD_LINE = r"milter-discard: END-OF-MESSAGE from .*to=<bob@example\.net>"


def deferred_while_down(br, h, sent, what, delivered_before):
    """B is stopped: alice -> bob through A's Postfix gets 451 4.4.3 at DATA; no cleartext copy
    at A's sink, nothing queued at A's Postfix, nothing new at B's sink."""
    rejects = br.count_maillog(TEMPFAIL_LINE)
    r = br.send(ALICE, [BOB], sent, "alice -> bob, B down (%s)" % what)
    fail = r.first_failure()
    br.check(not r.accepted and fail is not None and 400 <= fail[0] < 500,
             "%s: with B down, alice -> bob must be deferred (4xx), got %r" % (what, r))
    br.check(fail[0] == 451 and "4.4.3" in fail[1],
             "%s: expected 451 4.4.3 (encrypted delivery failed), got %r" % (what, fail))
    br.check(br.wait_maillog_count(TEMPFAIL_LINE, rejects + 1, h.scaled(5)),
             "%s: no new 4.4.3 milter-reject in A's Postfix maillog" % what)
    time.sleep(h.scaled(1.5))
    br.check(not br.a_sink.files(), "%s: a cleartext copy reached A's sink: %s" %
             (what, br.a_sink.files()))
    br.check(not br.pf.queue(), "%s: the deferred message is queued at A's Postfix: %s" %
             (what, br.pf.queue()))
    br.check(len(br.b_sink.files()) == delivered_before,
             "%s: B's sink changed while B was down" % what)


def delivered_after_restart(br, h, sent, mid, tag, what, delivered_before):
    """B started again: the client retries the same bytes (as a real MTA would, a few times:
    A's resolver remembers a failure for resolver.failure_ttl, 1 s here) until accepted; the
    message reaches B's sink exactly once and never A's sink."""
    discards = br.count_maillog(DISCARD_LINE)
    br.b.start()
    deadline = time.monotonic() + h.scaled(20)
    attempts = 0
    while True:
        attempts += 1
        r = br.send(ALICE, [BOB], sent, "alice -> bob, B back (%s, attempt %d)" % (what, attempts))
        if r.accepted:
            break
        fail = r.first_failure()
        br.check(fail is None or fail[0] < 500, "%s: B back, the retry was refused: %r" %
                 (what, r))
        br.check(time.monotonic() < deadline, "%s: B back, still deferred after %d attempts: %r"
                 % (what, attempts, r))
        time.sleep(1.0)
    br.check(br.wait_maillog_count(DISCARD_LINE, discards + 1, h.scaled(10)),
             "%s: A's Postfix did not discard the message sent over the Mesh" % what)
    br.check(br.b_sink.wait_count(delivered_before + 1, h.scaled(20)),
             "%s: nothing new at B's sink" % what)
    settle_quiet(h)
    mine = [m for m in br.b_sink.messages() if m.message_id() == mid]
    br.check(len(br.b_sink.files()) == delivered_before + 1 and len(mine) == 1,
             "%s: B's sink has %d messages (%d of this one), expected %d (1)" %
             (what, len(br.b_sink.files()), len(mine), delivered_before + 1))
    got_env = check_bob_copy(br, mine[0], sent, mid, tag)
    posts = br.wait_a_posts(got_env, 1, h.scaled(5))
    br.check(posts and posts[-1] == "delivered",
             "%s: A's log has no delivered post of %s: %r" % (what, got_env, posts))
    br.check(br.pf.wait_queue_empty(h.scaled(30)), "%s: A's Postfix queue did not drain" % what)
    br.check(not br.a_sink.files(), "%s: a cleartext copy reached A's sink: %s" %
             (what, br.a_sink.files()))


def test_service_down_defers(h):
    br = Bridge(h)

    # 1. B down before A ever resolved bob: the profile cannot be found now.
    tag1 = "down-cold-" + os.urandom(4).hex()
    sent1, mid1 = bridged_message("while B is down (cold)", [BOB], tag1)
    br.b.stop()
    deferred_while_down(br, h, sent1, "cold", 0)
    br.check(br.wait_a_log(r"milter: smtp-to-mesh: to=<bob@example\.net>: .*"
                           r"action=tempfail rule=egress\.mesh-partners", h.scaled(5)),
             "cold: no smtp-to-mesh tempfail line for bob in A's log")
    delivered_after_restart(br, h, sent1, mid1, tag1, "cold", 0)

    # 2. B down after A resolved (and cached) bob's profile: the Post itself fails.
    tag2 = "down-warm-" + os.urandom(4).hex()
    sent2, mid2 = bridged_message("while B is down (warm)", [BOB], tag2)
    tempfails = len(re.findall(r"action=tempfail rule=egress\.mesh-partners",
                               br.a.log_text()))
    br.b.stop()
    deferred_while_down(br, h, sent2, "warm", 1)
    br.check(len(re.findall(r"action=tempfail rule=egress\.mesh-partners", br.a.log_text())) >
             tempfails, "warm: no new smtp-to-mesh tempfail line in A's log")
    delivered_after_restart(br, h, sent2, mid2, tag2, "warm", 1)

    br.stop_and_audit()


def test_contact_request_round_trip(h):
    """Issue 7 items 3 and 6: bob (contacts-only) refuses alice's bridged mail; alice asks with
    `meshgate contacts request`, bob's administrator accepts with `meshgate contacts accept`, the
    ReplyContact comes back to alice as mail, and the same message from alice is now delivered."""
    br = Bridge(h, alice_is_bobs_contact=False)
    tag = "contact-" + os.urandom(4).hex()
    sent, mid = bridged_message("before and after a contact request", [BOB], tag)

    r = br.send(ALICE, [BOB], sent, "alice -> bob, not a contact")
    br.check(r.data is not None and r.data[0] == 550 and "ContactRequired" in r.data[1],
             "a stranger's bridged mail to a contacts-only account should get 550 "
             "ContactRequired: %r" % (r,))
    settle_quiet(h, 2.0)
    br.check(br.b_sink.messages() == [], "B delivered mail from a non-contact")

    p = br.a.cli("contacts", "request", "--account", ALICE, BOB, "--message", "about Q3",
                 check_rc=False)
    log("meshgate contacts request (A): exit %d: %s" % (p.returncode, (p.stdout + p.stderr).strip()))
    br.check(p.returncode == 0 and "posted to https://127.0.0.1:%d" % br.b.port in p.stdout,
             "contacts request failed (exit %d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    mine = br.a.cli("contacts", "list", "--account", ALICE).stdout
    br.check(BOB in mine, "the asked address is not in alice's contacts:\n%s" % mine)

    p = br.b.cli("contacts", "pending", "--account", BOB, "--json")
    pending = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    log("meshgate contacts pending (B): %r" % pending)
    br.check(len(pending) == 1, "expected one pending request at B: %r" % pending)
    br.check(pending[0]["sender"] == ALICE and pending[0]["subject"] == "about Q3",
             "the request should come from the verified alice with her message: %r" % pending)
    br.check(br.b.cli("contacts", "list", "--account", BOB, check_rc=False).stdout.strip() == "",
             "bob has contacts before accepting")

    p = br.b.cli("contacts", "accept", pending[0]["id"], check_rc=False)
    log("meshgate contacts accept (B): exit %d: %s" % (p.returncode, (p.stdout + p.stderr).strip()))
    br.check(p.returncode == 0 and "ReplyContact" in p.stdout and
             "posted to https://127.0.0.1:%d" % br.a.port in p.stdout,
             "contacts accept failed or sent no reply (exit %d):\n%s%s" %
             (p.returncode, p.stdout, p.stderr))
    theirs = br.b.cli("contacts", "list", "--account", BOB).stdout
    br.check(ALICE in theirs, "alice is not in bob's contacts after accept:\n%s" % theirs)
    br.check(br.b.cli("contacts", "pending", "--account", BOB).stdout.strip() == "",
             "the accepted request is still pending")

    # The answer reaches alice as mail, through A's own mesh_to_smtp.
    replies = wait_files(br.a_sink, 1, h.scaled(20))
    br.check(len(replies) == 1 and replies[0].recipients == [ALICE] and
             b"Mesh-Message-Type: ReplyContact" in replies[0].message,
             "no ReplyContact mail for alice at A's sink: %r" %
             [(m.recipients, m.message[:300]) for m in replies])

    r = br.send(ALICE, [BOB], sent, "alice -> bob, now a contact")
    br.check(r.accepted, "alice's mail to bob after the accepted request: %r" % (r,))
    got = wait_files(br.b_sink, 1, h.scaled(20))
    settle_quiet(h, 2.0)
    got = br.b_sink.messages()
    br.check(len(got) == 1, "%d copies at B, expected 1" % len(got))
    check_bob_copy(br, got[0], sent, mid, tag)
    audit_b = br.b.cli("audit", "show", check_rc=False).stdout
    for action in ("contact-request", "accept"):
        br.check("action=%s" % action in audit_b, "no %s record in B's audit log:\n%s" %
                 (action, audit_b))
    br.stop_and_audit()


def held_at_b(br, h, sent, what):
    """alice -> bob (quarantine-unknown at B, alice not a contact): A posts it and B accepts it
    into bob's held catalog; nothing reaches B's sink. Returns the EnvelopeId as B lists it."""
    before = set(e["id"] for e in held_list(br))
    r = br.send(ALICE, [BOB], sent, what)
    br.check(r.accepted, "%s: not accepted (B should hold it, not refuse it): %r" % (what, r))
    br.check(br.pf.wait_queue_empty(h.scaled(30)), "A's Postfix queue did not drain: %s" %
             br.pf.queue())
    settle_quiet(h, 2.0)
    listed = [e for e in held_list(br) if e["id"] not in before]
    br.check(len(listed) == 1, "%s: expected one new held Mesh message at B, listed %r" %
             (what, listed))
    br.check(listed[0]["sender"] == ALICE and listed[0]["account"] == BOB and
             listed[0]["contact"] == "quarantined" and listed[0]["encrypted"],
             "%s: the held message should be alice's, encrypted, for bob: %r" % (what, listed))
    return listed[0]["id"]


def held_list(br):
    p = br.b.cli("quarantine", "mesh", "list", "--json")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def test_held_release(h):
    """A first contact's mail to a quarantine-unknown account, bridged over the Mesh, waits in
    the account's held catalog at B (nothing delivers it); `meshgate quarantine mesh release`
    on B delivers it once, with contact=quarantined; a held message deleted is never delivered.
    Both are in B's audit log."""
    br = Bridge(h, alice_is_bobs_contact=False, bob_ingress="quarantine-unknown")
    tag = "held-" + os.urandom(4).hex()
    sent, mid = bridged_message("held for review", [BOB], tag)
    envelope = held_at_b(br, h, sent, "alice -> bob, a first contact")
    br.check(br.b_sink.messages() == [], "B delivered a held message before its release")

    p = br.b.cli("quarantine", "mesh", "release", envelope, check_rc=False)
    log("meshgate quarantine mesh release (B): exit %d: %s" %
        (p.returncode, (p.stdout + p.stderr).strip()))
    br.check(p.returncode == 0 and "released" in p.stdout,
             "release failed (exit %d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    got = wait_files(br.b_sink, 1, h.scaled(20))
    settle_quiet(h)
    got = br.b_sink.messages()
    br.check(len(got) == 1, "%d copies at B after the release, expected 1" % len(got))
    check_bob_copy(br, got[0], sent, mid, tag, contact="quarantined")
    br.check(held_list(br) == [], "the released message is still listed as held")

    sent2, _ = bridged_message("deleted unread", [BOB], tag + "-2")
    second = held_at_b(br, h, sent2, "alice -> bob, a second message")
    p = br.b.cli("quarantine", "mesh", "delete", second, check_rc=False)
    br.check(p.returncode == 0, "delete failed (exit %d):\n%s%s" %
             (p.returncode, p.stdout, p.stderr))
    settle_quiet(h)
    br.check(len(br.b_sink.files()) == 1, "the deleted message was delivered at B")
    br.check(held_list(br) == [], "the deleted message is still listed as held")
    audit_b = br.b.cli("audit", "show", check_rc=False).stdout
    for rule in ("quarantine.mesh-release", "quarantine.mesh-delete"):
        br.check("rule=%s" % rule in audit_b, "no %s record in B's audit log:\n%s" %
                 (rule, audit_b))
    br.stop_and_audit()


TESTS = {
    "encrypted_delivery": (test_encrypted_delivery, {"postfix": True, "budget": 180}),
    "service_down_defers": (test_service_down_defers, {"postfix": True, "budget": 180}),
    "contact_request_round_trip": (test_contact_request_round_trip,
                                   {"postfix": True, "budget": 180}),
    "held_release": (test_held_release, {"postfix": True, "budget": 180}),
}

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
