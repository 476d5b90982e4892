#!/usr/bin/env python3
"""Turns the rows zcio's tests record (ZCIO_REPORT, tab-separated) into RELIABILITY.md.

usage: reliability.py REPORT.tsv [FUZZ_SUMMARY] > RELIABILITY.md

Row kinds (first field): fiu, fault, bad, concurrency, resources, run, regression,
rust (rows from the Rust tests), fuzz.
"""

import collections
import datetime
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Faults the suite found, each fixed and kept as a regression test of that name.
FOUND = [
    ("eintr_in_open_link_and_rename_is_retried", "c-tests/test_fiu.c",
     "An EINTR from open, openat, linkat or renameat (libfiu) ended the copy with "
     "-EINTR; each is now retried."),
    ("io_uring_survives_a_signal_storm", "tests/signals.rs",
     "Under a storm of signals the io_uring engine failed with -ECANCELED; the "
     "cancelled requests are now resubmitted."),
    ("mmap_read_error_is_eio_not_efault", "c-tests/test_faults.c",
     "A read error under the mmap method came back as -EFAULT; the real errno is now "
     "found with a pread of the failing page."),
    ("direct_copies_a_file_that_claims_size_0", "c-tests/test_faults.c",
     "Direct I/O copied 0 bytes from a FUSE file reporting size 0 while holding data; "
     "it now falls back to reading to the end."),
    ("stats_with_unknown_nonzero_tail_is_e2big", "c-tests/struct-size.c",
     "A zc_stats larger than the library's with a non-zero unknown tail was accepted; "
     "it now gets -E2BIG like zc_options."),
    ("small_direct_copy_does_not_build_a_ring", "tests/direct.rs",
     "Each small Direct I/O copy paid for a 16 MiB io_uring ring (30-45 ms for 1 KB); "
     "a copy that fits in one chunk now runs synchronously."),
    ("progress_is_not_called_after_a_cancel", "tests/direct.rs",
     "Found by the fuzzer: after the progress callback asked to stop, the threaded "
     "engine called it again while its other workers finished their chunks."),
    ("worker_threads_block_the_callers_signals", "tests/signals.rs",
     "zcio's worker threads took signals meant for the host program. The first fix "
     "blocked them inside each new thread, which left a window at its start that this "
     "test caught (3 of 147 signals); the threads are now created with every signal "
     "already blocked."),
    ("big_chunk_on_a_small_file_allocates_no_more_than_the_file", "tests/process.rs",
     "Found by the fuzzer: the largest chunk size (1 GiB) on a small file allocated a "
     "1 GiB buffer per I/O in flight; the buffers are now cut to the file's size."),
    # Issue 16: found by checks written apart from the suite.
    ("read_write_copy_under_rlimit_as_returns_enomem", "tests/own_process.rs",
     "Under RLIMIT_AS the read/write loop's buffer allocation aborted the host; every "
     "buffer of a copy path is now fallible and the copy fails with -ENOMEM."),
    ("direct_auto_engine_steps_down_to_sync_when_buffers_cannot_be_had",
     "tests/own_process.rs",
     "Direct I/O returned -ENOMEM where the synchronous engine's one buffer fitted; an "
     "engine whose buffers cannot be had is now given up for the next."),
    ("copy_exactly_at_rlimit_fsize_succeeds_and_one_byte_more_is_efbig",
     "tests/own_process.rs",
     "A file exactly RLIMIT_FSIZE long: one more copy_file_range at the end raised "
     "SIGXFSZ, killing the host; SIGXFSZ is now kept from it like SIGPIPE, and EFBIG "
     "at the source's end ends the copy."),
    ("overlapping_ranges_on_one_descriptor_are_einval", "tests/zerocopy.rs",
     "zc_copy_file_range/zc_splice on overlapping ranges of one file fell back to a "
     "loop that smeared the data; they are refused with -EINVAL."),
    ("splice_to_a_nonblocking_socket_honours_nonblock", "tests/zerocopy.rs",
     "zc_splice through its pipe to a full non-blocking socket blocked under "
     "ZC_F_NONBLOCK."),
    ("root_copy_of_another_users_file_is_roots_unless_preserve_owner",
     "tests/copy_file.rs",
     "Root's copy of another user's file was given to that user."),
    ("no_reflink_is_never_ignored_by_a_forced_method", "tests/copy_file.rs",
     "ZC_F_NO_REFLINK with REFLINK or COPY_FILE_RANGE forced shared blocks on XFS."),
    ("excl_on_a_libfuse2_file_system_creates_the_name_exclusively",
     "tests/named_temp.rs",
     "ZC_F_EXCL failed with -EPERM on file systems without O_TMPFILE, "
     "RENAME_NOREPLACE and hard links."),
    ("source_with_a_write_lease_waits_for_the_break", "tests/copy_file.rs",
     "A write lease on the source gave -EAGAIN at once (the open was non-blocking)."),
    ("explicit_out_off_into_an_o_append_descriptor_is_einval", "tests/zerocopy.rs",
     "An explicit out_off into O_APPEND was advanced as if written there."),
    ("replacing_a_destination_keeps_its_acl_and_user_xattrs", "tests/copy_file.rs",
     "A replaced destination lost its ACL and user.* extended attributes."),
    ("direct_copy_of_a_sparse_file_keeps_its_holes", "tests/direct.rs",
     "Direct I/O preallocated and wrote a sparse file's apparent size (ENOSPC)."),
    ("progress_totals_are_the_size_at_the_start", "tests/copy_file.rs",
     "Progress of a sparse Direct I/O copy never reached its total."),
    ("reflink_with_a_pipe_is_einval", "tests/zerocopy.rs",
     "zc_reflink with a pipe returned -EXDEV where -EINVAL is documented."),
    ("threaded_engine_caps_queue_depth", "tests/own_process.rs",
     "queue_depth 20000 started 20000 threads; the threaded engine stops at 64."),
    ("dio_alignment_on_ramfs_says_no_direct_io", "tests/direct.rs",
     "zc_dio_alignment said 4096 on ramfs, which refuses O_DIRECT."),
]


