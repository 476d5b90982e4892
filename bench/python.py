#!/usr/bin/env python3
"""`make bench`'s Python rows: zcio's Python package against shutil, in the same
interpreter (the virtualenv `make python-venv` installs zcio into).

One large file (BENCH_SIZE + 12,345 bytes), cold (caches dropped before each run)
and warm (the source read into the page cache first): zcio.copyfile against
shutil.copyfile. The 50,000-file tree of bench/trees.py (4 KiB files in 1,000
directories), cold: zcio.copytree against shutil.copytree, and the two other ways
zcio can take part: zcio.copytree walking the tree as shutil does (given an
`ignore`) with the files copied in one parallel batch, and shutil.copytree with
copy_function=zcio.copy2. Each run is a fresh interpreter; the time includes
starting it and the final `sync`; every result is compared with its source.

Prints a markdown report (also written to --report); progress goes to stderr.
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as single  # noqa: E402  (Bench, run, median_range, log)
import trees  # noqa: E402  (the tree shapes and the tree check)

from bench import log, median_range, run  # noqa: E402

FILE_ROWS = [
    ("zcio.copyfile(SRC, DST)", "import sys, zcio; zcio.copyfile(sys.argv[1], sys.argv[2])"),
    ("zcio.directio_copy(SRC, DST)", "import sys, zcio; zcio.directio_copy(sys.argv[1], sys.argv[2])"),
    ("shutil.copyfile(SRC, DST)", "import sys, shutil; shutil.copyfile(sys.argv[1], sys.argv[2])"),
]
TREE_ROWS = [
    ("zcio.copytree(SRC, DST)", "import sys, zcio; zcio.copytree(sys.argv[1], sys.argv[2])"),
    ("zcio.copytree(SRC, DST, ignore=f)",
     "import sys, zcio; zcio.copytree(sys.argv[1], sys.argv[2], ignore=lambda d, names: ())"),
    ("shutil.copytree(SRC, DST, copy_function=zcio.copy2)",
     "import sys, shutil, zcio; shutil.copytree(sys.argv[1], sys.argv[2], copy_function=zcio.copy2)"),
    ("shutil.copytree(SRC, DST)", "import sys, shutil; shutil.copytree(sys.argv[1], sys.argv[2])"),
]
SHUTIL_FILE, SHUTIL_TREE = FILE_ROWS[2][0], TREE_ROWS[3][0]


class Row:
    def __init__(self, label, code):
        self.label, self.code = label, code
        self.walls, self.bad, self.failed = [], 0, None


def remove(b, path):
    """A file or a tree, whichever was made, then flushed."""
    if os.path.isdir(path) and not os.path.islink(path):
        trees.rm_tree(b, path)
    else:
        b.rm(path)
        os.sync()


def measure(b, py, rows, src, dst, runs, warm, check, kept=None):
    """Each row once per round. With `kept` (a tree) every copy stays there until
    the end, as bench/trees.py keeps them; else `dst` is removed before each run."""
    if kept:
        trees.wait_for_reuse(b, src)
    for r in range(runs):
        # Rotated, so that no row always runs right after the same other.
        order = rows[r % len(rows):] + rows[:r % len(rows)]
        for row in order:
            if row.failed:
                continue
            if kept:
                dst = kept.path()
            else:
                remove(b, dst)
            b.before_run()
            if warm:
                with open(src, "rb", buffering=0) as f:
                    while f.read(8 << 20):
                        pass
            rc, err, wall, _, _ = b.timed([py, "-c", row.code, src, dst], ["sync"])
            if rc != 0:
                row.failed = single.last_words(err) or f"exit status {rc}"
                log(f"  {row.label}: FAILED: {row.failed}")
                continue
            row.bad += not check(src, dst)
            row.walls.append(wall)
            log(f"  [{r + 1}/{runs}] {row.label}: {wall:.2f} s")
    if not kept:
        remove(b, dst)


def table(rows, unit, amount, base_label):
    med = {r.label: statistics.median(r.walls) for r in rows if r.walls}
    base = med.get(base_label)
    out = [f"| call | s median (min–max) | {unit} | × shutil | result |", "|---|---|---|---|---|"]
    for r in rows:
        if not r.walls:
            out.append(f"| `{r.label}` | – | – | – | failed: {r.failed} |")
            continue
        m = med[r.label]
        ratio = f"{base / m:.2f}×" if base else "–"
        ok = "ok" if r.bad == 0 else f"{r.bad} differ"
        out.append(f"| `{r.label}` | {median_range(r.walls, lambda x: f'{x:.2f}')} | "
                   f"{amount(m)} | {ratio} | {ok} |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", required=True, help="the interpreter zcio is installed for")
    ap.add_argument("--dir", required=True, help="BENCH_DIR (a disk, not tmpfs)")
    ap.add_argument("--size", default="2G", help="BENCH_SIZE")
    ap.add_argument("--runs", type=int, default=3, help="BENCH_RUNS")
    ap.add_argument("--parts", default="file,tree", help="which sets of rows: file, tree")
    ap.add_argument("--report")
    ap.add_argument("--command", default="")
    args = ap.parse_args()
    b = single.Bench(args)
    py = os.path.abspath(args.python) if os.sep in args.python else args.python
    v = run([py, "-c", "import sys, zcio; print(zcio.__version__, sys.version.split()[0])"], b.env)
    if v.returncode != 0:
        print(f"python.py: {py} cannot import zcio: {v.stderr.strip()}", file=sys.stderr)
        return 2
    zver, pyver = v.stdout.split()
    work = os.path.abspath(args.dir)
    os.makedirs(work, exist_ok=True)
    rundir = tempfile.mkdtemp(prefix="python-", dir=work)
    b.check_drop()
    log("python rows: " + ("caches dropped before each run" if b.cold else b.cold_why))
    parts = args.parts.split(",")
    L = ["### Python: zcio's package against shutil", ""]
    L.append(f"zcio {zver} (the wheel `pip install .` built) on Python {pyver}; {args.runs} rounds, "
             "rotated order, " + ("caches dropped before each run" if b.cold else b.cold_why)
             + "; each run a fresh interpreter, the final `sync` inside the time; every copy "
             "compared with its source." + (f" Command: `{args.command}`." if args.command else ""))
    L.append("")
    try:
        if "file" in parts:
            dst = os.path.join(rundir, "dst-file")
            src = os.path.join(rundir, "src")
            size = b.size + single.TAIL
            log(f"writing the source: {size:,} bytes of random data")
            b.make_random(src, size)
            same = lambda s, d: run(["cmp", "-s", s, d], b.env).returncode == 0  # noqa: E731
            for warm in (False, True):
                rows = [Row(*r) for r in FILE_ROWS]
                log(f"one file, {'warm' if warm else 'cold'}")
                measure(b, py, rows, src, dst, args.runs, warm, same)
                if warm:
                    L.append(f"#### One file of {size:,} bytes, warm: the source in the page cache")
                else:
                    L.append(f"#### One file of {size:,} bytes, cold")
                L.append("")
                L += table(rows, "MB/s", lambda m: f"{size / m / 1e6:,.0f}", SHUTIL_FILE)
                L.append("")
            b.rm(src)
        if "tree" in parts:
            title, dirs, per = trees.SHAPES["a"]
            src = os.path.join(rundir, "tree")
            rows = [Row(*r) for r in TREE_ROWS]
            kept = trees.Kept(b, rundir)
            kept.make_room(trees.one_tree("a"), len(rows) * args.runs, "the tree")
            log(f"making the tree: {title}")
            trees.make_shape(src, dirs, per)
            files, size = trees.count(src)
            measure(b, py, rows, src, None, args.runs, False,
                    lambda s, d: trees.same_tree(s, d, b.env), kept)
            L.append(f"#### The tree: {title}, {files:,} files, {size / 1e6:.0f} MB, cold")
            L.append("")
            L += table(rows, "files/s", lambda m: f"{files / m:,.0f}", SHUTIL_TREE)
            L.append("")
    finally:
        trees.rm_tree(b, rundir)
    text = "\n".join(L) + "\n"
    print(text, end="", flush=True)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
