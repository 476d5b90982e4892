#!/usr/bin/env bash
# zcp driven as a user drives it: exit statuses, messages, the progress bar under a
# pseudo-terminal, Ctrl-C, and a copy killed with SIGKILL.
#
# usage: test_zcp.sh ZCP DIR     (exit 0 pass, 1 fail, 77 skip)
set -u
zcp=$1
base=$2
command -v script >/dev/null || { echo "SKIP: no script(1) for the pseudo-terminal test"; exit 77; }
d=$(mktemp -d "$base/zcp-test-XXXXXX")
trap 'rm -rf "$d"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}
# run_zcp: runs zcp with the arguments, keeping status, stdout and stderr.
run_zcp() {
  "$zcp" "$@" >"$d/out" 2>"$d/err"
  rc=$?
}
no_temp() { ! ls -A "$1" | grep -q '^\.zcio-'; }
# interrupt_zcp: runs zcp with the arguments, presses Ctrl-C after 0.3 s, keeps
# the status and standard error.
interrupt_zcp() {
  "$zcp" "$@" 2>"$d/err" &
  local pid=$!
  sleep 0.3
  kill -INT $pid
  wait $pid
  rc=$?
}

head -c 3000007 /dev/urandom >"$d/src"

# Usage errors: status 2 and a hint.
run_zcp;                 check "no arguments: status 2" [ $rc -eq 2 ]
check "no arguments: hint" grep -q "Try 'zcp --help'" "$d/err"
run_zcp "$d/src";        check "one argument: status 2" [ $rc -eq 2 ]
run_zcp -m bogus a b;    check "bad method: status 2" [ $rc -eq 2 ]
check "bad method: named" grep -q "unknown method 'bogus'" "$d/err"
run_zcp --progress=sometimes a b; check "bad --progress: status 2" [ $rc -eq 2 ]
run_zcp "$d/src" "$d/src" "$d/not-a-dir"; check "many sources, no directory: status 2" [ $rc -eq 2 ]
run_zcp --help;          check "--help: status 0" [ $rc -eq 0 ]
check "--help: lists methods" grep -q copy_file_range "$d/out"
run_zcp --version;       check "--version" grep -q "^zcp (zcio) [0-9]" "$d/out"

# A plain copy, quiet, then verbose with each method.
run_zcp "$d/src" "$d/dst"
check "copy: status 0" [ $rc -eq 0 ]
check "copy: identical" cmp -s "$d/src" "$d/dst"
check "copy: silent" [ ! -s "$d/out" -a ! -s "$d/err" ]
for m in auto direct copy_file_range sendfile splice mmap read_write; do
  rm -f "$d/dst"
  run_zcp -v -m "$m" "$d/src" "$d/dst"
  check "-m $m: status 0" [ $rc -eq 0 ]
  check "-m $m: identical" cmp -s "$d/src" "$d/dst"
  want=$m; [ "$m" = auto ] && want='[a-z_]*'
  check "-m $m: verbose line" grep -Eq "^'.*src' -> '.*dst': method $want.* in [0-9.]+ s, " "$d/out"
done
run_zcp -v "$d/src" "$d/dst"
check "auto on ext4 says what it gave up" grep -q "gave up reflink: Operation not supported" "$d/out"
run_zcp -v -m reflink "$d/src" "$d/dst2"
check "-m reflink on ext4: status 1" [ $rc -eq 1 ]
check "-m reflink on ext4: message" grep -q "zcp: cannot copy '.*src' to '.*dst2': Operation not supported" "$d/err"
check "-m reflink on ext4: nothing made" [ ! -e "$d/dst2" ]

