#!/usr/bin/env python3
# NAME
#   injection_tests.py - SQL-injection-shaped and other hostile values through every input of
#   the administrator's CLI and of the Mesh service's HTTPS API (issue 9 item 3): they fail
#   harmlessly, or are stored as the data they are.
#
# SYNOPSIS
#   injection_tests.py cli_every_input --meshgate build/release/cli/meshgate --budget 120
#   injection_tests.py api_every_input --meshgate build/release/cli/meshgate --budget 90
#   (ctest runs each NAME as integration.injection.NAME; see tests.cmake)
#
# DESCRIPTION
#   cli_every_input  The CLI surface is read from the binary itself: `meshgate --help` lists
#                    the commands, `meshgate CMD --help` a group's sub-commands (recursively:
#                    `account app add`) or a command's positional arguments (Usage line and
#                    "Arguments:") and options ("Options:"; a metavar means it takes a value).
#                    A new command or option is therefore covered without editing this file;
#                    only the long-running services and the commands that never open the store
#                    are left out (NOT_TESTED, with the reason). For each command every
#                    positional argument and every option value in turn is set to each hostile
#                    value (hostile_values(); address_shaped() too where the input is an
#                    ADDRESS or CONTACT, so that the value passes the syntax checks and reaches
#                    SQL; --config, the same loader everywhere, gets CONFIG_VALUES), the other
#                    inputs keeping valid values (Baseline) that point at the sacrificial
#                    account mallory@example.com. File inputs also get files whose content is
#                    hostile (contacts CSV/vCard, SSH keys with hostile comments and types).
#                    Every call must exit 0, 1 or 2 (never a signal), with no sanitizer report;
#                    a failure must say why on stderr in a few lines (SILENT_FAILURE_OK: sshd's
#                    AuthorizedKeysCommand, silent by design). Afterwards: PRAGMA integrity_check
#                    and foreign_key_check, the same tables, the accounts set up first with
#                    exactly their contacts, SSH grants and details, their key folders, the
#                    Postfix-tool stand-ins never called with a hostile argument, no file made
#                    by the shell payloads, the canary folder the `rm -rf` payload names still
#                    there, `meshgate audit verify` (and `meshgate store check` when the binary
#                    has it) passing. Then hostile
#                    display names and quote/wildcard-bearing contact addresses must round-trip
#                    exactly through `account show` and `contacts list --json`, and removing
#                    "_@..." or "%@..." removes that entry only.
#   api_every_input  `meshgate policy` (the Mesh service, HTTPS with its self-signed
#                    certificate, pinned here) with the same accounts. Hostile values in query
#                    parameters and form fields (/access-check, /quarantine/confirm), JSON
#                    string fields of Mesh transactions (plain and inside a DareEnvelope's
#                    metadata), the transaction tag, path segments, and request headers; each
#                    also sent raw (not percent-encoded) where that makes a malformed request.
#                    Every answer must be 2xx or 4xx (never 5xx, never a dropped connection);
#                    the service's own /metrics must count no 5xx; afterwards it is still alive,
#                    /healthz answers 200 and the store passes the same checks. Cross-account:
#                    unsigned or forged-signature requests for alice's catalog or deletion are
#                    401 and change nothing. (Signed cross-account refusals need Ed25519, which
#                    Python's standard library lacks: they are the unit tests
#                    GetCatalog.RefusesBadConstraintsAndStrangers,
#                    Dispatcher.DeleteAccountByItsOwnKeyOrAnAdministrator and
#                    Dispatcher.PublishByAnAccountIsItsOwnKey.)
#
#   Each test logs how many invocations/requests it tried, by input kind and by hostile value.
#   No Postfix is needed; quarantine's postsuper/postcat/sendmail are stand-in scripts that
#   record their arguments.
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import check, free_port, log, run, run_tests, wait_port  # noqa: E402

FRIEND = "friend@partner.example"
VICTIM = "mallory@example.com"       # the account hostile calls act on
PROTECTED = ["alice@example.com", "bob@example.com", "carol@example.com"]
HELD_ID = "HELD0001"

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")

# Commands left out of cli_every_input, with why. Anything else the binary lists is tested.
NOT_TESTED = {
    "run": "long-running service",
    "milter": "long-running service",
    "policy": "long-running service (api_every_input tests its inputs)",
    "policyd": "long-running service",
    "check-config": "reads a YAML file only; never opens the store (fuzz_config_yaml)",
    "udf": "fingerprints of files and stdin; no store",
    "key": "key files; no store",
    "dare": "DARE envelopes of files; no store",
    "signal": "verifies a message file against a key; no store",
    "brand": "verifies a message file against a key; no store",
}

CONFIG_VALUES = ("shell-subst", "control-chars", "100KB")

# sshd's AuthorizedKeysCommand refuses silently by design: its reason goes to syslog
# (meshgate/ssh), stdout stays empty so sshd refuses the key (docs/ssh.md).
SILENT_FAILURE_OK = {"ssh authorized-keys"}

# The round trips store "$(touch /tmp/pwned)" as a display name; /tmp/pwned must not appear
# (unless something else made it before this test started).
TMP_PWNED_EXISTED = os.path.exists("/tmp/pwned")


def hostile_values(marker, canary):
    """(name, value) pairs tried in every input. `marker` is the file the shell payloads would
    create, `canary` the folder the rm payload names (relative to the CLI's working folder)."""
    big = ("x' OR '1'='1'; DROP TABLE accounts; -- %_* " * 3000)[:100 * 1024]
    return [
        ("sql-drop", "x'; DROP TABLE accounts; --"),
        ("sql-or", "' OR '1'='1"),
        ("sql-comment", "alice@example.com' --"),
        ("like-percent", "%"),
        ("like-underscore", "_"),
        ("glob-star", "*"),
        ("control-chars", "ctl\x01\x02\x07\x08\x1b[2J\x1b]0;owned\x07\x7f\r\n\tend"),
        ("100KB", big),
        ("rtl-override", "alice@example.com\u202e' OR 1=1 --\u202c"),
        ("shell-subst", "$(touch %s)" % marker),
        ("shell-backtick", "`touch %s`" % marker),
        ("shell-semicolon", "; rm -rf %s" % canary),
    ]


