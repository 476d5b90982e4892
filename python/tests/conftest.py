"""Helpers of zcio's Python tests: the side-by-side runner that does the same thing
with shutil and with zcio on identical inputs, and tree snapshots to compare."""

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import sys

import pytest

import zcio

# A fixed time (2001-09-09) given to every input entry, so that copies that keep
# times agree between runs, and can be told from copies that do not.
FIXED_NS = 1_000_000_000 * 10**9 + 123_456_789
OLD_CUTOFF_NS = 1_262_304_000 * 10**9  # 2010


def fix_times(root):
    """Every entry under root (root too) to FIXED_NS, deepest first, symlinks themselves."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            os.utime(p, ns=(FIXED_NS, FIXED_NS), follow_symlinks=False)
    os.utime(root, ns=(FIXED_NS, FIXED_NS))


def kind(mode):
    for test, name in ((stat.S_ISLNK, "link"), (stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "sock"), (stat.S_ISCHR, "chr"),
                       (stat.S_ISBLK, "blk")):
        if test(mode):
            return name
    return "?"


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    out = []
    for n in sorted(names):
        if n.startswith("user."):
            out.append((n, os.getxattr(path, n, follow_symlinks=False)))
    return tuple(out)


def entry(path, root=None):
    st = os.lstat(path)
    k = kind(st.st_mode)
    e = {"kind": k, "uid": st.st_uid, "gid": st.st_gid}
    # A time kept from the input is compared exactly; any other is "new".
    e["mtime"] = st.st_mtime_ns if st.st_mtime_ns < OLD_CUTOFF_NS else "new"
    e["xattrs"] = xattrs(path)
    if k == "link":
        t = os.readlink(path)
        # An absolute link into the tree names the tree's place: make that neutral.
        if root is not None and t.startswith(os.path.abspath(root) + "/"):
            t = "ROOT" + t[len(os.path.abspath(root)):]
        e["target"] = t
    else:
        e["mode"] = oct(stat.S_IMODE(st.st_mode))
    if k == "file":
        with open(path, "rb") as f:
            e["sha"] = hashlib.sha256(f.read()).hexdigest()
        e["size"] = st.st_size
        e["nlink"] = st.st_nlink
    return e


def snapshot(root):
    """Every entry under root (not following symlinks), by path relative to root."""
    out = {}
    if not os.path.lexists(root):
        return out
    out["."] = entry(root, root)
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = entry(p, root)
    return out


def outcome(fn):
    """What a call did, in a form two runs can be compared by: its result, or its
    exception's type, errno, filenames and message (a shutil.Error's list sorted)."""
    try:
        r = fn()
    except shutil.Error as e:
        # SameFileError and SpecialFileError are shutil.Error subclasses with a
        # message, not a list.
        arg = e.args[0] if e.args else None
        if isinstance(arg, list):
            arg = sorted(map(tuple, arg)) if all(isinstance(x, tuple) for x in arg) else arg
        return ("raised", type(e).__name__, arg)
    except OSError as e:
        return ("raised", type(e).__name__, e.errno, e.strerror, e.filename, e.filename2, str(e))
    return ("returned", r)


def side_by_side(base, build, action, compare_snapshot=True):
    """Builds the same input with build(root) under base/shutil and base/zcio, runs
    action(module) in each (the current directory there, so that paths and messages
    are the same), and checks that both did the same: same outcome, same tree."""
    results = {}
    for mod in (shutil, zcio):
        root = os.path.join(base, mod.__name__)
        os.makedirs(root)
        old = os.getcwd()
        os.chdir(root)
        try:
            build()
            fix_times(".")
            got = outcome(lambda: action(mod))
        finally:
            os.chdir(old)
        results[mod.__name__] = (got, snapshot(root) if compare_snapshot else None)
    s, z = results["shutil"], results["zcio"]
    assert z[0] == s[0], f"outcome: zcio {z[0]!r} != shutil {s[0]!r}"
    if compare_snapshot:
        diff = {k: (s[1].get(k), z[1].get(k)) for k in set(s[1]) | set(z[1])
                if s[1].get(k) != z[1].get(k) and k != "."}
        assert not diff, f"trees differ (shutil, zcio): {diff}"
    return s[0]


def write(path, data=b"", mode=None):
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


@pytest.fixture
def work(tmp_path):
    """A scratch directory on the work disk (pytest's basetemp is under build/)."""
    return str(tmp_path)


@pytest.fixture
def public_work():
    """A scratch directory that an unprivileged user can reach (pytest's own are
    0700), removed afterwards whatever modes the test left in it."""
    import tempfile
    d = tempfile.mkdtemp(prefix="zcio-pytest-", dir=os.environ.get("ZCIO_PUBLIC_TMP", "/tmp"))
    os.chmod(d, 0o755)
    yield d
    for dirpath, dirnames, _ in os.walk(d):
        for n in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, n), 0o700, follow_symlinks=False)
    shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def as_nobody():
    """Runs the block as an unprivileged user: root switches its effective ids to
    nobody for the block; another user is unprivileged already."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def venv_python():
    return sys.executable


ENOTSUP = errno.EOPNOTSUPP
