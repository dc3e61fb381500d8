# tests/e2e/lib.sh — helpers shared by the e2e shell drivers (sourced): a
# scratch dir $t removed on exit, and ok/bad/check that print ok:/FAIL: lines
# and count failures in $fails.
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >"$t/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    /' "$t/out" | head -20; fi; }
