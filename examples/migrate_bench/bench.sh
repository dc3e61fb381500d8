#!/usr/bin/env bash
# examples/migrate_bench/bench.sh — Figure 4 of the paper on this machine:
# time to migrate a program with a heap of 100 KB .. 1 GB from h1 to h2
# (network-namespace hosts, scripts/cluster.sh), binary mode (executable
# cached at h2) and IR mode (cold: h2 compiles the bitcode; cached), beside
# the floor: the same heap bytes zstd-compressed and sent over the same link
# (netfloor).  "frozen" is how long the program was stopped (moj_migrate's
# call to its return at h2); the phases come from MOJAVE_MIGRATE_STATS.
# Prints a markdown table (medians of REPS runs).  Not a test.
#   examples/migrate_bench/bench.sh [build-dir] [sizes...]   (REPS=3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd); shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(102400 204800 1048576 10485760 104857600 1073741824)
REPS=${REPS:-3}
# descriptors inherited from the caller are not the program's (a pipe would make it refuse)
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
cluster=$here/../../scripts/cluster.sh
export MOJAVE_NSD=$build/bin/mojave-nsd MOJAVED=$build/bin/mojaved
dir=$(mktemp -d /tmp/mojave-fig4.XXXXXX)
trap '"$cluster" down "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
"$cluster" up "$dir" 2 >/dev/null
addr2=$(awk '$1 == "host" && $2 == "h2" { split($3, a, ":"); print a[1] }' "$dir/cluster.conf")
"$cluster" exec "$dir" h2 "$build/bin/netfloor" --listen 7811 & floor_pid=$!
sleep 0.5
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
run() { # mode size -> "frozen_ms capture_ms ship_ms image_bytes"
  local out err
  out=$("$cluster" exec "$dir" h1 env MOJAVE_MIGRATE_STATS=1 "$build/bin/mojave-run" \
          "$build/bin/migbench" "$2" h2 "$1" 2>"$dir/err")
  grep -q '^PASS migbench' <<<"$out" || { echo "migbench failed:" >&2; echo "$out" >&2; cat "$dir/err" >&2; exit 1; }
  local fz cap ship bytes
  fz=$(awk '/^frozen_ms/ { print $2 }' <<<"$out")
  cap=$(grep -o 'capture+encode [0-9.]* ms' "$dir/err" | awk '{ print $2 }')
  ship=$(grep -o 'ship+restore [0-9.]* ms' "$dir/err" | awk '{ print $2 }')
  bytes=$(grep -o '([0-9]*-byte image)' "$dir/err" | tr -dc 0-9)
  echo "$fz $cap $ship $bytes"
}
echo "machine: $(nproc) cores, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
cold=$(run binary 102400); echo "binary, first migration (executable shipped to h2): $(cut -d' ' -f1 <<<"$cold") ms frozen"
echo
echo "| heap | image bytes | floor ms | binary frozen ms | binary / floor | capture+encode ms | ship+restore ms | IR cold ms | IR cached ms | IR cold / binary | IR cached / binary |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in "${sizes[@]}"; do
  fl=(); bf=(); bc=(); bs=(); ic=()
  for _ in $(seq "$REPS"); do
    fl+=("$("$cluster" exec "$dir" h1 "$build/bin/netfloor" --send "$addr2" 7811 "$size" | awk '{ print $2 }')")
    read -r f c s b < <(run binary "$size"); bf+=("$f"); bc+=("$c"); bs+=("$s"); bytes=$b
  done
  # IR cold: h2's compile cache emptied first, so h2 compiles the bitcode
  rm -rf "$dir"/mojaved-state-h2/ir/*
  read -r ir_cold _ < <(run ir "$size")
  for _ in $(seq "$REPS"); do read -r f _ < <(run ir "$size"); ic+=("$f"); done
  F=$(printf '%s\n' "${fl[@]}" | median); B=$(printf '%s\n' "${bf[@]}" | median)
  C=$(printf '%s\n' "${bc[@]}" | median); S=$(printf '%s\n' "${bs[@]}" | median)
  I=$(printf '%s\n' "${ic[@]}" | median)
  awk -v sz="$size" -v by="$bytes" -v f="$F" -v b="$B" -v c="$C" -v s="$S" -v ic="$ir_cold" -v i="$I" 'BEGIN {
    h = sz >= 1073741824 ? sprintf("%g GB", sz / 1073741824) : sz >= 1048576 ? sprintf("%g MB", sz / 1048576) : sprintf("%g KB", sz / 1024)
    printf "| %s | %d | %.1f | %.1f | %.2fx | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx |\n", h, by, f, b, b / f, c, s, ic, i, ic / b, i / b }'
done
echo
echo "IR cold: h2's compile cache emptied before the run (h2 compiles the bitcode); IR cached: the compile cache hit."
kill "$floor_pid" 2>/dev/null || true
