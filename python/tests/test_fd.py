"""The descriptor calls on real files, sockets and pipes, given as ints or as
objects with fileno()."""

import errno
import os
import socket
import threading

import pytest

import zcio
from conftest import write

DATA = os.urandom(2 * 1024 * 1024 + 7)  # more than a socket buffer holds


@pytest.fixture
def src(work):
    p = os.path.join(work, "src")
    write(p, DATA)
    return p


def drain(sock, into):
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return
        into.append(chunk)


def test_sendfile_file_to_socket(src):
    a, b = socket.socketpair()
    got = []
    t = threading.Thread(target=drain, args=(b, got))
    t.start()
    with open(src, "rb") as f:
        n = zcio.sendfile(a, f)          # objects with fileno()
        assert n == len(DATA) and f.tell() == len(DATA)
    a.close()
    t.join(30)
    b.close()
    assert b"".join(got) == DATA


def test_sendfile_with_an_offset_leaves_the_file_offset_alone(src):
    a, b = socket.socketpair()
    got = []
    t = threading.Thread(target=drain, args=(b, got))
    t.start()
    fd = os.open(src, os.O_RDONLY)
    try:
        n = zcio.sendfile(a.fileno(), fd, 100, 1000)   # ints
        assert n == 1000 and os.lseek(fd, 0, os.SEEK_CUR) == 0
    finally:
        os.close(fd)
    a.close()
    t.join(30)
    b.close()
    assert b"".join(got) == DATA[100:1100]


def test_splice_socket_to_file(work):
    a, b = socket.socketpair()

    def feed():
        a.sendall(DATA)
        a.close()
    t = threading.Thread(target=feed)
    t.start()
    dst = os.path.join(work, "dst")
    with open(dst, "wb") as f:
        n = zcio.splice(b, f)
    t.join(30)
    b.close()
    assert n == len(DATA)
    with open(dst, "rb") as f:
        assert f.read() == DATA


def test_splice_pipe_with_offsets(src, work):
    r, w = os.pipe()
    with open(src, "rb") as f:
        t = threading.Thread(target=lambda: (zcio.splice(f, w, 5000, offset_src=10), os.close(w)))
        t.start()
        got = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            got += chunk
        t.join(30)
        assert f.tell() == 0
    os.close(r)
    assert got == DATA[10:5010]


def test_copy_file_range_with_offsets(src, work):
    dst = os.path.join(work, "dst")
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(b"HEAD")   # buffered: flushed before zcio writes at the descriptor's offset
        n = zcio.copy_file_range(f, g, 1 << 20, offset_src=7)
        assert n == 1 << 20 and f.tell() == 0
        n = zcio.copy_file_range(f.fileno(), g.fileno(), None, 0, 4 + (1 << 20))
        assert n == len(DATA)
    with open(dst, "rb") as g:
        assert g.read() == b"HEAD" + DATA[7:7 + (1 << 20)] + DATA


def test_a_buffered_reader_continues_from_where_python_read(src, work):
    dst = os.path.join(work, "dst")
    with open(src, "rb") as f, open(dst, "wb") as g:
        assert f.read(10) == DATA[:10]   # Python read ahead far beyond these 10 bytes
        zcio.copy_file_range(f, g)
    with open(dst, "rb") as g:
        assert g.read() == DATA[10:]


def test_mmap_copy(src, work):
    dst = os.path.join(work, "dst")
    with open(src, "rb") as f, open(dst, "wb") as g:
        assert zcio.mmap_copy(f, g) == len(DATA)
    with open(dst, "rb") as g:
        assert g.read() == DATA


def test_reflink(src, work):
    dst = os.path.join(work, "dst")
    with open(src, "rb") as f, open(dst, "wb") as g:
        try:
            zcio.reflink(f, g)
        except OSError as e:
            # ext4 and tmpfs share no blocks.
            assert e.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL)
            assert e.step == "write"
            return
    with open(dst, "rb") as g:
        assert g.read() == DATA


def test_bad_descriptors(src):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as e:
        zcio.sendfile(w, r)
    assert e.value.errno == errno.EBADF
    with pytest.raises(OSError) as e:
        zcio.copy_file_range(-1, 1)
    assert e.value.errno == errno.EBADF
    f = open(src, "rb")
    f.close()
    with pytest.raises(ValueError):
        zcio.sendfile(1, f)


def test_nonblock_returns_at_once(work):
    a, b = socket.socketpair()
    b.setblocking(False)
    with open(os.path.join(work, "dst"), "wb") as f:
        with pytest.raises(BlockingIOError):
            zcio.splice(b, f, nonblock=True)
        a.sendall(b"some")
        assert zcio.splice(b, f, nonblock=True) == 4
    a.close()
    b.close()


def test_a_reader_that_has_gone_is_broken_pipe(src):
    a, b = socket.socketpair()
    b.close()
    with pytest.raises(BrokenPipeError):
        with open(src, "rb") as f:
            zcio.sendfile(a, f)
    a.close()


def test_directio_advice_and_alignment(src):
    with open(src, "rb") as f:
        al = zcio.dio_alignment(f)
        if al is None:
            pytest.skip("no Direct I/O on this file system")
        mem, off, source = al
        assert mem >= 1 and off >= 512 and source in ("statx", "block_device", "default")
        zcio.directio(f, True)
        assert os.get_blocking(f.fileno())  # the flags it changes are O_DIRECT only
        zcio.directio(f, False)
    r, w = os.pipe()
    with pytest.raises(OSError) as e:
        zcio.directio(r, True)
    assert e.value.errno == errno.ENOTTY
    os.close(r)
    os.close(w)
