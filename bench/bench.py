#!/usr/bin/env python3
"""`make bench`: zcio's copies against the usual ways to copy a file, on this disk.

Prints a markdown report to paste into an issue (and writes it to --report):
machine facts, the disk's copy limit measured with fio, one table of big-file
copies, one of 10,000 small files, one of a file sent over loopback TCP, and what
the numbers mean. Progress goes to stderr. Everything it creates lives in a
directory under BENCH_DIR that is removed at the end, on error and on Ctrl-C.

Python 3 standard library only; the Makefile passes the programs it built.
"""

import argparse
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TAIL = 12345                 # source = BENCH_SIZE + TAIL: an unaligned end to handle
SMALL_COUNT = 10_000
SMALL_SIZE = 4096
NET_SIZE = 1 << 30
SETTLE = 1.0                 # seconds of quiet before each measured run
PROBE_SIZE = (4 << 20) + TAIL
MB = 1e6                     # decimal units in the report: MB/s and CPU s per GB
GB = 1e9


def log(msg):
    print(f"[bench {time.monotonic() - START:6.1f}s] {msg}", file=sys.stderr, flush=True)


START = time.monotonic()


def parse_size(text):
    """'2G', '512M', '1.5GiB', '1048576' -> bytes (binary multiples)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"BENCH_SIZE: cannot read '{text}' (try 2G, 512M)")
    n = int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2).lower() or " "))
    if n < 1 << 20:
        raise ValueError(f"BENCH_SIZE: '{text}' is below 1 MiB")
    return n


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" or n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def read_text(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def run(argv, env, cwd=None):
    """subprocess.run with output captured as text, the command in a process group of
    its own. An interrupt stops the command before its files are removed: SIGTERM
    first, which fio passes on to its job processes (they run in sessions of their
    own, out of reach of the group), then SIGKILL for whatever is left."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=cwd, text=True, errors="replace", start_new_session=True)
    try:
        out, err = p.communicate()
    except BaseException:
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
            try:
                os.killpg(p.pid, sig)
                p.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                pass
        raise
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class Interrupted(Exception):
    pass


def on_signal(sig, _frame):
    raise Interrupted(signal.Signals(sig).name)


# ---------------------------------------------------------------- the machine

