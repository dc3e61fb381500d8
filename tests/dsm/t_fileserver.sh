#!/usr/bin/env bash
# t_fileserver.sh — a message-queue file server on h1, clients on h2 and h3
# with IPC_PRIVATE reply queues (fileserver.c): every file arrives
# byte-identical.  Each host has its own IPC namespace (cluster.sh), so the
# private queues and their ids must be cluster-wide.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d -p "$MOJAVE_CLUSTER_DIR")
mkdir -p "$T/src" "$T/out2" "$T/out3"
: >"$T/src/empty"
head -c 3999 /dev/urandom >"$T/src/small"
head -c 4000 /dev/urandom >"$T/src/chunk"
head -c 262147 /dev/urandom >"$T/src/large"
files="empty small chunk large"
on h1 fileserver server 0x4d4a0f80 "$T/src" 2
on h2 fileserver client 0x4d4a0f80 "$T/out2" $files
on h3 fileserver client 0x4d4a0f80 "$T/out3" $files
rc=0
wait_all || rc=1
for d in out2 out3; do
  for f in $files; do cmp -s "$T/src/$f" "$T/$d/$f" || { echo "FAIL: $d/$f differs from the served file"; rc=1; }; done
done
verdict dsm_fileserver $rc
