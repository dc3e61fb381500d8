#!/usr/bin/env bash
# t_litmus.sh TEST [NAME] — one SC litmus test across hosts: coordinator on
# h1, the litmus threads on h2.. (IRIW: 4 threads on h2..h5).  LITMUS_ITERS
# (default 10000), LITMUS_TIMEOUT (seconds per program, default 240).  NAME:
# the verdict's test name (default dsm_litmus_TEST).
. "$(dirname "$0")/lib.sh"
t=$1
iters=${LITMUS_ITERS:-10000}
out=$MOJAVE_CLUSTER_DIR/litmus
mkdir -p "$out"
k=2; [ "$t" = iriw ] && k=4
TEST_TIMEOUT=${LITMUS_TIMEOUT:-240}
for r in $(seq 0 $k); do on h$((r + 1)) litmus run "$t" 0x4d4a0100 $r "$iters" "$out"; done
rc=0
wait_all || rc=1
[ $rc -eq 0 ] && { "$BIN/litmus" check "$t" "$iters" "$out" || rc=1; }
verdict "${2:-dsm_litmus_${t/+/p}}" $rc
