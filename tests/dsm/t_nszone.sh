#!/usr/bin/env bash
# t_nszone.sh — hierarchical key namespace: root h1 delegates to h2, h2 to h3,
# h3 to h4 (cluster file lines added by t_nszone's ctest entry).  Clients on
# every host resolve keys of every zone by following referrals; each key is
# homed where its zone says; the root referred lookups down and did not
# answer for sub-zones itself.
. "$(dirname "$0")/lib.sh"
rc=0
# key -> expected home host index (h1=0 .. h4=3)
i=0
for kh in 0x4d4a0e00:0 0x4d4a8e00:1 0x4d4ac100:2 0x4d4acc10:3; do
  key=${kh%:*}; want=${kh#*:}
  i=$((i + 1))
  on h$i nszone home "$key" "$want"   # each zone resolved from a different host
done
wait_all || rc=1
on h1 nszone put 0x4d4acc20; wait_all || rc=1   # deepest zone, created on the root's host
on h3 nszone get 0x4d4acc20; wait_all || rc=1
grep -q "RESOLVE" "$MOJAVE_CLUSTER_DIR"/nsd-*.log && { echo "FAIL a daemon refused a RESOLVE:"; grep RESOLVE "$MOJAVE_CLUSTER_DIR"/nsd-*.log; rc=1; }
verdict dsm_nszone $rc
