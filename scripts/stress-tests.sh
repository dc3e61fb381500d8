#!/usr/bin/env bash
# scripts/stress-tests.sh — the whole DSM suite N times in a row (default 10)
# while background spinners keep every core busy: a multi-host test that
# leans on wall-clock luck fails here first.  Needs a built tree (build/).
#   usage: scripts/stress-tests.sh [-n ROUNDS] [-j JOBS] [-L LABEL] [-X LABEL] [BUILD_DIR]
#   -X: leave out tests with this label (default slow: the 10,000-iteration
#   litmus runs of the speculative configuration, minutes each; -X '' keeps them)
set -euo pipefail
rounds=10 jobs=2 label=dsm exclude=slow
while getopts "n:j:L:X:h" o; do
  case $o in
    n) rounds=$OPTARG ;; j) jobs=$OPTARG ;; L) label=$OPTARG ;; X) exclude=$OPTARG ;;
    h) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "stress-tests: unknown option (see -h)" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
build=${1:-$(dirname "$0")/../build}
[ -f "$build/CTestTestfile.cmake" ] || { echo "stress-tests: $build is not a build tree (run scripts/build.sh first)" >&2; exit 2; }
spinners=()
stop_load() { for p in "${spinners[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_load EXIT
for _ in $(seq "$(nproc)"); do (while :; do :; done) & spinners+=($!); done
pass=0 fail=0
for r in $(seq "$rounds"); do
  log=$(mktemp /tmp/mojave-stress.XXXXXX)
  if (cd "$build" && ctest -L "$label" ${exclude:+-LE "$exclude"} -j"$jobs" --output-on-failure) >"$log" 2>&1; then
    pass=$((pass + 1)); echo "round $r: $(grep -E 'tests passed' "$log")"
    rm -f "$log"
  else
    fail=$((fail + 1)); echo "round $r: FAILED — $(grep -E 'tests passed' "$log"); log kept in $log"
    grep -E '^\s+[0-9]+ - ' "$log" || true
  fi
done
echo "stress: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
