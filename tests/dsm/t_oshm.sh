#!/usr/bin/env bash
# t_oshm.sh MODE [NAME] — ordered shared-memory segments (cluster file `ordered
# RANGE` covering shm, `order MODE`; nsd_oshm.c, client_ocapture.c): no
# home, a replica at every daemon, every store captured and ordered.
# Unmodified programs under LD_PRELOAD, jittery daemon links:
#   1. stores of every shape (1-40 bytes, across a page boundary, memset,
#      memcpy) on h1 arrive byte for byte at h2, h3, h4; a fork()ed child
#      on h2 stores and reads through the order;
#   2. a counter under an ordered semaphore, 4 hosts x ITERS, exact;
#   3. two writers of whole words and a reader: no torn word;
#   4. IPC_STAT, EFAULT for read(2) into the segment, IPC_RMID;
#   5. the replicas agree (equal hash chains of the committed sequence).
. "$(dirname "$0")/lib.sh"
mode=${1:-classical}
name=${2:-dsm_oshm_$mode}
rc=0
for h in h1 h2 h3 h4; do order $h links || rc=1; done
TEST_TIMEOUT=120
on h1 oshm_probe write 0x4d4a7401
wait_all || rc=1
on h2 oshm_probe fork 0x4d4a7401
wait_all || { echo "FAIL $name: a forked child's attachment"; rc=1; }
for h in h2 h3 h4; do on $h oshm_probe check 0x4d4a7401; done
wait_all || { echo "FAIL $name: the stores did not arrive as made"; rc=1; }
ITERS=${ITERS:-100}
for i in 0 1 2 3; do on h$((i + 1)) sem_counter 0x4d4a7402 4 $ITERS $i; done
wait_all || { echo "FAIL $name: the counter under an ordered semaphore"; rc=1; }
on h2 oshm_probe tear0 0x4d4a7401; on h3 oshm_probe tear1 0x4d4a7401; on h4 oshm_probe tearr 0x4d4a7401
wait_all || { echo "FAIL $name: torn words"; rc=1; }
on h3 oshm_probe stat 0x4d4a7401
wait_all || rc=1
# the replicas agree: the same committed sequence everywhere (polled: the
# last commits may still be on their way to some daemon)
d=$MOJAVE_CLUSTER_DIR/oshm; mkdir -p "$d"
replicas_agree "$d" h1 h2 h3 h4 || { echo "FAIL $name: the replicas committed different sequences"; rc=1; }
verdict "$name" $rc
