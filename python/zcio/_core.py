"""zcio's own calls: copies with every option, the tree copy, the descriptor calls."""

from __future__ import annotations

import errno as _errno
import io
import os
import shutil
from typing import Any, Callable, Iterable, Optional, TypeVar, Union

from . import _zcio
from ._zcio import Stats, TreeProgress, TreeStats

StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: A descriptor: an int, or any object with a ``fileno()`` method (files, sockets).
FileDescriptorLike = Union[int, Any]
#: ``progress(done, total)``: bytes done so far, and the source's size (None for a stream).
ProgressCallable = Callable[[int, Optional[int]], Any]
#: ``progress(TreeProgress)``, about every 50 ms and once at the end.
TreeProgressCallable = Callable[[TreeProgress], Any]

#: What ``count=None`` means to the descriptor calls: up to end of file.
TO_EOF: int = _zcio.TO_EOF
#: The names ``method=`` takes.
METHODS: "tuple[str, ...]" = tuple(_zcio.METHODS)
#: The names ``engine=`` takes.
ENGINES: "tuple[str, ...]" = tuple(_zcio.ENGINES)


def _file_opts(
    method: str = "auto",
    *,
    engine: Optional[str] = None,
    queue_depth: int = 0,
    chunk_size: int = 0,
    fsync: bool = False,
    fallback: bool = True,
    exclusive: bool = False,
    in_place: bool = False,
    reflink: bool = True,
    sparse: bool = True,
    preserve_times: bool = False,
    preserve_xattrs: bool = False,
    preserve_mode: bool = False,
    preserve_owner: bool = False,
    nofollow: bool = False,
    uncached: bool = False,
) -> "dict[str, Any]":
    """Every key the extension's copies take (they have no defaults of their own)."""
    return dict(method=method, engine=engine, queue_depth=queue_depth, chunk_size=chunk_size,
                fsync=fsync, fallback=fallback, exclusive=exclusive, in_place=in_place,
                reflink=reflink, sparse=sparse, preserve_times=preserve_times,
                preserve_xattrs=preserve_xattrs, preserve_mode=preserve_mode,
                preserve_owner=preserve_owner, nofollow=nofollow, uncached=uncached)


def _same_file(src: Any, dst: Any) -> bool:
    try:
        return os.path.samefile(src, dst)
    except (OSError, ValueError):
        return False


def _run_copy(src: Any, dst: Any, opts: "dict[str, Any]", kind: str,
              progress: Optional[ProgressCallable]) -> Stats:
    try:
        return _zcio.copy_file(src, dst, opts, kind, progress)
    except OSError as e:
        # zcio refuses a copy onto itself with EINVAL before opening anything for
        # writing; Python code knows that refusal as shutil.SameFileError.
        if e.errno == _errno.EINVAL and getattr(e, "step", None) == "open destination" \
                and _same_file(src, dst):
            raise shutil.SameFileError(f"{src!r} and {dst!r} are the same file") from e
        raise


def copy_file(
    src: StrOrBytesPath,
    dst: StrOrBytesPath,
    *,
    method: str = "auto",
    fsync: bool = False,
    fallback: bool = True,
    exclusive: bool = False,
    in_place: bool = False,
    reflink: bool = True,
    sparse: bool = True,
    preserve_times: bool = False,
    preserve_xattrs: bool = False,
    preserve_mode: bool = False,
    preserve_owner: bool = False,
    nofollow: bool = False,
    uncached: bool = False,
    engine: Optional[str] = None,
    queue_depth: int = 0,
    chunk_size: int = 0,
    progress: Optional[ProgressCallable] = None,
) -> Stats:
    """Copy the file ``src`` to ``dst`` by the fastest safe path and say how.

    ``method="auto"`` tries a reflink, then ``copy_file_range``, then ``sendfile``,
    then a read/write loop, giving each up only for errors that mean "not possible
    here" and only before it moved data; any name of ``zcio.METHODS`` forces that
    method ("direct" is Direct I/O). Holes stay holes (``sparse=False`` writes
    them). The data goes into a temporary file in ``dst``'s directory, which
    replaces ``dst`` only when complete: a failure, an exception from
    ``progress`` or a KeyboardInterrupt leaves ``dst`` as it was, and no
    temporary file behind. A destination that is a symlink is written through
    (``nofollow=True`` refuses it).

    Options: ``fsync`` (durable when it returns), ``fallback=False`` (fail
    instead of trying another method), ``exclusive`` (FileExistsError if ``dst``
    exists), ``in_place`` (write ``dst`` itself: a failure leaves it partial),
    ``reflink=False`` (never share blocks), ``preserve_times``,
    ``preserve_xattrs``, ``preserve_mode`` (exact bits, umask ignored),
    ``preserve_owner``, ``uncached`` (through the page cache but leaving it as
    it was, for data nobody reads soon: ``stats.uncached`` says how; with
    "auto" after a reflink, or "read_write"); for Direct I/O ``engine`` ("io_uring", "threads",
    "sync"), ``queue_depth`` and ``chunk_size``.

    ``progress(done, total)`` is called on this thread as bytes move and once at
    the end (``total`` is None for a stream); raise from it to stop the copy.

    The GIL is released while the data moves. Returns a :class:`Stats`: the
    ``method`` that moved the data, the ``fallbacks`` given up on the way as
    ``(method, errno, reason)``, ``bytes``, ``file_size``, ``elapsed``...
    Raises an OSError subclass (``errno``, ``filename``, and zcio's ``step`` and
    ``stats``), or shutil.SameFileError for a copy onto itself.
    """
    opts = _file_opts(method, engine=engine, queue_depth=queue_depth, chunk_size=chunk_size,
                      fsync=fsync, fallback=fallback, exclusive=exclusive, in_place=in_place,
                      reflink=reflink, sparse=sparse, preserve_times=preserve_times,
                      preserve_xattrs=preserve_xattrs, preserve_mode=preserve_mode,
                      preserve_owner=preserve_owner, nofollow=nofollow, uncached=uncached)
    return _run_copy(src, dst, opts, "copy", progress)


