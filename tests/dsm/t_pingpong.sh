#!/usr/bin/env bash
# t_pingpong.sh — 4 hosts x 2 threads, lock-free increments of private words in
# one shared page: exact counts required (no lost updates, no deadlock).
. "$(dirname "$0")/lib.sh"
TEST_TIMEOUT=120
for i in 0 1 2 3; do on h$((i + 1)) pingpong 0x4d4a0c00 4 $i ${ITERS:-20000}; done
wait_all; verdict dsm_pingpong $?
