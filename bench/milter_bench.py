#!/usr/bin/env python3
# NAME
#   milter_bench.py - milter throughput through a real Postfix: no milter, a null libmilter
#   milter, meshgate; and the per-message milter latency measured from outside.
#   Run it through bench/milter_bench.sh.
#
# DESCRIPTION
#   One session (one work folder, one private Postfix on loopback relaying to smtp-sink, the
#   test harness of tests/integration/lib/mgharness.py): smtp-source sends --messages 2 KiB
#   messages over --sessions parallel SMTP sessions (one message per session, as smtp-source
#   does by default) for each configuration, switching Postfix's smtpd_milters with
#   `postconf -e` + `postfix reload`:
#     none       no milter
#     null       bench/null_milter: envfrom + eom only (adds one header), every other step
#                skipped in negotiation - the cheapest possible milter, the baseline
#     null-all   bench/null_milter -a: the same, but registered for every step meshgate uses
#                (connect, mail, rcpt, headers, eoh, body, eom) and negotiating what meshgate
#                negotiates (no HELO; no reply to connect, headers, eoh, body), inserting a
#                header of the size of meshgate's signal at index 0: the same conversation and
#                header edit as meshgate with no work in it - the floor for any milter that
#                reads a message's headers and body, answers per recipient and signs it
#     meshgate   `meshgate milter`, the recipient contacts-only with a 100,000-contact catalog
#                (imported with `meshgate contacts import`) that holds the sender, abuse limits
#                counting every message in the store (not exempted, limits never reached), the
#                content checks at their defaults (on), the signal signed and inserted
#     variant    (--variant FILE, optional) a second `meshgate milter` with a copy of the
#                first one's store and key and FILE's settings added to its configuration
#                (bench/variants/): what one part of meshgate's work costs, in the same rounds
#   Each round runs every configuration once, the order rotating between rounds; the median
#   of the rounds is reported. Before each measurement: reload, a warm-up of 100 messages and
#   an empty queue; after it, the queue must drain (deliveries to the sink finish) before the
#   next one starts.
#
#   Latency, two ways. From meshgate's own metrics: meshgate runs as `meshgate run` with its
#   policy service on plain HTTP on loopback, and after the throughput rounds the script reads
#   GET /metrics: the histogram meshgate_decision_seconds{frontend="milter",stage=...} over
#   every message of the rounds, p50/p99 interpolated within the buckets as Prometheus'
#   histogram_quantile does. From outside, for a milter without metrics too: a unix-socket
#   proxy (MilterProxy below) sits between Postfix and the milter and timestamps every milter
#   command and the milter's final reply to it. Per message it sums the waits from MAIL to the end-of-message reply:
#   that is the time Postfix spent waiting for the milter (decisions at MAIL, RCPT and EOM,
#   plus header/body acknowledgements). It is measured in a separate run at lower concurrency
#   (--latency-sessions) so that the Python proxy itself is not the bottleneck, for null-all
#   and meshgate alike, and reported as p50/p99.
#
#   Checks that the numbers mean what they say: smtp-source must exit 0 (it stops at the first
#   4xx/5xx), Postfix's maillog must show no milter reject/tempfail, and meshgate's log must
#   show one "action=accept ... contact=known-contact" decision per message it was sent.
import argparse
import os
import platform
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration", "lib"))
import mgharness  # noqa: E402
from mgharness import Harness, Process, TestFailed, check, log, run  # noqa: E402

SENDER = "friend@partner.example"
RECIPIENT = "bob@example.com"

# ---------------------------------------------------------------------------------------------
# the timing proxy

# Commands the MTA sends that get no reply: macros, abort, quit, quit-new-connection.
NO_REPLY = set(b"DAQK")
# Replies that are not the final answer to a command (end-of-message modifications, progress).
NOT_FINAL = set(b"hi m q + - 2 b e p".replace(b" ", b""))
# Protocol flags a milter may negotiate (libmilter/mfdef.h) after which the MTA expects no reply
# to that command (SMFIP_NR_CONN, _HELO, _MAIL, _RCPT, _DATA, _UNKN, _HDR, _EOH, _BODY): those
# commands cost no wait at all.
NO_REPLY_FLAGS = {0x1000: ord("C"), 0x2000: ord("H"), 0x4000: ord("M"), 0x8000: ord("R"),
                  0x10000: ord("T"), 0x20000: ord("U"), 0x80: ord("L"), 0x40000: ord("N"),
                  0x80000: ord("B")}


