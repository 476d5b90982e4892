#!/usr/bin/env python3
"""Using zcio from Python through its C ABI with ctypes (standard library only).

The Python package (`pip install .`, `import zcio`) is the way to use zcio from
Python; this shows the C ABI as any language with an FFI sees it.

usage: ctypes_copy.py [--lib PATH]

Shows three things, one line per step:
  (a) copying a file with zc_copy_file() and reading what zc_stats says;
  (b) sending a file into a socket with zc_sendfile() while a thread reads the
      other end;
  (c) zcio's convention of returning -errno, turned into OSError by check().

The library is --lib PATH, else $ZCIO_LIB, else build/lib/libzcio.so in the
repository. Exits 0 when every step checked out, non-zero otherwise.
"""

import argparse
import ctypes
import errno
import os
import socket
import sys
import tempfile
import threading

# From include/zcio.h.
ZC_TO_EOF = 2**64 - 1
ZC_METHOD_COUNT = 8
METHODS = ["auto", "direct", "reflink", "copy_file_range", "sendfile", "splice", "mmap",
           "read_write"]
STEPS = ["none", "args", "open_src", "open_dst", "read", "write", "size", "sync", "commit",
         "metadata", "cancel", "resource"]

zc_progress_fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p)


# Field for field as in include/zcio.h: zcio reads and writes these structs in
# place, so a wrong type or order here corrupts memory rather than raising.
class ZcOptions(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("method", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("queue_depth", ctypes.c_uint32),
        ("chunk_size", ctypes.c_uint64),
        ("progress", zc_progress_fn),
        ("progress_arg", ctypes.c_void_p),
        ("engine", ctypes.c_uint32),
    ]


class ZcStats(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("method", ctypes.c_uint32),
        ("fallbacks", ctypes.c_uint32),
        ("alignment", ctypes.c_uint32),
        ("bytes", ctypes.c_uint64),
        ("io_calls", ctypes.c_uint64),
        ("elapsed_ns", ctypes.c_uint64),
        ("engine", ctypes.c_uint32),
        ("failed_step", ctypes.c_uint32),
        ("fallback_errno", ctypes.c_int32 * ZC_METHOD_COUNT),
        ("xattrs_copied", ctypes.c_uint32),
        ("xattrs_skipped", ctypes.c_uint32),
    ]


lib = None  # libzcio, once load() has run


def load(path):
    global lib
    lib = ctypes.CDLL(path)
    # Without argtypes ctypes would pass Python ints as C int and truncate
    # 64-bit values such as ZC_TO_EOF; without restype it would cut int64_t
    # results and pointers to int.
    lib.zc_version.argtypes = []
    lib.zc_version.restype = ctypes.c_char_p
    lib.zc_strerror.argtypes = [ctypes.c_int]
    lib.zc_strerror.restype = ctypes.c_char_p
    # As the header's zc_options_init()/zc_stats_init() macros do, pass our own
    # sizeof: zcio then writes no byte past these Structures, and reads none past
    # them, even when the library is newer than this file.
    lib.zc_options_init_sized.argtypes = [ctypes.POINTER(ZcOptions), ctypes.c_size_t]
    lib.zc_options_init_sized.restype = None
    lib.zc_stats_init_sized.argtypes = [ctypes.POINTER(ZcStats), ctypes.c_size_t]
    lib.zc_stats_init_sized.restype = None
    lib.zc_copy_file.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ZcOptions),
                                 ctypes.POINTER(ZcStats)]
    lib.zc_copy_file.restype = ctypes.c_int
    lib.zc_sendfile.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                                ctypes.c_uint64, ctypes.c_uint32]
    lib.zc_sendfile.restype = ctypes.c_int64


def new_options():
    opts = ZcOptions()
    lib.zc_options_init_sized(ctypes.byref(opts), ctypes.sizeof(opts))
    return opts


def new_stats():
    stats = ZcStats()
    lib.zc_stats_init_sized(ctypes.byref(stats), ctypes.sizeof(stats))
    return stats


