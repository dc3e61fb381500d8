#!/usr/bin/env bash
# t_crash.sh — kill -9 one participant (h4) while it holds a semaphore and the
# only copy of a page; survivors on h1..h3 must get clear errors within 2 s.
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/crash; mkdir -p "$out"
TEST_TIMEOUT=60
for i in 1 2 3; do on h$i crash survivor 0x4d4a0500 $i "$out"; done
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h4 env LD_PRELOAD="$IPC_LIB" "$BIN/crash" victim 0x4d4a0500 3 "$out" &
victim=$!
for _ in $(seq 600); do [ -s "$out/victim.ready" ] && break; sleep 0.05; done
[ -s "$out/victim.ready" ] || { echo "FAIL victim never became ready"; kill "$victim"; wait_all; verdict dsm_crash 1; exit 1; }
# lets the survivors block on the mutex first, so the times they print measure
# the release; correctness does not depend on it
sleep 0.3
vpid=$(cat "$out/victim.ready")
date +%s.%N >"$out/kill.time"
kill -9 "$vpid"
wait "$victim" 2>/dev/null
wait_all; verdict dsm_crash $?
