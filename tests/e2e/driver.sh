#!/usr/bin/env bash
# tests/e2e/driver.sh — mojcc as a drop-in cc: --help/--version/-v, -E/-S/-c/
# -M, clang's errors and exit status passed through, -V misuse like clang,
# --target picking the runtime of the target's instruction set,
# objects + archives + multiple inputs, -shared/-fPIC with a mojcc executable,
# the .mojave.bc section (zstd records, in no loaded segment), and a CMake
# project with CMAKE_C_COMPILER=mojcc.
# Prints PASS or FAIL lines.  Usage: driver.sh <mojcc> <source-dir>
set -uo pipefail
MOJCC=$(realpath "$1")
src=$(realpath "$2")
. "$(dirname "$0")/lib.sh"

check "--help is a man page" bash -c "'$MOJCC' --help | grep -q '^SYNOPSIS' && '$MOJCC' --help | grep -q 'MOJCC_PLUGIN'"
check "--version names mojcc and clang" bash -c "'$MOJCC' --version | head -1 | grep -q '^mojcc (mojave)' && '$MOJCC' --version | grep -q 'clang version'"
printf 'int main(void){return X;}\n' > "$t/x.c"
check "-E preprocesses" bash -c "'$MOJCC' -E -DX=42 '$t/x.c' | grep -q 'return 42'"
check "-v shows the clang command with the plugin" bash -c "'$MOJCC' -v -c -DX=0 '$t/x.c' -o '$t/x.o' >'$t/v' 2>&1; grep -q 'fpass-plugin=.*MojavePasses.so' '$t/v'"
check "-c object carries .mojave.bc" bash -c "llvm-readelf-16 -S '$t/x.o' | grep -q '.mojave.bc'"
check "-S emits assembly" bash -c "'$MOJCC' -S -DX=0 '$t/x.c' -o - | grep -q 'main:'"
check "-MD/-MF deps" bash -c "'$MOJCC' -c -MD -MF '$t/x.d' -DX=0 '$t/x.c' -o '$t/x2.o' && grep -q 'x.c' '$t/x.d'"
check "-x c - (stdin) compiles and links" bash -c "echo 'int main(void){return 0;}' | '$MOJCC' -x c - -o '$t/stdin' && '$t/stdin'"
check "-M only prints deps" bash -c "'$MOJCC' -M -DX=0 '$t/x.c' | grep -q 'x.o:'"

printf 'int main(void){ return undeclared_thing; }\n' > "$t/bad.c"
"$MOJCC" -c "$t/bad.c" -o "$t/bad.o" >"$t/err" 2>&1; rc=$?
if [[ $rc -eq 1 ]] && grep -q "use of undeclared identifier" "$t/err"; then ok "clang error and exit status 1 pass through"; else bad "clang error pass-through (rc=$rc)"; cat "$t/err"; fi
clang-16 -V >"$t/cv" 2>&1; crc=$?
"$MOJCC" -V >"$t/mv" 2>&1; mrc=$?
if [[ $crc -eq $mrc ]]; then ok "-V misuse exits like clang ($mrc)"; else bad "-V: clang $crc, mojcc $mrc"; fi

cat > "$t/a.c" <<'C'
int twice(int x);
int main(void) { return twice(21) == 42 ? 0 : 1; }
C
cat > "$t/b.c" <<'C'
#include <stdlib.h>
int twice(int x) { int *p = malloc(sizeof *p); *p = 2 * x; int r = *p; free(p); return r; }
C
check "multiple .c inputs link and run" bash -c "'$MOJCC' -O2 '$t/a.c' '$t/b.c' -o '$t/ab' && '$t/ab'"
check "objects and a static archive" bash -c "cd '$t' && '$MOJCC' -c a.c b.c && ar rcs libb.a b.o && '$MOJCC' a.o -L. -lb -o ab2 && ./ab2"
check "-shared -fPIC library used by a mojcc executable" bash -c "cd '$t' && '$MOJCC' -O2 -fPIC -shared b.c -o libtw.so && '$MOJCC' -O2 a.c -L. -ltw -Wl,-rpath,'$t' -o ab3 && ./ab3"
check "executable carries one .mojave.bc record per module" bash -c "cd '$t' && llvm-objcopy-16 --dump-section=.mojave.bc=sec ab2 ab2.copy && python3 '$src/../lit/Inputs/extract_bc.py' sec rec | grep -c record | grep -qx 2"
check "executable's .mojave.bc: in the file, in no PT_LOAD, zstd records" bash -c "python3 '$src/../lit/Inputs/check_bc_section.py' '$t/ab2' | grep -q '^not loaded, 2 zstd records'"
check "shared library's .mojave.bc: in no PT_LOAD" python3 "$src/../lit/Inputs/check_bc_section.py" "$t/libtw.so"
check "--target naming the host's instruction set links the host runtime" bash -c "cd '$t' && '$MOJCC' -v --target=\$(uname -m)-linux-gnu a.c b.c -o abt 2>v && grep -q ' [^ ]*/runtime/libmojave.a\\|lib/libmojave.a' v && ./abt"
check "--target of another instruction set needs that one's runtime (MOJCC_RUNTIME_<arch>)" bash -c "cd '$t' && ! MOJCC_RUNTIME_riscv64=/nonexistent '$MOJCC' --target=riscv64-linux-gnu a.c -o abr 2>err && grep -q 'MOJCC_RUNTIME_riscv64=/nonexistent does not exist' err"

if command -v cmake >/dev/null; then
  check "CMake project with CMAKE_C_COMPILER=mojcc" bash -c "cmake -S '$src/cmake_project' -B '$t/cm' -DCMAKE_C_COMPILER='$MOJCC' >/dev/null && cmake --build '$t/cm' >/dev/null && '$t/cm/probe_main' | grep -qx PASS"
fi
if (( fails )); then echo "FAIL: $fails driver checks"; exit 1; fi
echo PASS
