#!/usr/bin/env bash
# t_badwire.sh [NAME] — hostile and malformed peers against h1's daemon (from
# h2); the daemon must log a reason for each rejection and keep serving.  With
# `encrypt` in the cluster file, also clear, tampered and replayed frames.
. "$(dirname "$0")/lib.sh"
rc=0
"$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" h2 timeout 30 "$BIN/badwire" "$MOJAVE_CLUSTER_DIR/cluster.conf" h1 h2 || rc=1
log=$MOJAVE_CLUSTER_DIR/nsd-h1.log
for reason in "bad magic" "unsupported protocol version" "payload larger than" "truncated message" \
              "first message must be AUTH" "bad cluster secret or unknown host" "unknown message type" \
              "payload 3 <" "does not match nsops" "bad id/page/access" "MSGSND from .*length mismatch" \
              "PAGE_WRITE from .*malformed"; do
  grep -q "$reason" "$log" || { echo "daemon log lacks a line for: $reason"; rc=1; }
done
if grep -q '^encrypt [a-z]' "$MOJAVE_CLUSTER_DIR/cluster.conf"; then
  for reason in "unencrypted frame on an encrypted connection" "sealed frame failed authentication"; do
    grep -q "$reason" "$log" || { echo "daemon log lacks a line for: $reason"; rc=1; }
  done
fi
kill -0 "$(cat "$MOJAVE_CLUSTER_DIR/nsd-h1.pid")" || { echo "daemon died"; rc=1; }
verdict "${1:-dsm_badwire}" $rc