# Errors: message form and status 1; the destination kept.
cp "$d/dst" "$d/keep"
run_zcp "$d/missing" "$d/dst"
check "missing source: status 1" [ $rc -eq 1 ]
check "missing source: message" grep -qx "zcp: cannot copy '$d/missing' to '$d/dst': No such file or directory" "$d/err"
check "missing source: destination kept" cmp -s "$d/keep" "$d/dst"
run_zcp "$d/src" "$d/src"
check "same file: status 1" [ $rc -eq 1 ]
check "same file: message" grep -q "they are the same file" "$d/err"
ln -s src "$d/link"
run_zcp "$d/link" "$d/src"
check "same file by symlink: status 1" [ $rc -eq 1 ]
check "same file: source intact" cmp -s "$d/src" "$d/keep"
run_zcp -q "$d/missing" "$d/dst"
check "-q: status 1, nothing said" [ $rc -eq 1 -a ! -s "$d/err" ]

# Several sources into a directory; one missing: the rest copied, status 1.
mkdir "$d/into"
head -c 1000 /dev/urandom >"$d/a"
run_zcp "$d/src" "$d/a" "$d/missing" "$d/into"
check "into a directory: status 1 for the missing one" [ $rc -eq 1 ]
check "into a directory: copies" cmp -s "$d/src" "$d/into/src"
check "into a directory: copies (2)" cmp -s "$d/a" "$d/into/a"
run_zcp "$d/a" "$d/into/"
check "one source into a directory" [ $rc -eq 0 ]

# -n: an existing destination is skipped, not an error.
head -c 10 /dev/urandom >"$d/old"
cp "$d/old" "$d/old.keep"
run_zcp -n -v "$d/src" "$d/old"
check "-n: status 0" [ $rc -eq 0 ]
check "-n: kept" cmp -s "$d/old" "$d/old.keep"
check "-n: says skipped" grep -q "^skipped" "$d/out"

# -p keeps times.
touch -d @1000000000 "$d/a"
run_zcp -p "$d/a" "$d/a.p"
check "-p keeps the modification time" [ "$(stat -c %Y "$d/a.p")" = 1000000000 ]

# The progress bar: drawn under a terminal and cleared at the end; absent when
# standard error is a file unless asked for.
head -c 200000000 /dev/zero >"$d/big"
script -qec "$zcp -m read_write '$d/big' '$d/big.copy'" /dev/null >"$d/tty" 2>&1
check "bar: copy made" cmp -s "$d/big" "$d/big.copy"
check "bar: percentage drawn" grep -aq '100%' "$d/tty"
check "bar: rate and time left drawn" grep -aq '/s  ETA' "$d/tty"
check "bar: line cleared at the end" sh -c "tail -c 8 '$d/tty' | od -c | grep -q '\\\\r 033   \\[   K'"
run_zcp -m read_write "$d/big" "$d/big.copy"
check "no terminal: no bar" [ ! -s "$d/err" ]
run_zcp --progress=always "$d/a" "$d/a.2"
check "--progress=always: bar without a terminal" grep -aq '100%' "$d/err"
script -qec "$zcp --progress=never '$d/a' '$d/a.3'" /dev/null >"$d/tty" 2>&1
check "--progress=never: no bar on a terminal" [ ! -s "$d/tty" ]

# Ctrl-C: the copy stops at once, status 130, the old destination as it was.
head -c 400000000 /dev/zero >"$d/huge"
cp "$d/old.keep" "$d/target"
interrupt_zcp --direct "$d/huge" "$d/target"
check "Ctrl-C: status 130" [ $rc -eq 130 ]
check "Ctrl-C: message" grep -q "interrupted" "$d/err"
check "Ctrl-C: old destination intact" cmp -s "$d/target" "$d/old.keep"
check "Ctrl-C: no temporary file" no_temp "$d"

# SIGKILL mid-copy: the destination old or absent, never partial, no temporary.
for dst in target fresh; do
  "$zcp" --direct "$d/huge" "$d/$dst" &
  pid=$!
  sleep 0.3
  kill -KILL $pid
  wait $pid 2>/dev/null
  if [ "$dst" = target ]; then
    check "SIGKILL: old destination intact" cmp -s "$d/target" "$d/old.keep"
  else
    check "SIGKILL: new destination absent" [ ! -e "$d/fresh" ]
  fi
  check "SIGKILL: no temporary file" no_temp "$d"