def milter_packets(buffer):
    """The whole milter packets at the start of `buffer` (4-byte length, command byte, data),
    as (command byte, data) pairs, and the bytes left over (a packet not yet complete)."""
    packets = []
    while len(buffer) >= 5:
        n = struct.unpack(">I", buffer[:4])[0]
        if len(buffer) < 4 + n:
            break
        packets.append((buffer[4], buffer[5:4 + n]))
        buffer = buffer[4 + n:]
    return packets, buffer


class MilterProxy:
    """Postfix -> this unix socket -> the milter's socket. Records, per message, how long each
    command waited for the milter's final reply."""

    def __init__(self, listen_path, target_path):
        self.target = target_path
        self.lock = threading.Lock()
        self.messages = []  # dicts: stage -> seconds
        if os.path.exists(listen_path):
            os.unlink(listen_path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(listen_path)
        os.chmod(listen_path, 0o666)
        self.server.listen(256)
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def close(self):
        self.stopping = True
        self.server.close()

    def _serve(self, client):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.target)
        except OSError:
            client.close()
            return
        pending = []  # (command, time it was forwarded)
        no_reply = set(NO_REPLY)  # grows with the negotiated SMFIP_NR_* flags
        message = None
        down = b""
        up = b""
        import select
        try:
            while True:
                readable, _, _ = select.select([client, upstream], [], [], 60)
                if not readable:
                    return
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    upstream.sendall(data)
                    now = time.perf_counter()
                    packets, down = milter_packets(down + data)
                    for cmd, _ in packets:
                        if cmd == ord("M"):
                            message = {}
                        if cmd not in no_reply:
                            pending.append((cmd, now))
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    client.sendall(data)
                    now = time.perf_counter()
                    packets, up = milter_packets(up + data)
                    for reply, payload in packets:
                        if reply == ord("O") and len(payload) >= 12:
                            flags = struct.unpack(">I", payload[8:12])[0]
                            for bit, command in NO_REPLY_FLAGS.items():
                                if flags & bit:
                                    no_reply.add(command)
                        if reply in NOT_FINAL or not pending:
                            continue
                        cmd, t0 = pending.pop(0)
                        if message is None:
                            continue
                        stage = {ord("M"): "mail", ord("R"): "rcpt", ord("L"): "header",
                                 ord("N"): "header", ord("B"): "body",
                                 ord("E"): "eom"}.get(cmd)
                        if stage:
                            message[stage] = message.get(stage, 0.0) + (now - t0)
                        if cmd == ord("E"):
                            with self.lock:
                                self.messages.append(message)
                            message = None
        except OSError:
            return
        finally:
            client.close()
            upstream.close()


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# ---------------------------------------------------------------------------------------------
# CPU accounting: robust where wall-clock rates are not (a shared, loaded machine)

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid, with_children=False):
    """CPU seconds (user + system, all threads) of a process; with its waited-for children."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


class CpuMeter:
    """CPU used by each party of a run: every Postfix daemon of the instance (the live ones,
    plus the master's reaped children: smtpd processes come and go), the milter process, and
    the load tools (smtp-source, a child of ours; smtp-sink)."""

    def __init__(self, pf, sink):
        self.pf = pf
        self.sink = sink

    def snapshot(self, milter_pid):
        master = self.pf.master_pid()
        postfix = proc_cpu(master, with_children=True) + sum(
            proc_cpu(p) for p in mgharness.processes_with_mail_config(self.pf.config_dir)
            if p != master)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        tools = children.ru_utime + children.ru_stime + proc_cpu(self.sink.process.pid)
        milter = proc_cpu(milter_pid) if milter_pid else 0.0
        return {"postfix": postfix, "milter": milter, "tools": tools}


# ---------------------------------------------------------------------------------------------


def smtp_source(port, messages, sessions, size, timeout):
    cmd = ["smtp-source", "-4", "-s", str(sessions), "-m", str(messages), "-l", str(size),
           "-f", SENDER, "-t", RECIPIENT, "127.0.0.1:%d" % port]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    check(p.returncode == 0, "smtp-source failed (exit %d): %s%s" %
          (p.returncode, p.stdout, p.stderr))
    return elapsed


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_commit():
    try:
        return subprocess.run(["git", "-C", SOURCE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshgate", required=True)
    ap.add_argument("--null-milter", required=True)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--contacts", type=int, default=100000)
    ap.add_argument("--latency-messages", type=int, default=1000)
    ap.add_argument("--latency-sessions", type=int, default=5)
    ap.add_argument("--variant", metavar="YAML",
                    help="also measure a second meshgate whose configuration has this file's "
                         "settings added (e.g. bench/variants/audit-off.yaml), in the same "
                         "rounds; its label is the file's first comment line")
    ap.add_argument("--out", help="write the Markdown section here too")
    ap.add_argument("--command", default="bench/milter_bench.sh",
                    help="the command line to print in the results")
    args = ap.parse_args()
    mgharness.require_prerequisites(need_postfix=True)
    mgharness.reap_orphans()

    h = Harness("milter_bench", os.path.abspath(args.meshgate), 3600)
    log("work folder %s" % h.dir)
    try:
        section = bench(h, args)
        print(section)
        if args.out:
            with open(args.out, "w") as f:
                f.write(section)
        status = 0
    except Exception as e:
        import traceback
        traceback.print_exc()
        print("milter_bench: FAILED: %s (work folder kept: %s)" % (e, h.dir), flush=True)
        status = 1
    finally:
        for p in h.teardown():
            print("teardown: %s" % p)
        h.finished()
    if status == 0:
        import shutil
        shutil.rmtree(h.dir, ignore_errors=True)
    return status


def bench(h, args):
    args.load_before = os.getloadavg()
    load_start = time.monotonic()
    # meshgate: recipient contacts-only, 100k contacts including the sender.
    mg = h.meshgate()
    limits = [("per-client", "client_address", "1m", 10_000_000, "tempfail"),
              ("per-sender", "sender", "1h", 10_000_000, "tempfail")]
    mg.write_config(abuse_exempt_loopback=False, abuse_limits=limits)
    mg.account(RECIPIENT, "contacts-only")
    csv = h.path("contacts.csv")
    with open(csv, "w") as f:
        f.write("email,name\n")
        for i in range(args.contacts - 1):
            f.write("c%06d@example.net,Contact %d\n" % (i, i))
            if i == args.contacts // 2:
                f.write("%s,The Friend\n" % SENDER)
    mg.cli("contacts", "import", csv, "--account", RECIPIENT, timeout=1800)
    listed = mg.cli("contacts", "list", "--account", RECIPIENT, timeout=600)
    n_contacts = len(listed.stdout.splitlines())
    check(n_contacts == args.contacts, "catalog has %d contacts, expected %d" %
          (n_contacts, args.contacts))
    log("catalog of %s: %d contacts loaded in %.0fs" % (RECIPIENT, n_contacts,
                                                        time.monotonic() - load_start))
    # `meshgate run` with the policy service on plain HTTP (loopback) for GET /metrics; the
    # milter is the same service as under `meshgate milter`.
    metrics_port = mgharness.free_port()
    with open(mg.config_path) as f:
        text = f.read()
    check("mesh_service:\n  enabled: false\n" in text, "unexpected harness config layout")
    text = text.replace("mesh_service:\n  enabled: false\n",
                        "mesh_service:\n  enabled: true\n  plain_http: true\n"
                        "  listen: 127.0.0.1:%d\n" % metrics_port)
    with open(mg.config_path, "w") as f:
        f.write(text)
    variant = start_variant(h, mg, args.variant, limits) if args.variant else None
    mg.start("run")
    metrics_url = "http://127.0.0.1:%d/metrics" % metrics_port

    null_sock = h.path("null.sock")
    null_all_sock = h.path("null-all.sock")
    null_procs = []
    for name, extra, sock in (("null_milter", [], null_sock),
                              ("null_milter_all", ["-a"], null_all_sock)):
        p = Process(h, name, [args.null_milter] + extra + ["unix:" + sock],
                    h.path(name + ".log"))
        h.on_teardown(p.stop, "stop " + name)
        null_procs.append(p)
    for path in (null_sock, null_all_sock):
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        check(os.path.exists(path), "null_milter did not create " + path)

    sink = h.smtp_sink(dump=False)
    pf = h.postfix(sink, milter=None)
    milters = {"none": "", "null": "unix:" + null_sock, "null-all": "unix:" + null_all_sock,
               "meshgate": "unix:" + mg.socket_path}
    order = ["none", "null", "null-all", "meshgate"]
    if variant:
        milters["variant"] = "unix:" + variant.socket_path
        order.append("variant")
    sent = {"meshgate": 0, "variant": 0}  # messages each meshgate was sent, warm-ups included
    results = {k: [] for k in order}

    def use(name):
        pf.set(smtpd_milters=milters[name])
        pf.reload()
        time.sleep(1.0)

    meter = CpuMeter(pf, sink)
    milter_pid = {"none": None, "null": null_procs[0].pid, "null-all": null_procs[1].pid,
                  "meshgate": mg.process.pid, "variant": variant.process.pid if variant else None}
    cpu = {k: [] for k in order}

    def measure(name, n, sessions):
        use(name)
        smtp_source(pf.port, 100, sessions, args.size, 600)  # warm-up
        check(pf.wait_queue_empty(300), "queue did not drain after the warm-up")
        before = meter.snapshot(milter_pid.get(name))
        elapsed = smtp_source(pf.port, n, sessions, args.size, 1800)
        check(pf.wait_queue_empty(600), "queue did not drain after %s" % name)
        after = meter.snapshot(milter_pid.get(name))
        if name in cpu:
            cpu[name].append({k: (after[k] - before[k]) * 1000.0 / n for k in after})
        return elapsed

    for rnd in range(args.rounds):
        rotated = order[rnd % len(order):] + order[:rnd % len(order)]
        for name in rotated:
            elapsed = measure(name, args.messages, args.sessions)
            rate = args.messages / elapsed
            results[name].append(rate)
            if name in sent:
                sent[name] += args.messages + 100
            log("round %d: %-9s %7.1f msg/s (%d messages in %.1fs)" %
                (rnd + 1, name, rate, args.messages, elapsed))

    # meshgate's own decision latency over the throughput rounds (and their warm-ups).
    with urllib.request.urlopen(metrics_url, timeout=30) as r:
        own = decision_quantiles(r.read().decode("utf-8", "replace"), "milter")
    check(own, "no meshgate_decision_seconds series for the milter at " + metrics_url)

    # Latency through the timing proxy, at lower concurrency.
    latency = {}
    for name, target in (("null-all", null_all_sock), ("meshgate", mg.socket_path)):
        proxy_path = h.path("proxy-%s.sock" % name)
        proxy = MilterProxy(proxy_path, target)
        milters["proxy-" + name] = "unix:" + proxy_path
        use("proxy-" + name)
        smtp_source(pf.port, 100, args.latency_sessions, args.size, 600)
        check(pf.wait_queue_empty(300), "queue did not drain")
        with proxy.lock:
            proxy.messages.clear()
        smtp_source(pf.port, args.latency_messages, args.latency_sessions, args.size, 1800)
        check(pf.wait_queue_empty(600), "queue did not drain")
        proxy.close()
        with proxy.lock:
            samples = list(proxy.messages)
        latency[name] = samples
        if name == "meshgate":
            sent["meshgate"] += args.latency_messages + 100
        log("latency %s: %d messages timed" % (name, len(samples)))

    # Sanity: the numbers are of mail that went through the whole decision.
    maillog = pf.maillog()
    check("milter-reject" not in maillog, "a milter rejected or tempfailed mail during the bench")
    decisions = decision_lines(mg)
    accepted = [line for line in decisions
                if "action=accept" in line and "contact=known-contact" in line]
    check(len(accepted) == sent["meshgate"] == len(decisions),
          "meshgate logged %d decisions, %d known-contact accepts, for %d messages" %
          (len(decisions), len(accepted), sent["meshgate"]))
    if variant:
        # Whatever the variant switches off, each message must still have been decided.
        logged = [line for line in decision_lines(variant) if "action=accept" in line]
        check(len(logged) == sent["variant"],
              "the variant logged %d accepts for %d messages" % (len(logged), sent["variant"]))
        variant.stop()
    mg.stop()
    return report(args, results, latency, n_contacts, cpu, own)


def decision_lines(meshgate):
    """The log lines of a meshgate's decisions on the bench's messages."""
    return [line for line in meshgate.log().splitlines()
            if "milter: from=<%s> to=<%s>" % (SENDER, RECIPIENT) in line]


def variant_label(path):
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return os.path.basename(path)


def start_variant(h, mg, path, limits):
    """A second `meshgate milter` with a copy of the first one's store and key (the same
    catalog) and the settings of `path` added to the same configuration."""
    import shutil
    variant = h.meshgate("variant")
    shutil.rmtree(os.path.join(variant.dir, "var"), ignore_errors=True)
    shutil.copytree(os.path.join(mg.dir, "var"), os.path.join(variant.dir, "var"))
    with open(path) as f:
        extra = f.read()
    variant.write_config(abuse_exempt_loopback=False, abuse_limits=limits, extra=extra)
    variant.start("milter")
    log("variant: %s (%s)" % (variant_label(path), path))
    return variant


def decision_quantiles(text, frontend):
    """{stage: (count, p50 s, p99 s)} from a Prometheus text page's meshgate_decision_seconds
    buckets for one front-end; quantiles interpolated linearly within the bucket, as
    histogram_quantile() does."""
    buckets = {}
    pattern = re.compile(r'^meshgate_decision_seconds_bucket\{(.*)\} (\d+(?:\.\d+)?)$')
    for line in text.splitlines():
        m = pattern.match(line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("frontend") != frontend:
            continue
        le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        buckets.setdefault(labels.get("stage", "?"), []).append((le, float(m.group(2))))
    out = {}
    for stage, bs in buckets.items():
        bs.sort()
        total = bs[-1][1]
        if total <= 0:
            continue

        def quantile(q):
            rank = q * total
            lower, below = 0.0, 0.0
            for le, cum in bs:
                if cum >= rank:
                    if le == float("inf"):
                        return lower
                    inside = cum - below
                    return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
                lower, below = le, cum
            return lower
        out[stage] = (int(total), quantile(0.5), quantile(0.99))
    return out


def report(args, results, latency, n_contacts, cpu, own):
    med = {k: statistics.median(v) for k, v in results.items()}
    lines = []
    lines.append("## Milter throughput through Postfix: no milter, null milter, meshgate "
                 "(milter_bench, %s)" % time.strftime("%Y-%m-%d"))
    lines.append("")
    lines.append("Command: `%s` (commit %s; %d rounds of %d messages per configuration, "
                 "%d sessions, %d-byte bodies, one message per SMTP session; the order of the "
                 "configurations rotates between rounds; median of the rounds)" %
                 (args.command, git_commit(), args.rounds, args.messages, args.sessions,
                  args.size))
    lines.append("Machine: %d CPUs, %s; %s; Postfix %s; load average (1/5/15 min) %s at the "
                 "start, %s at the end (the machine is shared: other jobs ran meanwhile)" %
                 (os.cpu_count(), cpu_model(), platform.platform(),
                  run(["postconf", "-h", "mail_version"]).stdout.strip(),
                  " ".join("%.1f" % x for x in args.load_before),
                  " ".join("%.1f" % x for x in os.getloadavg())))
    lines.append("")
    lines.append("| configuration | msg/s (median) | rounds | ratio to null milter |")
    lines.append("|---|---:|---|---:|")
    names = {"none": "no milter", "null": "null milter (envfrom+eom only, adds one header)",
             "null-all": "null milter -a (meshgate's conversation and header edit, no work)",
             "meshgate": "meshgate, %d-contact catalog, all checks on" % n_contacts}
    rows = [k for k in ("none", "null", "null-all", "meshgate", "variant") if results.get(k)]
    label = variant_label(args.variant) if "variant" in rows else ""
    if label:
        names["variant"] = "meshgate, %s (`%s`)" % (label, args.variant)
    for k in rows:
        ratio = med[k] / med["null"] if med["null"] else float("nan")
        lines.append("| %s | %.1f | %s | %.2f |" %
                     (names[k], med[k], ", ".join("%.1f" % x for x in results[k]), ratio))
    lines.append("")
    lines.append("**meshgate / null milter = %.2f** (target >= 0.9); meshgate / null milter -a "
                 "= %.2f; null milter / no milter = %.2f." %
                 (med["meshgate"] / med["null"], med["meshgate"] / med["null-all"],
                  med["null"] / med["none"]))
    lines.append("")
    # The ratio of medians mixes rounds that ran at different times; the ratio within each
    # round compares runs a minute apart, so a slow spell of the shared machine hits both.
    paired = [m / n for m, n in zip(results["meshgate"], results["null"]) if n]
    paired_floor = [m / n for m, n in zip(results["meshgate"], results["null-all"]) if n]
    if paired:
        lines.append("The same ratio within each round (meshgate and the null milter measured "
                     "in the same round, minutes apart): %s; median **%.2f**, range %.2f-%.2f. "
                     "meshgate / null milter -a within each round: median %.2f, range "
                     "%.2f-%.2f." %
                     (", ".join("%.2f" % r for r in paired), statistics.median(paired),
                      min(paired), max(paired), statistics.median(paired_floor),
                      min(paired_floor), max(paired_floor)))
        if "variant" in rows:
            pv = [m / n for m, n in zip(results["variant"], results["null"]) if n]
            lines.append("The variant (%s) / null milter within each round: %s; median **%.2f**; "
                         "by medians %.2f." %
                         (label, ", ".join("%.2f" % r for r in pv),
                          statistics.median(pv), med["variant"] / med["null"]))
        lines.append("")
    lines.append("CPU per message (ms, median of the rounds; user+system from /proc): every "
                 "Postfix daemon of the instance (live ones plus the master's reaped children), "
                 "the milter process, and the load tools (smtp-source, smtp-sink, the harness's "
                 "postqueue polls). Unlike msg/s it does not depend on what else the machine "
                 "runs. \"Modeled msg/s\" = %d CPUs / total CPU per message, what a machine "
                 "of this size doing nothing else would reach if CPU-bound:" % os.cpu_count())
    lines.append("")
    lines.append("| configuration | Postfix | milter | tools | total | modeled msg/s | "
                 "modeled ratio to null milter |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    med_cpu = {}
    for k in rows:
        if not cpu.get(k):
            continue
        med_cpu[k] = {part: statistics.median(r[part] for r in cpu[k])
                      for part in ("postfix", "milter", "tools")}
        med_cpu[k]["total"] = sum(med_cpu[k].values())
    for k, c in med_cpu.items():
        modeled = os.cpu_count() * 1000.0 / c["total"] if c["total"] else float("nan")
        base = os.cpu_count() * 1000.0 / med_cpu["null"]["total"] if "null" in med_cpu \
            else float("nan")
        lines.append("| %s | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f |" %
                     (names[k], c["postfix"], c["milter"], c["tools"], c["total"], modeled,
                      modeled / base))
    lines.append("")
    lines.append("meshgate's own decision latency (`meshgate_decision_seconds{frontend=\"milter\"}` "
                 "from its GET /metrics after the throughput rounds, every message of the "
                 "rounds and warm-ups at %d sessions; p50/p99 interpolated within the "
                 "histogram's buckets). The time from the milter callback's start to its "
                 "answer, the decision only (not libmilter's or Postfix's part):" %
                 args.sessions)
    lines.append("")
    lines.append("| stage | decisions | p50 ms | p99 ms |")
    lines.append("|---|---:|---:|---:|")
    for stage in sorted(own):
        n, p50, p99 = own[stage]
        lines.append("| %s | %d | %.3f | %.3f |" % (stage, n, p50 * 1000, p99 * 1000))
    lines.append("")
    lines.append("Milter time per message, measured outside meshgate (also for the null milter, "
                 "which has no metrics): "
                 "a unix-socket proxy between Postfix and the milter timestamps each milter "
                 "command and the milter's final reply; per message, the waits from MAIL FROM "
                 "to the end-of-message reply are summed. %d messages, %d sessions (lower "
                 "concurrency, so that the Python proxy is not the bottleneck; the proxy adds "
                 "its own scheduling delay to both rows alike):" %
                 (args.latency_messages, args.latency_sessions))
    lines.append("")
    lines.append("| milter | messages | total p50 ms | total p99 ms | MAIL p50/p99 ms | "
                 "RCPT p50/p99 ms | headers+EOH p50/p99 ms | body p50/p99 ms | "
                 "EOM p50/p99 ms |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("null-all", "meshgate"):
        samples = latency.get(name, [])
        tot = [sum(m.values()) * 1000 for m in samples]
        row = ["null milter -a" if name == "null-all" else "meshgate", str(len(samples)),
               "%.2f" % percentile(tot, 50), "%.2f" % percentile(tot, 99)]
        for stage in ("mail", "rcpt", "header", "body", "eom"):
            vals = [m.get(stage, 0.0) * 1000 for m in samples]
            row.append("%.2f / %.2f" % (percentile(vals, 50), percentile(vals, 99)))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
