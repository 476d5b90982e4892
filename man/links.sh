#!/bin/sh
# Prints "DIR PAGE NAME" for each name a man page documents besides its own, read
# from its NAME line ("a, b \- what they do"): `make install` links NAME to PAGE
# in DIR (man3 ...), `make uninstall` removes the link.
# usage: man/links.sh PAGE...
for p in "$@"; do
  page=${p##*/}
  sec=${page##*.}
  dir=${p%/*}
  sed -n '/^\.SH NAME/{n;s/ *\\-.*//;s/,/ /g;p;q;}' "$p" | tr ' ' '\n' | while read -r name; do
    [ -n "$name" ] && [ "$name.$sec" != "$page" ] && echo "${dir##*/} $page $name.$sec"
  done
done
exit 0
