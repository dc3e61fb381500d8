#!/usr/bin/env bash
# t_sysbuf.sh — write/read/send/recv on DSM buffers across hosts (no EFAULT).
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/sysbuf; mkdir -p "$out"
on h1 sysbuf fill 0x4d4a0900 "$out"
on h2 sysbuf use 0x4d4a0900 "$out"
wait_all; verdict dsm_sysbuf $?
