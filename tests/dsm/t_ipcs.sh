#!/usr/bin/env bash
# t_ipcs.sh — mojave-ipcs lists the cluster's objects (ipcs_fixture.c): a
# segment created and written on h2 but homed on h1, with h2's process as the
# owner of the pages it wrote; a semaphore set; a queue holding two messages.
# Listed from h3, which holds none of them.
. "$(dirname "$0")/lib.sh"
D=$MOJAVE_CLUSTER_DIR
rc=0
fail() { echo "FAIL: $*"; rc=1; }
on h2 ipcs_fixture hold 0x4d4a0fc0 "$D/ready"
for _ in $(seq 600); do [ -s "$D/ready" ] && break; sleep 0.05; done
[ -s "$D/ready" ] || { echo "FAIL: fixture not ready"; verdict dsm_ipcs 1; exit 1; }
pid=$(cat "$D/ready")
out=$("$CLUSTER" exec "$D" h3 "$IPCS" 2>&1); st=$?
echo "$out"
[ $st -eq 0 ] || fail "mojave-ipcs exit status $st"
expect() { grep -qE -- "$1" <<<"$out" || fail "no line matching /$1/"; }
# pages 0-2 written on h2; write-ahead may have given it the other two as well
expect "^0x4d4a0fc0 0x[0-9a-f]+ h1 .* 640 +20480 +1 +(2/3|1/4|0/5)/0 +h2:$pid\\([345]\\)$"
expect "^0x4d4a0fc1 0x[0-9a-f]+ h1 .* 640 +3 +1$"
expect "^0x4d4a0fc2 0x[0-9a-f]+ h1 .* 640 +30 +2$"
only=$("$CLUSTER" exec "$D" h3 "$IPCS" -q 2>&1)
grep -q 'Shared Memory' <<<"$only" && fail "-q printed segments"
"$CLUSTER" exec "$D" h3 "$IPCS" --bogus >/dev/null 2>&1 && fail "a bad option was accepted"
on h3 ipcs_fixture release 0x4d4a0fc0
wait_all || rc=1
verdict dsm_ipcs $rc
