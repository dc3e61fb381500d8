#!/usr/bin/env bash
# examples/matmul/bench.sh [BUILD_DIR] [SIZES] — Figure 3: seconds for the four
# versions of naive matrix multiplication, same run.  DSM and message passing
# use 4 hosts from scripts/cluster.sh (network namespaces on this machine, so all
# versions share the same CPU cores).  Times include process start except for
# threads, as in the paper.  Not a test: prints a markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
sizes=${2:-"100 200 1000"}
MM=$build/examples/matmul/matmul
export MOJAVE_NSD=$build/runtime/dsm/mojave-nsd
IPC=$build/runtime/dsm/libmojave_ipc.so
CL=$root/scripts/cluster.sh

if [ -z "${MOJAVE_CLUSTER_DIR:-}" ]; then exec "$CL" run 4 "$0" "$build" "$sizes"; fi
D=$MOJAVE_CLUSTER_DIR
addr() { awk -v h="$1" '$1=="host" && $2==h {split($3,a,":"); print a[1]}' "$D/cluster.conf"; }
ts() { date +%s.%N; }
dsm_run() { # n -> wall seconds for the 4 workers (process start included)
  local n=$1 key=$((0x4d4a0700 + n % 256))
  "$CL" exec "$D" h1 env LD_PRELOAD="$IPC" "$MM" dsm-init $key "$n"
  local t0; t0=$(ts)
  for q in 0 1 2 3; do "$CL" exec "$D" h$((q + 1)) env LD_PRELOAD="$IPC" "$MM" dsm-work $key "$n" $q & done
  wait
  local t1; t1=$(ts)
  "$CL" exec "$D" h1 env LD_PRELOAD="$IPC" "$MM" dsm-check $key "$n" || { echo "DSM result wrong" >&2; exit 1; }
  echo "$t0 $t1" | awk '{printf "%.3f", $2-$1}'
}
msg_run() { # n -> master's time, workers already listening on h1..h4
  local n=$1 port=$((9000 + RANDOM % 1000)) hp=()
  for q in 0 1 2 3; do
    "$CL" exec "$D" h$((q + 1)) "$MM" msg-worker $port &
    hp+=("$(addr h$((q + 1))):$port")
  done
  local t0; t0=$(ts)
  "$CL" exec "$D" h1 "$MM" msg-master "$n" "${hp[@]}" >/dev/null
  wait
  local t1; t1=$(ts)
  echo "$t0 $t1" | awk '{printf "%.3f", $2-$1}'
}
echo "| n | pthreads (s) | SysV shm, 1 host (s) | message passing, 4 hosts (s) | DSM, 4 hosts (s) | DSM / shm |"
echo "|---|---|---|---|---|---|"
for n in $sizes; do
  th=$("$MM" threads "$n")
  sh=$("$MM" shm "$n")
  mp=$(msg_run "$n")
  ds=$(dsm_run "$n")
  echo "| $n | $th | $sh | $mp | $ds | $(echo "$ds $sh" | awk '{printf "%.2fx", $1/$2}') |"
done
echo "(cluster mode: $(cat "$D/mode"); $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ))"
