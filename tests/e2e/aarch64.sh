#!/usr/bin/env bash
# tests/e2e/aarch64.sh — a program built by `mojcc --target=aarch64-linux-gnu`
# (which links the aarch64 libmojave of the build tree's cross build,
# build/aarch64, made by ctest's aarch64.build) and run under qemu; it prints
# PASS or FAIL like its native twin.
#   aarch64.sh <mojcc> <O0|O2> <program.c> [extra.c...] [-- command...]
# Without a command the program runs as it is; with one, the command runs
# with every @PROG@ in its arguments replaced by a script that runs the
# program under qemu (tests/migrate: t_file.sh and the like take a PROG).
# Skips (77) only where qemu-aarch64-static is absent (scripts/deps.sh installs it).
set -euo pipefail
if ! command -v qemu-aarch64-static >/dev/null; then
  echo "SKIP: qemu-aarch64-static is not installed (scripts/deps.sh installs it)"
  exit 77
fi
mojcc=$1 opt=$2
shift 2
sources=()
while (($#)) && [[ $1 != -- ]]; do sources+=("$1"); shift; done
(($#)) && shift   # the --
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$mojcc" --target=aarch64-linux-gnu "-$opt" -g -Wall -Wextra -Werror "${sources[@]}" -o "$t/prog"
# qemu-aarch64 runs nothing else, but say so plainly if the driver linked wrong
machine=$(LC_ALL=C readelf -h "$t/prog" | sed -n 's/^ *Machine: *//p')
[[ $machine == AArch64 ]] || { echo "FAIL: mojcc built a $machine executable"; exit 1; }
printf '#!/bin/sh\nexec qemu-aarch64-static "%s" "$@"\n' "$t/prog" > "$t/run"
chmod +x "$t/run"
(($#)) || set -- "$t/run"
set +e
"${@//@PROG@/$t/run}"