def address_shaped(marker):
    """Values that pass address syntax checks, so they reach the store's SQL."""
    return [
        ("addr-quote-or", "x'or'1'='1@example.com"),
        ("addr-quote-comment", "alice@example.com'--"),
        ("addr-like-underscore", "_lice@example.com"),
        ("addr-like-percent", "%@example.com"),
        ("addr-glob", "*@example.com"),
        ("addr-shell", "`touch${IFS}%s`@example.com" % marker),
        ("addr-traversal", "mallory@example.com/../alice@example.com"),
    ]


def b64u(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------
# the gateway under test: accounts, contacts, SSH grants, a held message


def stub_tools(h):
    """Stand-ins for postsuper, postcat and sendmail that record their arguments."""
    folder = h.path("tools")
    os.makedirs(folder, exist_ok=True)
    calls = os.path.join(folder, "calls.log")
    paths = {}
    for tool in ("postsuper", "postcat", "sendmail"):
        p = os.path.join(folder, tool)
        with open(p, "w") as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "%s $*" >> %s\ncat >/dev/null\n'
                    'echo "Subject: stand-in for %s"\nexit 0\n' % (tool, calls, tool))
        os.chmod(p, 0o755)
        paths[tool] = p
    return paths, calls


def workspace(h):
    """The payloads' targets and the stand-in tools: (marker file the shell payloads would
    create, the CLI's working folder, the canary folder the rm payload names in it, tools,
    the file the tools log their calls to)."""
    marker = h.path("pwned")
    cwd = h.path("cwd")
    canary = "x"
    os.makedirs(os.path.join(cwd, canary, "inside"))
    tools, tool_calls = stub_tools(h)
    return marker, cwd, canary, tools, tool_calls


def extra_config(tools):
    return ("resolver:\n  discovery: false\n  services: {}\n"
            "quarantine:\n  postsuper: %(postsuper)s\n  postcat: %(postcat)s\n"
            "  sendmail: %(sendmail)s\n" % tools)


class Fixture:
    """Accounts alice (contacts-only), bob (default), carol (quarantine-unknown) whose data
    must survive everything unchanged, and mallory (open), the target of hostile calls; keys,
    an SSH CA, a held message."""

    def __init__(self, h, mg):
        self.h = h
        self.mg = mg
        self.keys = h.path("keys")
        os.makedirs(self.keys, exist_ok=True)

    def cli(self, *args, check_rc=True):
        return self.mg.cli(*args, timeout=self.h.scaled(60), check_rc=check_rc)

    def ssh_key(self, name, comment="test"):
        path = os.path.join(self.keys, name)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
        return path + ".pub"

    def grant_udf(self, account, pub):
        out = self.cli("ssh", "allow", "--account", account, "--key", pub).stdout
        m = re.search(r"udf:(\S+)", out)
        check(m is not None, "ssh allow printed no fingerprint: %s" % out)
        return m.group(1)

    def setup(self):
        mg = self.mg
        mg.account("alice@example.com", "contacts-only")
        mg.account("bob@example.com")
        mg.account("carol@example.com", "quarantine-unknown")
        mg.account(VICTIM, "open")
        for a in PROTECTED + [VICTIM]:
            mg.contact(a, FRIEND)
        self.cli("contacts", "add", "--account", "alice@example.com", "@trusted.example",
                 "--protocol", "smtp", "--protocol", "xmpp", "--name", "Trusted Example")
        self.cli("account", "set", "alice@example.com", "--name", "Alice Example")
        self.alice_udf = self.grant_udf("alice@example.com", self.ssh_key("alice"))
        self.allow_key = self.ssh_key("allow")        # ssh allow's key
        self.grant_udf(VICTIM, self.allow_key)
        self.revoke_key = self.ssh_key("revoke")      # ssh revoke's target
        self.revoke_udf = self.grant_udf(VICTIM, self.revoke_key)
        self.remove_key = self.ssh_key("remove")      # ssh remove's target
        self.remove_udf = self.grant_udf(VICTIM, self.remove_key)
        self.ca_key = self.ssh_key("host-ca")
        out = self.cli("ssh", "add-host-ca", "--key", self.ca_key, "--hosts",
                       "*.example.com").stdout
        self.ca_udf = re.search(r"udf:(\S+)", out).group(1)
        with open(self.allow_key) as f:
            self.allow_type, self.allow_b64 = f.read().split()[:2]
        self.app_key = os.path.join(self.keys, "app.key")
        run([mg.binary, "key", "generate", "--type", "Ed25519", "--out", self.app_key])
        self.cli("account", "app", "add", VICTIM, "--type", "ssh", "--name", "ssh:laptop",
                 "--key", self.app_key + ".pub")
        self.csv = os.path.join(self.keys, "contacts.csv")
        with open(self.csv, "w") as f:
            f.write("email,name,protocols\nimported@partner.example,Imported,smtp\n")
        self.cli("contacts", "import", self.csv, "--account", VICTIM)
        # A held message and a released one. The milter writes these rows when it quarantines
        # (milter_tests.py quarantine); here they are written directly, which is all the
        # quarantine commands and the confirmation page read.
        db = sqlite3.connect(mg.db_path, timeout=10)
        now = int(time.time())
        with db:
            db.execute("INSERT INTO quarantine (id, queue_id, message_id, sender, recipients, "
                       "reason, subject, time, state) VALUES (?,?,?,?,?,?,?,?,?)",
                       (HELD_ID, HELD_ID, "<held@partner.example>", FRIEND, "carol@example.com",
                        "first contact", "Invoice 42", now - 60, "held"))
            db.execute("INSERT INTO quarantine (id, queue_id, message_id, sender, recipients, "
                       "reason, subject, time, state) VALUES (?,?,?,?,?,?,?,?,?)",
                       ("REL00002", "REL00002", "<rel@partner.example>", FRIEND,
                        "bob@example.com", "payment request", "Pay", now - 30, "released"))
        db.close()
        self.cli("audit", "checkpoint")

    def snapshot(self):
        """What must not change: the protected accounts' details, contacts and SSH grants, the
        tables, their key folders."""
        snap = {}
        for a in PROTECTED:
            snap["show " + a] = self.cli("account", "show", a).stdout
            snap["contacts " + a] = self.cli("contacts", "list", "--account", a,
                                             "--json").stdout
            snap["ssh " + a] = self.cli("ssh", "list", "--account", a).stdout
            snap["keys " + a] = sorted(os.listdir(os.path.join(self.mg.dir, "var", "accounts",
                                                               a)))
        snap["tables"] = store_tables(self.mg.db_path)
        snap["victim"] = self.cli("account", "show", VICTIM).stdout.splitlines()[0]
        return snap


