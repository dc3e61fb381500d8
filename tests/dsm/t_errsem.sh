#!/usr/bin/env bash
# t_errsem.sh — the same error-semantics program against the kernel (local key)
# and against the DSM (distributed key homed on h1, program on h2).
. "$(dirname "$0")/lib.sh"
rc=0
on h2 errsem 0x13570000   # outside the distributed range: kernel behaviour
wait_all || rc=1
on h2 errsem 0x4d4a0400   # distributed, homed on h1
wait_all || rc=1
verdict dsm_errsem $rc
