#!/usr/bin/env bash
# tests/e2e/install.sh — the install tree (ctest install_tree, label e2e):
# `cmake --install BUILD --prefix TMP` must lay out every tool, library,
# header, pkg-config file, CMake package, doc and man page; the INSTALLED
# mojcc must compile and run a speculating program with its own plugin,
# runtime and headers; a CMake project using find_package(mojave) and a
# pkg-config build must work against the prefix (moved, to prove it is
# relocatable); every tool answers --version; every man page renders cleanly.
# Usage: install.sh BUILD_DIR SOURCE_DIR VERSION.  No network.
# ok() never fails, so "A && ok || bad" is an if-then-else here
# shellcheck disable=SC2015
build=$1 src=$2 version=$3
# shellcheck source=lib.sh
. "$src/tests/e2e/lib.sh"
prefix=$t/prefix

if cmake --install "$build" --prefix "$prefix" >"$t/install.log" 2>&1; then ok "cmake --install"
else bad "cmake --install"; tail -20 "$t/install.log"; echo FAIL; exit 1; fi

tools="mojcc mojave-run mojave-image mojaved mojave-nsd mojave-ipcs"
files="lib/libmojave.a lib/libmojave_ipc.so lib/mojave/MojavePasses.so
  include/mojave.h include/mojave/spec.h include/mojave/alloc.h include/mojave/ptr.h
  include/mojave/migrate.h lib/pkgconfig/mojave.pc
  lib/cmake/mojave/mojaveConfig.cmake lib/cmake/mojave/mojaveConfigVersion.cmake
  share/doc/mojave/README.md share/doc/mojave/api.md share/doc/mojave/dsm.md
  share/doc/mojave/cluster.md share/doc/mojave/migration.md share/doc/mojave/mojcc.md"
mans="man1/mojcc.1 man1/mojave-run.1 man1/mojave-image.1 man1/mojave-ipcs.1 man7/mojave.7 man8/mojave-nsd.8 man8/mojaved.8"
for f in $tools; do [ -x "$prefix/bin/$f" ] && ok "bin/$f" || bad "bin/$f missing"; done
for f in $files; do [ -f "$prefix/$f" ] && ok "$f" || bad "$f missing"; done
for f in $mans; do [ -f "$prefix/share/man/$f" ] && ok "share/man/$f" || bad "share/man/$f missing"; done
for h in "$src"/include/mojave/*.h; do
  cmp -s "$h" "$prefix/include/mojave/${h##*/}" || bad "include/mojave/${h##*/} not installed"
done

# --version: each tool prints the project version and exits 0
for f in $tools; do
  if out=$("$prefix/bin/$f" --version 2>&1) && grep -q "$version" <<<"$out"; then ok "$f --version: $(head -1 <<<"$out")"
  else bad "$f --version: $out"; fi
done

# the installed mojcc uses the installed plugin, runtime and headers
cat >"$t/hello.c" <<'C'
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  int *a = malloc(4 * sizeof *a);
  a[1] = 5;
  int id = spec_enter();
  if (id > 0) { a[1] = 6; printf("dropped\n"); spec_abort(id); }
  printf("hello from mojcc: a[1]=%d %s\n", a[1], a[1] == 5 && id < 0 ? "PASS" : "FAIL");
  return 0;
}
C
mojcc_out=$(cd "$t" && "$prefix/bin/mojcc" -v -O2 hello.c -o hello 2>&1)
if [ -x "$t/hello" ]; then ok "installed mojcc compiles"; else bad "installed mojcc: $mojcc_out"; fi
mojcc_cmd=$(grep -m1 '^mojcc .*running:' <<<"$mojcc_out")   # the clang command mojcc runs
for want in "-fpass-plugin=$prefix/lib/mojave/MojavePasses.so" "$prefix/include" "$prefix/lib/libmojave.a"; do
  grep -qF -- "$want" <<<"$mojcc_cmd" && ok "mojcc uses $want" || bad "mojcc does not use $want: $mojcc_cmd"
done
grep -qF -- "$src/" <<<"$mojcc_cmd" && bad "installed mojcc uses the source tree: $mojcc_cmd"
out=$("$t/hello" 2>&1)
[ "$out" = "hello from mojcc: a[1]=5 PASS" ] && ok "mojcc hello: $out" || bad "mojcc hello printed: $out"

# move the prefix: the CMake package and pkg-config file must follow
mv "$prefix" "$t/moved"; prefix=$t/moved
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
if cmake "${gen[@]}" -S "$src/tests/e2e/find_package_project" -B "$t/fp" -DCMAKE_PREFIX_PATH="$prefix" \
     >"$t/fp.log" 2>&1 && cmake --build "$t/fp" >>"$t/fp.log" 2>&1; then ok "find_package(mojave) project builds"
else bad "find_package(mojave) project"; tail -20 "$t/fp.log"; fi
grep -q "mojave_DIR:PATH=$prefix/lib/cmake/mojave" "$t/fp/CMakeCache.txt" && ok "package found in the moved prefix" \
  || bad "package not found in $prefix"
out=$("$t/fp/consumer" 2>&1)
[ "$out" = "PASS consumer (libmojave $version)" ] && ok "find_package consumer: $out" || bad "consumer printed: $out"

pc=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs mojave 2>&1)
for want in -lmimalloc -lzstd -lcrypto -lpthread -ldl; do
  grep -qwF -- "$want" <<<"$pc" || bad "pkg-config lacks $want: $pc"
done
for w in $pc; do   # the paths it gives resolve inside the moved prefix
  case $w in
    -I*) [ "$(readlink -f "${w#-I}")" = "$prefix/include" ] && ok "pkg-config $w" || bad "pkg-config $w" ;;
    *.a) [ "$(readlink -f "$w")" = "$prefix/lib/libmojave.a" ] && ok "pkg-config $w" || bad "pkg-config $w" ;;
  esac
done
# shellcheck disable=SC2086
if cc -o "$t/pc_consumer" "$src/tests/e2e/find_package_project/consumer.c" $pc >"$t/pc.log" 2>&1 \
   && "$t/pc_consumer" | grep -q "^PASS consumer"; then ok "pkg-config build runs"
else bad "pkg-config build: $(cat "$t/pc.log")"; fi

# man pages render without warnings (groff, else mandoc; else skipped)
for f in $mans; do
  p=$prefix/share/man/$f
  if command -v groff >/dev/null; then
    w=$(groff -man -ww -z "$p" 2>&1)
  elif command -v mandoc >/dev/null; then
    w=$(mandoc -T lint -W warning "$p" 2>&1)
  else
    echo "skip: no groff/mandoc to render $f"; continue
  fi
  [ -z "$w" ] && ok "man $f renders" || bad "man $f: $w"
done

if [ "$fails" = 0 ]; then echo PASS; else echo "FAIL ($fails)"; exit 1; fi