def rows(path):
    out = collections.defaultdict(list)
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t")
            out[parts[0]].append(parts[1:])
    return out


def grep_name(name):
    for d in ("c-tests", "tests", "src"):
        for dp, _, files in os.walk(os.path.join(ROOT, d)):
            for fn in files:
                p = os.path.join(dp, fn)
                try:
                    with open(p, encoding="utf-8", errors="replace") as f:
                        if name in f.read():
                            return os.path.relpath(p, ROOT)
                except OSError:
                    pass
    return None


def table(header, body):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in body:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    r = rows(sys.argv[1])
    fuzz_summary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build", "fuzz-summary.txt")
    p = []
    w = p.append
    uname = platform.uname()
    w("# zcio reliability\n")
    w(f"What zcio's test suite tried, and how each case ended. Produced by `make test` "
      f"(as `build/RELIABILITY.md`) from the rows the tests record; `make reliability` "
      f"runs the suite and copies it here. This copy: {datetime.date.today()}, Linux "
      f"{uname.release}, {uname.machine}.\n")
    w("Every row passes in `make test`; a failing case fails the suite.\n")

    # -- totals
    fiu = r.get("fiu", [])
    fiu_cases = sum(int(x[3]) for x in fiu)
    fiu_ok = sum(int(x[4]) for x in fiu)
    faults = r.get("fault", [])
    bad = {}
    for x in r.get("bad", []):
        bad.setdefault((x[0], x[1]), x)
    runs = r.get("run", [])
    rust = r.get("rust", [])
    w("## Totals\n")
    tot = [
        ("System-call failures injected with libfiu", f"{fiu_cases} cases, {fiu_ok} as required",
         "`make fiu-test`"),
        ("Real faults (signal storm, source truncated/extended, FUSE EIO and size 0)",
         f"{len(faults)} cases, {sum(int(x[3]) for x in faults)} as required",
         "`cargo test --test signals --test changing_source`, `make fault-test`"),
        ("Full file systems and security (Rust tests)",
         f"{len(rust)} cases, {sum(1 for x in rust if x[3] == '1')} as required",
         "`cargo test --test copy_file --test security --test full_disk`"),
        ("Bad inputs, each with its documented error", f"{len(bad)} distinct inputs",
         "`make c-test` (the ABI programs), `cargo test --test copy_file`"),
        ("C test programs run (static, shared, ASan+UBSan, valgrind, ThreadSanitizer)",
         f"{len(runs)} runs, {sum(1 for x in runs if x[1] == 'PASS')} passed, "
         f"{sum(1 for x in runs if x[1] == 'SKIP')} skipped", "`make c-test valgrind-test`"),
    ]
    w(table(["what", "result", "reproduce"], tot) + "\n")

    # -- libfiu
    w("## Injected system-call failures (libfiu)\n")
    w("libfiu's `fiu_posix_preload.so` fails open, read, pread, write, pwrite, fsync, "
      "fdatasync, ftruncate and mmap; `c-tests/fiu_extra.c` (built on libfiu's "
      "`fiu_fail`) adds openat, linkat, renameat, unlinkat, fallocate, splice, sendfile, "
      "copy_file_range and the FICLONE ioctl. For each `zc_copy_file` method, a first run "
      "counts the calls; then the first, a middle and the last call fails with EIO, "
      "ENOSPC and EINTR, and read/write calls are also cut short. Required: success with "
      "the new file complete, or the injected error with the old destination "
      "byte-for-byte intact (or still absent); EINTR and short transfers must succeed; "
      "no temporary file, no descriptor more. Each onto an existing destination and "
      "onto none, with `ZC_F_FSYNC`.\n")
    methods = []
    for x in fiu:
        if x[2] != "-" and x[2] not in methods:
            methods.append(x[2])
    calls = []
    for x in fiu:
        if x[1] not in calls:
            calls.append(x[1])
    cell = collections.defaultdict(lambda: [0, 0])
    for x in fiu:
        c = cell[(x[1], x[2])]
        c[0] += int(x[3])
        c[1] += int(x[4])
    body = []
    for c in calls:
        line = [c]
        for m in methods:
            n, ok = cell[(c, m)]
            line.append("" if n == 0 else (str(n) if n == ok else f"{ok}/{n} FAIL"))
        body.append(line)
    w("Cases per call and method (all file systems, both destination states; an empty "
      "cell: the method never makes that call):\n")
    w(table(["call"] + methods, body) + "\n")
    byfs = collections.defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for x in fiu:
        t = byfs[x[0]]
        for i in range(6):
            t[i] += int(x[3 + i])
    w("How they ended, per file system:\n")
    w(table(["file system", "cases", "as required", "copy complete", "failed, old file intact",
             "failed after the rename (directory fsync)", "fault not reached"],
            [[fs] + v for fs, v in byfs.items()]) + "\n")
    never = sorted({x[1] for x in fiu if x[2] == "-"} - {x[1] for x in fiu if x[2] != "-"})
    if never:
        w("Never called by zcio here: " + ", ".join(never) + ".\n")
    w("Not reachable through libc: the reads and writes of the io_uring engine (they go "
      "through the ring; its setup calls are covered), so the FUSE EIO source below "
      "covers them. libfiu shortens a transfer to any length, which O_DIRECT refuses, "
      "so short transfers are not injected into Direct I/O.\n")
    w("Reproduce: `make fiu-test`; one file system and method, every case printed: "
      "`ZCIO_VERBOSE=1 LD_PRELOAD=\"/usr/lib/fiu/fiu_posix_preload.so $PWD/build/fiu_extra.so\" "
      "build/test_fiu-static build/tmp READ_WRITE`.\n")

    # -- real faults
    w("## Real faults\n")
    w("`tests/signals.rs`: a storm of signals without SA_RESTART during a 64 MiB copy by "
      "every method and engine; `tests/changing_source.rs`: a 256 MiB source truncated or "
      "extended from the progress callback mid-copy, each case in a child process so that "
      "a SIGBUS would show; `c-tests/test_faults.c` with `c-tests/faultfs.py` (a FUSE file "
      "system): a source that fails reads with EIO at 1 MiB, one that claims size 0 while "
      "holding 3 MiB, and one whose first read takes 0.8 s.\n")
    seen = collections.OrderedDict()
    for x in faults:
        key = (x[1], x[2])
        seen.setdefault(key, []).append(x)
    body = []
    for (fault, method), xs in seen.items():
        fss = sorted({x[0] for x in xs})
        ok = all(x[3] == "1" for x in xs)
        body.append([fault, method, ", ".join(fss), ("pass: " if ok else "FAIL: ") + xs[-1][4]])
    w(table(["fault", "method", "file systems", "outcome (last run)"], body) + "\n")
    w("Reproduce: `cargo test --test signals --test changing_source`; `make fault-test`, or "
      "`build/c-tests/test_faults-static build/tmp`.\n")

    # -- Rust rows
    if rust:
        w("## Full file systems and security\n")
        body = [[x[0], x[1], x[2], "pass" if x[3] == "1" else "FAIL", x[4] if len(x) > 4 else ""]
                for x in rust]
        w(table(["test", "file system", "case", "result", "detail"], body) + "\n")
        w("Reproduce: `cargo test --test NAME` (the test file is the first column's "
          "prefix).\n")

    # -- bad inputs
    w("## Bad inputs\n")
    w("The C ABI programs (`c-tests/null-args.c`, `struct-size.c`, `errno.c`, `bad-fd.c`, "
      "`bad-values.c`, `callback.c`, `path-bytes.c`): every NULL pointer, negative, closed "
      "and out-of-range descriptors, unknown flags, methods, engines and advice, struct "
      "sizes too small and too large, paths that are not UTF-8, progress callbacks that "
      "stop; each call must return its documented error, leave errno as it was, and leave "
      "the destination unchanged with no temporary file. The rows marked (Rust) come from "
      "`tests/copy_file.rs` (paths that are missing, empty, too long).\n")
    percall = collections.Counter(k[1].split("(")[0] for k in bad)
    w(table(["call", "bad inputs tried"], sorted(percall.items())) + "\n")
    w("<details><summary>Every input and its result</summary>\n")
    w(table(["input", "call", "result"], [[k[0], "`" + k[1] + "`", v[2]] for k, v in bad.items()]))
    w("\n</details>\n")
    w("Reproduce: `build/c-tests/bad-values-static build/tmp` (and the other ABI programs: "
      "each prints its part of the table).\n")

    # -- concurrency, resources
    w("## Concurrency and resources\n")
    body = [[x[0], x[5], f"{x[1]} threads x {x[2]} copies", x[3], x[4]]
            for x in r.get("concurrency", [])]
    w(table(["file system", "build", "run", "checks", "failed"], body) + "\n")
    body = [[x[0], x[7], x[1], x[2], f"{x[3]} -> {x[4]}", x[5], x[6]]
            for x in r.get("resources", [])]
    w(table(["file system", "build", "calls", "wrong results", "descriptors", "heap growth (B)",
             "RSS growth (B)"], body) + "\n")
    w("Rows of build `rust` come from `tests/concurrency.rs` and `tests/process.rs`; the "
      "others from the C drivers `c-tests/san-threads.c` and `san-leaks.c`. Under ASan, "
      "valgrind and ThreadSanitizer the memory figures are not compared (quarantine, "
      "instrumentation); leaks are checked by LeakSanitizer and valgrind instead. "
      "Reproduce: `cargo test --test concurrency --test process`, `make c-test valgrind-test`.\n")

    # -- runs
    w("## Test programs run\n")
    kinds = collections.OrderedDict()
    for label, outcome in runs:
        prog = label.split()[0]
        kinds.setdefault(prog, collections.Counter())[outcome] += 1
    w(table(["program", "passed", "skipped", "failed"],
            [[k, v["PASS"], v["SKIP"], v["FAIL"]] for k, v in kinds.items()]) + "\n")

    # -- fuzzing
    w("## Fuzzing\n")
    fz = r.get("fuzz", [])
    if os.path.exists(fuzz_summary):
        with open(fuzz_summary) as f:
            for line in f:
                if line.strip():
                    w("- This run: " + line.strip())
    hist = os.path.join(ROOT, "fuzz", "HISTORY.md")
    if os.path.exists(hist):
        with open(hist) as f:
            w("\n" + f.read().strip() + "\n")
    elif not fz:
        w("No fuzzing recorded in this run.\n")
    w("\nReproduce: `make fuzz` (FUZZ_SECONDS, default 600).\n")

    # -- faults found
    w("## Faults found and fixed\n")
    body = []
    regress = {x[0]: x[1] for x in r.get("regression", [])}
    for name, where, what in FOUND:
        found_in = grep_name(name)
        state = "this run: pass" if regress.get(name) == "1" else (
            "this run: FAIL" if name in regress else ("in " + found_in if found_in else "MISSING"))
        body.append([f"`{name}`", where, what, state])
    w(table(["regression test", "where", "fault", "status"], body) + "\n")
    print("\n".join(p))


if __name__ == "__main__":
    main()
