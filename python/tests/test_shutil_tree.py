"""zcio.copytree against shutil.copytree, side by side on the same trees: the
same return value or exception (shutil.Error's list compared sorted), the same
tree afterwards, entry by entry (kind, mode, owner, times, size, contents,
link targets, extended attributes)."""

import os
import random
import shutil

import pytest

import zcio
from conftest import side_by_side, snapshot, write


def tree(root="src"):
    """Nested directories, files of several sizes and modes, a sparse file, an
    extended attribute, a hard link, symlinks to a file and to a directory,
    relative and absolute, a read-only directory."""
    rnd = random.Random(7)
    os.makedirs(f"{root}/a/b/c")
    os.makedirs(f"{root}/empty")
    os.makedirs(f"{root}/ro")
    write(f"{root}/top.txt", b"top\n", 0o644)
    write(f"{root}/a/data.bin", rnd.randbytes(300_000), 0o600)
    write(f"{root}/a/b/run.sh", b"#!/bin/sh\necho hi\n", 0o755)
    write(f"{root}/a/b/c/empty", b"")
    write(f"{root}/ro/inside", b"in a read-only directory", 0o444)
    with open(f"{root}/a/sparse", "wb") as f:
        f.write(b"x")
        f.seek(8 << 20)
        f.write(b"y")
    os.setxattr(f"{root}/top.txt", "user.mime", b"text/plain")
    os.link(f"{root}/top.txt", f"{root}/a/hardlink")
    os.symlink("top.txt", f"{root}/link-to-file")
    os.symlink("a/b", f"{root}/link-to-dir")
    os.symlink(os.path.abspath(f"{root}/a/data.bin"), f"{root}/a/absolute-link")
    for i in range(40):
        write(f"{root}/a/b/f{i:02}", rnd.randbytes(rnd.randrange(0, 20000)), 0o640 + (i % 8))
    os.chmod(f"{root}/ro", 0o555)
    os.chmod(f"{root}/a/b", 0o750)


def tree_dangling():
    tree()
    os.symlink("no-such-target", "src/a/dangling")
    os.symlink("/no/such/absolute", "src/dangling-abs")


def tree_dangling_no_relative_links():
    """Dangling links beside valid absolute ones only: shutil judges a relative
    link from the current directory (cpython gh-91205), zcio from the link's."""
    tree()
    for link in ("src/link-to-file", "src/link-to-dir"):
        target = os.path.abspath(os.path.join("src", os.readlink(link)))
        os.remove(link)
        os.symlink(target, link)
    os.symlink("no-such-target", "src/a/dangling")
    os.symlink("/no/such/absolute", "src/dangling-abs")


