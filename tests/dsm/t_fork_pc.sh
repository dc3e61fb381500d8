#!/usr/bin/env bash
# t_fork_pc.sh — fork()-based producer/consumer on h2, objects homed on h1.
. "$(dirname "$0")/lib.sh"
on h2 fork_pc 0x4d4a0b00 3000
wait_all; verdict dsm_fork_pc $?
