#!/usr/bin/env bash
# scripts/fuzz-image.sh — fuzzes the checkpoint image decoder (migrate/fuzz/fuzz_image.c).
#   bash scripts/fuzz-image.sh [SECONDS]      long run (default 600 s); the corpus
#                                             persists in build/fuzz-image/corpus
#   bash scripts/fuzz-image.sh --runs N ...   bounded run on a fresh corpus (ctest fuzz_image_short)
# Options: --fuzzer PATH, --tool PATH (mojave-image, which writes the seeds),
# --build DIR (default ./build; the two targets are built there if missing).
# Crashing inputs land in the work directory as crash-*; the exit status is non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=600 runs="" build=build fuzzer="" tool=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --fuzzer) fuzzer="$2"; shift 2 ;;
    --tool) tool="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) [[ "$1" =~ ^[0-9]+$ ]] || { echo "fuzz-image.sh: bad argument '$1'" >&2; exit 2; }
       secs="$1"; shift ;;
  esac
done
if [ -z "$fuzzer" ] || [ -z "$tool" ]; then
  cmake --build "$build" --target fuzz_image mojave-image >/dev/null
  fuzzer="${fuzzer:-$build/bin/fuzz_image}"
  tool="${tool:-$build/bin/mojave-image}"
fi
[ -x "$fuzzer" ] || { echo "fuzz-image.sh: no fuzzer at $fuzzer (needs clang-16 + libclang-rt-16-dev)" >&2; exit 2; }

if [ -n "$runs" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-image.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/corpus"
  "$tool" corpus "$work/seeds"
  # -seed fixed: the same inputs every run; failures are reproducible.
  "$fuzzer" -runs="$runs" -seed=1 -max_len=4096 -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "$work/seeds" 2>"$work/log" || {
      tail -n 60 "$work/log"; for c in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
        [ -e "$c" ] && { echo "input $c:"; od -A d -t x1 "$c" | head -20; }; done
      echo "FAIL fuzz_image"; exit 1; }
  grep -E "^(Done|stat::number_of_executed_units|#[0-9]+ +DONE)" "$work/log" || true
  echo "PASS fuzz_image ($runs runs)"
else
  dir="$build/fuzz-image"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  "$tool" corpus "$dir/seeds"
  echo "fuzzing for ${secs}s; corpus $dir/corpus, artifacts $dir/artifacts, log $dir/log"
  status=0
  "$fuzzer" -max_total_time="$secs" -max_len=4096 -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" "$dir/seeds" 2>"$dir/log" || status=$?
  grep -E "^(stat::|Done )" "$dir/log" || true
  ls "$dir/artifacts" | sed 's/^/artifact: /'
  exit $status
fi
