#!/usr/bin/env python3
# NAME
#   package_tests.py - the Debian package on this machine: build it, dpkg -i, check-config,
#   start the service as its systemd unit would, one message through a real Postfix configured
#   from the shipped snippet, dpkg --remove (data kept), dpkg --purge (everything gone).
#
# SYNOPSIS
#   package_tests.py install_run_purge --meshgate build/h-int/cli/meshgate
#   (ctest: integration.package.install_run_purge; see tests.cmake)
#
# DESCRIPTION
#   The package is built by `scripts/package --build-dir DIR` from the build folder of the
#   meshgate under test (DIR = the folder above cli/meshgate), so the test packages exactly the
#   binary it was given. Its dependencies must already be installed (scripts/deps installs the
#   libraries meshgate links and adduser): `dpkg -i` alone must succeed.
#
#   The machine has no systemd as PID 1, so the test does what systemd would do with
#   meshgate.service: it reads User=, Group=, SupplementaryGroups=, RuntimeDirectory=, UMask=,
#   NoNewPrivileges=, ExecStartPre= and ExecStart= from the installed unit and runs the command
#   lines exactly as written under setpriv. Postfix is the harness's private instance (its own
#   queue folder, not chrooted) with smtpd_milters taken from the shipped Postfix snippet
#   (/usr/share/doc/meshgate/examples/postfix/, else the admin guide installed beside it). A
#   path relative to Postfix's queue folder (unix:meshgate/milter.sock, as a chrooted smtpd
#   sees it) resolves through a link queue/meshgate -> /var/spool/postfix/meshgate.
#
#   The service is left running for `dpkg --remove`, whose prerm must stop it.
#
#   The machine is left clean even when the test fails: a `finally` purges the package, and if
#   dpkg cannot, removes by hand what the package created and kills its processes. A marker
#   /run/meshgate-package-test.pid lets the next run clean up after a test killed outright.
#   Skipped (77) when not root, when dpkg is missing, or when meshgate is installed or its
#   paths exist without this test's marker (an administrator's installation is never touched).
import glob
import grp
import os
import pwd
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import (SOURCE_DIR, Process, Skipped, TestFailed, check, log,  # noqa: E402
                       make_message, pid_alive, run, run_tests, smtp_send)

FRIEND = "friend@partner.example"
ACCOUNT = "bob@example.com"
SIGNAL = "Mesh-Security-Signal"
MARKER = "/run/meshgate-package-test.pid"
CONFIG = "/etc/meshgate/meshgate.yaml"
UNIT = "/lib/systemd/system/meshgate.service"
SOCKET_DIR = "/var/spool/postfix/meshgate"
EXAMPLES = "/usr/share/doc/meshgate/examples"
# Everything the package creates (files from its archive, folders and users from postinst).
PACKAGE_PATHS = ["/usr/sbin/meshgate", "/etc/meshgate", "/var/lib/meshgate", SOCKET_DIR,
                 "/run/meshgate", "/usr/share/doc/meshgate", "/usr/share/man/man8/meshgate.8.gz",
                 "/usr/share/man/man5/meshgate.yaml.5.gz", UNIT,
                 "/lib/systemd/system/meshgate-milter.service",
                 "/lib/systemd/system/meshgate-policy.service",
                 "/lib/systemd/system/meshgate-policyd.service",
                 "/lib/systemd/system/meshgate-release-confirmed.service",
                 "/lib/systemd/system/meshgate-release-confirmed.timer"]
DPKG_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def dpkg_status():
    """'installed', 'config-files' (removed, not purged), or None (unknown to dpkg)."""
    p = run(["dpkg-query", "-W", "-f=${Status}", "meshgate"], check_rc=False)
    if p.returncode != 0:
        return None
    status = p.stdout.split()
    return status[-1] if status and status[-1] != "not-installed" else None


