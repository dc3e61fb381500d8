# tests/dsm/lib.sh — helpers for the multi-host DSM test drivers (sourced).
# Needs MOJAVE_CLUSTER_DIR (set by scripts/cluster.sh run), CLUSTER (script path),
# IPC_LIB (libmojave_ipc.so) and BIN (directory of the test programs).
set -u
pids=()
# on HOST PROG ARGS... — start a plain-cc program on HOST under LD_PRELOAD, bounded in time
on() {
  local host=$1; shift
  "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$host" env LD_PRELOAD="$IPC_LIB" timeout -k 2 "${TEST_TIMEOUT:-60}" "$BIN/$@" &
  pids+=($!)
}
# wait_all — 0 if every started program exited 0
wait_all() {
  local rc=0
  for p in "${pids[@]}"; do wait "$p" || { echo "program (pid $p) failed: exit $?"; rc=1; }; done
  pids=()
  return $rc
}
verdict() { # NAME RC
  if [ "$2" -eq 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fi
  return "$2"
}
