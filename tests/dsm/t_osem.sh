#!/usr/bin/env bash
# t_osem.sh MODE — ordered semaphore sets (cluster file `ordered RANGE` with
# `order MODE`, nsd_osem.c): a set in the range has no home; each daemon keeps
# a replica and applies every semget/semop/semctl when it commits in the
# total order.  Links between the daemons carry an injected, jittery delay.
#   1. an unmodified program under LD_PRELOAD (classical path: waits for the
#      commit): 4 processes on 4 hosts add to a counter under an ordered
#      semaphore with SEM_UNDO; the total must be exact;
#   2. a mojcc program with `speculative-locks on` (runs past P while it is
#      being ordered; told MOJ_EQUEUED at commit when it must wait): the
#      same on 4 hosts, counter exact, speculations counted;
#   3. SEM_UNDO and deadlines through the order: a process on each host
#      takes a unit with SEM_UNDO and exits; GETVAL (a semctl, ordered too)
#      then reads the initial value on every host; a semtimedop on a zero
#      semaphore times out with EAGAIN;
#   4. the replicas agree: every daemon committed the same sequence (equal
#      hash chains once all have committed the same number of messages);
#      in speculative mode (a window shorter than the links' delay) the
#      order layer rolled deliveries back, in classical mode it never
#      speculated.
. "$(dirname "$0")/lib.sh"
mode=${1:-classical}
name=dsm_osem_$mode
rc=0
d=$MOJAVE_CLUSTER_DIR/osem; mkdir -p "$d"
for h in h1 h2 h3 h4; do order $h links || rc=1; done
ITERS=${ITERS:-150}
for i in 0 1 2 3; do on h$((i + 1)) sem_counter 0x4d4a7001 4 $ITERS $i; done
wait_all || { echo "FAIL $name: the LD_PRELOAD counter under an ordered semaphore"; rc=1; }
spec() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" env MOJAVE_DSM_STATS=1 timeout -k 2 120 "$SPEC_LOCK_PROG" "${@:2}"; }
stat() { sed -n "s/.*speculative locks: \([0-9]*\) committed, \([0-9]*\) rolled back.*/\1 \2/p" "$1"; }
spec h1 init 0x4d4a7002 || rc=1
for h in h1 h2 h3 h4; do spec $h run 0x4d4a7002 100 2> "$d/$h.err" & pids+=($!); done
wait_all || rc=1
tc=0; ta=0
for h in h1 h2 h3 h4; do read -r c a < <(stat "$d/$h.err"; echo "0 0"); tc=$((tc + ${c:-0})); ta=$((ta + ${a:-0})); done
echo "speculative lock acquisition over the total order: $tc speculations committed, $ta rolled back"
[ $((tc + ta)) -gt 0 ] || { echo "FAIL $name: no P speculated"; cat "$d"/h*.err; rc=1; }
spec h3 check 0x4d4a7002 400 || rc=1
probe() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" env LD_PRELOAD="$IPC_LIB" timeout -k 2 60 "$BIN/osem_probe" "${@:2}"; }
probe h1 init 0x4d4a7003 2 || rc=1
for h in h1 h2 h3 h4; do probe $h undo 0x4d4a7003 || rc=1; done
for h in h1 h2 h3 h4; do
  v=$(probe $h get 0x4d4a7003) || rc=1
  echo "$h: semaphore 0x4d4a7003 = $v after 4 processes took a unit with SEM_UNDO and left"
  [ "$v" = 2 ] || { echo "FAIL $name: $h reads $v, want 2"; rc=1; }
done
probe h2 init 0x4d4a7004 0 && probe h3 timeout 0x4d4a7004 || rc=1
probe h4 rm 0x4d4a7003 && probe h1 rm 0x4d4a7004 || rc=1
replicas_agree "$d" h1 h2 h3 h4 || { echo "FAIL $name: the replicas committed different sequences"; rc=1; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) s += $(i + 1)} END {print s + 0}' "$d"/h*.log; }
echo "order layer, all hosts: $(field spec) speculative deliveries, $(field aborts) rollbacks"
if [ "$mode" = speculative ]; then # a 200 us window against 300-1000 us links: deliveries must have been undone
  [ "$(field aborts)" -gt 0 ] || { echo "FAIL $name: the order layer never rolled back"; rc=1; }
else
  [ "$(field spec)" = 0 ] || { echo "FAIL $name: classical mode speculated"; rc=1; }
fi
verdict "$name" $rc
