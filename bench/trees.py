#!/usr/bin/env python3
"""`make bench`'s tree section: zcp -r and zcp -a against cp -r, cp -a, rsync -a,
xcp, fcp and cpz on three trees, cold cache and the final flush included, every
result checked against its source.

The trees: (a) 50,000 files of 4 KiB in 1,000 directories, (b) 20,000 files of
4 KiB in one directory, (c) a real tree: /usr/include and the sources in the cargo
registry, copied into BENCH_DIR first. Beside them, the floor this disk sets:
reading every file of the tree (the first half of any copy) and writing a tree of
the same shape from memory (the second half), each with as many threads as zcp.

Prints a markdown report (also written to --report); progress goes to stderr.
Python 3 standard library only; xcp, fcp and cpz are installed with
`cargo install --locked` when missing, rsync with apt-get (set BENCH_NO_INSTALL=1
to skip them).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as single  # noqa: E402  (the big-file bench: its Bench and helpers)

from bench import log, median_range, run  # noqa: E402

SHAPES = {
    "a": ("50,000 files of 4 KiB in 1,000 directories", 1000, 50),
    "b": ("20,000 files of 4 KiB in one directory", 1, 20000),
}
PEERS = ("xcp -r", "fcp", "cpz")
CRATES = {"xcp": "xcp", "fcp": "fcp", "cpz": "cpz"}


def make_shape(root, dirs, per_dir):
    """`dirs` directories of `per_dir` 4 KiB files of random data each."""
    os.makedirs(root)
    blob = os.urandom(4096 * 256)
    k = 0
    for d in range(dirs):
        p = os.path.join(root, f"d{d:04}") if dirs > 1 else root
        os.makedirs(p, exist_ok=True)
        for i in range(per_dir):
            with open(os.path.join(p, f"f{i:05}"), "wb") as f:
                off = (k % 256) * 4096
                f.write(blob[off:off + 4096])
            k += 1
    os.sync()


def make_real(root):
    """/usr/include and the cargo registry's sources (what a build machine has)."""
    os.makedirs(root)
    parts = [("include", "/usr/include")]
    reg = os.path.expanduser("~/.cargo/registry/src")
    if os.path.isdir(reg):
        parts.append(("registry", reg))
    for name, path in parts:
        subprocess.run(["cp", "-a", path, os.path.join(root, name)], check=True)
    os.sync()


def count(root):
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            files += 1
            size += st.st_size
    return files, size


# The floor rows: what treefloor measured, and how a report names it.
FLOORS = (("read", "read every file, cold"), ("write", "write the tree from memory, flushed"))


def find_tool(name, env):
    """The path of a peer tool, installed with cargo if missing; None when it cannot be."""
    for d in os.environ.get("PATH", "").split(":") + [os.path.expanduser("~/.cargo/bin")]:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    if os.environ.get("BENCH_NO_INSTALL"):
        return None
    log(f"installing {name} with cargo install --locked {CRATES[name]}")
    r = run(["cargo", "install", "--locked", "--quiet", CRATES[name]], env)
    p = os.path.expanduser(f"~/.cargo/bin/{name}")
    return p if r.returncode == 0 and os.access(p, os.X_OK) else None


