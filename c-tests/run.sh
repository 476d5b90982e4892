#!/bin/sh
# Runs one C test and reads its exit status the way zcio's tests use it:
# 0 pass, 77 skip (the test says why), anything else fail. With ZCIO_REPORT set,
# the outcome is also recorded there for RELIABILITY.md.
# usage: run.sh LABEL COMMAND [ARGS...]
label=$1
shift
"$@"
rc=$?
case $rc in
  0) outcome=PASS ;;
  77) outcome=SKIP ;;
  *) outcome=FAIL ;;
esac
if [ -n "$ZCIO_REPORT" ]; then
  printf 'run\t%s\t%s\n' "$label" "$outcome" | tr -d '\r' >>"$ZCIO_REPORT"
fi
case $rc in
  0) echo "PASS: $label" ;;
  77) echo "SKIP: $label" ;;
  *) echo "FAIL: $label (exit $rc)"; exit 1 ;;
esac
exit 0
