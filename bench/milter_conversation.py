#!/usr/bin/env python3
# NAME
#   bench/milter_conversation.py - what Postfix sends each milter per message: packets by
#   milter command, macro packets by stage, bytes (issue 5 item 9: why the conversation that
#   ingress control, the signal and the content checks need costs what it costs).
#
# SYNOPSIS
#   python3 bench/milter_conversation.py [--messages 50] [BUILD_DIR]
#
# DESCRIPTION
#   A private Postfix on loopback (tests/integration/lib/mgharness.py) relays smtp-source's
#   2 KiB messages to smtp-sink, through a counting unix-socket proxy in front of each milter
#   in turn: the null milter (envfrom + eom), the null milter -a (meshgate's conversation, no
#   work) and meshgate (contacts-only recipient, the sender a contact). The proxy parses the
#   MTA -> milter stream (4-byte length, command byte, data) and counts each command; for
#   SMFIC_MACRO ('D') it counts the stage the macros are for (the first data byte). Prints a
#   Markdown table, per message. Counting, not timing: the numbers do not depend on the load.
import argparse
import collections
import os
import select
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration", "lib"))
import milter_bench  # noqa: E402
import mgharness  # noqa: E402
from mgharness import Harness, Process, check  # noqa: E402

REPLY_NAMES = {"O": "negotiate", "c": "continue", "a": "accept", "h": "add header",
               "i": "insert header", "m": "change header", "y": "reply code", "r": "reject",
               "t": "tempfail", "q": "quarantine", "-": "delete recipient"}
COMMAND_NAMES = {"A": "abort", "B": "body", "C": "connect", "D": "macro", "E": "end of message",
                 "H": "helo", "L": "header", "M": "mail", "N": "end of headers",
                 "O": "negotiate", "Q": "quit", "R": "rcpt", "T": "data"}


class CountingProxy:
    """Postfix -> this socket -> the milter, counting the MTA's packets."""

    def __init__(self, listen_path, target):
        self.target = target
        self.lock = threading.Lock()
        self.commands = collections.Counter()
        self.macro_stages = collections.Counter()
        self.replies = collections.Counter()  # milter -> MTA, by reply code
        self.bytes = 0
        if os.path.exists(listen_path):
            os.unlink(listen_path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(listen_path)
        os.chmod(listen_path, 0o666)
        self.server.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.server.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.target)
        except OSError:
            client.close()
            return
        pending = b""
        answered = b""
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
                    packets, pending = milter_bench.milter_packets(pending + data)
                    with self.lock:
                        self.bytes += len(data)
                        for command, payload in packets:
                            self.commands[chr(command)] += 1
                            if command == ord("D") and payload:
                                self.macro_stages[chr(payload[0])] += 1
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    client.sendall(data)
                    packets, answered = milter_bench.milter_packets(answered + data)
                    with self.lock:
                        for reply, _ in packets:
                            self.replies[chr(reply)] += 1
        except OSError:
            return
        finally:
            client.close()
            upstream.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build/release")
    ap.add_argument("--messages", type=int, default=50)
    args = ap.parse_args()
    meshgate = os.path.abspath(os.path.join(args.build, "cli", "meshgate"))
    null = os.path.abspath(os.path.join(args.build, "bench", "null_milter"))
    mgharness.require_prerequisites(need_postfix=True)
    mgharness.reap_orphans()
    h = Harness("milter_conversation", meshgate, 600)
    rows = []
    try:
        mg = h.meshgate()
        mg.write_config(abuse_exempt_loopback=False)
        mg.account(milter_bench.RECIPIENT, "contacts-only")
        mg.cli("contacts", "add", milter_bench.SENDER, "--account", milter_bench.RECIPIENT)
        mg.start("milter")
        sockets = {"meshgate": mg.socket_path}
        for name, extra in (("null milter", []), ("null milter -a", ["-a"])):
            path = h.path(name.replace(" ", "_") + ".sock")
            p = Process(h, name, [null] + extra + ["unix:" + path], h.path(name + ".log"))
            h.on_teardown(p.stop, "stop " + name)
            sockets[name] = path
        deadline = time.monotonic() + 10
        while not all(os.path.exists(s) for s in sockets.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        pf = h.postfix(h.smtp_sink(dump=False), milter=None)
        for name in ("null milter", "null milter -a", "meshgate"):
            proxy_path = h.path("count-%d.sock" % len(rows))
            proxy = CountingProxy(proxy_path, sockets[name])
            pf.set(smtpd_milters="unix:" + proxy_path)
            pf.reload()
            time.sleep(1.0)
            milter_bench.smtp_source(pf.port, args.messages, 5, 2048, 300)
            check(pf.wait_queue_empty(300), "queue did not drain after " + name)
            proxy.close()
            rows.append((name, proxy))
    finally:
        for problem in h.teardown():
            print("teardown: %s" % problem)
        h.finished()

    n = args.messages
    print("| milter | MTA packets | of which macro packets | macro packets by stage | other packets "
          "by command | bytes | milter replies |")
    print("|---|---:|---:|---|---|---:|---|")
    for name, proxy in rows:
        total = sum(proxy.commands.values())
        stages = ", ".join("%s %.0f" % (COMMAND_NAMES.get(k, k), v / n)
                           for k, v in sorted(proxy.macro_stages.items()))
        others = ", ".join("%s %.0f" % (COMMAND_NAMES.get(k, k), v / n)
                           for k, v in sorted(proxy.commands.items()) if k != "D")
        replies = ", ".join("%s %.0f" % (REPLY_NAMES.get(k, k), v / n)
                            for k, v in sorted(proxy.replies.items()))
        print("| %s | %.1f | %.1f | %s | %s | %d | %s |" % (
            name, total / n, proxy.commands["D"] / n, stages, others, proxy.bytes // n, replies))
    print("\nPer message, %d messages of 2048 bytes, one per SMTP session (the connection's "
          "negotiate, connect and quit are counted once per message)." % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
