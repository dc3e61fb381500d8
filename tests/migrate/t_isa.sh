#!/usr/bin/env bash
# t_isa.sh — hosts of two instruction sets in one cluster (issue 13 item 2):
# MOJAVE_CLUSTER_ARCH=h2=aarch64,h3=aarch64 makes h2 and h3 "aarch64 hosts"
# whose mojaved runs restored programs under qemu-aarch64-static and
# compiles IR for aarch64; h1 is this machine (x86_64).  The zdtm-style
# program checks its state after every hop.
#   x86_64 program on h1 (zdtm_state, and fake_app through the transport
#     alone):  --mode binary to h2 is refused, naming both
#     architectures, and it finishes at h1; with no --mode IR is chosen (h2
#     gets bitcode, never the executable, retargets it for aarch64 and the
#     program carries on there: t_isa_ir.sh tests that direction further).
#   aarch64 program (under qemu) on h2:  h2 -> h3 in IR mode (recompiled on
#     h3), h3 -> h2 by default (binary: same architecture), both restored
#     under qemu by the hosts' mojaved; asked by mojave-run --migrate and
#     --move too (fake_app); to h1 IR is chosen by default,
#     compiled there, and the image of the other architecture is restored
#     (the ABIs agree where it matters: migrate/image_abi.c); binary mode to
#     h1 is refused.
#   a peer that ships an executable anyway is refused by h2's mojaved.
# Needs MOJCC and the aarch64 runtime (ctest's aarch64.build); skips (77)
# only without qemu-aarch64-static.
. "$(dirname "$0")/lib.sh"
command -v qemu-aarch64-static >/dev/null || { echo "SKIP: qemu-aarch64-static is not installed (scripts/deps.sh)"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
grep -q "^host h2 .* arch aarch64$" "$D/cluster.conf" || bad "the cluster file does not make h2 an aarch64 host"
grep -q "^host h1 .* arch x86_64$" "$D/cluster.conf" || bad "the cluster file does not give h1 its architecture"
expect_in "$D/mojaved-h2.log" "host architecture aarch64: programs run under qemu-aarch64-static"
x86=$MIG_PROGS/zdtm_state.O2
a64=$T/zdtm_state.a64
"$MOJCC" --target=aarch64-linux-gnu -O2 -g -Wall -Wextra -Werror "$here/zdtm_state.c" -o "$a64" || bad "mojcc cannot build zdtm_state for aarch64"
fake64=$T/fake_app.a64 # as fake_app_ir (transport.cmake): it restores itself
MOJCC_NO_MIGRATE=1 "$MOJCC" --target=aarch64-linux-gnu -O2 -Wall -Wextra -I"$here/../../migrate" -I"$here/../../runtime/dsm" \
  "$here/fake_app.c" -o "$fake64" || bad "mojcc cannot build fake_app for aarch64"
[ "$rc" -eq 0 ] || verdict migrate_isa

# 1. binary mode across instruction sets: refused before anything is sent
on h1 "$MOJAVE_RUN" --migrate h2 --mode binary "$x86" - "$T" >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$T/out" "^migration failed: binary mode refused: h2 runs aarch64, this program runs x86_64 \(on h1\)"
expect_in "$T/out" "^after: stayed$"
expect_in "$T/out" "^PASS zdtm_state$"
expect_in "$T/err" "migration to h2 failed: binary mode refused: .*; the program keeps running on h1"
grep -q "job h2\." "$D/mojaved-h2.log" && bad "h2 started a job for a refused binary migration"
[ -z "$(ls "$D/mojaved-state-h2/exe")" ] || bad "an executable reached h2's cache"

# 2. no --mode: IR, because h2's architecture differs; h2 compiles for aarch64
on h1 "$MOJAVE_RUN" --migrate h2 "$x86" - "$T" >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$D/mojaved-h2.log" "cached bitcode .* from h1; compiling"
[ -z "$(ls "$D/mojaved-state-h2/exe")" ] || bad "auto mode shipped the executable to h2"
grep -qs "overriding the module target triple with aarch64" "$D"/mojaved-state-h2/ir/*.log || bad "h2 did not compile for aarch64"
expect_in "$T/out" "^after: migrated$"
expect_in "$T/out" "^PASS zdtm_state$"

# 2b. the transport's own check (moj_ship_begin, which fake_app calls
#     directly): binary refused, and auto means IR there, which a program
#     built without mojcc cannot do; it finishes at h1 either way
FAKE_WAIT_AT=10 on h1 "$MOJAVE_RUN" --migrate h2 --mode binary "$BIN/fake_app" --count 30 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 29
expect_in "$T/err" "migration to h2 failed: binary mode refused: h2 runs aarch64, this program runs x86_64"
FAKE_WAIT_AT=10 on h1 "$MOJAVE_RUN" --migrate h2 "$BIN/fake_app" --count 30 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 29
expect_in "$T/err" "migration to h2 failed: IR mode: .* has no \.mojave\.bc section"

# 3. an aarch64 program between the aarch64 hosts, restored under qemu
on h2 "$MOJAVE_RUN" qemu-aarch64-static "$a64" ir:h3,h2 "$T" >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$T/out" "^hop to h3: arrived$"
expect_in "$T/out" "^hop to h2: arrived$"
expect_in "$T/out" "^hops: 2$"
expect_in "$T/out" "^PASS zdtm_state$"
expect_in "$D/mojaved-h3.log" "compiled bitcode from h2"
expect_in "$D/mojaved-h3.log" "job h3\.1 restored"
expect_in "$D/mojaved-h2.log" "job h2\.1 restored"
expect_in "$D/mojaved-h2.log" "cached executable .* from h3"

# 3b. asked by mojave-run --migrate (the request signal, shifted for
#     qemu-user: the plain one would kill the program)
on h2 "$MOJAVE_RUN" --migrate h3 qemu-aarch64-static "$a64" - "$T" >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$T/out" "^after: migrated$"
expect_in "$T/out" "^PASS zdtm_state$"
expect_in "$D/mojaved-h3.log" "job h3\.2 restored"

# 3c. a job of h3's mojaved (run by qemu) asked with --move: mojaved's
#     request signal is shifted too; the job is listed under its own name
FAKE_WAIT_AT=5,30 FAKE_ANNOUNCE=1 on h2 "$MOJAVE_RUN" --migrate h3 qemu-aarch64-static "$fake64" --count 50 >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$T/out" '^29$'
on h2 "$MOJAVE_RUN" --list >"$T/list" 2>&1 || bad "--list failed"
job=$(awk '$2 == "h3" && $4 == "running" && $6 == "fake_app.a64" {print $1}' "$T/list")
[ -n "$job" ] || bad "no running fake_app.a64 job on h3 in the listing: $(cat "$T/list")"
on h2 "$MOJAVE_RUN" --move "$job" h2 >"$T/move" 2>&1 || bad "--move failed: $(cat "$T/move")"
wait $pid
expect_status $? 7
expect_seq "$T/out" 0 49
expect_in "$T/out" "^restored on h3$"
expect_in "$T/out" "^restored on h2$"

# 4. aarch64 -> x86_64: IR chosen and compiled at h1, the aarch64 image
#    restored there (plain char was unsigned and stays so: the IR says it)
on h2 "$MOJAVE_RUN" qemu-aarch64-static "$a64" h1 "$T" >"$T/out" 2>"$T/err"
expect_status $? 0
expect_in "$D/mojaved-h1.log" "compiled bitcode from h2"
expect_in "$T/out" "^hop to h1: arrived$"
expect_in "$T/out" "^state at h1: ok$"
expect_in "$T/out" "^PASS zdtm_state$"

# 5. binary mode aarch64 -> x86_64: refused at the source
on h2 "$MOJAVE_RUN" qemu-aarch64-static "$a64" binary:h1 "$T" >"$T/out" 2>"$T/err"
expect_status $? 1
expect_in "$T/out" "moj_migrate\(h1\) returned -1 \(errno 8: binary mode refused: h1 runs x86_64, this program runs aarch64 \(on h2\)"
expect_in "$T/out" "^after: stayed$"
[ "$(grep -c '^FAIL' "$T/out")" -eq 2 ] || bad "a check other than the hop's failed at h2"
[ "$(grep -c 'job h1\.' "$D/mojaved-h1.log")" -eq "$(grep -c 'job h1\.1' "$D/mojaved-h1.log")" ] || bad "h1 started a job for a refused binary migration"
# 6. a peer that does not check: h2's mojaved refuses a binary SHIP from h1
on h1 "$BIN/badpeer" "$D/cluster.conf" h2 binary-ship >"$T/out" || bad "badpeer: $(cat "$T/out")"
expect_in "$D/mojaved-h2.log" "image refused by h2: binary mode across instruction sets"
alive h1; alive h2; alive h3
verdict migrate_isa
