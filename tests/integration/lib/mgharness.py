# NAME
#   mgharness.py - the integration-test harness: the real meshgate, a private Postfix on
#   loopback, smtp-sink, miltertest, a private PostgreSQL; one work folder per test.
#
# SYNOPSIS
#   from mgharness import Harness, check, run_tests
#   def test_something(h: Harness):
#       mg = h.meshgate()                    # writes meshgate.yaml (SQLite in the work folder)
#       mg.cli("account", "create", "alice@example.com", "--ingress", "contacts-only")
#       mg.start()                           # `meshgate milter`, waits for "meshgate ready"
#       sink = h.smtp_sink(); pf = h.postfix(sink, milter=mg)
#       r = smtp_send(pf.port, "a@example.net", ["alice@example.com"], message(...))
#   run_tests({"something": test_something})  # command line: NAME --meshgate BIN
#
# DESCRIPTION
#   Everything a test starts lives in one work folder /tmp/mgit-XXXX (short, because a unix
#   socket path must fit in 108 bytes; mode 0711 so Postfix's smtpd, user postfix, can reach the
#   milter socket in it): meshgate.yaml, the SQLite store, the gateway key, meshgate's log, the
#   Postfix instance (its own config_directory, queue_directory, data_directory, maillog_file,
#   ports), smtp-sink's dump folder. Ports are free loopback ports picked at random, so tests
#   run in parallel and never touch the system Postfix (/etc/postfix is only read: nothing).
#
#   Teardown runs even when the test fails, in reverse order of start: Postfix stopped
#   (postfix -c DIR stop, then any of its processes still alive, found by MAIL_CONFIG in their
#   environment, killed by pid), smtp-sink and meshgate SIGTERMed then SIGKILLed, PostgreSQL
#   stopped and removed. A budget (SIGALRM) bounds every test below ctest's timeout, so the
#   teardown still runs when a test hangs. A harness killed outright (SIGKILL) leaves an
#   owner.pid behind; the next harness that starts reaps such orphans (reap_orphans()).
#   meshgate and smtp-sink also get PR_SET_PDEATHSIG, so they die with the harness.
#
#   The folder is removed after a passing test and kept after a failing one (its path is
#   printed; the next run removes it a day later); MESHGATE_IT_KEEP=1 keeps it always.
#
#   Exit status of run_tests(): 0 passed, 1 failed, 77 skipped (ctest SKIP_RETURN_CODE) with the
#   reason printed, only when a prerequisite is truly missing (not root, no postfix, ...).
#
# SECURITY
#   Runs as root (Postfix's master needs it). Kills only processes it started (by pid), or
#   processes whose environment names one of its own Postfix config folders.
import contextlib
import ctypes
import email
import email.policy
import email.utils
import json
import os
import pty
import random
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77
WORK_PREFIX = "mgit-"
WORK_PARENT = "/tmp"
KEEP_FAILED_SECONDS = 24 * 3600
LIB_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(LIB_DIR, "..", "..", ".."))


class Skipped(Exception):
    """A prerequisite is genuinely missing: the test is reported as skipped (exit 77)."""


class TestFailed(AssertionError):
    pass


class BudgetExceeded(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailed(message)


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# ---------------------------------------------------------------------------------------------
# processes

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec: the child gets SIGKILL when the harness dies.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setpgrp()


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_pid_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def run(cmd, timeout=60, check_rc=True, env=None, input=None):
    """Runs a command, returns CompletedProcess with text output; raises TestFailed on error."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           input=input)
    except subprocess.TimeoutExpired as e:
        raise TestFailed("timed out after %ss: %s" % (timeout, " ".join(cmd))) from e
    if check_rc and p.returncode != 0:
        raise TestFailed("command failed (exit %d): %s\nstdout: %s\nstderr: %s" %
                         (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    return p


def run_pty(cmd, timeout=60):
    """Runs a command with a pseudo-terminal as stdout/stderr (Postfix's commands only print
    their errors to a terminal; without one they go to syslog, which a test machine may lack).
    Returns (exit status, output)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                             close_fds=True)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        try:
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            raise TestFailed("timed out after %ss: %s" % (timeout, " ".join(cmd)))
    finally:
        os.close(master)
    return rc, out.decode("utf-8", "replace").replace("\r\n", "\n")


