#!/usr/bin/env bash
# t_ir.sh — IR mode: the program (built with mojcc) ships its bitcode instead
# of its executable; the destination's mojaved compiles it with mojcc (once
# per content) and restores into the result, which carries the bitcode again
# so the next hop can be IR too.  A program without bitcode is told so and
# keeps running.
. "$(dirname "$0")/lib.sh"
FAKE_WAIT_AT=10 on h1 "$MOJAVE_RUN" --migrate h2 --mode ir "$BIN/fake_app_ir" --count 60 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 59
expect_in "$D/mojaved-h2.log" "compiled bitcode from h1"
expect_in "$D/mojaved-h2.log" "job h2\.1 exited: status 7"
# h1 -> h2 (cached there now) -> h3 (compiles), both hops IR
FAKE_ROUTE=h2,h3 FAKE_HOP_EVERY=10 FAKE_MODE=2 on h1 "$MOJAVE_RUN" "$BIN/fake_app_ir" --count 50 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 49
expect_in "$D/mojaved-h3.log" "compiled bitcode from h2"
expect_in "$D/mojaved-h3.log" "job h3\.1 exited: status 7"
[ "$(grep -c "compiled bitcode" "$D/mojaved-h2.log")" -eq 1 ] || bad "h2 compiled the same bitcode twice"
# no bitcode in a plain-cc executable
FAKE_WAIT_AT=10 on h1 "$MOJAVE_RUN" --migrate h2 --mode ir "$BIN/fake_app" --count 30 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 29
expect_in "$T/err" "migration to h2 failed: IR mode: .* has no \.mojave\.bc section \(not built with mojcc\)"
verdict migrate_ir