def install_rsync(env):
    """rsync from the distribution, as root with apt-get, unless BENCH_NO_INSTALL."""
    if os.environ.get("BENCH_NO_INSTALL") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    log("installing rsync with apt-get")
    apt = {**env, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "install", "-y", "-qq", "rsync"], ["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "rsync"]):
        if run(argv, apt).returncode == 0 and argv[1] == "install":
            break
    return shutil.which("rsync") is not None


class Row:
    def __init__(self, label, argv, note=""):
        self.label, self.argv, self.note = label, argv, note
        self.walls, self.bad, self.na = [], 0, None

    def command(self, src, dst):
        return [a.format(src=src, dst=dst) for a in self.argv]

    def shown(self):
        words = [os.path.basename(self.argv[0])] + self.argv[1:]
        return " ".join(words).replace("{src}", "SRC").replace("{dst}", "DST")


def same_tree(src, dst, env):
    """Whether dst holds src exactly (names, kinds, contents, link targets)."""
    return run(["diff", "-r", "-q", "--no-dereference", src, dst], env).returncode == 0


# Seconds to wait after a tree is removed. ext4 without a journal (this machine's
# disk) passes over the inodes freed in the last minute (six, once their block is
# written again) whenever it picks one for a new file: a copy made right after a
# removal spends most of its CPU there (perf: find_inode_bit, 25-65 % of it for
# zcp, xcp and cp alike). Keeping a round's copies until it ends and resting after
# the removal spares each run the removal of the one before; the rest is not long
# enough to spare it all.
REST = 62


def rm_tree(b, path):
    shutil.rmtree(path, ignore_errors=True)
    os.sync()


def clear(b, path):
    """Removes what a round wrote and lets the disk forget it."""
    if os.path.exists(path):
        rm_tree(b, path)
        time.sleep(REST)


def measure(b, rows, src, rundir, runs, keep=True):
    """Every row once per round, rotated order; cold cache, flush inside the time.
    Under `keep` (trees of many files) each round's copies stay until the round is
    over, so that none is made where another was just removed."""
    kept = os.path.join(rundir, "kept")
    clear(b, kept)
    for r in range(runs):
        os.makedirs(kept)
        order = rows[r % len(rows):] + rows[:r % len(rows)]
        for i, row in enumerate(order):
            if row.na:
                continue
            dst = os.path.join(kept, f"{i}")
            if not keep:
                rm_tree(b, kept)
                os.makedirs(kept)
            b.before_run()
            rc, err, wall, _, _ = b.timed(row.command(src, dst), ["sync"])
            if rc != 0:
                row.na = single.last_words(err) or f"exit status {rc}"
                continue
            if not same_tree(src, dst, b.env):
                row.bad += 1
            row.walls.append(wall)
            log(f"  {row.label}: {wall:.2f} s")
        clear(b, kept)


def floor(b, floor_bin, src, rundir, jobs, runs, keep=True):
    """Seconds to read every file of src cold, and to write its shape from memory
    (kept until the end as `measure` keeps copies)."""
    out = {"read": [], "write": []}
    kept = os.path.join(rundir, "kept")
    clear(b, kept)
    os.makedirs(kept)
    for r in range(runs):
        if not keep:
            rm_tree(b, kept)
            os.makedirs(kept)
        b.before_run()
        rc, _, wall, _, _ = b.timed([floor_bin, "read", str(jobs), src], ["true"])
        if rc == 0:
            out["read"].append(wall)
        b.before_run()
        rc, _, wall, _, _ = b.timed([floor_bin, "write", str(jobs), src, os.path.join(kept, f"{r}")], ["sync"])
        if rc == 0:
            out["write"].append(wall)
    clear(b, kept)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--zcp", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--floor", required=True, help="bench/treefloor.c, built")
    ap.add_argument("--report")
    ap.add_argument("--shapes", default="abc")
    args = ap.parse_args()
    args.size = "1M"
    b = single.Bench(args)
    return run_section(b, args, ("zcp", "lib", "floor"), "trees-", bench)


def run_section(b, args, paths, prefix, section):
    """Runs `section(b, args, rundir)` in a scratch directory under --dir (the
    arguments named in `paths` made absolute first), with the library under test
    copied there for LD_LIBRARY_PATH; prints its report and writes it to --report."""
    for name in paths:
        setattr(args, name, os.path.abspath(getattr(args, name)))
    work = os.path.abspath(args.dir)
    os.makedirs(work, exist_ok=True)
    rundir = tempfile.mkdtemp(prefix=prefix, dir=work)
    try:
        libdir = os.path.join(rundir, "lib")
        os.mkdir(libdir)
        shutil.copy2(os.path.realpath(args.lib), os.path.join(libdir, os.path.basename(args.lib)))
        b.env["LD_LIBRARY_PATH"] = libdir
        text = section(b, args, rundir)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
    print(text, end="", flush=True)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    return 0


