"""shutil's copy functions with zcio underneath.

``copyfile``, ``copy``, ``copy2`` and ``copytree`` take shutil's arguments, return
what shutil returns and raise what shutil raises for the same inputs (the tests
check that side by side); ``ignore_patterns`` is shutil's own. What differs is
said in each docstring and in the README's "Python" section.
"""

from __future__ import annotations

import errno as _errno
import os
import shutil
import stat
import sys
from shutil import Error, SameFileError, SpecialFileError, ignore_patterns
from typing import Any, Callable, Iterable, Optional

from . import _zcio
from ._core import StrOrBytesPath, TreeProgressCallable, _file_opts, _join, tree_failure

__all__ = ["copyfile", "copy", "copy2", "copytree", "ignore_patterns",
           "Error", "SameFileError", "SpecialFileError"]

# What each function asks of zcio's per-file copy: copyfile the data alone, copy
# the permission bits too (copymode), copy2 also the times and extended
# attributes (copystat).
_COPYFILE = _file_opts()
_COPY = _file_opts(preserve_mode=True)
_COPY2 = _file_opts(preserve_mode=True, preserve_times=True, preserve_xattrs=True)


def _stat(fn: Any) -> Optional[os.stat_result]:
    try:
        return fn.stat() if isinstance(fn, os.DirEntry) else os.stat(fn)
    except OSError:
        return None


def _islink(fn: Any) -> bool:
    return fn.is_symlink() if isinstance(fn, os.DirEntry) else os.path.islink(fn)


def _umask() -> int:
    """The umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _copyfile(src: Any, dst: Any, follow_symlinks: bool, opts: "dict[str, Any]",
              new_mode: bool) -> bool:
    """shutil.copyfile's checks, errors and symlink case around zcio's copy of the
    data; True when it made a symlink."""
    sst, dstst = _stat(src), _stat(dst)
    if sst is not None and dstst is not None and os.path.samestat(sst, dstst):
        raise SameFileError("{!r} and {!r} are the same file".format(src, dst))
    for fn, st in ((src, sst), (dst, dstst)):
        # As shutil: a FIFO would block the copy (zcio itself would stream it).
        if st is not None and stat.S_ISFIFO(st.st_mode):
            fn = fn.path if isinstance(fn, os.DirEntry) else fn
            raise SpecialFileError("`%s` is a named pipe" % fn)
    if not follow_symlinks and _islink(src):
        os.symlink(os.readlink(src), dst)
        return True
    try:
        if os.path.basename(os.fspath(dst)) in _NOT_A_FILE:
            # zcio would make a file of the last name ("x" of "x/"); open(), which
            # never makes one of these, raises what shutil raises.
            open(dst, "wb").close()
        _zcio.copy_file(src, dst, opts)
    except IsADirectoryError as e:
        # As shutil (issue 43219): a destination "dir/" that does not exist.
        if e.filename is dst and not os.path.exists(dst):
            raise FileNotFoundError(f'Directory does not exist: {dst}') from e
        raise
    if new_mode and dstst is None:
        # A new file gets what open(dst, "wb") gives it; zcio's own default is the
        # source's bits, which copyfile, copying no metadata, does not carry over.
        os.chmod(dst, 0o666 & ~_umask())
    return False


_NOT_A_FILE = ("", ".", "..", b"", b".", b"..")


def copyfile(src: StrOrBytesPath, dst: StrOrBytesPath, *, follow_symlinks: bool = True) -> Any:
    """Copy the data of ``src`` to ``dst`` and return ``dst``, as shutil.copyfile.

    The copy is zcio's (reflink, copy_file_range, sendfile or read/write, holes
    kept, the GIL released) and atomic: ``dst`` is replaced only once the copy is
    complete, and a failure or Ctrl-C leaves it as it was. An existing ``dst`` is
    replaced by a new file, so other hard links to it keep the old data.
    """
    sys.audit("shutil.copyfile", src, dst)
    _copyfile(src, dst, follow_symlinks, _COPYFILE, True)
    return dst


def _into(src: Any, dst: Any) -> Any:
    if os.path.isdir(dst):
        return os.path.join(dst, os.path.basename(src))
    return dst


def copy(src: StrOrBytesPath, dst: StrOrBytesPath, *, follow_symlinks: bool = True) -> Any:
    """Copy the data and permission bits of ``src`` to ``dst`` (a file or a
    directory to copy into) and return the file made, as shutil.copy; the copy is
    :func:`copyfile`'s."""
    dst = _into(src, dst)
    sys.audit("shutil.copyfile", src, dst)
    if _copyfile(src, dst, follow_symlinks, _COPY, False):
        shutil.copymode(src, dst, follow_symlinks=False)
    return dst


