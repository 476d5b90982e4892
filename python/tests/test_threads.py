"""The GIL is released while zcio copies: other threads run Python meanwhile, and
copies in two threads are in flight at once."""

import os
import threading
import time

import zcio
from conftest import write

MiB = 1 << 20


def big_file(path, mib):
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)


def test_python_runs_while_a_copy_waits(work):
    """A copy from a FIFO waits in the kernel for its writer; the writer is this
    thread, in Python. Were the GIL held by the waiting copy, it would never come."""
    fifo = os.path.join(work, "fifo")
    os.mkfifo(fifo)
    result = {}

    def copier():
        result["stats"] = zcio.copy_file(fifo, os.path.join(work, "dst"))
    t = threading.Thread(target=copier)
    t.start()
    time.sleep(0.2)  # the copier is now blocked opening the FIFO
    with open(fifo, "wb") as f:
        for i in range(64):
            f.write(bytes([i]) * 65536)
    t.join(30)
    assert not t.is_alive()
    assert result["stats"].bytes == 64 * 65536


def test_two_copies_overlap(work):
    """Two large copies in two threads: each reports while the other is still
    copying. A copy holding the GIL would run alone, its reports all before or all
    after the other's."""
    for n in "ab":
        big_file(os.path.join(work, n), 192)
    times = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def run(n):
        barrier.wait()
        zcio.copy_file(os.path.join(work, n), os.path.join(work, n + ".copy"), method="read_write",
                       progress=lambda d, t: times[n].append(time.monotonic()))
    threads = [threading.Thread(target=run, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    a, b = times["a"], times["b"]
    assert len(a) > 2 and len(b) > 2
    # Overlapping: each copy's first report came before the other's last one (the
    # reports are 30 ms apart, so neither need fall between two of the other's).
    assert a[0] < b[-1] and b[0] < a[-1], (a, b)
    for n in "ab":
        with open(os.path.join(work, n), "rb") as f, open(os.path.join(work, n + ".copy"), "rb") as g:
            assert f.read() == g.read()


def test_a_python_thread_counts_during_a_copy(work):
    big_file(os.path.join(work, "src"), 256)
    ticks = [0]
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.0005)
    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.05)
    before = ticks[0]
    t0 = time.monotonic()
    zcio.copy_file(os.path.join(work, "src"), os.path.join(work, "dst"), method="read_write")
    took = time.monotonic() - t0
    during = ticks[0] - before
    stop.set()
    t.join()
    # At 0.5 ms a tick the ticker could tick up to 2,000 times a second; without
    # the GIL it ticks all the while (a tenth of that is plenty to tell).
    assert took > 0.05 and during > took * 200, (took, during)


def test_many_threads_copy_at_once(work):
    src = os.path.join(work, "src")
    os.makedirs(src)
    for i in range(64):
        write(os.path.join(src, f"f{i}"), os.urandom(1000 * i))
    errors = []

    def worker(k):
        try:
            for i in range(k, 64, 8):
                zcio.copy2(os.path.join(src, f"f{i}"), os.path.join(work, f"t{k}-{i}"))
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for k in range(8):
        for i in range(k, 64, 8):
            with open(os.path.join(src, f"f{i}"), "rb") as f, open(os.path.join(work, f"t{k}-{i}"), "rb") as g:
                assert f.read() == g.read()


def test_tree_copies_in_two_threads(work):
    for n in "ab":
        for i in range(200):
            d = os.path.join(work, n, f"d{i % 5}")
            os.makedirs(d, exist_ok=True)
            write(os.path.join(d, f"f{i}"), os.urandom(2000))
    threads = [threading.Thread(target=zcio.copytree, args=(os.path.join(work, n), os.path.join(work, n + "2")))
               for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for n in "ab":
        assert sorted(os.listdir(os.path.join(work, n + "2"))) == [f"d{i}" for i in range(5)]
