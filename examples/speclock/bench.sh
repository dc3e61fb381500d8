#!/usr/bin/env bash
# examples/speclock/bench.sh [BUILD_DIR] [N] — speculative lock acquisition
# (paper §3.2.4, cluster file `speculative-locks on`) against the classical
# semop, same run: one process on h2 does N rounds of P, a critical section
# (a busy loop of WORK iterations that reads and writes a counter in a
# segment homed on h1), V; the semaphore is homed on h1.  Microseconds per
# round for each WORK and each injected round-trip delay (cluster file
# `client-link DELAY 0`: every frame a daemon sends to a process waits DELAY
# µs, so each request/reply exchange costs DELAY more, whoever waits for it).
# Uncontended: every P is granted at once, so the speculation always
# commits — the case speculation is for.  DELAYS and WORKS (space-separated
# lists) override the sweep.  Not a test: prints a markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "${1:-}" = --inner ]; then build=$SPECLOCK_BUILD n=$SPECLOCK_N
else build=$(cd "${1:-$root/build}" && pwd); n=${2:-300}; export SPECLOCK_BUILD=$build SPECLOCK_N=$n; fi
export MOJAVE_NSD=$build/bin/mojave-nsd
CL=$root/scripts/cluster.sh
P=$build/tests/dsm/bin/spec_lock
[ -x "$P" ] || { echo "bench.sh: $P not built" >&2; exit 1; }
DELAYS=${DELAYS:-0 500 2000}
WORKS=${WORKS:-0 1000000 4000000}
inner() { # MODE DELAY: one cluster, every work size
  local D=$MOJAVE_CLUSTER_DIR key=0x4d4a0ec0 nw=0
  "$CL" exec "$D" h1 "$P" init $key
  for work in $WORKS; do
    printf '%s %s %s ' "$1" "$2" "$work"
    "$CL" exec "$D" h2 env SPEC_LOCK_TIMING=1 "$P" run $key "$n" "$work"
    nw=$((nw + 1))
  done
  "$CL" exec "$D" h1 "$P" check $key $((nw * n)) >/dev/null
}
if [ "${1:-}" = --inner ]; then shift; inner "$@"; exit; fi
out=$(mktemp)
for delay in $DELAYS; do
  for mode in off on; do
    MOJAVE_CLUSTER_EXTRA="speculative-locks $mode
client-link $delay 0" "$CL" run 2 "$0" --inner "$mode" "$delay" >> "$out"
  done
done
# work alone, no DSM: what the critical section costs by itself
echo "| injected delay per exchange (us) | critical section (busy-loop iterations) | classical semop (us/round) | speculative (us/round) | speculative / classical |"
echo "|---:|---:|---:|---:|---:|"
awk '{ t[$1 " " $2 " " $3] = $4; k[$2 " " $3] = 1 } END {
  for (x in k) { split(x, a, " "); printf "%s %s %s %s\n", a[1], a[2], t["off " x], t["on " x] } }' "$out" |
  sort -n -k1,1 -k2,2 | awk '{ printf "| %s | %s | %.1f | %.1f | %.2fx |\n", $1, $2, $3, $4, $4 / $3 }'
echo "($n rounds each; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ))"
rm -f "$out"
