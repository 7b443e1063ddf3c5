#!/usr/bin/env bash
# NAME
#   bench/mesh_bench.sh - the Mesh core benchmarks with their baselines, in one run.
#
# SYNOPSIS
#   bench/mesh_bench.sh [--record] [BUILD_DIR]      (default BUILD_DIR: build/release)
#
# DESCRIPTION
#   (a) UDF digest throughput on a 1 MiB input (meshgate's contentDigestUdf, in process)
#       against `openssl dgst -sha512` on the same file in the same run. openssl hashes the
#       file 256 times per invocation so its start-up is amortised; it is measured 7 times
#       before and 7 times after meshgate, and the best is kept, as for meshgate.
#   (b) DARE sign, sign+seal, verify, parse+verify and open ops/s, each against the bare EVP
#       calls it wraps (bench/mesh_bench.cc), on 4 KiB and 1 MiB payloads.
#   Prints a Markdown section; --record also appends it to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

record=0
if [[ "${1:-}" == "--record" ]]; then record=1; shift; fi
build="${1:-build/release}"
bin="$build/bench/mesh_bench"
if [[ ! -x "$bin" ]]; then
  echo "mesh_bench.sh: $bin not found; build it: cmake --build $build --target mesh_bench" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 1048576 /dev/urandom > "$work/data"

repeat=256
files=()
for ((i = 0; i < repeat; i++)); do files+=("$work/data"); done

# Best MiB/s of 7 invocations of `openssl dgst -sha512` over the file `repeat` times.
openssl_best() {
  local best=0 t0 t1
  for ((r = 0; r < 7; r++)); do
    t0=$(date +%s%N)
    openssl dgst -sha512 "${files[@]}" > /dev/null
    t1=$(date +%s%N)
    best=$(awk -v b="$best" -v n="$repeat" -v ns="$((t1 - t0))" \
      'BEGIN { v = n / (ns / 1e9); print (v > b ? v : b) }')
  done
  echo "$best"
}

ossl_before=$(openssl_best)
udf_out=$("$bin" udf "$work/data")
ossl_after=$(openssl_best)
ossl=$(awk -v a="$ossl_before" -v b="$ossl_after" 'BEGIN { print (a > b ? a : b) }')
udf=$(awk '$1 ~ /^udf_sha512_[0-9]+B$/ { print $2 }' <<< "$udf_out")
evp=$(awk '$1 ~ /^udf_sha512_[0-9]+B_evp$/ { print $2 }' <<< "$udf_out")

dare_small=$("$bin" dare 4096)
dare_large=$("$bin" dare 1048576)

value() { awk -v k="$1" '$1 == k { print $2 }' <<< "$2"; }

{
  echo
  echo "## Mesh core: UDF digest and DARE ($(date -u +%Y-%m-%d))"
  echo
  echo "Command: \`bench/mesh_bench.sh $build\` (mesh_bench built $(
    grep -m1 CMAKE_BUILD_TYPE "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2 || echo '?'))"
  echo "Machine: $(nproc) CPUs, $(lscpu | grep 'Model name' | sed 's/Model name: *//');" \
    "$(openssl version)"
  echo
  echo "### (a) UDF digest, 1 MiB input, SHA-512"
  echo
  echo "| measurement | MiB/s | ratio |"
  echo "|---|---:|---:|"
  printf '| meshgate contentDigestUdf (in process) | %.0f | |\n' "$udf"
  printf '| openssl dgst -sha512, same file x%d per run (best of 14 runs: %.0f before, %.0f after) | %.0f | |\n' \
    "$repeat" "$ossl_before" "$ossl_after" "$ossl"
  printf '| EVP_Digest SHA-512 in process, same buffer | %.0f | |\n' "$evp"
  awk -v u="$udf" -v o="$ossl" -v e="$evp" 'BEGIN {
    printf "| **UDF / openssl dgst** (target >= 0.9) | | **%.2f** |\n", u / o
    printf "| UDF / in-process EVP_Digest | | %.2f |\n", u / e }'
  echo
  echo "### (b) DARE operations vs the bare EVP calls they wrap (ops/s)"
  echo
  echo "One Ed25519 signer; seal and open also encrypt to / decrypt for one X25519 recipient."
  echo "verify is the signature check of an already parsed envelope; parse+verify starts from text."
  echo
  echo "| operation | payload | meshgate | bare EVP | ratio |"
  echo "|---|---:|---:|---:|---:|"
  for out_size in "4096:$dare_small" "1048576:$dare_large"; do
    size=${out_size%%:*}
    out=${out_size#*:}
    for op in sign seal verify parse_verify open; do
      key="dare_${op}_${size}B"
      printf '| %s | %s | %s | %s | %s |\n' "$op" "$size" "$(value "$key" "$out")" \
        "$(value "${key}_evp" "$out")" "$(value "${key}_ratio" "$out")"
    done
  done
} > "$work/section.md"

cat "$work/section.md"
if [[ $record -eq 1 ]]; then
  cat "$work/section.md" >> bench/RESULTS.md
  echo "(appended to bench/RESULTS.md)" >&2
fi