def store_tables(db_path):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return sorted(r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"))
    finally:
        db.close()


def check_store(h, fx, before, marker, canary_dir, tool_calls):
    """The checks run after every hostile phase."""
    mg = fx.mg
    db = sqlite3.connect("file:%s?mode=ro" % mg.db_path, uri=True, timeout=10)
    try:
        integrity = [r[0] for r in db.execute("PRAGMA integrity_check")]
        fk = list(db.execute("PRAGMA foreign_key_check"))
        accounts = {r[0] for r in db.execute("SELECT address FROM accounts")}
        n_accounts = len(accounts)
    finally:
        db.close()
    check(integrity == ["ok"], "PRAGMA integrity_check: %s" % integrity)
    check(not fk, "PRAGMA foreign_key_check: %s" % fk[:10])
    missing = [a for a in PROTECTED + [VICTIM] if a not in accounts]
    check(not missing, "accounts gone from the store: %s" % missing)
    after = fx.snapshot()
    check(after["tables"] == before["tables"], "the store's tables changed: %s -> %s" %
          (before["tables"], after["tables"]))
    for k in before:
        check(after[k] == before[k], "%s changed:\nbefore: %r\nafter:  %r" %
              (k, before[k], after[k]))
    for path in [marker] + ([] if TMP_PWNED_EXISTED else ["/tmp/pwned"]):
        check(not os.path.exists(path), "a shell payload ran: %s exists" % path)
    check(os.path.isdir(canary_dir), "the rm payload ran: %s is gone" % canary_dir)
    if os.path.exists(tool_calls):
        with open(tool_calls, encoding="utf-8", errors="replace") as f:
            for line in f:
                words = line.split()
                check(all(re.fullmatch(r"[A-Za-z0-9-]+", w) for w in words[1:]),
                      "a Postfix tool stand-in was called with a hostile argument: %r" % line)
    p = fx.cli("audit", "verify", check_rc=False)
    check(p.returncode == 0, "meshgate audit verify failed (exit %d): %s%s" %
          (p.returncode, p.stdout, p.stderr))
    log("store checks passed: integrity ok, %d tables/indexes, %d accounts, %s" %
        (len(after["tables"]), n_accounts, p.stdout.strip()))
    if has_command(mg.binary, "store"):
        p = fx.cli("store", "check", check_rc=False)
        check(p.returncode == 0, "meshgate store check failed (exit %d): %s%s" %
              (p.returncode, p.stdout, p.stderr))
        log(p.stdout.strip())


# ---------------------------------------------------------------------------------------------
# the CLI surface, from --help


def help_text(binary, path):
    p = subprocess.run([binary] + path + ["--help"], capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def has_command(binary, name):
    return name in parse_commands(help_text(binary, [])[1])


def parse_commands(text):
    """Names listed under "Commands:" (a group's help), in order."""
    names, inside = [], False
    for line in text.splitlines():
        if line.strip() == "Commands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  (\S+)\s", line)
            if not m:
                break
            names.append(m.group(1))
    return names


class Leaf:
    """A command that takes arguments: its positionals (name, required) and options
    (name, metavar or None for a flag, required, repeatable)."""

    def __init__(self, path, text):
        self.path = path
        self.name = " ".join(path)
        usage = next((l for l in text.splitlines() if l.startswith("Usage: ")), "")
        # Usage: meshgate a b [OPTIONS] ARG [OPT_ARG] [REST...]
        tail = usage.split("[OPTIONS]", 1)[1] if "[OPTIONS]" in usage else \
            usage[len("Usage: meshgate " + self.name):]
        self.positionals = []
        for tok in tail.split():
            required = not tok.startswith("[")
            self.positionals.append((tok.strip("[]").rstrip("."), required))
        self.options = []
        section = None
        for line in text.splitlines():
            if re.match(r"^\S.*:$", line):
                section = line[:-1]
                continue
            if section != "Options":
                continue
            m = re.match(r"^  --([A-Za-z0-9][\w-]*)(?: ([A-Z][A-Z0-9_=:\[\]-]*))?\s+(.*)$", line)
            if m:
                self.options.append((m.group(1), m.group(2), "(required)" in m.group(3),
                                     "(repeatable)" in m.group(3)))


def discover(binary):
    """Every leaf command reachable from `meshgate --help`, except NOT_TESTED."""
    leaves, skipped = [], []
    rc, top = help_text(binary, [])
    check(rc == 0 and "Commands:" in top, "meshgate --help: exit %d:\n%s" % (rc, top))
    todo = [[c] for c in parse_commands(top)]
    while todo:
        path = todo.pop(0)
        if len(path) == 1 and path[0] in NOT_TESTED:
            skipped.append(path[0])
            continue
        rc, text = help_text(binary, path)
        check(rc == 0, "meshgate %s --help: exit %d" % (" ".join(path), rc))
        subs = parse_commands(text)
        if subs:
            todo[0:0] = [path + [s] for s in subs]
        else:
            leaves.append(Leaf(path, text))
    return leaves, skipped


# ---------------------------------------------------------------------------------------------
# cli_every_input


class Baseline:
    """Valid values for the inputs not under test: they point at mallory@example.com, the held
    message, the keys made by the fixture. Looked up by (command, input), then (option name,
    metavar), then metavar; "x" otherwise (a new, unknown input)."""

    def __init__(self, fx, config_path):
        self.fx = fx
        self.config_path = config_path
        self.counter = 0
        self.lock = threading.Lock()
        self.by_command = {
            ("account app add", "key"): fx.app_key + ".pub",
            ("account app add", "name"): "ssh:laptop",
            ("account app remove", "name"): "ssh:nothing-here",
            ("ssh add-host-ca", "key"): fx.ca_key,
            ("ssh remove", "key"): fx.remove_key,
            ("ssh remove", "udf"): fx.remove_udf,
            ("ssh revoke", "key"): fx.revoke_key,
            ("ssh revoke", "udf"): fx.revoke_udf,
            ("ssh unrevoke", "udf"): fx.revoke_udf,
            ("ssh remove-host-ca", "udf"): fx.ca_udf,
            ("ssh authorized-keys", "LOGIN"): "mallory",
            ("ssh authorized-keys", "KEYTYPE"): fx.allow_type,
            ("ssh authorized-keys", "KEY"): fx.allow_b64,
            ("contacts import", "FILE"): fx.csv,
            ("quarantine confirm", "recipient"): "carol@example.com",
        }
        self.by_option = {("config", "FILE"): config_path, ("protocol", "NAME"): "smtp",
                          ("key", "FILE"): fx.allow_key, ("key", "KEYFILE"): fx.mg.public_key}
        self.by_metavar = {
            "ADDRESS": VICTIM, "CONTACT": FRIEND, "POLICY": "open", "TEXT": "Mallory Example",
            "NAME": "Mallory", "TYPE": "ssh", "STATE": "all", "ID": HELD_ID, "CODE": "ABCD2345",
            "TIME": "7d", "ACTION": "accept", "N": "5", "LOGIN": "mallory", "OPT": "pty",
            "PATTERN": "*.example.com", "UDF": fx.remove_udf, "FILE": fx.csv,
        }
        # Inputs that only make sense alone: --key and --udf of ssh remove/revoke.
        self.one_of = {"ssh remove": ("key", "udf"), "ssh revoke": ("key", "udf")}
        # Optional options given with the baseline so the call can get past its checks.
        self.companions = {"ssh remove": ["udf"], "ssh revoke": ["udf"]}

    def value(self, leaf, name, metavar):
        if leaf.name == "account create" and name == "ADDRESS":
            with self.lock:
                self.counter += 1
                return "new-%d@example.com" % self.counter
        for k in ((leaf.name, name), (name, metavar)):
            if k in self.by_command:
                return self.by_command[k]
            if k in self.by_option:
                return self.by_option[k]
        return self.by_metavar.get(metavar, "x")


def invocations(leaf, base, values, addr_values, file_variants):
    """(input kind, input name, value name, argv tail) for every hostile call of one leaf."""
    out = []
    inputs = [("positional", n, n, req) for n, req in leaf.positionals]
    inputs += [("option", n, m, req) for n, m, req, _ in leaf.options if m]
    for kind, name, metavar, _ in inputs:
        # --config reaches the same loader in every command: the values that could matter to
        # a path (a shell payload, control characters, a 100 KB name).
        vals = [x for x in values if x[0] in CONFIG_VALUES] if name == "config" else list(values)
        if metavar in ("ADDRESS", "CONTACT"):
            vals += addr_values
        if metavar == "FILE" and name != "config" and file_variants.get((leaf.name, name)):
            vals += file_variants[(leaf.name, name)]
        for vname, v, *content in vals:
            opts, pos = [], []
            for n, m, req, _ in leaf.options:
                if not m:
                    continue
                tested = kind == "option" and n == name
                exclusive = leaf.name in base.one_of and name in base.one_of[leaf.name]
                companion = n in base.companions.get(leaf.name, []) and not (
                    exclusive and kind == "option" and n != name)
                if tested:
                    opts += ["--" + n, v]
                elif n == "config":
                    opts += ["--config", base.config_path]
                elif req or companion:
                    opts += ["--" + n, base.value(leaf, n, m)]
            for n, _ in leaf.positionals:
                pos.append(v if kind == "positional" and n == name else base.value(leaf, n, n))
            argv = leaf.path + opts + (["--"] + pos if pos else [])
            ikind = "config" if name == "config" else \
                ("file-content" if vname.startswith("file:") else kind)
            # For a file, what the command may echo is the hostile content.
            out.append((ikind, "%s %s" % (leaf.name, name), vname,
                        content[0] if content else v, argv))
    return out


def file_content_variants(h, marker, canary, values):
    """Files whose content is hostile: a contacts CSV and a vCard for `contacts import`, an SSH
    public key with a hostile comment (and hostile key types) for the --key inputs."""
    folder = h.path("hostile-files")
    os.makedirs(folder, exist_ok=True)
    csvs, keys = [], []
    for i, (name, v) in enumerate(values):
        one_line = v.replace("\r", " ").replace("\n", " ")
        quoted = '"' + one_line.replace('"', '""') + '"'
        p = os.path.join(folder, "c%d.csv" % i)
        with open(p, "w", encoding="utf-8") as f:
            f.write("email,name,protocols\n%s,n,smtp\nrow%d@partner.example,%s,%s\n" %
                    (quoted, i, quoted, quoted))
        csvs.append(("file:csv:" + name, p, v))
        p = os.path.join(folder, "c%d.vcf" % i)
        with open(p, "w", encoding="utf-8") as f:
            f.write("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:%s\r\nEMAIL:%s\r\nEND:VCARD\r\n" %
                    (one_line, one_line))
        csvs.append(("file:vcf:" + name, p, v))
        # A whole file that is the hostile value.
        p = os.path.join(folder, "raw%d" % i)
        with open(p, "w", encoding="utf-8") as f:
            f.write(v)
        csvs.append(("file:raw:" + name, p, v))
        keys.append(("file:raw:" + name, p, v))
        p = os.path.join(folder, "k%d.pub" % i)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", one_line[:4000], "-f",
             p[:-4]])
        keys.append(("file:ssh-comment:" + name, p, v))
        p = os.path.join(folder, "t%d.pub" % i)
        with open(p, "w", encoding="utf-8") as f:
            f.write("%s AAAAC3NzaC1lZDI1NTE5AAAAIA== c\n" % one_line)
        keys.append(("file:ssh-type:" + name, p, v))
    # The SSH key variants go to `ssh allow` (the one that stores the key with its comment);
    # the other --key inputs read keys with the same function.
    return {("contacts import", "FILE"): csvs, ("ssh allow", "key"): keys,
            ("account app add", "key"): [k for k in keys if k[0].startswith("file:raw:")]}


