#!/bin/sh
# `make package-test`: the crate as `cargo publish` would upload it. Its metadata is
# complete, each licence it names has its file, CHANGELOG.md has a section for
# VERSION, and `cargo package` (what `cargo publish --dry-run` runs) packs and
# builds it without a warning. --allow-dirty: make test also runs on uncommitted work.
# usage: tools/check_package.sh VERSION
version=$1
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail=0
bad() { echo "FAIL: package-test: $*"; fail=1; }

cargo metadata --no-deps --format-version 1 >"$log" || exit 1
python3 - "$log" <<'PY' || fail=1
import json, sys
pkg = next(p for p in json.load(open(sys.argv[1]))["packages"] if p["name"] == "zcio")
for key in ("description", "license", "repository", "documentation", "readme",
            "keywords", "categories", "rust_version"):
    if not pkg.get(key):
        print(f"FAIL: package-test: Cargo.toml has no {key.replace('_', '-')}")
        sys.exit(1)
PY
for f in LICENSE-MIT LICENSE-APACHE; do [ -s "$f" ] || bad "$f is missing"; done
grep -q 'Permission is hereby granted' LICENSE-MIT || bad "LICENSE-MIT is not the MIT licence"
grep -q 'Apache License' LICENSE-APACHE || bad "LICENSE-APACHE is not the Apache licence"
grep -q "^## \[$version\]" CHANGELOG.md || bad "CHANGELOG.md has no section '## [$version]'"

if ! cargo package --allow-dirty >"$log" 2>&1; then
  cat "$log"
  bad "cargo package failed"
elif grep -q '^warning' "$log"; then
  grep '^warning' "$log"
  bad "cargo package warned"
fi
files=$(cargo package --allow-dirty --list 2>/dev/null)
for f in README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE src/lib.rs; do
  echo "$files" | grep -qx "$f" || bad "the package lacks $f"
done
[ $fail = 0 ] || exit 1
echo "PASS: package-test: metadata complete, licences, CHANGELOG $version, cargo package clean"
