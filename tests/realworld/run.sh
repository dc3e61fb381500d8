#!/usr/bin/env bash
# tests/realworld/run.sh — builds real C code bases from Debian source
# packages twice, with CC=clang-16 and with CC=mojcc, runs each project's own
# test suite, and requires every test that passes with clang to pass with
# mojcc.  Projects: zlib (make test), jansson (make check), bzip2 (make
# check), expat (make check).
#
#   tests/realworld/run.sh [build-dir] [project...]
#   Tests that fail only under mojcc for a documented reason are listed in
#   exclusions.txt ("<project>:<test> <reason>").
#   REALWORLD_CACHE=/tmp/mojave-realworld (sources are fetched once there)
#
# Needs deb-src entries (added to /etc/apt/sources.list.d/mojave-src.sources
# when missing; root) and the build tools the projects use (autoconf,
# automake, libtool: installed with apt-get build-dep-free plain installs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
shift || true
MOJCC=${MOJCC:-$build/bin/mojcc}
CLANG=${CLANG:-clang-16}
cache=${REALWORLD_CACHE:-/tmp/mojave-realworld}
projects=("$@")
[[ ${#projects[@]} -eq 0 ]] && projects=(zlib jansson bzip2 expat lua)
mkdir -p "$cache"
JOBS=$(nproc)

. "$here/sources.sh"   # ensure_sources, fetch

# Per project: configure+build in a fresh copy with $1 as CC, run the suite,
# write "name result" lines into $2.
run_zlib() {
  local cc=$1 out=$2 d=$3
  (cd "$d" && CC="$cc" CFLAGS="-O2" ./configure --static >/dev/null &&
     make -j"$JOBS" >"$out.build.log" 2>&1) || { echo "zlib:build fail" >> "$out"; return; }
  local t
  for t in teststatic test64; do
    if (cd "$d" && make "$t" >"$out.$t.log" 2>&1) && grep -q "zlib test OK" "$out.$t.log"; then
      echo "zlib:$t pass" >> "$out"
    else
      echo "zlib:$t fail" >> "$out"
    fi
  done
}
autotools_check() { # project-prefix cc out dir [configure args]
  local name=$1 cc=$2 out=$3 d=$4; shift 4
  (cd "$d" && { [[ -x configure ]] || autoreconf -fi >/dev/null 2>&1; } &&
     CC="$cc" CFLAGS="-O2" ./configure --disable-shared "$@" >/dev/null 2>&1 &&
     make -j"$JOBS" >/dev/null 2>&1) || { echo "$name:build fail" >> "$out"; return; }
  (cd "$d" && make -k -j"$JOBS" check >"$out.$name.log" 2>&1) || true
  # Automake's parallel harness: one .trs per test with ":test-result: X".
  local found=0
  while IFS= read -r trs; do
    found=1
    local r; r=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
    local t=${trs#"$d"/}; t=${t%.trs}
    case $r in PASS|XFAIL) echo "$name:$t pass";; SKIP) echo "$name:$t skip";; *) echo "$name:$t fail";; esac
  done < <(find "$d" -name '*.trs' | sort) >> "$out"
  if (( ! found )); then
    if grep -qE "^(PASS|All [0-9]+ tests passed)|^# FAIL: +0" "$out.$name.log"; then echo "$name:check pass" >> "$out"; else echo "$name:check fail" >> "$out"; fi
  fi
}
run_jansson() { autotools_check jansson "$@"; }
run_expat() { # the Debian source keeps the library in expat/
  local cc=$1 out=$2 d=$3
  # Its C++ test driver links the mojcc-built library with g++, which does
  # not know about libmojave: give every link the runtime explicitly.
  if [[ $cc == "$MOJCC" ]]; then
    export LIBS="$build/runtime/libmojave.a -lmimalloc -lzstd -lcrypto -lpthread -ldl"
  fi
  autotools_check expat "$cc" "$out" "$d/expat" --without-docbook --without-examples
  unset LIBS
}
run_bzip2() {
  local cc=$1 out=$2 d=$3
  (cd "$d" && make -j"$JOBS" CC="$cc" CFLAGS="-O2 -D_FILE_OFFSET_BITS=64" bzip2 bzip2recover >/dev/null 2>&1) || { echo "bzip2:build fail" >> "$out"; return; }
  local i ok
  for i in 1 2 3; do
    ok=pass
    (cd "$d" && ./bzip2 -$i < sample$i.ref > s.rb2 && cmp -s s.rb2 sample$i.bz2 &&
       ./bzip2 -d < sample$i.bz2 > s.tst && cmp -s s.tst sample$i.ref) || ok=fail
    echo "bzip2:sample$i $ok" >> "$out"
  done
}

# Projects without a test suite in their Debian source: a deterministic
# workload whose output under mojcc must equal the clang build's.
workload_result() { # name cc out output-file
  local name=$1 cc=$2 out=$3 got=$4
  if [[ $cc == "$CLANG" ]]; then
    cp "$got" "$cache/expected-$name"; echo "$name:workload pass" >> "$out"
  elif cmp -s "$got" "$cache/expected-$name"; then
    echo "$name:workload pass" >> "$out"
  else
    echo "$name:workload fail" >> "$out"
  fi
}
run_lua() { # lua5.4: the interpreter from src/*.c (no libtool, no readline)
  local cc=$1 out=$2 d=$3
  echo '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"' > "$d/src/lua5.4-deb-multiarch.h"
  (cd "$d/src" && "$cc" -O2 -DLUA_USE_LINUX -DLUA_COMPAT_5_3 -I. $(ls *.c | grep -v '^luac.c$') \
     -o lua -lm -ldl >"$out.build.log" 2>&1) || { echo "lua:build fail" >> "$out"; return; }
  "$d/src/lua" "$here/workloads/workload.lua" > "$d/workload.out" 2>&1 || true
  workload_result lua "$cc" "$out" "$d/workload.out"
}
run_sqlite3() { # the amalgamation (generated with tclsh) + shell
  local cc=$1 out=$2 d=$3
  command -v tclsh >/dev/null || { echo "sqlite3:workload skip" >> "$out"; return; }
  (cd "$d" && ./configure --disable-tcl >/dev/null 2>&1 && make sqlite3.c >/dev/null 2>&1 &&
     "$cc" -O2 -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION sqlite3.c shell.c -o sqlite3-bin -lm \
       >"$out.build.log" 2>&1) || { echo "sqlite3:build fail" >> "$out"; return; }
  (cd "$d" && rm -f w.db && ./sqlite3-bin w.db < "$here/workloads/workload.sql" > workload.out 2>&1) || true
  workload_result sqlite3 "$cc" "$out" "$d/workload.out"
}

ensure_sources
declare -A srcpkg=([zlib]=zlib [jansson]=jansson [bzip2]=bzip2 [expat]=expat [lua]=lua5.4 [sqlite3]=sqlite3)
status=0
for p in "${projects[@]}"; do
  src=$(fetch "${srcpkg[$p]}")
  for which in clang mojcc; do
    rm -rf "$cache/work-$p-$which"
    cp -r "$src" "$cache/work-$p-$which"
    cc=$CLANG; [[ $which == mojcc ]] && cc=$MOJCC
    : > "$cache/result-$p-$which"
    "run_$p" "$cc" "$cache/result-$p-$which" "$cache/work-$p-$which"
  done
  total=$(awk '$2 == "pass"' "$cache/result-$p-clang" | wc -l)
  bad=$(join <(awk '$2 == "pass" { print $1 }' "$cache/result-$p-clang" | sort) \
             <(awk '$2 != "pass" { print $1 }' "$cache/result-$p-mojcc" | sort) || true)
  missing=$(comm -23 <(awk '$2 == "pass" { print $1 }' "$cache/result-$p-clang" | sort) \
                     <(awk '{ print $1 }' "$cache/result-$p-mojcc" | sort))
  mojpass=$(awk '$2 == "pass"' "$cache/result-$p-mojcc" | wc -l)
  echo "realworld: $p: clang passes $total tests, mojcc passes $mojpass"
  for t in $bad $missing; do
    reason=$(awk -v t="$t" '$1 == t { $1 = ""; print substr($0, 2) }' "$here/exclusions.txt")
    if [[ -n $reason ]]; then
      echo "  excluded: $t: $reason"
    else
      echo "  FAIL under mojcc (passes with clang): $t"
      status=1
    fi
  done
  if (( total == 0 )); then echo "  FAIL: no test passed with clang (harness problem)"; status=1; fi
done
exit $status
