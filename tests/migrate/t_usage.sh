#!/usr/bin/env bash
# t_usage.sh — the command lines of mojaved and mojave-run: --help/--version,
# and a clear error naming the problem (status 2) for every bad flag, host
# and file.  A local run without a cluster is an exact pass-through.
set -u
T=$(mktemp -d /tmp/mojave-migusage.XXXXXX)
trap 'rm -rf "$T"' EXIT
rc=0
RUN=$MOJAVE_RUN
bad() { echo "  problem: $*"; rc=1; }
# check WANT_STATUS REGEX CMD...: status and a stderr/stdout line
check() {
  local want=$1 re=$2; shift 2
  "$@" >"$T/o" 2>&1
  local st=$?
  [ "$st" -eq "$want" ] || bad "'$*': status $st, want $want"
  grep -qE -- "$re" "$T/o" || { bad "'$*': no /$re/ in:"; sed 's/^/    /' "$T/o"; }
}
printf 'secret 0123456789abcdef\nhost h1 10.99.0.1:7700\nhost h2 10.99.0.2:7700\nnameserver root h1\n' >"$T/c.conf"
check 0 "^usage: mojave-run" "$RUN" --help
check 0 "--migrate HOST" "$RUN" --help
check 0 "^mojave-run \(mojave\) [0-9.]+, wire protocol 1$" "$RUN" --version
check 0 "^usage: mojaved" "$MOJAVED" --help
check 0 "^mojaved \(mojave\) [0-9.]+" "$MOJAVED" --version
check 2 "unknown option '--bogus'" "$RUN" --bogus
check 2 "option '--migrate' needs an argument" "$RUN" --migrate
check 2 "no program to run" "$RUN"
check 2 "--mode is binary, ir or auto, got 'fast'" "$RUN" --mode fast /bin/true
check 2 "--after wants a number of seconds, got 'soon'" "$RUN" --migrate h2 --after soon /bin/true
check 2 "--after needs --migrate HOST" "$RUN" --after 3 /bin/true
check 2 "no cluster file" env -u MOJAVE_CLUSTER "$RUN" --migrate h2 /bin/true
check 2 "host 'h9' is not in the cluster file .*c.conf \(hosts: h1 h2\)" "$RUN" --cluster "$T/c.conf" --migrate h9 /bin/true
check 2 "nope.conf: No such file or directory" "$RUN" --cluster "$T/nope.conf" --migrate h2 /bin/true
check 2 "--attach wants HOST:JOB" "$RUN" --cluster "$T/c.conf" --attach h2
check 2 "usage: --move JOB HOST" "$RUN" --cluster "$T/c.conf" --move h2.1
check 2 "'x' is not a job id" "$RUN" --cluster "$T/c.conf" --move x h2
check 2 "--attach, --list and --move exclude each other" "$RUN" --list --attach h1:h1.1
check 127 "cannot run './no-such-program'" "$RUN" ./no-such-program
check 2 "unknown option '--frobnicate'" "$MOJAVED" --frobnicate
check 2 "need --cluster FILE and --host NAME" env -u MOJAVE_CLUSTER -u MOJAVE_HOST "$MOJAVED"
check 2 "host 'h7' is not in" "$MOJAVED" --cluster "$T/c.conf" --host h7 --foreground
check 2 "nope.conf: No such file" "$MOJAVED" --cluster "$T/nope.conf" --host h1
check 2 "unexpected argument 'extra'" "$MOJAVED" --cluster "$T/c.conf" --host h1 extra
# a local run is exact: stdio, arguments and status pass straight through
printf 'a\nb\n' | "$RUN" sh -c 'cat; echo "args:$*" >&2; exit 5' sh x y >"$T/o" 2>"$T/e"
[ $? -eq 5 ] || bad "local run status"
[ "$(cat "$T/o")" = "$(printf 'a\nb')" ] || bad "local run stdout"
grep -q "^args:x y$" "$T/e" || bad "local run stderr"
"$RUN" sh -c 'kill -TERM $$' ; [ $? -eq 143 ] || bad "local signal death: want 143"
if [ $rc -eq 0 ]; then echo "PASS migrate_usage"; else echo "FAIL migrate_usage"; fi
exit $rc
