#!/usr/bin/env bash
# t_chain.sh — the program migrates on its own h1 -> h2 -> h3 -> h1 (like
# moj_migrate()); each supervisor drains the old job's output before it
# forwards MOVED, so mojave-run's output is the whole sequence exactly once.
# Run twice: the second time every daemon has the executable cached.
. "$(dirname "$0")/lib.sh"
for round in 1 2; do
  FAKE_ROUTE=h2,h3,h1 FAKE_HOP_EVERY=15 FAKE_ERR=1 on h1 "$MOJAVE_RUN" "$BIN/fake_app" --count 70 >"$T/out" 2>"$T/err"
  expect_status $? 7
  expect_seq "$T/out" 0 69
  diff <(seq 0 5 69 | sed 's/^/err /') <(grep '^err' "$T/err") >/dev/null || bad "round $round: stderr not exactly once in order"
done
for h in h1 h2 h3; do
  n=$(grep -c "cached executable" "$D/mojaved-$h.log")
  [ "$n" -eq 1 ] || bad "$h cached the executable $n times (want 1)"
  alive $h
done
expect_in "$D/mojaved-h2.log" "moved to h3 as h3\.[0-9]+"
expect_in "$D/mojaved-h3.log" "moved to h1 as h1\.[0-9]+"
expect_in "$D/mojaved-h1.log" "job h1\.[0-9]+ exited: status 7"
verdict migrate_chain