def invoke(binary, argv, cwd, timeout):
    try:
        p = subprocess.run([binary] + argv, capture_output=True, cwd=cwd, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %ss" % timeout
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def judge(leaf_name, value, rc, stderr):
    """None when the call failed harmlessly, else what is wrong."""
    if rc is None:
        return "no answer: " + stderr
    if rc < 0 or rc >= 128:
        return "killed by signal / crashed (status %d)" % rc
    if rc not in (0, 1, 2):
        return "exit status %d (expected 0, 1 or 2)" % rc
    for marker in SANITIZER_MARKERS:
        if marker in stderr:
            return "sanitizer report: " + stderr[stderr.find(marker):][:2000]
    if rc == 0:
        return None
    if not stderr.strip():
        return None if leaf_name in SILENT_FAILURE_OK else "failed with nothing on stderr"
    rest = stderr
    for v in sorted({value, value.lower(), value.replace("\r", " ").replace("\n", " ")},
                    key=len, reverse=True):
        if v:
            rest = rest.replace(v, "<V>")
    lines = [l for l in rest.splitlines() if l.strip()]
    if len(lines) > 6:
        return "a long error (%d lines):\n%s" % (len(lines), "\n".join(lines[:12]))
    if len(stderr) > 3 * len(value) + 4096:
        return "%d bytes on stderr" % len(stderr)
    return None


def test_cli_every_input(h):
    marker, cwd, canary, tools, tool_calls = workspace(h)
    mg = h.meshgate()
    mg.write_config(busy_timeout="10s", extra=extra_config(tools))
    fx = Fixture(h, mg)
    fx.setup()
    # The stand-ins are wired: postcat is what `quarantine show` runs for a held message.
    out = fx.cli("quarantine", "show", HELD_ID).stdout
    check("stand-in for postcat" in out, "quarantine show did not run the postcat stand-in: %s"
          % out)
    before = fx.snapshot()

    leaves, skipped = discover(mg.binary)
    log("CLI surface: %d commands tested (%s); not tested: %s" %
        (len(leaves), ", ".join(l.name for l in leaves),
         ", ".join("%s (%s)" % (s, NOT_TESTED[s]) for s in skipped)))
    for must in ("account create", "contacts add", "quarantine confirm", "audit show",
                 "ssh allow", "profile show"):
        check(any(l.name == must for l in leaves), "discovery missed `meshgate %s`" % must)

    values = hostile_values(marker, canary)
    addr_values = address_shaped(marker)
    files = file_content_variants(h, marker, canary, values)
    base = Baseline(fx, mg.config_path)
    calls = []
    for leaf in leaves:
        calls += [(leaf,) + c for c in invocations(leaf, base, values, addr_values, files)]
    timeout = h.scaled(30)
    workers = max(3, min(6, (os.cpu_count() or 2) + 1))
    log("%d invocations, %d at a time" % (len(calls), workers))
    t0 = time.monotonic()
    results = []

    def one(c):
        leaf, ikind, iname, vname, v, argv = c
        started = time.monotonic()
        rc, out, err = invoke(mg.binary, argv, cwd, timeout)
        return c, rc, err, judge(leaf.name, v, rc, err), time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, calls))
    took = time.monotonic() - t0

    by_kind, by_value, by_rc, problems, by_leaf = {}, {}, {}, [], {}
    for (leaf, ikind, iname, vname, v, argv), rc, err, problem, secs in results:
        by_leaf[leaf.name] = by_leaf.get(leaf.name, 0) + secs
        by_kind[ikind] = by_kind.get(ikind, 0) + 1
        vkey = vname.split(":")[-1] if vname.startswith("file:") else vname
        by_value[vkey] = by_value.get(vkey, 0) + 1
        by_rc[rc] = by_rc.get(rc, 0) + 1
        if problem:
            shown = [a if len(a) < 200 else a[:60] + "...(%d chars)" % len(a) for a in argv]
            problems.append("meshgate %s %s [%s = %s]: %s\n  stderr: %r" %
                            (leaf.name, " ".join(repr(a) for a in shown), iname, vname,
                             problem, err[:600]))
    log("tried %d invocations in %.1fs: by input kind %s; by value %s; exit statuses %s" %
        (len(results), took, json.dumps(by_kind, sort_keys=True),
         json.dumps(by_value, sort_keys=True), json.dumps(by_rc, sort_keys=True)))
    slow = sorted(by_leaf.items(), key=lambda kv: -kv[1])[:5]
    log("slowest commands (seconds, summed): %s" % ", ".join("%s %.1f" % kv for kv in slow))
    check(not problems, "%d invocation(s) did not fail harmlessly:\n%s" %
          (len(problems), "\n".join(problems[:20])))
    # Not vacuous: hostile values reached the store as data in some calls.
    check(by_rc.get(0, 0) >= 20, "only %d hostile invocations succeeded: the values never "
          "got past the syntax checks" % by_rc.get(0, 0))
    check_store(h, fx, before, marker, os.path.join(cwd, canary), tool_calls)

    round_trips(h, fx, values)
    check_store(h, fx, before, marker, os.path.join(cwd, canary), tool_calls)
    log("%d hostile invocations, then the round trips: all harmless" % len(results))