class Process:
    """A background process started by the harness, output to a log file."""

    def __init__(self, harness, name, cmd, log_path, env=None, die_with_parent=True):
        self.name = name
        self.cmd = cmd
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env,
                                      preexec_fn=_die_with_parent if die_with_parent else None)
        self.pid = self.popen.pid
        harness.record_pid(name, self.pid, cmd[0])

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=15):
        """SIGTERM, wait, SIGKILL. Returns the exit status (negative = killed by signal)."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log("%s (pid %d) did not stop within %ss after SIGTERM: SIGKILL" %
                    (self.name, self.pid, timeout))
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()
        return self.popen.returncode

    def kill(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        self._log.close()
        return self.popen.returncode

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# ports


_ports_handed_out = set()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range so an
    outgoing connection does not take it meanwhile, and never one this process handed out
    before: a port given to a server that is not listening yet (or is stopped for a restart)
    looks free, and two parties on one port meet each other's clients - smtp-sink and Postfix
    listen with SO_REUSEPORT, so the second may even bind it."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _ports_handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_handed_out.add(port)
        return port
    raise TestFailed("no free TCP port found")


def wait_port(port, timeout, what, alive=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect(("127.0.0.1", port))
                return
            except OSError:
                pass
        if alive is not None and not alive():
            raise TestFailed("%s exited before listening on port %d" % (what, port))
        time.sleep(0.05)
    raise TestFailed("%s is not listening on 127.0.0.1:%d after %ss" % (what, port, timeout))


# ---------------------------------------------------------------------------------------------
# meshgate

DOMAIN = "example.com"


class Meshgate:
    """The real meshgate binary with its own meshgate.yaml, store and key in the work folder."""

    def __init__(self, harness, binary, name="meshgate"):
        self.h = harness
        self.binary = binary
        self.name = name
        self.dir = harness.path(name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o711)
        self.config_path = os.path.join(self.dir, "meshgate.yaml")
        self.socket_path = os.path.join(self.dir, "milter.sock")
        self.db_path = os.path.join(self.dir, "var", "meshgate.db")
        self.key_file = os.path.join(self.dir, "var", "keys", "gateway.key")
        self.log_path = os.path.join(self.dir, "meshgate.log")
        self.policyd_port = None
        self.process = None
        self.starts = 0
        self.write_config()

    def write_config(self, ingress_default="tag-unknown", abuse_enabled=True,
                     abuse_exempt_loopback=True, abuse_limits=None, on_error="tempfail",
                     policyd=False, backend="sqlite", pg_dsn="", busy_timeout="500ms",
                     decision_timeout="5s", debug=False, abuse_flush_interval="250ms",
                     extra=""):
        if policyd and self.policyd_port is None:
            self.policyd_port = free_port()
        if abuse_limits is None:
            abuse_limits = [("per-client", "client_address", "1m", 300, "tempfail"),
                            ("per-sender", "sender", "1h", 1000, "tempfail")]
        limits = "".join(
            "    - name: %s\n      key: %s\n      window: %s\n      max: %d\n      action: %s\n"
            % limit for limit in abuse_limits)
        exempt = '["127.0.0.0/8"]' if abuse_exempt_loopback else "[]"
        text = f"""# written by tests/integration/lib/mgharness.py for one test
gateway:
  node: mx.{DOMAIN}
  domains: [{DOMAIN}]
  data_dir: {self.dir}/var
  key_file: {self.key_file}
store:
  backend: {backend}
  sqlite:
    path: {self.db_path}
    busy_timeout: {busy_timeout}
  postgresql:
    dsn: "{pg_dsn or 'host=127.0.0.1 port=1 dbname=unused'}"
    pool_size: 4
milter:
  enabled: true
  socket: unix:{self.socket_path}
  socket_mode: "0660"
  socket_group: postfix
  on_error: {on_error}
  decision_timeout: {decision_timeout}
mesh_service:
  enabled: false
policyd:
  enabled: {"true" if policyd else "false"}
  listen: 127.0.0.1:{self.policyd_port or 10050}
ingress:
  default: {ingress_default}
abuse:
  enabled: {"true" if abuse_enabled else "false"}
  limits:
{limits}  exempt_networks: {exempt}
  flush_interval: {abuse_flush_interval}
