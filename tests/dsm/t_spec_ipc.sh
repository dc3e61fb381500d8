#!/usr/bin/env bash
# t_spec_ipc.sh — semop/msgsnd/msgrcv inside speculations (spec_ipc.c, built
# by mojcc into $SPEC_IPC_PROG): the writer on h2, objects homed on h1, a
# reader on h1 checks that a level's releases stay invisible while it runs.
. "$(dirname "$0")/lib.sh"
d=$MOJAVE_CLUSTER_DIR/spec_ipc; mkdir -p "$d"
rc=0
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h2 timeout -k 2 120 "$SPEC_IPC_PROG" writer 0x4d4a0eb0 "$d" & w=$!
for _ in $(seq 1000); do [ -e "$d/A-inside" ] && break; sleep 0.02; done
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h1 timeout -k 2 120 "$SPEC_IPC_PROG" reader 0x4d4a0eb0 "$d" || rc=1
wait $w || rc=1
verdict dsm_spec_ipc $rc
