#!/usr/bin/env bash
# t_otx_bank.sh — explicit speculations over an ordered
# segment (otx_bank.c, mojcc; docs/speculative-dsm.md §5.3): 4 processes on
# 4 hosts make N transfers each (default 60) between 8 accounts, no lock,
# each transfer a speculation whose stores are ordered at commit only if
# nothing it read changed; 1 in 5 aborted on purpose.  The accounts must
# still sum to their total and the per-process counters to the committed
# transfers; some commits must have met a conflict (else nothing was tested).
# Then store buffering with each side a speculation (otx_bank sb).
. "$(dirname "$0")/lib.sh"
name=dsm_otx_bank_$(awk '$1 == "order" { print $2 }' "$MOJAVE_CLUSTER_DIR/cluster.conf")
rc=0
key=0x4d4a7501
d=$MOJAVE_CLUSTER_DIR/otx_bank; mkdir -p "$d"
run() { "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" "$1" timeout -k 2 240 "$OTX_BANK_PROG" "${@:2}"; }
for h in h1 h2 h3 h4; do order $h links >/dev/null 2>&1 || true; done
run h1 init $key || rc=1
N=${N:-60}
for i in 0 1 2 3; do "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h$((i + 1)) env MOJAVE_DSM_STATS=1 timeout -k 2 240 "$OTX_BANK_PROG" run $key $i "$N" > "$d/h$i.out" 2> "$d/h$i.err" & pids+=($!); done
wait_all || rc=1
cat "$d"/h*.out
early=$(sed -n 's/.*ordered transactions: .*; \([0-9]*\) levels doomed by an invalidation.*/\1/p' "$d"/h*.err | awk '{ s += $1 } END { print s + 0 }')
echo "levels doomed by an invalidation (refused at commit without a message, unless aborted first): $early"
total=$(awk '$1 == "committed" { s += $2 } END { print s + 0 }' "$d"/h*.out)
conf=$(awk '$1 == "committed" { s += $6 } END { print s + 0 }' "$d"/h*.out)
abor=$(awk '$1 == "committed" { s += $4 } END { print s + 0 }' "$d"/h*.out)
echo "transfers: $total committed, $abor aborted on purpose, $conf refused at commit (a page read was written meanwhile)"
[ "$total" = $((4 * N)) ] || { echo "FAIL $name: $total transfers committed, want $((4 * N))"; rc=1; }
[ "$conf" -gt 0 ] || { echo "FAIL $name: no commit met a conflict: the check was never exercised"; rc=1; }
[ "$abor" -gt 0 ] || { echo "FAIL $name: no transfer aborted"; rc=1; }
run h3 check $key 4 "$total" || rc=1
# store buffering over two pages, each side a speculation: never both stale
run h1 init 0x4d4a7502 >/dev/null || rc=1
R=${SB_ROUNDS:-100}
run h2 sb 0x4d4a7502 0 "$R" > "$d/sb0.out" & pids+=($!)
run h4 sb 0x4d4a7502 1 "$R" > "$d/sb1.out" & pids+=($!)
wait_all || rc=1
forbidden=$(join "$d/sb0.out" "$d/sb1.out" | awk '$2 < $1 && $3 < $1 { n++ } END { print n + 0 }')
rounds=$(join "$d/sb0.out" "$d/sb1.out" | wc -l)
echo "store buffering: $rounds rounds, $forbidden with both sides stale (forbidden)"
[ "$rounds" = "$R" ] && [ "$forbidden" = 0 ] || { echo "FAIL $name: store buffering"; rc=1; }
verdict "$name" $rc
