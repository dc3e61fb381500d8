#!/usr/bin/env bash
# t_chain_real.sh — zdtm_state (mojcc -O2) moves itself h1 -> h2 -> h3 -> h1
# with three moj_migrate() calls at the bottom of its recursion, under
# mojave-run on h1: every hop arrives, the state checks pass on h1 at the end,
# output appears once and in order.
. "$(dirname "$0")/lib.sh"
on h1 "$MOJAVE_RUN" "$MIG_PROGS/zdtm_state.O2" h2,h3,h1 "$T" >"$T/out" 2>"$T/err"
st=$?
cat "$T/out"; sed 's/^/stderr: /' "$T/err"
expect_status $st 0
diff <(grep -E '^(in flight|hop to|after|hops|PASS)' "$T/out" | sed 's/(pid [0-9]*)//') - <<'OUT' >/dev/null || bad "output not exactly once, in order"
in flight: before migration 
hop to h2: arrived
hop to h3: arrived
hop to h1: arrived
after: migrated
hops: 3
PASS zdtm_state
OUT
expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+ restored"
expect_in "$D/mojaved-h3.log" "job h3\.[0-9]+ restored"
expect_in "$D/mojaved-h1.log" "job h1\.[0-9]+ restored"
verdict migrate_chain_real
