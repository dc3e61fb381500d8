#!/usr/bin/env bash
# t_spec_random.sh — randomized multi-host check (spec_random.c, mojcc):
# 4 processes on 4 hosts, ROUNDS each (default 150) of random reads/writes
# of shared cells and a counter semop inside explicit speculations, 1 in 4
# aborted, under a lock whose P may itself speculate and roll back; the
# committed history (the shared log) is replayed against a sequential model.
# Rollbacks (explicit aborts and speculative lock roll-backs) are counted.
. "$(dirname "$0")/lib.sh"
rc=0
key=0x4d4a7201
d=$MOJAVE_CLUSTER_DIR/spec_random; mkdir -p "$d"
run() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" env MOJAVE_DSM_STATS=1 timeout -k 2 600 "$SPEC_RANDOM_PROG" "${@:2}"; }
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h1 timeout -k 2 120 "$BIN/order" links >/dev/null 2>&1 || true
run h1 init $key || rc=1
for i in 1 2 3 4; do run h$i run $key $i "${ROUNDS:-150}" > "$d/h$i.out" 2> "$d/h$i.err" & pids+=($!); done
wait_all || rc=1
cat "$d"/h*.out
commits=$(awk '$1 == "commits" { s += $2 } END { print s + 0 }' "$d"/h*.out)
aborts=$(awk '$1 == "commits" { s += $4 } END { print s + 0 }' "$d"/h*.out)
read -r lc la < <(sed -n 's/.*speculative locks: \([0-9]*\) committed, \([0-9]*\) rolled back.*/\1 \2/p' "$d"/h*.err |
                 awk '{ c += $1; a += $2 } END { print c + 0, a + 0 }')
echo "explicit speculations: $commits committed, $aborts aborted; speculative lock acquisitions: $lc committed, $la rolled back"
[ "$aborts" -gt 0 ] || { echo "FAIL no explicit speculation aborted"; rc=1; }
run h2 check $key "$commits" || rc=1
verdict dsm_spec_random $rc
