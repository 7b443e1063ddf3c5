#!/usr/bin/env python3
# NAME
#   bench/ssh_bench.py - how long sshd waits for `meshgate ssh authorized-keys`, against `cat`
#   of an authorized_keys file, in one run.
#
# SYNOPSIS
#   bench/ssh_bench.py [--record] [--runs N] [BUILD_DIR]     (default BUILD_DIR: build/release)
#
# DESCRIPTION
#   sshd runs its AuthorizedKeysCommand as a new process per login, so the figure that matters
#   is the wall time of one whole invocation (fork+exec, loading meshgate.yaml, reading the
#   cache, answering), measured here from fork to exit, N times each, interleaved round-robin
#   so load changes on the shared machine hit every case alike:
#     baseline        cat authorized_keys (the same lines), the fastest possible "command"
#     reference       meshgate --version: what starting the meshgate executable costs at all
#     cache, small    the cache holds 3 accounts; fresh, the store is not touched
#     cache, 10k keys the cache padded with 5,000 more accounts of 2 keys each
#     store down      cache_refresh 0s (the store is always asked first) and the SQLite file
#                     replaced by a folder: the answer comes from the cache after the failure
#     store up        cache_refresh 0s, store reachable: read, cache rewritten, answered
#   The store and keys are made with the real CLI (account create, ssh allow, ssh refresh).
#   Prints a Markdown section (median, p95, max in ms and the ratio of medians to the
#   baseline); --record appends it to bench/RESULTS.md.
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def timed(cmd):
    """Wall ms, exit status, stdout, CPU ms (user + system of the child, from wait4)."""
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    t1 = time.perf_counter_ns()
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    return (t1 - t0) / 1e6, p.returncode, out, (usage.ru_utime + usage.ru_stime) * 1000


def write_config(path, work, refresh, cache_file=None):
    with open(path, "w") as f:
        f.write(f"""gateway:
  node: bench.example.com
  domains: [example.com]
  data_dir: {work}/var
  key_file: {work}/var/keys/gateway.key
store:
  backend: sqlite
  sqlite:
    path: {work}/var/meshgate.db
ssh:
  cache_file: {cache_file or work + "/var/ssh.cache"}
  cache_refresh: {refresh}
  users:
    root: alice@example.com
""")


