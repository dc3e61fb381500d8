#!/usr/bin/env bash
# scripts/cluster.sh — a throw-away N-host cluster on one machine for the DSM
# and migration tests and benchmarks.
# Namespace mode (root, CAP_SYS_ADMIN): each host is a network namespace with
# a veth into a private switch namespace (10.77.0.0/24 exists only inside
# them) AND its own System V IPC namespace AND its own mount namespace whose
# /dev/shm is a private tmpfs, so a key that is not distributed, an
# IPC_PRIVATE id or a shm_open name really stays on its host; the rest of the
# filesystem (the cluster DIR, the build tree) is shared.  Every command "on" a
# host — exec, both daemons — enters all three namespaces (nsenter).
# Loopback mode (fallback when namespaces are unavailable, or forced): each
# host is a loopback address 127.77.T.i (T claimed with a lock dir), and ALL
# HOSTS SHARE ONE IPC NAMESPACE AND /dev/shm — host separation is impossible
# there (dsm_isolation skips).
# Every host runs mojave-nsd and, when it is built, the migration daemon
# mojaved (on the listed port + 1); the cluster file is written to
# DIR/cluster.conf (format: docs/cluster.md).
#
#   cluster.sh up DIR N            start N hosts (h1..hN), state in DIR
#   cluster.sh exec DIR HOST CMD.. run CMD "on" HOST (MOJAVE_CLUSTER/MOJAVE_HOST set)
#   cluster.sh prefix DIR HOST     print, one word per line, the command prefix
#                                  `exec` uses (for benchmarks: starting a program
#                                  through it costs no shell; `mapfile -t`)
#   cluster.sh stop-nsd DIR HOST   kill -9 HOST's daemon      (fault tests)
#   cluster.sh start-nsd DIR HOST  (re)start HOST's daemon
#   cluster.sh stop-mojaved DIR HOST   kill -9 HOST's migration daemon
#   cluster.sh start-mojaved DIR HOST  (re)start it
#   cluster.sh down DIR            stop everything, remove namespaces
#   cluster.sh run N CMD..         up in a temp dir, run CMD with MOJAVE_CLUSTER_DIR
#                                  exported, always tear down (trap); exit = CMD's
# Env: MOJAVE_NSD (daemon binary), MOJAVED (migration daemon binary; not
#      started when missing), MOJAVE_CLUSTER_MODE=ns|lo (force a mode),
#      MOJAVE_CLUSTER_EXTRA (lines appended to the generated cluster file),
#      MOJAVE_CLUSTER_ARCH=h2=aarch64[,h3=...] (those hosts' architecture:
#      their mojaved runs restored programs under qemu-ARCH-static and
#      compiles IR for ARCH; the others are this machine's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NSD=${MOJAVE_NSD:-$here/../build/bin/mojave-nsd}
MOJAVED=${MOJAVED:-$here/../build/bin/mojaved}
PORT=7700
# persistent IPC and mount namespaces are files bind-mounted here, one
# directory per cluster (TAG) holding DIR's path and one subdirectory per host
NSROOT=/run/mojave-ns

tag_of() { echo -n "$1" | md5sum | cut -c1-6; }

ns_ok() {
  [ "${MOJAVE_CLUSTER_MODE:-}" = lo ] && return 1
  [ "$(id -u)" -eq 0 ] || return 1
  command -v ip >/dev/null || return 1
  command -v nsenter >/dev/null && command -v unshare >/dev/null && command -v flock >/dev/null || return 1
  local t="mjprobe$$"
  ip netns add "$t" 2>/dev/null || return 1
  ip netns del "$t"
  # IPC and mount namespaces too: half-separated hosts would hide the bugs
  # this mode exists to show, better the loopback mode and its banner
  unshare --ipc --mount --propagation private true 2>/dev/null || return 1
  return 0
}

# ns_enter DIR HOST: sets ENTER to the command prefix that puts what follows
# into HOST's network, IPC and mount namespaces (nsenter execs, so $! stays
# the program's pid; it opens the namespace files before entering any)
ns_enter() {
  local tag; tag=$(cat "$1/tag")
  ENTER=(nsenter --net="/run/netns/mj-$tag-$2" --ipc="$NSROOT/$tag/$2/ipc" --mount="$NSROOT/$tag/$2/mnt" --wd="$PWD")
}

