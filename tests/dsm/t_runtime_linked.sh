#!/usr/bin/env bash
# t_runtime_linked.sh — programs linked with libmojave (no LD_PRELOAD, no
# mojave_dsm): the runtime carries the DSM client.  A counter under a
# distributed semaphore on 3 hosts (one LD_PRELOAD peer joins), then syscalls
# handed DSM pages through the runtime's own write/send wrappers.
. "$(dirname "$0")/lib.sh"
IPC_LIB_SAVED=$IPC_LIB
IPC_LIB=""
on h1 sem_counter_rt 0x4d4a0610 4 500 0
on h2 sem_counter_rt 0x4d4a0610 4 500 1
on h3 sem_counter_rt 0x4d4a0610 4 500 2
IPC_LIB=$IPC_LIB_SAVED
on h3 sem_counter 0x4d4a0610 4 500 3
if ! wait_all; then verdict dsm_runtime_linked 1; exit 1; fi
out=$MOJAVE_CLUSTER_DIR/sysbuf_rt; mkdir -p "$out"
IPC_LIB=""
on h1 sysbuf_rt fill 0x4d4a0910 "$out"
on h2 sysbuf_rt use 0x4d4a0910 "$out"
wait_all; verdict dsm_runtime_linked $?
