#!/usr/bin/env bash
# tests/torture/run.sh — gcc's torture "execute" tests (Debian gcc-12-source)
# built with plain clang and with mojcc, at -O0 and -O2, and run.  Every test
# that passes with clang must pass with mojcc, unless it is listed in
# exclusions.txt (with its reason).  Tests clang itself cannot build or run
# are skipped (not our business).
#
#   tests/torture/run.sh [build-dir]        subset: every 5th test (~300)
#   TORTURE_ALL=1 tests/torture/run.sh      all ~1500 top-level tests
#   TORTURE_JOBS=4 TORTURE_SRC=/path/to/gcc/testsuite/gcc.c-torture/execute
#
# Needs the gcc-12-source package (apt-get install gcc-12-source); the
# testsuite is unpacked once into $TORTURE_CACHE (default /tmp/mojave-torture).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
MOJCC=${MOJCC:-$build/bin/mojcc}
CLANG=${CLANG:-clang-16}
JOBS=${TORTURE_JOBS:-$(nproc)}
cache=${TORTURE_CACHE:-/tmp/mojave-torture}
src=${TORTURE_SRC:-}
if [[ -z $src ]]; then
  src=$(ls -d "$cache"/gcc-*/gcc/testsuite/gcc.c-torture/execute 2>/dev/null | head -1 || true)
  if [[ -z $src ]]; then
    tarball=$(ls /usr/src/gcc-12/gcc-12*.tar.* 2>/dev/null | head -1 || true)
    if [[ -z $tarball ]]; then
      echo "torture: gcc-12-source is not installed (apt-get install gcc-12-source)" >&2
      exit 77
    fi
    mkdir -p "$cache"
    tar -xf "$tarball" -C "$cache" --wildcards '*/gcc/testsuite/gcc.c-torture/execute/*'
    src=$(ls -d "$cache"/gcc-*/gcc/testsuite/gcc.c-torture/execute | head -1)
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t all < <(cd "$src" && ls -1 *.c | LC_ALL=C sort)
tests=()
for i in "${!all[@]}"; do
  if [[ -n ${TORTURE_ALL:-} ]] || (( i % 5 == 0 )); then tests+=("${all[$i]}"); fi
done

# One test at one level: prints "<test> <level> <clang> <mojcc>" where each
# result is pass | build | run.
one() {
  local t=$1 o=$2 name=${1%.c} res=()
  for cc in "$CLANG" "$MOJCC"; do
    local exe="$work/$name.$o.$(basename "$cc")"
    if ! "$cc" -$o -w -fno-strict-aliasing "$src/$t" -o "$exe" -lm >/dev/null 2>&1; then
      res+=(build)
    elif timeout 20 "$exe" >/dev/null 2>&1 </dev/null; then
      res+=(pass)
    else
      res+=(run)
    fi
    rm -f "$exe"
  done
  echo "$name $o ${res[0]} ${res[1]}"
}
export -f one
export src work CLANG MOJCC

printf '%s\n' "${tests[@]}" | awk '{ print $0 " O0"; print $0 " O2" }' |
  xargs -P "$JOBS" -n 2 bash -c 'one "$0" "$1"' > "$work/results" 2>"$work/noise"
LC_ALL=C sort -o "$work/results" "$work/results"

excl="$here/exclusions.txt"
total=$(wc -l < "$work/results")
clang_ok=$(awk '$3 == "pass"' "$work/results" | wc -l)
both_ok=$(awk '$3 == "pass" && $4 == "pass"' "$work/results" | wc -l)
regress=$(awk '$3 == "pass" && $4 != "pass" { print $1, $2, $4 }' "$work/results")
unexpected=0
echo "torture: ${#tests[@]} tests x 2 levels = $total runs; clang passes $clang_ok; mojcc passes $both_ok of those"
while read -r name lvl why; do
  [[ -z $name ]] && continue
  if grep -Eq "^$name( |$)" "$excl" 2>/dev/null; then
    echo "  excluded: $name -$lvl ($why): $(grep -E "^$name( |$)" "$excl" | cut -d' ' -f2-)"
  else
    echo "  FAIL: $name -$lvl ($why with mojcc, passes with clang)"
    unexpected=$((unexpected + 1))
  fi
done <<<"$regress"
if (( clang_ok < 200 )); then
  echo "torture: FAIL: fewer than 200 runs pass with clang ($clang_ok)"; exit 1
fi
if (( unexpected )); then echo "torture: FAIL: $unexpected unexpected failures"; exit 1; fi
echo "torture: PASS"
