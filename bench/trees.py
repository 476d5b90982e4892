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


def real_parts():
    """/usr/include and the cargo registry's sources (what a build machine has)."""
    parts = [("include", "/usr/include")]
    reg = os.path.expanduser("~/.cargo/registry/src")
    if os.path.isdir(reg):
        parts.append(("registry", reg))
    return parts


def make_real(root):
    os.makedirs(root)
    for name, path in real_parts():
        subprocess.run(["cp", "-a", path, os.path.join(root, name)], check=True)
    os.sync()


def usage(paths):
    """Bytes and inodes the trees at `paths` take."""
    nbytes = inodes = 0
    for p in paths:
        for dirpath, dirnames, filenames in os.walk(p):
            for n in dirnames + filenames:
                nbytes += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
                inodes += 1
    return nbytes, inodes


def one_tree(key):
    """Bytes and inodes of one copy of tree `key`."""
    if key == "c":
        return usage([path for _, path in real_parts()])
    _, dirs, per = SHAPES[key]
    return (dirs * per + dirs) * 4096, dirs * per + dirs


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


def reuse_delay(path):
    """Seconds for which the file system under `path` passes over the inodes of
    removed files. ext4 without a journal (this machine's disk) skips, for every new
    file, each inode freed in the last minute (six once its block is dirty again,
    fs/ext4/ialloc.c: recently_deleted): a copy made in the minutes after a tree was
    removed spends most of its CPU there (perf: find_inode_bit, 25-65 % for zcp, xcp
    and cp alike), and one made after 62 s still took 2.4x as long as on a disk that
    removed nothing. Other file systems: 0."""
    st = os.stat(path)
    try:
        name = os.path.basename(os.path.realpath(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"))
        with open(f"/sys/fs/ext4/{name}/journal_task") as f:
            return 365 if f.read().strip() == "<none>" else 0
    except OSError:
        return 0  # not ext4, or its journal cannot be told: nothing to wait for


def stamp_path(b):
    return os.path.join(os.path.abspath(b.args.dir), ".trees-removed")


def rm_tree(b, path):
    """Removes a tree and notes when, for `wait_for_reuse`."""
    shutil.rmtree(path, ignore_errors=True)
    os.sync()
    with open(stamp_path(b), "w"):
        pass


def wait_for_reuse(b, path):
    """Before a measurement: waits until the inodes of the last removal under
    BENCH_DIR may be reused, where the file system makes new files wait for that."""
    delay = reuse_delay(path)
    try:
        left = delay - (time.time() - os.stat(stamp_path(b)).st_mtime)
    except OSError:
        return
    if left > 0:
        log(f"  waiting {left:.0f} s: this ext4 has no journal and passes over inodes freed in the last {delay} s")
        time.sleep(left)


class Kept:
    """Where a section's copies stay until it ends, so that no run is made where
    another was just removed (see reuse_delay). When the disk cannot hold the next
    tree and its copies as well, what is kept is removed first (and the next
    measurement waits for its inodes)."""

    def __init__(self, b, rundir):
        self.b, self.base, self.root, self.n = b, rundir, os.path.join(rundir, "kept"), 0

    def room(self, nbytes, inodes):
        vfs = os.statvfs(self.base)
        # Btrfs counts no inodes (f_files 0): only its bytes can run out.
        return (nbytes * 1.1 < vfs.f_bavail * vfs.f_frsize
                and (vfs.f_files == 0 or inodes * 1.1 < vfs.f_favail))

    def make_room(self, one, copies, what):
        """Before a tree is made: room for it and `copies` copies of it, each
        `one` = (bytes, inodes); a clear error where even an empty disk is short."""
        nbytes, inodes = one[0] * (copies + 1), one[1] * (copies + 1)
        if self.room(nbytes, inodes):
            return
        if os.path.exists(self.root):
            log(f"  removing the copies kept so far: the disk cannot hold {what} and its copies too")
            rm_tree(self.b, self.root)
        if not self.room(nbytes, inodes):
            raise SystemExit(f"{what} and its {copies} copies need {nbytes / 1e9:.1f} GB and {inodes:,} "
                             f"inodes; {self.base} has less free")

    def path(self):
        os.makedirs(self.root, exist_ok=True)
        self.n += 1
        return os.path.join(self.root, f"{self.n}")


def measure(b, rows, src, runs, kept=None):
    """Every row once per round, rotated order; cold cache, flush inside the time.
    With `kept` (trees of many files) every copy stays there; without it (a big
    file's copies, which would fill the disk) each is removed after its check."""
    wait_for_reuse(b, src)
    for r in range(runs):
        order = rows[r % len(rows):] + rows[:r % len(rows)]
        for row in order:
            if row.na:
                continue
            if kept:
                dst = kept.path()
            else:
                dst = os.path.join(os.path.dirname(src), "copy")
            b.before_run()
            rc, err, wall, _, _ = b.timed(row.command(src, dst), ["sync"])
            if rc != 0:
                row.na = single.last_words(err) or f"exit status {rc}"
            else:
                if not same_tree(src, dst, b.env):
                    row.bad += 1
                row.walls.append(wall)
                log(f"  {row.label}: {wall:.2f} s")
            if not kept:
                # A big file's few inodes: no stamp, so nothing waits for them.
                shutil.rmtree(dst, ignore_errors=True)
                os.sync()


def floor(b, floor_bin, src, jobs, runs, kept=None):
    """Seconds to read every file of src cold, and to write its shape from memory
    (into `kept` when given, as `measure` keeps copies)."""
    out = {"read": [], "write": []}
    wait_for_reuse(b, src)
    for r in range(runs):
        b.before_run()
        rc, _, wall, _, _ = b.timed([floor_bin, "read", str(jobs), src], ["true"])
        if rc == 0:
            out["read"].append(wall)
        dst = kept.path() if kept else os.path.join(os.path.dirname(src), "copy")
        b.before_run()
        rc, _, wall, _, _ = b.timed([floor_bin, "write", str(jobs), src, dst], ["sync"])
        if rc == 0:
            out["write"].append(wall)
        if not kept:
            shutil.rmtree(dst, ignore_errors=True)
            os.sync()
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
        rm_tree(b, rundir)
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
    if shutil.which("rsync") or install_rsync(b.env):
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
    kept = Kept(b, rundir)
    for key in args.shapes:
        src = os.path.join(rundir, f"src-{key}")
        title = "a real tree: /usr/include and the cargo registry's sources" if key == "c" else SHAPES[key][0]
        # Every copy of every tree, and each source, stays until the section ends.
        copies = (len(rows) + 1) * args.runs
        kept.make_room(one_tree(key), copies, f"tree ({key})")
        if key == "c":
            make_real(src)
        else:
            make_shape(src, *SHAPES[key][1:])
        files, size = count(src)
        log(f"({key}) {title}: {files:,} files, {size / 1e6:.0f} MB")
        these = [Row(r.label, r.argv) for r in rows]
        for t, r in zip(these, rows):
            t.na = r.na
        measure(b, these, src, args.runs, kept)
        fl = floor(b, args.floor, src, jobs, args.runs, kept)
        sections.append((key, title, files, size, these, fl))
    return report(b, args, sections)


def report(b, args, sections):
    L = ["### Trees", ""]
    L.append(f"`make bench` tree section: {args.runs} rounds, rotated order, "
             + ("caches dropped before each run" if b.cold else b.cold_why)
             + ", the final `sync` inside the time, every copy compared with `diff -r` against its source."
             + " Every copy stays on the disk until the section ends, and the section starts once the disk"
             + " would reuse the inodes of what was removed before it"
             + (f" ({reuse_delay(b.args.dir)} s after: ext4 without a journal)" if reuse_delay(b.args.dir) else "")
             + ", so that no run is made where another was just removed.")
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
