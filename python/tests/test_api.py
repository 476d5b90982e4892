"""zcio's own calls from Python: copy_file's options and Stats, directio_copy,
copy_tree's TreeStats and errors, the errors' attributes, progress callables."""

import errno
import os
import random
import shutil
import threading

import pytest

import zcio
from conftest import write

DATA = random.Random(5).randbytes(3 * 1024 * 1024 + 12345)


@pytest.fixture
def src(work):
    p = os.path.join(work, "src")
    write(p, DATA, 0o640)
    return p


def read(p):
    with open(p, "rb") as f:
        return f.read()


def test_stats_say_what_ran(work, src):
    dst = os.path.join(work, "dst")
    s = zcio.copy_file(src, dst)
    assert isinstance(s, zcio.Stats)
    assert read(dst) == DATA
    assert s.method in zcio.METHODS and s.method != "auto"
    assert s.bytes == s.file_size == len(DATA)
    assert s.io_calls >= 1 and s.failed_step == "none"
    assert 0 < s.elapsed < 60 and s.elapsed_ns == pytest.approx(s.elapsed * 1e9, rel=1e-6)
    for method, err, why in s.fallbacks:
        # On ext4 the reflink is given up: "Operation not supported".
        assert method in zcio.METHODS and isinstance(err, int)
        assert why == (os.strerror(err) if err else "moved nothing; the next method looked")
    d = s.as_dict()
    assert d["method"] == s.method and d["fallbacks"] == s.fallbacks and d["bytes"] == len(DATA)
    assert s.method in repr(s)
    with pytest.raises(AttributeError):
        s.method = "x"


def test_uncached_reaches_zcio(work, src):
    """uncached=True goes through to zcio and Stats says how the cache was kept
    (what the cache holds afterwards is the Rust suite's to check)."""
    dst = os.path.join(work, "dst")
    s = zcio.copy_file(src, dst, uncached=True, reflink=False)
    assert (s.method, read(dst)) == ("read_write", DATA)
    assert s.uncached in ("dontcache", "dropped") and s.as_dict()["uncached"] == s.uncached
    assert zcio.copy_file(src, dst, reflink=False).uncached is None
    with pytest.raises(OSError) as e:
        zcio.copy_file(src, dst, method="sendfile", uncached=True)
    assert e.value.errno == errno.EINVAL


@pytest.mark.parametrize("method", ["copy_file_range", "sendfile", "splice", "mmap", "read_write"])
def test_forced_methods(work, src, method):
    dst = os.path.join(work, "dst")
    s = zcio.copy_file(src, dst, method=method)
    assert s.method == method and read(dst) == DATA


def test_reflink_without_fallback_is_an_error_where_unsupported(work, src):
    dst = os.path.join(work, "dst")
    try:
        s = zcio.copy_file(src, dst, method="reflink")
    except OSError as e:
        assert e.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL)
        assert isinstance(e.stats, zcio.Stats) and e.stats.failed_step == e.step
        assert not os.path.exists(dst)
    else:
        assert s.method == "reflink" and read(dst) == DATA


def test_directio_copy(work, src):
    dst = os.path.join(work, "dst")
    s = zcio.directio_copy(src, dst, fsync=True)
    assert read(dst) == DATA
    if s.method == "direct":
        assert s.alignment >= 512 and s.engine in zcio.ENGINES
    else:
        assert s.method == "read_write" and [f[0] for f in s.fallbacks] == ["direct"]


@pytest.mark.parametrize("engine", ["sync", "threads", "io_uring"])
def test_directio_engines(work, src, engine):
    dst = os.path.join(work, "dst")
    try:
        s = zcio.directio_copy(src, dst, engine=engine, queue_depth=4, chunk_size=1 << 20)
    except OSError as e:
        assert e.errno == errno.EOPNOTSUPP  # io_uring refused here
        return
    assert read(dst) == DATA
    if s.method == "direct":
        assert s.engine in (engine, "sync")


def test_bad_option_values():
    with pytest.raises(ValueError, match="method"):
        zcio.copy_file("a", "b", method="teleport")
    with pytest.raises(ValueError, match="engine"):
        zcio.directio_copy("a", "b", engine="warp")
    with pytest.raises(ValueError, match="follow"):
        zcio.copy_tree("a", "b", follow="sometimes")
    with pytest.raises(ValueError, match="preserve"):
        zcio.copy_tree("a", "b", preserve="colour")
    with pytest.raises(TypeError):
        zcio.copy_file(3.5, "b")


