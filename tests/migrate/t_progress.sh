#!/usr/bin/env bash
# t_progress.sh — a 24 MiB image: with MOJAVE_PROGRESS=1 mojave-run prints
# "migrating to h2: X MiB / Y MiB" while it goes out.
. "$(dirname "$0")/lib.sh"
MOJAVE_PROGRESS=1 FAKE_PAD_MB=24 FAKE_WAIT_AT=3 on h1 "$MOJAVE_RUN" --migrate h2 "$BIN/fake_app" --count 10 >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 9
expect_in "$T/err" "^mojave-run: migrating to h2: 24\.0 MiB / 24\.0 MiB$"
expect_in "$T/err" "^mojave-run: migrating to h2: [0-9.]+ MiB / 24\.0 MiB$"
verdict migrate_progress
