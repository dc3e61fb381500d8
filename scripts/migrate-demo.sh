#!/usr/bin/env bash
# scripts/migrate-demo.sh — the migration half of README's demo: two hosts
# (network namespaces h1, h2 with their daemons, scripts/cluster.sh), and
#   mojave-run --migrate h2 --after 0.5 ./migrate_demo
# started on h1: the first rounds run on h1, the rest on h2, output here.
set -euo pipefail
cd "$(dirname "$0")/.."
export MOJAVE_NSD=$PWD/build/bin/mojave-nsd MOJAVED=$PWD/build/bin/mojaved
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
dir=$(mktemp -d /tmp/mojave-demo.XXXXXX)
trap 'scripts/cluster.sh down "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
scripts/cluster.sh up "$dir" 2 >/dev/null
echo "\$ mojave-run --migrate h2 --after 0.5 ./migrate_demo     # on h1"
scripts/cluster.sh exec "$dir" h1 ./build/bin/mojave-run --migrate h2 --after 0.5 ./build/bin/migrate_demo 6
grep -h "restored\|exited" "$dir"/mojaved-h2.log | sed 's/^/[mojaved@h2] /'