def main():
    args = sys.argv[1:]
    record = "--record" in args
    runs = 200
    if "--runs" in args:
        runs = int(args[args.index("--runs") + 1])
        del args[args.index("--runs"):args.index("--runs") + 2]
    args = [a for a in args if a != "--record"]
    build = args[0] if args else os.path.join(ROOT, "build", "release")
    mg = os.path.abspath(os.path.join(build, "cli", "meshgate"))
    if not os.access(mg, os.X_OK):
        sys.exit("ssh_bench.py: %s not found; build it: cmake --build %s --target meshgate" % (mg, build))

    work = tempfile.mkdtemp(prefix="mg-ssh-bench-")
    try:
        os.makedirs(work + "/var")
        conf = work + "/meshgate.yaml"
        write_config(conf, work, "1h")
        for who in ("alice", "bob", "carol"):
            run(mg, "account", "create", who + "@example.com", "--config", conf)
            for n in (1, 2):
                key = "%s/%s%d" % (work, who, n)
                run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", key)
                run(mg, "ssh", "allow", "--account", who + "@example.com", "--key", key + ".pub",
                    "--option", "pty", "--config", conf)
        run(mg, "ssh", "refresh", "--config", conf)
        with open(work + "/alice1.pub") as f:
            ktype, kb64 = f.read().split()[:2]
        ask = [mg, "ssh", "authorized-keys", "--config", conf, "root", ktype, kb64]
        lines = subprocess.run(ask, capture_output=True, text=True, check=True).stdout
        assert lines.startswith("restrict,pty ssh-ed25519 "), lines
        with open(work + "/authorized_keys", "w") as f:
            f.write(lines)
        baseline = ["cat", work + "/authorized_keys"]

        small_cache = work + "/var/ssh.cache"
        with open(small_cache) as f:
            lines = f.read().splitlines()
        bob = next(l for l in lines if l.startswith("A bob@example.com "))
        big = lines + [bob.replace("bob@example.com", "user%05d@example.com" % i, 1)
                       for i in range(5000)]
        big_path = work + "/big.cache"
        with open(big_path, "w") as f:
            f.write("\n".join(big) + "\n")
        big_conf = work + "/big.yaml"
        write_config(big_conf, work, "1h", cache_file=big_path)

        # Store-down and store-up cases work on copies so the cases do not disturb each other.
        down = work + "/down"
        up = work + "/up"
        for d in (down, up):
            os.makedirs(d + "/var")
            shutil.copy(work + "/var/meshgate.db", d + "/var/meshgate.db")
            shutil.copy(small_cache, d + "/var/ssh.cache")
            write_config(d + "/meshgate.yaml", d, "0s")
        os.rename(down + "/var/meshgate.db", down + "/var/meshgate.db.away")
        os.mkdir(down + "/var/meshgate.db")

        cases = [
            ("baseline: cat authorized_keys", baseline),
            ("reference: meshgate --version (process start, no work)", [mg, "--version"]),
            ("meshgate, fresh cache (3 accounts)", ask),
            ("meshgate, fresh cache (5,003 accounts, 10,006 keys)",
             [mg, "ssh", "authorized-keys", "--config", big_conf, "root", ktype, kb64]),
            ("meshgate, store down (stale cache answers)",
             [mg, "ssh", "authorized-keys", "--config", down + "/meshgate.yaml", "root", ktype, kb64]),
            ("meshgate, store up, cache_refresh 0s (store read, cache rewritten)",
             [mg, "ssh", "authorized-keys", "--config", up + "/meshgate.yaml", "root", ktype, kb64]),
        ]
        for name, cmd in cases[2:]:  # each must answer with the key's line
            ms, rc, out, _ = timed(cmd)
            assert rc == 0 and out.startswith(b"restrict,pty "), (name, rc, out)
        load_before = os.getloadavg()
        samples = {name: [] for name, _ in cases}
        cpu = {name: [] for name, _ in cases}
        for _ in range(runs):
            for name, cmd in cases:
                ms, rc, _, cpu_ms = timed(cmd)
                if rc != 0:
                    sys.exit("ssh_bench.py: %s failed (exit %d)" % (name, rc))
                samples[name].append(ms)
                cpu[name].append(cpu_ms)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    base = statistics.median(samples[cases[0][0]])
    out = []
    out.append("## SSH: AuthorizedKeysCommand answer time (%s)\n" % time.strftime("%Y-%m-%d"))
    out.append("Command: `bench/ssh_bench.py --runs %d %s`  " % (runs, os.path.relpath(build, ROOT)))
    out.append("Machine: %d CPUs, %s; %s; load average %.1f at start, %.1f at end (other builds "
               "running)\n" % (os.cpu_count(), model, platform.platform(), load_before[0], load_after[0]))
    out.append("Wall time of one whole invocation (fork to exit), %d runs each, interleaved; CPU = "
               "user + system time of the child (wait4), which the machine's load does not "
               "inflate.\n" % runs)
    out.append("| case | median ms | p95 ms | max ms | median / baseline | median CPU ms |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for name, _ in cases:
        s = sorted(samples[name])
        p95 = s[min(len(s) - 1, int(len(s) * 0.95))]
        med = statistics.median(s)
        out.append("| %s | %.1f | %.1f | %.1f | %.1f | %.1f |" %
                   (name, med, p95, s[-1], med / base, statistics.median(cpu[name])))
    text = "\n".join(out) + "\n"
    print(text)
    if record:
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