def round_trips(h, fx, values):
    """Hostile strings stored as data come back exactly as they went in."""
    n = 0
    for name, v in values:
        if name == "control-chars":
            continue
        fx.cli("account", "set", VICTIM, "--name", v)
        shown = fx.cli("account", "show", VICTIM).stdout
        line = next((l for l in shown.splitlines() if l.startswith("name:")), "")
        check(line == "name:       " + v, "display name %s did not round-trip: %r" %
              (name, line[:300]))
        listed = fx.cli("account", "list").stdout
        check(('"%s"' % v) in listed, "account list does not show display name %s" % name)
        n += 1
    # Control characters would reach the administrator's terminal (escapes) and break the
    # one-line lists: refused with a clear error, for accounts and contacts alike.
    for args in (["account", "set", VICTIM, "--name", "ctl\x1b[2J\r\nend"],
                 ["contacts", "add", "--account", VICTIM, "ctl@partner.example", "--name",
                  "ctl\x1b]0;title\x07"]):
        p = fx.cli(*args, check_rc=False)
        check(p.returncode == 1 and "control character" in p.stderr,
              "%s: a name with control characters was not refused (exit %d): %s" %
              (args[:2], p.returncode, p.stderr.strip()[:300]))
    shown = fx.cli("account", "show", VICTIM).stdout
    check("\x1b" not in shown, "a terminal escape reached account show")
    fx.cli("account", "set", VICTIM, "--name", "Mallory Example")

    owner = "roundtrip@example.com"
    fx.mg.account(owner)
    contacts = {"o'brien@partner.example": "x'; DROP TABLE accounts; --",
                "x'or'1'='1@partner.example": "' OR '1'='1",
                "%@partner.example": "%",
                "_@partner.example": "_",
                "'--@partner.example": "$(touch /tmp/pwned)",
                "plain@partner.example": "Plain \u202eReversed"}
    stored = {}
    for addr, display in contacts.items():
        p = fx.cli("contacts", "add", "--account", owner, addr, "--name", display,
                   check_rc=False)
        if p.returncode == 0:
            stored[addr] = display
        else:
            log("contacts add %r refused: %s" % (addr, p.stderr.strip()))
    for must in ("o'brien@partner.example", "x'or'1'='1@partner.example", "_@partner.example",
                 "%@partner.example"):
        check(must in stored, "contacts add refused %r (a valid address)" % must)

    def listed():
        out = fx.cli("contacts", "list", "--account", owner, "--json").stdout
        got = {}
        for line in out.splitlines():
            c = json.loads(line)["CatalogedContact"]
            names = c["Contact"]["ContactPerson"].get("CommonNames", [{}])
            got[c["Key"]] = names[0].get("FullName")
        return got

    got = listed()
    check(got == stored, "contacts did not round-trip:\nstored %r\nlisted %r" % (stored, got))
    for wildcard in ("_@partner.example", "%@partner.example"):
        fx.cli("contacts", "remove", "--account", owner, wildcard)
        del stored[wildcard]
        got = listed()
        check(got == stored, "removing %r removed more than that entry: %r" % (wildcard, got))
        n += 1
    log("round trips: %d display names, %d contacts with quotes and wildcards, 2 wildcard "
        "removals: exact" % (n - 2, len(contacts)))


