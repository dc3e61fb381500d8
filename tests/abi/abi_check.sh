#!/usr/bin/env bash
# tests/abi/abi_check.sh — checks the instrumentation ABI against the built
# runtime: every symbol in MOJ_ABI_SYMBOLS (include/mojave/abi.h) must be
# defined by libmojave.a, the `__moj_cc_*` names listed in mojave/cc_abi.h
# (which the pass uses) are exactly the ones libmojave.a defines, and a
# module built for another ABI version must fail to link.
# Usage: abi_check.sh <include-dir> <libmojave.a> <cc> [cc-option...]
# For another instruction set, the options name it (--target=...) and
# MOJ_ABI_RUNNER the emulator that runs the test program built in step 5.
set -euo pipefail
inc=$1 lib=$2
shift 2
cc=("$@")
run=()
[ -n "${MOJ_ABI_RUNNER:-}" ] && run=("$MOJ_ABI_RUNNER")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# 1. The list, expanded by the preprocessor exactly as the pass sees it.
printf '#include <mojave/abi.h>\n#define S(x) @x@\nMOJ_ABI_SYMBOLS(S)\n' >"$tmp/l.c"
"${cc[@]}" -E -P -I"$inc" "$tmp/l.c" | grep -o '@[A-Za-z0-9_]*@' | tr -d @ | sort -u >"$tmp/want"
# 2. What the archive defines (text, data or bss; global).
nm -g --defined-only "$lib" 2>/dev/null | awk 'NF==3 {print $3}' | sort -u >"$tmp/have"
missing=$(comm -23 "$tmp/want" "$tmp/have")
n=$(wc -l <"$tmp/want")
if [ -n "$missing" ]; then
  echo "FAIL: ABI symbols missing from $lib:"; echo "$missing"; exit 1
fi
echo "ok: all $n ABI symbols are defined by the runtime"

# 2b. The mojcc-only entry points: one list (MOJ_CC_ENTRIES and
# MOJ_CC_LIBC_WRAPPERS, and MOJ_CC_ENTRIES_X86_64 for an x86-64 runtime), the
# same names in the runtime, both ways.
printf '#include <mojave/cc_abi.h>\n#define S(x) @__moj_cc_##x@\nMOJ_CC_ENTRIES(S)\nMOJ_CC_LIBC_WRAPPERS(S)\n#ifdef __x86_64__\nMOJ_CC_ENTRIES_X86_64(S)\n#endif\n' >"$tmp/cc.c"
"${cc[@]}" -E -P -I"$inc" "$tmp/cc.c" | grep -o '@[A-Za-z0-9_]*@' | tr -d @ | sort -u >"$tmp/cc_want"
grep '^__moj_cc_' "$tmp/have" >"$tmp/cc_have" || true
[ -s "$tmp/cc_want" ] || { echo "FAIL: the __moj_cc_ list expanded to nothing"; exit 1; }
missing=$(comm -23 "$tmp/cc_want" "$tmp/cc_have")
extra=$(comm -13 "$tmp/cc_want" "$tmp/cc_have")
if [ -n "$missing" ]; then
  echo "FAIL: listed in mojave/cc_abi.h but not defined by $lib:"; echo "$missing"; exit 1
fi
if [ -n "$extra" ]; then
  echo "FAIL: defined by $lib but missing from the lists in mojave/cc_abi.h:"; echo "$extra"; exit 1
fi
echo "ok: the $(wc -l <"$tmp/cc_want") __moj_cc_* entry points of mojave/cc_abi.h are exactly the runtime's"

# 2c. The migration entry points (mojave/migrate_abi.h), both ways.
printf '#include <mojave/migrate_abi.h>\n#define S(x) @x@\nMOJ_MIG_ABI_SYMBOLS(S)\n' >"$tmp/mig.c"
"${cc[@]}" -E -P -I"$inc" "$tmp/mig.c" | grep -o '@[A-Za-z0-9_]*@' | tr -d @ | sort -u >"$tmp/mig_want"
grep '^__moj_mig_' "$tmp/have" >"$tmp/mig_have" || true
[ -s "$tmp/mig_want" ] || { echo "FAIL: the __moj_mig_ list expanded to nothing"; exit 1; }
if ! cmp -s "$tmp/mig_want" "$tmp/mig_have"; then
  echo "FAIL: mojave/migrate_abi.h and $lib disagree on the __moj_mig_* entry points:"
  diff "$tmp/mig_want" "$tmp/mig_have"; exit 1
fi
echo "ok: the $(wc -l <"$tmp/mig_want") __moj_mig_* entry points of mojave/migrate_abi.h are exactly the runtime's"

# 3. A module compiled against another ABI version must not link.
printf 'void __moj_version_mismatch_check_v999(void);\nint main(void){__moj_version_mismatch_check_v999();return 0;}\n' >"$tmp/stale.c"
if "${cc[@]}" "$tmp/stale.c" "$lib" -o "$tmp/stale" 2>"$tmp/err"; then
  echo "FAIL: a module for ABI v999 linked against the v$(grep -o 'MOJ_ABI_VERSION [0-9]*' "$inc/mojave/abi.h" | awk '{print $2}') runtime"; exit 1
fi
grep -q '__moj_version_mismatch_check_v999' "$tmp/err" || { echo "FAIL: unexpected link error:"; cat "$tmp/err"; exit 1; }
echo "ok: a stale module fails to link, naming __moj_version_mismatch_check_v999"
# 4. ... and the current version does link.
printf '#include <mojave/abi.h>\nint main(void){MOJ_ABI_VERSION_SYMBOL();return 0;}\n' >"$tmp/cur.c"
"${cc[@]}" -I"$inc" "$tmp/cur.c" "$lib" -lmimalloc -lzstd -lcrypto -lpthread -ldl -o "$tmp/cur" || { echo "FAIL: current ABI does not link"; exit 1; }
# 5. A program may define any name the runtime interposes (they are weak).
cat >"$tmp/own.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <unistd.h>
void error(int status, int errnum, const char *fmt, ...) { (void)status; (void)errnum; (void)fmt; }
int __printf_chk(int flag, const char *fmt, ...) { (void)flag; return write(1, fmt, strlen(fmt)); }
int puts(const char *s) { return (int)write(1, s, strlen(s)); }
int putchar(int c) { char b = (char)c; return (int)write(1, &b, 1); }
int main(void) { error(0, 0, "x"); __printf_chk(1, "own-"); puts("defs"); putchar('!'); return 0; }
C
"${cc[@]}" -I"$inc" "$tmp/own.c" "$lib" -lmimalloc -lzstd -lcrypto -lpthread -ldl -o "$tmp/own" 2>"$tmp/err" || { echo "FAIL: a program defining interposed names does not link:"; cat "$tmp/err"; exit 1; }
[ "$("${run[@]}" "$tmp/own")" = "own-defs!" ] || { echo "FAIL: the program's own definitions were not used"; exit 1; }
echo "ok: a program's own error/__printf_chk/puts/putchar override the runtime's interposers"
echo "PASS"
