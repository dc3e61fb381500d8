#!/usr/bin/env bash
# examples/order_model/sweep.sh [BUILD_DIR] [MSGS] [OUT] — the paper's latency
# model (§3.2.2, eq. 1-3) checked against the total-order layer on 4 hosts
# (scripts/cluster.sh: network namespaces), over link profiles injected by the
# daemons (cluster file `order-link`) and a sweep of the window T: per
# profile one classical run and one speculative run per T, each host
# submitting MSGS messages (default 150; programs start once every daemon's
# links are up).  Prints a markdown table per
# profile; with gnuplot (Debian gnuplot-nox) also writes OUT/PROFILE.svg,
# delivery latency against T for both modes with the model's curves.
# Not a test: a benchmark (minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
msgs=${2:-150}
out=${3:-$root/build/order_model}
export MOJAVE_NSD=$build/bin/mojave-nsd CLUSTER=$root/scripts/cluster.sh BIN=$build/tests/dsm/bin
[ -x "$BIN/order" ] || { echo "sweep.sh: $BIN/order not built" >&2; exit 1; }
profiles=${PROFILES:-"lan:200:100:0 jittery:1000:4000:0 wan:5000:2000:0 lossy:1000:500:0.01"}
windows=${WINDOWS:-"250 500 1000 2000 4000 8000 16000"}
mkdir -p "$out"
one() { # NAME EXTRA: a cluster, one run, the model line
  local d=$out/$1
  rm -rf "$d"
  MOJAVE_CLUSTER_EXTRA="$2" "$CLUSTER" run 4 "$here/run_one.sh" "$d" "$msgs" >/dev/null 2>"$out/$1.err" ||
    { echo "sweep.sh: run $1 failed (see $out/$1.err)" >&2; exit 1; }
  awk -f "$here/model.awk" "$d"/h*.stats "$d"/h*.rec
}
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
for pr in $profiles; do
  IFS=: read -r name delay jitter loss <<<"$pr"
  link="order-link $delay $jitter $loss"
  cl=$(one "$name-classical" "order classical
$link")
  lc=$(val "$cl" L_meas)
  echo
  echo "### profile $name: link delay $delay us + jitter 0-$jitter us, loss $loss"
  echo
  echo "classical run: mean latency $lc us (p=$(val "$cl" p), quiets: every message acknowledged)"
  echo
  echo "| T (us) | p | q | r | E[U] | E[V] | E[W\|W>T] | measured L | eq. 2 | eq. 2 error | eq. 2c | eq. 2c error | E[Lc] eq. 1 (same run) | ineq. 3 says | measured: L vs E[Lc] same run | measured: L vs classical run | rollbacks | spec. deliveries |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|"
  : > "$out/$name.dat"
  for T in $windows; do
    l=$(one "$name-T$T" "order speculative
order-window $T
$link")
    lm=$(val "$l" L_meas); l2=$(val "$l" L_eq2); l2c=$(val "$l" L_eq2c)
    says=$(awk -v a="$(val "$l" lhs)" -v b="$(val "$l" rhs)" 'BEGIN { print (a >= b) ? "spec wins" : "classical wins" }')
    meas=$(awk -v a="$lm" -v b="$lc" 'BEGIN { print (a < b) ? "spec wins" : "classical wins" }')
    same=$(awk -v a="$lm" -v b="$(val "$l" Lc_eq1)" 'BEGIN { print (a < b) ? "spec wins" : "classical wins" }')
    err() { awk -v p="$1" -v m="$2" 'BEGIN { printf "%+.0f %%", (p - m) / m * 100 }'; }
    echo "| $T | $(val "$l" p) | $(val "$l" q) | $(val "$l" r) | $(val "$l" EU) | $(val "$l" EV) | $(val "$l" EWgt) | $lm | $l2 | $(err "$l2" "$lm") | $l2c | $(err "$l2c" "$lm") | $(val "$l" Lc_eq1) | $says | $same | $meas | $(val "$l" rollbacks) | $(val "$l" spec) |"
    echo "$T $lm $l2 $l2c $lc $(val "$l" Lc_eq1)" >> "$out/$name.dat"
  done
  if command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal svg size 720,440 dynamic font "sans,11"
set output "$out/$name.svg"
set title "total order, profile $name (delay $delay us, jitter $jitter us, loss $loss): latency vs window T"
set xlabel "window T (us)"; set ylabel "mean delivery latency (us)"; set logscale x; set key top left
plot "$out/$name.dat" using 1:2 with linespoints title "speculative, measured", \
     "" using 1:3 with lines dashtype 2 title "eq. 2 (paper)", \
     "" using 1:4 with lines dashtype 3 title "eq. 2c (window of the late message)", \
     "" using 1:5 with lines title "classical run, measured", \
     "" using 1:6 with lines dashtype 4 title "eq. 1, same run"
GP
  fi
done
echo
echo "($(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ); $msgs messages per host; latencies in us)"