def bench(b, args, rundir):
    b.check_drop()
    z = args.zcp
    rows = [
        Row("zcp -r", [z, "-q", "-r", "{src}", "{dst}"]),
        Row("zcp -a", [z, "-q", "-a", "{src}", "{dst}"]),
        Row("cp -r", ["cp", "-r", "{src}", "{dst}"]),
        Row("cp -a", ["cp", "-a", "{src}", "{dst}"]),
    ]
    if shutil.which("rsync") or install_rsync(env):
        rows.append(Row("rsync -a", ["rsync", "-a", "{src}/", "{dst}/"]))
    else:
        r = Row("rsync -a", ["rsync"])
        r.na = "rsync is not installed (apt-get install rsync)"
        rows.append(r)
    for label in PEERS:
        name = label.split()[0]
        path = find_tool(name, b.env)
        r = Row(label, [path or name] + label.split()[1:] + ["{src}", "{dst}"])
        if not path:
            r.na = f"{name} could not be installed"
        rows.append(r)
    jobs = 8
    sections = []
    for key in args.shapes:
        src = os.path.join(rundir, f"src-{key}")
        if key == "c":
            title = "a real tree: /usr/include and the cargo registry's sources"
            make_real(src)
        else:
            title, dirs, per = SHAPES[key]
            make_shape(src, dirs, per)
        files, size = count(src)
        log(f"({key}) {title}: {files:,} files, {size / 1e6:.0f} MB")
        these = [Row(r.label, r.argv) for r in rows]
        for t, r in zip(these, rows):
            t.na = r.na
        measure(b, these, src, rundir, args.runs)
        fl = floor(b, args.floor, src, rundir, jobs, args.runs)
        sections.append((key, title, files, size, these, fl))
        rm_tree(b, src)
    return report(b, args, sections)


def report(b, args, sections):
    L = ["### Trees", ""]
    L.append(f"`make bench` tree section: {args.runs} rounds, rotated order, "
             + ("caches dropped before each run" if b.cold else b.cold_why)
             + ", the final `sync` inside the time, every copy compared with `diff -r` against its source."
             + f" A round's copies stay until it ends; then they are removed and the disk rests {REST} s"
             + " (ext4 without a journal makes each new file pass over the inodes freed in the last minutes).")
    L.append("")
    for key, title, files, size, rows, fl in sections:
        L.append(f"#### ({key}) {title}: {files:,} files, {size / 1e6:.0f} MB")
        L.append("")
        L.append("| command | s median (min–max) | files/s | × best of xcp, fcp, cpz | × cp -a | result |")
        L.append("|---|---|---|---|---|---|")
        med = {r.label: statistics.median(r.walls) for r in rows if r.walls}
        peers = [med[p] for p in PEERS if p in med]
        best = min(peers) if peers else None
        for r in rows:
            if r.na:
                L.append(f"| `{r.shown()}` | – | – | – | – | n/a: {r.na} |")
                continue
            m = med[r.label]
            vs_best = f"{best / m:.2f}×" if best else "–"
            vs_cpa = f"{med['cp -a'] / m:.2f}×" if "cp -a" in med else "–"
            ok = "ok" if r.bad == 0 else f"{r.bad} differ"
            L.append(f"| `{r.shown()}` | {median_range(r.walls, lambda x: f'{x:.2f}')} | "
                     f"{files / m:,.0f} | {vs_best} | {vs_cpa} | {ok} |")
        for what, label in FLOORS:
            v = fl[what]
            if v:
                L.append(f"| floor: {label} (8 threads) | {median_range(v, lambda x: f'{x:.2f}')} | "
                         f"{files / statistics.median(v):,.0f} | | | |")
        L.append("")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
