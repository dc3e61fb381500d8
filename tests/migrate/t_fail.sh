#!/usr/bin/env bash
# t_fail.sh CASE — a failed hand-off leaves the program running at the source
# with its output intact; mojave-run prints the reason.
#   down     destination mojaved stopped        secret  wrong cluster secret
#   image    corrupt image magic                crash   restore crashes (SIGSEGV)
#   timeout  destination never reports RESTORED (MOJAVE_MIGRATE_TIMEOUT_MS=1500)
#   onward   the program, already on h2, fails to move on to h3 (h3's mojaved
#            stopped): h2's mojaved relays the reason, the program stays on h2
. "$(dirname "$0")/lib.sh"
case=$1
conf=$D/cluster.conf
envs=()
case $case in
  down) "$CLUSTER" stop-mojaved "$D" h2; want="connection refused by h2 \(10\.77\.0\.2:7701|127\.77\.[0-9]+\.2:7701\)" ;;
  secret) sed 's/^secret .*/secret not-the-cluster-secret/' "$conf" >"$T/bad.conf"; conf=$T/bad.conf
          want="authentication failed: wrong secret" ;;
  image) envs=(FAKE_BAD_MAGIC=1); want="image refused by h2: bad magic" ;;
  crash) envs=(FAKE_CRASH_RESTORE=1); want="restore crashed at h2: SIGSEGV" ;;
  timeout) envs=(FAKE_HANG_RESTORE=1 MOJAVE_MIGRATE_TIMEOUT_MS=1500); want="timeout after 1500 ms waiting for RESTORED" ;;
  onward) "$CLUSTER" stop-mojaved "$D" h3; envs=(FAKE_ROUTE=h2,h3 FAKE_HOP_EVERY=20)
          want="connection refused by h3 .*; the program keeps running on h2$" ;;
  *) echo "FAIL unknown case $case"; exit 1 ;;
esac
if [ "$case" = onward ]; then
  # moves to h2 at step 20, tries h3 at step 40
  on h1 env "${envs[@]}" MOJAVE_CLUSTER="$conf" "$MOJAVE_RUN" "$BIN/fake_app" --count 50 >"$T/out" 2>"$T/err"
  expect_status $? 7
  expect_seq "$T/out" 0 49
  expect_in "$T/err" "^mojave-run: migration to h3 failed: $want"
  expect_in "$D/mojaved-h2.log" "job h2\.[0-9]+ exited: status 7"
  cat "$T/err"
  verdict migrate_fail_onward
fi
on h1 env "${envs[@]}" FAKE_WAIT_AT=10 MOJAVE_CLUSTER="$conf" "$MOJAVE_RUN" --migrate h2 "$BIN/fake_app" --count 40 \
  >"$T/out" 2>"$T/err"
expect_status $? 7
expect_seq "$T/out" 0 39
expect_in "$T/err" "^mojave-run: migration to h2 failed: $want.*; the program keeps running on h1$"
cat "$T/err"
case $case in
  secret) expect_in "$D/mojaved-h2.log" "authentication failed" ;;
  crash) expect_in "$D/mojaved-h2.log" "restore crashed at h2: SIGSEGV" ;;
  timeout) wait_for "$D/mojaved-h2.log" "hand-off aborted" ;;
esac
if [ "$case" != down ]; then
  alive h2
  # nothing left behind on h2
  for _ in $(seq 300); do
    on h2 "$MOJAVE_RUN" --list >"$T/list" 2>/dev/null
    grep -q fake_app "$T/list" || break
    sleep 0.1
  done
  grep -q fake_app "$T/list" && bad "a restored copy is still listed on h2"
fi
verdict "migrate_fail_$case"
