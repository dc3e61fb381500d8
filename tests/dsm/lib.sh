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
# writer_reader NAME PROG KEY FLAG — a mojcc PROG as "writer" on h2 and, once
# the writer created FLAG in the shared directory, as "reader" on h1 (both
# get KEY and the directory); the verdict NAME
writer_reader() {
  local name=$1 prog=$2 key=$3 first=$4 d=$MOJAVE_CLUSTER_DIR/$1 rc=0 w
  mkdir -p "$d"
  "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h2 timeout -k 2 120 "$prog" writer "$key" "$d" & w=$!
  for _ in $(seq 1000); do [ -e "$d/$first" ] && break; sleep 0.02; done
  "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h1 timeout -k 2 120 "$prog" reader "$key" "$d" || rc=1
  wait "$w" || rc=1
  verdict "$name" $rc
}
# order HOST ARGS... — the total-order tool (tests/dsm/order.c) on HOST
order() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" timeout -k 2 120 "$BIN/order" "${@:2}"; }
# replicas_agree DIR HOST... — 0 once every HOST's daemon committed the same
# sequence (equal counts and hash chains; polled, as the last commits may
# still be on their way); each host's counters are left in DIR/HOST.log
replicas_agree() {
  local d=$1 n; shift
  for _ in $(seq 300); do
    for h in "$@"; do order "$h" wait 0 > "$d/$h.log" 2>&1 || true; done
    n=$(for h in "$@"; do awk '{for (i = 1; i < NF; i++) if ($i == "committed" || $i == "chain") printf "%s ", $(i + 1); print ""}' "$d/$h.log"; done | sort -u | wc -l)
    [ "$n" = 1 ] && { for h in "$@"; do cat "$d/$h.log"; done; return 0; }
    sleep 0.1
  done
  for h in "$@"; do cat "$d/$h.log"; done
  return 1
}
