#!/usr/bin/env bash
# tests/migrate/image_inspect.sh TOOL — end to end for mojave-image: a sample
# image verifies and inspects (every section dumped), corrupted copies are
# refused with the named reason and exit 1, bad usage exits 2.
set -uo pipefail
tool="$1"
work=$(mktemp -d "${TMPDIR:-/tmp}/image_inspect.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
check() { # NAME EXPECTED_STATUS PATTERN -- COMMAND...
  local name="$1" want="$2" pat="$3"; shift 4
  local out st
  out=$("$@" 2>&1); st=$?
  if [ "$st" -ne "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: status $st (want $want), output lacks '$pat':"; sed 's/^/  | /' <<<"$out" | head -20
    fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}
# Writes a copy of the sample with BYTES (hex) at OFFSET.
patch() { cp "$work/s.img" "$work/$1"; printf "$(sed 's/../\\x&/g' <<<"$3")" |
  dd of="$work/$1" bs=1 seek="$2" conv=notrunc status=none; }

"$tool" sample "$work/s.img" || { echo "FAIL image_inspect: sample"; exit 1; }
size=$(stat -c %s "$work/s.img")

check verify_ok 0 "s.img: ok (version 2" -- "$tool" verify "$work/s.img"
check inspect_header 0 "IMAGE file=$work/s.img version=2 bytes=$size" -- "$tool" inspect "$work/s.img"
for line in 'META mode=binary arch="x86_64"' 'META abi pointer=8 little-endian char=signed long_double=x87-80 va_list=sysv-x86-64 heap_align=16 max_align=16' \
            'META argv[1]="--size"' 'SYMS [1] "m1:counter"' \
            'TABLE top=9 objects=3 bytes=144' 'HEAP [#4] align_log2=4 data=48 bytes [40 41 42' \
            'GLOBALS [1] "table" data=24 bytes' 'FRAMES [0] slot[9] BYTES data=5 bytes [01 fe ca ef be]' \
            'RELOCS [3] at SLOT frame 0 slot 8 +0 -> STACK frame 1 alloca 0 +8' \
            'FILES [1] fd=3 kind=regular flags=0x2 fd_flags=0x1 offset=4096 path="/tmp/app.log"' \
            'DSM semundo[0] semid=1074790402 num=1 adj=-1' 'STDIO stdin=6 bytes [69 6e 70 75 74 0a]'; do
  check "inspect: $line" 0 "$line" -- "$tool" inspect "$work/s.img"
done
check inspect_bytes 0 '00000000  69 6e 70 75 74 0a' -- "$tool" inspect --bytes "$work/s.img"
check inspect_stdin 0 'SYMS count=3' -- sh -c "\"$tool\" inspect - < \"$work/s.img\""

patch flip.img $((size - 1)) ff
check checksum 1 "flip.img: invalid: checksum mismatch" -- "$tool" verify "$work/flip.img"
check inspect_invalid 1 "invalid image: checksum mismatch" -- "$tool" inspect "$work/flip.img"
patch magic.img 0 4e
check magic 1 "invalid: bad magic" -- "$tool" verify "$work/magic.img"
patch version.img 8 07
check version 1 "invalid: version 7 unsupported (this is 2)" -- "$tool" verify "$work/version.img"
head -c 40 "$work/s.img" > "$work/short.img"
check truncated_header 1 "invalid: truncated header (40 of 64 bytes)" -- "$tool" verify "$work/short.img"
head -c $((size - 10)) "$work/s.img" > "$work/cut.img"
check truncated_payload 1 "invalid: truncated payload ($((size - 74)) of $((size - 64)) bytes)" -- "$tool" verify "$work/cut.img"
cat "$work/s.img" "$work/s.img" > "$work/twice.img"
check trailing 1 "invalid: $size trailing bytes after the payload" -- "$tool" verify "$work/twice.img"
check verify_many 1 "flip.img: invalid" -- "$tool" verify "$work/s.img" "$work/flip.img"

check no_file 2 "cannot open $work/none.img" -- "$tool" verify "$work/none.img"
check directory 2 "cannot read $work" -- "$tool" inspect "$work"
check no_command 2 "missing command" -- "$tool"
check bad_command 2 "unknown command 'frobnicate'" -- "$tool" frobnicate
check bad_option 2 "unknown option '--nope'" -- "$tool" inspect --nope "$work/s.img"
check help 0 "EXIT STATUS" -- "$tool" --help
check version_flag 0 "image format version 2" -- "$tool" --version

if [ "$fails" -eq 0 ]; then echo "PASS image_inspect"; else echo "FAIL image_inspect ($fails cases)"; exit 1; fi
