#!/usr/bin/env bash
# t_partition.sh — cut h3's link (namespace mode only) while a process on h3
# blocks in semop on a set homed on h1: the call must fail (EIDRM) within 8 s.
. "$(dirname "$0")/lib.sh"
if [ "$(cat "$MOJAVE_CLUSTER_DIR/mode")" != ns ]; then
  echo "loopback mode: a link cannot be cut; exercised only with namespaces"
  echo "PASS dsm_partition"; exit 0
fi
out=$MOJAVE_CLUSTER_DIR/part; mkdir -p "$out"
TEST_TIMEOUT=30
on h3 partition 0x4d4a0a00 "$out"
for _ in $(seq 200); do [ -f "$out/blocked" ] && break; sleep 0.05; done
sleep 0.5
date +%s.%N >"$out/cut.time"
ip -n "mj-$(cat "$MOJAVE_CLUSTER_DIR/tag")-h3" link set eth0 down
wait_all; verdict dsm_partition $?
