#!/usr/bin/env bash
# tests/bench/compiler/run.sh — mojcc vs clang, both -O2 (or $OPT), on six compute
# programs and five allocation-heavy ones (issue 11): CPU time (user +
# system, best of $REPS runs at full size), peak RSS (median of GNU time's maximum
# resident set, same runs) and instruction counts (valgrind callgrind, at a
# reduced size to keep the run short) in one run; checks that both builds
# print the same output; prints a markdown table and the geometric means.
# Not a timed test (not run by ctest).  Needs GNU time (/usr/bin/time,
# Debian: time) and valgrind for the Ir columns (NA without it).
#
#   tests/bench/compiler/run.sh [build-dir]      (default: ./build)
#   REPS=5 NO_CALLGRIND=1 tests/bench/compiler/run.sh
#   PROGS="bignum_rho dlist" tests/bench/compiler/run.sh      (a subset)
#   OPT=-O0 tests/bench/compiler/run.sh      (both compilers at -O0; default -O2)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../../build}" && pwd)
MOJCC=${MOJCC:-$build/bin/mojcc}
CLANG=${CLANG:-clang-16}
REPS=${REPS:-3}
OPT=${OPT:--O2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name  full-size-arg  callgrind-arg
progs=(
  "binary_trees 18 14"
  "nbody 5000000 200000"
  "fannkuch 10 8"
  "spectral_norm 3000 400"
  "hashtable 2000000 100000"
  "matmul 1000 200"
  "bignum_rho 200 8"
  "dlist 1000 30"
  "bisort 17 10"
  "pheap_mst 100000 5000"
  "connect4 11 6"
  "malloc_free 100000000 1000000"
)
if [[ -n ${PROGS:-} ]]; then # PROGS="dlist bisort": a subset
  sel=()
  for spec in "${progs[@]}"; do [[ " $PROGS " == *" ${spec%% *} "* ]] && sel+=("$spec"); done
  progs=("${sel[@]}")
fi

# CPU seconds (user + system, GNU time) rather than wall time: the machine is
# shared, and the issue's figures are CPU time.  Best of $REPS runs; peak RSS
# (KB) is the median over the same runs (a small program's peak moves by
# ±150 KB from run to run with what the page cache lets fault-around map: the
# largest would record the outlier).
measure() { # prog args... -> "cpu_s rss_kb"
  local best="" rss rsss=()
  for ((r = 0; r < REPS; r++)); do
    /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >/dev/null
    read -r u s m <"$work/time"
    local t
    t=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    if [[ -z $best ]] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
    rsss+=("$m")
  done
  rss=$(printf '%s\n' "${rsss[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  echo "$best $rss"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "NA"; else printf "%.2f", a / b }'; }
instructions() { # prog args... -> Ir count
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" >/dev/null 2>"$work/cg.err"
  awk '/^summary:/ { print $2 }' "$work/cg.out"
}

echo "mojcc: $MOJCC $OPT"
echo "clang: $(command -v "$CLANG") ($("$CLANG" --version | head -1))"
echo "cpu:   $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')"
echo
printf '| program | arg | clang cpu s | mojcc cpu s | time ratio | arg (Ir) | clang Ir | mojcc Ir | Ir ratio | clang RSS KB | mojcc RSS KB | RSS ratio |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
tl=0; il=0; rl=0; n=0; worst=0; worst_name=""; rworst=0; rworst_name=""
for spec in "${progs[@]}"; do
  read -r p full small <<<"$spec"
  "$CLANG" "$OPT" "$here/$p.c" -o "$work/$p.clang" -lm
  "$MOJCC" "$OPT" "$here/$p.c" -o "$work/$p.moj" -lm
  "$work/$p.clang" "$small" >"$work/out.clang"
  "$work/$p.moj" "$small" >"$work/out.moj"
  if ! cmp -s "$work/out.clang" "$work/out.moj"; then
    echo "ERROR: $p prints different output under mojcc" >&2
    diff "$work/out.clang" "$work/out.moj" >&2 || true
    exit 1
  fi
  read -r tc rc < <(measure "$work/$p.clang" "$full")
  read -r tm rm < <(measure "$work/$p.moj" "$full")
  if [[ -n ${NO_CALLGRIND:-} ]] || ! command -v valgrind >/dev/null; then
    ic=NA; im=NA; ir=NA
  else
    ic=$(instructions "$work/$p.clang" "$small")
    im=$(instructions "$work/$p.moj" "$small")
    ir=$(awk -v a="$im" -v b="$ic" 'BEGIN { printf "%.2f", a / b }')
    il=$(awk -v s="$il" -v r="$ir" 'BEGIN { print s + log(r) }')
  fi
  rr=$(ratio "$rm" "$rc")
  if [[ $rr != NA ]]; then
    rl=$(awk -v s="$rl" -v r="$rr" 'BEGIN { print s + log(r) }')
    if awk -v r="$rr" -v w="$rworst" 'BEGIN { exit !(r > w) }'; then rworst=$rr; rworst_name=$p; fi
  fi
  tr=$(ratio "$tm" "$tc")
  tl=$(awk -v s="$tl" -v r="$tr" 'BEGIN { print s + log(r) }')
  if awk -v r="$tr" -v w="$worst" 'BEGIN { exit !(r > w) }'; then worst=$tr; worst_name=$p; fi
  n=$((n + 1))
  printf '| %s | %s | %s | %s | %sx | %s | %s | %s | %sx | %s | %s | %sx |\n' "$p" "$full" "$tc" "$tm" "$tr" "$small" "$ic" "$im" "$ir" "$rc" "$rm" "$rr"
done
echo
awk -v s="$tl" -v n="$n" 'BEGIN { printf "geomean time ratio: %.2fx\n", exp(s / n) }'
if [[ $il != 0 ]]; then awk -v s="$il" -v n="$n" 'BEGIN { printf "geomean instruction ratio: %.2fx\n", exp(s / n) }'; fi
if [[ $rl != 0 ]]; then awk -v s="$rl" -v n="$n" 'BEGIN { printf "geomean peak RSS ratio: %.2fx\n", exp(s / n) }'; fi
echo "worst time ratio: ${worst}x ($worst_name)"
if [[ $rworst != 0 ]]; then echo "worst peak RSS ratio: ${rworst}x ($rworst_name)"; fi
