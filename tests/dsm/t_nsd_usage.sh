#!/usr/bin/env bash
# t_nsd_usage.sh — mojave-nsd's command line: --help documents every option,
# bad values and bad configuration are refused with exit 2 and a message that
# names the problem (no daemon is left running).
set -u
NSD=${MOJAVE_NSD:?}
rc=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
expect() { # WANT_RC PATTERN ARGS... : run the daemon, check exit status and output
  local want=$1 pat=$2; shift 2
  local out got
  out=$(timeout 5 "$NSD" "$@" 2>&1); got=$?
  if [ "$got" -ne "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
    echo "FAIL mojave-nsd $*: exit $got (want $want), output: $out"; rc=1
  fi
}
expect 0 "--readahead-max M" --help
expect 0 "--no-write-ahead" --help
printf 'secret 0123456789abcdef0123\nhost h1 127.0.0.1:7799\nnameserver root h1\ndistributed 0x1000-0x1fff\n' >"$tmp/ok.conf"
expect 2 "--readahead must be an integer from 0 to 64, got 'x'" --cluster "$tmp/ok.conf" --host h1 --readahead x
expect 2 "--readahead must be an integer from 0 to 64, got '65'" --cluster "$tmp/ok.conf" --host h1 --readahead 65
expect 2 "--readahead-max must be an integer from 0 to 64, got '-1'" --cluster "$tmp/ok.conf" --host h1 --readahead-max -1
expect 2 "need --cluster FILE and --host NAME" --readahead 4
expect 2 "host 'h9' not in" --cluster "$tmp/ok.conf" --host h9
expect 2 "$tmp/missing.conf" --cluster "$tmp/missing.conf" --host h1
printf 'secret 0123456789abcdef0123\nhost h1 127.0.0.1:7799\nbogus line\n' >"$tmp/bad.conf"
expect 2 "bad.conf:3: unknown or malformed directive" --cluster "$tmp/bad.conf" --host h1
# delegation tree: a sub-delegation must lie in a range its parent holds
conf() { printf 'secret 0123456789abcdef0123\nhost h1 127.0.0.1:7799\nhost h2 127.0.0.1:7798\nhost h3 127.0.0.1:7797\nnameserver root h1\n%s\n' "$1" >"$tmp/d.conf"; }
conf $'nameserver delegate h2 0x100-0x1ff\nnameserver delegate h3 0x180-0x2ff from h2'
expect 2 "d.conf:7: 'h2' delegates 0x180-0x2ff but was not delegated a range containing it" --cluster "$tmp/d.conf" --host h1
conf $'nameserver delegate h3 0x180-0x1ff from h2\nnameserver delegate h2 0x100-0x1ff'
expect 2 "d.conf:6: 'h2' delegates 0x180-0x1ff but was not delegated" --cluster "$tmp/d.conf" --host h1
conf 'nameserver delegate h3 0x100-0x1ff from h9'
expect 2 "delegating host 'h9' is not a declared host" --cluster "$tmp/d.conf" --host h1
conf $'nameserver delegate h2 0x100-0x1ff\nnameserver delegate h2 0x100-0x10f from h2'
expect 2 "cannot delegate to itself" --cluster "$tmp/d.conf" --host h1
MOJAVE_NSD_READAHEAD=abc expect 2 "MOJAVE_NSD_READAHEAD must be an integer" --cluster "$tmp/ok.conf" --host h1
if [ $rc -eq 0 ]; then echo "PASS dsm_nsd_usage"; else echo "FAIL dsm_nsd_usage"; fi
exit $rc