def copy2(src: StrOrBytesPath, dst: StrOrBytesPath, *, follow_symlinks: bool = True) -> Any:
    """Copy the data and metadata (permission bits, times to the nanosecond,
    extended attributes) of ``src`` to ``dst`` (a file or a directory to copy
    into) and return the file made, as shutil.copy2; the copy is
    :func:`copyfile`'s, the metadata set before the file is put in place."""
    dst = _into(src, dst)
    sys.audit("shutil.copyfile", src, dst)
    if _copyfile(src, dst, follow_symlinks, _COPY2, False):
        shutil.copystat(src, dst, follow_symlinks=False)
    return dst


# For each of zcio's own copy functions: the options of its batch copy, and
# whether a new file gets open()'s mode.
_OWN = {copy2: (_COPY2, False), copy: (_COPY, False), copyfile: (_COPYFILE, True)}


def copytree(
    src: StrOrBytesPath,
    dst: StrOrBytesPath,
    symlinks: bool = False,
    ignore: Optional[Callable[[Any, "list[Any]"], Iterable[Any]]] = None,
    copy_function: Callable[[Any, Any], Any] = copy2,
    ignore_dangling_symlinks: bool = False,
    dirs_exist_ok: bool = False,
    *,
    jobs: int = 0,
    progress: Optional[TreeProgressCallable] = None,
) -> Any:
    """Copy the directory tree ``src`` to ``dst`` and return ``dst``, as
    shutil.copytree, several files at once.

    With ``copy_function`` zcio's own :func:`copy2` (the default), no ``ignore``
    and a ``dst`` that is new (or an empty directory), zcio's parallel tree copy
    does the whole tree. With ``ignore``, :func:`copy` or :func:`copyfile`, or a
    ``dst`` to merge into, the tree is walked in Python exactly as shutil walks it
    (``ignore`` is called for each directory, in shutil's order) and the files are
    copied by zcio on ``jobs`` threads. Any other ``copy_function`` is called
    exactly as shutil calls it (shutil.copytree itself).

    Arguments, results and errors are shutil's: FileNotFoundError and
    NotADirectoryError for ``src``, FileExistsError for an existing ``dst``
    without ``dirs_exist_ok``, and shutil.Error with the list of
    ``(srcname, dstname, why)`` once every entry has been tried. Beyond shutil:
    ``jobs`` (files copied at once; 0: 8) and ``progress(TreeProgress)``, called on
    this thread about every 50 ms; raise from it, or press Ctrl-C, to stop the
    copy (the files being copied are left as they were).

    Where the tree copy runs it does better than shutil, differently: FIFOs,
    sockets and device nodes are recreated (shutil reports FIFOs and sockets as
    errors and reads device nodes), a symlink loop is one error (ELOOP) instead of
    a runaway recursion, and the errors are listed in path order. With
    ``ignore_dangling_symlinks`` a relative link is judged from its own directory
    (shutil judges it from the current one: cpython gh-91205).
    """
    if copy_function not in _OWN:
        # A function of the caller's own is called as shutil calls it, one
        # file at a time: nothing says it may run on several threads.
        if progress is not None:
            copy_function = _counting(copy_function, progress)
        # (typeshed says str paths only; shutil takes bytes too.)
        s: Any = src
        d: Any = dst
        return shutil.copytree(s, d, symlinks, ignore, copy_function,
                               ignore_dangling_symlinks, dirs_exist_ok)
    sys.audit("shutil.copytree", src, dst)
    if ignore is None and copy_function is copy2 and _new_or_empty(dst):
        return _tree(src, dst, symlinks, ignore_dangling_symlinks, dirs_exist_ok, jobs, progress)
    opts, new_mode = _OWN[copy_function]
    walk = _Walk(symlinks, ignore, copy_function, ignore_dangling_symlinks, dirs_exist_ok,
                 progress is not None)
    walk.tree(src, dst)
    return walk.finish(opts, new_mode, jobs, progress, dst)


