"""zcio: fast, safe file copies for Linux, from Python.

Drop-ins for shutil's copies, with zcio underneath::

    import zcio
    zcio.copy2("big.img", "backup/")              # reflink / copy_file_range / ..., atomic
    zcio.copytree("project", "project.bak")       # several files at once
    shutil.copytree("a", "b", copy_function=zcio.copy2)

and zcio's own calls, which say what they did::

    stats = zcio.copy_file("big.img", "copy.img", fsync=True, progress=print)
    print(stats.method, stats.bytes, stats.elapsed, stats.fallbacks)
    zcio.directio_copy("disk.img", "/mnt/backup/disk.img")   # page cache left alone
    zcio.sendfile(sock, open("index.html", "rb"))            # descriptors or fileno() objects

Every copy releases the GIL while data moves, so threads copy in parallel.
Errors are the OSError subclasses of their errno (FileNotFoundError,
PermissionError...) with ``errno``, ``strerror`` and ``filename`` set, and zcio's
``step`` and ``stats``; a copy onto itself raises shutil.SameFileError, a tree
copy shutil.Error. A failed or interrupted copy (an exception from ``progress``,
Ctrl-C) leaves the destination as it was.
"""

from ._core import (
    ENGINES,
    METHODS,
    TO_EOF,
    copy_file,
    copy_file_range,
    copy_tree,
    dio_alignment,
    directio,
    directio_copy,
    mmap_copy,
    reflink,
    sendfile,
    splice,
    splice_file,
)
from ._shutil import (
    Error,
    SameFileError,
    SpecialFileError,
    copy,
    copy2,
    copyfile,
    copytree,
    ignore_patterns,
)
from ._zcio import Stats, TreeProgress, TreeStats, __version__

__all__ = [
    "ENGINES",
    "METHODS",
    "TO_EOF",
    "Error",
    "SameFileError",
    "SpecialFileError",
    "Stats",
    "TreeProgress",
    "TreeStats",
    "__version__",
    "copy",
    "copy2",
    "copy_file",
    "copy_file_range",
    "copy_tree",
    "copyfile",
    "copytree",
    "dio_alignment",
    "directio",
    "directio_copy",
    "ignore_patterns",
    "mmap_copy",
    "reflink",
    "sendfile",
    "splice",
    "splice_file",
]
