#!/usr/bin/env bash
# tests/unit/aarch64.sh — the aarch64 runtime's unit tests, driven from the
# native build's ctest (label aarch64; tests/unit/CMakeLists.txt):
#   aarch64.sh build DIR BUILD_TYPE   cross-build libmojave and the tests into DIR
#   aarch64.sh run DIR NAME           run unit test NAME of DIR under qemu
# Skips (77) only where qemu-aarch64-static is absent: scripts/deps.sh installs
# it and the cross libraries, so anywhere else a failure is a failure.
set -euo pipefail
mode=$1 dir=$2
if ! command -v qemu-aarch64-static >/dev/null; then
  echo "SKIP: qemu-aarch64-static is not installed (scripts/deps.sh installs it)"
  exit 77
fi
case $mode in
  build)
    # one job: ctest runs other tests beside this build
    MOJ_AARCH64_BUILD_DIR=$dir MOJ_BUILD_JOBS=${MOJ_BUILD_JOBS:-1} \
      bash "$(dirname "$0")/../../scripts/build-aarch64.sh" -DCMAKE_BUILD_TYPE="$3" ;;
  run)
    # --no-tests=error: a name the cross tree does not have must not pass
    exec ctest --test-dir "$dir" -R "^$3\$" --no-tests=error --output-on-failure ;;
  *) echo "usage: $0 build DIR BUILD_TYPE | run DIR NAME" >&2; exit 2 ;;
esac
