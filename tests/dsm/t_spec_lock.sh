#!/usr/bin/env bash
# t_spec_lock.sh — speculative lock acquisition (spec_lock.c built by mojcc
# into $SPEC_LOCK_PROG, cluster file `speculative-locks on`): one process
# alone (every P granted at once: its speculations commit), then 4 hosts at
# once (most P must queue: rolled back, waited, redone); the counter in a
# segment homed on h1 must be exact both times.
#   t_spec_lock.sh [delayed]  delayed: the cluster file injects `client-link
#   DELAY JITTER` (nsd_delay.c): the lone run must take at least the two
#   delayed exchanges (P's grant, V) per round — the injection is real — and
#   the counter stays exact under the jitter.
. "$(dirname "$0")/lib.sh"
d=$MOJAVE_CLUSTER_DIR/spec_lock; mkdir -p "$d"
rc=0
key=0x4d4a0ea0
run() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" env MOJAVE_DSM_STATS=1 timeout -k 2 120 "$SPEC_LOCK_PROG" "${@:2}"; }
stat() { sed -n "s/.*speculative locks: \([0-9]*\) committed, \([0-9]*\) rolled back.*/\1 \2/p" "$1"; }
name=dsm_spec_lock${1:+_$1}
delay=$(sed -n 's/^client-link \([0-9]*\) .*/\1/p' "$MOJAVE_CLUSTER_DIR/cluster.conf")
[ -z "${1:-}" ] || [ -n "$delay" ] || { echo "FAIL $name: no client-link line in the cluster file"; rc=1; }
run h1 init $key || rc=1
us=$(SPEC_LOCK_TIMING=1 run h2 run $key 200 2> "$d/alone.err") || rc=1
echo "alone: ${us:-?} us per round"
if [ -n "${1:-}" ] && ! awk -v u="${us:-0}" -v d="${delay:-0}" 'BEGIN { exit !(u >= 2 * d) }'; then
  echo "FAIL $name: ${us:-?} us per round, but each round has two exchanges delayed by $delay us"; rc=1
fi
read -r c a < <(stat "$d/alone.err"; echo "0 0")
echo "alone: $c speculations committed, $a rolled back"
[ "${c:-0}" -gt 0 ] || { echo "FAIL no speculative lock acquisition committed"; cat "$d/alone.err"; rc=1; }
for h in h1 h2 h3 h4; do run $h run $key 200 2> "$d/$h.err" & pids+=($!); done
wait_all || rc=1
tc=0; ta=0
for h in h1 h2 h3 h4; do read -r c a < <(stat "$d/$h.err"; echo "0 0"); tc=$((tc + ${c:-0})); ta=$((ta + ${a:-0})); done
echo "4 hosts: $tc speculations committed, $ta rolled back"
[ $((tc + ta)) -gt 0 ] || { echo "FAIL the contended run never speculated"; rc=1; }
run h3 check $key 1000 || rc=1
verdict $name $rc