def test_sparse_files_keep_their_holes(work):
    src, kept, filled = (os.path.join(work, n) for n in ("src", "kept", "filled"))
    with open(src, "wb") as f:
        f.write(b"a")
        f.seek(64 << 20)
        f.write(b"z")
    s = zcio.copy_file(src, kept)
    assert s.file_size == (64 << 20) + 1 and s.bytes < s.file_size
    assert os.stat(kept).st_blocks * 512 < (1 << 20)
    zcio.copy_file(src, filled, sparse=False)
    assert os.stat(filled).st_blocks * 512 >= 64 << 20
    assert read(kept) == read(filled) == read(src)


def test_exclusive_and_errors_attributes(work, src):
    dst = os.path.join(work, "dst")
    write(dst, b"old")
    with pytest.raises(FileExistsError) as e:
        zcio.copy_file(src, dst, exclusive=True)
    assert (e.value.errno, e.value.filename, e.value.filename2) == (errno.EEXIST, dst, None)
    assert e.value.step == "open destination" and e.value.stats.bytes == 0
    assert read(dst) == b"old"
    with pytest.raises(FileNotFoundError) as e:
        zcio.copy_file(os.path.join(work, "missing"), dst)
    assert e.value.filename == os.path.join(work, "missing") and e.value.step == "open source"
    assert str(e.value) == f"[Errno 2] No such file or directory: {os.path.join(work, 'missing')!r}"
    with pytest.raises(shutil.SameFileError):
        zcio.copy_file(src, src)
    with pytest.raises(IsADirectoryError) as e:
        zcio.copy_file(src, work)
    assert e.value.filename == work


def test_preserve_options(work, src):
    os.utime(src, ns=(1_111_111_111_000_000_001, 1_222_222_222_000_000_002))
    os.setxattr(src, "user.k", b"v")
    dst = os.path.join(work, "dst")
    zcio.copy_file(src, dst, preserve_times=True, preserve_xattrs=True, preserve_mode=True)
    st = os.stat(dst)
    assert st.st_mtime_ns == 1_222_222_222_000_000_002 and oct(st.st_mode & 0o7777) == "0o640"
    assert os.getxattr(dst, "user.k") == b"v"


def test_in_place_keeps_the_inode(work, src):
    dst = os.path.join(work, "dst")
    write(dst, b"old")
    ino = os.stat(dst).st_ino
    zcio.copy_file(src, dst, in_place=True)
    assert os.stat(dst).st_ino == ino and read(dst) == DATA
    zcio.copy_file(src, dst)
    assert os.stat(dst).st_ino != ino  # replaced atomically by a new file


