#!/usr/bin/env bash
# t_isolation.sh — h1 makes System V objects under a local key, a distributed
# segment and a /dev/shm name; a new process on h1 sees all three, h2 only
# the distributed segment.  Needs namespace mode: in loopback mode the hosts
# share one IPC namespace and /dev/shm, so there is nothing to check (skip).
. "$(dirname "$0")/lib.sh"
if [ "$(cat "$MOJAVE_CLUSTER_DIR/mode")" != ns ]; then
  echo "SKIP dsm_isolation: loopback mode, hosts share the IPC namespace"; exit 77
fi
args=(0x13570e00 0x4d4a0e00 "/mojave-isolation-$$")
rc=0
on h1 isolation make "${args[@]}"; wait_all || rc=1
on h1 isolation home "${args[@]}"; wait_all || rc=1
on h2 isolation away "${args[@]}"; wait_all || rc=1
on h1 isolation clean "${args[@]}"; wait_all || true
verdict dsm_isolation $rc
