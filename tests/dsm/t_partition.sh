#!/usr/bin/env bash
# t_partition.sh — cut h3's link (namespace mode only) while a process on h3
# blocks in semop on a set homed on h1: the call must fail (EIDRM), not hang
# (bound 30 s; idle ~2.5 s).
. "$(dirname "$0")/lib.sh"
if [ "$(cat "$MOJAVE_CLUSTER_DIR/mode")" != ns ]; then
  echo "loopback mode: a link cannot be cut; exercised only with namespaces"
  echo "PASS dsm_partition"; exit 0
fi
out=$MOJAVE_CLUSTER_DIR/part; mkdir -p "$out"
TEST_TIMEOUT=60
on h3 partition 0x4d4a0a00 "$out"
for _ in $(seq 600); do [ -f "$out/blocked" ] && break; sleep 0.05; done
# not a synchronisation: cut before the request left, the call fails the same
# way (TCP_USER_TIMEOUT instead of keepalive); this only favours the usual path
sleep 0.5
date +%s.%N >"$out/cut.time"
ip -n "mj-$(cat "$MOJAVE_CLUSTER_DIR/tag")-h3" link set eth0 down
wait_all; verdict dsm_partition $?
