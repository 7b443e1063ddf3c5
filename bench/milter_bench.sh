#!/usr/bin/env bash
# NAME
#   bench/milter_bench.sh - milter throughput through a real Postfix (issue 5 item 9): no
#   milter, a null libmilter milter (bench/null_milter.c), and meshgate with a 100,000-contact
#   catalog and all checks on, in one session; plus meshgate's per-message milter latency.
#
# SYNOPSIS
#   bench/milter_bench.sh [--record] [BUILD_DIR] [-- milter_bench.py options]
#       BUILD_DIR defaults to build/release; --record appends the section to bench/RESULTS.md.
#       Options: --messages 2000 --sessions 20 --size 2048 --rounds 3 --contacts 100000
#                --latency-messages 1000 --latency-sessions 5
#                --variant bench/variants/audit-off.yaml (a second meshgate, same rounds)
#
# DESCRIPTION
#   Runs as root (a private Postfix instance on loopback, never the system one; see
#   tests/integration/lib/mgharness.py) and needs the postfix package (smtp-source, smtp-sink).
#   How it measures and what it checks: bench/milter_bench.py. Takes about 5 minutes on 2 cores
#   (most of it the 100,000-contact import and the rounds).
set -euo pipefail
cd "$(dirname "$0")/.."

record=0
if [[ "${1:-}" == "--record" ]]; then record=1; shift; fi
build="build/release"
if [[ $# -gt 0 && "$1" != "--" ]]; then build="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift

meshgate="$build/cli/meshgate"
null="$build/bench/null_milter"
for f in "$meshgate" "$null"; do
  if [[ ! -x "$f" ]]; then
    echo "milter_bench.sh: $f not found; build it: cmake --build $build --target meshgate null_milter" >&2
    exit 2
  fi
done
if grep -q AddressSanitizer "$meshgate"; then
  echo "milter_bench.sh: $meshgate is a sanitizer build; benchmark a release build" >&2
  exit 2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
python3 bench/milter_bench.py --meshgate "$meshgate" --null-milter "$null" --out "$out" \
  --command "bench/milter_bench.sh $build${*:+ -- $*}" "$@"
if [[ $record == 1 ]]; then
  { echo; cat "$out"; } >> bench/RESULTS.md
  echo "milter_bench.sh: appended to bench/RESULTS.md" >&2
fi
