#!/usr/bin/env bash
# examples/migrate_bench/bench_isa.sh — issue 13 item 5: time to migrate
# migbench (mojcc -O2, x86-64) from h1 to an aarch64 host (h2, programs run
# under qemu-aarch64-static: IR mode, the bitcode retargeted and compiled
# there) against heap size, beside the same-ISA modes to an x86-64 host (h3):
# binary (executable cached) and IR (cold: compiled at h3; cached).  The
# recompilation is separated out (mojaved's "compiled ... in N ms"), the
# compile cache shown by the cached columns, and the emulator's slowdown is
# shown, not hidden: check_ms is the same heap check run by the restored
# program at h3 (native) and at h2 (qemu).  "frozen" is how long the program
# was stopped (moj_migrate's call at h1 to its return at the destination).
# Prints a markdown table (medians of REPS runs; cold = one run).  Not a test.
#   examples/migrate_bench/bench_isa.sh [build-dir] [sizes...]   (REPS=3)
# Needs qemu-aarch64-static and the aarch64 runtime (BUILD/aarch64, made by
# scripts/build-aarch64.sh or ctest's aarch64.build; brought up to date here).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd); shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(102400 1048576 10485760 104857600)
REPS=${REPS:-3}
command -v qemu-aarch64-static >/dev/null || { echo "bench_isa: qemu-aarch64-static is not installed (scripts/deps.sh)" >&2; exit 1; }
# (re)built every time: a stale one would refuse today's images
MOJ_AARCH64_BUILD_DIR=$build/aarch64 bash "$here/../../scripts/build-aarch64.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
  { echo "bench_isa: cannot build the aarch64 runtime into $build/aarch64" >&2; exit 1; }
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
cluster=$here/../../scripts/cluster.sh
export MOJAVE_NSD=$build/bin/mojave-nsd MOJAVED=$build/bin/mojaved MOJAVE_MOJCC=$build/bin/mojcc
export MOJAVE_CLUSTER_ARCH=h2=aarch64
dir=$(mktemp -d /tmp/mojave-fig4isa.XXXXXX)
trap '[ -n "${KEEP:-}" ] || { "$cluster" down "$dir" >/dev/null 2>&1; rm -rf "$dir"; }' EXIT
"$cluster" up "$dir" 3 >/dev/null
grep -q "^host h2 .* arch aarch64$" "$dir/cluster.conf" || { echo "bench_isa: h2 is not an aarch64 host" >&2; exit 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
a64=$dir/migbench.a64 # the way back: migbench built for aarch64, started at h2 under qemu
"$build/bin/mojcc" --target=aarch64-linux-gnu -O2 "$here/migbench.c" -o "$a64"
run() { # mode host size [from] -> "frozen_ms check_ms ship_ms"
  local out prog=("$build/bin/migbench") from=${4:-h1}
  [ "$from" = h2 ] && prog=(qemu-aarch64-static "$a64")
  out=$("$cluster" exec "$dir" "$from" env MOJAVE_MIGRATE_STATS=1 "$build/bin/mojave-run" \
          "${prog[@]}" "$3" "$2" "$1" 2>"$dir/err")
  grep -q '^PASS migbench' <<<"$out" || { echo "migbench $*: failed:" >&2; echo "$out" >&2; cat "$dir/err" >&2; exit 1; }
  echo "$(awk '/^frozen_ms/ { print $2 }' <<<"$out") $(awk '/^check_ms/ { print $2 }' <<<"$out")" \
       "$(grep -o 'ship+restore [0-9.]* ms' "$dir/err" | awk '{ print $2 }')"
}
compile_ms() { # host: the last compile's duration in its mojaved's log
  grep -o 'compiled bitcode from h[12] into .* in [0-9.]* ms' "$dir/mojaved-$1.log" | tail -1 | awk '{ print $(NF - 1) }'
}
cold() { # host size [from] -> "frozen_ms compile_ms": the host's compile cache emptied first
  rm -rf "$dir/mojaved-state-$1/ir/"*
  local f
  read -r f _ < <(run ir "$1" "$2" "${3:-h1}")
  echo "$f $(compile_ms "$1")"
}
echo "machine: $(nproc) cores, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-aarch64-static --version | head -1)"
run binary h3 102400 >/dev/null # ships the executable to h3 once
echo
echo "| heap | binary x86→x86 ms | IR x86→x86 cold ms | of which compile ms | IR x86→x86 cached ms | x86→aarch64 cold ms | of which compile ms | x86→aarch64 cached ms | cached: aarch64 / IR x86 | aarch64→x86 cold ms | aarch64→x86 cached ms | ship+restore x86 / aarch64 ms | check_ms x86 / aarch64 (qemu) | qemu slowdown |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in "${sizes[@]}"; do
  bf=(); xf=(); xs=(); xc=(); af=(); as=(); ac=(); bk=()
  read -r xcold xcomp < <(cold h3 "$size")
  read -r acold acomp < <(cold h2 "$size")
  read -r bcold _ < <(cold h1 "$size" h2)
  for _ in $(seq "$REPS"); do # interleaved, so load changes hit all alike
    read -r f _ _ < <(run binary h3 "$size"); bf+=("$f")
    read -r f c s < <(run ir h3 "$size"); xf+=("$f"); xc+=("$c"); xs+=("$s")
    read -r f c s < <(run ir h2 "$size"); af+=("$f"); ac+=("$c"); as+=("$s")
    read -r f _ _ < <(run ir h1 "$size" h2); bk+=("$f")
  done
  m() { printf '%s\n' "$@" | median; }
  awk -v sz="$size" -v b="$(m "${bf[@]}")" -v xcold="$xcold" -v xcomp="$xcomp" -v x="$(m "${xf[@]}")" \
      -v acold="$acold" -v acomp="$acomp" -v a="$(m "${af[@]}")" -v xs="$(m "${xs[@]}")" -v as="$(m "${as[@]}")" \
      -v xc="$(m "${xc[@]}")" -v ac="$(m "${ac[@]}")" -v bcold="$bcold" -v bk="$(m "${bk[@]}")" 'BEGIN {
    h = sz >= 1073741824 ? sprintf("%g GB", sz / 1073741824) : sz >= 1048576 ? sprintf("%g MB", sz / 1048576) : sprintf("%g KB", sz / 1024)
    printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx | %.1f | %.1f | %.1f / %.1f | %.2f / %.2f | %.1fx |\n",
      h, b, xcold, xcomp, x, acold, acomp, a, a / x, bcold, bk, xs, as, xc, ac, ac / xc }'
done
echo
echo "cold: the destination's compile cache emptied first (it compiles the bitcode: x86-64 at h3, aarch64 at h2, natively; the compiler is not emulated); cached: the compile cache hit."
echo "check_ms: the restored program checks its heap (the same work at both destinations); its ratio is qemu-user's slowdown on this code."
