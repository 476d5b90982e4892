#!/bin/sh
# `make man-test`: every man page passes mandoc's lint (style level) and renders
# with man(1) without a warning; every function in the header is named by a page
# (its NAME line), and every name in a section 3 page is a function of the header;
# every long option `zcp --help` lists is in zcp.1.
# usage: man/check.sh HEADER ZCP PAGE...
header=$1 zcp=$2
shift 2
here=$(dirname "$0")
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for p in "$@"; do
  out=$(mandoc -T lint -W style "$p" 2>&1) || [ -n "$out" ] || out="mandoc -T lint failed"
  [ -z "$out" ] || bad "$p: mandoc -T lint: $out"
  err=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
  [ -z "$err" ] || bad "$p: man -l: $err"
  MANWIDTH=80 man -l "$p" 2>/dev/null | grep -q '^NAME' || bad "$p: man -l renders no NAME section"
done

names=$( { for p in "$@"; do case $p in *.3) basename "$p" .3 ;; esac; done
           "$here/links.sh" "$@" | awk '$3 ~ /\.3$/ { sub(/\.3$/, "", $3); print $3 }'; } | sort -u)
funcs=$("$here/../tools/api-functions.sh" "$header") || exit 1
for f in $funcs; do
  echo "$names" | grep -qx "$f" || bad "$f (in $header) has no man page naming it"
done
for n in $names; do
  echo "$funcs" | grep -qx "$n" || bad "$n has a man page but is not in $header"
done

# Every flag and zc_stats field of the header is described in zc_options_init.3.
opts3=
for p in "$@"; do case $p in */zc_options_init.3) opts3=$p ;; esac; done
if [ -z "$opts3" ]; then
  bad "no zc_options_init.3 among the pages"
else
  text=$(mandoc -T ascii "$opts3" | col -b)
  fields=$(sed -n '/^typedef struct zc_stats {/,/^} zc_stats;/p' "$header" |
           sed -n 's/^ *u*int[0-9]*_t \([a-z_]*\).*;/\1/p')
  for c in $(grep -ow 'ZC_F_[A-Z_]*[A-Z]\|ZC_UNCACHED_[A-Z_]*[A-Z]' "$header" | sort -u) $fields; do
    echo "$text" | grep -qw -- "$c" || bad "zc_options_init.3 does not describe $c (in $header)"
  done
fi

zcp1=
for p in "$@"; do case $p in */zcp.1) zcp1=$p ;; esac; done
if [ -z "$zcp1" ]; then
  bad "no zcp.1 among the pages"
else
  text=$(mandoc -T ascii "$zcp1" | col -b)
  for o in $("$zcp" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    echo "$text" | grep -q -- "$o" || bad "zcp.1 does not document $o (zcp --help lists it)"
  done
fi

[ $fail = 0 ] || exit 1
echo "PASS: man pages ($#): mandoc -T lint and man -l clean, every function of $header, flag and zc_stats field and every zcp option documented"
