#!/usr/bin/env bash
# t_mq_order.sh — message queue on h1's range, receiver on h3, senders on h1 and h2.
. "$(dirname "$0")/lib.sh"
on h3 mq_order recv 0x4d4a0200 2 2000
on h1 mq_order send 0x4d4a0200 1 2000
on h2 mq_order send 0x4d4a0200 2 2000
wait_all; verdict dsm_mq_order $?