done

# Several files at once (-j): every copy exact, a failure does not stop the others,
# the bar counts files, and Ctrl-C cancels every copy in flight.
mkdir "$d/many" "$d/many.out"
for i in $(seq 1 60); do head -c $((i * 5000 + 7)) /dev/urandom >"$d/many/f$i"; done
run_zcp -j 4 "$d"/many/f* "$d/many.out"
check "-j 4: status 0" [ $rc -eq 0 ]
check "-j 4: every file exact" diff -r "$d/many" "$d/many.out"
check "-j 4: silent" [ ! -s "$d/out" -a ! -s "$d/err" ]
rm -rf "$d/many.out"; mkdir "$d/many.out"
run_zcp -v "$d"/many/f1 "$d/missing" "$d"/many/f2 "$d"/many/f3 "$d/many.out"
check "default jobs, one missing: status 1" [ $rc -eq 1 ]
check "default jobs, one missing: message" grep -qx "zcp: cannot copy '$d/missing' to '$d/many.out/missing': No such file or directory" "$d/err"
check "default jobs, one missing: the others copied" sh -c "cmp -s '$d/many/f1' '$d/many.out/f1' && cmp -s '$d/many/f2' '$d/many.out/f2' && cmp -s '$d/many/f3' '$d/many.out/f3'"
check "default jobs: one whole verbose line per file" [ "$(grep -c "^'$d/many/f[123]' -> '$d/many.out/f[123]': method " "$d/out")" = 3 ]
run_zcp -j 0 "$d/a" "$d/a.j";   check "-j 0: status 2" [ $rc -eq 2 ]
run_zcp -j 65 "$d/a" "$d/a.j";  check "-j 65: status 2" [ $rc -eq 2 ]
run_zcp -j x "$d/a" "$d/a.j";   check "-j x: status 2" [ $rc -eq 2 ]
run_zcp --progress=always -j 3 "$d"/many/f* "$d/many.out"
check "-j 3 bar: counts files" grep -aq '60/60 files' "$d/err"
mkdir "$d/par" "$d/par.out"
for i in 1 2 3 4; do head -c 300000000 /dev/zero >"$d/par/h$i"; done
interrupt_zcp -j 4 --direct "$d"/par/h* "$d/par.out"
check "-j 4 Ctrl-C: status 130" [ $rc -eq 130 ]
check "-j 4 Ctrl-C: message" grep -q "interrupted" "$d/err"
check "-j 4 Ctrl-C: no temporary file" no_temp "$d/par.out"
check "-j 4 Ctrl-C: whatever exists is complete" sh -c "for f in '$d'/par.out/*; do [ -e \"\$f\" ] || continue; cmp -s \"\$f\" '$d/par/h1' || exit 1; done"
rm -rf "$d/par" "$d/par.out"

# A full file system: the message, status 1, the old destination intact.
if [ "$(id -u)" = 0 ] && mkdir "$d/small" && mount -t tmpfs -o size=1m tmpfs "$d/small" 2>/dev/null; then
  cp "$d/old.keep" "$d/small/x"
  run_zcp "$d/src" "$d/small/x"
  check "ENOSPC: status 1" [ $rc -eq 1 ]
  check "ENOSPC: message" grep -q "No space left on device" "$d/err"
  check "ENOSPC: old destination intact" cmp -s "$d/small/x" "$d/old.keep"
  check "ENOSPC: no temporary file" no_temp "$d/small"
  umount "$d/small"
else
  echo "note: not root: the full-disk case is covered by the Rust tests only"
fi

echo "test_zcp: $pass passed, $fail failed"
[ $fail -eq 0 ]
