#!/usr/bin/env bash
# examples/matmul/latency.sh [BUILD_DIR] [SAMPLES] — DSM latency table: remote
# page faults and semop next to the raw TCP round trip on the same link (h2 ->
# h1; segment homed on h1; the "third host" is h3).  Not a test.
# MOJAVE_CLUSTER_EXTRA='encrypt aes-256-gcm' (or chacha20-poly1305) measures
# the same with every DSM frame sealed (docs/dsm.md "Security").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
samples=${2:-2000}
export MOJAVE_NSD=$build/bin/mojave-nsd
# one fault = one request: home read-ahead off unless asked for (it would turn
# the sequential page walk below into mostly local hits)
export MOJAVE_NSD_READAHEAD=${MOJAVE_NSD_READAHEAD:-0}
CL=$root/scripts/cluster.sh
if [ -z "${MOJAVE_CLUSTER_DIR:-}" ]; then exec "$CL" run 3 "$0" "$build" "$samples"; fi
D=$MOJAVE_CLUSTER_DIR
LAT=$build/bin/latency
IPC=$build/runtime/dsm/libmojave_ipc.so
h1=$(awk '$1=="host" && $2=="h1" {split($3,a,":"); print a[1]}' "$D/cluster.conf")
"$CL" exec "$D" h1 "$LAT" echo 9100 &
"$CL" exec "$D" h3 env LD_PRELOAD="$IPC" "$LAT" owner 0x4d4a0800 "$samples" "$D" &
"$CL" exec "$D" h2 env LD_PRELOAD="$IPC" "$LAT" run 0x4d4a0800 "$samples" "$h1:9100" "$D"
wait
enc=$(awk '$1=="encrypt" {print $2}' "$D/cluster.conf")
echo "(encrypt ${enc:-off}; home read-ahead $MOJAVE_NSD_READAHEAD; cluster mode: $(cat "$D/mode"); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ))"