def meshgate_processes():
    """Processes running the packaged binary (also after it was deleted)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % entry)
        except OSError:
            continue
        if exe in ("/usr/sbin/meshgate", "/usr/sbin/meshgate (deleted)") and \
                pid_alive(int(entry)):
            pids.append(int(entry))
    return pids


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def force_clean():
    """Removes what the package may have left (dpkg first; by hand if dpkg cannot). Returns the
    list of things that had to be cleaned by hand (empty when dpkg did it all)."""
    by_hand = []
    if dpkg_status() is not None:
        p = run(["dpkg", "--purge", "meshgate"], check_rc=False, timeout=120, env=DPKG_ENV)
        if p.returncode != 0:
            by_hand.append("dpkg --purge failed: %s%s" % (p.stdout, p.stderr))
            run(["dpkg", "--purge", "--force-remove-reinstreq", "--force-depends", "meshgate"],
                check_rc=False, timeout=120, env=DPKG_ENV)
    for pid in meshgate_processes():
        by_hand.append("process %d" % pid)
        os.kill(pid, signal.SIGKILL)
    for path in PACKAGE_PATHS:
        if os.path.lexists(path):
            by_hand.append(path)
            run(["rm", "-rf", path], check_rc=False)
    if user_exists("meshgate"):
        by_hand.append("user meshgate")
        run(["deluser", "--system", "--quiet", "meshgate"], check_rc=False)
    if group_exists("meshgate"):
        by_hand.append("group meshgate")
        run(["delgroup", "--system", "--quiet", "meshgate"], check_rc=False)
    return by_hand


def claim_machine():
    """Skips unless nothing of meshgate is installed here, except the leftovers of an earlier
    run of this test that was killed (its marker names a dead process): those are removed."""
    if os.path.exists(MARKER):
        with open(MARKER) as f:
            owner = int(f.read().strip() or 0)
        if owner and pid_alive(owner):
            raise Skipped("another package test (pid %d) is running" % owner)
        log("cleaning up after an interrupted package test (pid %d): %s" %
            (owner, force_clean() or "nothing left"))
        os.unlink(MARKER)
    if dpkg_status() is not None:
        raise Skipped("the meshgate package is installed on this machine; this test does not "
                      "touch an administrator's installation")
    present = [p for p in PACKAGE_PATHS if os.path.lexists(p)]
    if user_exists("meshgate"):
        present.append("user meshgate")
    if present:
        raise Skipped("meshgate files or user exist without the package (%s); this test "
                      "does not remove what it did not create" % ", ".join(present))
    with open(MARKER, "w") as f:
        f.write("%d\n" % os.getpid())


def build_package(h, binary):
    build_dir = os.path.dirname(os.path.dirname(os.path.abspath(binary)))
    check(os.path.exists(os.path.join(build_dir, "CMakeCache.txt")),
          "%s is not in a CMake build folder (expected DIR/cli/meshgate)" % binary)
    out = h.path("package")
    started = time.monotonic()
    p = run([os.path.join(SOURCE_DIR, "scripts", "package"), "--build-dir", build_dir,
             "--output", out, "--fast"], timeout=h.scaled(300))
    deb = p.stdout.strip().splitlines()[-1]
    log("scripts/package --build-dir %s: %s (%.1fs, %d kB)" %
        (build_dir, deb, time.monotonic() - started, os.path.getsize(deb) // 1024))
    version = run([binary, "--version"]).stdout.split()[-1]
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    check(os.path.basename(deb) == "meshgate_%s_%s.deb" % (version, arch),
          "package name %s, expected meshgate_%s_%s.deb" % (deb, version, arch))
    return deb


def check_package_metadata(deb):
    info = run(["dpkg-deb", "--info", deb]).stdout
    depends = re.search(r"^ Depends: (.*)$", info, re.M)
    check(depends, "no Depends in the package:\n" + info)
    deps = depends.group(1)
    log("Depends: %s" % deps)
    for lib in ("libc6", "libssl3", "libmilter", "libpoco", "libyaml-cpp", "libsqlite3",
                "libpq5", "libicu", "adduser"):
        check(lib in deps, "Depends lacks %s (dpkg-shlibdeps): %s" % (lib, deps))
    conffiles = run(["dpkg-deb", "--info", deb, "conffiles"]).stdout.split()
    check(conffiles == [CONFIG], "conffiles: %s, expected %s" % (conffiles, CONFIG))
    for script in ("postinst", "prerm", "postrm"):
        check(run(["dpkg-deb", "--info", deb, script], check_rc=False).returncode == 0,
              "no %s in the package" % script)
    files = run(["dpkg-deb", "--contents", deb]).stdout
    for path in ("./usr/sbin/meshgate", "./etc/meshgate/meshgate.yaml", "./lib/systemd/system/"
                 "meshgate.service", "./usr/share/man/man8/meshgate.8.gz",
                 "./usr/share/man/man5/meshgate.yaml.5.gz",
                 "./usr/share/doc/meshgate/copyright",
                 "./usr/share/doc/meshgate/examples/sendmail/meshgate.mc"):
        alt = path.replace("./lib/", "./usr/lib/")
        check(re.search(r" (%s|%s)$" % (re.escape(path), re.escape(alt)), files, re.M),
              "%s is not in the package:\n%s" % (path, files))
    # Every example under conf/ at build time is shipped (except the units, installed as
    # units), whoever wrote it.
    for src in glob.glob(os.path.join(SOURCE_DIR, "conf", "**", "*"), recursive=True):
        rel = os.path.relpath(src, os.path.join(SOURCE_DIR, "conf"))
        if os.path.isdir(src) or rel.startswith("systemd"):
            continue
        check(" ./usr/share/doc/meshgate/examples/%s\n" % rel in files,
              "conf/%s is not shipped in %s/" % (rel, EXAMPLES))


def check_installed_layout(service_running=False):
    pw = pwd.getpwnam("meshgate")
    check(pw.pw_uid < 1000, "meshgate is not a system user (uid %d)" % pw.pw_uid)
    check(pw.pw_dir == "/var/lib/meshgate", "home of meshgate: %s" % pw.pw_dir)
    check(pw.pw_shell in ("/usr/sbin/nologin", "/bin/false"), "shell of meshgate: %s" %
          pw.pw_shell)

    def owner(path):
        st = os.stat(path)
        return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                "%04o" % stat.S_IMODE(st.st_mode))

    expect = {"/var/lib/meshgate": ("meshgate", "meshgate", "0750"),
              SOCKET_DIR: ("meshgate", "postfix", "0750"),
              CONFIG: ("root", "meshgate", "0640")}
    for path, want in expect.items():
        check(os.path.exists(path), "%s was not created" % path)
        check(owner(path) == want, "%s is %s, expected %s" % (path, owner(path), want))
    check("meshgate" in grp.getgrnam("postfix").gr_mem,
          "meshgate is not in group postfix (it gives the milter socket group postfix)")
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "meshgate"]).stdout
    check(CONFIG in conffiles, "%s is not a conffile: %r" % (CONFIG, conffiles))
    check(os.path.exists(UNIT), "no %s" % UNIT)
    # No systemd here: postinst must not have enabled anything.
    check(not os.path.exists("/etc/systemd/system/multi-user.target.wants/meshgate.service"),
          "postinst enabled meshgate.service although systemd is not running")
    if not service_running:
        check(not meshgate_processes(), "postinst started meshgate without systemd: %s" %
              meshgate_processes())


def read_unit(path):
    """[Service] keys of a unit file (the last value wins, as for systemd's single-value keys)."""
    section, keys = None, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section == "Service" and "=" in line:
                k, v = line.split("=", 1)
                keys[k.strip()] = v.strip()
    return keys


def setpriv_prefix(unit):
    user = unit.get("User", "root")
    group = unit.get("Group", user)
    cmd = ["setpriv", "--reuid", user, "--regid", group]
    groups = unit.get("SupplementaryGroups", "").split()
    cmd += ["--groups", ",".join(groups)] if groups else ["--clear-groups"]
    if unit.get("NoNewPrivileges") == "yes":
        cmd.append("--no-new-privs")
    return cmd


def exec_line(value):
    """A systemd Exec line as argv ('-', '@', '+' prefixes are not used by our units)."""
    check(value and value[0] not in "-@+!:", "unexpected Exec prefix in %r" % value)
    return shlex.split(value)


def port_listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def config_ports():
    """The TCP ports the installed configuration listens on (mesh_service, policyd)."""
    ports = []
    section = None
    with open(CONFIG) as f:
        for line in f:
            m = re.match(r"^([a-z_]+):", line)
            if m:
                section = m.group(1)
            m = re.match(r"^  listen:\s*(\S+):(\d+)\s*$", line)
            if m and section in ("mesh_service", "policyd"):
                ports.append(int(m.group(2)))
    return ports


def start_like_systemd(h):
    """Runs ExecStartPre and ExecStart of meshgate.service the way systemd would, without it."""
    unit = read_unit(UNIT)
    log("meshgate.service: User=%s Group=%s SupplementaryGroups=%s RuntimeDirectory=%s "
        "UMask=%s\n  ExecStartPre=%s\n  ExecStart=%s" %
        (unit.get("User"), unit.get("Group"), unit.get("SupplementaryGroups"),
         unit.get("RuntimeDirectory"), unit.get("UMask"), unit.get("ExecStartPre"),
         unit.get("ExecStart")))
    busy = [p for p in config_ports() if port_listening(p)]
    check(not busy, "port(s) %s of the packaged configuration are taken by another program "
          "on this machine (ss -ltnp); the packaged service cannot start" % busy)
    user = unit.get("User", "root")
    if unit.get("RuntimeDirectory"):
        rd = os.path.join("/run", unit["RuntimeDirectory"])
        os.makedirs(rd, exist_ok=True)
        pw = pwd.getpwnam(user)
        os.chown(rd, pw.pw_uid, pw.pw_gid)
        os.chmod(rd, 0o755)
    umask = unit.get("UMask", "0022")
    wrap = ["sh", "-c", 'umask %s && exec "$0" "$@"' % umask] + setpriv_prefix(unit)
    if unit.get("ExecStartPre"):
        p = run(wrap + exec_line(unit["ExecStartPre"]), check_rc=False, timeout=h.scaled(60))
        check(p.returncode == 0, "ExecStartPre failed (exit %d): %s%s" %
              (p.returncode, p.stdout, p.stderr))
    proc = Process(h, "meshgate.service", wrap + exec_line(unit["ExecStart"]),
                   h.path("service.log"), die_with_parent=False)
    socket_path = None
    with open(CONFIG) as f:
        m = re.search(r"^  socket: unix:(\S+)", f.read(), re.M)
        socket_path = m.group(1)
    ports = config_ports()
    deadline = time.monotonic() + h.scaled(30)
    while time.monotonic() < deadline:
        if os.path.exists(socket_path) and all(port_listening(p) for p in ports):
            break
        check(proc.alive(), "meshgate.service's ExecStart exited (status %s):\n%s" %
              (proc.popen.returncode, proc.output()))
        time.sleep(0.1)
    else:
        raise TestFailed("meshgate.service not ready after %ss (socket %s, ports %s):\n%s" %
                         (h.scaled(30), socket_path, ports, proc.output()))
    st = os.stat(socket_path)
    check(grp.getgrgid(st.st_gid).gr_name == "postfix" and stat.S_IMODE(st.st_mode) == 0o660,
          "milter socket %s: group %s mode %04o, expected postfix 0660" %
          (socket_path, grp.getgrgid(st.st_gid).gr_name, stat.S_IMODE(st.st_mode)))
    ids = run(["ps", "-o", "user=,group=", "-p", str(proc.pid)]).stdout.split()
    check(ids == [user, unit.get("Group", user)], "the service runs as %s, expected %s" %
          (ids, user))
    log("meshgate.service running as %s (pid %d); socket %s; ports %s" %
        ("/".join(ids), proc.pid, socket_path, ports))
    return proc, unit


def as_service_user(unit, *args):
    """An administrator command on the store, run as the service's user (the store's owner)."""
    return run(setpriv_prefix(unit) + ["/usr/sbin/meshgate"] + list(args) +
               ["--config", CONFIG])


def parse_main_cf(text):
    """main.cf syntax: "name = value", continued on lines that start with white space."""
    params = {}
    for m in re.finditer(r"^([a-z_]+)\s*=\s*(.*(?:\n[ \t]+.*)*)", text, re.M):
        params.setdefault(m.group(1), " ".join(m.group(2).split()))
    return params


def shipped_postfix_settings():
    """The shipped main.cf snippet (examples/postfix/), else the milter lines of the admin
    guide installed with the package."""
    for path in sorted(glob.glob(os.path.join(EXAMPLES, "postfix", "*main.cf*"))):
        with open(path, errors="replace") as f:
            params = parse_main_cf(f.read())
        if "smtpd_milters" in params:
            return path, params
    guide = "/usr/share/doc/meshgate/admin-guide.md"
    if os.path.isfile(guide):
        with open(guide, errors="replace") as f:
            params = {k: v for k, v in parse_main_cf(f.read()).items()
                      if k in ("smtpd_milters", "milter_default_action")}
        if "smtpd_milters" in params:
            return guide, params
    raise TestFailed("the package ships no Postfix snippet with smtpd_milters (looked in %s/"
                     "postfix/ and the admin guide)" % EXAMPLES)


def postfix_from_snippet(h, sink):
    path, params = shipped_postfix_settings()
    log("Postfix settings from %s:\n  %s" %
        (path, "\n  ".join("%s = %s" % kv for kv in params.items())))
    # The test client connects from 127.0.0.1: outside mynetworks, so that a
    # permit_mynetworks in the snippet's restrictions does not skip the policy service.
    extra = dict(params, mynetworks="127.0.0.2/32")
    pf = h.postfix(sink, milter=None, extra=extra, start=False)
    # A path relative to the queue folder is what a chrooted smtpd sees: make it resolve.
    os.symlink(SOCKET_DIR, os.path.join(pf.queue_dir, "meshgate"))
    return pf.start(), path


def send_and_verify(h, pf, sink):
    msg, mid = make_message(FRIEND, [ACCOUNT], subject="through the packaged meshgate")
    r = smtp_send(pf.port, FRIEND, [ACCOUNT], msg)
    log("friend -> bob: %r" % r)
    check(r.accepted, "not accepted through Postfix + the packaged meshgate: %r\nmaillog:\n%s" %
          (r, pf.maillog()[-3000:]))
    check(pf.wait_queue_empty(h.scaled(60)), "Postfix's queue did not drain:\n%s" % pf.queue())
    check(sink.wait_count(1, h.scaled(30)), "nothing reached the sink; maillog:\n%s" %
          pf.maillog()[-3000:])
    time.sleep(1.0)
    got = sink.messages()
    check(len(got) == 1 and got[0].message_id() == mid,
          "expected the one message at the sink, got %d" % len(got))
    names = got[0].header_names()
    check([n for n in names if n.lower() == SIGNAL.lower()] == [SIGNAL] and names[0] == SIGNAL,
          "expected one %s as the first header: %s" % (SIGNAL, names[:6]))
    eml = got[0].write_message(h.path("delivered.eml"))
    p = run(["/usr/sbin/meshgate", "signal", "verify", eml, "--key",
             "/var/lib/meshgate/keys/gateway.key.pub"], check_rc=False)
    out = p.stdout + p.stderr
    log("meshgate signal verify -> exit %d: %s" % (p.returncode,
                                                   " | ".join(out.strip().splitlines())))
    check(p.returncode == 0 and "result:   verified" in out and
          "contact:  known-contact" in out, "the signal does not verify:\n%s" % out)


def reinstall_keeps_config_and_service(deb, service):
    """dpkg -i again (what an upgrade does): the administrator's edit of the conffile stays
    without a question, the running service is not stopped, the permissions are the same."""
    with open(CONFIG, "a") as f:
        f.write("# edited by the administrator\n")
    p = run(["dpkg", "-i", deb], check_rc=False, timeout=120, env=DPKG_ENV)
    log("dpkg -i again: exit %d: %s" % (p.returncode,
                                         " | ".join((p.stdout + p.stderr).strip().splitlines())))
    check(p.returncode == 0, "reinstalling failed:\n%s%s" % (p.stdout, p.stderr))
    with open(CONFIG) as f:
        check(f.read().endswith("# edited by the administrator\n"),
              "reinstalling replaced the administrator's %s" % CONFIG)
    check(service.alive(), "reinstalling stopped the running service")
    check_installed_layout(service_running=True)


def remove_then_purge(service):
    p = run(["dpkg", "--remove", "meshgate"], env=DPKG_ENV, timeout=120)
    log("dpkg --remove: %s" % " | ".join((p.stdout + p.stderr).strip().splitlines()))
    try:
        service.popen.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise TestFailed("the service still runs 60s after dpkg --remove (prerm must stop it)")
    left = meshgate_processes()
    check(not left, "meshgate processes survive dpkg --remove: %s" % left)
    check(dpkg_status() == "config-files", "after --remove, dpkg status is %s" % dpkg_status())
    for kept in ("/var/lib/meshgate/meshgate.db", "/var/lib/meshgate/keys/gateway.key", CONFIG):
        check(os.path.exists(kept), "dpkg --remove deleted %s (only purge may)" % kept)
    check(user_exists("meshgate"), "dpkg --remove deleted the user (only purge may)")
    check(not os.path.exists("/usr/sbin/meshgate"), "the binary survived dpkg --remove")

    p = run(["dpkg", "--purge", "meshgate"], env=DPKG_ENV, timeout=120)
    log("dpkg --purge: %s" % " | ".join((p.stdout + p.stderr).strip().splitlines()))
    check(dpkg_status() is None, "after --purge, dpkg status is %s" % dpkg_status())
    left = [path for path in PACKAGE_PATHS if os.path.lexists(path)]
    check(not left, "left after dpkg --purge: %s" % left)
    check(not user_exists("meshgate") and not group_exists("meshgate"),
          "the meshgate user or group survives dpkg --purge")
    check("meshgate" not in grp.getgrnam("postfix").gr_mem,
          "meshgate is still listed in group postfix")
    check(not meshgate_processes(), "meshgate processes after purge: %s" % meshgate_processes())


def test_install_run_purge(h):
    """The package installs with dpkg -i alone, passes check-config, runs as its unit says,
    filters a message through a Postfix configured from its snippet (delivered once, with a
    signal that verifies), stops on removal, keeps its data on remove and leaves nothing
    behind on purge."""
    for tool in ("dpkg", "dpkg-deb", "dpkg-shlibdeps", "setpriv"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            raise Skipped("%s is missing (Debian packages dpkg, dpkg-dev, util-linux)" % tool)
    claim_machine()
    service = None
    try:
        deb = build_package(h, h.meshgate_binary)
        check_package_metadata(deb)
        p = run(["dpkg", "-i", deb], check_rc=False, timeout=120, env=DPKG_ENV)
        log("dpkg -i: exit %d: %s" % (p.returncode,
                                       " | ".join((p.stdout + p.stderr).strip().splitlines())))
        check(p.returncode == 0, "dpkg -i failed (are its Depends installed? scripts/deps):\n"
              "%s%s" % (p.stdout, p.stderr))
        check_installed_layout()
        p = run(["/usr/sbin/meshgate", "check-config", CONFIG], check_rc=False)
        log("meshgate check-config %s -> exit %d: %s" % (CONFIG, p.returncode,
                                                        (p.stdout + p.stderr).strip()))
        check(p.returncode == 0, "the packaged configuration is invalid:\n%s%s" %
              (p.stdout, p.stderr))

        unit = read_unit(UNIT)
        as_service_user(unit, "account", "create", ACCOUNT)
        as_service_user(unit, "contacts", "add", "--account", ACCOUNT, FRIEND)
        service, unit = start_like_systemd(h)
        sink = h.smtp_sink()
        pf, snippet = postfix_from_snippet(h, sink)
        send_and_verify(h, pf, sink)
        pf.stop()
        reinstall_keeps_config_and_service(deb, service)
        remove_then_purge(service)
        out = service.output()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            check(marker not in out, "sanitizer report from the packaged service:\n" + out[-4000:])
    finally:
        by_hand = force_clean()
        if service is not None and service.alive():
            service.kill()
        if os.path.exists(MARKER):
            os.unlink(MARKER)
        if by_hand:
            log("cleaned up by hand: %s" % by_hand)
    check(not by_hand, "the package did not clean up after itself: %s" % by_hand)


if __name__ == "__main__":
    sys.exit(run_tests({
        "install_run_purge": (test_install_run_purge, {"budget": 180}),
    }))
