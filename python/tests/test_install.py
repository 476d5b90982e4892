"""The package as pip installed it: imported from the virtualenv, the library
inside the extension module (no libzcio.so, no LD_LIBRARY_PATH), typed, and the
wheel `pip wheel .` made carrying the same."""

import glob
import inspect
import os
import subprocess
import sys
import sysconfig
import zipfile

import pytest

import zcio
from zcio import _zcio

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cargo_version():
    with open(os.path.join(REPO, "Cargo.toml")) as f:
        for line in f:
            if line.startswith("version = "):
                return line.split('"')[1]
    raise AssertionError("no version in Cargo.toml")


def test_imported_from_the_virtualenv():
    site = sysconfig.get_paths()["purelib"]
    assert sys.prefix != sys.base_prefix, "not running in a virtualenv"
    assert os.path.dirname(zcio.__file__) == os.path.join(site, "zcio")
    assert os.path.dirname(_zcio.__file__) == os.path.join(site, "zcio")
    assert not zcio.__file__.startswith(os.path.join(REPO, "python"))


def test_the_extension_carries_the_library():
    assert "LD_LIBRARY_PATH" not in os.environ or "build/lib" not in os.environ["LD_LIBRARY_PATH"]
    out = subprocess.run(["ldd", _zcio.__file__], capture_output=True, text=True).stdout
    assert "libzcio" not in out and "libpython" not in out, out


def test_version_is_cargos():
    assert zcio.__version__ == cargo_version()


def test_typed():
    pkg = os.path.dirname(zcio.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    assert os.path.exists(os.path.join(pkg, "_zcio.pyi"))


def test_every_public_name_is_documented():
    for name in zcio.__all__:
        obj = getattr(zcio, name)
        # shutil's own (Error, ignore_patterns...) are shutil's to document.
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.startswith("zcio"):
            assert obj.__doc__ and len(obj.__doc__) > 20, name
    sig = inspect.signature(zcio.copytree)
    assert list(sig.parameters)[:7] == ["src", "dst", "symlinks", "ignore", "copy_function",
                                        "ignore_dangling_symlinks", "dirs_exist_ok"]
    assert sig.parameters["copy_function"].default is zcio.copy2


def test_the_wheel():
    wheels = glob.glob(os.path.join(os.environ.get("ZCIO_WHEELS", "/nonexistent"), "zcio-*.whl"))
    if not wheels:
        pytest.skip("ZCIO_WHEELS names no directory with a wheel (make python-test sets it)")
    whl, = wheels
    assert f"zcio-{cargo_version()}-cp39-abi3-linux_" in os.path.basename(whl)
    names = zipfile.ZipFile(whl).namelist()
    for want in ("zcio/__init__.py", "zcio/_shutil.py", "zcio/_core.py", "zcio/py.typed",
                 "zcio/_zcio.pyi", "zcio/_zcio.abi3.so"):
        assert want in names, (want, names)
    assert not [n for n in names if n.endswith(".so") and n != "zcio/_zcio.abi3.so"]


def test_done_means(work):
    """What the issue calls done: python -c "import zcio; zcio.copytree('a', 'b')"."""
    os.makedirs(os.path.join(work, "a", "sub"))
    with open(os.path.join(work, "a", "sub", "f"), "w") as f:
        f.write("hello")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    subprocess.run([sys.executable, "-c", "import zcio; zcio.copytree('a', 'b')"], cwd=work,
                   env=env, check=True)
    with open(os.path.join(work, "b", "sub", "f")) as f:
        assert f.read() == "hello"


USAGE = '''
import shutil, socket, zcio
s: zcio.Stats = zcio.copy_file("a", "b", method="sendfile", progress=lambda d, t: None)
m: str = s.method
why: list[tuple[str, int, str]] = s.fallbacks
n: int = zcio.sendfile(socket.socket(), open("a", "rb"), count=10)
t: zcio.TreeStats = zcio.copy_tree("a", "b", preserve="all", progress=lambda p: print(p.bytes_done))
shutil.copytree("a", "b", copy_function=zcio.copy2)
r = zcio.copytree("a", "b", ignore=zcio.ignore_patterns("*.pyc"), jobs=4)
'''


def test_type_hints_check(work):
    """py.typed, the annotations and _zcio.pyi agree, by mypy --strict: on the
    package as installed, and on code that uses it."""
    if subprocess.run([sys.executable, "-c", "import mypy"], capture_output=True).returncode:
        pytest.skip("mypy is not installed")
    usage = os.path.join(work, "usage.py")
    with open(usage, "w") as f:
        f.write(USAGE)
    for what in (["-p", "zcio"], [usage]):
        r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *what],
                           cwd=work, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
