#!/usr/bin/env bash
# bench/policyd_bench.sh BUILD_DIR [SECONDS] - `meshgate policyd` vs postfwd2 (issue 6 item 7).
#
# Starts, side by side on loopback, `meshgate policyd` (SQLite store in a temporary folder) and
# postfwd2 (Debian package postfwd; scripts/deps --test) with the same rule set:
#   - a per-client-address rate limit, counted for every message but set too high to trigger
#     (meshgate counts once per message `instance` in its store; postfwd2 counts requests in
#     memory);
#   - mail from an authenticated user (sasl_username) to the domain rival.example: REJECT
#     (meshgate: an egress rule; direction outbound from sasl_username);
#   - everything else: DUNNO (meshgate also runs its ingress check for local recipients).
# A second meshgate ("meshgate-wt", its own store) runs with abuse.flush_interval 0s: every
# count written to the store at once, as before batching, the baseline for what batching buys.
# Then drives each with policyd_bench (BUILD_DIR/bench/policyd_bench: persistent connections,
# one request in flight per connection, all driven from one thread), alternating meshgate /
# meshgate-thr (meshgate again, the generator on a thread per connection) / meshgate-wt /
# postfwd2 twice at 10 connections and once at 1 connection, and prints the machine, the
# commands and the results.
#
# The servers run as the systemd units run them (conf/systemd/meshgate-policyd.service): logging
# to syslog only, not also to stderr (--foreground). On a host where net.unix.max_dgram_qlen is
# below 512, the script raises it to 512 for the run and restores it after: systemd raises it to
# 512 when it boots (PID 1 does, bump_unix_max_dgram_qlen), so a Debian server's /dev/log queues
# 512 lines; a container without systemd keeps the kernel's default of 10, and a sender that
# finds those full waits until the syslog reader is scheduled again.
#
# MESHGATE_BASELINE=/path/to/another/meshgate adds that binary (e.g. a build of an earlier
# commit) as row "baseline", same configuration, its own store, in the same rounds: a change to
# the server compared side by side with what it replaces.
set -euo pipefail
build=${1:?usage: bench/policyd_bench.sh BUILD_DIR [SECONDS]}
seconds=${2:-5}
meshgate=$build/cli/meshgate
bench=$build/bench/policyd_bench
[[ -x $meshgate && -x $bench ]] || { echo "build meshgate and policyd_bench in $build first" >&2; exit 1; }
command -v postfwd2 >/dev/null || { echo "postfwd2 missing: scripts/deps --test" >&2; exit 1; }

work=$(mktemp -d /tmp/policyd-bench.XXXXXX)
pids=()
devlog_ours=0
qlen_file=/proc/sys/net/unix/max_dgram_qlen
qlen_before=$(cat "$qlen_file" 2>/dev/null || echo "")
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $devlog_ours == 1 ]]; then rm -f /dev/log; fi
  if [[ -n $qlen_before && $(cat "$qlen_file") != "$qlen_before" ]]; then
    echo "$qlen_before" > "$qlen_file" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Before any syslog socket is made: a datagram socket's queue length is fixed when it is created.
if [[ -n $qlen_before ]] && (( qlen_before < 512 )); then
  echo 512 > "$qlen_file" 2>/dev/null || echo "note: cannot raise $qlen_file from $qlen_before" >&2
fi

# meshgate logs one line per request to syslog, as an administrator expects. A host without a
# syslog daemon (a bare container) makes every syslog(3) call open, fail to connect and close a
# socket under glibc's syslog lock, which a real host never pays: then a receiver that reads
# and discards stands in for rsyslog on /dev/log for the length of the run (its CPU on the
# same cores, as rsyslog's would be). postfwd2 runs without logging.
if [[ ! -S /dev/log ]]; then
  python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log"); os.chmod("/dev/log", 0o666)
while True: s.recv(65536)' &
  pids+=($!)
  devlog_ours=1
  for i in $(seq 1 50); do [[ -S /dev/log ]] && break; sleep 0.1; done
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mg_port=$(free_port)
wt_port=$(free_port)
bl_port=$(free_port)
baseline=${MESHGATE_BASELINE:-}
pf_port=$(free_port)

cat > "$work/meshgate.yaml" <<YAML
gateway:
  node: bench.example.com
  domains: [example.com]
  data_dir: $work/var
  key_file: $work/var/keys/gateway.key
store:
  sqlite:
    path: $work/var/meshgate.db
milter:
  enabled: false
mesh_service:
  enabled: false
policyd:
  listen: 127.0.0.1:$mg_port
  max_connections: 64
ingress:
  default: tag-unknown
abuse:
  exempt_authenticated: false
  limits:
    - {name: per-client, key: client_address, window: 1m, max: 1000000000, action: tempfail}
egress:
  rules:
    - name: no-rival
      match: {recipient_domain: [rival.example]}
      action: reject
      reject_text: "mail to %r is not allowed"
YAML

cat > "$work/postfwd.cf" <<'RULES'
# the same rules as meshgate.yaml above
id=RATE ; action=rate(client_address/1000000000/60/450 4.7.1 too much mail from you)
id=EGRESS ; sasl_username=. ; recipient_domain==rival.example ; action=REJECT mail to this domain is not allowed
RULES

# The write-through baseline: the same file with its own store and port, counts written at once.
sed -e "s|$work/var|$work/var-wt|g" -e "s|127.0.0.1:$mg_port|127.0.0.1:$wt_port|" \
    -e "s|^  exempt_authenticated: false|  exempt_authenticated: false\n  flush_interval: 0s|" \
    "$work/meshgate.yaml" > "$work/meshgate-wt.yaml"
