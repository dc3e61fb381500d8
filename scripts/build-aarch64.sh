#!/usr/bin/env bash
# scripts/build-aarch64.sh — cross-builds libmojave and its unit tests for
# aarch64 into ./build-aarch64 (or $MOJ_AARCH64_BUILD_DIR) with
# cmake/aarch64-linux-gnu.cmake; the compiler and pass stay host-only.
# Extra arguments go to the CMake configure step.  Run the tests under qemu:
#   (cd build-aarch64 && ctest -L unit)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${MOJ_AARCH64_BUILD_DIR:-build-aarch64}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" -DMOJ_BUILD_COMPILER=OFF "$@" >/dev/null
cmake --build "$dir" --parallel "${MOJ_BUILD_JOBS:-$(nproc)}" --target mojave moj_unit_tests
