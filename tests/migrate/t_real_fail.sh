#!/usr/bin/env bash
# t_real_fail.sh — zdtm_state (mojcc -O2) asked by mojave-run to migrate to h2
# while h2's mojaved is down: the hand-off fails, the program rewinds at h1
# and finishes there with all its checks passing; the reason is reported.
. "$(dirname "$0")/lib.sh"
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
"$CLUSTER" stop-mojaved "$D" h2 >/dev/null 2>&1
on h1 "$MOJAVE_RUN" --migrate h2 "$MIG_PROGS/zdtm_state.O2" - "$T" >"$T/out" 2>"$T/err"
st=$?
cat "$T/out"; sed 's/^/stderr: /' "$T/err"
expect_status $st 0
[ "$(grep -c 'in flight: before migration' "$T/out")" -eq 1 ] || bad "output before the hand-off not exactly once"
expect_in "$T/out" "^migration failed: .*h2"
expect_in "$T/out" "^after: stayed$"
expect_in "$T/out" "^PASS zdtm_state"
expect_in "$T/err" "migration to h2 failed"
verdict migrate_real_fail
