#!/usr/bin/env bash
# t_spec_ipc.sh — semop/msgsnd/msgrcv inside speculations (spec_ipc.c, built
# by mojcc into $SPEC_IPC_PROG): the writer on h2, objects homed on h1, a
# reader on h1 checks that a level's releases stay invisible while it runs.
. "$(dirname "$0")/lib.sh"
writer_reader dsm_spec_ipc "$SPEC_IPC_PROG" 0x4d4a0eb0 A-inside
