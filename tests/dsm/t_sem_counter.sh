#!/usr/bin/env bash
# t_sem_counter.sh — shared counter under a distributed semaphore, 4 processes on
# 4 hosts; the key lies in the range the root delegates to h2.
. "$(dirname "$0")/lib.sh"
for i in 0 1 2 3; do on h$((i + 1)) sem_counter 0x4d4a9001 4 ${ITERS:-1000} $i; done
wait_all; verdict dsm_sem_counter $?
