#!/bin/sh
# Prints "DIR PAGE NAME" for each name a man page documents besides its own, read
# from its NAME section ("a, b \- what they do", over as many lines as it takes):
# `make install` links NAME to PAGE in DIR (man3 ...), `make uninstall` removes it.
# usage: man/links.sh PAGE...
for p in "$@"; do
  page=${p##*/}
  sec=${page##*.}
  dir=${p%/*}
  sed -n '/^\.SH NAME/,/\\-/{/^\.SH/d;s/ *\\-.*//;s/,/ /g;p;}' "$p" | tr ' ' '\n' | while read -r name; do
    [ -n "$name" ] && [ "$name.$sec" != "$page" ] && echo "${dir##*/} $page $name.$sec"
  done
done
exit 0