def _new_or_empty(dst: Any) -> bool:
    try:
        with os.scandir(dst) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return True
    except OSError:
        # A file, or a directory that cannot be read: the walk says what shutil says.
        return False


def _counting(fn: Callable[[Any, Any], Any], progress: TreeProgressCallable) -> Callable[[Any, Any], Any]:
    done = [0, 0]

    def counted(src: Any, dst: Any) -> Any:
        r = fn(src, dst)
        done[0] += 1
        try:
            done[1] += os.stat(r if r is not None else dst).st_size
        except (OSError, TypeError, ValueError):
            pass
        progress(_zcio.TreeProgress(done[0], done[0], done[1], done[1], False))
        return r
    return counted


def _tree(src: Any, dst: Any, symlinks: bool, ignore_dangling: bool, dirs_exist_ok: bool,
          jobs: int, progress: Optional[TreeProgressCallable]) -> Any:
    """The whole tree by zcio's parallel tree copy."""
    # shutil's first steps, for shutil's errors: src listed (missing, not a
    # directory, unreadable), then dst made with its parents.
    with os.scandir(src):
        pass
    made = not os.path.lexists(dst)
    os.makedirs(dst, exist_ok=dirs_exist_ok)
    tree = dict(follow="top" if symlinks else "all",
                preserve=["mode", "timestamps", "xattrs"],
                existing="replace", merge=True, one_file_system=False, jobs=jobs)
    try:
        _, failures = _zcio.copy_tree(src, dst, _COPY2, tree, progress)
    except OSError as e:
        if e.errno != _errno.EINVAL or getattr(e, "step", None) != "open destination":
            raise
        # zcio refuses a destination inside the source (cp does too); shutil
        # copies into it what it listed before making it. Walk as shutil does.
        if made:
            os.rmdir(dst)
        walk = _Walk(symlinks, None, copy2, ignore_dangling, dirs_exist_ok, progress is not None)
        walk.tree(src, dst)
        return walk.finish(_COPY2, False, jobs, progress, dst)
    errors = []
    for rel, err, step in sorted(failures):
        srcname, dstname, why = tree_failure(src, dst, rel, err, step)
        if err == _errno.ENOENT and os.path.islink(srcname) and not os.path.exists(srcname):
            # A dangling symlink, followed: shutil's copy2 fails on it the same way,
            # or skips it when told to.
            if ignore_dangling:
                continue
        elif rel and step in ("open source", "read") and os.path.isdir(srcname) \
                and not os.path.islink(dstname):
            # A directory that could not be read: shutil lists it before making its
            # copy, so leaves none; zcio has made it, empty. Removing it changes
            # its parent's times, which copystat gave it: give them back.
            try:
                os.rmdir(dstname)
                st = os.lstat(os.path.dirname(srcname))
                os.utime(os.path.dirname(dstname), ns=(st.st_atime_ns, st.st_mtime_ns),
                         follow_symlinks=False)
            except OSError:
                pass
        errors.append((srcname, dstname, str(why)))
    if errors:
        raise Error(errors)
    return dst