CASES = {
    "default": (tree, dict()),
    "symlinks kept": (tree, dict(symlinks=True)),
    "dangling symlinks": (tree_dangling, dict()),
    "dangling symlinks ignored": (tree_dangling_no_relative_links, dict(ignore_dangling_symlinks=True)),
    "dangling symlinks ignored, walked": (tree_dangling_no_relative_links,
                                          dict(ignore_dangling_symlinks=True, ignore=lambda d, n: ())),
    "dangling symlinks kept": (tree_dangling, dict(symlinks=True)),
    "ignore patterns": (tree, dict(ignore=shutil.ignore_patterns("f1*", "*.sh", "c"))),
    "ignore patterns, symlinks kept": (tree, dict(ignore=shutil.ignore_patterns("*link*"), symlinks=True)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_as_shutil(work, case):
    build, kw = CASES[case]
    side_by_side(work, build, lambda mod: mod.copytree("src", "dst", **kw))


@pytest.mark.parametrize("func", ["copy", "copyfile", "copy2"])
def test_copy_functions(work, func):
    """zcio's copy and copyfile as copy_function walk the tree as shutil does
    (directories still get copystat), with zcio copying the files."""
    side_by_side(work, tree, lambda mod: mod.copytree("src", "dst", copy_function=getattr(mod, func)))


def test_foreign_copy_function_is_called_as_shutil_calls_it(work):
    calls = {}

    def action(mod):
        seen = calls.setdefault(mod.__name__, [])

        def fn(s, d):
            seen.append((s, d))
            return shutil.copy2(s, d)
        return mod.copytree("src", "dst", copy_function=fn)
    side_by_side(work, tree, action)
    assert calls["zcio"] == calls["shutil"]


def test_ignore_is_called_as_shutil_calls_it(work):
    calls = {}

    def action(mod):
        seen = calls.setdefault(mod.__name__, [])

        def ignore(path, names):
            seen.append((path, sorted(names)))
            return {"run.sh", "empty"}
        return mod.copytree("src", "dst", ignore=ignore)
    side_by_side(work, tree, action)
    assert calls["zcio"] == calls["shutil"] and calls["zcio"]


def existing_dst():
    tree()
    os.makedirs("dst/a/b")
    write("dst/top.txt", b"old top, replaced")
    write("dst/extra", b"kept: not in the source")
    write("dst/a/b/f01", b"old")
    os.mkdir("dst/a/data.bin")          # a directory where the source has a file
    write("dst/elsewhere", b"target of a link")
    os.symlink("../../elsewhere", "dst/a/b/f02")   # a link where the source has a file


@pytest.mark.parametrize("ok", [False, True])
def test_dirs_exist_ok(work, ok):
    side_by_side(work, existing_dst, lambda mod: mod.copytree("src", "dst", dirs_exist_ok=ok))


def test_dirs_exist_ok_symlinks_kept(work):
    def build():
        existing_dst()
        os.symlink("x", "dst/link-to-file")
    side_by_side(work, build, lambda mod: mod.copytree("src", "dst", symlinks=True, dirs_exist_ok=True))


def test_empty_existing_destination(work):
    side_by_side(work, lambda: (tree(), os.mkdir("dst")),
                 lambda mod: mod.copytree("src", "dst", dirs_exist_ok=True))


@pytest.mark.parametrize("dst", ["dst", "new/parents/dst", "dst/"])
def test_destination_names(work, dst):
    side_by_side(work, tree, lambda mod: mod.copytree("src", dst))


@pytest.mark.parametrize("src", ["nope", "top.txt", "src/top.txt", "src/link-to-dir", "src/"])
def test_source_names(work, src):
    """A missing source, a file, a symlink to a directory, a trailing slash."""
    def build():
        tree()
        write("top.txt", b"a file, not a directory")
    side_by_side(work, build, lambda mod: mod.copytree(src, "dst"))


def test_bytes_and_pathlib(work):
    import pathlib
    side_by_side(work, tree, lambda mod: mod.copytree(b"src", b"dst"))
    side_by_side(os.path.join(work, "p"), tree,
                 lambda mod: str(mod.copytree(pathlib.Path("src"), pathlib.Path("dst"))))


def test_destination_inside_source(work):
    """shutil copies into a new destination at the top of the source (it lists
    the source before making it); zcio's tree copy refuses a destination inside
    the source, so zcio walks the tree as shutil does."""
    side_by_side(work, tree, lambda mod: mod.copytree("src", "src/copy"))


def test_relative_links_judged_from_their_directory(work, monkeypatch):
    """The difference of gh-91205: with ignore_dangling_symlinks, shutil skips a
    valid relative link whose target is not in the current directory; zcio
    copies what it points to, and skips only links that really dangle."""
    monkeypatch.chdir(work)
    tree_dangling()
    with pytest.raises(FileNotFoundError):
        os.stat("top.txt")
    shutil.copytree("src", "by-shutil", ignore_dangling_symlinks=True)
    zcio.copytree("src", "by-zcio", ignore_dangling_symlinks=True)
    assert not os.path.exists("by-shutil/link-to-file")
    assert open("by-zcio/link-to-file", "rb").read() == b"top\n"
    assert not os.path.lexists("by-zcio/a/dangling")


def test_dangling_symlink_destination(work, monkeypatch):
    """The other difference: a destination that is a dangling symlink. shutil
    follows it and makes the file it names; zcio refuses it (FileNotFoundError),
    as GNU cp does: following a planted link to make a file is how symlink
    attacks work."""
    monkeypatch.chdir(work)
    write("src", b"data")
    os.symlink("made-through-link", "dst")
    shutil.copyfile("src", "dst")
    assert open("made-through-link", "rb").read() == b"data"
    os.remove("made-through-link")
    with pytest.raises(FileNotFoundError) as e:
        zcio.copyfile("src", "dst")
    assert e.value.filename == "dst"
    assert not os.path.lexists("made-through-link")


def test_same_directory(work):
    """Onto itself, merging: every file is its own destination (shutil's error
    list, SameFileError's messages and all)."""
    side_by_side(work, tree, lambda mod: mod.copytree("src", "src", dirs_exist_ok=True))


def test_unreadable_entries(public_work):
    """As an unprivileged user: an unreadable file and an unreadable directory are
    listed in shutil.Error with PermissionError's message, and the rest copied;
    shutil makes no copy of the unreadable directory, nor does zcio."""
    from conftest import as_nobody

    def build():
        os.makedirs("src/sub/deeper")
        write("src/sub/deeper/f", b"hidden")
        write("src/secret", b"unreadable", 0o000)
        write("src/fine", b"readable", 0o644)
        os.chmod("src/sub", 0o300)
        for d in ("src", "src/sub", "src/sub/deeper"):
            os.chown(d, 65534, 65534) if os.geteuid() == 0 else None
        for f in ("src/secret", "src/fine", "src/sub/deeper/f"):
            os.chown(f, 65534, 65534) if os.geteuid() == 0 else None
        os.chmod(".", 0o777)

    def action(mod):
        with as_nobody():
            return mod.copytree("src", "dst")
    side_by_side(public_work, build, action)


def test_fifos_are_recreated(work, monkeypatch):
    """The difference: shutil reports a FIFO in a tree as an error (it would block
    reading it); zcio's tree copy recreates it, as cp -r does."""
    monkeypatch.chdir(work)
    os.makedirs("src")
    os.mkfifo("src/fifo")
    write("src/f", b"x")
    with pytest.raises(shutil.Error) as e:
        shutil.copytree("src", "by-shutil")
    assert "named pipe" in str(e.value)
    assert zcio.copytree("src", "by-zcio") == "by-zcio"
    assert snapshot("by-zcio")["fifo"]["kind"] == "fifo"


def test_symlink_loop_is_one_error(work, monkeypatch):
    monkeypatch.chdir(work)
    os.makedirs("src/d")
    write("src/d/f", b"x")
    os.symlink("..", "src/d/up")
    with pytest.raises(shutil.Error) as e:
        zcio.copytree("src", "dst")
    (srcname, dstname, why), = e.value.args[0]
    assert (srcname, dstname) == ("src/d/up", "dst/d/up")
    assert "Too many levels of symbolic links" in why
    assert open("dst/d/f", "rb").read() == b"x"


def big_tree(root, n=3000):
    rnd = random.Random(3)
    for i in range(n):
        d = os.path.join(root, f"d{i % 37:02}", f"e{i % 5}")
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, f"f{i:05}"), rnd.randbytes(rnd.randrange(0, 9000)), 0o600 + (i % 0o100))
        if i % 97 == 0:
            os.symlink(f"f{i:05}", os.path.join(d, f"l{i:05}"))


@pytest.mark.parametrize("jobs", [0, 1, 3])
def test_big_tree_entry_by_entry(work, jobs):
    """3,000 files in 185 directories: zcio's copy equals shutil's, entry by entry."""
    def action(mod):
        if mod is zcio:
            return mod.copytree("src", "dst", jobs=jobs)
        return mod.copytree("src", "dst")
    side_by_side(work, lambda: big_tree("src"), action)


def test_big_tree_walked_with_ignore(work):
    ign = shutil.ignore_patterns("*3", "e4")
    side_by_side(work, lambda: big_tree("src"), lambda mod: mod.copytree("src", "dst", ignore=ign))
