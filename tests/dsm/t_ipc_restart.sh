#!/usr/bin/env bash
# t_ipc_restart.sh sem|mq — kill -9 and restart the home (h2) of a semaphore
# set or a message queue three times while processes on h1, h3 and h4 use it;
# restarts come at 1/4, 1/2 and 3/4 of the run, measured by the processes'
# progress files, so they land in the middle of it on any machine load.  The
# daemon started at 1/2 also kills itself between a save and its reply
# (MOJAVE_NSD_CRASH_AFTER_SAVES), so at least one request must be answered
# from its request-id record.
#   sem: 3 processes count through a SEM_UNDO mutex: the totals must be exact
#   mq:  2 producers, 2 consumers: every message received exactly once
. "$(dirname "$0")/lib.sh"
what=${1:-sem}
out=$MOJAVE_CLUSTER_DIR/ipcr; mkdir -p "$out"
TEST_TIMEOUT=200
rc=0
progress() { # PREFIX: sum of the counts in $out/prog.PREFIX*
  local s=0 f v
  for f in "$out"/prog."$1"*; do
    [[ $f == *.tmp ]] && continue
    v=$(cat "$f" 2>/dev/null) || continue
    s=$((s + ${v:-0}))
  done
  echo $s
}
wait_progress() { # PREFIX AT (hang guard: 2400 polls)
  for _ in $(seq 2400); do [ "$(progress "$1")" -ge "$2" ] && return 0; sleep 0.05; done
  echo "FAIL timeout waiting for progress $2 (at $(progress "$1"))"; return 1
}
restarts() { # PREFIX TOTAL
  for k in 1 2 3; do
    wait_progress "$1" $(($2 * k / 4)) || { rc=1; return; }
    "$CLUSTER" stop-nsd "$MOJAVE_CLUSTER_DIR" h2
    if [ $k = 2 ]; then
      # this daemon kills itself between saving its 50th change and sending
      # the reply: a change applied whose reply is lost, for certain
      MOJAVE_NSD_CRASH_AFTER_SAVES=50 "$CLUSTER" start-nsd "$MOJAVE_CLUSTER_DIR" h2
      # its last log line says it is dying; then it is gone or a zombie (a
      # parent that reaps late must not hold up the restart: kill -0 succeeds on
      # a zombie)
      local pid log=$MOJAVE_CLUSTER_DIR/nsd-h2.log; pid=$(cat "$MOJAVE_CLUSTER_DIR/nsd-h2.pid")
      for _ in $(seq 600); do grep -q 'dying between a save' "$log" && break; sleep 0.05; done # hang guard
      grep -q 'dying between a save' "$log" || { echo "FAIL the home did not crash after 50 saves"; rc=1; return; }
      for _ in $(seq 200); do
        { kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; } || break
        sleep 0.01
      done
      echo "home h2 restarted, then died between a save and its reply, at progress $(progress "$1") of $2"
    fi
    "$CLUSTER" start-nsd "$MOJAVE_CLUSTER_DIR" h2
    echo "home h2 killed -9 and restarted at progress $(progress "$1") of $2"
  done
}
if [ "$what" = sem ]; then
  iters=${ITERS:-2000}
  sk=0x4d4a9301 mk=0x4d4a1301 # the set homed on h2, the counter's segment on h1
  on h1 sem_restart $sk $mk 3 "$iters" 0 "$out"
  on h3 sem_restart $sk $mk 3 "$iters" 1 "$out"
  on h4 sem_restart $sk $mk 3 "$iters" 2 "$out"
  restarts "" $((3 * iters))
  wait_all || rc=1
  name=dsm_sem_restart
else
  count=${COUNT:-6000}
  qk=0x4d4a9302
  on h1 mq_restart create $qk
  wait_all || rc=1
  on h3 mq_restart consume $qk 0 "$out"
  on h4 mq_restart consume $qk 1 "$out"
  cons=("${pids[@]}"); pids=()
  on h1 mq_restart produce $qk 0 "$count" "$out"
  on h3 mq_restart produce $qk 1 "$count" "$out"
  restarts c. $((2 * count))
  wait_all || rc=1           # the producers
  on h1 mq_restart stop $qk 2
  wait_all || rc=1
  pids=("${cons[@]}")
  wait_all || rc=1           # the consumers
  on h4 mq_restart check $qk 2 "$count" 2 "$out"
  wait_all || rc=1
  name=dsm_mq_restart
fi
replayed=$(grep -c 'was already applied' "$MOJAVE_CLUSTER_DIR/nsd-h2.log" || true)
echo "requests answered from their record (applied before a restart, reply lost): $replayed"
[ "${replayed:-0}" -ge 1 ] || { echo "FAIL no request was answered from its record after the crash between save and reply"; rc=1; }
echo "SEM_UNDO re-associations: $(grep -c 'is back after the restart' "$MOJAVE_CLUSTER_DIR/nsd-h2.log" || true)"
grep -h 'did not come back\|ignoring state' "$MOJAVE_CLUSTER_DIR/nsd-h2.log" | head -5
verdict $name $rc