def test_progress_is_called_with_done_and_total(work, src):
    seen = []
    zcio.copy_file(src, os.path.join(work, "dst"), progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (len(DATA), len(DATA))
    assert all(t == len(DATA) for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_progress_of_a_stream_has_no_total(work):
    fifo = os.path.join(work, "fifo")
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as f:
            f.write(b"streamed" * 100000)
    t = threading.Thread(target=feed)
    t.start()
    seen = []
    s = zcio.copy_file(fifo, os.path.join(work, "dst"), progress=lambda d, t: seen.append(t))
    t.join()
    assert s.bytes == 800000 and seen and set(seen) == {None}


def test_an_exception_from_progress_stops_the_copy(work, src):
    dst = os.path.join(work, "dst")
    write(dst, b"old")

    class Stop(Exception):
        pass

    def progress(done, total):
        raise Stop(done)
    big = os.path.join(work, "big")
    with open(big, "wb") as f:
        f.truncate(1 << 30)
    with pytest.raises(Stop):
        zcio.copy_file(big, dst, sparse=False, progress=progress)
    assert read(dst) == b"old"
    assert sorted(os.listdir(work)) == ["big", "dst", "src"]


def tree(root):
    os.makedirs(os.path.join(root, "a", "b"))
    write(os.path.join(root, "a", "f"), b"f" * 10000, 0o600)
    write(os.path.join(root, "a", "b", "g"), b"g" * 20000)
    os.link(os.path.join(root, "a", "f"), os.path.join(root, "hard"))
    os.symlink("a/f", os.path.join(root, "link"))
    os.mkfifo(os.path.join(root, "fifo"))


def test_copy_tree_stats(work):
    src, dst = os.path.join(work, "src"), os.path.join(work, "dst")
    tree(src)
    s = zcio.copy_tree(src, dst, archive=True, jobs=2)
    assert isinstance(s, zcio.TreeStats)
    assert (s.files, s.hardlinks, s.dirs, s.symlinks, s.specials, s.errors) == (2, 1, 3, 1, 1, 0)
    assert s.bytes == 30000 and sum(s.files_by_method.values()) == 2 and s.elapsed > 0
    assert os.stat(os.path.join(dst, "hard")).st_ino == os.stat(os.path.join(dst, "a", "f")).st_ino
    assert os.readlink(os.path.join(dst, "link")) == "a/f"
    plain = zcio.copy_tree(src, os.path.join(work, "plain"))
    assert plain.hardlinks == 0 and plain.files == 3
    with pytest.raises(FileExistsError):
        zcio.copy_tree(src, dst, merge=False)
    again = zcio.copy_tree(src, dst, existing="keep")
    assert again.skipped >= 3


def test_copy_tree_errors(work):
    src, dst = os.path.join(work, "src"), os.path.join(work, "dst")
    tree(src)
    os.symlink("nowhere", os.path.join(src, "a", "dangling"))
    os.symlink("/nowhere/either", os.path.join(src, "dangling2"))
    with pytest.raises(FileNotFoundError) as e:
        zcio.copy_tree(src, dst, follow="all")
    names = sorted(x.filename for x in e.value.errors)
    assert names == [os.path.join(src, "a", "dangling"), os.path.join(src, "dangling2")]
    assert all(x.errno == errno.ENOENT and x.step == "open source" for x in e.value.errors)
    assert e.value.tree_stats.errors == 2 and e.value.tree_stats.files == 4
    with pytest.raises(FileNotFoundError) as e:
        zcio.copy_tree(os.path.join(work, "missing"), dst)
    assert e.value.filename == os.path.join(work, "missing")
    with pytest.raises(OSError) as e:
        zcio.copy_tree(src, os.path.join(src, "a", "inside"))
    assert e.value.errno == errno.EINVAL and not os.path.exists(os.path.join(src, "a", "inside"))


@pytest.mark.parametrize("how", ["tree", "walk"])
def test_copytree_progress(work, how):
    src = os.path.join(work, "src")
    for i in range(300):
        d = os.path.join(src, f"d{i % 7}")
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, f"f{i}"), b"x" * 5000)
    seen = []
    kw = {"ignore": shutil.ignore_patterns("nothing")} if how == "walk" else {}
    zcio.copytree(src, os.path.join(work, "dst"), progress=seen.append, **kw)
    assert seen and all(isinstance(p, zcio.TreeProgress) for p in seen)
    last = seen[-1]
    assert last.walk_done and last.entries_done == last.entries_known
    assert last.bytes_done == last.bytes_known == 300 * 5000
    assert [p.entries_done for p in seen] == sorted(p.entries_done for p in seen)
    assert "TreeProgress" in repr(last)


def test_copytree_progress_exception_stops_it(work):
    src = os.path.join(work, "src")
    os.makedirs(src)
    with open(os.path.join(src, "big"), "wb") as f:
        f.truncate(4 << 30)

    def stop(p):
        raise RuntimeError("enough")
    with pytest.raises(RuntimeError, match="enough"):
        zcio.copy_tree(src, os.path.join(work, "dst"), sparse=False, progress=stop)
    assert os.listdir(os.path.join(work, "dst")) == []


def test_copytree_with_a_foreign_copy_function_reports_progress(work):
    src = os.path.join(work, "src")
    os.makedirs(src)
    write(os.path.join(src, "a"), b"12345")
    seen = []
    zcio.copytree(src, os.path.join(work, "dst"), copy_function=shutil.copy, progress=seen.append)
    assert [(p.entries_done, p.bytes_done) for p in seen] == [(1, 5)]
