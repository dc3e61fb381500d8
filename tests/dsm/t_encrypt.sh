#!/usr/bin/env bash
# t_encrypt.sh — the DSM with `encrypt` in the cluster file (set through
# MOJAVE_CLUSTER_EXTRA): pages handed along a chain of 4 hosts, a counter
# under a distributed semaphore, pages handed back by a process that returns
# from main attached (sealed after libcrypto's exit cleanup); the same
# counter kept by mojcc programs on 2 hosts (their runtime carries the client
# and loads libcrypto only when it first needs it: runtime/crypto_lazy.c); a
# process whose cluster file lacks the directive is refused with a reason
# naming both settings, and no daemon reports a sealed frame that failed to
# open.
. "$(dirname "$0")/lib.sh"
rc=0
D=$MOJAVE_CLUSTER_DIR
grep -q '^encrypt ' "$D/cluster.conf" || { echo "cluster file has no encrypt line"; rc=1; }
for i in 0 1 2 3; do on h$((i + 1)) shm_chain 0x4d4a0010 4 $i; done
wait_all || rc=1
for i in 0 1 2 3; do on h$((i + 1)) sem_counter 0x4d4a9001 4 "${ITERS:-500}" $i; done
wait_all || rc=1
on h2 exit_attached 0x4d4a0777 w
wait_all || rc=1
on h3 exit_attached 0x4d4a0777 r
wait_all || rc=1
if [ -n "${SPEC_LOCK_PROG:-}" ]; then # mojcc programs: the handshake and the seals through crypto_lazy.c
  mc() { "$CLUSTER" exec "$D" "$1" env timeout -k 2 120 "$SPEC_LOCK_PROG" "${@:2}"; }
  mc h1 init 0x4d4a0ea1 || { echo "mojcc program: init failed"; rc=1; }
  mc h2 run 0x4d4a0ea1 100 2>/dev/null & p1=$!
  mc h4 run 0x4d4a0ea1 100 2>/dev/null & p2=$!
  wait $p1 || rc=1; wait $p2 || rc=1
  mc h3 check 0x4d4a0ea1 200 || { echo "mojcc programs' counter wrong under encryption"; rc=1; }
fi
# the same program with the directive removed from its cluster file
grep -v '^encrypt ' "$D/cluster.conf" >"$D/clear.conf"
out=$("$CLUSTER" exec "$D" h3 env MOJAVE_CLUSTER="$D/clear.conf" LD_PRELOAD="$IPC_LIB" timeout 30 "$BIN/sem_counter" 0x4d4a9002 1 1 0 2>&1) &&
  { echo "a client without encryption was served: $out"; rc=1; }
echo "$out" | grep -q "says 'encrypt .*', our cluster file 'encrypt off'" || { echo "no clear reason for the refusal: $out"; rc=1; }
if grep -h "failed authentication\|unencrypted frame\|cannot seal" "$D"/nsd-h*.log; then echo "a daemon refused a sealed frame"; rc=1; fi
verdict dsm_encrypt $rc
