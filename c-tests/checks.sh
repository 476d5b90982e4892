# The counters and checks of the shell test scripts (test_zcp.sh, test_mpi.sh),
# sourced by each: check, known_check, and the tallies they print at the end.
pass=0 fail=0 known=0
root=0; [ "$(id -u)" = 0 ] && root=1

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}
# known_check DESCRIPTION WHY COMMAND...: a check zcio does not pass yet (WHY,
# reported to its developer): counted as known when it fails, and says so when it
# passes.
known_check() {
  local what=$1 why=$2; shift 2
  if "$@"; then ok; echo "note: $what: passes now (make it a check)"; else
    known=$((known + 1)); echo "KNOWN: $what: $why"; fi
}
