#!/usr/bin/env bash
# t_spec_dsm.sh — speculation in a mojcc program that uses the DSM (spec_dsm.c,
# built by mojcc into $SPEC_PROG): on h2, keys homed on h1, no LD_PRELOAD —
# the runtime carries the DSM client; then h1 checks what h2 left.
. "$(dirname "$0")/lib.sh"
for args in "0x4d4a0e80" "check 0x4d4a0e80"; do
  host=h2; [ "${args%% *}" = check ] && host=h1
  # shellcheck disable=SC2086
  "$CLUSTER" exec "$MOJAVE_CLUSTER_DIR" $host timeout -k 2 "${TEST_TIMEOUT:-60}" "$SPEC_PROG" $args || { verdict dsm_spec 1; exit 1; }
done
verdict dsm_spec 0
