#!/usr/bin/python3
"""A read-only FUSE file system with faulty files, for zcio's test_faults.

usage: faultfs.py MOUNTPOINT    (runs in the foreground until unmounted)

  eio.bin   4 MiB; any read that reaches byte 1 MiB or beyond fails with EIO.
  zero.bin  getattr says size 0, yet reads return 3 MiB of data (opened with
            direct_io, so the kernel asks the file system instead of trusting the size).
  slow.bin  3 MiB; the read at offset 0 takes SLOW_SECONDS.

Byte i of either file is pattern(i) below; test_faults.c computes the same.
"""
import errno
import stat
import sys
import time

try:
    import fusepy as fuse  # Debian's python3-fusepy
except ImportError:
    import fuse

MIB = 1 << 20
EIO_SIZE = 4 * MIB
EIO_AT = 1 * MIB
ZERO_DATA = 3 * MIB
SLOW_SIZE = 3 * MIB
SLOW_SECONDS = 0.8


def pattern(off, size):
    # byte i = (i * 131 + (i >> 12)) & 0xff, built a 4 KiB page at a time
    out = bytearray(size)
    for i in range(size):
        j = off + i
        out[i] = (j * 131 + (j >> 12)) & 0xFF
    return bytes(out)


def make(total):
    return pattern(0, total)


class FaultFS(fuse.Operations):
    def __init__(self):
        self.eio = make(EIO_SIZE)
        self.zero = self.eio[:ZERO_DATA]
        self.now = time.time()

    def getattr(self, path, fh=None):
        common = dict(st_uid=0, st_gid=0, st_atime=self.now, st_mtime=self.now,
                      st_ctime=self.now)
        if path == "/":
            return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2, **common)
        if path == "/eio.bin":
            return dict(st_mode=stat.S_IFREG | 0o644, st_nlink=1, st_size=EIO_SIZE, **common)
        if path == "/zero.bin":
            return dict(st_mode=stat.S_IFREG | 0o644, st_nlink=1, st_size=0, **common)
        if path == "/slow.bin":
            return dict(st_mode=stat.S_IFREG | 0o644, st_nlink=1, st_size=SLOW_SIZE, **common)
        raise fuse.FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", "eio.bin", "zero.bin", "slow.bin"]

    def open(self, path, fi):
        if path not in ("/eio.bin", "/zero.bin", "/slow.bin"):
            raise fuse.FuseOSError(errno.ENOENT)
        if fi.flags & 3 != 0:  # O_RDONLY only
            raise fuse.FuseOSError(errno.EROFS)
        # size 0 is a lie for zero.bin: make the kernel pass every read through
        fi.direct_io = 1 if path == "/zero.bin" else 0
        fi.keep_cache = 0
        return 0

    def read(self, path, size, offset, fi):
        if path == "/eio.bin":
            if offset + size > EIO_AT and offset < EIO_SIZE:
                raise fuse.FuseOSError(errno.EIO)
            return self.eio[offset:offset + size]
        if path == "/zero.bin":
            return self.zero[offset:offset + size]
        if path == "/slow.bin":
            if offset == 0:
                time.sleep(SLOW_SECONDS)
            return self.eio[offset:min(offset + size, SLOW_SIZE)]
        raise fuse.FuseOSError(errno.ENOENT)

    def release(self, path, fi):
        return 0


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: faultfs.py MOUNTPOINT\n")
        return 2
    fuse.FUSE(FaultFS(), sys.argv[1], foreground=True, raw_fi=True, ro=True,
              nothreads=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
