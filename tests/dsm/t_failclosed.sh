#!/usr/bin/env bash
# t_failclosed.sh — fail closed (failclosed.c): a missing or broken cluster
# file refuses every IPC call with ENONET and says so once; the explicit
# MOJAVE_DSM_FALLBACK=local runs on local IPC; with the daemons down calls
# fail with a connection errno and the "cannot reach" message is rate-limited.
. "$(dirname "$0")/lib.sh"
D=$MOJAVE_CLUSTER_DIR
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rc=0
fail() { echo "FAIL: $*"; rc=1; }
run() { # HOST ENV... -- ARGS: one run, stdout+stderr kept in $T/out, $T/err
  local host=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  "$CLUSTER" exec "$D" "$host" env LD_PRELOAD="$IPC_LIB" "${envs[@]}" timeout -k 2 120 "$BIN/failclosed" "$@" >"$T/out" 2>"$T/err"
  local r=$?
  cat "$T/out"
  return $r
}
printf 'host h1 10.0.0.1:1\nbogus directive here\n' >"$T/broken.conf"
for cf in "$T/missing.conf" "$T/broken.conf"; do
  run h2 MOJAVE_CLUSTER="$cf" -- refuse 0x4d4a0f00 || fail "refuse with $(basename "$cf")"
  n=$(grep -c 'mojave-dsm' "$T/err" || true)
  [ "$n" -eq 1 ] || { fail "expected one message for $(basename "$cf"), got $n:"; cat "$T/err"; }
  grep -q "$(basename "$cf")" "$T/err" || fail "the message does not name $(basename "$cf")"
done
run h2 MOJAVE_CLUSTER="$T/broken.conf" MOJAVE_DSM_FALLBACK=local -- fallback 0x4d4a0f00 || fail "fallback"
for h in h1 h2; do "$CLUSTER" stop-nsd "$D" $h; done
run h2 -- down 0x4d4a0f00 || fail "daemons down"
n=$(grep -c 'cannot reach' "$T/err" || true)
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || { fail "20 failed calls printed $n 'cannot reach' lines (rate limit: 1-2)"; head -5 "$T/err"; }
grep -q EIDRM "$T/out" && fail "EIDRM reported"
verdict dsm_failclosed $rc
