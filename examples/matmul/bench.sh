#!/usr/bin/env bash
# examples/matmul/bench.sh [BUILD_DIR] [SIZES] [REPS] — Figure 3: seconds for the
# four versions of naive matrix multiplication, same run, best of REPS (default 3,
# the paper reports best times).  DSM and message passing
# use 4 hosts from scripts/cluster.sh (network namespaces on this machine, so all
# versions share the same CPU cores).  Times include process start except for
# threads, as in the paper: the program's exec, dynamic loading and, for DSM, the
# LD_PRELOAD library's start-up; not the test harness — programs are started
# through `cluster.sh prefix` (nsenter + env), not through the cluster.sh
# script, whose bash costs ~10 ms CPU per start (MATMUL_VIA_SCRIPT=1 restores
# that, to compare).  Not a test: prints a markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
sizes=${2:-"100 200 1000"}
reps=${3:-3}
MM=$build/bin/matmul
export MOJAVE_NSD=$build/bin/mojave-nsd
IPC=$build/runtime/dsm/libmojave_ipc.so
CL=$root/scripts/cluster.sh

if [ -z "${MOJAVE_CLUSTER_DIR:-}" ]; then exec "$CL" run 4 "$0" "$build" "$sizes" "$reps"; fi
D=$MOJAVE_CLUSTER_DIR
addr() { awk -v h="$1" '$1=="host" && $2==h {split($3,a,":"); print a[1]}' "$D/cluster.conf"; }
ts() { date +%s.%N; }
# on HOST CMD...: run CMD "on" HOST (its namespaces, MOJAVE_CLUSTER/MOJAVE_HOST)
for h in h1 h2 h3 h4; do mapfile -t "PFX_$h" < <("$CL" prefix "$D" "$h"); done
on() {
  if [ -n "${MATMUL_VIA_SCRIPT:-}" ]; then "$CL" exec "$D" "$@"; return; fi
  local -n pfx="PFX_$1"; shift
  "${pfx[@]}" "$@"
}
tck=$(getconf CLK_TCK)
# CPU seconds of the daemons so far (utime + stime), to charge the DSM their work
nsd_cpu() { for p in "$D"/nsd-*.pid; do awk '{print $14 + $15}' "/proc/$(cat "$p")/stat"; done | awk -v t="$tck" '{s += $1} END {printf "%.3f", s / t}'; }
# CPU seconds of this (sub)shell's waited-for children
kids_cpu() { awk -v t="$tck" '{printf "%.3f", ($16 + $17) / t}' "/proc/$BASHPID/stat"; }
dsm_run() { # n -> "wall CPU": the 4 workers (process start included) + daemon CPU meanwhile
  local n=$1 key=$((0x4d4a0700 + n % 256))
  on h1 env LD_PRELOAD="$IPC" "$MM" dsm-init $key "$n"
  local d0; d0=$(nsd_cpu)
  local t0; t0=$(ts)
  local kc; kc=$(for q in 0 1 2 3; do on h$((q + 1)) env LD_PRELOAD="$IPC" "$MM" dsm-work $key "$n" $q & done; wait; kids_cpu)
  local t1; t1=$(ts)
  local d1; d1=$(nsd_cpu)
  on h1 env LD_PRELOAD="$IPC" "$MM" dsm-check $key "$n" || { echo "DSM result wrong" >&2; exit 1; }
  echo "$t0 $t1 $kc $d0 $d1" | awk '{printf "%.3f %.3f", $2-$1, $3+$5-$4}'
}
msg_run() { # n -> "wall CPU" of master + 4 workers
  local n=$1 port=$((9000 + RANDOM % 1000))
  ( hp=()
    for q in 0 1 2 3; do hp+=("$(addr h$((q + 1))):$port"); done
    for q in 0 1 2 3; do on h$((q + 1)) "$MM" msg-worker "${hp[$q]}" & done
    t0=$(ts)
    on h1 "$MM" msg-master "$n" "${hp[@]}" >/dev/null
    wait
    t1=$(ts)
    me=$BASHPID   # expanded here: inside $(...) it would name that inner subshell
    echo "$t0 $t1 $(awk -v t="$tck" '{printf "%.3f", ($16 + $17) / t}' "/proc/$me/stat")" ) | awk '{printf "%.3f %.3f", $2-$1, $3}'
}
echo "| n | pthreads (s) | SysV shm, 1 host (s) | control: 4 private copies, 1 host (s) | message passing, 4 hosts (s) | DSM, 4 hosts (s) | DSM / shm wall | DSM / shm CPU | DSM / control CPU |"
echo "|---|---|---|---|---|---|---|---|---|"
# "wall CPU" pairs; keep the pair with the smaller wall time
min() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); print (a == "" || y[1] + 0 < x[1] + 0) ? b : a }'; }
fmt() { echo "$1" | awk '{printf "%s (CPU %s)", $1, $2}'; }
for n in $sizes; do
  th=; sh=; cp=; mp=; ds=
  # versions interleaved within each repetition, so load changes on a shared
  # machine hit all four alike
  for _ in $(seq "$reps"); do
    th=$(min "$th" "$("$MM" threads "$n")")
    sh=$(min "$sh" "$("$MM" shm "$n")")
    cp=$(min "$cp" "$("$MM" copies "$n")")
    mp=$(min "$mp" "$(msg_run "$n")")
    ds=$(min "$ds" "$(dsm_run "$n")")
  done
  echo "| $n | $(fmt "$th") | $(fmt "$sh") | $(fmt "$cp") | $(fmt "$mp") | $(fmt "$ds") | $(echo "$ds $sh" | awk '{printf "%.2fx", $1/$3}') | $(echo "$ds $sh" | awk '{printf "%.2fx", $2/$4}') | $(echo "$ds $cp" | awk '{printf "%.2fx", $2/$4}') |"
done
echo "(CPU: user+system seconds of the computing threads/processes; for DSM also the daemons' CPU during the run; message passing: master + workers; control: 4 forked workers that first copy A and B into private memory, as the 4 DSM hosts hold 4 copies — on one machine those copies share its caches)"
echo "(best of $reps; cluster mode: $(cat "$D/mode"); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ))"
