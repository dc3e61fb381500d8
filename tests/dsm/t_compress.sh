#!/usr/bin/env bash
# t_compress.sh — zstd page transfers on (daemons --compress via
# MOJAVE_NSD_COMPRESS, clients MOJAVE_DSM_COMPRESS): data must survive every
# path (grants with read-ahead batches, fetch replies) and pages must actually
# have travelled compressed (the daemons' statistics at shutdown).
. "$(dirname "$0")/lib.sh"
D=$MOJAVE_CLUSTER_DIR
for h in h1 h2 h3 h4; do
  "$CLUSTER" stop-nsd "$D" $h
  MOJAVE_NSD_COMPRESS=1 "$CLUSTER" start-nsd "$D" $h
done
export MOJAVE_DSM_COMPRESS=1
rc=0
for i in 0 1 2 3; do on h$((i + 1)) shm_chain 0x4d4a0d10 4 $i; done
wait_all || rc=1
for i in 0 1 2 3; do on h$((i + 1)) pingpong 0x4d4a0d20 4 $i 5000; done
wait_all || rc=1
on h2 pc_ring produce 0x4d4a0d30 2000
on h3 pc_ring consume 0x4d4a0d30 2000
wait_all || rc=1
for h in h1 h2 h3 h4; do
  kill -TERM "$(cat "$D/nsd-$h.pid")"
  # the exit is seen in the log (the pid may linger as a zombie of init)
  for _ in $(seq 600); do grep -q "shutting down" "$D/nsd-$h.log" && break; sleep 0.05; done
done
grep -h "compression:" "$D"/nsd-*.log
grep -q "compression: [1-9][0-9]* pages" "$D"/nsd-h1.log || { echo "no page travelled compressed"; rc=1; }
verdict dsm_compress $rc