# ---------------------------------------------------------------------------------------------
# api_every_input


def policy_config(mg, port, tools):
    d = mg.dir
    return f"""# written by tests/integration/injection_tests.py
gateway:
  node: mesh.example.com
  domains: [example.com]
  data_dir: {d}/var
  key_file: {mg.key_file}
store:
  backend: sqlite
  sqlite:
    path: {mg.db_path}
    busy_timeout: 10s
milter:
  enabled: false
policyd:
  enabled: false
mesh_service:
  enabled: true
  listen: 127.0.0.1:{port}
  service_name: example.com
  # The API run sends from one address, several at a time and one connection a request; the
  # per-address limit has its own test (mesh_https_test).
  max_connections_per_client: 64
  tls:
    certificate: {d}/var/tls/service.crt
    private_key: {d}/var/tls/service.key
    create_self_signed: true
{extra_config(tools)}"""


class Client:
    """Raw HTTP/1.1 over TLS (the service's self-signed certificate pinned): any bytes in the
    request line and headers, one request per connection."""

    def __init__(self, port, cert, timeout):
        self.port = port
        self.timeout = timeout
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.load_verify_locations(cert)
        self.ctx.check_hostname = False

    def request(self, method, target, headers=(), body=b""):
        """-> (status, body). status None: no answer (connection dropped or timed out)."""
        if isinstance(target, str):
            target = target.encode()
        head = [b"%s %s HTTP/1.1" % (method.encode(), target), b"Host: example.com",
                b"Connection: close"]
        names = {b"host"}
        for k, v in headers:
            k = k.encode() if isinstance(k, str) else k
            v = v.encode() if isinstance(v, str) else v
            if k.lower() == b"host":
                head = [l for l in head if not l.lower().startswith(b"host:")]
            names.add(k.lower())
            head.append(k + b": " + v)
        if body or method == "POST":
            head.append(b"Content-Length: %d" % len(body))
        raw = b"\r\n".join(head) + b"\r\n\r\n" + body
        data = b""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout) as s:
                with self.ctx.wrap_socket(s, server_hostname="example.com") as t:
                    try:
                        t.sendall(raw)
                    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                        pass  # the server may answer and close before reading it all
                    while True:
                        try:
                            chunk = t.recv(65536)
                        except (ConnectionResetError, ssl.SSLError) as e:
                            if data:
                                break
                            return None, ("connection reset: %s" % e).encode()
                        if not chunk:
                            break
                        data += chunk
        except (OSError, ssl.SSLError) as e:
            return None, ("%s: %s" % (type(e).__name__, e)).encode()
        m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        if not m:
            return None, b"no status line: " + data[:200]
        return int(m.group(1)), data.split(b"\r\n\r\n", 1)[-1]


