#!/usr/bin/env bash
# t_ns_restart.sh — kill -9 and restart the root nameserver (h1) while processes
# on h3/h4 share a segment homed on the delegate h2; a late process on h1 must
# resolve the key through the restarted root.
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/nsr; mkdir -p "$out"
TEST_TIMEOUT=40
on h3 ns_restart writer 0x4d4a9100 "$out"
on h4 ns_restart reader 0x4d4a9100 "$out"
for _ in $(seq 200); do [ -f "$out/r1" ] && break; sleep 0.05; done
"$CLUSTER" stop-nsd "$MOJAVE_CLUSTER_DIR" h1
"$CLUSTER" start-nsd "$MOJAVE_CLUSTER_DIR" h1
touch "$out/go"
on h1 ns_restart late 0x4d4a9100 "$out"
wait_all; verdict dsm_ns_restart $?
