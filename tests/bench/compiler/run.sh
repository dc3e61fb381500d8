#!/usr/bin/env bash
# tests/bench/compiler/run.sh — mojcc vs clang, both -O2, on six compute
# programs: wall time (best of $REPS runs at full size) and instruction counts
# (valgrind callgrind, at a reduced size to keep the run short) in one run;
# checks that both builds print the same output; prints a markdown table and
# the geometric means.  Not a timed test (not run by ctest).
#
#   tests/bench/compiler/run.sh [build-dir]      (default: ./build)
#   REPS=5 NO_CALLGRIND=1 tests/bench/compiler/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../../build}" && pwd)
MOJCC=${MOJCC:-$build/bin/mojcc}
CLANG=${CLANG:-clang-16}
REPS=${REPS:-3}
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
)

best_time() { # prog args... -> best wall seconds
  local best=""
  for ((r = 0; r < REPS; r++)); do
    local s e t
    s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N)
    t=$(( (e - s) / 1000 ))
    if [[ -z $best || $t -lt $best ]]; then best=$t; fi
  done
  awk -v us="$best" 'BEGIN { printf "%.3f", us / 1e6 }'
}
instructions() { # prog args... -> Ir count
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" >/dev/null 2>"$work/cg.err"
  awk '/^summary:/ { print $2 }' "$work/cg.out"
}

echo "mojcc: $MOJCC"
echo "clang: $(command -v "$CLANG") ($("$CLANG" --version | head -1))"
echo "cpu:   $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')"
echo
printf '| program | arg | clang s | mojcc s | time ratio | arg (Ir) | clang Ir | mojcc Ir | Ir ratio |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
tl=0; il=0; n=0; worst=0; worst_name=""
for spec in "${progs[@]}"; do
  read -r p full small <<<"$spec"
  "$CLANG" -O2 "$here/$p.c" -o "$work/$p.clang" -lm
  "$MOJCC" -O2 "$here/$p.c" -o "$work/$p.moj" -lm
  "$work/$p.clang" "$small" >"$work/out.clang"
  "$work/$p.moj" "$small" >"$work/out.moj"
  if ! cmp -s "$work/out.clang" "$work/out.moj"; then
    echo "ERROR: $p prints different output under mojcc" >&2
    diff "$work/out.clang" "$work/out.moj" >&2 || true
    exit 1
  fi
  tc=$(best_time "$work/$p.clang" "$full")
  tm=$(best_time "$work/$p.moj" "$full")
  if [[ -n ${NO_CALLGRIND:-} ]] || ! command -v valgrind >/dev/null; then
    ic=NA; im=NA; ir=NA
  else
    ic=$(instructions "$work/$p.clang" "$small")
    im=$(instructions "$work/$p.moj" "$small")
    ir=$(awk -v a="$im" -v b="$ic" 'BEGIN { printf "%.2f", a / b }')
    il=$(awk -v s="$il" -v r="$ir" 'BEGIN { print s + log(r) }')
  fi
  tr=$(awk -v a="$tm" -v b="$tc" 'BEGIN { printf "%.2f", a / b }')
  tl=$(awk -v s="$tl" -v r="$tr" 'BEGIN { print s + log(r) }')
  if awk -v r="$tr" -v w="$worst" 'BEGIN { exit !(r > w) }'; then worst=$tr; worst_name=$p; fi
  n=$((n + 1))
  printf '| %s | %s | %s | %s | %sx | %s | %s | %s | %sx |\n' "$p" "$full" "$tc" "$tm" "$tr" "$small" "$ic" "$im" "$ir"
done
echo
awk -v s="$tl" -v n="$n" 'BEGIN { printf "geomean time ratio: %.2fx\n", exp(s / n) }'
if [[ $il != 0 ]]; then awk -v s="$il" -v n="$n" 'BEGIN { printf "geomean instruction ratio: %.2fx\n", exp(s / n) }'; fi
echo "worst time ratio: ${worst}x ($worst_name)"
