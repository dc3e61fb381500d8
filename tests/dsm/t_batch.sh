#!/usr/bin/env bash
# t_batch.sh — fault batching: a sequential read scan and a sequential write
# of 1024 pages on other hosts take a few dozen faults (the batch doubles from
# --readahead 8 to 64), the write's first stores to write-ahead pages take a
# few dozen upgrade messages (the run doubles), the data is right, and a
# process killed after storing to 2 pages of a write-ahead batch loses exactly
# those 2 pages.
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/batch; mkdir -p "$out"
rc=0
run() { # HOST LOG ARGS...: run batch on HOST with fault statistics
  local host=$1 log=$2; shift 2
  "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$host" env LD_PRELOAD="$IPC_LIB" MOJAVE_DSM_STATS=1 timeout -k 2 60 "$BIN/batch" "$@" 2>"$log" || { cat "$log"; rc=1; }
}
field() { sed -n "s/.* \([0-9][0-9]*\) $2.*/\1/p" "$1" | head -1; }
run h1 "$out/fill.log" fill 0x4d4a0d00 1024
run h2 "$out/scan.log" scan 0x4d4a0d00 1024
run h3 "$out/write.log" write 0x4d4a0d10 1024
cat "$out"/scan.log "$out"/write.log
rf=$(field "$out/scan.log" "read faults"); wf=$(field "$out/write.log" "write faults"); up=$(field "$out/write.log" "write-ahead pages")
um=$(sed -n 's/.*(\([0-9][0-9]*\) upgrades).*/\1/p' "$out/write.log" | head -1)
# one fault per page would be 1024; fixed 9-page batches ~114
[ -n "$rf" ] && [ "$rf" -le 40 ] || { echo "FAIL read scan took ${rf:-?} faults for 1024 pages (want <= 40)"; rc=1; }
[ -n "$wf" ] && [ "$wf" -le 40 ] || { echo "FAIL write scan took ${wf:-?} write faults for 1024 pages (want <= 40)"; rc=1; }
[ -n "$up" ] && [ "$up" -ge 984 ] || { echo "FAIL only ${up:-?} pages were stored to through write-ahead (want >= 984)"; rc=1; }
# one message per page would be ~1000; runs doubling to 64 pages ~25
[ -n "$um" ] && [ "$um" -le 60 ] || { echo "FAIL the write scan sent ${um:-?} upgrade messages for $up pages (want <= 60)"; rc=1; }
# crash after storing to 2 pages of a write-ahead batch
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h4 env LD_PRELOAD="$IPC_LIB" "$BIN/batch" victim 0x4d4a0d20 "$out" &
victim=$!
for _ in $(seq 600); do [ -s "$out/victim.ready" ] && break; sleep 0.05; done
[ -s "$out/victim.ready" ] || { echo "FAIL victim never became ready"; kill "$victim"; verdict dsm_batch 1; exit 1; }
kill -9 "$(cat "$out/victim.ready")"
wait "$victim" 2>/dev/null
lost=
for _ in $(seq 600); do
  lost=$(sed -n 's/.*segment id=.*: \([0-9]*\) page(s) lost with crashed pid.*/\1/p' "$MOJAVE_CLUSTER_DIR"/nsd-*.log | tail -1)
  [ -n "$lost" ] && break; sleep 0.05
done
echo "home: ${lost:-no} page(s) lost with the killed process"
[ "$lost" = 2 ] || { echo "FAIL the home lost ${lost:-no} pages, want exactly the 2 stored to"; rc=1; }
run h2 "$out/surv.log" survivor 0x4d4a0d20 64
verdict dsm_batch $rc