def mesh_bodies(v, now):
    """(shape name, body bytes) of Mesh transactions carrying `v` in one string field."""
    def dumps(o):
        return json.dumps(o).encode()
    kv_alice = {"Account": "alice@example.com",
                "KeyValues": [{"Key": "Catalog", "Value": "contacts"}]}
    meta = {"cty": "application/mmm/request", "MessageType": "GetRequest", "UniqueId": v,
            "Created": now, "Account": v}
    payload = dumps({"GetRequest": kv_alice})
    envelope = {"DareEnvelope": [
        {"ContentMetaData": b64u(dumps(meta)), "dig": "S512"},
        b64u(payload),
        {"signatures": [{"alg": "ED25519", "kid": v, "signature": b64u(bytes(64))}],
         "PayloadDigest": b64u(hashlib.sha512(payload).digest())}]}
    return [
        ("get-account", dumps({"GetRequest": {"Account": v}})),
        ("get-identifier", dumps({"GetRequest": {"Identifier": v}})),
        ("validate-account", dumps({"ValidateRequest": {"Account": v}})),
        ("get-catalog-name", dumps({"GetRequest": {"Account": "alice@example.com", "KeyValues": [
            {"Key": "Catalog", "Value": v}]}})),
        ("get-catalog-key", dumps({"GetRequest": {"Account": "alice@example.com", "KeyValues": [
            {"Key": "Catalog", "Value": "contacts"}, {"Key": "Key", "Value": v}]}})),
        ("get-catalog-account", dumps({"GetRequest": {"Account": v, "KeyValues": [
            {"Key": "Catalog", "Value": "contacts"}]}})),
        ("create-account", dumps({"CreateRequest": {"Account": v}})),
        ("delete-account", dumps({"DeleteRequest": {"Account": v}})),
        ("post", dumps({"PostRequest": {"Account": v, "Envelopes": []}})),
        ("hello-field", dumps({"HelloRequest": {"Version": v}})),
        ("transaction-tag", dumps({v: {"Account": "alice@example.com"}})),
        ("dare-metadata", dumps(envelope)),
        ("raw-json", b'{"GetRequest":{"Account":"' + v.encode() + b'"}}'),
    ]


def api_requests(values):
    """(kind, shape, value name, method, target, headers, body)."""
    q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
    good = {"sender": FRIEND, "recipient": "alice@example.com", "protocol": "smtp"}
    confirm = {"id": HELD_ID, "rcpt": "carol@example.com", "code": "ABCD2345"}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = []
    for vname, v in values:
        for path, fields in (("/access-check", good), ("/quarantine/confirm", confirm)):
            for field in fields:
                form = dict(fields, **{field: v})
                enc = urllib.parse.urlencode(form, quote_via=urllib.parse.quote)
                out.append(("query", "%s %s" % (path, field), vname, "GET", path + "?" + enc,
                            [], b""))
                out.append(("form", "%s %s" % (path, field), vname, "POST", path,
                            [("Content-Type", "application/x-www-form-urlencoded")],
                            enc.encode()))
                raw = "&".join("%s=%s" % (k, (val if k == field else q(val)))
                               for k, val in form.items())
                out.append(("query-raw", "%s %s" % (path, field), vname, "GET",
                            (path + "?" + raw).encode(), [], b""))
        for shape, body in mesh_bodies(v, now):
            out.append(("json", shape, vname, "POST", "/.well-known/mmm/",
                        [("Content-Type", "application/json")], body))
        hello = json.dumps({"HelloRequest": {}}).encode()
        out.append(("path", "/.well-known/mmm/SEG", vname, "POST", "/.well-known/mmm/" + q(v),
                    [("Content-Type", "application/json")], hello))
        out.append(("path", "/SEG", vname, "GET", "/" + q(v), [], b""))
        out.append(("path", "/access-check/SEG", vname, "GET", "/access-check/" + q(v), [],
                    b""))
        out.append(("path", "/quarantine/confirm/SEG", vname, "GET",
                    "/quarantine/confirm/" + q(v), [], b""))
        out.append(("path-raw", "/SEG raw", vname, "GET", b"/" + v.encode(), [], b""))
        for header in ("Host", "User-Agent", "Content-Type", "Cookie", "X-Forwarded-For",
                       "Authorization", "Accept-Language"):
            for path in ("/healthz", "/access-check?" + urllib.parse.urlencode(good)):
                out.append(("header", "%s %s" % (header, path.split("?")[0]), vname, "GET", path,
                            [(header, v)], b""))
        out.append(("header", "hello Content-Type", vname, "POST", "/.well-known/mmm/",
                    [("Content-Type", v)], json.dumps({"HelloRequest": {}}).encode()))
    return out


def metric_5xx(client):
    status, body = client.request("GET", "/metrics")
    check(status == 200, "GET /metrics: %s" % status)
    bad = [l for l in body.decode("utf-8", "replace").splitlines()
           if not l.startswith("#") and re.search(r'status="5\d\d"', l)
           and not l.rstrip().endswith(" 0")]
    return bad


