#!/usr/bin/env bash
# t_move_list.sh — mojave-run --list shows the job on h2; mojave-run --move
# sends it on to h3 while it runs; the output stays complete and in order.
. "$(dirname "$0")/lib.sh"
FAKE_WAIT_AT=5,30 FAKE_ANNOUNCE=1 on h1 "$MOJAVE_RUN" --migrate h2 "$BIN/fake_app" --count 50 >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$T/out" '^29$'
on h3 "$MOJAVE_RUN" --list >"$T/list" 2>&1 || bad "--list failed"
cat "$T/list"
job=$(awk '$2 == "h2" && $4 == "running" && $6 == "fake_app" {print $1}' "$T/list")
[ -n "$job" ] || bad "no running fake_app job on h2 in the listing"
grep -qE "^$job +h2 +[0-9]+ +running +h1 +fake_app" "$T/list" || bad "listing line malformed"
on h3 "$MOJAVE_RUN" --move "$job" h3 >"$T/move" 2>&1 || { bad "--move failed"; cat "$T/move"; }
expect_in "$T/move" "asked job $job to migrate to h3"
wait $pid
expect_status $? 7
expect_seq "$T/out" 0 49
expect_in "$T/out" "restored on h3"
on h1 "$MOJAVE_RUN" --move h9.1 h3 >"$T/m2" 2>&1; [ $? -eq 2 ] || bad "--move to an unknown host's job: want status 2"
expect_in "$T/m2" "host 'h9' is not in the cluster file"
on h1 "$MOJAVE_RUN" --move h2.999 h3 >"$T/m3" 2>&1; [ $? -eq 125 ] || bad "--move of an unknown job: want status 125"
expect_in "$T/m3" "no running job h2.999 on h2"
verdict migrate_move_list
