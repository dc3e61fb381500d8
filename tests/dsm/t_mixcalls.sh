#!/usr/bin/env bash
# t_mixcalls.sh — three threads on h2 (semop, IPC_STAT, faults) share one
# connection to the home h1 and read each other's replies; a peer on h3 keeps
# the fault thread's pages moving.  Bound 90 s (idle well under 10 s).
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/mix; mkdir -p "$out"
TEST_TIMEOUT=90
on h2 mixcalls 0x4d4a1000 main "$out"
on h3 mixcalls 0x4d4a1000 peer "$out"
wait_all; verdict dsm_mixcalls $?
