#!/usr/bin/env bash
# t_order_fail.sh — write speculation for faults (issue 12 item 3): the
# total order loses a participant.  4 daemons, `order speculative`,
# `order-fail-after 2000`, jittery links; h1..h3 submit 400 ordered messages
# each while h4 submits too, and h4's daemon is killed with SIGKILL midway.
# The survivors must notice (silence), agree to exclude h4 (FAIL exchange,
# majority), drop h4's messages beyond the agreed cut (undone where they
# were delivered speculatively) and go on: equal hash chains on h1..h3 with
# all 1200 survivor messages committed; then an ordered semaphore counter
# on h1..h3 (3 x 100, exact) and 3 x 50 new messages, committed everywhere.
. "$(dirname "$0")/lib.sh"
rc=0
out=$MOJAVE_CLUSTER_DIR/order_fail; mkdir -p "$out"
run() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" timeout -k 2 120 "$BIN/order" "${@:2}"; }
for h in h1 h2 h3 h4; do run $h links || rc=1; done
for h in h1 h2 h3; do run $h submit 400 > "$out/$h.sub" & pids+=($!); done
run h4 submit 100000 > /dev/null 2>&1 & victim=$!
# a point in the middle of the submissions (not a bound on anything)
for _ in $(seq 300); do [ "$(run h1 wait 0 | sed -n 's/.* committed \([0-9]*\) .*/\1/p')" -ge 300 ] 2>/dev/null && break; sleep 0.01; done
kill -9 "$(cat "$MOJAVE_CLUSTER_DIR/nsd-h4.pid")"
wait "$victim" 2>/dev/null || true
wait_all || { echo "FAIL a survivor's submissions failed"; rc=1; }
# converge: equal committed counts and chains on h1..h3, h4 excluded everywhere
converge() { # MIN: at least this many committed
  for _ in $(seq 600); do
    for h in h1 h2 h3; do run $h wait 0 > "$out/$h.log" 2>&1 || true; done
    n=$(awk '{for (i = 1; i < NF; i++) if ($i == "committed" || $i == "chain" || $i == "excluded") printf "%s ", $(i + 1); print ""}' "$out"/h[123].log | sort -u | wc -l)
    c=$(sed -n 's/.* committed \([0-9]*\) .*/\1/p' "$out/h1.log")
    [ "$n" = 1 ] && [ "${c:-0}" -ge "$1" ] && grep -q "excluded 0x8 " "$out/h1.log" && return 0
    sleep 0.1
  done
  cat "$out"/h[123].log
  return 1
}
converge 1200 || { echo "FAIL the survivors did not agree on one sequence with h4 excluded"; rc=1; }
cat "$out"/h[123].log
first=$(sed -n 's/.* committed \([0-9]*\) .*/\1/p' "$out/h1.log")
grep -h "excluded by agreement" "$MOJAVE_CLUSTER_DIR"/nsd-h[123].log || { echo "FAIL no daemon logged the exclusion"; rc=1; }
# the survivors go on: ordered semaphores (replicated, through the order) and new messages
for i in 0 1 2; do on h$((i + 1)) sem_counter 0x4d4a7301 3 100 $i; done
wait_all || { echo "FAIL the ordered semaphore counter after the exclusion"; rc=1; }
for h in h1 h2 h3; do run $h submit 50 > /dev/null & pids+=($!); done
wait_all || rc=1
converge $((first + 150)) || { echo "FAIL new messages after the exclusion were not committed everywhere"; rc=1; }
verdict dsm_order_fail $rc
