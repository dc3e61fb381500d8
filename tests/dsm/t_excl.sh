#!/usr/bin/env bash
# t_excl.sh — 4 processes on 4 hosts race IPC_CREAT|IPC_EXCL on 300 keys x 3 kinds.
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/excl; mkdir -p "$out"
for i in 0 1 2 3; do on h$((i + 1)) excl race $i 300 "$out"; done
sleep 0.3; touch "$out/go"
rc=0
wait_all || rc=1
"$BIN/excl" check 4 300 "$out" || rc=1
verdict dsm_excl $rc
