#!/usr/bin/env bash
# t_mq_order.sh [MODE [NAME]] — message queue on h1's range, receiver on h3, senders
# on h1 and h2.  MODE: the order's mode (informative); NAME: the verdict's test name (a variant's cluster file may
# make the queue ordered: replicated, every call through the total order).
. "$(dirname "$0")/lib.sh"
on h3 mq_order recv 0x4d4a0200 2 2000
on h1 mq_order send 0x4d4a0200 1 2000
on h2 mq_order send 0x4d4a0200 2 2000
wait_all; rc=$?
if grep -q '^ordered ' "$MOJAVE_CLUSTER_DIR/cluster.conf"; then
  # the calls must have gone through the total order: 4000 sends and 4000
  # receives committed (plus gets, controls, departures) on every daemon
  for h in h1 h2 h3; do
    n=$("$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" $h "$BIN/order" wait 8000 | sed -n 's/.* committed \([0-9]*\) .*/\1/p')
    echo "$h committed ${n:-?} ordered messages"
    [ "${n:-0}" -ge 8000 ] || { echo "FAIL ${2:-dsm_mq_order}: $h committed ${n:-no} ordered messages, want >= 8000"; rc=1; }
  done
fi
verdict "${2:-dsm_mq_order}" $rc
