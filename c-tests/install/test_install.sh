#!/usr/bin/env bash
# `make install-test`: installs zcio into a scratch DESTDIR (PREFIX=/usr) as a user
# would and checks what a user relies on:
#   - exactly the expected files are installed, stripped, with the soname links;
#   - libzcio.so exports the header's functions, each at version $SYMVER, and
#     nothing else;
#   - prog.c (not one of the examples) builds through pkg-config alone, against
#     libzcio.so, fully static (cc -static, pkg-config --static) and with
#     zcio-static, and each program runs;
#   - zcp runs from DESTDIR/usr/bin with no RUNPATH into the build tree, and so
#     does zcp-mpi (under mpirun) where it was built (ZCP_MPI=1);
#   - man finds a page for zcp, zcio(7) and every function of the header;
#   - KEEP_DEBUG=1 keeps the debug info;
#   - `make uninstall` removes all of it and nothing else.
# Environment: MAKE CC VERSION SONAME REALNAME SYMVER ZCP_MPI MPIRUN (from the Makefile).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
st=$(mktemp -d)
trap 'rm -rf "$st"' EXIT
fail() { echo "FAIL: install-test: $*"; exit 1; }
info() { echo "  $*"; }

d=$st/dest
lib=$d/usr/lib
man=$d/usr/share/man

# Someone else's file in each directory zcio installs into: uninstall leaves them.
mkdir -p "$lib/pkgconfig" "$d/usr/include" "$d/usr/bin" "$man/man1" "$man/man3" "$man/man7"
for f in "$lib/libother.so.1" "$lib/pkgconfig/other.pc" "$d/usr/include/other.h" "$d/usr/bin/other" \
  "$man/man1/other.1" "$man/man3/other.3" "$man/man7/other.7"; do
  echo other >"$f"
done
files() { (cd "$d" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort); }
before=$(files)

$MAKE -s -C "$root" install DESTDIR="$d" PREFIX=/usr >"$st/install.log" 2>&1 ||
  { cat "$st/install.log"; fail "make install failed"; }

