#!/usr/bin/env bash
# t_spec_shm.sh — speculations over DSM pages (spec_shm.c, built by mojcc into
# $SPEC_SHM_PROG): a writer on h2 aborts and commits levels that stored to a
# segment homed on h1 while a reader on h1 reads it; the reader must never
# see a rolled-back value and must wait for the commit.
. "$(dirname "$0")/lib.sh"
d=$MOJAVE_CLUSTER_DIR/spec_shm; mkdir -p "$d"
rc=0
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h2 timeout -k 2 120 "$SPEC_SHM_PROG" writer 0x4d4a0e90 "$d" & w=$!
# the reader attaches once the writer created the segment
for _ in $(seq 1000); do [ -e "$d/A-written" ] && break; sleep 0.02; done
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h1 timeout -k 2 120 "$SPEC_SHM_PROG" reader 0x4d4a0e90 "$d" || rc=1
wait $w || rc=1
verdict dsm_spec_shm $rc
