#!/usr/bin/env bash
# t_order.sh [MODE] — the total-order layer among 4 daemons (cluster file
# `order MODE`, links with injected delay and jitter): every host submits 150
# messages at once; every daemon must commit all 600, and the hash chains of
# the committed sequences must be equal on all hosts.  Speculative mode (a
# fixed window shorter than the jitter) must have delivered speculatively and
# rolled back; classical mode never.  A client claiming to be a daemon's link
# is refused.
. "$(dirname "$0")/lib.sh"
mode=${1:-speculative}
name=dsm_order_$mode
rc=0
run() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" timeout -k 2 120 "$BIN/order" "${@:2}"; }
for h in h1 h2 h3 h4; do run $h links || rc=1; done
for h in h1 h2 h3 h4; do run $h submit 150 & pids+=($!); done
wait_all || rc=1
out=$MOJAVE_CLUSTER_DIR/order; mkdir -p "$out"
for h in h1 h2 h3 h4; do run $h wait 600 > "$out/$h.txt" || rc=1; cat "$out/$h.txt"; done
chains=$(awk '{for (i = 1; i < NF; i++) if ($i == "chain") print $(i + 1)}' "$out"/h*.txt | sort -u | wc -l)
[ "$chains" = 1 ] || { echo "FAIL the hosts committed different sequences ($chains distinct hash chains)"; rc=1; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) s += $(i + 1)} END {print s + 0}' "$out"/h*.txt; }
spec=$(field spec); aborts=$(field aborts)
echo "all hosts: $spec speculative deliveries, $aborts rollbacks"
if [ "$mode" = speculative ]; then
  [ "$spec" -gt 0 ] || { echo "FAIL speculative mode never delivered speculatively"; rc=1; }
  [ "$aborts" -gt 0 ] || { echo "FAIL speculative mode never rolled back (jitter 4 ms against a 0.5 ms window)"; rc=1; }
else
  [ "$spec" = 0 ] && [ "$aborts" = 0 ] || { echo "FAIL classical mode speculated"; rc=1; }
fi
run h1 dump "$out/h1.records" || rc=1
n=$(grep -vc '^#' "$out/h1.records"); [ "$n" = 600 ] || { echo "FAIL h1 recorded $n messages, want 600"; rc=1; }
# every record: latency >= 0, stable >= 0; in classical mode delivery = stability
awk -v m="$mode" '!/^#/ { if ($4 < 0 || $5 < 0) bad++; if (m == "classical" && $5 != $4) bad++ } END { exit bad > 0 }' "$out/h1.records" ||
  { echo "FAIL inconsistent per-message records"; rc=1; }
run h2 intrude || rc=1
verdict "$name" $rc
