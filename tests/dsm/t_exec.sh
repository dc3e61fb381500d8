#!/usr/bin/env bash
# t_exec.sh — a process writes shared pages and execs (after a failed exec):
# the new image and another host see the data; nothing is lost with the old image.
. "$(dirname "$0")/lib.sh"
on h2 exec writer 0x4d4a0d30
wait_all || { verdict dsm_exec 1; exit 1; }
on h3 exec other 0x4d4a0d30
wait_all; rc=$?
if grep -q "lost with crashed" "$MOJAVE_CLUSTER_DIR"/nsd-*.log; then echo "FAIL a home lost pages:"; grep "lost with crashed" "$MOJAVE_CLUSTER_DIR"/nsd-*.log; rc=1; fi
verdict dsm_exec $rc
