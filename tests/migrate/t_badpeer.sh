#!/usr/bin/env bash
# t_badpeer.sh — hostile peers against h1's mojaved (from h2): each is logged
# with its reason and disconnected; the daemon survives and still serves.
. "$(dirname "$0")/lib.sh"
on h2 "$BIN/badpeer" "$D/cluster.conf" h1 || bad "badpeer reported a problem"
log=$D/mojaved-h1.log
for reason in "bad magic" "unsupported protocol version" "payload larger than" "first message must be AUTH" \
              "authentication failed" "unknown message type" "DATA without EXE or SHIP" "image refused by h1: unknown migration mode" \
              "executable of 1099511627776 bytes refused" "image length out of range" "more DATA than announced" \
              "truncated message" "GO without a restored job" "MOVE: payload 7 bytes"; do
  grep -q "$reason" "$log" || bad "daemon log lacks a line for: $reason"
done
alive h1
on h2 "$MOJAVE_RUN" --list >/dev/null || bad "--list fails after the attack"
verdict migrate_badpeer
