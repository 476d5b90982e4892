#!/bin/sh
# Runs a command on a file system the test makes itself: a loop-mounted image of
# FSTYPE, SIZE MiB. Every argument "{}" becomes the mount directory. Exits 77 when
# this machine cannot (not root, no mkfs for it, no loop devices).
# usage: with_mount.sh FSTYPE SIZE_MIB COMMAND [ARGS...]
fstype=$1 size=$2
shift 2
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting $fstype needs root"; exit 77; }
command -v "mkfs.$fstype" >/dev/null || { echo "SKIP: no mkfs.$fstype"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/zcio-mnt-XXXXXX") || exit 1
img=$work/fs.img mnt=$work/mnt
cleanup() { umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
mkdir "$mnt" && truncate -s "${size}M" "$img" || exit 1
"mkfs.$fstype" -q "$img" >/dev/null 2>&1 || "mkfs.$fstype" "$img" >/dev/null 2>&1 ||
  { echo "SKIP: mkfs.$fstype failed"; exit 77; }
mount -o loop -t "$fstype" "$img" "$mnt" || { echo "SKIP: cannot loop-mount $fstype"; exit 77; }
for a; do
  shift
  if [ "$a" = "{}" ]; then set -- "$@" "$mnt"; else set -- "$@" "$a"; fi
done
"$@"