class _Walk:
    """shutil's _copytree, step for step, with the regular files' copies put off
    to one parallel batch (then each failure tried again by ``copy_function``
    itself, so that its exception is the one shutil's walk would have caught) and
    the directories' copystat after that, in shutil's post-order."""

    def __init__(self, symlinks: bool, ignore: Any, copy_function: Callable[[Any, Any], Any],
                 ignore_dangling: bool, dirs_exist_ok: bool, sizes: bool) -> None:
        self.symlinks, self.ignore, self.copy_function = symlinks, ignore, copy_function
        # shutil hands its own copy2 and copy the DirEntry rather than the path
        # (use_srcentry), which shows in messages ("<DirEntry 'f'> and ... are the
        # same file"); zcio's take it as well.
        self.use_srcentry = copy_function is copy2 or copy_function is copy
        self.ignore_dangling, self.dirs_exist_ok, self.sizes = ignore_dangling, dirs_exist_ok, sizes
        self.pairs: "list[tuple[Any, Any]]" = []
        self.srcobjs: "list[Any]" = []
        self.inodes: "list[int]" = []
        self.bytes = 0
        # In shutil's order: ("errors", [...]), ("extend", seq), ("file", index) or
        # ("dir", (src, dst)) for the copystat that ends each directory.
        self.events: "list[tuple[str, Any]]" = []

    def tree(self, src: Any, dst: Any) -> None:
        with os.scandir(src) as itr:
            entries = list(itr)
        ignored = self.ignore(os.fspath(src), [x.name for x in entries]) if self.ignore else ()
        made = not os.path.isdir(dst)
        os.makedirs(dst, exist_ok=self.dirs_exist_ok)
        # A directory made here has no entries, so every file can go to the batch;
        # in an existing one only those whose destination is a regular file or
        # nothing (shutil writes through links and refuses FIFOs there).
        present = None if made else self._present(dst)
        for srcentry in entries:
            if srcentry.name in ignored:
                continue
            srcname = os.path.join(src, srcentry.name)
            dstname = os.path.join(dst, srcentry.name)
            srcobj = srcentry if self.use_srcentry else srcname
            try:
                if srcentry.is_symlink():
                    linkto = os.readlink(srcname)
                    if self.symlinks:
                        os.symlink(linkto, dstname)
                        shutil.copystat(srcobj, dstname, follow_symlinks=False)
                        continue
                    # Dangling as seen from the link's directory, where the kernel
                    # resolves it; shutil looks from the current directory
                    # (cpython gh-91205), so skips valid relative links.
                    if self.ignore_dangling and not os.path.exists(srcname):
                        continue
                if srcentry.is_dir():
                    sys.audit("shutil.copytree", srcobj, dstname)
                    self.tree(srcobj, dstname)
                elif srcentry.is_file() and (present is None or present.get(srcentry.name, True)):
                    self.events.append(("file", len(self.pairs)))
                    self.pairs.append((srcname, dstname))
                    self.srcobjs.append(srcobj)
                    self.inodes.append(srcentry.inode())
                    if self.sizes:
                        self.bytes += srcentry.stat().st_size
                else:
                    self.copy_function(srcobj, dstname)
            except Error as err:
                self.events.append(("extend", err.args[0]))
            except OSError as why:
                self.events.append(("errors", [(srcname, dstname, str(why))]))
        self.events.append(("dir", (src, dst)))

    @staticmethod
    def _present(dst: Any) -> "dict[Any, bool]":
        """The names in ``dst``, each with whether the batch may write it."""
        try:
            with os.scandir(dst) as it:
                return {e.name: e.is_file(follow_symlinks=False) for e in it}
        except OSError:
            return {}

    def finish(self, opts: "dict[str, Any]", new_mode: bool, jobs: int,
               progress: Optional[TreeProgressCallable], dst: Any) -> Any:
        failed: "set[int]" = set()
        if self.pairs:
            fails, _, _ = _zcio.copy_batch(self.pairs, opts, jobs=jobs,
                                           new_mode=0o666 if new_mode else None,
                                           bytes_known=self.bytes, inodes=self.inodes,
                                           progress=progress)
            failed = {i for i, _, _ in fails}
        errors: "list[Any]" = []
        for kind, what in self.events:
            if kind == "errors":
                errors.extend(what)
            elif kind == "extend":
                # shutil extends with a nested Error's args[0] whatever it is.
                errors.extend(what)
            elif kind == "file":
                if what in failed:
                    srcname, dstname = self.pairs[what]
                    try:
                        self.copy_function(self.srcobjs[what], dstname)
                    except Error as err:
                        errors.extend(err.args[0])
                    except OSError as why:
                        errors.append((srcname, dstname, str(why)))
            else:
                src, d = what
                try:
                    shutil.copystat(src, d)
                except OSError as why:
                    errors.append((src, d, str(why)))
        if errors:
            raise Error(errors)
        return dst
