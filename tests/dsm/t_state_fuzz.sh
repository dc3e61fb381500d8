#!/usr/bin/env bash
# t_state_fuzz.sh — semaphore and queue state files: damaged copies of real
# ones are refused (`mojave-nsd --verify-state`, 300 mutations per file, fixed
# seeds), never a crash; then a restarted home that finds damaged files next
# to good ones logs and sets them aside (*.corrupt) and keeps the good ones.
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/sfz; mkdir -p "$out/good"
sd=$MOJAVE_CLUSTER_DIR/state-h2
TEST_TIMEOUT=120
rc=0
wait_for() { for _ in $(seq 1200); do [ -f "$out/$1" ] && return 0; sleep 0.05; done; echo "FAIL timeout waiting for $1"; return 1; }
on h3 state_fuzz hold 0x4d4a9401 0x4d4a9402 "$out"
wait_for ready || rc=1
cp "$sd"/sem-*.state "$sd"/msg-*.state "$out/good/" || rc=1
seed=1
for f in "$out"/good/*.state; do
  "$BIN/state_fuzz" mutate "$MOJAVE_NSD" "$MOJAVE_CLUSTER_DIR/cluster.conf" h2 "$f" "$out/work.$seed" 300 $seed || rc=1
  seed=$((seed + 1))
done
# the live daemon: damaged files planted next to the good ones
"$CLUSTER" stop-nsd "$MOJAVE_CLUSTER_DIR" h2
printf 'not a state file' >"$sd/sem-4000.state"
g=$(ls "$out"/good/msg-*.state | head -1)
head -c 40 "$g" >"$sd/msg-4001.state"
"$CLUSTER" start-nsd "$MOJAVE_CLUSTER_DIR" h2
n=$(grep -c 'ignoring state file' "$MOJAVE_CLUSTER_DIR/nsd-h2.log" || true)
[ "$n" -eq 2 ] || { echo "FAIL expected 2 'ignoring state file' lines, got $n"; rc=1; }
grep 'ignoring state file' "$MOJAVE_CLUSTER_DIR/nsd-h2.log"
[ -f "$sd/sem-4000.state.corrupt" ] && [ -f "$sd/msg-4001.state.corrupt" ] || { echo "FAIL damaged files not set aside"; rc=1; }
touch "$out/go"
wait_all || rc=1
verdict dsm_state_fuzz $rc
