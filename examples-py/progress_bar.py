#!/usr/bin/env python3
"""Copy a file or a directory tree with zcio, showing a progress bar.

usage: progress_bar.py SRC DST

The bar is tqdm's when tqdm is installed (pip install tqdm, or pip install
'.[progress]' from the repository), else a plain one on stderr. At the end it
says what zcio did: the method and the methods it gave up for a file, the files,
directories and bytes for a tree. Ctrl-C stops the copy with the destination as
it was: a file is not replaced; in a tree the files already copied stay and the
one being copied is not put in place. Exit status 0, 1 on an error, 130 after
Ctrl-C.
"""

import os
import sys
import time

import zcio


class PlainBar:
    """The few parts of tqdm's interface used here, drawn as one line on stderr."""

    def __init__(self, total, unit):
        self.total, self.unit, self.n, self.shown = total, unit, 0, 0.0

    def update(self, k):
        self.n += k
        now = time.monotonic()
        if now - self.shown >= 0.1 or (self.total and self.n >= self.total):
            self.shown = now
            if self.total:
                pct = 100 * self.n / self.total
                fill = int(pct / 5)
                sys.stderr.write(f"\r[{'#' * fill}{'.' * (20 - fill)}] {pct:5.1f}% "
                                 f"{self.n / 1e6:,.1f} of {self.total / 1e6:,.1f} MB")
            else:
                sys.stderr.write(f"\r{self.n / 1e6:,.1f} MB")
            sys.stderr.flush()

    def refresh(self):
        pass

    def close(self):
        sys.stderr.write("\n")


def make_bar(total):
    try:
        from tqdm import tqdm
    except ImportError:
        return PlainBar(total, "B")
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)


def copy_file(src, dst):
    bar = make_bar(os.path.getsize(src))
    try:
        stats = zcio.copy_file(src, dst, progress=lambda done, total: bar.update(done - bar.n))
    finally:
        bar.close()
    gave_up = "".join(f"; gave up {m}: {why}" for m, _, why in stats.fallbacks)
    print(f"{dst}: {stats.bytes:,} bytes by {stats.method} in {stats.elapsed:.3f} s{gave_up}")


def copy_tree(src, dst):
    bar = make_bar(None)

    def progress(p):
        # Sizes are known as the walk finds files: the total grows until walk_done.
        if p.bytes_known != bar.total:
            bar.total = p.bytes_known
            bar.refresh()
        bar.update(p.bytes_done - bar.n)
    try:
        stats = zcio.copy_tree(src, dst, progress=progress)
    finally:
        bar.close()
    print(f"{dst}: {stats.files:,} files, {stats.dirs:,} directories, {stats.symlinks:,} symlinks, "
          f"{stats.bytes:,} bytes in {stats.elapsed:.3f} s")


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, dst = argv[1], argv[2]
    try:
        if os.path.isdir(src):
            copy_tree(src, dst)
        else:
            copy_file(src, dst)
    except KeyboardInterrupt:
        print("progress_bar.py: interrupted; the destination is as it was", file=sys.stderr)
        return 130
    except OSError as e:
        errors = getattr(e, "errors", None) or [e]
        for err in errors:
            print(f"progress_bar.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
