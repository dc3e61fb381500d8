#!/usr/bin/env bash
# t_pc_ring.sh — classic producer/consumer (plain cc, LD_PRELOAD) on h2 and h3,
# objects homed on h1.
. "$(dirname "$0")/lib.sh"
on h2 pc_ring produce 0x4d4a0300 5000
on h3 pc_ring consume 0x4d4a0300 5000
wait_all; verdict dsm_pc_ring $?
