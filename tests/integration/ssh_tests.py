#!/usr/bin/env python3
# NAME
#   ssh_tests.py - the SSH adapter against a real OpenSSH sshd: `meshgate ssh authorized-keys`
#   as its AuthorizedKeysCommand decides which keys log in.
#
# SYNOPSIS
#   ssh_tests.py NAME --meshgate build/h-adapters/cli/meshgate
#   (ctest runs each NAME as integration.ssh.NAME; see tests.cmake)
#
# DESCRIPTION
#   Each test starts its own sshd (Debian's openssh-server) on a free loopback port with its
#   own sshd_config, host key and pid file, AuthorizedKeysFile none (only the catalog decides)
#   and AuthorizedKeysCommand = a wrapper running `meshgate ssh authorized-keys --config
#   <the test's meshgate.yaml> %u %t %k`. The login is root (PermitRootLogin
#   prohibit-password), mapped by ssh.users to alice@example.com, so no system user is created.
#   sshd demands that the command and every folder above it be root-owned and not writable by
#   group or others, so the wrapper lives in a private folder under /run (removed at teardown).
#   AuthorizedKeysCommandUser is root here only because the test's files are root's; production
#   uses the gateway user (conf/sshd/sshd_config.snippet).
#
#   Logins are `ssh -i KEY -p PORT -o BatchMode=yes root@127.0.0.1 true`; exit 0 = logged in.
#
#   Skipped (77) when not root or when /usr/sbin/sshd is missing (scripts/deps --test).
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import Process, Skipped, check, free_port, log, run, run_tests, wait_port  # noqa: E402

SSHD = "/usr/sbin/sshd"
ACCOUNT = "alice@example.com"