# The files a user expects, from the man/ tree and the version; nothing more.
pages=$(cd "$root" && ls man/man[1-8]/*.[1-8])
mpi=${ZCP_MPI:-0}
[ "$mpi" = 1 ] || pages=$(echo "$pages" | grep -vx 'man/man1/zcp-mpi.1')
bins=usr/bin/zcp; [ "$mpi" = 1 ] && bins="$bins usr/bin/zcp-mpi"
expected=$( {
  echo "$before"
  printf '%s\n' usr/lib/libzcio.a "usr/lib/$REALNAME" "usr/lib/$SONAME" usr/lib/libzcio.so \
    usr/lib/pkgconfig/zcio.pc usr/lib/pkgconfig/zcio-static.pc usr/include/zcio.h $bins
  for p in $pages; do echo "usr/share/${p}"; done
  (cd "$root" && man/links.sh $pages) | while read -r dir _ name; do echo "usr/share/man/$dir/$name"; done
} | LC_ALL=C sort)
after_install=$(files)
if [ "$after_install" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$after_install") | sed 's/^/  /' || true
  fail "the installed files are not the expected ones (< expected, > installed)"
fi
count=$(comm -13 <(echo "$before") <(echo "$after_install") | wc -l)

# The soname and the development links.
[ "$(readlink "$lib/$SONAME")" = "$REALNAME" ] || fail "$SONAME is not a link to $REALNAME"
[ "$(readlink "$lib/libzcio.so")" = "$SONAME" ] || fail "libzcio.so is not a link to $SONAME"
soname=$(readelf -d "$lib/$REALNAME" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "$SONAME" ] || fail "the soname is '$soname', not $SONAME"

# Stripped: no debug info anywhere, no static symbol table in the shared objects.
for f in "$lib/$REALNAME" "$lib/libzcio.a" $(printf "$d/%s " $bins); do
  ! readelf -S "$f" 2>/dev/null | grep -q '\.debug_info' || fail "$f has debug info"
done
for f in "$lib/$REALNAME" $(printf "$d/%s " $bins); do
  ! readelf -S "$f" | grep -q ' \.symtab ' || fail "$f has a .symtab: not stripped"
done

# Every dynamic symbol libzcio.so defines is a function of the header at $SYMVER
# (nm also lists the version node itself, as an absolute symbol).
nm -D --defined-only --with-symbol-versions "$lib/$REALNAME" >"$st/dynsyms"
unversioned=$(awk -v v="$SYMVER" '!($2 == "A" && $3 == v) && $3 !~ ("@@" v "$")' "$st/dynsyms")
[ -z "$unversioned" ] || fail "dynamic symbols without version $SYMVER (or of another kind): $unversioned"
exported=$(awk -v v="$SYMVER" '$3 ~ ("@@" v "$") { sub("@@.*", "", $3); print $3 }' "$st/dynsyms" | LC_ALL=C sort)
declared=$("$root/tools/api-functions.sh" "$root/include/zcio.h" | LC_ALL=C sort)
if [ "$exported" != "$declared" ]; then
  diff <(echo "$declared") <(echo "$exported") | sed 's/^/  /' || true
  fail "libzcio.so's exports differ from the header's functions (< header, > exported)"
fi

# prog.c through pkg-config: shared, fully static, and libzcio.a in a dynamic program.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$d PKG_CONFIG_LIBDIR=$lib/pkgconfig
[ "$(pkg-config --modversion zcio)" = "$VERSION" ] || fail "zcio.pc says $(pkg-config --modversion zcio)"
cflags=(-std=c99 -Wall -Wextra -Werror -O1)
head -c 1048583 /dev/urandom >"$st/src"
# The file the loader finds for $SONAME, as a real path: loads [VAR=VALUE...] BINARY
loads() { env "${@:1:$#-1}" ldd "${!#}" | sed -n "s|.*$SONAME => \(.*\) (.*|\1|p" | xargs -r realpath; }
run() { # NAME COMMAND...: runs one build of prog and checks its copies
  "${@:2}" "$st/src" "$st/$1.dst" >"$st/$1.out" 2>&1 || { cat "$st/$1.out"; fail "$1 failed"; }
  cmp -s "$st/src" "$st/$1.dst" && cmp -s "$st/src" "$st/$1.dst.fd" || fail "$1 copied wrongly"
}
# shellcheck disable=SC2046 # pkg-config's output is meant to be split
$CC "${cflags[@]}" -o "$st/prog-shared" "$here/prog.c" $(pkg-config --cflags --libs zcio)
run prog-shared env LD_LIBRARY_PATH="$lib" "$st/prog-shared"
[ "$(loads LD_LIBRARY_PATH="$lib" "$st/prog-shared")" = "$(realpath "$lib/$SONAME")" ] ||
  fail "prog-shared does not load $lib/$SONAME"

# shellcheck disable=SC2046
$CC -static "${cflags[@]}" -o "$st/prog-static" "$here/prog.c" $(pkg-config --static --cflags --libs zcio) \
  >"$st/static.log" 2>&1 || { cat "$st/static.log"; fail "cc -static with pkg-config --static failed"; }
# glibc warns about its name-service calls, which zcio's dependencies contain and never call.
other=$(grep -i 'warning' "$st/static.log" | grep -v "in statically linked applications requires at runtime" || true)
[ -z "$other" ] || fail "cc -static warned: $other"
! readelf -l "$st/prog-static" | grep -q INTERP || fail "prog-static is not statically linked"
run prog-static "$st/prog-static"

# shellcheck disable=SC2046
$CC "${cflags[@]}" -o "$st/prog-zcio-static" "$here/prog.c" $(pkg-config --cflags --libs zcio-static)
! readelf -d "$st/prog-zcio-static" | grep -q 'NEEDED.*libzcio' || fail "prog-zcio-static needs libzcio.so"
readelf -d "$st/prog-zcio-static" | grep -q 'NEEDED.*libc\.so' || fail "prog-zcio-static is not dynamic"
run prog-zcio-static "$st/prog-zcio-static"

# zcp from where it is installed, with no LD_LIBRARY_PATH and no build-tree RUNPATH.
runpath=$(readelf -d "$d/usr/bin/zcp" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
case $runpath in *"$root"*) fail "zcp's RUNPATH points into the build tree: $runpath" ;; esac
[ "$(loads -u LD_LIBRARY_PATH "$d/usr/bin/zcp")" = "$(realpath "$lib/$SONAME")" ] ||
  fail "zcp does not load $lib/$SONAME"
[ "$(env -u LD_LIBRARY_PATH "$d/usr/bin/zcp" --version)" = "zcp (zcio) $VERSION" ] || fail "zcp --version"
env -u LD_LIBRARY_PATH "$d/usr/bin/zcp" -q "$st/src" "$st/zcp.dst" && cmp -s "$st/src" "$st/zcp.dst" ||
  fail "the installed zcp did not copy"
if [ "$mpi" = 1 ]; then
  runpath_mpi=$(readelf -d "$d/usr/bin/zcp-mpi" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
  case $runpath_mpi in *"$root"*) fail "zcp-mpi's RUNPATH points into the build tree: $runpath_mpi" ;; esac
  [ "$(loads -u LD_LIBRARY_PATH "$d/usr/bin/zcp-mpi")" = "$(realpath "$lib/$SONAME")" ] ||
    fail "zcp-mpi does not load $lib/$SONAME"
  mkdir "$st/tree"; cp "$st/src" "$st/tree/f"
  env -u LD_LIBRARY_PATH OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    "${MPIRUN:-mpirun}" -q --oversubscribe -n 2 "$d/usr/bin/zcp-mpi" -r "$st/tree" "$st/tree.dst" &&
    cmp -s "$st/src" "$st/tree.dst/f" || fail "the installed zcp-mpi did not copy"
fi

# man finds every page, by every name.
for f in $declared; do
  man -M "$man" -w 3 "$f" 2>/dev/null | grep -q "^$man/man3/" || fail "man 3 $f finds no installed page"
done
man -M "$man" -w 1 zcp | grep -q "^$man/man1/zcp.1" || fail "man 1 zcp finds no installed page"
[ "$mpi" = 1 ] && { man -M "$man" -w 1 zcp-mpi | grep -q "^$man/man1/zcp-mpi.1" || fail "man 1 zcp-mpi finds no installed page"; }
man -M "$man" -w 7 zcio | grep -q "^$man/man7/zcio.7" || fail "man 7 zcio finds no installed page"

info "installed $count files; pkg-config --static --libs zcio: $(pkg-config --static --libs zcio)"
info "stripped: $REALNAME $(stat -c %s "$lib/$REALNAME") bytes, zcp $(stat -c %s "$d/usr/bin/zcp") bytes, libzcio.a $(stat -c %s "$lib/libzcio.a") bytes"
info "zcp RUNPATH: ${runpath:-none}"

# make uninstall: back to the files that were there before.
$MAKE -s -C "$root" uninstall DESTDIR="$d" PREFIX=/usr >"$st/uninstall.log" 2>&1 ||
  { cat "$st/uninstall.log"; fail "make uninstall failed"; }
after_uninstall=$(files)
if [ "$after_uninstall" != "$before" ]; then
  diff <(echo "$before") <(echo "$after_uninstall") | sed 's/^/  /' || true
  fail "make uninstall did not leave exactly the files there before (< before, > after)"
fi

# KEEP_DEBUG=1 installs the debug info.
$MAKE -s -C "$root" install DESTDIR="$st/debug" PREFIX=/usr KEEP_DEBUG=1 >"$st/install-debug.log" 2>&1 ||
  { cat "$st/install-debug.log"; fail "make install KEEP_DEBUG=1 failed"; }
readelf -S "$st/debug/usr/lib/$REALNAME" | grep -q '\.debug_info' || fail "KEEP_DEBUG=1 stripped libzcio.so"

echo "PASS: make install (soname $SONAME, symbols at $SYMVER, zcio.pc $VERSION): prog.c built shared," \
  "static and with zcio-static through pkg-config, zcp from DESTDIR, man pages; make uninstall removed all $count files"