def directio_copy(
    src: StrOrBytesPath,
    dst: StrOrBytesPath,
    *,
    fsync: bool = False,
    exclusive: bool = False,
    in_place: bool = False,
    sparse: bool = True,
    preserve_times: bool = False,
    preserve_xattrs: bool = False,
    preserve_mode: bool = False,
    preserve_owner: bool = False,
    nofollow: bool = False,
    engine: Optional[str] = None,
    queue_depth: int = 0,
    chunk_size: int = 0,
    progress: Optional[ProgressCallable] = None,
) -> Stats:
    """Copy ``src`` to ``dst`` with Direct I/O, leaving the page cache as it was.

    O_DIRECT on both files, buffers and sizes aligned as each file system asks,
    reads and writes overlapped (``engine``: "io_uring", "threads" or "sync";
    ``queue_depth`` I/Os in flight of ``chunk_size`` bytes), the unaligned tail
    handled; the copy is byte-identical and exactly the source's size, its holes
    kept as holes (``sparse=False`` writes them out as zeros). Where a
    file system refuses O_DIRECT (tmpfs before Linux 6.6, some FUSE), a buffered
    copy that drops its pages runs instead: ``stats.method`` is then
    "read_write" and ``stats.fallbacks`` says why. O_DIRECT is not durability:
    pass ``fsync=True`` for that. The destination rules, ``progress`` and errors
    are those of :func:`copy_file`.
    """
    opts = _file_opts("direct", engine=engine, queue_depth=queue_depth, chunk_size=chunk_size,
                      fsync=fsync, exclusive=exclusive, in_place=in_place, sparse=sparse,
                      preserve_times=preserve_times, preserve_xattrs=preserve_xattrs,
                      preserve_mode=preserve_mode, preserve_owner=preserve_owner,
                      nofollow=nofollow)
    return _run_copy(src, dst, opts, "directio", progress)


def splice_file(
    src: StrOrBytesPath,
    dst: StrOrBytesPath,
    *,
    fsync: bool = False,
    exclusive: bool = False,
    preserve_times: bool = False,
    preserve_mode: bool = False,
    progress: Optional[ProgressCallable] = None,
) -> Stats:
    """Copy ``src`` to ``dst`` through splice(2), on the rules of :func:`copy_file`."""
    opts = _file_opts("auto", fsync=fsync, exclusive=exclusive, preserve_times=preserve_times,
                      preserve_mode=preserve_mode)
    return _run_copy(src, dst, opts, "splice", progress)


def _preserve_names(preserve: Union[str, Iterable[str]]) -> "list[str]":
    if isinstance(preserve, str):
        return [p.strip() for p in preserve.split(",") if p.strip()]
    return list(preserve)


def _join(root: Any, rel: bytes) -> Any:
    """``root``/``rel`` in the type of ``root`` (str or bytes), as os.path.join gives."""
    root = os.fspath(root)
    if not rel:
        return root
    return os.path.join(root, rel if isinstance(root, bytes) else os.fsdecode(rel))


