#!/usr/bin/env bash
# t_stdin.sh — stdin relay across hops: a line-numbering program reads 300
# lines, moving h1 -> h2 -> h3 on the way (every 60 lines).  At h1 it reads
# the inherited pipe itself; at h2/h3 mojaved feeds its pipe from mojave-run
# and, on MOVED, returns what the program never read so mojave-run resends
# it.  Every input line must be numbered exactly once, in order.
. "$(dirname "$0")/lib.sh"
seq 1 300 | sed 's/^/line /' >"$T/in"
FAKE_ROUTE=h2,h3 FAKE_HOP_EVERY=60 on h1 "$MOJAVE_RUN" "$BIN/fake_app" --lines <"$T/in" >"$T/out" 2>"$T/err"
expect_status $? 7
diff <(seq 1 300 | awk '{print $1 ": line " $1}') "$T/out" >"$T/d" || { bad "numbered lines differ:"; head "$T/d"; }
expect_in "$D/mojaved-h2.log" "moved to h3"
# a slow reader: mojaved's pipe holds unread bytes when the program moves
FAKE_ROUTE=h2,h3 FAKE_HOP_EVERY=100 FAKE_SLEEP_MS=2 on h1 "$MOJAVE_RUN" "$BIN/fake_app" --lines <"$T/in" >"$T/out2" 2>"$T/err2"
expect_status $? 7
diff <(seq 1 300 | awk '{print $1 ": line " $1}') "$T/out2" >"$T/d" || { bad "slow reader: numbered lines differ:"; head "$T/d"; }
grep -q "unread stdin bytes returned" "$D/mojaved-h2.log" || bad "h2 did not report returned stdin"
verdict migrate_stdin
