#!/usr/bin/env bash
# t_programs.sh — programs nobody here wrote, built by mojcc from Debian's
# source packages (lua5.4, bzip2), started with `mojave-run --migrate h2
# --after 0.3` on h1 and moved in the middle of their work: the output must be
# byte-identical to a run that never moved, and h2 must have restored them.
# Lua moves once more in IR mode (its bitcode recompiled on h2).
# Sources are fetched once with apt-get source (REALWORLD_CACHE); without
# them the test is skipped (exit 77).
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cache=${REALWORLD_CACHE:-/tmp/mojave-realworld}
mkdir -p "$cache"
. "$here/../realworld/sources.sh"
src_of() { # package -> unpacked source dir, or skip the test
  local d
  d=$( (ensure_sources >/dev/null && fetch "$1") 2>/dev/null) || d=
  [ -n "$d" ] && [ -d "$d" ] || { echo "SKIP: cannot fetch the $1 source package"; exit 77; }
  echo "$d"
}
lua_src=$(src_of lua5.4) || exit 77
bz_src=$(src_of bzip2) || exit 77
w=$T/build; mkdir -p "$w/lua" "$w/bz"
cp "$lua_src"/src/*.c "$lua_src"/src/*.h "$w/lua/"
echo '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"' > "$w/lua/lua5.4-deb-multiarch.h"
(cd "$w/lua" && "$MOJCC" -O2 -DLUA_USE_LINUX -DLUA_COMPAT_5_3 -I. $(ls *.c | grep -v '^luac.c$') -o lua -lm -ldl) ||
  bad "lua does not build with mojcc"
cp "$bz_src"/*.c "$bz_src"/*.h "$w/bz/"
(cd "$w/bz" && "$MOJCC" -O2 -D_FILE_OFFSET_BITS=64 -w blocksort.c huffman.c crctable.c randtable.c compress.c \
   decompress.c bzlib.c bzip2.c -o bzip2) || bad "bzip2 does not build with mojcc"
[ "$rc" -eq 0 ] || verdict migrate_programs
# Lua's report refuses nothing for aarch64 (its variadic functions and
# setjmp error handling are converted: migrate_isa_lua runs it there) and
# names nothing for its own instruction set
readelf -p .mojave.isa "$w/lua/lua" >"$T/lua.isa" 2>&1
expect_in "$T/lua.isa" "checked"
grep -qE "(^|[[:space:]])(aarch64|x86_64) [^ ]+\.c: " "$T/lua.isa" && bad "lua's report refuses: $(grep -m2 '\.c: ' "$T/lua.isa")"

# Lua: a script of a few seconds, moved after 0.3 s
"$w/lua/lua" "$here/workloads/long.lua" 250 > "$T/lua.ref"
on h1 "$MOJAVE_RUN" --migrate h2 --after 0.3 "$w/lua/lua" "$here/workloads/long.lua" 250 >"$T/lua.out" 2>"$T/lua.err"
expect_status $? 0
cmp -s "$T/lua.ref" "$T/lua.out" || { bad "lua's output differs from an unmoved run"; diff "$T/lua.ref" "$T/lua.out" | head -5; }
expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+: restoring lua"
# Lua again in IR mode (a shorter run): its ~30 zstd bitcode records
# (.mojave.bc, not loaded) are shipped, split and recompiled on h2 — a whole
# mojcc -O2 build of Lua, minutes on a loaded machine, so the hand-off bound
# is raised; the result carries the section again, still outside every
# loaded segment
"$w/lua/lua" "$here/workloads/long.lua" 40 > "$T/lua40.ref"
on h1 env MOJAVE_MIGRATE_TIMEOUT_MS=500000 "$MOJAVE_RUN" --migrate h2 --mode ir --after 0.3 "$w/lua/lua" "$here/workloads/long.lua" 40 >"$T/lua-ir.out" 2>"$T/lua-ir.err"
expect_status $? 0
cmp -s "$T/lua40.ref" "$T/lua-ir.out" || { bad "lua's output (IR mode) differs from an unmoved run"; diff "$T/lua40.ref" "$T/lua-ir.out" | head -5; }
expect_in "$D/mojaved-h2.log" "compiled bitcode from h1"
[ "$(grep -cE "job h2\.[0-9]+: restoring lua" "$D/mojaved-h2.log")" -eq 2 ] || bad "h2 did not restore lua from its bitcode"
for f in "$D"/mojaved-state-h2/ir/*; do
  case $f in *.bc|*.log|*.d|*.tmp) continue ;; esac
  python3 "$here/../lit/Inputs/check_bc_section.py" "$f" >/dev/null || bad "h2's compiled lua: .mojave.bc not as mojcc writes it"
done
# bzip2: compressing a stream from stdin to stdout, moved after 0.3 s
seq 1 3000000 | awk '{print $1 * 7919 % 100003, "line", $1}' > "$T/in.txt"
"$w/bz/bzip2" -c < "$T/in.txt" > "$T/ref.bz2"
on h1 "$MOJAVE_RUN" --migrate h2 --after 0.3 "$w/bz/bzip2" -c <"$T/in.txt" >"$T/out.bz2" 2>"$T/bz.err"
expect_status $? 0
cmp -s "$T/ref.bz2" "$T/out.bz2" || bad "bzip2's output differs from an unmoved run"
expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+: restoring bzip2"
sed 's/^/lua stderr: /' "$T/lua.err"; sed 's/^/lua (IR) stderr: /' "$T/lua-ir.err"; sed 's/^/bzip2 stderr: /' "$T/bz.err"
verdict migrate_programs
