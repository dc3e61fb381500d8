#!/usr/bin/env bash
# t_flood.sh — a hostile peer at scale against h1's daemon (issue 9, item 6):
# FLOOD_CONNS unauthenticated connections held at once (1 MiB frames announced
# and streamed, junk, idle), then FLOOD_CHURN short junk connections, then 300
# idle ones.  The daemon's RSS may grow by at most 20 MB, its log by at most
# 250 lines (60 per 10 s from one peer; the run spans two or three windows),
# and a legitimate client must be served throughout (flood checks that).
. "$(dirname "$0")/lib.sh"
rc=0
log=$MOJAVE_CLUSTER_DIR/nsd-h1.log
pid=$(cat "$MOJAVE_CLUSTER_DIR/nsd-h1.pid")
before=$(wc -l <"$log")
out=$("$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h2 timeout 90 "$BIN/flood" "$MOJAVE_CLUSTER_DIR/cluster.conf" h1 h2 "$pid" \
  "${FLOOD_CONNS:-300}" "${FLOOD_CHURN:-3000}") || rc=1
echo "$out"
lines=$(($(wc -l <"$log") - before))
echo "daemon log: +$lines lines during the flood"
delta=$(echo "$out" | awk '/^rss_delta_kb/ {print $2}')
if [ -z "$delta" ] || [ "$delta" -gt "${FLOOD_RSS_KB:-20480}" ]; then echo "daemon RSS grew by ${delta:-?} kB (bound ${FLOOD_RSS_KB:-20480})"; rc=1; fi
[ "$lines" -le "${FLOOD_LOG_LINES:-250}" ] || { echo "daemon log grew by $lines lines (bound ${FLOOD_LOG_LINES:-250})"; rc=1; }
kill -0 "$pid" || { echo "daemon died"; rc=1; }
verdict dsm_flood $rc