def check(ret):
    """zcio returns -errno and leaves errno alone: make that an OSError."""
    if ret < 0:
        raise OSError(-ret, lib.zc_strerror(ret).decode())
    return ret


def name(names, value):
    return names[value] if value < len(names) else str(value)


def expect(cond, what):
    # Not assert: python -O would strip the checks this example exists to show.
    if not cond:
        raise AssertionError(what)


def step_copy(tmp):
    src, dst = os.path.join(tmp, "src.bin"), os.path.join(tmp, "dst.bin")
    data = os.urandom(3 * 1024 * 1024 + 12345)  # an unaligned tail on purpose
    with open(src, "wb") as f:
        f.write(data)
    opts, stats = new_options(), new_stats()
    # Paths are bytes to zcio; os.fsencode gives exactly what the OS would get.
    check(lib.zc_copy_file(os.fsencode(src), os.fsencode(dst), ctypes.byref(opts),
                           ctypes.byref(stats)))
    with open(dst, "rb") as f:
        expect(f.read() == data, "the copy differs from the source")
    print("(a) zc_copy_file: %d bytes, method %s, %d I/O calls, identical"
          % (stats.bytes, name(METHODS, stats.method), stats.io_calls))


def step_sendfile(tmp):
    src = os.path.join(tmp, "send.bin")
    # More than a socket buffer holds, so the send only completes while the reader reads.
    data = os.urandom(2 * 1024 * 1024 + 7)
    with open(src, "wb") as f:
        f.write(data)
    received = []

    def reader(sock):
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                return
            received.append(chunk)

    a, b = socket.socketpair()
    # ctypes drops the GIL during the call, so this thread runs alongside zc_sendfile.
    t = threading.Thread(target=reader, args=(b,), daemon=True)
    t.start()
    try:
        with open(src, "rb") as f:
            off = ctypes.c_int64(0)
            n = check(lib.zc_sendfile(a.fileno(), f.fileno(), ctypes.byref(off), ZC_TO_EOF, 0))
    finally:
        # EOF for the reader even when the send failed, so the thread always ends.
        a.close()
        t.join(30)
        b.close()
    expect(not t.is_alive(), "the reader thread did not finish")
    expect(n == len(data) and off.value == len(data),
           "zc_sendfile moved %d bytes (offset %d), expected %d" % (n, off.value, len(data)))
    expect(b"".join(received) == data, "the bytes read from the socket differ from the file")
    print("(b) zc_sendfile: %d bytes through a socketpair, identical" % n)


def step_errors(tmp):
    missing = os.path.join(tmp, "no-such-file")
    stats = new_stats()
    ret = lib.zc_copy_file(os.fsencode(missing), os.fsencode(os.path.join(tmp, "out")), None,
                           ctypes.byref(stats))
    try:
        check(ret)
    except OSError as e:
        expect(e.errno == errno.ENOENT, "expected ENOENT, got %r" % e)
        print("(c) zc_copy_file on a missing source: returned %d -> OSError(%s, %r), "
              "failed_step %s" % (ret, errno.errorcode[e.errno], e.strerror,
                                  name(STEPS, stats.failed_step)))
    else:
        raise AssertionError("copying a missing file returned %d, not an error" % ret)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description="zcio from Python through ctypes")
    ap.add_argument("--lib", default=os.environ.get("ZCIO_LIB")
                    or os.path.join(root, "build", "lib", "libzcio.so"),
                    help="path of libzcio.so (default: $ZCIO_LIB, else build/lib/libzcio.so)")
    args = ap.parse_args()
    try:
        load(args.lib)
        print("zcio %s from %s" % (lib.zc_version().decode(), args.lib))
        with tempfile.TemporaryDirectory(prefix="zcio-py-") as tmp:
            step_copy(tmp)
            step_sendfile(tmp)
            step_errors(tmp)
    except (OSError, AssertionError, AttributeError) as e:
        print("ctypes_copy.py: FAILED: %s" % e, file=sys.stderr)
        return 1
    print("ctypes_copy.py: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
