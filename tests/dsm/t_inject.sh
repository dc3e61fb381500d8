#!/usr/bin/env bash
# t_inject.sh — transport fault injection: with MOJAVE_NET_DELAY_US=3000 and
# MOJAVE_NET_LOSS=0.05 the shared counter must still be exact, and the run must
# take at least the injected delay (100 semops per process x 3 ms = 0.3 s).
. "$(dirname "$0")/lib.sh"
rc=0
t0=$(date +%s%N)
MOJAVE_NET_DELAY_US=3000 MOJAVE_NET_LOSS=0.05 on h2 sem_counter 0x4d4a0f00 2 50 0
MOJAVE_NET_DELAY_US=3000 MOJAVE_NET_LOSS=0.05 on h3 sem_counter 0x4d4a0f00 2 50 1
wait_all || rc=1
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "run with injected delay/loss took $ms ms"
[ "$ms" -ge 300 ] || { echo "injected delay not applied"; rc=1; }
verdict dsm_inject $rc