logging:
  debug: {"true" if debug else "false"}
{extra}"""
        with open(self.config_path, "w") as f:
            f.write(text)

    @property
    def public_key(self):
        return self.key_file + ".pub"

    def cli(self, *args, timeout=120, check_rc=True):
        """Runs `meshgate ARGS --config meshgate.yaml` (administrator commands)."""
        cmd = [self.binary] + list(args) + ["--config", self.config_path]
        return run(cmd, timeout=timeout, check_rc=check_rc)

    def account(self, address, ingress=None):
        args = ["account", "create", address]
        if ingress:
            args += ["--ingress", ingress]
        self.cli(*args)

    def contact(self, account, contact):
        self.cli("contacts", "add", "--account", account, contact)

    def start(self, command="milter", timeout=None):
        """Starts `meshgate COMMAND --config ... --foreground`; waits for "meshgate ready"."""
        timeout = timeout or self.h.scaled(30)
        if self.process is not None and self.process.alive():
            raise TestFailed("meshgate already running")
        start_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.starts += 1
        with open(self.log_path, "ab") as f:
            f.write(("--- start %d: %s %s\n" % (self.starts, command, time.strftime("%T")))
                    .encode())
        self.process = Process(self.h, "%s-%d" % (self.name, self.starts),
                               [self.binary, command, "--config", self.config_path,
                                "--foreground"], self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self._log_from(start_offset)
            if "meshgate ready" in text:
                if command in ("milter", "run") and not os.path.exists(self.socket_path):
                    raise TestFailed("meshgate ready but no socket at " + self.socket_path)
                return self
            if not self.process.alive():
                raise TestFailed("meshgate exited (status %s) before it was ready:\n%s" %
                                 (self.process.popen.returncode, text))
            time.sleep(0.05)
        raise TestFailed("meshgate not ready after %ss:\n%s" % (timeout,
                                                                 self._log_from(start_offset)))

    def _log_from(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def stop(self):
        """SIGTERM; the exit must be clean (status 0, no sanitizer report)."""
        if self.process is None:
            return
        rc = self.process.stop(timeout=self.h.scaled(15))
        self.check_sanitizers()
        check(rc == 0, "meshgate exited with status %s after SIGTERM; log %s" %
              (rc, self.log_path))

    def kill(self):
        if self.process is not None:
            self.process.kill()

    def teardown(self):
        """Stops it if running (a clean exit is required), and in every case fails on a
        sanitizer report in its log (a crash or leak in an earlier run of this test too)."""
        if self.process is not None and self.process.alive():
            self.stop()
        self.check_sanitizers()

    def log(self):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def check_sanitizers(self):
        text = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer"):
            check(marker not in text, "sanitizer report in meshgate's log %s:\n%s" %
                  (self.log_path, text[text.find(marker) - 200:][:4000]))

    def verify_signal(self, eml_path):
        """`meshgate signal verify FILE --key gateway.key.pub` -> (exit status, output)."""
        p = run([self.binary, "signal", "verify", eml_path, "--key", self.public_key],
                timeout=60, check_rc=False)
        return p.returncode, p.stdout + p.stderr


# ---------------------------------------------------------------------------------------------
# smtp-sink


class SmtpSink:
    """smtp-sink on a free loopback port, dumping each delivered transaction (-d) to a file."""

    def __init__(self, harness, dump=True):
        self.h = harness
        self.port = free_port()
        self.dir = harness.path("sink")
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postfix", "postfix")
        # -u postfix: smtp-sink refuses to run as root; -d: one file per transaction (dump=False
        # for benchmarks: accept and forget); backlog 1024 so that a burst of Postfix
        # deliveries is never refused.
        dump_args = ["-d", os.path.join(self.dir, "%Y%m%d%H%M%S.")] if dump else []
        self.process = Process(harness, "smtp-sink",
                               ["smtp-sink", "-u", "postfix"] + dump_args +
                               ["127.0.0.1:%d" % self.port, "1024"],
                               harness.path("smtp-sink.log"))
        wait_port(self.port, harness.scaled(10), "smtp-sink", self.process.alive)

    def files(self):
        """The dump files of finished transactions. smtp-sink opens a transaction's file at MAIL
        FROM and closes it after the end of DATA: a file it still holds open is being written
        (reading it then gives an empty or cut message), so it is left out until closed."""
        paths = [os.path.join(self.dir, n) for n in os.listdir(self.dir)]
        writing = set()
        fd_dir = "/proc/%d/fd" % self.process.pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            fds = []  # smtp-sink has exited: nothing is being written
        for fd in fds:
            try:
                writing.add(os.path.realpath(os.readlink(os.path.join(fd_dir, fd))))
            except OSError:
                pass
        return sorted(p for p in paths if os.path.realpath(p) not in writing)

    def messages(self):
        return [SinkMessage(p) for p in self.files()]

    def wait_count(self, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.files()) >= n:
                return True
            time.sleep(0.1)
        return len(self.files()) >= n

    def stop(self):
        self.process.stop(timeout=5)


class SinkMessage:
    """One transaction dumped by smtp-sink -d: its envelope lines (X-Client-Addr, X-Mail-Args,
    X-Rcpt-Args ...) and its own Received line come first; `message` is what Postfix sent."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            raw = f.read()
        self.raw = raw
        lines = raw.split(b"\n")
        self.envelope = {}
        i = 0
        while i < len(lines) and lines[i].startswith(b"X-") and b":" in lines[i]:
            name, value = lines[i].split(b":", 1)
            self.envelope.setdefault(name.decode(), []).append(value.strip().decode())
            i += 1
        # smtp-sink's own "Received: from ... by smtp-sink" header and its continuation lines
        if i < len(lines) and lines[i].startswith(b"Received:") and \
                b"smtp-sink" in b"\n".join(lines[i:i + 3]):
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
        self.message = b"\n".join(lines[i:])
        self.parsed = email.message_from_bytes(self.message, policy=email.policy.compat32)

    @property
    def recipients(self):
        out = []
        for arg in self.envelope.get("X-Rcpt-Args", []):
            m = re.match(r"<([^>]*)>", arg)
            if m:
                out.append(m.group(1).lower())
        return out

    def header_names(self):
        return [k for k, _ in self.parsed.items()]

    def headers(self, name):
        return [v for k, v in self.parsed.items() if k.lower() == name.lower()]

    def message_id(self):
        ids = self.headers("Message-Id")
        return ids[0].strip() if ids else None

    def write_message(self, path):
        with open(path, "wb") as f:
            f.write(self.message)
        return path


