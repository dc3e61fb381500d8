#!/usr/bin/env bash
# t_hop.sh — one hop h1 -> h2 requested by mojave-run --migrate: stdout and
# stderr continue from h2, every line exactly once and in order, and the
# program's exit status (7) is mojave-run's.
. "$(dirname "$0")/lib.sh"
FAKE_WAIT_AT=10 FAKE_ERR=1 on h1 "$MOJAVE_RUN" --migrate h2 "$BIN/fake_app" --count 60 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 59
diff <(seq 0 5 59 | sed 's/^/err /') <(grep '^err' "$T/err") >/dev/null || bad "stderr lines not exactly once in order"
expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+ restored"
expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+ exited: status 7"
expect_in "$D/mojaved-h2.log" "cached executable"
# a lot of output (about 2 MiB) after the hop: mojaved buffers at most
# 1 MiB per job and stops reading the pipes meanwhile; nothing is lost
FAKE_WAIT_AT=10 on h1 "$MOJAVE_RUN" --migrate h2 --after 0.2 "$BIN/fake_app" --count 300000 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 299999
# not a mojave program: it runs, and mojave-run says why nothing migrated
on h1 "$MOJAVE_RUN" --migrate h2 /bin/sh -c 'exit 3' >"$T/out" 2>"$T/err"
expect_status $? 3
expect_in "$T/err" "never reported ready on its control socket"
alive h2
verdict migrate_hop
