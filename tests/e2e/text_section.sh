#!/usr/bin/env bash
# tests/e2e/text_section.sh — where mojcc puts instrumented code: every
# instrumented function in section moj_text, gathered by the linker into one
# executable (R E) range per linked object; comdat wrappers and the
# registering constructor kept once; -ffunction-sections --gc-sections,
# -no-pie and -shared -fPIC; functions with their own section left there.
# Prints ok/FAIL lines and PASS.  Usage: text_section.sh <mojcc>
set -uo pipefail
MOJCC=$(realpath "$1")
. "$(dirname "$0")/lib.sh"

# moj_text of $1 is SHF_ALLOC|SHF_EXECINSTR and inside a PT_LOAD with flags R E.
in_rx_segment() {
  local sec addr size flags a s
  sec=$(readelf -SW "$1" | sed 's/^ *\[ *[0-9]*\] *//' | awk '$1 == "moj_text" { print $3, $5, $7 }')
  [[ -n $sec ]] || { echo "no moj_text section in $1"; return 1; }
  read -r addr size flags <<<"$sec"
  [[ $flags == *A*X* ]] || { echo "moj_text flags $flags"; return 1; }
  a=$((16#$addr)) s=$((16#$size))
  while read -r type off vaddr paddr filesz memsz rest; do
    [[ $type == LOAD ]] || continue
    if ((a >= vaddr && a + s <= vaddr + memsz)); then
      rest=${rest% 0x*}
      echo "segment flags: $rest"
      [[ ${rest// /} == RE ]]
      return
    fi
  done < <(readelf -lW "$1")
  echo "moj_text is in no LOAD segment"
  return 1
}

cat >"$t/a.c" <<'C'
#include <string.h>
int (*get_a(void))(const char *, const char *) { return strcmp; }
C
cat >"$t/b.c" <<'C'
#include <stdlib.h>
#include <string.h>
int (*get_a(void))(const char *, const char *);
static int (*get_b(void))(const char *, const char *) { return strcmp; }
__attribute__((section("user_text"))) int special(char *p) { return p[0]; }
int unused_helper(char *p) { return p[1]; }
int main(void) {
  char *s = malloc(8);
  strcpy(s, "x");
  int (*volatile f)(char *) = special;
  return get_a() == get_b() && get_a()(s, "x") == 0 && f(s) == 'x' ? 0 : 1;
}
C
for mode in "" "-ffunction-sections -Wl,--gc-sections" "-fno-pie -no-pie"; do
  name="two modules${mode:+ with $mode}"
  check "$name: link and run" bash -c "cd '$t' && '$MOJCC' -O2 $mode a.c b.c -o ab && ./ab"
  check "$name: moj_text in the R E segment" in_rx_segment "$t/ab"
  check "$name: one registering constructor, one comdat wrapper" bash -c \
    "[ \$(nm '$t/ab' | grep -c ' __moj_text.ctor\$') = 1 ] && [ \$(nm '$t/ab' | grep -c ' __moj_wrap.strcmp\$') = 1 ]"
done
check "a function with its own section stays there" bash -c \
  "objdump -t '$t/ab' | grep -E '[[:space:]]user_text[[:space:]].*[[:space:]]special\$'"
inside_text() {
  local lo hi v name
  lo=$(nm "$1" | awk '$3 == "__start_moj_text" { print $1 }')
  hi=$(nm "$1" | awk '$3 == "__stop_moj_text" { print $1 }')
  [[ -n $lo && -n $hi ]] || { echo "no bounds"; return 1; }
  for name in main get_a; do
    v=$(nm "$1" | awk -v n=$name '$3 == n { print $1 }')
    ((16#$v >= 16#$lo && 16#$v < 16#$hi)) || { echo "$name at $v outside [$lo, $hi)"; return 1; }
  done
}
check "instrumented functions are inside [__start_moj_text, __stop_moj_text)" inside_text "$t/ab"

check "-shared -fPIC: builds" bash -c "cd '$t' && '$MOJCC' -O2 -fPIC -shared a.c -o liba.so"
check "-shared -fPIC: moj_text in the R E segment" in_rx_segment "$t/liba.so"
check "-shared -fPIC: the bounds are its own (no dynamic relocation)" bash -c \
  "! readelf -rW '$t/liba.so' | grep -q '_moj_text'"
check "-shared -fPIC: one registering constructor" bash -c "[ \$(nm '$t/liba.so' | grep -c ' __moj_text.ctor\$') = 1 ]"
check "-shared -fPIC: linked by a mojcc executable" bash -c \
  "cd '$t' && '$MOJCC' -O2 b.c -L. -la -Wl,-rpath,'$t' -o ab_shared && ./ab_shared"

if ((fails)); then echo "FAIL: $fails section checks"; exit 1; fi
echo PASS
