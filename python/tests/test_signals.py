"""Ctrl-C: SIGINT sent to a process in the middle of a long zcio copy raises
KeyboardInterrupt there, promptly, and leaves the destination as it was, with no
temporary file beside it."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import os, sys, zcio
    from zcio import _zcio
    what, d = sys.argv[1], sys.argv[2]
    big, dst = os.path.join(d, "big"), os.path.join(d, "out", "dst")
    calls = {
        # One file, zcio's progress callback looking for signals.
        "copy_file": lambda: zcio.copy_file(big, dst, sparse=False),
        "copy_file with progress": lambda: zcio.copy_file(big, dst, sparse=False, progress=lambda d, t: None),
        "directio_copy": lambda: zcio.directio_copy(big, dst, sparse=False),
        # A tree, and a batch: the calling thread watches while others copy.
        "copy_tree": lambda: zcio.copy_tree(os.path.join(d, "tree"), os.path.join(d, "out", "tree"), sparse=False),
        "copy_batch": lambda: _zcio.copy_batch([(big, dst)], dict(zcio._core._file_opts(), sparse=False)),
        # A descriptor call, in pieces.
        "sendfile": lambda: zcio.sendfile(open(os.devnull, "wb"), open(os.path.join(d, "huge"), "rb")),
    }
    print("started", flush=True)
    try:
        calls[what]()
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(0)
    print("finished", flush=True)
    sys.exit(3)
""")


@pytest.fixture
def setup(work):
    os.makedirs(os.path.join(work, "out"))
    os.makedirs(os.path.join(work, "tree"))
    # Sparse sources copied with sparse=False: zeros written for seconds, far more
    # than the test waits, yet nothing to write beforehand. zcio preallocates the
    # whole destination first, so the source takes at most half the free space.
    st = os.statvfs(work)
    size = min(32 << 30, st.f_bavail * st.f_frsize // 2) & ~((1 << 20) - 1)
    assert size >= 2 << 30, f"{work}: {size >> 20} MiB for the source; the test needs 4 GiB free"
    with open(os.path.join(work, "big"), "wb") as f:
        f.truncate(size)
    os.link(os.path.join(work, "big"), os.path.join(work, "tree", "big"))
    with open(os.path.join(work, "huge"), "wb") as f:
        f.truncate(1 << 40)
    with open(os.path.join(work, "out", "dst"), "wb") as f:
        f.write(b"what was there before")
    return work


def snapshot_out(work):
    out = os.path.join(work, "out")
    result = {}
    for dirpath, dirnames, filenames in os.walk(out):
        for n in filenames:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                result[os.path.relpath(p, out)] = f.read(100)
        for n in dirnames:
            result[os.path.relpath(os.path.join(dirpath, n), out) + "/"] = None
    return result


@pytest.mark.parametrize("what", ["copy_file", "copy_file with progress", "directio_copy",
                                  "copy_tree", "copy_batch", "sendfile"])
def test_sigint_interrupts_a_long_copy(setup, what):
    work = setup
    before = snapshot_out(work)
    p = subprocess.Popen([sys.executable, "-c", CHILD, what, work], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "started"
        time.sleep(0.5)
        assert p.poll() is None, p.communicate()
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (p.returncode, out.strip()) == (0, "KeyboardInterrupt"), err
    assert took < 5, f"{took:.1f} s from SIGINT to the end"
    after = snapshot_out(work)
    if what == "copy_tree":
        # The tree's root was made; the file being copied was not put in place.
        assert after == dict(before, **{"tree/": None})
    else:
        assert after == before
