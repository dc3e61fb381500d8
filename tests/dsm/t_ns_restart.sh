#!/usr/bin/env bash
# t_ns_restart.sh [HOST] — kill -9 and restart the daemon of HOST (default h1,
# the root nameserver; h2 is the delegate that homes the segment) while
# processes on h3/h4 share the segment; a late process on h1 then resolves and
# attaches the key through the restarted daemons.
. "$(dirname "$0")/lib.sh"
victim=${1:-h1}
out=$MOJAVE_CLUSTER_DIR/nsr; mkdir -p "$out"
TEST_TIMEOUT=40
wait_for() { for _ in $(seq 400); do [ -f "$out/$1" ] && return 0; sleep 0.05; done; echo "timeout waiting for $1"; return 1; }
on h3 ns_restart writer 0x4d4a9100 "$out"
on h4 ns_restart reader 0x4d4a9100 "$out"
rc=0
wait_for d1 || rc=1
"$CLUSTER" stop-nsd "$MOJAVE_CLUSTER_DIR" "$victim"
"$CLUSTER" start-nsd "$MOJAVE_CLUSTER_DIR" "$victim"
touch "$out/go_r"
wait_for r2 || rc=1
touch "$out/go"
on h1 ns_restart late 0x4d4a9100 "$out"
wait_all || rc=1
name=dsm_ns_restart; [ "$victim" = h2 ] && name=dsm_home_restart
verdict $name $rc
