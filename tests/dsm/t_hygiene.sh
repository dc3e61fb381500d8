#!/usr/bin/env bash
# t_hygiene.sh — the preload library leaves the application's strtok, errno
# and stdio alone (hygiene.c), on h2 with the keys homed on h1; then h1 checks
# that the segment h2 wrote is really the distributed one.
. "$(dirname "$0")/lib.sh"
on h2 hygiene 0x4d4a0e40
wait_all || { verdict dsm_hygiene 1; exit 1; }
on h1 hygiene check 0x4d4a0e40
wait_all; verdict dsm_hygiene $?
