#!/usr/bin/env bash
# t_unsupervised.sh — a program started without mojave-run that migrates on
# its own execs `mojave-run --attach HOST:JOB` in place: the shell still
# waits on the same pid and gets the real exit status.
. "$(dirname "$0")/lib.sh"
FAKE_ROUTE=h2 FAKE_HOP_EVERY=10 on h1 "$BIN/fake_app" --count 40 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 39
expect_in "$D/mojaved-h2.log" "launcher attached from h1"
# ... and a SIGTERM it gets after GO stays pending across the exec, so the
# mojave-run it becomes forwards it: 143, from the program on h2
FAKE_ROUTE=h2 FAKE_HOP_EVERY=10 FAKE_WAIT_AT=20 FAKE_SIGTERM_AFTER_GO=1 on h1 "$BIN/fake_app" --count 1000 >"$T/out" 2>"$T/err"
expect_status $? 143
expect_in "$D/mojaved-h2.log" "delivering signal 15"
verdict migrate_unsupervised
