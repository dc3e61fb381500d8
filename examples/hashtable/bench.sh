#!/usr/bin/env bash
# examples/hashtable/bench.sh [BUILD_DIR] [N] — issue 12's write-heavy
# workload, classical against speculative: 4 processes on 4 hosts each make N
# updates to a hash table in one distributed segment under one semaphore
# (hashtable.c).  For each link profile (injected on the daemons' links to
# each other, `order-link`, and to processes of other hosts, `client-link`):
#   home        the semaphore homed on h1 (IVY / home-based, order off)
#   osem-c      an ordered semaphore set, `order classical` (nsd_osem.c);
#               the segment home-based (IVY)
#   osem-s      the same with `order speculative`
#   oshm-c      the semaphore and the segment ordered (nsd_oshm.c: every
#               store ordered), `order classical`
#   oshm-s      the same with `order speculative`
#   otx-c       the segment ordered, no semaphore: each update a speculation
#               committed as a checked transaction (hashtable run-tx),
#               `order classical`; "speculations" are transactions
#               committed / refused and run again
#   otx-s       the same with `order speculative`
# each with speculative lock acquisition off and on.  Prints a markdown
# table: total updates per second (4 hosts, wall time of the slowest),
# mean µs per update per process, speculations committed / rolled back and
# rollbacks per second.  PROFILES overrides the profiles ("lan wan"), MODES
# the modes.
# Not a test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CL=$root/scripts/cluster.sh
if [ "${1:-}" = --inner ]; then
  shift
  D=$MOJAVE_CLUSTER_DIR key=0x4d4a7101 P=$HT_PROG n=$HT_N
  "$CL" exec "$D" h1 "$P" init $key
  t0=$(date +%s.%N)
  for i in 1 2 3 4; do
    "$CL" exec "$D" h$i env MOJAVE_DSM_STATS=1 "$P" "${HT_RUN:-run}" $key "$n" $((i * 7919)) > "$D/ht$i.out" 2> "$D/ht$i.err" &
  done
  wait
  t1=$(date +%s.%N)
  "$CL" exec "$D" h2 "$P" check $key $((4 * n)) >&2
  us=$(awk '{ s += $1 } END { printf "%.0f", s / NR }' "$D"/ht[1-4].out)
  read -r c a < <(cat "$D"/ht[1-4].err | sed -n -e 's/.*speculative locks: \([0-9]*\) committed, \([0-9]*\) rolled back.*/\1 \2/p' \
                    -e 's/^transactions: \([0-9]*\) committed, \([0-9]*\) refused.*/\1 \2/p' |
                  awk '{ c += $1; a += $2 } END { print c + 0, a + 0 }')
  awk -v t0="$t0" -v t1="$t1" -v n="$n" -v us="$us" -v c="$c" -v a="$a" -v lbl="$*" \
    'BEGIN { w = t1 - t0; printf "| %s | %.0f | %s | %d / %d | %.0f |\n", lbl, 4 * n / w, us, c, a, a / w }'
  exit
fi
build=$(cd "${1:-$root/build}" && pwd); n=${2:-100}
export MOJAVE_NSD=$build/bin/mojave-nsd HT_PROG=$build/bin/hashtable HT_N=$n
[ -x "$HT_PROG" ] || { echo "bench.sh: $HT_PROG not built" >&2; exit 1; }
echo "| link profile | semaphore | speculative locks | updates/s (4 hosts) | µs per update (mean of 4) | speculations committed / rolled back | rollbacks/s |"
echo "|---|---|---|---:|---:|---:|---:|"
for prof in ${PROFILES:-lan wan}; do
  case $prof in
    lan) link="100 50" ;;
    wan) link="2000 500" ;;
    *) echo "bench.sh: unknown profile $prof (lan, wan)" >&2; exit 2 ;;
  esac
  for mode in ${MODES:-home osem-c osem-s oshm-c oshm-s otx-c otx-s}; do
    case $mode in
      home) extra="" ;;
      osem-c) extra="order classical
ordered 0x4d4a7100-0x4d4a71ff sem,msg" ;;
      osem-s) extra="order speculative
ordered 0x4d4a7100-0x4d4a71ff sem,msg" ;;
      oshm-c) extra="order classical
ordered 0x4d4a7100-0x4d4a71ff" ;;
      oshm-s) extra="order speculative
ordered 0x4d4a7100-0x4d4a71ff" ;;
      otx-c) extra="order classical
ordered 0x4d4a7100-0x4d4a71ff" ;;
      otx-s) extra="order speculative
ordered 0x4d4a7100-0x4d4a71ff" ;;
      *) echo "bench.sh: unknown mode $mode (home osem-c osem-s oshm-c oshm-s otx-c otx-s)" >&2; exit 2 ;;
    esac
    run=run; sls="off on"
    case $mode in otx-*) run=run-tx; sls=off ;; esac
    for sl in $sls; do
      HT_RUN=$run MOJAVE_CLUSTER_EXTRA="$extra
order-link $link 0
client-link $link
speculative-locks $sl" "$CL" run 4 "$0" --inner "$prof ($link µs)" "$mode" "$sl"
    done
  done
done
echo "($n updates per process; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ))"
