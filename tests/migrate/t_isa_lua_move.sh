#!/usr/bin/env bash
# t_isa_lua_move.sh — issue 13 item 4: the Lua interpreter (Debian's lua5.4
# built by mojcc for x86-64) moved mid-run from h1 (x86-64) to h2 (aarch64,
# under qemu: its bitcode retargeted and compiled there) and back to h1,
# output byte-identical to a run that never moved.  Lua runs its script
# inside lua_pcall, and workloads/pcall_move.lua runs its two phases inside
# pcall: a setjmp frame (luaD_rawrunprotected) is on the stack for the whole
# run, which today's capture handles by calling setjmp again on the rewind
# (docs/migration.md).  Mid-run, not at the end: each phase waits at a gate
# file this test creates only once the move is done, so the move happens
# inside the phase (stderr's "@ go1 waiting on h1" / "@ go1 passed on h2"),
# and each phase then raises an error that its pcall, moved with it, must
# catch — a longjmp to a re-created jmp_buf; an error nobody in the script
# catches is reported by lua.c's own lua_pcall at the end.  Every wait is
# for an event, bounded by a count (MOVE_WAIT_ROUNDS polls of 0.1 s each).
. "$(dirname "$0")/lib.sh"
command -v qemu-aarch64-static >/dev/null || { echo "SKIP: qemu-aarch64-static is not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lua_build.sh"
src=$(lua_source) || { echo "SKIP: cannot fetch the lua5.4 source package"; exit 77; }
build_lua "$src" "$T/lua" >"$T/build.log" 2>&1 || { bad "lua does not build with mojcc"; verdict migrate_isa_lua_move; }
lua=$T/lua/lua script=$here/workloads/pcall_move.lua waits=${MOVE_WAIT_ROUNDS:-3000}
mkdir -p "$T/open" "$T/gates"
touch "$T/open/go1" "$T/open/go2"

# the run that never moves
"$lua" "$script" "$T/open" 12 >"$T/ref.out" 2>"$T/ref.err"
expect_status $? 1 # the error left for lua.c
expect_in "$T/ref.out" "^phase 2:"

# h1 -> h2 (IR: recompiled for aarch64) at the first gate, h2 -> h1 (IR: the
# original bitcode compiled natively) at the second; a whole mojcc -O2 build
# of Lua at each end, so the hand-off bound is raised
on h1 env MOJAVE_MIGRATE_TIMEOUT_MS=900000 "$MOJAVE_RUN" --migrate h2 --after 2 \
  "$lua" "$script" "$T/gates" 12 >"$T/out" 2>"$T/err" &
pid=$!
if wait_for "$D/mojaved-h2.log" "job h2\.[0-9]+ restored" "$waits"; then
  touch "$T/gates/go1"
  if wait_for "$T/err" "^@ go2 waiting on h2$" "$waits"; then
    on h1 "$MOJAVE_RUN" --list >"$T/list" 2>&1 || bad "--list failed"
    job=$(awk '$2 == "h2" && $4 == "running" && $6 == "lua" {print $1}' "$T/list")
    [ -n "$job" ] || { bad "no running lua job on h2:"; cat "$T/list"; }
    on h1 "$MOJAVE_RUN" --move "$job" h1 >"$T/move" 2>&1 || { bad "--move $job h1 failed"; cat "$T/move"; }
    wait_for "$D/mojaved-h1.log" "job h1\.[0-9]+ restored" "$waits"
  fi
fi
touch "$T/gates/go1" "$T/gates/go2" # whatever happened, let the script end
wait $pid
expect_status $? 1
cmp -s "$T/ref.out" "$T/out" || { bad "stdout differs from the run that never moved:"; diff "$T/ref.out" "$T/out" | head -5; }
grep -v '^@ ' "$T/ref.err" >"$T/ref.err2"
grep -v '^@ ' "$T/err" >"$T/err2"
cmp -s "$T/ref.err2" "$T/err2" || { bad "stderr differs from the run that never moved:"; diff "$T/ref.err2" "$T/err2" | head -5; }
# where each step ran: the moves happened inside the phases, both ways
grep '^@ go' "$T/err"
for l in "go1 waiting on h1" "go1 passed on h2" "go2 waiting on h2" "go2 passed on h1" \
         "round 1 on h1" "round 13 on h2" "round 24 on h1"; do
  expect_in "$T/err" "^@ $l$"
done
expect_in "$T/out" "^phase 1:	false	.*: go1 raised after round 12, acc [0-9]+$"
expect_in "$T/out" "^phase 2:	false	.*: go2 raised after round 24, acc [0-9]+$"
expect_in "$D/mojaved-h2.log" "compiled bitcode from h1"
expect_in "$D/mojaved-h1.log" "compiled bitcode from h2"
grep -hE "bitcode|restored|exited" "$D/mojaved-h2.log" "$D/mojaved-h1.log"
echo "rounds on h1: $(grep -c '^@ round .* on h1$' "$T/err"), on h2: $(grep -c '^@ round .* on h2$' "$T/err")"
alive h1; alive h2
verdict migrate_isa_lua_move
