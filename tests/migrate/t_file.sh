#!/usr/bin/env bash
# tests/migrate/t_file.sh — single-host migration through a checkpoint file:
# PROG migrates to "file:IMG" (writes the image, exits 0), then a new process
# restored from IMG (MOJAVE_RESTORE_FD) finishes the run.  Output before the
# hand-off appears once (from the source), the rest once (from the restored
# process), and the program's own checks print PASS.
#   t_file.sh PROG NAME          (NAME: the verdict's name)
set -u
prog=$1 name=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# descriptors inherited from the test harness are not the program's: a pipe
# among them would (rightly) make the migration refuse
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
fail() { echo "FAIL $name: $*"; exit 1; }
src=$("$prog" "file:$dir/img" "$dir" 2>&1); rc=$?
echo "--- source (exit $rc)"; echo "$src"
[ "$rc" -eq 0 ] || fail "source exited $rc"
[ -s "$dir/img" ] || fail "no image written"
grep -q "in flight: before migration" <<<"$src" || fail "output before the hand-off missing"
grep -q "PASS\|FAIL" <<<"$src" && fail "the source ran past the migration point"
dst=$(MOJAVE_RESTORE_FD=3 "$prog" "file:$dir/img" "$dir" 3<"$dir/img" 2>&1); rc=$?
echo "--- restored (exit $rc)"; echo "$dst"
[ "$rc" -eq 0 ] || fail "restored process exited $rc"
grep -q "in flight" <<<"$dst" && fail "output before the hand-off printed twice"
grep -q "after: migrated" <<<"$dst" || fail "restored process did not arrive"
grep -q "^PASS" <<<"$dst" || fail "restored process's checks"
echo "PASS $name"
