"""The examples in examples-py run and do what they say."""

import os
import subprocess
import sys

import pytest

from conftest import write

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "examples-py")
# Runs progress_bar.py with tqdm hidden, for the plain bar.
NO_TQDM = "import runpy, sys; sys.modules['tqdm'] = None; sys.argv = sys.argv[1:]; " \
          "runpy.run_path(sys.argv[0], run_name='__main__')"


def has_tqdm():
    return subprocess.run([sys.executable, "-c", "import tqdm"], capture_output=True).returncode == 0


@pytest.mark.parametrize("bar", ["tqdm", "plain"])
def test_progress_bar(work, bar):
    if bar == "tqdm" and not has_tqdm():
        pytest.skip("tqdm is not installed")
    script = os.path.join(EXAMPLES, "progress_bar.py")
    argv = [sys.executable, script] if bar == "tqdm" else [sys.executable, "-c", NO_TQDM, script]
    data = os.urandom(5 << 20)
    write(os.path.join(work, "f"), data)
    r = subprocess.run(argv + [os.path.join(work, "f"), os.path.join(work, "g")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "bytes by" in r.stdout and ("100%" in r.stderr or "5.2 of 5.2 MB" in r.stderr), r.stderr
    with open(os.path.join(work, "g"), "rb") as f:
        assert f.read() == data
    os.makedirs(os.path.join(work, "t", "sub"))
    for i in range(20):
        write(os.path.join(work, "t", "sub", f"f{i}"), data[: 1000 * i])
    r = subprocess.run(argv + [os.path.join(work, "t"), os.path.join(work, "t2")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "20 files, 2 directories" in r.stdout
    r = subprocess.run(argv + [os.path.join(work, "missing"), os.path.join(work, "x")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "No such file or directory" in r.stderr


def test_ctypes_example_through_the_c_abi():
    lib = os.environ.get("ZCIO_LIB") or os.path.join(os.path.dirname(EXAMPLES), "build", "lib", "libzcio.so")
    if not os.path.exists(lib):
        pytest.skip("no libzcio.so built (make lib); the C-ABI example is make example-test's")
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "ctypes_copy.py"), "--lib", lib],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "all steps passed" in r.stdout, r.stdout + r.stderr
