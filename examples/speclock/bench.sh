#!/usr/bin/env bash
# examples/speclock/bench.sh [BUILD_DIR] [N] — speculative lock acquisition
# (paper §3.2.4, cluster file `speculative-locks on`) against the classical
# semop, same run: one process on h2 does N rounds of P, a critical section
# (a busy loop of WORK iterations that reads and writes a counter in a
# segment homed on h1), V; the semaphore is homed on h1.  Microseconds per
# round for each WORK.  Uncontended: every P is granted at once, so the
# speculation always commits — the case speculation is for.  No injected
# delay: MOJAVE_NET_DELAY_US sleeps in the sender before a call, which the
# speculative path (its request is sent without a call) would not pay — an
# unfair comparison; a delay on the home's replies is needed for that.
# Not a test: prints a markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "${1:-}" = --inner ]; then build=$SPECLOCK_BUILD n=$SPECLOCK_N
else build=$(cd "${1:-$root/build}" && pwd); n=${2:-300}; export SPECLOCK_BUILD=$build SPECLOCK_N=$n; fi
export MOJAVE_NSD=$build/bin/mojave-nsd
CL=$root/scripts/cluster.sh
P=$build/tests/dsm/bin/spec_lock
[ -x "$P" ] || { echo "bench.sh: $P not built" >&2; exit 1; }
inner() { # MODE: one cluster, every (delay, work) pair
  local D=$MOJAVE_CLUSTER_DIR key=0x4d4a0ec0
  "$CL" exec "$D" h1 "$P" init $key
  for delay in 0; do
    for work in 0 20000 100000; do
      printf '%s %s %s ' "$1" "$delay" "$work"
      "$CL" exec "$D" h2 env SPEC_LOCK_TIMING=1 MOJAVE_NET_DELAY_US=$delay "$P" run $key "$n" "$work"
    done
  done
  "$CL" exec "$D" h1 "$P" check $key $((3 * n)) >/dev/null
}
if [ "${1:-}" = --inner ]; then shift; inner "$@"; exit; fi
out=$(mktemp)
for mode in off on; do
  MOJAVE_CLUSTER_EXTRA="speculative-locks $mode" "$CL" run 4 "$0" --inner "$mode" >> "$out"
done
# work alone, no DSM: what the critical section costs by itself
echo "| client delay (us) | critical section (busy-loop iterations) | classical semop (us/round) | speculative (us/round) | speculative / classical |"
echo "|---:|---:|---:|---:|---:|"
awk '{ t[$1 " " $2 " " $3] = $4; k[$2 " " $3] = 1 } END {
  for (x in k) { split(x, a, " "); printf "%s %s %s %s\n", a[1], a[2], t["off " x], t["on " x] } }' "$out" |
  sort -n -k1,1 -k2,2 | awk '{ printf "| %s | %s | %.1f | %.1f | %.2fx |\n", $1, $2, $3, $4, $4 / $3 }'
echo "($n rounds each; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ))"
rm -f "$out"
