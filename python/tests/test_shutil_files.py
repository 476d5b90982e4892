"""zcio.copyfile, copy and copy2 against shutil's, side by side on the same inputs:
the same result, the same exception (type, errno, filename, message), the same
files afterwards."""

import os
import random
import socket

import pytest

from conftest import side_by_side, write

FUNCS = ["copyfile", "copy", "copy2"]


def plain():
    write("src", random.Random(1).randbytes(100_000) + b"tail", 0o640)
    os.setxattr("src", "user.note", b"kept by copy2")


def sparse():
    with open("src", "wb") as f:
        f.write(b"head")
        f.seek(32 << 20)
        f.write(b"tail")


CASES = {
    # name: (build, src, dst, kwargs)
    "new destination": (plain, "src", "dst", {}),
    "empty file": (lambda: write("src", b""), "src", "dst", {}),
    "sparse file": (sparse, "src", "dst", {}),
    "existing destination": (lambda: (plain(), write("dst", b"old contents", 0o604)), "src", "dst", {}),
    "executable source": (lambda: write("src", b"#!/bin/sh\n", 0o755), "src", "dst", {}),
    "private source": (lambda: write("src", b"secret", 0o600), "src", "dst", {}),
    "missing source": (lambda: None, "nope", "dst", {}),
    "source is a directory": (lambda: os.mkdir("d"), "d", "dst", {}),
    "source with a trailing slash": (plain, "src/", "dst", {}),
    "destination is a directory": (lambda: (plain(), os.mkdir("dir")), "src", "dir", {}),
    "destination directory with a slash": (lambda: (plain(), os.mkdir("dir")), "src", "dir/", {}),
    "destination's directory missing": (plain, "src", "no/such/dst", {}),
    "destination ends in a slash, missing": (plain, "src", "newdir/", {}),
    "destination ends in a slash, a file": (lambda: (plain(), write("f", b"x")), "src", "f/", {}),
    "destination is the source": (plain, "src", "src", {}),
    "destination is a hard link of the source": (lambda: (plain(), os.link("src", "hl")), "src", "hl", {}),
    "destination is a symlink to the source": (lambda: (plain(), os.symlink("src", "sl")), "src", "sl", {}),
    "source is a symlink to the destination": (lambda: (plain(), os.symlink("src", "sl")), "sl", "src", {}),
    "symlink source, followed": (lambda: (plain(), os.symlink("src", "link")), "link", "dst", {}),
    "symlink source, not followed": (lambda: (plain(), os.symlink("src", "link")), "link", "dst",
                                     {"follow_symlinks": False}),
    "symlink source, not followed, destination exists": (
        lambda: (plain(), os.symlink("src", "link"), write("dst", b"x")), "link", "dst",
        {"follow_symlinks": False}),
    "dangling symlink source": (lambda: os.symlink("nowhere", "link"), "link", "dst", {}),
    "dangling symlink source, not followed": (lambda: os.symlink("nowhere", "link"), "link", "dst",
                                              {"follow_symlinks": False}),
    "destination is a symlink to a file": (
        lambda: (plain(), write("target", b"old"), os.symlink("target", "dst")), "src", "dst", {}),
    "FIFO source": (lambda: os.mkfifo("fifo"), "fifo", "dst", {}),
    "FIFO destination": (lambda: (plain(), os.mkfifo("fifo")), "src", "fifo", {}),
    "bytes paths": (plain, b"src", b"dst", {}),
    "pathlib paths": (plain, "PATH:src", "PATH:dst", {}),
}


def path_arg(p):
    if isinstance(p, str) and p.startswith("PATH:"):
        import pathlib
        return pathlib.Path(p[5:])
    return p


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("case", list(CASES))
def test_same_as_shutil(work, func, case):
    build, src, dst, kw = CASES[case]
    side_by_side(work, build, lambda mod: getattr(mod, func)(path_arg(src), path_arg(dst), **kw))


@pytest.mark.parametrize("func", FUNCS)
def test_socket_source(work, func):
    """A Unix socket in the file system: open() says ENXIO, for both."""
    def build():
        s = socket.socket(socket.AF_UNIX)
        s.bind("sock")
        s.close()
    side_by_side(work, build, lambda mod: getattr(mod, func)("sock", "dst"))


@pytest.mark.parametrize("func", FUNCS)
def test_character_device_source(work, func):
    """/dev/null reads as empty: both make an empty file."""
    side_by_side(work, lambda: None, lambda mod: getattr(mod, func)("/dev/null", "dst"))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_copyfile_mode_of_a_new_file_follows_the_umask(work, umask):
    old = os.umask(umask)
    try:
        side_by_side(work, lambda: write("src", b"data", 0o755), lambda mod: mod.copyfile("src", "dst"))
    finally:
        os.umask(old)


def test_copy_function_of_shutil_copytree(work):
    """zcio's functions as shutil.copytree's copy_function give shutil's tree."""
    import shutil

    def build():
        os.makedirs("t/a/b")
        write("t/a/b/f", b"x" * 5000, 0o751)
        write("t/g", b"y", 0o600)
        os.symlink("g", "t/link")

    for name in FUNCS:
        side_by_side(os.path.join(work, name), build,
                     lambda mod: shutil.copytree("t", "out", copy_function=getattr(mod, name)))
