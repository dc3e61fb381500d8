#!/usr/bin/env bash
# t_isa_ir.sh — x86-64 programs moved to aarch64 hosts and back in IR mode
# (issue 13 items 3-4; h1 x86_64, h2 and h3 aarch64 under qemu, as t_isa.sh):
#   1. zdtm_state (-O0 and -O2, built for x86-64) h1 -> h2 -> h3 -> h1: IR
#      to h2 (its x86-64 bitcode retargeted and compiled for aarch64), h2 ->
#      h3 binary (-O2: same instruction set) or IR (-O0: the x86-64 bitcode
#      retargeted again at h3), IR back to h1 (the original bitcode, carried
#      in the aarch64 executable); heap, globals, open flags, setjmp and char
#      semantics checked after every hop, everything else at the end.
#   2. the same program asked by mojave-run --migrate h2 (request signal).
#   3. isa_lowering's x86-64 variadic functions (converted) h1 -> h2 -> h1,
#      same results after each hop; bitcode that cannot move (long double,
#      a va_list handed to vsnprintf) is refused at the source with the
#      reason named, before h2 is even dialled, and carries on with its
#      state; built for aarch64, its variadic functions are refused on h2
#      for h1 (x86_64).
#   4. the same program without its report (a peer that did not check):
#      h2's compiler refuses it, the program carries on at h1.
#   5. a compiler failure at the aarch64 host (h3's mojaved restarted with a
#      failing MOJAVE_MOJCC) leaves the program running at the source.
. "$(dirname "$0")/lib.sh"
command -v qemu-aarch64-static >/dev/null || { echo "SKIP: qemu-aarch64-static is not installed (scripts/deps.sh)"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
grep -q "^host h2 .* arch aarch64$" "$D/cluster.conf" || bad "the cluster file does not make h2 an aarch64 host"

# 1. there and back, both optimization levels
for opt in O0 O2; do
  chain=h2,h3,h1
  [ $opt = O0 ] && chain=h2,ir:h3,h1 # h2 -> h3 in IR mode: x86-64 bitcode retargeted again at h3
  on h1 "$MIG_PROGS/zdtm_state.$opt" $chain "$T" >"$T/out" 2>"$T/err"
  expect_status $? 0
  for h in h2 h3 h1; do
    expect_in "$T/out" "^hop to $h: arrived$"
    expect_in "$T/out" "^state at $h: ok$"
  done
  expect_in "$T/out" "^hops: 3$"
  expect_in "$T/out" "^PASS zdtm_state$"
  grep -q "^FAIL" "$T/out" && bad "$opt: $(grep '^FAIL' "$T/out" | head -3)"
done
expect_in "$D/mojaved-h2.log" "compiled bitcode from h1"
[ "$(grep -c "compiled bitcode from h1" "$D/mojaved-h2.log")" -eq 2 ] || bad "h2 did not compile both programs"
grep -qs "overriding the module target triple with aarch64" "$D"/mojaved-state-h2/ir/*.log ||
  bad "h2 did not compile the x86-64 bitcode for aarch64"
expect_in "$D/mojaved-h3.log" "compiled bitcode from h2"     # -O0: IR between the aarch64 hosts
expect_in "$D/mojaved-h3.log" "cached executable .* from h2" # -O2: binary between them
expect_in "$D/mojaved-h1.log" "compiled bitcode from h3"    # the original bitcode, back on x86-64
[ "$(grep -c "job h2\.[0-9]* restored" "$D/mojaved-h2.log")" -eq 2 ] || bad "h2 did not restore both"

# 2. asked from outside (mojave-run --migrate, the request signal)
on h1 "$MOJAVE_RUN" --migrate h2 "$MIG_PROGS/zdtm_state.O2" - "$T" >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$T/out" "^after: migrated$"
expect_in "$T/out" "^PASS zdtm_state$"

# 3. x86-64 variadic functions converted: h1 -> h2 -> h1, same results
prog=$T/isa_lowering
build() { "$MOJCC" -O2 -Wall -Wextra -Werror "$@" "$here/isa_lowering.c" || bad "mojcc cannot build isa_lowering $*"; }
build -o "$prog"
on h1 "$prog" vararg h2,h1 >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$T/out" "^arrived at h2$"
expect_in "$T/out" "^arrived at h1$"
expect_in "$T/out" "^PASS vararg$"
grep -q "DIFFERENT" "$T/out" && bad "variadic results differ after a hop: $(cat "$T/out")"

# 3a. refused at the source, reason named, nothing sent
build -DWITH_LONGDOUBLE -o "$prog.ld"
build -DWITH_VPRINTF -o "$prog.vp"
readelf -p .mojave.isa "$prog.ld" >"$T/report" 2>&1
expect_in "$T/report" "aarch64 .*isa_lowering.c: .* uses long double as x87 80-bit"
readelf -p .mojave.isa "$prog.vp" >"$T/report" 2>&1
expect_in "$T/report" "aarch64 .*isa_lowering.c: function 'formatted' calls __moj_cc_vsnprintf, which reads a va_list the destination's way"
lines=$(wc -l <"$D/mojaved-h2.log") # not even a connection (it would be logged when closed)
for kind in longdouble:ld vprintf:vp; do
  on h1 "$prog.${kind#*:}" ${kind%:*} h2 >"$T/out" 2>"$T/err"
  expect_status $? 0
  expect_in "$T/out" "moj_migrate\(h2\) returned -1 \(errno 8: IR mode refused: the bitcode cannot run on aarch64: .*isa_lowering.c: (global|function) '.*' (uses|calls)"
  expect_in "$T/out" "^PASS ${kind%:*}$"
done
[ "$(wc -l <"$D/mojaved-h2.log")" -eq "$lines" ] || bad "h2 heard from a refused move: $(tail -n +$((lines + 1)) "$D/mojaved-h2.log" | head -3)"

# 3b. the other way: built for aarch64 (AAPCS64 va_list: not converted), on
#     h2, refused for x86_64 (h1)
"$MOJCC" --target=aarch64-linux-gnu -O2 -Wall -Wextra -Werror "$here/isa_lowering.c" -o "$prog.a64" ||
  bad "mojcc cannot build isa_lowering for aarch64"
lines=$(wc -l <"$D/mojaved-h1.log")
on h2 qemu-aarch64-static "$prog.a64" vararg h1 >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$T/out" "moj_migrate\(h1\) returned -1 \(errno 8: IR mode refused: the bitcode cannot run on x86_64: .*isa_lowering.c: function '.*' uses va_start/va_copy \(its va_list is laid out for aarch64\)"
expect_in "$T/out" "^PASS vararg$"
[ "$(wc -l <"$D/mojaved-h1.log")" -eq "$lines" ] || bad "h1 heard from a refused move"

# 4. no report (as from an older mojcc): the destination's compiler refuses
objcopy --remove-section .mojave.isa "$prog.ld" "$prog.noreport" || bad "objcopy"
on h1 "$prog.noreport" longdouble h2 >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$T/out" "moj_migrate\(h2\) returned -1 .*IR compile failed at h2: .*refusing bitcode module '.*isa_lowering.c' for aarch64: .* uses long double"
expect_in "$T/out" "^PASS longdouble$"

# 5. the aarch64 host's compiler fails: the program stays, state intact
printf '#!/bin/sh\necho "injected compiler failure ($*)" >&2\nexit 1\n' >"$T/badcc"
chmod +x "$T/badcc"
jobs3=$(grep -c "job h3\.[0-9]* restored" "$D/mojaved-h3.log")
"$CLUSTER" stop-mojaved "$D" h3 >/dev/null 2>&1
MOJAVE_MOJCC=$T/badcc "$CLUSTER" start-mojaved "$D" h3 >/dev/null 2>&1 || bad "h3's mojaved did not restart"
on h1 "$MIG_PROGS/zdtm_state.O2" h3 "$T" >"$T/out" 2>"$T/err"
expect_status $? 1 # the program's own check of the hop
expect_in "$T/out" "moj_migrate\(h3\) returned -1 .*IR compile failed at h3: injected compiler failure"
expect_in "$T/out" "^state at h3: ok$"
expect_in "$T/out" "^after: stayed$"
[ "$(grep -c '^FAIL' "$T/out")" -eq 2 ] || bad "a check other than the hop's failed at h1: $(grep '^FAIL' "$T/out" | head -3)"
[ "$(grep -c "job h3\.[0-9]* restored" "$D/mojaved-h3.log")" -eq "$jobs3" ] || bad "h3 restored a job although its compile failed"
"$CLUSTER" stop-mojaved "$D" h3 >/dev/null 2>&1
"$CLUSTER" start-mojaved "$D" h3 >/dev/null 2>&1 || bad "h3's mojaved did not restart"
alive h1; alive h2; alive h3
verdict migrate_isa_ir
