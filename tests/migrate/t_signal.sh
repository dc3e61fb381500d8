#!/usr/bin/env bash
# t_signal.sh — SIGTERM sent to mojave-run reaches the program on the remote
# host; mojave-run exits 143 (128 + SIGTERM) like a shell would report.
. "$(dirname "$0")/lib.sh"
FAKE_WAIT_AT=5,20 FAKE_ANNOUNCE=1 on h1 "$MOJAVE_RUN" --migrate h2 "$BIN/fake_app" --count 1000 >"$T/out" 2>"$T/err" &
pid=$!
# at step 20 the program (now on h2) waits for a request that never comes
wait_for "$T/out" '^19$'
pr=$(launcher_of $pid) || bad "no mojave-run process under $pid"
kill -TERM "$pr"
wait $pid
expect_status $? 143
expect_in "$T/out" "restored on h2"
expect_in "$D/mojaved-h2.log" "delivering signal 15"
expect_in "$D/mojaved-h2.log" "exited: signal 15"
# a SIGTERM that reaches the program after GO, before it leaves h1: held
# (blocked) at the source and delivered at the destination
FAKE_WAIT_AT=5,20 FAKE_SIGTERM_AFTER_GO=1 on h1 "$MOJAVE_RUN" --migrate h2 "$BIN/fake_app" --count 1000 >"$T/out" 2>"$T/err"
expect_status $? 143
[ "$(grep -c "delivering signal 15" "$D/mojaved-h2.log")" -eq 2 ] || bad "the held SIGTERM was not delivered on h2"
alive h2
verdict migrate_signal