def tree_failure(src: Any, dst: Any, rel: bytes, err: int, step: str) -> "tuple[Any, Any, OSError]":
    """One failed entry of a tree copy: its source and destination paths, and the
    OSError naming the one the failed step was about."""
    srcname, dstname = _join(src, rel), _join(dst, rel)
    which = _zcio.STEP_PATHS.get(step, "both")
    if which == "src":
        e = OSError(err, os.strerror(err), srcname)
    elif which == "dst":
        e = OSError(err, os.strerror(err), dstname)
    else:
        e = OSError(err, os.strerror(err), srcname, None, dstname)
    e.step = step  # type: ignore[attr-defined]
    return srcname, dstname, e


def copy_tree(
    src: StrOrBytesPath,
    dst: StrOrBytesPath,
    *,
    archive: bool = False,
    preserve: Union[str, Iterable[str]] = (),
    follow: str = "never",
    existing: str = "replace",
    merge: bool = True,
    one_file_system: bool = False,
    jobs: int = 0,
    method: str = "auto",
    reflink: bool = True,
    sparse: bool = True,
    fsync: bool = False,
    uncached: bool = False,
    engine: Optional[str] = None,
    queue_depth: int = 0,
    chunk_size: int = 0,
    progress: Optional[TreeProgressCallable] = None,
) -> TreeStats:
    """Copy the tree ``src`` to ``dst`` as ``cp -r`` does (``archive=True``: ``cp -a``),
    several entries at once, and return a :class:`TreeStats`.

    Every kind of entry is copied: regular files through :func:`copy_file`'s copy
    (reflink, holes, atomic replace), directories (their metadata set once their
    contents are in), symlinks as symlinks, FIFOs, sockets and devices recreated.
    ``dst`` is made when missing and merged into when it is a directory
    (``merge=False``: FileExistsError). A destination inside ``src`` is refused
    (EINVAL) before anything is written. The walk works relative to directory
    descriptors and follows no symlink it did not mean to.

    ``preserve``: any of "mode", "ownership", "timestamps", "links" (hard links),
    "xattrs", or "all" (a list, or one comma-separated string); ``follow``:
    "never" (``cp -P``), "top" (``cp -H``) or "all" (``cp -L``); ``existing``:
    "replace", "keep" (``cp -n``) or "newer" (``cp -u``); ``one_file_system``
    (``cp -x``); ``jobs``: entries copied at once (0: zcio's default, 8); the
    per-file options are :func:`copy_file`'s.

    ``progress(TreeProgress)`` is called on this thread about every 50 ms and once
    at the end; raise from it, or press Ctrl-C, to stop the copy (the files being
    copied are left as they were). The GIL is released while it runs.

    Entries that fail are skipped and the copy goes on; then the first failure is
    raised as an OSError subclass, with ``errors`` (every failure, as OSErrors
    naming their paths) and ``tree_stats`` set.
    """
    names = ["all"] if archive else _preserve_names(preserve)
    opts = _file_opts(method, engine=engine, queue_depth=queue_depth, chunk_size=chunk_size,
                      fsync=fsync, reflink=reflink, sparse=sparse, uncached=uncached)
    tree = dict(follow=follow, preserve=names, existing=existing, merge=merge,
                one_file_system=one_file_system, jobs=jobs)
    stats, failures = _zcio.copy_tree(src, dst, opts, tree, progress)
    if failures:
        errors = [tree_failure(src, dst, *f)[2] for f in failures]
        first = errors[0]
        first.errors = errors  # type: ignore[attr-defined]
        first.tree_stats = stats  # type: ignore[attr-defined]
        raise first
    return stats


class _Fd:
    """A descriptor argument: an int as it is, or an object's ``fileno()``.

    A Python file object is kept in step with its descriptor around the call: a
    writer is flushed first, so its buffered bytes come before zcio's; a seekable
    reader is put back to where Python has read up to, so what it read ahead is
    not skipped; afterwards either is told where zcio left the descriptor.
    """

    def __init__(self, obj: FileDescriptorLike, writing: bool = False) -> None:
        self.obj: Any = obj
        if isinstance(obj, int):
            self.fd, self.seekable = obj, False
            return
        self.fd = obj.fileno()
        self.seekable = isinstance(obj, io.IOBase) and obj.seekable()
        if writing and hasattr(obj, "flush"):
            obj.flush()
        if self.seekable and not writing:
            # A seek inside its buffer would not move the descriptor: go to the end
            # first, which empties the buffer, then back.
            pos = obj.tell()
            obj.seek(0, os.SEEK_END)
            obj.seek(pos)

    def done(self) -> None:
        if self.seekable:
            self.obj.seek(os.lseek(self.fd, 0, os.SEEK_CUR))


_T = TypeVar("_T")


def _with_fds(call: Callable[..., _T], a: _Fd, b: _Fd, *args: Any, **kwargs: Any) -> _T:
    try:
        return call(a.fd, b.fd, *args, **kwargs)
    finally:
        a.done()
        b.done()