# ---------------------------------------------------------------------------------------------
# Postfix

MASTER_CF = """\
# written by tests/integration/lib/mgharness.py: a private instance, no chroot
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance: own config_directory (postfix -c DIR), queue_directory,
    data_directory, maillog_file; smtpd on a free 127.0.0.1 port; every domain relayed to
    smtp-sink; the milter (if given) in smtpd_milters with milter_default_action = tempfail."""

    def __init__(self, harness, sink, milter=None, extra=None, name="postfix", reinject=False):
        self.h = harness
        self.sink = sink
        self.port = free_port()
        # reinject: a second smtpd without the milter (conf/postfix/master.cf.snippet's
        # reinjection service), where meshgate's mesh_to_smtp hands over Mesh messages.
        self.reinject_port = free_port() if reinject else None
        base = harness.path(name)
        self.config_dir = os.path.join(base, "conf")
        self.queue_dir = os.path.join(base, "queue")
        self.data_dir = os.path.join(base, "data")
        self.maillog_path = os.path.join(base, "maillog")
        os.makedirs(self.config_dir)
        os.makedirs(self.queue_dir)
        os.makedirs(self.data_dir)
        os.chmod(base, 0o755)
        shutil.chown(self.data_dir, "postfix", "postfix")
        params = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": "postfix-" + os.path.basename(harness.dir),
            "maillog_file": self.maillog_path,
            "maillog_file_prefixes": harness.dir,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "mx." + DOMAIN,
            "mydestination": "",
            "relay_domains": DOMAIN,
            "relayhost": "[127.0.0.1]:%d" % sink.port,
            "relay_transport": "relay:[127.0.0.1]:%d" % sink.port,
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtp_dns_support_level": "disabled",
            "smtpd_peername_lookup": "no",
            "in_flow_delay": "0",
            "smtpd_error_sleep_time": "0",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "delay_warning_time": "0",
            "milter_default_action": "tempfail",
        }
        if milter is not None:
            params["smtpd_milters"] = "unix:" + milter.socket_path
        params.update(extra or {})
        self.params = params
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("# written by tests/integration/lib/mgharness.py\n")
            for k, v in params.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
            if self.reinject_port is not None:
                f.write("127.0.0.1:%d inet n - n - - smtpd\n  -o smtpd_milters=\n"
                        "  -o syslog_name=postfix/meshgate-reinject\n" % self.reinject_port)
        harness.record_postfix(self.config_dir)
        self.running = False

    def command(self, *args, timeout=60):
        rc, out = run_pty(["postfix", "-c", self.config_dir] + list(args), timeout=timeout)
        if rc != 0:
            raise TestFailed("postfix -c %s %s failed (exit %d):\n%s\nmaillog:\n%s" %
                             (self.config_dir, " ".join(args), rc, out, self.maillog()[-4000:]))
        return out

    def start(self):
        self.running = True  # so that teardown stops whatever part of it did start
        self.command("start", timeout=self.h.scaled(60))
        wait_port(self.port, self.h.scaled(20), "Postfix smtpd")
        if self.reinject_port is not None:
            wait_port(self.reinject_port, self.h.scaled(20), "Postfix reinjection smtpd")
        return self

    def reload(self):
        self.command("reload")

    def set(self, **params):
        """postconf -c DIR -e name=value ...; call reload() to apply while running."""
        args = ["%s=%s" % (k, v) for k, v in params.items()]
        run(["postconf", "-c", self.config_dir, "-e"] + args)
        self.params.update(params)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if not self.running:
            return
        self.running = False
        stop_postfix_instance(self.config_dir, self.master_pid())

    def maillog(self):
        if not os.path.exists(self.maillog_path):
            return ""
        with open(self.maillog_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_maillog(self, pattern, timeout=10):
        """The first match of the regular expression in the maillog, waiting for postlogd
        (it writes asynchronously); None after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.maillog())
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.1)

    def queue(self):
        """The queue as postqueue -j lists it: one dict per message (queue_name, queue_id,
        sender, recipients ...)."""
        p = run(["postqueue", "-c", self.config_dir, "-j"], timeout=30)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def wait_queue_empty(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            q = [m for m in self.queue() if m.get("queue_name") != "hold"]
            if not q:
                return True
            time.sleep(0.25)
        return False

    def flush(self):
        run(["postqueue", "-c", self.config_dir, "-f"], timeout=30)


def processes_with_mail_config(config_dir):
    """Pids of processes whose environment has MAIL_CONFIG=config_dir (the Postfix master
    exports it to every daemon of an instance started with postfix -c)."""
    needle = ("MAIL_CONFIG=" + config_dir).encode()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env and pid_alive(int(name)):
            out.append(int(name))
    return out


def stop_postfix_instance(config_dir, master_pid):
    rc, out = run_pty(["postfix", "-c", config_dir, "stop"], timeout=60)
    if rc != 0 and "not running" not in out:
        log("postfix -c %s stop: exit %d: %s" % (config_dir, rc, out.strip()))
    if master_pid and not wait_pid_gone(master_pid, 15):
        log("Postfix master %d still running after stop: SIGKILL" % master_pid)
        with contextlib.suppress(OSError):
            os.kill(master_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = processes_with_mail_config(config_dir)
        if not left:
            return
        time.sleep(0.2)
    for pid in processes_with_mail_config(config_dir):
        log("Postfix process %d of %s still running: SIGKILL" % (pid, config_dir))
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# PostgreSQL (private cluster through scripts/pg-test-server on a free port)


class PgServer:
    def __init__(self, harness):
        self.h = harness
        self.port = free_port()
        self.script = os.path.join(SOURCE_DIR, "scripts", "pg-test-server")
        self.dir = "/tmp/meshgate-pg-%d" % self.port
        self.env = dict(os.environ, MESHGATE_PG_PORT=str(self.port))
        pg_ctl = os.path.join(self.env.get("MESHGATE_PG_BIN", "/usr/lib/postgresql/15/bin"),
                              "pg_ctl")
        if not os.access(pg_ctl, os.X_OK):
            raise Skipped("PostgreSQL 15 is not installed (%s); scripts/deps --test installs it"
                          % pg_ctl)
        harness.record_pg(self.dir, self.port)
        self.dsn = None

    def start(self):
        p = run([self.script, "start"], env=self.env, timeout=self.h.scaled(120))
        self.dsn = p.stdout.strip().splitlines()[-1]
        return self.dsn

    def stop(self):
        run([self.script, "stop"], env=self.env, timeout=120, check_rc=False)

    def postmaster_pid(self):
        with open(os.path.join(self.dir, "postmaster.pid")) as f:
            return int(f.readline().strip())

    def destroy(self):
        pid = None
        with contextlib.suppress(OSError, ValueError):
            pid = self.postmaster_pid()
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)
        run([self.script, "destroy"], env=self.env, timeout=120, check_rc=False)


# ---------------------------------------------------------------------------------------------
# SMTP client side


def make_message(sender, recipients, subject="test", message_id=None, extra_headers=(),
                 body="Hello.\r\n", size=None):
    """An RFC 5322 message (bytes, CRLF). extra_headers: (name, value) pairs, written in order
    after Subject. size: pad the body to about this many bytes."""
    if message_id is None:
        message_id = "<%s.%d@test.%s>" % (os.urandom(8).hex(), os.getpid(), "example.net")
    lines = [
        "From: <%s>" % sender,
        "To: %s" % ", ".join("<%s>" % r for r in recipients),
        "Subject: %s" % subject,
        "Date: %s" % email.utils.formatdate(localtime=False),
        "Message-ID: %s" % message_id,
    ]
    for name, value in extra_headers:
        lines.append("%s: %s" % (name, value))
    text = "\r\n".join(lines) + "\r\n\r\n" + body
    if size is not None and len(text) < size:
        filler = ("x" * 70 + "\r\n")
        text += filler * ((size - len(text)) // len(filler) + 1)
    return text.encode(), message_id


class SmtpResult:
    def __init__(self):
        self.connect = None
        self.mail = None
        self.rcpt = {}
        self.data = None
        self.error = None

    @property
    def accepted(self):
        return self.data is not None and self.data[0] == 250

    def first_failure(self):
        for stage in (self.connect, self.mail, *self.rcpt.values(), self.data):
            if stage is not None and stage[0] >= 400:
                return stage
        return None

    def __repr__(self):
        return "SmtpResult(connect=%r, mail=%r, rcpt=%r, data=%r, error=%r)" % (
            self.connect, self.mail, self.rcpt, self.data, self.error)


def smtp_send(port, sender, recipients, message, timeout=60, helo="client.example.net"):
    """One SMTP transaction; records the reply of every stage (code, text). DATA is sent only
    if at least one recipient was accepted. Never raises for SMTP replies."""
    r = SmtpResult()
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=timeout) as s:
            r.connect = (220, "")
            code, msg = s.ehlo(helo)
            if code != 250:
                r.mail = (code, msg.decode("utf-8", "replace"))
                return r
            code, msg = s.mail(sender)
            r.mail = (code, msg.decode("utf-8", "replace"))
            if code != 250:
                return r
            ok = False
            for rcpt in recipients:
                code, msg = s.rcpt(rcpt)
                r.rcpt[rcpt] = (code, msg.decode("utf-8", "replace"))
                ok = ok or code in (250, 251)
            if not ok:
                return r
            code, msg = s.data(message)
            r.data = (code, msg.decode("utf-8", "replace"))
    except smtplib.SMTPServerDisconnected as e:
        r.error = "disconnected: %s" % e
    except smtplib.SMTPResponseException as e:
        # data() raises when the DATA command or the final dot is answered with an error
        err = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) \
            else str(e.smtp_error)
        if r.mail is None:
            r.connect = (e.smtp_code, err)
        else:
            r.data = (e.smtp_code, err)
    except OSError as e:
        r.error = "%s: %s" % (type(e).__name__, e)
    return r


class RetryingSender:
    """Sends `count` messages through `threads` concurrent SMTP sessions and retries every 4xx
    and connection error the way a real MTA does (smtp-source gives up at the first 451).
    Each message has a unique Message-Id; `accepted` maps Message-Id -> how many times the
    server answered 250 to its DATA (must end up 1 for each), `deferrals` counts 4xx replies
    by text, `rejections` lists 5xx replies (there must be none)."""

    def __init__(self, port, sender, recipient, count, threads=10, size=2048, retry_delay=0.2,
                 deadline=300.0):
        self.port = port
        self.sender = sender
        self.recipient = recipient
        self.count = count
        self.threads = threads
        self.size = size
        self.retry_delay = retry_delay
        self.deadline = time.monotonic() + deadline
        self.lock = threading.Lock()
        self.next_index = 0
        self.accepted = {}
        self.deferrals = {}
        self.errors = {}
        self.rejections = []
        self.attempts = 0
        self.done = threading.Event()
        self._workers = []

    def _next(self):
        with self.lock:
            if self.next_index >= self.count:
                return None
            self.next_index += 1
            return self.next_index

    def accepted_count(self):
        with self.lock:
            return len(self.accepted)

    def _worker(self):
        while True:
            i = self._next()
            if i is None:
                return
            mid = "<nl-%06d.%s@test.example.net>" % (i, os.urandom(4).hex())
            message, _ = make_message(self.sender, [self.recipient], subject="no-loss %d" % i,
                                      message_id=mid, size=self.size)
            while True:
                if time.monotonic() > self.deadline:
                    with self.lock:
                        self.errors["gave up at the deadline"] = \
                            self.errors.get("gave up at the deadline", 0) + 1
                    return
                res = smtp_send(self.port, self.sender, [self.recipient], message, timeout=60)
                with self.lock:
                    self.attempts += 1
                if res.accepted:
                    with self.lock:
                        self.accepted[mid] = self.accepted.get(mid, 0) + 1
                    break
                fail = res.first_failure()
                if fail is not None and fail[0] >= 500:
                    with self.lock:
                        self.rejections.append((mid, fail))
                    break
                key = ("%d %s" % fail) if fail else (res.error or "no reply")
                key = re.sub(r"queued as \w+", "queued as ...", key)[:120]
                with self.lock:
                    if fail:
                        self.deferrals[key] = self.deferrals.get(key, 0) + 1
                    else:
                        self.errors[key] = self.errors.get(key, 0) + 1
                time.sleep(self.retry_delay)

    def start(self):
        for _ in range(self.threads):
            t = threading.Thread(target=self._worker, daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self._workers:
            t.join(max(0.1, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._workers)


# ---------------------------------------------------------------------------------------------
# miltertest


def miltertest(script, defines, timeout=60, cwd=None):
    """Runs `miltertest -s SCRIPT -D name=value ...`; returns (exit status, output)."""
    cmd = ["miltertest", "-s", script]
    for k, v in defines.items():
        cmd += ["-D", "%s=%s" % (k, v)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return -1, "miltertest timed out after %ss\n%s" % (timeout, out)
    return p.returncode, p.stdout + p.stderr


# ---------------------------------------------------------------------------------------------
# the harness


class Harness:
    def __init__(self, test_name, meshgate_binary, budget):
        self.test_name = test_name
        self.meshgate_binary = meshgate_binary
        self.budget = budget
        self.dir = tempfile.mkdtemp(prefix=WORK_PREFIX, dir=WORK_PARENT)
        os.chmod(self.dir, 0o711)
        self._cleanups = []
        self._registry = {"owner": os.getpid(), "test": test_name, "pids": [], "postfix": [],
                          "pg": []}
        self._save_registry()
        # An ASan build of meshgate is several times slower; tests scale their waits.
        self.slow = float(os.environ.get("MESHGATE_IT_SLOW", "0") or 0) or \
            (3.0 if is_sanitized(meshgate_binary) else 1.0)

    def scaled(self, seconds):
        return seconds * self.slow

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def _save_registry(self):
        tmp = self.path("owner.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self._registry, f)
        os.replace(tmp, self.path("owner.json"))

    def record_pid(self, name, pid, exe):
        self._registry["pids"].append({"name": name, "pid": pid, "exe": os.path.basename(exe)})
        self._save_registry()

    def record_postfix(self, config_dir):
        self._registry["postfix"].append(config_dir)
        self._save_registry()

    def record_pg(self, data_dir, port):
        self._registry["pg"].append({"dir": data_dir, "port": port})
        self._save_registry()

    def finished(self):
        """Teardown done: nothing of this test is left for reap_orphans()."""
        self._registry["finished"] = True
        self._save_registry()

    def on_teardown(self, fn, what):
        self._cleanups.append((fn, what))

    # Factories: each registers its teardown.
    def meshgate(self, name="meshgate"):
        mg = Meshgate(self, self.meshgate_binary, name)
        self.on_teardown(mg.teardown, "stop " + name)
        return mg

    def smtp_sink(self, dump=True):
        # A port picked free can be taken before smtp-sink binds it: then try another.
        for attempt in range(3):
            if os.path.exists(self.path("sink")):
                shutil.rmtree(self.path("sink"))
            sink = SmtpSink(self, dump=dump)
            self.on_teardown(sink.stop, "stop smtp-sink")
            time.sleep(0.2)
            if sink.process.alive():
                return sink
            log("smtp-sink could not use port %d; trying another" % sink.port)
        raise TestFailed("smtp-sink does not start: " + self.path("smtp-sink.log"))

    def postfix(self, sink, milter=None, extra=None, start=True, name="postfix", reinject=False):
        for attempt in range(3):
            if os.path.exists(self.path(name)):
                shutil.rmtree(self.path(name))
            pf = Postfix(self, sink, milter=milter, extra=extra, name=name, reinject=reinject)
            self.on_teardown(pf.stop, "stop Postfix")
            if not start:
                return pf
            try:
                return pf.start()
            except TestFailed as e:
                # A port picked free can be taken before master binds it: then try another.
                if "Address already in use" not in str(e) or attempt == 2:
                    raise
                log("Postfix could not bind port %d; trying another" % pf.port)

    def pg_server(self):
        pg = PgServer(self)
        self.on_teardown(pg.destroy, "destroy PostgreSQL")
        return pg

    def teardown(self):
        problems = []
        while self._cleanups:
            fn, what = self._cleanups.pop()
            try:
                fn()
            except Exception as e:  # keep tearing down the rest
                problems.append("%s: %s" % (what, e))
        return problems


def is_sanitized(binary):
    try:
        with open(binary, "rb") as f:
            return b"AddressSanitizer" in f.read()
    except OSError:
        return False


def reap_orphans():
    """Tears down what harnesses killed outright (SIGKILL by a ctest timeout) left behind."""
    for name in os.listdir(WORK_PARENT):
        if not name.startswith(WORK_PREFIX):
            continue
        reg_path = os.path.join(WORK_PARENT, name, "owner.json")
        try:
            with open(reg_path) as f:
                reg = json.load(f)
        except (OSError, ValueError):
            continue
        if reg.get("finished") or reg.get("reaped"):
            # A failed test's folder is kept for debugging; a day later it goes.
            with contextlib.suppress(OSError):
                if time.time() - os.path.getmtime(reg_path) > KEEP_FAILED_SECONDS:
                    shutil.rmtree(os.path.join(WORK_PARENT, name), ignore_errors=True)
            continue
        if pid_alive(reg.get("owner", 0)):
            continue
        log("reaping leftovers of an interrupted test run in %s/%s (%s)" %
            (WORK_PARENT, name, reg.get("test")))
        for config_dir in reg.get("postfix", []):
            if processes_with_mail_config(config_dir):
                stop_postfix_instance(config_dir, None)
        for entry in reg.get("pids", []):
            pid = entry["pid"]
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    exe = os.path.basename(f.read().split(b"\0")[0].decode())
            except OSError:
                continue
            if exe == entry["exe"] and pid_alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        for pg in reg.get("pg", []):
            env = dict(os.environ, MESHGATE_PG_PORT=str(pg["port"]))
            subprocess.run([os.path.join(SOURCE_DIR, "scripts", "pg-test-server"), "destroy"],
                           env=env, capture_output=True, timeout=120)
        reg["reaped"] = True
        with open(reg_path, "w") as f:
            json.dump(reg, f)


def require_prerequisites(need_postfix=True, need_miltertest=False):
    if os.geteuid() != 0:
        raise Skipped("integration tests need root (a private Postfix master runs as root)")
    missing = []
    tools = ["postfix", "postconf", "postqueue", "smtp-sink"] if need_postfix else []
    if need_miltertest:
        tools.append("miltertest")
    for tool in tools:
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            missing.append(tool)
    if missing:
        raise Skipped("missing %s (Debian packages postfix, miltertest: scripts/deps --test)" %
                      ", ".join(missing))
    if need_postfix:
        import grp
        import pwd
        try:
            pwd.getpwnam("postfix")
            grp.getgrnam("postfix")
            grp.getgrnam("postdrop")
        except KeyError:
            raise Skipped("no postfix user or group (install the Debian postfix package)")


def run_tests(tests):
    """Command line: NAME --meshgate BIN [--budget SECONDS]. Runs one test from `tests`
    (name -> (function, dict of options: postfix, miltertest, budget))."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(tests))
    ap.add_argument("--meshgate", required=True)
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds before the test is aborted (its teardown still runs)")
    args = ap.parse_args()
    fn, opts = tests[args.name]
    os.environ.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    if "/usr/sbin" not in os.environ["PATH"].split(":"):
        os.environ["PATH"] += ":/usr/sbin:/sbin"

    try:
        require_prerequisites(need_postfix=opts.get("postfix", True),
                              need_miltertest=opts.get("miltertest", False))
        if not os.access(args.meshgate, os.X_OK):
            raise TestFailed("no meshgate binary at %s" % args.meshgate)
    except Skipped as e:
        print("SKIPPED: %s: %s" % (args.name, e), flush=True)
        return SKIP

    reap_orphans()
    budget = args.budget or opts.get("budget", 120)
    h = Harness(args.name, os.path.abspath(args.meshgate), budget)
    budget = h.scaled(budget)
    log("%s: work folder %s (meshgate %s%s), budget %ds" %
        (args.name, h.dir, args.meshgate, ", sanitized" if h.slow > 1 else "", budget))

    def on_alarm(signum, frame):
        raise BudgetExceeded("test exceeded its budget of %ds" % budget)

    def on_term(signum, frame):
        raise BudgetExceeded("interrupted by signal %d" % signum)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.alarm(int(budget))
    status = 1
    started = time.monotonic()
    try:
        fn(h)
        status = 0
    except Skipped as e:
        print("SKIPPED: %s: %s" % (args.name, e), flush=True)
        status = SKIP
    except (TestFailed, BudgetExceeded) as e:
        print("FAILED: %s: %s" % (args.name, e), flush=True)
        traceback.print_exc()
    except Exception:
        print("FAILED: %s: unexpected error" % args.name, flush=True)
        traceback.print_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        try:
            problems = h.teardown()
        except BudgetExceeded:
            problems = ["teardown interrupted"]
        for p in problems:
            print("teardown: %s" % p, flush=True)
            if status == 0:
                print("FAILED: %s: teardown: %s" % (args.name, p), flush=True)
                status = 1
    elapsed = time.monotonic() - started
    h.finished()
    keep = os.environ.get("MESHGATE_IT_KEEP") == "1" or status == 1
    if keep:
        log("work folder kept: %s (meshgate log: meshgate/meshgate.log, Postfix: "
            "postfix/maillog)" % h.dir)
    else:
        shutil.rmtree(h.dir, ignore_errors=True)
    log("%s: %s in %.1fs" % (args.name, {0: "PASSED", 1: "FAILED", SKIP: "SKIPPED"}[status],
                             elapsed))
    return status
