#!/usr/bin/env bash
# scripts/demo.sh — README's demo command: install, build, run the speculation demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
./build/bin/spec_demo
