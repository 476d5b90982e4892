#!/usr/bin/env python3
"""`make bench`'s MPI section: `mpirun -n 1, 2, 4 zcp-mpi -r` against `zcp -r`
alone on two trees, cold cache and the final flush included, every result
checked against its source, as bench/trees.py measures trees.

The trees: (a) trees.py's 50,000 files of 4 KiB in 1,000 directories, (d) one
file of 2 GiB and 100 files of 4 KiB. On one machine the ranks share its cores
and its disk, so this measures what splitting costs (the MPI start, each rank's
walks of the whole tree, the phases' barriers), not what it gains across
machines: `-n 1` should be within 10 % of `zcp -r`. Beside the copies: the MPI
start alone (`mpirun -n N zcp-mpi --version`), and the disk's floor from
trees.py (reading every file cold, writing the tree from memory).

Prints a markdown report (also written to --report); progress goes to stderr.
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as single  # noqa: E402
import trees  # noqa: E402

from bench import log, median_range  # noqa: E402

RANKS = (1, 2, 4)


def make_big(b, root, big, small):
    """One file of `big` random bytes and `small` 4 KiB files beside it."""
    os.makedirs(os.path.join(root, "small"))
    b.make_random(os.path.join(root, "big"), big)
    for i in range(small):
        with open(os.path.join(root, "small", f"f{i:03}"), "wb") as f:
            f.write(os.urandom(4096))
    os.sync()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--zcp", required=True)
    ap.add_argument("--zcp-mpi", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--lib", required=True)
    ap.add_argument("--floor", required=True, help="bench/treefloor.c, built")
    ap.add_argument("--big", default="2G", help="the large file of tree (d)")
    ap.add_argument("--report")
    args = ap.parse_args()
    args.size = "1M"
    b = single.Bench(args)
    return trees.run_section(b, args, ("zcp", "zcp_mpi", "lib", "floor"), "mpi-", bench)


def bench(b, args, rundir):
    # Open MPI refuses root without both; the library path reaches every rank.
    b.env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    b.check_drop()
    mpirun = [args.mpirun, "-q", "--oversubscribe", "-x", "LD_LIBRARY_PATH"]
    # Open MPI's default start probes UCX and the other fabrics' transports
    # (0.2 s here); ob1 over shared memory and TCP is what one machine (or an
    # Ethernet cluster) uses anyway.
    ob1 = ["--mca", "pml", "ob1"]
    rows = [trees.Row("zcp -r", [args.zcp, "-q", "-r", "{src}", "{dst}"])]
    for n in RANKS:
        rows.append(trees.Row(f"-n {n}", mpirun + ob1 + ["-n", str(n), args.zcp_mpi, "-q", "-r", "{src}", "{dst}"]))
    starts = {}
    for label, extra in (("default", []), ("pml ob1", ob1)):
        for n in RANKS:
            starts[(label, n)] = []
            for _ in range(args.runs):
                rc, err, wall, _, _ = b.timed(mpirun + extra + ["-n", str(n), args.zcp_mpi, "--version"], ["true"])
                if rc == 0:
                    starts[(label, n)].append(wall)
    sections = []
    title_a, dirs, per = trees.SHAPES["a"]
    big = single.parse_size(args.big)
    # (a)'s copies stay until the section ends; (d)'s are not kept (four 2 GiB
    # copies would fill the disk), but its source and one copy need room.
    kept = trees.Kept(b, rundir)
    for key, title in (("a", title_a), ("d", f"one file of {args.big}iB and 100 files of 4 KiB")):
        src = os.path.join(rundir, f"src-{key}")
        if key == "a":
            kept.make_room(trees.one_tree("a"), (len(rows) + 1) * args.runs, "tree (a)")
            trees.make_shape(src, dirs, per)
        else:
            kept.make_room((big + 100 * 4096, 101), 1, "tree (d)")
            make_big(b, src, big, 100)
        files, size = trees.count(src)
        log(f"({key}) {title}: {files:,} files, {size / 1e6:.0f} MB")
        these = [trees.Row(r.label, r.argv) for r in rows]
        trees.measure(b, these, src, args.runs, kept if key == "a" else None)
        fl = trees.floor(b, args.floor, src, 8, args.runs, kept if key == "a" else None)
        sections.append((key, title, files, size, these, fl))
    return report(b, args, starts, sections)


def shown(row):
    words = [os.path.basename(row.argv[0])] + row.argv[1:]
    words = [os.path.basename(w) if w.startswith("/") else w for w in words]
    text = " ".join(words).replace("{src}", "SRC").replace("{dst}", "DST")
    return text.replace("-q --oversubscribe -x LD_LIBRARY_PATH ", "").replace(" -q -r", " -r")


def report(b, args, starts, sections):
    L = ["### Trees split across MPI ranks (zcp-mpi)", ""]
    L.append(f"`make bench` MPI section: {args.runs} rounds, rotated order, "
             + ("caches dropped before each run" if b.cold else b.cold_why)
             + ", the final `sync` inside the time, every copy compared with `diff -r` against its source; "
             + f"{os.cpu_count()} cores, one disk: every rank shares them.")
    L.append("")
    for label in ("default", "pml ob1"):
        L.append(f"MPI start and end alone (`mpirun -n N zcp-mpi --version`), {label}: "
                 + ", ".join(f"-n {n} {median_range(v, lambda x: f'{x:.2f}')} s"
                             for (lb, n), v in starts.items() if lb == label and v) + ".")
        L.append("")
    for key, title, files, size, rows, fl in sections:
        L.append(f"#### ({key}) {title}: {files:,} files, {size / 1e6:.0f} MB")
        L.append("")
        L.append("| command | s median (min–max) | MB/s | files/s | × zcp -r | result |")
        L.append("|---|---|---|---|---|---|")
        med = {r.label: statistics.median(r.walls) for r in rows if r.walls}
        for r in rows:
            if r.na or r.label not in med:
                L.append(f"| `{shown(r)}` | – | – | – | – | n/a: {r.na} |")
                continue
            m = med[r.label]
            vs = f"{m / med['zcp -r']:.2f}×" if "zcp -r" in med else "–"
            ok = "ok" if r.bad == 0 else f"{r.bad} differ"
            L.append(f"| `{shown(r)}` | {median_range(r.walls, lambda x: f'{x:.2f}')} | {size / 1e6 / m:,.0f} | "
                     f"{files / m:,.0f} | {vs} | {ok} |")
        for what, label in trees.FLOORS:
            v = fl[what]
            if v:
                m = statistics.median(v)
                L.append(f"| floor: {label} (8 threads) | {median_range(v, lambda x: f'{x:.2f}')} | "
                         f"{size / 1e6 / m:,.0f} | {files / m:,.0f} | | |")
        L.append("")
    L.append("× zcp -r is time over zcp -r's: above 1 is slower.")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
