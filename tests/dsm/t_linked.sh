#!/usr/bin/env bash
# t_linked.sh — programs linked with mojave_dsm (no LD_PRELOAD) on 3 hosts,
# with one LD_PRELOAD process joining the same objects: both paths interoperate.
. "$(dirname "$0")/lib.sh"
IPC_LIB_SAVED=$IPC_LIB
IPC_LIB=""   # `on` sets LD_PRELOAD=$IPC_LIB: empty means plain linked binaries
on h1 sem_counter_linked 0x4d4a0600 4 500 0
on h2 sem_counter_linked 0x4d4a0600 4 500 1
on h3 sem_counter_linked 0x4d4a0600 4 500 2
IPC_LIB=$IPC_LIB_SAVED
on h3 sem_counter 0x4d4a0600 4 500 3
wait_all; verdict dsm_linked $?
