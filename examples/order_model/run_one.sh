#!/usr/bin/env bash
# examples/order_model/run_one.sh OUTDIR MSGS — one run of the total-order
# layer on the cluster of scripts/cluster.sh run (MOJAVE_CLUSTER_DIR): every
# host submits MSGS messages at once (0-2 ms apart), all commit, then each
# host's counters (OUTDIR/hN.stats) and per-message records (OUTDIR/hN.rec).
set -euo pipefail
out=$1 msgs=$2
CL=${CLUSTER:?} BIN=${BIN:?}
hosts=$(awk '$1 == "host" {print $2}' "$MOJAVE_CLUSTER_DIR/cluster.conf")
n=$(echo "$hosts" | wc -l)
mkdir -p "$out"
for h in $hosts; do "$CL" exec "$MOJAVE_CLUSTER_DIR" "$h" "$BIN/order" links; done
pids=()
for h in $hosts; do "$CL" exec "$MOJAVE_CLUSTER_DIR" "$h" "$BIN/order" submit "$msgs" >/dev/null & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
for h in $hosts; do
  "$CL" exec "$MOJAVE_CLUSTER_DIR" "$h" "$BIN/order" wait $((n * msgs)) > "$out/$h.stats"
  "$CL" exec "$MOJAVE_CLUSTER_DIR" "$h" "$BIN/order" dump "$out/$h.rec"
done
