#!/usr/bin/env bash
# t_dsm.sh move|ir|fail — dsm_mig (mojcc -O2) on h1 under mojave-run, attached
# to a 64 KiB distributed segment homed on h1, moves itself to h2 while a
# peer on h3 reads its pages and writes others, then on to h3 ("move"; "ir":
# one hop to h2 in IR mode, recompiled there); with h2's mojaved
# down the hand-off fails and it carries on at h1 ("fail").  Either way its
# earlier writes, the pointers to the segment (global, heap, local) and the
# peer's view of its later writes must hold, no page may be lost at the home,
# the segment's attach count must end at the peer alone, and a SEM_UNDO
# adjustment travels with the mover and is applied once, when it exits.
. "$(dirname "$0")/lib.sh"
variant=$1
case $variant in
  move) name=migrate_dsm;      key=0x4d4a0300; hops=h2,h3 ;;
  ir)   name=migrate_dsm_ir;   key=0x4d4a0320; hops=h2+ir ;;
  fail) name=migrate_dsm_fail; key=0x4d4a0310; hops=h2 ;;
  *) echo "usage: t_dsm.sh move|ir|fail"; exit 2 ;;
esac
N=500
[ "$variant" = fail ] && "$CLUSTER" stop-mojaved "$D" h2 >/dev/null 2>&1
on h3 "$MIG_PROGS/dsm_mig" peer $key $N >"$T/peer.out" 2>"$T/peer.err" &
peer=$!
on h1 "$MOJAVE_RUN" "$MIG_PROGS/dsm_mig" mover $key $hops >"$T/out" 2>"$T/err"
st=$?
wait $peer; pst=$?
cat "$T/out"; sed 's/^/stderr: /' "$T/err"
sed 's/^/peer: /' "$T/peer.out"; sed 's/^/peer stderr: /' "$T/peer.err"
expect_status $st 0
expect_status $pst 0
expect_in "$T/out" "^spec: entered and committed$"
expect_in "$T/out" "^undo: carried \(semaphore 2 still 1\)"
expect_in "$T/peer.out" "^undo: applied at exit$"
if [ "$variant" = fail ]; then
  expect_in "$T/out" "^after: stayed at h1"
else
  expect_in "$T/out" "^after: arrived at h2$"
  expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+ restored"
fi
if [ "$variant" = move ]; then # the second hop: the DSM's threads at h2 do not block it
  expect_in "$T/out" "^after: arrived at h3$"
  expect_in "$D/mojaved-h3.log" "job h3\.[0-9]+ restored"
fi
[ "$(grep -c '^before:' "$T/out")" -eq 1 ] || bad "output before the hand-off not exactly once"
expect_in "$T/out" "^counter: $N$"
expect_in "$T/out" "^PASS dsm_mig mover"
expect_in "$T/peer.out" "^nattch at the end: 1$"
expect_in "$T/peer.out" "^PASS dsm_mig peer"
if grep -q "lost" "$D/nsd-h1.log"; then bad "the home lost pages:"; grep lost "$D/nsd-h1.log" | head -5; fi
verdict $name