# ns_host TAG HOST: HOST's IPC and mount namespaces, created from inside its
# network namespace (so the sysfs mounted there shows the host's interfaces),
# pinned by bind mounts on $NSROOT/TAG/HOST/{ipc,mnt}.  Inside: a private
# tmpfs on /dev/shm; /run/netns and $NSROOT are detached there so a host's
# mount table does not pin other clusters' namespaces after they go down.
ns_host() {
  local d="$NSROOT/$1/$2"
  mkdir -p "$d"
  touch "$d/ipc" "$d/mnt"
  nsenter --net="/run/netns/mj-$1-$2" unshare --ipc="$d/ipc" --mount="$d/mnt" --propagation private \
    sh -c 'mount -t tmpfs -o mode=1777 mojave-shm /dev/shm || exit 1
           mount -t sysfs sysfs /sys 2>/dev/null
           umount -l /run/netns '"$NSROOT"' 2>/dev/null; exit 0'
}

# ns_root: $NSROOT as a private mount, as ip netns does for /run/netns: a
# mount namespace file may only be bound where it cannot propagate into that
# namespace.  Serialised: two clusters binding it at once would stack mounts
# and hide each other's files.
ns_root() {
  mkdir -p "$NSROOT"
  (
    flock 9
    if ! awk -v m="$NSROOT" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; then
      mount --bind "$NSROOT" "$NSROOT"
    fi
    mount --make-private "$NSROOT"
  ) 9>"$NSROOT.lock"
}

# ns_kill_tag TAG: kill every process left in TAG's hosts (a hung test
# program would keep a namespace alive), unpin and delete the namespaces
ns_kill_tag() {
  local tag=$1 ns pid h
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^mj-$tag-" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  # processes that entered the IPC or mount namespace alone (by hand, not
  # through this script) would keep it, or the host's /dev/shm, alive
  local inos; inos=$(stat -L -c %d:%i "$NSROOT/$tag"/*/ipc "$NSROOT/$tag"/*/mnt 2>/dev/null | tr '\n' ' ' || true)
  if [ -n "$inos" ]; then
    for pid in $(stat -L -c '%d:%i %n' /proc/[0-9]*/ns/ipc /proc/[0-9]*/ns/mnt 2>/dev/null |
                 awk -v s=" $inos" 'index(s, " " $1 " ") { split($2, p, "/"); print p[3] }'); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  for h in "$NSROOT/$tag"/*/; do
    umount "$h/ipc" "$h/mnt" 2>/dev/null || true
  done
  rm -rf "${NSROOT:?}/$tag"
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^mj-$tag-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
}

# ns_sweep: tear down the namespaces of clusters whose DIR is gone or whose
# `run` died (killed with SIGKILL, it never reached its trap)
ns_sweep() {
  local t d
  for t in "$NSROOT"/*/dir; do
    [ -f "$t" ] || continue
    d=$(dirname "$t")
    if [ ! -d "$(cat "$t" 2>/dev/null)" ] ||
       { [ -f "$d/owner" ] && ! kill -0 "$(cat "$d/owner" 2>/dev/null)" 2>/dev/null; }; then
      ns_kill_tag "$(basename "$d")"
    fi
  done
}

host_prefix() { # DIR HOST: sets PREFIX to the words that run what follows "on" HOST
  local dir=$1 host=$2
  local mode; mode=$(cat "$dir/mode")
  PREFIX=()
  if [ "$mode" = ns ]; then ns_enter "$dir" "$host"; PREFIX=("${ENTER[@]}"); fi
  PREFIX+=(env MOJAVE_CLUSTER="$dir/cluster.conf" MOJAVE_HOST="$host")
}
in_host() { # DIR HOST CMD...
  host_prefix "$1" "$2"; shift 2
  "${PREFIX[@]}" "$@"
}

