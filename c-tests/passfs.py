#!/usr/bin/python3
"""A pass-through FUSE file system as libfuse2 file systems are (s3fs, rclone
mounts): no O_TMPFILE, no RENAME_NOREPLACE (libfuse2 has no rename flags), no
hard links, no extended attributes. For zcio's tests of ZC_F_EXCL there.

usage: passfs.py BACKING_DIR MOUNTPOINT    (runs in the foreground until unmounted)
"""
import errno
import os
import sys

try:
    import fusepy as fuse  # Debian's python3-fusepy
except ImportError:
    import fuse


class PassFS(fuse.Operations):
    def __init__(self, root):
        self.root = os.path.realpath(root)

    def _p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def getattr(self, path, fh=None):
        st = os.lstat(self._p(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime",
                "st_mtime", "st_ctime", "st_blocks")
        return {k: getattr(st, k) for k in keys}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._p(path))

    def access(self, path, mode):
        if not os.access(self._p(path), mode):
            raise fuse.FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._p(path), times)

    def statfs(self, path):
        s = os.statvfs(self._p(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
                "f_files", "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(s, k) for k in keys}

    def mkdir(self, path, mode):
        os.mkdir(self._p(path), mode)

    def rmdir(self, path):
        os.rmdir(self._p(path))

    def unlink(self, path):
        os.unlink(self._p(path))

    def rename(self, old, new):
        os.rename(self._p(old), self._p(new))

    def link(self, target, source):
        raise fuse.FuseOSError(errno.EPERM)

    def symlink(self, target, source):
        raise fuse.FuseOSError(errno.EPERM)

    def getxattr(self, path, name, position=0):
        raise fuse.FuseOSError(errno.ENOTSUP)

    def listxattr(self, path):
        raise fuse.FuseOSError(errno.ENOTSUP)

    def setxattr(self, path, name, value, options, position=0):
        raise fuse.FuseOSError(errno.ENOTSUP)

    def removexattr(self, path, name):
        raise fuse.FuseOSError(errno.ENOTSUP)

    def open(self, path, flags):
        return os.open(self._p(path), flags & ~(os.O_CREAT | os.O_EXCL))

    def create(self, path, mode, fi=None):
        return os.open(self._p(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is None:
            os.truncate(self._p(path), length)
        else:
            os.ftruncate(fh, length)

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        os.fsync(fh)

    def release(self, path, fh):
        os.close(fh)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: passfs.py BACKING_DIR MOUNTPOINT\n")
        return 2
    fuse.FUSE(PassFS(sys.argv[1]), sys.argv[2], foreground=True, nothreads=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
