#!/usr/bin/env bash
# t_shm_chain.sh — 4 unmodified processes on 4 hosts hand 16 pages along a chain.
. "$(dirname "$0")/lib.sh"
for i in 0 1 2 3; do on h$((i + 1)) shm_chain 0x4d4a0010 4 $i; done
wait_all; verdict dsm_shm_chain $?
