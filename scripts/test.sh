#!/usr/bin/env bash
# scripts/test.sh — README's test command: install, build, run every test with ctest.
# Also builds the runtime unit tests under ASan/UBSan (build-asan/) and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMOJ_SANITIZE=ON >/dev/null
cmake --build build-asan --target moj_unit_tests
(cd build-asan && ctest -L unit --output-on-failure)
cd build && ctest --output-on-failure -j2