def sendfile(out: FileDescriptorLike, in_: FileDescriptorLike, offset: Optional[int] = None,
             count: Optional[int] = None, *, nonblock: bool = False, fallback: bool = True) -> int:
    """Send ``count`` bytes (None: to end of file) from ``in_`` to ``out`` with
    sendfile(2), to completion, and return the bytes moved.

    Loops over the kernel's 2 GiB cap and short counts, retries EINTR, waits on a
    non-blocking descriptor (``nonblock=True``: returns what moved instead, or
    raises BlockingIOError when nothing could), and where the kernel cannot send
    from ``in_`` (a pipe, a socket) goes on with read/write (``fallback=False``
    raises instead). ``offset`` None reads from and advances ``in_``'s own offset;
    an int reads from there and leaves it alone. ``out`` is written at its own
    offset. A reader that has gone raises BrokenPipeError (no SIGPIPE). Data
    later written to the file may still reach a socket reader: the kernel shares
    page-cache pages. On the main thread Ctrl-C is seen between pieces of 64 MiB.
    The GIL is released while it runs.
    """
    return _with_fds(_zcio.sendfile, _Fd(out, True), _Fd(in_), offset, count,
                     nonblock=nonblock, fallback=fallback)


def splice(src: FileDescriptorLike, dst: FileDescriptorLike, count: Optional[int] = None,
           offset_src: Optional[int] = None, offset_dst: Optional[int] = None, *,
           nonblock: bool = False, fallback: bool = True) -> int:
    """Move ``count`` bytes (None: to end of file) from ``src`` to ``dst`` with
    splice(2), to completion, and return the bytes moved.

    Any two descriptors: when neither is a pipe the data goes through a pipe zcio
    keeps per thread (socket to file works). Offsets as in :func:`sendfile`, for
    each side (a pipe takes none). The rest as :func:`sendfile`.
    """
    return _with_fds(_zcio.splice, _Fd(src), _Fd(dst, True), count, offset_src, offset_dst,
                     nonblock=nonblock, fallback=fallback)


def copy_file_range(src: FileDescriptorLike, dst: FileDescriptorLike, count: Optional[int] = None,
                    offset_src: Optional[int] = None, offset_dst: Optional[int] = None, *,
                    nonblock: bool = False, fallback: bool = True) -> int:
    """Copy ``count`` bytes (None: to end of file) from ``src`` to ``dst`` with
    copy_file_range(2), to completion, and return the bytes moved; where the
    kernel cannot (across file systems on old kernels, pipes...) it goes on with
    read/write unless ``fallback=False``. Offsets as in :func:`splice`.
    """
    return _with_fds(_zcio.copy_file_range, _Fd(src), _Fd(dst, True), count, offset_src,
                     offset_dst, nonblock=nonblock, fallback=fallback)


def mmap_copy(src: FileDescriptorLike, dst: FileDescriptorLike, count: Optional[int] = None,
              offset_src: Optional[int] = None, *, nonblock: bool = False,
              fallback: bool = True) -> int:
    """Write ``count`` bytes (None: to end of file) of ``src`` to ``dst`` from a
    read-only mapping of ``src``, and return the bytes moved. A source that shrinks
    meanwhile ends the copy early instead of killing the program with SIGBUS.
    ``dst`` is written at its own offset.
    """
    return _with_fds(_zcio.mmap_copy, _Fd(src), _Fd(dst, True), count, offset_src,
                     nonblock=nonblock, fallback=fallback)


def reflink(src: FileDescriptorLike, dst: FileDescriptorLike) -> None:
    """Make the file ``dst`` a copy-on-write clone of ``src`` (FICLONE): instant,
    no space used until either changes. OSError (EOPNOTSUPP, EXDEV...) where the
    file systems cannot. Moves no offset."""
    _with_fds(_zcio.reflink, _Fd(src), _Fd(dst, True))


def directio(fd: FileDescriptorLike, on: bool = True) -> None:
    """Turn Direct I/O on (or off) for an open file, as Solaris's directio(3C)
    advises; OSError ENOTTY where the file cannot do Direct I/O. It changes the open
    file description: every descriptor sharing it sees the change."""
    _zcio.directio(_Fd(fd).fd, on)


def dio_alignment(fd: FileDescriptorLike) -> "Optional[tuple[int, int, str]]":
    """The Direct I/O alignment of an open file or block device as
    ``(memory, offset, source)`` (source: "statx", "block_device" or "default"), or
    None where its file system does no Direct I/O."""
    return _zcio.dio_alignment(_Fd(fd).fd)