# start_daemon DIR HOST KIND BINARY ARGS...: KIND is nsd or mojaved; log in
# DIR/KIND-HOST.log, pid in DIR/KIND-HOST.pid; waits for "serving on".
start_daemon() {
  local dir=$1 host=$2 kind=$3 bin=$4; shift 4
  [ -x "$bin" ] || { echo "cluster.sh: daemon binary $bin not found (set MOJAVE_NSD / MOJAVED)" >&2; exit 1; }
  local log="$dir/$kind-$host.log"
  local before=0
  [ -f "$log" ] && before=$(grep -c "serving on" "$log" || true)
  # started directly (not through a shell function) so $! is the daemon itself:
  # nsenter execs, and stop-* must kill the daemon, not a subshell
  if [ "$(cat "$dir/mode")" = ns ]; then
    ns_enter "$dir" "$host"
    "${ENTER[@]}" "$bin" "$@" >>"$log" 2>&1 &
  else
    "$bin" "$@" >>"$log" 2>&1 &
  fi
  echo $! >"$dir/$kind-$host.pid"
  for _ in $(seq 100); do
    local n; n=$(grep -c "serving on" "$log" 2>/dev/null || true)
    [ "${n:-0}" -gt "$before" ] && return 0
    kill -0 "$(cat "$dir/$kind-$host.pid")" 2>/dev/null || break
    sleep 0.05
  done
  echo "cluster.sh: $kind on $host failed to start:" >&2
  cat "$log" >&2
  exit 1
}
# arch_of HOST: " arch A" for the host line when MOJAVE_CLUSTER_ARCH names
# any host (then every host says its own: the programs run under an emulator
# read the same file and must not take theirs for the default), else nothing.
arch_of() {
  [ -n "${MOJAVE_CLUSTER_ARCH:-}" ] || return 0
  local a=$(uname -m) kv
  for kv in ${MOJAVE_CLUSTER_ARCH//,/ }; do [ "${kv%%=*}" = "$1" ] && a=${kv#*=}; done
  echo " arch $a"
}
start_nsd() { # DIR HOST
  start_daemon "$1" "$2" nsd "$NSD" --cluster "$1/cluster.conf" --host "$2" --state "$1/state-$2"
}
start_mojaved() { # DIR HOST
  start_daemon "$1" "$2" mojaved "$MOJAVED" --cluster "$1/cluster.conf" --host "$2" \
    --state-dir "$1/mojaved-state-$2" --foreground
}
stop_daemon() { # DIR HOST KIND
  local pid; pid=$(cat "$1/$3-$2.pid")
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
  rm -f "$1/$3-$2.pid"
}

up() {
  local dir=$1 n=$2
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local tag; tag=$(tag_of "$dir")
  echo "$tag" >"$dir/tag"
  local mode=lo
  ns_ok && mode=ns
  echo $mode >"$dir/mode"
  local secret; secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  local lo_net=""
  if [ $mode = lo ]; then
    # claim a free 127.77.T.0/24 so concurrent clusters (ctest -j) never share
    # addresses; a claim older than an hour is from a killed run
    find /tmp -maxdepth 1 -name 'mojave-lo-*.lock' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
    local t0=$((0x${tag:0:2}))
    for k in $(seq 0 255); do
      local t=$(((t0 + k) % 256))
      if mkdir "/tmp/mojave-lo-$t.lock" 2>/dev/null; then lo_net=$t; echo "$t" >"$dir/lo_net"; break; fi
    done
    [ -n "$lo_net" ] || { echo "cluster.sh: no free 127.77.T.0/24" >&2; exit 1; }
  fi
  {
    echo "# mojave cluster file written by scripts/cluster.sh ($mode mode)"
    echo "secret $secret"
    for i in $(seq 1 "$n"); do
      if [ $mode = ns ]; then echo "host h$i 10.77.0.$i:$PORT$(arch_of "h$i")"
      else echo "host h$i 127.77.$lo_net.$i:$PORT$(arch_of "h$i")"; fi
    done
    echo "nameserver root h1"
    [ "$n" -ge 2 ] && echo "nameserver delegate h2 0x4d4a8000-0x4d4affff"
    echo "distributed 0x4d4a0000-0x4d4affff"
    # extra directives (e.g. deeper delegations) before the daemons start
    if [ -n "${MOJAVE_CLUSTER_EXTRA:-}" ]; then printf "%s\n" "$MOJAVE_CLUSTER_EXTRA"; fi
  } >"$dir/cluster.conf"
  if [ $mode = ns ]; then
    ns_root
    ns_sweep
    ns_kill_tag "$tag"   # an earlier cluster in the same DIR, never taken down
    mkdir -p "$NSROOT/$tag"
    # the owner file comes first: a sweep acts on `dir`, and must not find an
    # owned cluster without its owner
    if [ -n "${RUN_OWNER:-}" ]; then echo "$RUN_OWNER" >"$NSROOT/$tag/owner"; fi
    echo "$dir" >"$NSROOT/$tag/dir"
    local sw="mj-$tag-sw"
    ip netns add "$sw"
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    ip -n "$sw" link set lo up
    for i in $(seq 1 "$n"); do
      local h="mj-$tag-h$i"
      ip netns add "$h"
      ip link add eth0 netns "$h" type veth peer name "p$i" netns "$sw"
      ip -n "$sw" link set "p$i" master br0
      ip -n "$sw" link set "p$i" up
      ip -n "$h" addr add "10.77.0.$i/24" dev eth0
      ip -n "$h" link set eth0 up
      ip -n "$h" link set lo up
      ns_host "$tag" "h$i"
    done
  fi
  for i in $(seq 1 "$n"); do start_nsd "$dir" "h$i"; done
  if [ -x "$MOJAVED" ]; then
    for i in $(seq 1 "$n"); do start_mojaved "$dir" "h$i"; done
  fi
}

down() {
  local dir=$1
  [ -f "$dir/tag" ] || return 0
  local tag; tag=$(cat "$dir/tag")
  for p in "$dir"/nsd-*.pid "$dir"/mojaved-*.pid; do
    [ -f "$p" ] || continue
    kill -TERM "$(cat "$p")" 2>/dev/null || true
  done
  sleep 0.1
  for p in "$dir"/nsd-*.pid "$dir"/mojaved-*.pid; do
    [ -f "$p" ] || continue
    kill -KILL "$(cat "$p")" 2>/dev/null || true
    rm -f "$p"
  done
  if [ -f "$dir/lo_net" ]; then rm -rf "/tmp/mojave-lo-$(cat "$dir/lo_net").lock"; fi
  # no mode yet: interrupted before any namespace existed
  if [ "$(cat "$dir/mode" 2>/dev/null)" = ns ]; then ns_kill_tag "$tag"; fi
}

cmd=${1:-}
case "$cmd" in
  up) up "$2" "$3"; cat "$2/cluster.conf" ;;
  down) down "$2" ;;
  exec) shift; d=$1; h=$2; shift 2; in_host "$d" "$h" "$@" ;;
  prefix) host_prefix "$2" "$3"; printf '%s\n' "${PREFIX[@]}" ;;
  stop-nsd) stop_daemon "$2" "$3" nsd ;;
  start-nsd) start_nsd "$2" "$3" ;;
  stop-mojaved) stop_daemon "$2" "$3" mojaved ;;
  start-mojaved) start_mojaved "$2" "$3" ;;
  run)
    shift; n=$1; shift
    dir=$(mktemp -d /tmp/mojave-cluster.XXXXXX)
    trap 'down "$dir"; if [ "${MOJAVE_KEEP_LOGS:-}" ]; then echo "logs kept in $dir" >&2; else rm -rf "$dir"; fi' EXIT
    child=
    # CMD runs in the background so a TERM (ctest timeout) interrupts `wait`
    # at once and the EXIT trap tears the cluster down instead of leaking it
    trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 130' INT TERM
    RUN_OWNER=$$ up "$dir" "$n" >/dev/null
    export MOJAVE_CLUSTER_DIR=$dir
    set +e
    "$@" &
    child=$!
    wait "$child"
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then
      echo "--- daemon logs ($dir) ---" >&2
      tail -n 40 "$dir"/nsd-*.log "$dir"/mojaved-*.log >&2 2>/dev/null || true
    fi
    exit $rc
    ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
