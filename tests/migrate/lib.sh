# tests/migrate/lib.sh — helpers for the migration test drivers (sourced).
# Needs MOJAVE_CLUSTER_DIR (scripts/cluster.sh run), CLUSTER (that script),
# MOJAVE_RUN (the launcher), BIN (fake_app, badpeer).  Nothing here waits on
# time: every wait is for an event (a line in a file), bounded by a count.
set -u
# Descriptors the harness left open are not the programs' (a pipe among them
# would rightly make a migration refuse): close them before anything runs.
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
D=$MOJAVE_CLUSTER_DIR
T=$(mktemp -d /tmp/mojave-migtest.XXXXXX)
trap 'rm -rf "$T"' EXIT
rc=0
# on HOST CMD...: run CMD on HOST (bounded by TEST_TIMEOUT seconds)
on() { local h=$1; shift; "$CLUSTER" exec "$D" "$h" env MOJAVE_RUN="$MOJAVE_RUN" timeout -k 2 "${TEST_TIMEOUT:-90}" "$@"; }
bad() { echo "  problem: $*"; rc=1; }
# expect_seq FILE FIRST LAST: FILE has exactly the lines FIRST..LAST, in order
expect_seq() {
  if ! diff <(seq "$2" "$3") <(grep -E '^[0-9]+$' "$1") >"$T/diff" 2>&1; then
    bad "$1 is not exactly $2..$3 once each in order:"; head -20 "$T/diff"
  fi
}
expect_status() { [ "$1" -eq "$2" ] || bad "exit status $1, expected $2"; }
expect_in() { grep -qE -- "$2" "$1" || { bad "$1 lacks /$2/:"; tail -5 "$1" | sed 's/^/    /'; }; }
# wait_for FILE REGEX [ROUNDS]: until a line matches (0.1 s polls, default 600 rounds)
wait_for() {
  local n=${3:-600}
  for _ in $(seq "$n"); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  bad "never saw /$2/ in $1"; return 1
}
# launcher_of PID: the mojave-run process among PID's descendants
launcher_of() {
  local todo=$1 p
  while [ -n "$todo" ]; do
    set -- $todo; p=$1; shift; todo="$*"
    [ "$(cat /proc/$p/comm 2>/dev/null)" = mojave-run ] && { echo "$p"; return 0; }
    todo="$todo $(pgrep -P "$p" | tr '\n' ' ')"
    todo=$(echo $todo)
  done
  return 1
}
alive() { kill -0 "$(cat "$D/mojaved-$1.pid")" 2>/dev/null || bad "mojaved on $1 died"; }
verdict() { if [ "$rc" -eq 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fi; exit "$rc"; }
