#!/usr/bin/env bash
# scripts/demo.sh — README's demo command: install, build, run the speculation
# demo, then the migration demo (a program started with mojave-run --migrate h2
# on host h1 finishes on host h2; scripts/migrate-demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
./build/bin/spec_demo
echo
bash scripts/migrate-demo.sh