class Sshd:
    """A private sshd on 127.0.0.1:PORT asking meshgate for authorized keys."""

    def __init__(self, h, mg):
        if not os.access(SSHD, os.X_OK) or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
            raise Skipped("openssh-server / openssh-client not installed (scripts/deps --test)")
        self.h = h
        self.dir = h.path("sshd")
        os.makedirs(self.dir)
        # sshd's check of the command path: root-owned, no group/other write, all the way up.
        self.cmd_dir = tempfile.mkdtemp(prefix="meshgate-ssh-it-", dir="/run")
        os.chmod(self.cmd_dir, 0o755)
        h.on_teardown(lambda: shutil.rmtree(self.cmd_dir, ignore_errors=True), "remove " + self.cmd_dir)
        self.wrapper = os.path.join(self.cmd_dir, "authorized-keys")
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s ssh authorized-keys --config %s \"$@\"\n" %
                    (mg.binary, mg.config_path))
        os.chmod(self.wrapper, 0o755)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        self.host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.host_key])
        self.port = free_port()
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write(f"""# written by tests/integration/ssh_tests.py
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {self.dir}/sshd.pid
AuthorizedKeysFile none
AuthorizedKeysCommand {self.wrapper} %u %t %k
AuthorizedKeysCommandUser root
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
""")
        run([SSHD, "-t", "-f", self.config])
        self.process = Process(h, "sshd", [SSHD, "-D", "-e", "-f", self.config],
                               os.path.join(self.dir, "sshd.log"))
        h.on_teardown(self.process.stop, "stop sshd")
        wait_port(self.port, 10, "sshd", alive=self.process.alive)

    def login(self, key_file):
        """True when `ssh -i key_file root@127.0.0.1 true` gets in."""
        p = subprocess.run(
            ["ssh", "-F", "/dev/null", "-i", key_file, "-p", str(self.port),
             "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "root@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        log("ssh -i %s: exit %d %s" % (os.path.basename(key_file), p.returncode, p.stderr.strip()))
        return p.returncode == 0


def user_key(h, name):
    path = h.path("keys", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path])
    return path


def setup(h, ssh_config):
    mg = h.meshgate()
    mg.write_config(extra="ssh:\n  users:\n    root: %s\n%s" % (ACCOUNT, ssh_config))
    mg.account(ACCOUNT)
    return mg


def udf_of(mg, key_file):
    """The fingerprint `meshgate ssh allow` printed for the key (from `ssh list`)."""
    out = mg.cli("ssh", "list", "--account", ACCOUNT).stdout
    name = os.path.basename(key_file)
    for line in out.splitlines():
        if line.endswith("# " + name):
            return line.split()[1][len("udf:"):]
    raise AssertionError("no %s in ssh list:\n%s" % (name, out))


def authorized_keys(mg, key_file=None):
    args = [mg.binary, "ssh", "authorized-keys", "--config", mg.config_path, "root"]
    if key_file:
        with open(key_file + ".pub") as f:
            args += f.read().split()[:2]
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def cache_times(path):
    """The read times in the cache file (adapters/ssh_authorized_keys.cc): service, accounts."""
    with open(path) as f:
        lines = f.read().splitlines()
    check(lines[0] == "MeshgateSshCache 1", "cache format: %r" % lines[0])
    return [int(l.split(" ")[1 if l.startswith("S ") else 2]) for l in lines[1:]]


def set_cache_times(path, t):
    """Makes every part of the cache look read at time t."""
    with open(path) as f:
        lines = f.read().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        words = line.split(" ")
        words[1 if words[0] == "S" else 2] = str(t)
        out.append(" ".join(words))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def test_catalog_decides(h):
    mg = setup(h, "  cache_refresh: 5m\n")
    permitted, stranger, revoked = (user_key(h, n) for n in ("permitted", "stranger", "revoked"))
    mg.cli("ssh", "allow", "--account", ACCOUNT, "--key", permitted + ".pub", "--option", "pty")
    mg.cli("ssh", "allow", "--account", ACCOUNT, "--key", revoked + ".pub")
    sshd = Sshd(h, mg)

    check(sshd.login(permitted), "a key the catalog permits logs in")
    check(not sshd.login(stranger), "a key not in the catalog does not log in")
    check(sshd.login(revoked), "the second key logs in before it is revoked")

    mg.cli("ssh", "revoke", "--key", revoked + ".pub", "--reason", "laptop stolen")
    check(not sshd.login(revoked), "a revoked key does not log in (cache updated by revoke)")
    check(sshd.login(permitted), "the other key still logs in")

    # What sshd was told: restrict plus the granted option, the fingerprint in the comment.
    r = authorized_keys(mg, permitted)
    check(r.returncode == 0, "authorized-keys exit 0: %s" % r.stderr)
    lines = r.stdout.splitlines()
    check(len(lines) == 1 and lines[0].startswith("restrict,pty ssh-ed25519 "),
          "one line with restrict,pty: %r" % r.stdout)
    check(" udf:%s %s" % (udf_of(mg, permitted), ACCOUNT) in lines[0], "fingerprint in the comment")
    everything = authorized_keys(mg)
    check(everything.stdout.count("\n") == 1, "without a key: only the permitted, unrevoked key")

    # Withdrawn grant: refused at once.
    mg.cli("ssh", "remove", "--account", ACCOUNT, "--key", permitted + ".pub")
    check(not sshd.login(permitted), "a removed key does not log in")

    # known_hosts lines from the catalog's host credentials.
    ca = user_key(h, "host-ca")
    mg.cli("ssh", "add-host-ca", "--key", ca + ".pub", "--hosts", "*.example.com")
    kh = mg.cli("ssh", "known-hosts").stdout
    check("@cert-authority *.example.com ssh-ed25519 " in kh, "cert-authority line: %r" % kh)
    check("@revoked * ssh-ed25519 " in kh, "revoked line: %r" % kh)

    # Every change is in the audit log.
    audit = mg.cli("audit", "show").stdout
    for rule in ("ssh.allow", "ssh.revoke", "ssh.remove", "ssh.add-host-ca"):
        check(rule in audit, "audit log records %s" % rule)


def test_store_unavailable(h):
    # cache_refresh 0s: every login asks the store first, so the fallback is really exercised.
    mg = setup(h, "  cache_refresh: 0s\n  cache_max_age: 1h\n")
    permitted, revoked = (user_key(h, n) for n in ("permitted", "revoked"))
    mg.cli("ssh", "allow", "--account", ACCOUNT, "--key", permitted + ".pub")
    mg.cli("ssh", "allow", "--account", ACCOUNT, "--key", revoked + ".pub")
    mg.cli("ssh", "revoke", "--key", revoked + ".pub")
    sshd = Sshd(h, mg)
    check(sshd.login(permitted), "permitted key logs in with the store up")
    check(not sshd.login(revoked), "revoked key refused with the store up")

    # The store goes away: a folder where the SQLite file was, so it cannot be opened.
    db = mg.db_path
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.rename(db + suffix, db + suffix + ".away")
    os.mkdir(db)
    check(mg.cli("ssh", "list", check_rc=False).returncode != 0, "the store is really unavailable")

    check(sshd.login(permitted), "permitted key still logs in from the cache")
    check(not sshd.login(revoked), "revoked key still refused from the cache")
    r = authorized_keys(mg, permitted)
    check(r.returncode == 0 and r.stdout.startswith("restrict ssh-ed25519 "),
          "authorized-keys answers from the cache: %r %r" % (r.stdout, r.stderr))

    # A cache older than cache_max_age is not trusted: nothing printed, exit 1, no login.
    cache = os.path.join(mg.dir, "var", "ssh.cache")
    old = int(time.time() - 7200)
    set_cache_times(cache, old)
    r = authorized_keys(mg, permitted)
    check(r.returncode == 1 and r.stdout == "", "expired cache: exit 1, nothing printed (%r)" % r.stdout)
    check(not sshd.login(permitted), "expired cache and no store: even the permitted key is refused")

    # The store comes back: the next login refreshes the cache.
    os.rmdir(db)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix + ".away"):
            os.rename(db + suffix + ".away", db + suffix)
    check(sshd.login(permitted), "store back: permitted key logs in")
    check(cache_times(cache)[0] > old + 3600, "the cache was rewritten from the store")
    check(oct(os.stat(cache).st_mode & 0o777) == "0o640", "cache mode 0640")


if __name__ == "__main__":
    sys.exit(run_tests({
        "catalog_decides": (test_catalog_decides, {"postfix": False, "budget": 90}),
        "store_unavailable": (test_store_unavailable, {"postfix": False, "budget": 90}),
    }))
