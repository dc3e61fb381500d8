#!/usr/bin/env bash
# t_real.sh — a mojcc-built program (zdtm_state, -O0 or -O2) started with
# `mojave-run --migrate h2` on h1 waits at its migration points, is captured
# (heap, globals, 200 frames, open files), restored on h2 and finishes there:
# its checks print PASS, output before the hand-off appears exactly once.
#   t_real.sh OPT [binary|ir|fail]
#     ir:   h2 recompiles the shipped bitcode
#     fail: h2's mojaved is down: the hand-off fails, the program rewinds at
#           h1 and finishes there with its checks passing, the reason reported
. "$(dirname "$0")/lib.sh"
opt=$1 mode=${2:-binary}
prog=$MIG_PROGS/zdtm_state.$opt
ship=$mode
[ "$mode" = fail ] && { "$CLUSTER" stop-mojaved "$D" h2 >/dev/null 2>&1; ship=binary; }
on h1 "$MOJAVE_RUN" --migrate h2 --mode "$ship" "$prog" - "$T" >"$T/out" 2>"$T/err"
st=$?
cat "$T/out"; sed 's/^/stderr: /' "$T/err"
expect_status $st 0
[ "$(grep -c 'in flight: before migration' "$T/out")" -eq 1 ] || bad "output before the hand-off not exactly once"
expect_in "$T/out" "^PASS zdtm_state"
if [ "$mode" = fail ]; then
  expect_in "$T/out" "^migration failed: .*h2"
  expect_in "$T/out" "^after: stayed$"
  expect_in "$T/err" "migration to h2 failed"
  verdict migrate_real_fail
fi
expect_in "$T/out" "^after: migrated"
expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+ restored"
alive h2
[ "$mode" = ir ] && expect_in "$D/mojaved-h2.log" "compiled bitcode from h1"
[ "$mode" = ir ] && sfx=_ir || sfx=
verdict "migrate_real_$opt$sfx"
