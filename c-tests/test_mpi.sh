#!/usr/bin/env bash
# zcp-mpi under a real mpirun on this machine, 1, 2 and 4 ranks (oversubscribed:
# more ranks than cores), each rank a real process:
#   - the fidelity tree (every kind of entry, a file split between the ranks, hard
#     links across directories, modes, owners, xattrs, times) copied with -a is,
#     entry by entry, what one process (zcp -a) and cp -a make; every entry copied
#     once (zcp's --debug counts); destination rules, messages and statuses as
#     zcp's, the same status on every rank;
#   - a skewed tree (one 1 GiB file among many small ones) is balanced between
#     the ranks;
#   - a rank killed with SIGKILL in the data phase leaves no partial file under a
#     final name, and the same command again with -u finishes the copy; SIGINT to
#     one rank stops them all, 130 on each;
#   - zcp-mpi itself under valgrind (-n 1), no leak and no invalid access.
#
# usage: test_mpi.sh ZCP ZCP_MPI DIR [MPIRUN]    (exit 0 pass, 1 fail, 77 skip)
# SKEW_FILES (default 100000): the small files of the skewed tree.
set -u
zcp=$1
zmpi=$2
base=$3
mpirun=${4:-mpirun}
skew_files=${SKEW_FILES:-100000}
umask 022
export LC_ALL=C
command -v "$mpirun" >/dev/null || { echo "SKIP: no $mpirun"; exit 77; }
[ -x "$zmpi" ] || { echo "SKIP: no $zmpi"; exit 77; }
# Open MPI refuses to run as root without both; plugins stay loaded for valgrind.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mca_base_component_disable_dlclose=1
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d "$base/mpi-test-XXXXXX")
chmod 755 "$d"
cleanup() {
  [ -n "${job:-}" ] && kill -KILL "$job" 2>/dev/null
  chmod -R u+rwx "$d" 2>/dev/null
  rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
. "$here/checks.sh"
start=$(date +%s)
# mpi N ARGS...: zcp-mpi on N ranks; status in $rc, output in $d/out and $d/err.
mpi() {
  local n=$1; shift
  "$mpirun" -q --oversubscribe -n "$n" "$zmpi" "$@" >"$d/out" 2>"$d/err"
  rc=$?
}
# mpi_each N ARGS...: the same, each rank's own status in $d/st.RANK.
mpi_each() {
  local n=$1; shift
  rm -f "$d"/st.*
  "$mpirun" -q --oversubscribe -n "$n" sh -c '"$0" "$@"; echo $? >"'"$d"'/st.$OMPI_COMM_WORLD_RANK"' \
    "$zmpi" "$@" >"$d/out" 2>"$d/err"
  rc=$?
}
# every_rank N STATUS: every one of the N ranks exited with STATUS.
every_rank() {
  local i
  for ((i = 0; i < $1; i++)); do [ "$(cat "$d/st.$i" 2>/dev/null)" = "$2" ] || return 1; done
}
no_temp() { ! find "$1" -name '.zcio-*' 2>/dev/null | grep -q .; }

# The snapshot of a tree, one line per entry, for comparing copies: kind, mode,
# owner, modification time to the nanosecond, size, content hash, link target,
# device numbers, hard-link group (its first name), extended attributes (ACLs
# among them); with --holes, whether a file keeps its holes. Access times are
# left out: every copy reads the source, which moves them.
cat >"$d/snap.py" <<'EOF'
import hashlib, os, stat, sys
args = sys.argv[1:]
holes = '--holes' in args
root = [a for a in args if not a.startswith('--')][0]
entries = []
def visit(rel):
    p = root if rel == '.' else os.path.join(root, rel)
    st = os.lstat(p)
    entries.append((rel, p, st))
    if stat.S_ISDIR(st.st_mode):
        for n in sorted(os.listdir(p)):
            visit(n if rel == '.' else rel + '/' + n)
visit('.')
entries.sort(key=lambda e: e[0])
first = {}
for rel, p, st in entries:
    if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
        first.setdefault((st.st_dev, st.st_ino), rel)
for rel, p, st in entries:
    m = st.st_mode
    f = [repr(rel), stat.filemode(m)[0]]
    f.append('mode=-' if stat.S_ISLNK(m) else 'mode=%o' % stat.S_IMODE(m))
    f.append('owner=%d:%d' % (st.st_uid, st.st_gid))
    if rel != '.':
        f.append('mtime=%d' % st.st_mtime_ns)
    if stat.S_ISREG(m):
        f.append('size=%d' % st.st_size)
        if holes:
            f.append('sparse' if st.st_blocks * 512 < st.st_size else 'full')
        with open(p, 'rb') as fh:
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b''):
                h.update(chunk)
        f.append(h.hexdigest()[:16])
    if not stat.S_ISDIR(m):
        f.append('links=' + first.get((st.st_dev, st.st_ino), '-'))
    if stat.S_ISLNK(m):
        f.append('-> ' + repr(os.readlink(p)))
    if stat.S_ISCHR(m) or stat.S_ISBLK(m):
        f.append('rdev=%d,%d' % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    xs = sorted(x for x in os.listxattr(p, follow_symlinks=False) if x != 'security.selinux')
    f.append('xattrs=' + ','.join('%s=%s' % (x, os.getxattr(p, x, follow_symlinks=False).hex()) for x in xs))
    print(' '.join(f))
EOF
snap() { python3 "$d/snap.py" "$@"; }
# same_tree WHAT WANT GOT [--holes]: the two trees' snapshots are the same.
same_tree() {
  local what=$1 want=$2 got=$3 opt=${4:-}
  snap $opt "$want" >"$d/want.snap"
  snap $opt "$got" >"$d/got.snap"
  if cmp -s "$d/want.snap" "$d/got.snap"; then ok; else
    bad "$what"; diff "$d/want.snap" "$d/got.snap" | head -10
  fi
}

# mk_tree DIR: every kind of entry, as tests/common/tree.rs's make_full_tree, and
# two files larger than the 64 MiB above which the library splits a file between
# the ranks (one with holes, one of an odd size); each entry its own time.
mk_tree() {
  local t=$1
  mkdir -p "$t"/{d1/d2/d3,empty_dir,rodir,sticky,setgid_dir,x}
  printf 'thirteen byte' >"$t/a.txt"
  head -c $((3 * 1048576 + 333)) /dev/urandom >"$t/big.bin"
  : >"$t/empty"
  head -c 4096 /dev/urandom >"$t/page"
  head -c 777 /dev/urandom >"$t/d1/d2/d3/deep.txt"
  head -c 100 /dev/urandom >"$t/rodir/inside"
  head -c 10 /dev/urandom >"$t/sticky/s"
  printf five >"$t/x/odd-$(printf '\xc3\xa9')-name with spaces"
  printf bytes >"$t/n$(printf '\xff')x"
  truncate -s 8M "$t/sparse"
  head -c 4096 /dev/urandom | dd of="$t/sparse" bs=4096 seek=1024 conv=notrunc status=none
  # 5 MiB of data, a hole, 3 MiB at 150 MiB: split into three ranges.
  head -c 5M /dev/urandom >"$t/x/large-sparse"
  head -c 3M /dev/urandom | dd of="$t/x/large-sparse" bs=1M seek=150 conv=notrunc status=none
  head -c $((200 * 1048576 + 12345)) /dev/urandom >"$t/d1/large"
  for m in 666:mode666 4755:setuid 700:exec 444:ro; do
    head -c 10 /dev/urandom >"$t/${m#*:}"; chmod "${m%%:*}" "$t/${m#*:}"
  done
  ln -s a.txt "$t/link_rel"; ln -s /etc/hostname "$t/link_abs"; ln -s nowhere "$t/dangling"
  ln -s d1 "$t/link_dir"; ln -s ../../a.txt "$t/d1/d2/up"
  head -c 5000 /dev/urandom >"$t/hl1"; ln "$t/hl1" "$t/d1/hl2"; ln "$t/hl1" "$t/d1/d2/hl3"
  head -c 70000 /dev/urandom >"$t/x/g1"; ln "$t/x/g1" "$t/d1/d2/d3/g2"
  mkfifo "$t/fifo"
  python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$t/sock"
  setfattr -n user.zcio -v hello "$t/a.txt" 2>/dev/null
  setfattr -n user.dir -v d "$t/d1" 2>/dev/null
  setfattr -n user.big -v split "$t/d1/large" 2>/dev/null
  setfacl -m u:65534:r "$t/big.bin" 2>/dev/null
  if [ $root = 1 ]; then
    mknod "$t/null" c 1 3
    printf o >"$t/owned"; chown 65534:65534 "$t/owned"
    chown -h 65534:65534 "$t/link_rel"
    chown 65534:65534 "$t/x"
    setfattr -h -n trusted.t -v 1 "$t/link_rel" 2>/dev/null
  fi
  chmod 1777 "$t/sticky"; chmod 2775 "$t/setgid_dir"
  local i=0 p
  while IFS= read -r -d '' p; do
    i=$((i + 1))
    touch -h -d "@$((1500000000 + i * 7)).$((987654321 - i))" "$p"
  done < <(find "$t" -mindepth 1 -depth -print0)
  chmod 555 "$t/rodir"
}

# ---- The fidelity tree: zcp-mpi -a on 1, 2 and 4 ranks, zcp -a, cp -a ---------

mk_tree "$d/src"
"$zcp" -a --debug "$d/src" "$d/one" >"$d/one.out" 2>"$d/one.err"
check "zcp -a: status 0" [ $? -eq 0 -a ! -s "$d/one.err" ]
cp -a "$d/src" "$d/cpa"
same_tree "zcp -a is cp -a (the oracles agree)" "$d/cpa" "$d/one" --holes
# zcp's counts: every entry once ("tree: N files (...), N directories, ...").
counts() { sed -n "s/^'[^']*' -> '[^']*': tree: \([0-9]*\) files ([^)]*), \(.*special files\);.*/\1 files, \2/p" "$1"; }
want_counts=$(counts "$d/one.out")
for n in 1 2 4; do
  mpi_each $n -a --debug "$d/src" "$d/mpi$n"
  check "-n $n -a: status 0 on every rank (mpirun $rc)" every_rank $n 0
  check "-n $n -a: nothing on standard error" [ ! -s "$d/err" ]
  [ -s "$d/err" ] && head -5 "$d/err"
  same_tree "-n $n -a: the tree is zcp -a's" "$d/one" "$d/mpi$n"
  same_tree "-n $n -a: the tree is cp -a's" "$d/cpa" "$d/mpi$n"
  check "-n $n -a: holes of the split file kept" \
    [ "$(du -k "$d/mpi$n/x/large-sparse" | cut -f1)" -lt 20000 ]
  check "-n $n -a: no temporary file left" no_temp "$d/mpi$n"
  check "-n $n -a: every entry copied once (zcp's counts: $want_counts)" [ "$(counts "$d/out")" = "$want_counts" ]
  check "-n $n -a: zcp's -v lines" cmp -s <(grep -v ': tree: \|: rank ' "$d/out" | sed "s|/mpi$n|/one|g") \
    <(grep -v ': tree: ' "$d/one.out")
  check "-n $n -a: one --debug line per rank" [ "$(grep -c ": rank [0-9]* of $n: " "$d/out")" = $n ]
done
# Without -a: what cp -r keeps (modes minus the umask, contents, link targets).
cp -r "$d/src" "$d/cpr"
plain() { snap "$1" | sed 's/ owner=[0-9:]* mtime=[0-9]*//; s/ links=[^ ]*//'; }
plain "$d/cpr" >"$d/want.snap"
for n in 1 2; do
  mpi $n -r "$d/src" "$d/mpir"
  check "-n $n -r: status 0" [ $rc -eq 0 ]
  plain "$d/mpir" >"$d/got.snap"
  check "-n $n -r: the tree is cp -r's (contents, links, file and directory modes)" \
    cmp -s "$d/want.snap" "$d/got.snap"
  rm -rf "$d/mpir"
done
rm -rf "$d/cpr" "$d"/mpi[12]

# Destination rules: into an existing directory, -T, -t, a merge with -n.
mkdir "$d/into"
mpi 4 -a "$d/src" "$d/into"
check "into a directory: SRC goes to DIR/SRC" [ $rc -eq 0 -a -d "$d/into/src" ]
same_tree "into a directory: the tree" "$d/one" "$d/into/src"
mpi 2 -aT "$d/src/d1" "$d/into/src/x"
check "-T into an existing directory: merged, status 0" [ $rc -eq 0 -a -f "$d/into/src/x/large" -a -f "$d/into/src/x/g1" ]
rm -rf "$d/into"; mkdir "$d/into"
mpi 2 -r -t "$d/into" "$d/src/d1" "$d/src/a.txt"
check "-t DIR with a tree and a file" [ $rc -eq 0 -a -f "$d/into/d1/large" -a -f "$d/into/a.txt" ]
cmp -s "$d/src/d1/large" "$d/into/d1/large" && cmp -s "$d/src/a.txt" "$d/into/a.txt"
check "-t DIR: contents" [ $? -eq 0 ]
mkdir -p "$d/keep/d1"; echo old >"$d/keep/d1/large"; echo old >"$d/keep/a.txt"
mpi 4 -rnT "$d/src" "$d/keep"
check "-n: status 0, existing files kept" [ $rc -eq 0 -a "$(cat "$d/keep/d1/large")" = old -a "$(cat "$d/keep/a.txt")" = old ]
check "-n: the rest copied" cmp -s "$d/src/big.bin" "$d/keep/big.bin"
check "-n: no temporary file left" no_temp "$d/keep"
rm -rf "$d/keep" "$d/into"

# Messages and statuses as zcp's ("zcp" read as "zcp-mpi"), once, not once per
# rank; the same status on every rank.
zcp_says() { # zcp_says ARGS...: zcp's standard error, as zcp-mpi's would read
  "$zcp" "$@" 2>&1 >/dev/null | sed "s/^zcp: /zcp-mpi: /; s/'zcp --help'/'zcp-mpi --help'/"
}
for args in "-r $d/nosuch $d/o" "-r $d/src $d/src/d1/into" "$d/src $d/o" "--reflink=bogus -r $d/src $d/o" \
            "-j 0 -r $d/src $d/o" "--bogus $d/src $d/o" "-r $d/src" "-T $d/src/a.txt $d/src/big.bin $d/o"; do
  # shellcheck disable=SC2086 # the arguments are words
  want=$(zcp_says $args); "$zcp" $args >/dev/null 2>&1; want_rc=$?
  # shellcheck disable=SC2086
  mpi_each 4 $args
  check "zcp-mpi $args: status $want_rc on every rank, as zcp" every_rank 4 $want_rc
  check "zcp-mpi $args: zcp's message, once" [ "$(cat "$d/err")" = "$want" ]
  [ "$(cat "$d/err")" = "$want" ] || { echo "  want: $want"; echo "  got: $(head -c 400 "$d/err")"; }
done
rm -rf "$d/o"
# An entry that fails in the copy: told once, by the rank whose entry it is.
mkdir -p "$d/blk/src/sub" "$d/blk/dst/sub/f3/x"
for i in 1 2 3 4 5 6; do printf $i >"$d/blk/src/sub/f$i"; done
want=$("$zcp" -rT "$d/blk/src" "$d/blk/dst" 2>&1)
mpi_each 4 -rT "$d/blk/src" "$d/blk/dst"
check "a failed entry: status 1 on every rank" every_rank 4 1
check "a failed entry: zcp's message with the rank, once" \
  [ "$(sed 's/^zcp-mpi\[rank [0-3]\]: /zcp: /' "$d/err")" = "$want" ]
[ "$(wc -l <"$d/err")" = 1 ] || head -5 "$d/err"
check "a failed entry: the others copied" cmp -s "$d/blk/src/sub/f6" "$d/blk/dst/sub/f6"
rm -rf "$d/blk"
if [ $root = 1 ]; then
  # As an unprivileged user: a directory no rank can read is told once.
  nb=$d/nobody; mkdir -p "$nb/src/ok" "$nb/src/closed"; printf x >"$nb/src/ok/f"; printf y >"$nb/src/closed/g"
  chmod 000 "$nb/src/closed"; chown -R 65534:65534 "$nb"
  want=$(cd "$nb" && setpriv --reuid=65534 --regid=65534 --clear-groups "$zcp" -r src out1 2>&1)
  got=$(cd "$nb" && setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$nb" \
    "$mpirun" -q --oversubscribe -n 4 "$zmpi" -r src out2 2>&1)
  check "nobody, an unreadable directory: zcp's message with the rank, once" \
    [ "$(echo "$got" | sed 's/^zcp-mpi\[rank [0-3]\]: /zcp: /')" = "$want" ]
  [ "$(echo "$got" | sed 's/^zcp-mpi\[rank [0-3]\]: /zcp: /')" = "$want" ] || echo "  got: $got"
  check "nobody, an unreadable directory: the rest as zcp's" cmp -s <(plain "$nb/out1") <(plain "$nb/out2")
  rm -rf "$nb"
fi
# The progress line and the summary: one, from rank 0, for the whole job.
mpi 4 -a --progress=always "$d/src" "$d/bar"
check "--progress: status 0" [ $rc -eq 0 ]
check "--progress: one summary for the job" \
  [ "$(grep -ac 'zcp-mpi: copied [0-9]* files and [0-9]* directories' "$d/err")" = 1 ]
want_sum=$("$zcp" -a --progress=always "$d/src" "$d/bar1" 2>&1 | tr '\r' '\n' | sed -n 's/.*zcp: \(copied .* directories ([^)]*)\).*/\1/p')
check "--progress: the summary counts what zcp's does ($want_sum)" grep -aq "zcp-mpi: $want_sum in " "$d/err"
check "--progress: the bar reached 100%" grep -aq '100%' "$d/err"
rm -rf "$d/bar" "$d/bar1"
echo "note: fidelity and messages in $(($(date +%s) - start)) s"

# ---- The skewed tree: one 1 GiB file among many small ones ---------------------

t0=$(date +%s)
mkdir -p "$d/skew"
head -c 1G /dev/zero | tr '\0' 'z' >"$d/skew/huge"
python3 - "$d/skew" "$skew_files" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    if i % 1000 == 0:
        os.mkdir(os.path.join(root, 'd%03d' % (i // 1000)))
    with open(os.path.join(root, 'd%03d' % (i // 1000), 'f%06d' % i), 'wb') as f:
        f.write(os.urandom(4096))
EOF
for n in 2 4; do
  mpi $n -r --debug "$d/skew" "$d/skew.$n"
  check "skew -n $n: status 0" [ $rc -eq 0 ]
  check "skew -n $n: the huge file exact" cmp -s "$d/skew/huge" "$d/skew.$n/huge"
  check "skew -n $n: every small file there" [ "$(find "$d/skew.$n" -type f | wc -l)" = $((skew_files + 1)) ]
  # Each rank's share of the bytes, from its --debug line.
  shares=$(sed -n "s/.*: rank [0-9]* of $n: [0-9]* entries, \([0-9]*\) bytes written.*/\1/p" "$d/out" | tr '\n' ' ')
  # The bound: the 1 GiB file is 16 ranges of 64 MiB dealt round the ranks (a
  # rank gets at most one range more than another: none when n divides 16); the
  # small files fall to a rank by a hash of their path, a binomial draw whose
  # spread is sqrt(N (1/n)(1 - 1/n)) files. Max/min must stay within the ratio
  # of (mean + one range if n does not divide 16 + 6 spreads) to (mean - 6
  # spreads), or 1.10, whichever is larger.
  verdict=$(python3 - $n "$skew_files" $shares <<'EOF'
import math, sys
n, files = int(sys.argv[1]), int(sys.argv[2])
s = [int(x) for x in sys.argv[3:]]
total = (1 << 30) + files * 4096
mean = total / n
spread = 6 * math.sqrt(files * (1 / n) * (1 - 1 / n)) * 4096
extra = (64 << 20) if 16 % n else 0
bound = max(1.10, (mean + extra + spread) / (mean - spread))
ratio = max(s) / min(s) if len(s) == n and min(s) > 0 else float('inf')
print('ok' if ratio <= bound and sum(s) == total else 'bad',
      'shares %s MiB, max/min %.3f, bound %.3f, sum %d of %d' %
      ([round(x / 2**20, 1) for x in s], ratio, bound, sum(s), total))
EOF
)
  check "skew -n $n: balanced (${verdict#* })" [ "${verdict%% *}" = ok ]
  echo "note: skew -n $n: ${verdict#* }"
  rm -rf "$d/skew.$n"
done
echo "note: skewed tree ($skew_files small files + 1 GiB) in $(($(date +%s) - t0)) s"
rm -rf "$d/skew"

# ---- A rank killed with SIGKILL in the data phase, then the rerun ---------------

t0=$(date +%s)
mkdir -p "$d/ks/many"
for i in 1 2 3 4; do head -c $((300 * 1048576 + i)) /dev/urandom >"$d/ks/big$i"; done
for i in $(seq 1 400); do head -c $((i * 100)) /dev/urandom >"$d/ks/many/f$i"; done
cp -a "$d/src" "$d/ks/tree"
cp -a "$d/ks" "$d/ks.cp"
# --fsync: each file durable before the next, so the data phase lasts.
# Into an existing directory, so that the same command again goes to the same
# place (ks.out/ks), as cp's rules have it.
mkdir "$d/ks.out"
"$mpirun" -q --oversubscribe -n 4 "$zmpi" -a --fsync "$d/ks" "$d/ks.out" >"$d/out" 2>"$d/err" &
job=$!
victim=
for _ in $(seq 1 2000); do
  # Rank 1, once the ranks are writing: a range file or a copied file is there.
  if [ -z "$victim" ]; then
    for p in $(pgrep -P $job); do
      tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
    done
  fi
  if [ -n "$victim" ] && [ -n "$(find "$d/ks.out/ks" -name '.zcio-*.part' 2>/dev/null | head -1)" ]; then
    kill -KILL "$victim"
    break
  fi
  sleep 0.01
done
wait $job; krc=$?; job=
check "SIGKILL: rank 1 was killed in the data phase" [ -n "$victim" ]
check "SIGKILL: mpirun ends the job with a failure ($krc)" [ $krc -ne 0 ]
# Every file under its final name is the source's, byte for byte; split files
# exist only as their .zcio-*.part range files until the commit phase.
partial=0 present=0 total=0
while IFS= read -r -d '' f; do
  rel=${f#"$d/ks/"}
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  total=$((total + 1))
  [ -e "$d/ks.out/ks/$rel" ] || continue
  present=$((present + 1))
  cmp -s "$f" "$d/ks.out/ks/$rel" || { partial=$((partial + 1)); echo "  partial: $rel"; }
done < <(find "$d/ks" -print0)
check "SIGKILL: no partial file under a final name ($present of $total files there)" [ $partial -eq 0 ]
check "SIGKILL: the copy was cut short (not every file there)" [ $present -lt $total ]
echo "note: SIGKILL: mpirun $krc; $present of $total files under their final names, $partial partial;" \
  "$(find "$d/ks.out" -name '.zcio-*.part' | wc -l) range files waiting"
"$mpirun" -q --oversubscribe -n 4 "$zmpi" -a --fsync -u "$d/ks" "$d/ks.out" >"$d/out" 2>"$d/err"
check "rerun with -u: status 0" [ $? -eq 0 -a ! -s "$d/err" ]
same_tree "rerun with -u: the tree is cp -a's" "$d/ks.cp" "$d/ks.out/ks"
check "rerun with -u: no temporary file left" no_temp "$d/ks.out"
echo "note: kill and rerun in $(($(date +%s) - t0)) s"
# Ctrl-C reaching one rank (SIGINT, as srun gives it, or kill): every rank stops,
# 130 on each (so mpirun's is 130 too), the message once, nothing partial.
"$mpirun" -q --oversubscribe -n 4 "$zmpi" -a --fsync "$d/ks" "$d/ks.int" >"$d/out" 2>"$d/err" &
job=$!
victim=
for _ in $(seq 1 2000); do
  [ -z "$victim" ] && victim=$(ps -o pid= --ppid $job | sed -n 2p | tr -d ' ')
  if [ -n "$victim" ] && [ -n "$(find "$d/ks.int" -name '.zcio-*.part' 2>/dev/null | head -1)" ]; then
    kill -INT "$victim"
    break
  fi
  sleep 0.01
done
wait $job; irc=$?; job=
check "SIGINT to one rank: status 130 ($irc)" [ $irc -eq 130 ]
check "SIGINT to one rank: told once, by rank 0" \
  [ "$(cat "$d/err")" = "zcp-mpi: interrupted: the copy of '$d/ks' to '$d/ks.int' stopped; every file in it is complete or untouched" ]
partial=0
while IFS= read -r -d '' f; do
  rel=${f#"$d/ks.int/"}
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  case ${rel##*/} in .zcio-*) continue ;; esac # a temporary name: allowed to be partial
  cmp -s "$f" "$d/ks/$rel" || { partial=$((partial + 1)); echo "  partial: $rel"; }
done < <(find "$d/ks.int" -print0)
check "SIGINT to one rank: no partial file under a final name" [ $partial -eq 0 ]
rm -rf "$d/ks" "$d/ks.cp" "$d/ks.out" "$d/ks.int"

# ---- zcp-mpi's own memory under valgrind ------------------------------------------

if command -v valgrind >/dev/null; then
  mkdir -p "$d/vg.out/vgsrc"; printf old >"$d/vg.out/vgsrc/a.txt"
  mkdir "$d/vgsrc"; cp -a "$d/src/a.txt" "$d/src/d1" "$d/src/link_rel" "$d/src/fifo" "$d/vgsrc/"
  rm -f "$d/vgsrc/d1/large"
  printf 'y\n' | "$mpirun" -q -n 1 valgrind -q --suppressions="$here/mpi.supp" --error-exitcode=99 \
    --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    "$zmpi" -a -i -v --debug --progress=always "$d/vgsrc" "$d/vg.out" >"$d/out" 2>"$d/err"
  rc=$?
  check "valgrind -n 1: no error, no leak (status $rc)" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || grep '==' "$d/err" | head -30
  same_tree "valgrind -n 1: copy made" "$d/vgsrc" "$d/vg.out/vgsrc"
else
  echo "note: no valgrind: the leak check is skipped"
fi

echo "note: test_mpi.sh took $(($(date +%s) - start)) s"
echo "test_mpi: $pass passed, $fail failed, $known known"
[ $fail -eq 0 ]