def test_api_every_input(h):
    marker, cwd, canary, tools, tool_calls = workspace(h)
    mg = h.meshgate()
    port = free_port()
    with open(mg.config_path, "w") as f:
        f.write(policy_config(mg, port, tools))
    fx = Fixture(h, mg)
    fx.setup()
    before = fx.snapshot()
    mg.start("policy")
    wait_port(port, h.scaled(10), "meshgate policy")
    cert = os.path.join(mg.dir, "var", "tls", "service.crt")
    client = Client(port, cert, h.scaled(20))

    # The service answers what the fixture made, so hostile values meet real data.
    status, body = client.request("GET", "/access-check?" + urllib.parse.urlencode(
        {"sender": FRIEND, "recipient": "alice@example.com", "protocol": "smtp"}))
    check(status == 200 and b'"Allowed":true' in body, "access-check for alice's contact: %s "
          "%s" % (status, body[:300]))
    status, body = client.request("POST", "/.well-known/mmm/", [("Content-Type",
                                  "application/json")],
                                  json.dumps({"GetRequest": {"Account": "alice@example.com"}})
                                  .encode())
    check(status == 201, "Get alice's profile: %s %s" % (status, body[:300]))

    values = hostile_values(marker, canary) + address_shaped(marker)
    reqs = api_requests(values)
    workers = 8
    log("%d requests, %d at a time" % (len(reqs), workers))
    t0 = time.monotonic()

    def one(r):
        kind, shape, vname, method, target, headers, body = r
        started = time.monotonic()
        status, answer = client.request(method, target, headers, body)
        return r, status, answer, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, reqs))
    took = time.monotonic() - t0
    by_kind, by_status, problems, by_shape, slowest = {}, {}, [], {}, []
    for (kind, shape, vname, method, target, headers, body), status, answer, secs in results:
        by_kind[kind] = by_kind.get(kind, 0) + 1
        slowest.append((secs, "%s %s %s %s" % (kind, method, shape, vname)))
        by_shape.setdefault("%s %s %s" % (kind, method, shape), set()).add(status)
        by_status[status] = by_status.get(status, 0) + 1
        if status is None or not (200 <= status < 300 or 400 <= status < 500):
            t = target[:120]
            problems.append("%s %r [%s, %s = %s]: %s %r" % (method, t, kind, shape, vname,
                                                           status, answer[:300]))
    log("tried %d requests in %.1fs: by input kind %s; by status %s; %d hostile values" %
        (len(results), took, json.dumps(by_kind, sort_keys=True),
         json.dumps({str(k): v for k, v in by_status.items()}, sort_keys=True), len(values)))
    log("slowest requests: %s" % ", ".join("%s %.2fs" % (w, t) for t, w in sorted(
        slowest, reverse=True)[:5]))
    log("statuses by input: %s" % "; ".join("%s: %s" % (k, ",".join(str(x) for x in sorted(
        v, key=str))) for k, v in sorted(by_shape.items())))
    check(not problems, "%d request(s) not answered with 2xx/4xx:\n%s" %
          (len(problems), "\n".join(problems[:20])))
    check(mg.process.alive(), "meshgate policy died")
    bad = metric_5xx(client)
    check(not bad, "the service counted 5xx answers:\n%s" % "\n".join(bad))

    # Lookups with quote- and wildcard-bearing addresses: data, never patterns.
    def access(sender, recipient="alice@example.com"):
        s, b = client.request("GET", "/access-check?" + urllib.parse.urlencode(
            {"sender": sender, "recipient": recipient, "protocol": "smtp"}))
        check(s == 200, "access-check %s -> %s: %s %r" % (sender, recipient, s, b[:300]))
        return json.loads(b)
    fx.cli("contacts", "add", "--account", "alice@example.com", "o'brien@partner.example")
    before["contacts alice@example.com"] = fx.cli("contacts", "list", "--account",
                                                  "alice@example.com", "--json").stdout
    a = access("o'brien@partner.example")
    check(a["Allowed"] and a.get("Entry") == "o'brien@partner.example",
          "a contact with a quote is not found as itself: %r" % a)
    for sender in ("frien_@partner.example", "%@partner.example", "f%@partner.example",
                   "x'or'1'='1@partner.example", "o'brien@partner.example' --@x.example",
                   "*@partner.example"):
        a = access(sender)
        check(not a["Allowed"] and not a.get("Entry"), "sender %r matched a contact of alice "
              "(contacts-only) by pattern: %r" % (sender, a))
    for recipient in ("_lice@example.com", "%@example.com", "alice'--@example.com"):
        a = access(FRIEND, recipient)
        check(a.get("Account", "") != "alice@example.com",
              "recipient %r was taken for alice: %r" % (recipient, a))

    # Cross-account: another account's catalog or deletion without alice's own key.
    cross = mesh_bodies("alice@example.com", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    for shape, body in cross:
        if shape in ("get-catalog-account", "delete-account", "dare-metadata"):
            status, answer = client.request("POST", "/.well-known/mmm/",
                                            [("Content-Type", "application/json")], body)
            check(status == 401, "%s for alice without her key: %s %r" % (shape, status,
                                                                        answer[:300]))
    status, answer = client.request("GET", "/healthz")
    check(status == 200, "/healthz after the hostile requests: %s %r" % (status, answer[:200]))
    check(mg.process.alive(), "meshgate policy died")
    mg.stop()
    check_store(h, fx, before, marker, os.path.join(cwd, canary), tool_calls)
    log("%d hostile requests: all answered 2xx/4xx, service alive, store sound" % len(results))


TESTS = {
    "cli_every_input": (test_cli_every_input, {"postfix": False, "budget": 120}),
    "api_every_input": (test_api_every_input, {"postfix": False, "budget": 90}),
}

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