sed -e "s|$work/var|$work/var-bl|g" -e "s|127.0.0.1:$mg_port|127.0.0.1:$bl_port|" \
    "$work/meshgate.yaml" > "$work/meshgate-bl.yaml"

echo "## machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "kernel:   $(uname -r)"
echo "meshgate: $("$meshgate" --version 2>/dev/null | head -1 || echo "$meshgate")  (build $build)"
[[ -n $baseline ]] && echo "baseline: $("$baseline" --version 2>/dev/null | head -1 || echo "$baseline")  ($baseline)"
echo "postfwd2: $(postfwd2 -V 2>&1 | head -1)"
echo "syslog:   $([[ $devlog_ours == 1 ]] && echo "no daemon on this host: the script's discarding receiver on /dev/log" || echo "the host's /dev/log")"
echo "dgram_qlen: $(cat "$qlen_file" 2>/dev/null) (net.unix.max_dgram_qlen for the run; the host's: $qlen_before)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# As the systemd unit runs it: lines to syslog only (start-up errors still reach stderr).
"$meshgate" policyd --config "$work/meshgate.yaml" > "$work/meshgate.log" 2>&1 &
pids+=($!)
"$meshgate" policyd --config "$work/meshgate-wt.yaml" > "$work/meshgate-wt.log" 2>&1 &
pids+=($!)
if [[ -n $baseline ]]; then
  "$baseline" policyd --config "$work/meshgate-bl.yaml" > "$work/meshgate-bl.log" 2>&1 &
  pids+=($!)
fi
# postfwd2 as packaged: a daemon (its rate() limits need its cache daemon, which --nodaemon
# does not start), default pre-forking (10 to 100 servers), no DNS, no logging; its cache
# socket and pid file in the work folder, which its user must be able to write.
mkdir -p "$work/postfwd" && chown nobody:nogroup "$work/postfwd" && chmod 755 "$work"
postfwd2 --file "$work/postfwd.cf" --interface 127.0.0.1 --port "$pf_port" \
  --user nobody --group nogroup --nodns --perfmon --pidfile "$work/postfwd/postfwd.pid" \
  --cache_proto unix --cache_port "$work/postfwd/cache.sock" > "$work/postfwd.log" 2>&1
stop_postfwd() {  # the daemon's own processes: its master and every process in its group
  local pid
  pid=$(cat "$work/postfwd/postfwd.pid" 2>/dev/null) || return 0
  local pgid
  pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
  if [[ "$pgid" == "$pid" ]]; then kill -- "-$pgid" 2>/dev/null || true; else kill "$pid" 2>/dev/null || true; fi
}
trap 'stop_postfwd; cleanup' EXIT
up() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }
for i in $(seq 1 600); do
  up "$mg_port" && up "$wt_port" && { [[ -z $baseline ]] || up "$bl_port"; } && up "$pf_port" && break
  sleep 0.1
done
up "$mg_port" || { echo "meshgate did not start:"; cat "$work/meshgate.log"; exit 1; }
up "$wt_port" || { echo "meshgate-wt did not start:"; cat "$work/meshgate-wt.log"; exit 1; }
if [[ -n $baseline ]]; then
  up "$bl_port" || { echo "the baseline did not start:"; cat "$work/meshgate-bl.log"; exit 1; }
fi
grep -q "flush_interval: 0s" "$work/meshgate-wt.yaml" || { echo "meshgate-wt.yaml lacks flush_interval"; exit 1; }
up "$pf_port" || { echo "postfwd2 did not start:"; cat "$work/postfwd.log"; exit 1; }
sleep 2  # let postfwd2 pre-fork its servers

echo
echo "## runs (policyd_bench --connections N --seconds $seconds --warmup 1; closed loop, one thread drives every connection unless --threads)"
run() {  # label port connections [policyd_bench options]
  local label=$1 port=$2 conns=$3
  shift 3
  "$bench" --label "$label" --port "$port" --connections "$conns" --seconds "$seconds" --warmup 1 "$@"
}
pf_best=0
for round in 1 2; do
  run meshgate "$mg_port" 10
  # The same server driven by a thread per connection (the generator before it used one poll
  # loop): what the generator's own threads add to the latency on these cores.
  run meshgate-thr "$mg_port" 10 --threads
  run meshgate-wt "$wt_port" 10
  [[ -n $baseline ]] && run baseline "$bl_port" 10
  pf_line=$(run postfwd2 "$pf_port" 10)
  echo "$pf_line"
  pf_rate=$(sed -n 's/.*req_per_s=\([0-9]*\).*/\1/p' <<<"$pf_line")
  (( pf_rate > pf_best )) && pf_best=$pf_rate
done
run meshgate "$mg_port" 1
run meshgate-wt "$wt_port" 1
[[ -n $baseline ]] && run baseline "$bl_port" 1
run postfwd2 "$pf_port" 1
# Open loop at 5x the best postfwd2 managed saturated: the target's throughput, offered at a
# steady rate rather than as fast as possible, so latency is the server's and not the queue's.
rate=$(( 5 * pf_best ))
echo
echo "## open loop at 5 x postfwd2's best saturated rate ($pf_best req/s): --rate $rate"
for round in 1 2; do
  run meshgate "$mg_port" 10 --rate "$rate"
  run meshgate-wt "$wt_port" 10 --rate "$rate"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
