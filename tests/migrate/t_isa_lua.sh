#!/usr/bin/env bash
# t_isa_lua.sh — Debian's Lua 5.4, built by mojcc for x86-64, run on aarch64
# from its own shipped bitcode: the .mojave.bc records compiled the way an
# aarch64 host's mojaved compiles them (MOJCC_REQUIRE_INSTRUMENTED,
# --target=aarch64-linux-gnu: moj-retarget converts its variadic functions,
# setjmp error handling and target attributes) and run under qemu.  The
# output of long.lua, of the realworld workload (sort, strings, coroutines,
# pcall errors through setjmp/longjmp and luaG_runerror's va_list, GC) and
# of error messages formatted by lua_pushfstring must be byte-identical to
# the x86-64 build's.  (No cluster here: t_isa_lua_move.sh moves Lua
# mid-run between the two instruction sets.)
# Skips (77) without qemu-aarch64-static or the lua5.4 source package.
set -u
here=$(cd "$(dirname "$0")" && pwd)
rc=0
bad() { echo "  problem: $*"; rc=1; }
command -v qemu-aarch64-static >/dev/null || { echo "SKIP: qemu-aarch64-static is not installed"; exit 77; }
. "$here/lua_build.sh"
src=$(lua_source) || { echo "SKIP: cannot fetch the lua5.4 source package"; exit 77; }
T=$(mktemp -d /tmp/mojave-isa-lua.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bc"
build_lua "$src" "$T/lua" || { echo "FAIL migrate_isa_lua: lua does not build with mojcc"; exit 1; }
readelf -p .mojave.isa "$T/lua/lua" >"$T/report" 2>&1
grep -qE "(^|[[:space:]])aarch64 " "$T/report" && bad "lua's report refuses aarch64: $(grep -m3 aarch64 "$T/report")"
objcopy -O binary --only-section=.mojave.bc --set-section-flags .mojave.bc=alloc "$T/lua/lua" "$T/lua.bcsect" ||
  bad "cannot dump .mojave.bc"
python3 "$here/../lit/Inputs/extract_bc.py" "$T/lua.bcsect" "$T/bc/m" >/dev/null || bad "cannot split .mojave.bc"
MOJCC_REQUIRE_INSTRUMENTED=1 "$MOJCC" -O2 --target=aarch64-linux-gnu "$T"/bc/*.bc -o "$T/lua.a64" -lm -ldl \
  2>"$T/cc.log" || { bad "the bitcode does not compile for aarch64: $(grep -v override "$T/cc.log" | tail -3)"; }
printf '%s\n' 'print(pcall(error, "boom"))' 'print(string.format("%5.2f %s %d", 3.14159, "x", 42))' \
  'local ok, e = pcall(function() local t = nil; return t.x end) print(ok, e)' \
  'print(pcall(string.rep))' 'print(select("#", 1, 2, 3), ("x"):rep(3, ","))' >"$T/errors.lua"
for w in "$here/workloads/long.lua 40" "$here/../realworld/workloads/workload.lua" "$T/errors.lua"; do
  "$T/lua/lua" $w >"$T/ref" 2>&1
  qemu-aarch64-static "$T/lua.a64" $w >"$T/out" 2>&1
  cmp -s "$T/ref" "$T/out" || { bad "output of ${w##*/} differs on aarch64"; diff "$T/ref" "$T/out" | head -5; }
  echo "${w##*/}: $(wc -l <"$T/ref") lines"
done
if [ $rc -eq 0 ]; then echo "PASS migrate_isa_lua"; else echo "FAIL migrate_isa_lua"; fi
exit $rc
