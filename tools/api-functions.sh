#!/bin/sh
# Prints the names of the functions include/zcio.h declares, one a line, sorted:
# the list the symbol, man page and Doxygen checks hold the library to.
# cbindgen writes each declaration from the first column as "TYPE NAME(".
# usage: tools/api-functions.sh [HEADER]
header=${1:-include/zcio.h}
names=$(sed -n 's/^[a-z][a-z0-9_ ]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
if [ -z "$names" ]; then
  echo "api-functions.sh: no function declarations found in $header" >&2
  exit 1
fi
printf '%s\n' "$names"
