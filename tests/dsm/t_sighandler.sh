#!/usr/bin/env bash
# t_sighandler.sh — a SIGALRM handler writing DSM memory every 200 us while the
# main thread calls semop/msgsnd/msgrcv (h2), a peer on h3 steals a page.
. "$(dirname "$0")/lib.sh"
out=$MOJAVE_CLUSTER_DIR/sig; mkdir -p "$out"
TEST_TIMEOUT=150
on h2 sighandler 0x4d4a0e00 main "$out"
on h3 sighandler 0x4d4a0e00 peer "$out"
wait_all; verdict dsm_sighandler $?