def mount_of(path):
    """(device, fstype, options) of the file system holding path, from mountinfo:
    the mount of its device with the longest mount point above path; the options
    are the mount's and then the file system's own (discard, data=...)."""
    st = os.stat(path)
    want = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    real = os.path.realpath(path)
    best, best_len = ("?", "?", "?"), -1
    for line in read_text("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        f, r = left.split(), right.split()
        if len(f) < 6 or len(r) < 2 or f[2] != want:
            continue
        point = f[4].replace("\\040", " ")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > best_len:
            opts = f[5] + "".join("," + o for o in (r[2].split(",") if len(r) > 2 else []) if o not in f[5].split(","))
            best, best_len = (r[1], r[0], opts), len(point)
    return best


def device_facts(path):
    st = os.stat(path)
    sysdev = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    if not os.path.exists(sysdev):
        return ""
    real = os.path.realpath(sysdev)
    disk = real if os.path.exists(f"{real}/queue") else os.path.dirname(real)  # a partition's disk
    facts = []
    model = read_text(f"{disk}/device/model")
    if model:
        facts.append(model)
    driver = os.path.basename(os.path.realpath(f"{disk}/device/driver")) if os.path.exists(f"{disk}/device/driver") else ""
    if driver:
        facts.append(f"driver {driver}")
    sectors = read_text(f"{disk}/size")
    if sectors.isdigit():
        facts.append(human(int(sectors) * 512))
    rot = read_text(f"{disk}/queue/rotational")
    if rot:
        facts.append("rotational" if rot == "1" else "non-rotational")
    sched = re.search(r"\[(\S+)\]", read_text(f"{disk}/queue/scheduler"))
    if sched:
        facts.append(f"scheduler {sched.group(1)}")
    return ", ".join(facts)


def cpu_model():
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def mem_total():
    m = re.search(r"MemTotal:\s+(\d+) kB", read_text("/proc/meminfo"))
    return human(int(m.group(1)) * 1024) if m else "?"


def git_version(root):
    try:
        return run(["git", "-C", root, "describe", "--always", "--dirty"], os.environ).stdout.strip() or "?"
    except OSError:
        return "?"


# ---------------------------------------------------------------- measuring

class Bench:
    def __init__(self, args):
        self.args = args
        self.size = parse_size(args.size)
        self.runs = args.runs
        if self.runs < 1:
            raise ValueError("BENCH_RUNS must be at least 1")
        self.env = dict(os.environ, LC_ALL="C")
        self.cold = False
        self.cold_why = ""

    # Caches --------------------------------------------------------------

    def check_drop(self):
        if os.geteuid() != 0:
            self.cold_why = "not root: runs are warm (page cache not dropped)"
            return
        try:
            self.drop()
            self.cold = True
        except OSError as e:
            self.cold_why = f"cannot drop caches ({e.strerror}): runs are warm"

    def drop(self):
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")

    def before_run(self):
        if self.cold:
            self.drop()
        # Let the disk settle: freeing the last copy's blocks sends discards (and the
        # drop's sync write-back) that would otherwise land in the next measurement.
        time.sleep(SETTLE)

    def cached(self, path):
        """Bytes of path in the page cache, by fincore; None when it cannot tell."""
        try:
            out = run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES", path], self.env)
            return int(out.stdout.split()[0]) if out.returncode == 0 else None
        except (OSError, ValueError, IndexError):
            return None

    # Files ---------------------------------------------------------------

    def make_random(self, path, size):
        """Incompressible data: random bytes, so no layer can compress or dedupe them."""
        chunk = 8 << 20
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(chunk, left)
                f.write(os.urandom(n))
                left -= n
            f.flush()
            os.fsync(f.fileno())

    def rm(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    # Runs ----------------------------------------------------------------

    def timed(self, argv, flush, cwd=None):
        """Runs argv, then flushes what it wrote, inside one timed region. Returns
        (returncode, stderr, wall, user, sys) with the CPU of both children."""
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = run(argv, self.env, cwd=cwd)
        if p.returncode == 0:
            f = run(flush, self.env)
            if f.returncode != 0:
                p = f
        t1 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return p.returncode, p.stderr.strip(), t1 - t0, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime


def median_range(values, fmt):
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def last_words(err):
    """The reason at the end of a tool's error message ('...: Operation not supported')."""
    line = err.strip().splitlines()[-1] if err.strip() else ""
    return line.rsplit(": ", 1)[-1] if ": " in line else line


class Contender:
    def __init__(self, label, argv, zcp=False, note=""):
        self.label = label
        self.argv = argv          # with {src} and {dst} left to fill in
        self.zcp = zcp
        self.na = None            # why it cannot run here
        self.note = note          # what it is, or what zcp -v said it did
        self.walls, self.users, self.syss = [], [], []
        self.src_cached, self.dst_cached = [], []
        self.cmp_bad = 0
        self.failures = []

    def command(self, src, dst):
        return [a.format(src=src, dst=dst) for a in self.argv]

    def shown(self):
        """The command as a user would type it, for the report."""
        words = [os.path.basename(self.argv[0])] + self.argv[1:]
        return " ".join(shlex.quote(w) if "{" not in w else w for w in words).replace("{src}", "SRC").replace("{dst}", "DST")


def probe_zcp(b, c, src, dst):
    """Runs a zcp contender once, verbosely, on a small file: whether it runs here at
    all, and which method and engine zcio really used."""
    argv = ["--debug" if a == "-q" else a for a in c.command(src, dst)]
    p = run(argv, b.env)
    b.rm(dst)
    if p.returncode != 0:
        c.na = last_words(p.stderr) or f"exit status {p.returncode}"
        return
    m = re.search(r"method (\w+)(?: \(engine (\w+))?", p.stdout)
    if not m:
        return
    method, engine = m.group(1), m.group(2)
    asked_engine = next((a.split("=", 1)[1] for a in c.argv if a.startswith("--engine=")), None)
    asked_method = "direct" if "--direct" in c.argv else next(
        (c.argv[i + 1] for i, a in enumerate(c.argv[:-1]) if a == "-m"), None)
    if asked_method and method != asked_method:
        gave_up = re.search(r"gave up ([^)]*)\)", p.stdout)
        c.note = f"fell back to {method}" + (f": {gave_up.group(1)}" if gave_up else "")
    elif asked_engine:
        if engine != asked_engine:
            c.note = f"ran engine {engine}"
    elif asked_method == "direct":
        c.note = f"ran engine {engine}"


# The fio job's buffers: on 4 KiB pages, as dd's and the article's are, and in
# huge pages (iomem=shmhuge), as zcio's are; the second is the fair limit.
FIO_KINDS = ("4k", "huge")


def median_fio(samples):
    """The median of each figure over the rounds' fio measurements of each kind."""
    out = {}
    for kind in FIO_KINDS:
        ok = [f for f in samples.get(kind, []) if f]
        if not ok:
            continue
        m = dict(ok[0])
        for k in ("read", "write", "limit"):
            m[k] = statistics.median(f[k] for f in ok)
        m["limits"] = [f["limit"] for f in ok]
        out[kind] = m
    return out


def fio_limit(fio):
    """The limit a copy is measured against: huge-page fio where it ran."""
    return fio.get("huge") or fio.get("4k")


def run_copies(b, rundir, src, contenders, fio_samples):
    dst = os.path.join(rundir, "dst")
    probe = os.path.join(rundir, "probe")
    b.make_random(probe, PROBE_SIZE)
    for c in contenders:
        if c.zcp:
            probe_zcp(b, c, probe, dst)
            if c.na:
                log(f"{c.label}: n/a ({c.na})")
    b.rm(probe)
    live = [c for c in contenders if not c.na]
    total = len(live) * b.runs
    k = 0
    # Round-robin: every contender once per round, so slow drift on the machine
    # spreads over all of them instead of hitting one; each round starts one place
    # further on, so that no contender always runs right after fio.
    for r in range(b.runs):
        # The disk's limit is measured in every round too, under the same conditions.
        for kind in FIO_KINDS:
            if r > 0 and fio_samples.get(kind) and fio_samples[kind][0]:
                f, _ = run_fio(b, rundir, src, kind)
                fio_samples[kind].append(f)
                if f:
                    log(f"disk copy limit ({kind}), round {r + 1}: {f['limit'] / MB:.0f} MB/s")
        for c in live[r % len(live):] + live[:r % len(live)]:
            k += 1
            b.rm(dst)
            b.before_run()
            rc, err, wall, user, sys_ = b.timed(c.command(src, dst), ["sync", dst, rundir])
            if rc != 0:
                c.failures.append(last_words(err) or f"exit status {rc}")
                log(f"[{k}/{total}] {c.label}: FAILED ({c.failures[-1]})")
                b.rm(dst)
                continue
            # The cache first: cmp reads both files into it.
            size = os.path.getsize(src)
            sc, dc = b.cached(src), b.cached(dst)
            c.src_cached.append(None if sc is None else min(100.0, 100.0 * sc / size))
            c.dst_cached.append(None if dc is None else min(100.0, 100.0 * dc / size))
            same = run(["cmp", "-s", src, dst], b.env).returncode == 0
            c.cmp_bad += not same
            c.walls.append(wall)
            c.users.append(user)
            c.syss.append(sys_)
            log(f"[{k}/{total}] {c.label}: {size / wall / MB:.0f} MB/s, {wall:.2f} s"
                f"{'' if same else ', COPY DIFFERS'}")
            b.rm(dst)


class HugePages:
    """Reserves `n` more 2 MiB pages in the kernel's huge page pool for fio's
    shmhuge buffers, and gives them back afterwards."""

    PATH = "/proc/sys/vm/nr_hugepages"

    def __init__(self, n):
        self.n, self.before, self.ok = n, None, False

    def __enter__(self):
        try:
            self.before = int(read_text(self.PATH, "0").strip() or 0)
            with open(self.PATH, "w") as f:
                f.write(str(self.before + self.n))
            free = int(next(l.split()[1] for l in read_text("/proc/meminfo").splitlines()
                            if l.startswith("HugePages_Free:")))
            self.ok = free >= self.n
        except (OSError, ValueError, StopIteration):
            self.ok = False
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            try:
                with open(self.PATH, "w") as f:
                    f.write(str(self.before))
            except OSError:
                pass


def run_fio(b, rundir, src, kind):
    """The disk's copy limit: direct reads of the source and direct writes of a
    second file at the same time; a copy can go no faster than the slower of the two.
    `kind` is where fio's buffers are: "4k" pages or "huge" pages. One measurement;
    run_copies takes one per round, as for every contender."""
    if not shutil.which("fio"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log("fio is missing: installing it with 'apt-get install -y fio'")
            subprocess.run(["apt-get", "install", "-y", "fio"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, env=dict(b.env, DEBIAN_FRONTEND="noninteractive"))
        if not shutil.which("fio"):
            return None, "fio is not installed (apt-get install fio)"
    out_file = os.path.join(rundir, "fio-write")
    size = max(1 << 20, b.size // (1 << 20) * (1 << 20))
    why = ""
    # Two jobs of 16 x 1 MiB, each rounded up to whole huge pages, and slack.
    with HugePages(24) as hp:
        if kind == "huge" and not hp.ok:
            return None, "no 2 MiB pages could be reserved (/proc/sys/vm/nr_hugepages)"
        b.before_run()
        return fio_engines(b, src, out_file, size, kind)


def fio_engines(b, src, out_file, size, kind):
    """run_fio's job with io_uring, else libaio."""
    why = ""
    for engine in ("io_uring", "libaio"):
        # One pass over a new file, as a copy does: a time-based run would loop and
        # mostly overwrite blocks it already wrote, which no copy to a new file can.
        # flow=1 on both jobs keeps reads and writes in step, as in a copy; left
        # alone, the reads crowd the writes out and the slower side looks slower
        # than it is.
        argv = ["fio", "--output-format=json", f"--ioengine={engine}", "--direct=1", "--bs=1M",
                "--iodepth=16", f"--size={size}"] + (["--iomem=shmhuge"] if kind == "huge" else []) + [
                "--name=read", f"--filename={src}", "--rw=read", "--flow_id=1", "--flow=1",
                "--name=write", f"--filename={out_file}", "--rw=write", "--flow_id=1", "--flow=1"]
        log(f"fio ({engine}, {kind} pages): direct reads and writes at once, {human(size)} each")
        p = run(argv, b.env)
        b.rm(out_file)
        try:
            jobs = json.loads(p.stdout[p.stdout.index("{"):])["jobs"]
            bw = {j["jobname"]: j[j["jobname"]]["bw_bytes"] for j in jobs if not j.get("error")}
            if p.returncode == 0 and bw.get("read") and bw.get("write"):
                shown = " ".join(shlex.quote(a) for a in argv).replace(src, "SRC").replace(out_file, "OUT")
                return {"engine": engine, "kind": kind, "read": bw["read"], "write": bw["write"],
                        "limit": min(bw["read"], bw["write"]), "command": shown}, ""
        except (ValueError, KeyError):
            pass
        why = last_words(p.stderr) or f"fio exit status {p.returncode}"
        log(f"fio with {engine} failed: {why}")
    return None, f"fio failed: {why}"


WARM_LABELS = ("zcp auto", "cp", "std::fs::copy")


def run_warm(b, rundir, src, contenders):
    """zcio's automatic copy against cp with the source in the page cache, as it
    is right after it was written or read: each run reads it in first."""
    dst = os.path.join(rundir, "dst")
    out = [{"label": c.label, "shown": c.shown(), "walls": [], "cpu": [], "bad": 0} for c in contenders]
    for r in range(b.runs):
        for c, w in zip(contenders, out):
            b.rm(dst)
            if b.cold:
                b.drop()
            with open(src, "rb", buffering=0) as f:
                while f.read(8 << 20):
                    pass
            rc, err, wall, user, sys_ = b.timed(c.command(src, dst), ["sync", dst, rundir])
            if rc != 0:
                log(f"warm {c.label}: FAILED ({last_words(err)})")
                continue
            w["bad"] += run(["cmp", "-s", src, dst], b.env).returncode != 0
            w["walls"].append(wall)
            w["cpu"].append(user + sys_)
            log(f"warm [{r + 1}/{b.runs}] {c.label}: {os.path.getsize(src) / wall / MB:.0f} MB/s")
            b.rm(dst)
    return out


def run_small(b, rundir, zcp):
    """10,000 files of 4 KiB: what per-file overhead costs."""
    srcdir = os.path.join(rundir, "small-src")
    dstdir = os.path.join(rundir, "small-dst")
    os.mkdir(srcdir)
    names = [f"f{i:05d}" for i in range(SMALL_COUNT)]
    data = os.urandom(SMALL_COUNT * SMALL_SIZE)
    for i, n in enumerate(names):
        with open(os.path.join(srcdir, n), "wb") as f:
            f.write(data[i * SMALL_SIZE:(i + 1) * SMALL_SIZE])
    os.sync()
    # Relative names from inside the source directory: the argument list stays far
    # below ARG_MAX (70 KB for 10,000 names), so every tool gets all files in one go.
    rows = [("zcp -q SRCDIR/* DSTDIR/", [zcp, "-q"]),
            ("zcp -q -j 1 SRCDIR/* DSTDIR/", [zcp, "-q", "-j", "1"]),
            ("cp SRCDIR/* DSTDIR/", ["cp"])]
    res = {label: {"walls": [], "cpu": [], "bad": 0, "fail": []} for label, _ in rows}
    for _ in range(b.runs):
        for label, argv in rows:
            shutil.rmtree(dstdir, ignore_errors=True)
            os.mkdir(dstdir)
            b.before_run()
            # syncfs of the destination's file system: one call flushes 10,000 files.
            rc, err, wall, user, sys_ = b.timed(argv + names + [dstdir + "/"], ["sync", "-f", dstdir], cwd=srcdir)
            r = res[label]
            if rc != 0:
                r["fail"].append(last_words(err) or f"exit status {rc}")
                log(f"small files, {label}: FAILED ({r['fail'][-1]})")
                continue
            ok = sorted(os.listdir(dstdir)) == names and all(
                read_bytes(os.path.join(dstdir, n)) == data[i * SMALL_SIZE:(i + 1) * SMALL_SIZE]
                for i, n in enumerate(names))
            r["bad"] += not ok
            r["walls"].append(wall)
            r["cpu"].append(user + sys_)
            log(f"small files, {label}: {SMALL_COUNT / wall:.0f} files/s{'' if ok else ', COPY DIFFERS'}")
    shutil.rmtree(dstdir, ignore_errors=True)
    shutil.rmtree(srcdir, ignore_errors=True)
    return rows, res


def run_net(b, rundir, netbench, net_size):
    """A file over loopback TCP: zero-copy against a read/write loop, each side."""
    src = os.path.join(rundir, "net-src")
    out = os.path.join(rundir, "net-out")
    b.make_random(src, net_size)  # just written: it stays in the page cache, as a served file would
    modes = [
        ("send-zc", "send", "zc_sendfile (file → socket)"),
        ("send-rw", "send", "1 MiB read/write loop"),
        ("recv-zc", "receive", "zc_splice (socket → file)"),
        ("recv-rw", "receive", "1 MiB read/write loop"),
    ]
    res = {m: {"rates": [], "secs": [], "cpu": [], "bad": 0, "fail": []} for m, _, _ in modes}
    for _ in range(b.runs):
        for mode, side, _ in modes:
            os.sync()  # the previous receiver's dirty pages, not written back during this run
            argv = [netbench, mode, src] + ([out] if side == "receive" else [])
            p = run(argv, b.env)
            r = res[mode]
            fields = dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv)
            if p.returncode != 0 or "secs" not in fields:
                r["fail"].append(last_words(p.stderr) or f"exit status {p.returncode}")
                log(f"network {mode}: FAILED ({r['fail'][-1]})")
                b.rm(out)
                continue
            if side == "receive":
                r["bad"] += run(["cmp", "-s", src, out], b.env).returncode != 0
                b.rm(out)
            secs, cpu = float(fields["secs"]), float(fields["cpu"])
            r["rates"].append(int(fields["bytes"]) / secs / MB)
            r["secs"].append(secs)
            r["cpu"].append(cpu / (int(fields["bytes"]) / GB))
            log(f"network {mode}: {r['rates'][-1]:.0f} MB/s, {r['cpu'][-1]:.2f} CPU s/GB")
    b.rm(src)
    return modes, res


# ---------------------------------------------------------------- the report

def fmt_ratio(x):
    return f"{x:.2f}×"


def fmt_pct(values):
    return f"{statistics.median(values):.0f}" if values and None not in values else "?"


def cell(text):
    """Text from a tool's message, safe inside a markdown table cell."""
    return text.replace("|", "\\|")


def report(b, facts, fio, fio_why, contenders, warm, small, net, net_size, elapsed):
    a = b.args
    src_size = b.size + TAIL
    L = []
    L.append("## zcio benchmark")
    L.append("")
    L.append(f"- **Command:** `{a.command}`")
    L.append(f"- **zcio:** {facts['zcio']}")
    L.append(f"- **Machine:** Linux {facts['kernel']}, {facts['nproc']} CPUs ({facts['cpu']}), {facts['mem']} RAM; "
             f"load average {facts['load0']} at the start, {facts['load1']} at the end")
    L.append(f"- **BENCH_DIR:** `{a.dir}`: {facts['fstype']} on {facts['device']}"
             f"{' (' + facts['devfacts'] + ')' if facts['devfacts'] else ''}, mount options `{facts['mntopts']}`")
    L.append(f"- **Settings:** BENCH_SIZE={a.size} (source {src_size:,} bytes: {human(b.size)} + {TAIL} "
             f"for an unaligned tail, random data), BENCH_RUNS={b.runs} (median shown, min–max beside it)")
    L.append(f"- **Page cache:** " + ("dropped before every run (`sync; echo 3 > /proc/sys/vm/drop_caches`): cold runs"
                                    if b.cold else f"**warm** — {b.cold_why}"))
    if facts["fstype"] in ("tmpfs", "ramfs"):
        L.append(f"- **Warning:** BENCH_DIR is on {facts['fstype']}: memory, not a disk; Direct I/O rows fall back")
    for kind, pages in (("huge", "huge-page buffers (`iomem=shmhuge`), as zcio's; the limit the × column uses"),
                        ("4k", "4 KiB-page buffers, as dd's and the article's")):
        f = fio.get(kind)
        if f:
            lims = f["limits"]
            L.append(f"- **Disk copy limit (fio, {pages}):** {f['limit'] / MB:.0f} MB/s — direct reads "
                     f"{f['read'] / MB:.0f} MB/s and direct writes {f['write'] / MB:.0f} MB/s running at once "
                     f"(ioengine {f['engine']}, bs 1M, iodepth 16 each, one pass of BENCH_SIZE into a new file, "
                     f"reads and writes kept in step; median of {len(lims)} measurements, one per round: "
                     f"{', '.join(f'{v / MB:.0f}' for v in lims)} MB/s)")
        else:
            L.append(f"- **Disk copy limit (fio, {pages}):** n/a ({fio_why.get(kind, 'did not run')})")
    L.append(f"- **Total time:** {elapsed / 60:.1f} min")
    L.append("")

    L.append(f"### Copying one file of {human(b.size)} + {TAIL:,} bytes")
    L.append("")
    L.append("| contender | MB/s median (min–max) | wall s | user s | sys s | CPU s per GB | src cached % "
             "| dst cached % | cmp | × fio limit | × article |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    article = next((c for c in contenders if c.label == "article" and c.walls), None)
    art_rate = statistics.median(src_size / w for w in article.walls) if article else None
    for c in contenders:
        name = f"`{c.shown()}`" + (f" ({cell(c.note)})" if c.note else "")
        if c.na or not c.walls:
            why = cell(c.na or (c.failures[0] if c.failures else "did not run"))
            L.append(f"| {name} | n/a ({why}) | – | – | – | – | – | – | – | – | – |")
            continue
        rates = [src_size / w / MB for w in c.walls]
        rate = statistics.median(rates)
        cpu_gb = [(u + s) / (src_size / GB) for u, s in zip(c.users, c.syss)]
        cmp_cell = "ok" if not c.cmp_bad else f"**DIFFERS** ({c.cmp_bad} of {len(c.walls)})"
        if c.failures:
            cmp_cell += f"; {len(c.failures)} run(s) failed: {cell(c.failures[0])}"
        L.append("| " + " | ".join([
            name,
            median_range(rates, lambda v: f"{v:.0f}"),
            f"{statistics.median(c.walls):.2f}",
            f"{statistics.median(c.users):.2f}",
            f"{statistics.median(c.syss):.2f}",
            f"{statistics.median(cpu_gb):.2f}",
            fmt_pct(c.src_cached),
            fmt_pct(c.dst_cached),
            cmp_cell,
            fmt_ratio(rate * MB / fio_limit(fio)["limit"]) if fio else "n/a",
            fmt_ratio(rate * MB / art_rate) if art_rate else "n/a",
        ]) + " |")
    L.append("")

    if warm:
        L.append(f"### The same copy, warm: the source already in the page cache")
        L.append("")
        L.append("| contender | MB/s median (min–max) | wall s | CPU s per GB | × cp warm | cmp |")
        L.append("|---|---|---|---|---|---|")
        cp_w = next((w for w in warm if w["label"] == "cp" and w["walls"]), None)
        cp_rate = statistics.median(src_size / x for x in cp_w["walls"]) if cp_w else None
        for w in warm:
            if not w["walls"]:
                L.append(f"| `{w['shown']}` | n/a | – | – | – | – |")
                continue
            rates = [src_size / x / MB for x in w["walls"]]
            cpu_gb = [c / (src_size / GB) for c in w["cpu"]]
            L.append(f"| `{w['shown']}` | {median_range(rates, lambda v: f'{v:.0f}')} "
                     f"| {statistics.median(w['walls']):.2f} | {statistics.median(cpu_gb):.2f} "
                     f"| {fmt_ratio(statistics.median(rates) * MB / cp_rate) if cp_rate else 'n/a'} "
                     f"| {'ok' if not w['bad'] else '**DIFFERS**'} |")
        L.append("")

    rows, res = small
    L.append(f"### {SMALL_COUNT:,} files of {SMALL_SIZE // 1024} KiB")
    L.append("")
    L.append("| command | files/s median (min–max) | wall s | CPU s | × cp | cmp |")
    L.append("|---|---|---|---|---|---|")
    cp_walls = res[rows[-1][0]]["walls"]
    for label, _ in rows:
        r = res[label]
        if not r["walls"]:
            L.append(f"| `{label}` | n/a ({cell(r['fail'][0]) if r['fail'] else 'did not run'}) | – | – | – | – |")
            continue
        x_cp = fmt_ratio(statistics.median(cp_walls) / statistics.median(r["walls"])) if cp_walls else "n/a"
        cmp_cell = "ok" if not r["bad"] else f"**DIFFERS** ({r['bad']} of {len(r['walls'])})"
        if r["fail"]:
            cmp_cell += f"; {len(r['fail'])} run(s) failed: {cell(r['fail'][0])}"
        L.append(f"| `{label}` | {median_range([SMALL_COUNT / w for w in r['walls']], lambda v: f'{v:,.0f}')} "
                 f"| {statistics.median(r['walls']):.2f} | {statistics.median(r['cpu']):.2f} | {x_cp} | {cmp_cell} |")
    L.append("")

    modes, nres = net
    L.append(f"### A {human(net_size)} file over loopback TCP (127.0.0.1)")
    L.append("")
    L.append("| measured side | how | MB/s median (min–max) | CPU s per GB (median, measured side) | × loop CPU | cmp |")
    L.append("|---|---|---|---|---|---|")
    for mode, side, how in modes:
        r = nres[mode]
        if not r["rates"]:
            L.append(f"| {side} | {how} | n/a ({cell(r['fail'][0]) if r['fail'] else 'did not run'}) | – | – | – |")
            continue
        loop = nres[mode[:5] + "rw"]["cpu"]
        ratio = fmt_ratio(statistics.median(r["cpu"]) / statistics.median(loop)) if loop and statistics.median(loop) > 0 else "n/a"
        if side == "send":
            cmp_cell = "bytes counted"
        else:
            cmp_cell = "ok" if not r["bad"] else f"**DIFFERS** ({r['bad']} of {len(r['rates'])})"
        if r["fail"]:
            cmp_cell += f"; {len(r['fail'])} run(s) failed: {cell(r['fail'][0])}"
        L.append(f"| {side} | {how} | {median_range(r['rates'], lambda v: f'{v:.0f}')} "
                 f"| {median_range(r['cpu'], lambda v: f'{v:.2f}')} | {ratio} | {cmp_cell} |")
    L.append("")

    L.append("### What the numbers mean")
    L.append("")
    L.append(f"- Every row copies the same source file on BENCH_DIR's file system. **Wall** runs from starting the "
             f"command until the copy is on disk: the harness runs `sync DST DIR` (fsync) inside the timed region, "
             f"so a buffered copy pays for its write-back, which is what one waits for before the data is safe. "
             f"**MB/s** = source bytes / wall (1 MB = 10⁶ bytes, 1 GB = 10⁹).")
    L.append("- **user/sys** are the CPU the kernel charges to the command and to the flush (getrusage of the "
             "children). Background write-back by kernel threads is charged to nobody, so buffered rows "
             "understate their CPU somewhat.")
    L.append("- **src/dst cached %**: how much of each file the page cache holds after the copy. Direct I/O "
             "leaves ~0 %: the copy did not push other programs' data out of memory. A buffered copy fills the "
             "cache with both files.")
    L.append("- **× fio limit**: the copy's speed over what the disk does reading and writing at once (fio, "
             "O_DIRECT, 16 × 1 MiB reads and 16 × 1 MiB writes in flight, kept in step, one pass into a new file, "
             "its buffers in huge pages as zcio's are; the 4 KiB-page limit is listed above for comparison). "
             "Near 1 the copy is disk-bound. Above 1 the copy got more out of "
             "the disk than fio did (write-back merged into larger requests, a cache in the device or, on a "
             "virtual machine, the host) or did less than a full read plus a full write (a reflink, reads served "
             "from the cache on warm runs). zcio's Direct I/O buffers sit in 2 MiB pages, so each 1 MiB I/O reaches the "
             "device as one request; on 4 KiB pages (the 4 KiB fio job's, dd's, the article's) a 1 MiB buffer can exceed the "
             "device's segment limit (virtio-blk: 254) and is split in two. **× article**: the speed over the article's O_DIRECT loop (one 1 MiB read, then one "
             "write, nothing in flight at once).")
    if facts["fstype"] in ("xfs", "btrfs", "bcachefs", "ocfs2", "nfs", "nfs4", "cifs", "smb3"):
        L.append(f"- {facts['fstype']} can share blocks or copy on the server: the `copy_file_range` rows, zcp's "
                 "auto method, `cp` and `std::fs::copy` may move no data at all, and then say nothing about I/O.")
    elif facts["fstype"] == "ext4":
        L.append("- ext4 has no reflink. `cp` and `std::fs::copy` use `copy_file_range`, which copies inside the "
                 "kernel through the page cache, and the flush then writes the dirty pages back. zcp's automatic "
                 "choice for a file this large between disks is Direct I/O writes: its reads use O_DIRECT when the "
                 "source is hardly cached (the cold rows) and copy out of the page cache when it is (the warm rows), "
                 "and no destination pages are left behind either way.")
    L.append("- **Uncached** rows copy through the page cache and leave it as it was: `zcp --uncached` with "
             "RWF_DONTCACHE where the file system takes it (the kernel drops each page once written back), "
             "`dd iflag=nocache oflag=nocache` by dropping pages with fadvise; both are buffered copies, any "
             "alignment, and their dst cached % should read 0 like Direct I/O's.")
    L.append("- `dd ... oflag=direct` cannot write the unaligned last block with O_DIRECT: GNU dd switches "
             "O_DIRECT off for that final partial write, and the cmp column shows whether the copy came out exact.")
    L.append("- A zcp row marked \"ran …\" or \"fell back …\" reports what `zcp --debug` said it did on a small probe "
             "file; an engine that cannot run here shows as n/a with zcio's reason.")
    L.append("- Small files: one command copies all of them, then `sync -f` flushes the destination's file "
             "system inside the timed region; per-file costs (open, create, metadata, fsync) dominate, not bandwidth. "
             "zcp copies up to 4 files at once by default, so their waits for the disk overlap; `-j 1` copies "
             "them one after another, as cp does.")
    L.append("- Network: loopback moves bytes memory to memory, so MB/s mostly shows CPU speed; the number that "
             "carries over to a real network is **CPU s per GB** on the measured side (the other side is a separate "
             "process, not counted). The sender reads from the page cache; the receiver writes into it, not flushed.")
    L.append("- On a machine with other work running (see the load average) the min–max spread shows how much "
             "to trust a difference; rerun with a larger BENCH_RUNS when rows are close.")
    L.append("")
    L.append("<details><summary>Commands</summary>")
    L.append("")
    for c in contenders:
        L.append(f"- `{c.shown()}`")
    for kind in FIO_KINDS:
        if fio.get(kind):
            L.append(f"- `{fio[kind]['command']}`")
    L.append(f"- network: `netbench send-zc|send-rw SRC`, `netbench recv-zc|recv-rw SRC OUT` (bench/netbench.c)")
    L.append("")
    L.append("</details>")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="BENCH_DIR: where the files go (a disk, not tmpfs)")
    ap.add_argument("--size", default="2G", help="BENCH_SIZE: 2G, 512M, ...")
    ap.add_argument("--runs", type=int, default=3, help="BENCH_RUNS")
    ap.add_argument("--zcp", required=True)
    ap.add_argument("--lib", required=True, help="libzcio.so.N that zcp and netbench load")
    ap.add_argument("--rwloop", required=True)
    ap.add_argument("--article", required=True)
    ap.add_argument("--stdcopy", required=True)
    ap.add_argument("--netbench", required=True)
    ap.add_argument("--report", help="also write the report to this file")
    ap.add_argument("--command", default=" ".join(shlex.quote(a) for a in sys.argv))
    args = ap.parse_args()
    try:
        b = Bench(args)
    except ValueError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    for name in ("zcp", "lib", "rwloop", "article", "stdcopy", "netbench"):
        path = os.path.abspath(getattr(args, name))
        if not os.path.exists(path):
            print(f"bench: {name}: {path} does not exist", file=sys.stderr)
            return 2
        setattr(args, name, path)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    # Absolute: the small-file copies run from inside their source directory.
    work = os.path.abspath(args.dir)
    made_dir = not os.path.isdir(work)
    os.makedirs(work, exist_ok=True)
    rundir = tempfile.mkdtemp(prefix="run-", dir=work)
    try:
        return bench(b, args, rundir)
    except (KeyboardInterrupt, Interrupted):
        print("\nbench: interrupted; removing its files", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
        if made_dir:
            try:
                os.rmdir(work)
            except OSError:
                pass


def bench(b, args, rundir):
    # zcp and netbench load a private copy of the library: a rebuild of build/lib
    # during the run cannot mix two versions of zcio in one report.
    libdir = os.path.join(rundir, "lib")
    os.mkdir(libdir)
    lib = os.path.join(libdir, os.path.basename(args.lib))
    shutil.copy2(os.path.realpath(args.lib), lib)
    b.env["LD_LIBRARY_PATH"] = libdir + (":" + b.env["LD_LIBRARY_PATH"] if b.env.get("LD_LIBRARY_PATH") else "")
    with open(lib, "rb") as f:
        lib_hash = hashlib.sha256(f.read()).hexdigest()[:12]
    version = run([args.zcp, "--version"], b.env).stdout.split()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dev, fstype, mntopts = mount_of(rundir)
    facts = {
        "zcio": f"{version[-1] if version else '?'} (git {git_version(root)}, release build, "
                f"{os.path.basename(args.lib)} sha256 {lib_hash}…)",
        "kernel": os.uname().release, "nproc": os.cpu_count(), "cpu": cpu_model(), "mem": mem_total(),
        "fstype": fstype, "device": dev, "devfacts": device_facts(rundir), "mntopts": mntopts,
        "load0": " ".join(read_text("/proc/loadavg").split()[:3]),
    }
    b.check_drop()
    log(f"{fstype} on {dev}; " + ("caches dropped before each run" if b.cold else b.cold_why))

    src = os.path.join(rundir, "src")
    log(f"writing the source: {b.size + TAIL:,} bytes of random data")
    b.make_random(src, b.size + TAIL)

    fio_samples, fio_why = {}, {}
    for kind in FIO_KINDS:
        f, fio_why[kind] = run_fio(b, rundir, src, kind)
        if f:
            log(f"disk copy limit ({kind} pages): {f['limit'] / MB:.0f} MB/s "
                f"(read {f['read'] / MB:.0f}, write {f['write'] / MB:.0f})")
        fio_samples[kind] = [f]

    z = args.zcp
    contenders = [
        Contender("zcp direct io_uring", [z, "-q", "--direct", "--engine=io_uring", "{src}", "{dst}"], zcp=True),
        Contender("zcp direct threads", [z, "-q", "--direct", "--engine=threads", "{src}", "{dst}"], zcp=True),
        Contender("zcp direct sync", [z, "-q", "--direct", "--engine=sync", "{src}", "{dst}"], zcp=True),
        Contender("zcp direct", [z, "-q", "--direct", "{src}", "{dst}"], zcp=True),
        Contender("zcp auto", [z, "-q", "{src}", "{dst}"], zcp=True),
        Contender("zcp uncached", [z, "-q", "--uncached", "{src}", "{dst}"], zcp=True),
    ] + [
        Contender(f"zcp {m}", [z, "-q", "-m", m, "{src}", "{dst}"], zcp=True)
        for m in ("copy_file_range", "sendfile", "splice", "mmap", "read_write")
    ] + [
        Contender("cp", ["cp", "{src}", "{dst}"]),
        Contender("dd", ["dd", "if={src}", "of={dst}", "iflag=direct", "oflag=direct", "bs=1M", "status=none"]),
        Contender("dd nocache", ["dd", "if={src}", "of={dst}", "iflag=nocache", "oflag=nocache", "bs=1M",
                                 "status=none"], note="buffered, its pages dropped with fadvise"),
        Contender("rwloop", [args.rwloop, "{src}", "{dst}"], note="plain 1 MiB read/write loop"),
        Contender("article", [args.article, "{src}", "{dst}"], note="the article's O_DIRECT loop"),
        Contender("std::fs::copy", [args.stdcopy, "{src}", "{dst}"], note="Rust's std::fs::copy"),
    ]
    run_copies(b, rundir, src, contenders, fio_samples)
    fio = median_fio(fio_samples)
    warm = run_warm(b, rundir, src, [c for c in contenders if c.label in WARM_LABELS])
    b.rm(src)

    log(f"small files: {SMALL_COUNT} of {SMALL_SIZE} bytes")
    small = run_small(b, rundir, args.zcp)

    net_size = min(NET_SIZE, b.size)
    log(f"network: {human(net_size)} over 127.0.0.1")
    net = run_net(b, rundir, args.netbench, net_size)

    facts["load1"] = " ".join(read_text("/proc/loadavg").split()[:3])
    text = report(b, facts, fio, fio_why, contenders, warm, small, net, net_size, time.monotonic() - START)
    print(text, end="", flush=True)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
        log(f"report also written to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
