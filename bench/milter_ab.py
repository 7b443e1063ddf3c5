#!/usr/bin/env python3
# NAME
#   milter_ab.py - the milter CPU a message of two meshgate builds, side by side, through the
#   same real Postfix: what a change to the milter's own work saves.
#
# SYNOPSIS
#   bench/milter_ab.py --baseline OLD/cli/meshgate --candidate NEW/cli/meshgate
#                      [--null-milter build/release/bench/null_milter] [--rounds 4]
#                      [--messages 2000] [--sessions 20] [--contacts 10000]
#
# DESCRIPTION
#   One private Postfix on loopback relaying to smtp-sink (the harness of milter_bench.py, which
#   has the details), one store with a --contacts catalog that holds the sender, and three
#   milters: `null_milter -a` (meshgate's conversation and header edit, no work: the floor) and
#   the two meshgate binaries, each `meshgate milter` on its own copy of the store and key. Each
#   round measures every milter once, the order rotating, after a 200-message warm-up: the
#   milter process's CPU time (user + system, /proc) per message over --messages messages sent
#   by smtp-source over --sessions sessions, and msg/s. CPU a message does not depend on what
#   else the machine runs the way msg/s does; the two builds alternate so that drift hits both.
#   Prints each round and the medians; meshgate's own work is its CPU less the floor's.
import argparse
import os
import shutil
import statistics
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import milter_bench as mb  # noqa: E402
from mgharness import Harness, Process, check, log  # noqa: E402
import mgharness  # noqa: E402


def start_copy(h, mg, name, binary, limits):
    """A second `meshgate milter` from `binary` with a copy of mg's store and key (the same
    catalog) and the same configuration (as milter_bench.py's variant)."""
    other = h.meshgate(name)
    other.binary = binary
    shutil.rmtree(os.path.join(other.dir, "var"), ignore_errors=True)
    shutil.copytree(os.path.join(mg.dir, "var"), os.path.join(other.dir, "var"))
    other.write_config(abuse_exempt_loopback=False, abuse_limits=limits)
    other.start("milter")
    return other


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="the meshgate binary before the change")
    ap.add_argument("--candidate", required=True, help="the meshgate binary after it")
    ap.add_argument("--null-milter", default=os.path.join(os.path.dirname(HERE), "build",
                                                          "release", "bench", "null_milter"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--contacts", type=int, default=10000)
    args = ap.parse_args()
    mgharness.require_prerequisites(need_postfix=True)
    mgharness.reap_orphans()
    h = Harness("milter_ab", os.path.abspath(args.baseline), 3600)
    try:
        mg = h.meshgate()
        limits = [("per-client", "client_address", "1m", 10_000_000, "tempfail"),
                  ("per-sender", "sender", "1h", 10_000_000, "tempfail")]
        mg.write_config(abuse_exempt_loopback=False, abuse_limits=limits)
        mg.account(mb.RECIPIENT, "contacts-only")
        csv = h.path("contacts.csv")
        with open(csv, "w") as f:
            f.write("email,name\n")
            for i in range(args.contacts - 1):
                f.write("c%06d@example.net,Contact %d\n" % (i, i))
            f.write("%s,The Friend\n" % mb.SENDER)
        mg.cli("contacts", "import", csv, "--account", mb.RECIPIENT, timeout=1800)
        candidate = start_copy(h, mg, "candidate", os.path.abspath(args.candidate), limits)
        mg.start("milter")
        null_sock = h.path("null-all.sock")
        null = Process(h, "null_milter_all", [args.null_milter, "-a", "unix:" + null_sock],
                       h.path("null_milter_all.log"))
        h.on_teardown(null.stop, "stop null_milter_all")
        deadline = time.monotonic() + 10
        while not os.path.exists(null_sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        check(os.path.exists(null_sock), "null_milter did not create " + null_sock)
        sink = h.smtp_sink(dump=False)
        pf = h.postfix(sink, milter=None)
        milters = {"null-all": ("unix:" + null_sock, null.pid),
                   "baseline": ("unix:" + mg.socket_path, mg.process.pid),
                   "candidate": ("unix:" + candidate.socket_path, candidate.process.pid)}
        order = list(milters)
        cpu = {k: [] for k in order}
        rate = {k: [] for k in order}
        for rnd in range(args.rounds):
            for name in order[rnd % len(order):] + order[:rnd % len(order)]:
                spec, pid = milters[name]
                pf.set(smtpd_milters=spec)
                pf.reload()
                time.sleep(1.0)
                mb.smtp_source(pf.port, 200, args.sessions, 2048, 600)
                check(pf.wait_queue_empty(300), "queue did not drain after the warm-up")
                before = mb.proc_cpu(pid)
                elapsed = mb.smtp_source(pf.port, args.messages, args.sessions, 2048, 1800)
                check(pf.wait_queue_empty(600), "queue did not drain after " + name)
                cpu[name].append((mb.proc_cpu(pid) - before) * 1000.0 / args.messages)
                rate[name].append(args.messages / elapsed)
                log("round %d: %-9s %.3f ms CPU a message, %.1f msg/s" %
                    (rnd + 1, name, cpu[name][-1], rate[name][-1]))
        check("milter-reject" not in pf.maillog(), "a milter rejected or tempfailed mail")
        floor = statistics.median(cpu["null-all"])
        print("| milter | CPU ms a message (rounds) | median | own work (less null -a) "
              "| msg/s (median) |")
        print("|---|---|---:|---:|---:|")
        for name in order:
            m = statistics.median(cpu[name])
            print("| %s | %s | %.3f | %s | %.1f |" % (
                name, ", ".join("%.3f" % c for c in cpu[name]), m,
                "-" if name == "null-all" else "%.3f" % (m - floor),
                statistics.median(rate[name])))
        b, c = statistics.median(cpu["baseline"]), statistics.median(cpu["candidate"])
        print("\ncandidate / baseline milter CPU a message: %.2f (%+.3f ms)" % (c / b, c - b))
        return 0
    finally:
        for p in h.teardown():
            print("teardown: %s" % p)
        h.finished()


if __name__ == "__main__":
    sys.exit(main())
