#!/usr/bin/env bash
# t_spec_shm.sh — speculations over DSM pages (spec_shm.c, built by mojcc into
# $SPEC_SHM_PROG): a writer on h2 aborts and commits levels that stored to a
# segment homed on h1 while a reader on h1 reads it; the reader must never
# see a rolled-back value and must wait for the commit.
. "$(dirname "$0")/lib.sh"
writer_reader dsm_spec_shm "$SPEC_SHM_PROG" 0x4d4a0e90 A-written
