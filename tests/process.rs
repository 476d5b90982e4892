//! What a copy leaves in its process: descriptors, memory, the splice pipe of a
//! thread after the thread ends and after a fork, and nothing but the old file or
//! none when the process is killed mid-copy. Moved from the C suite
//! (test_directio.c, test_engines.c, test_zerocopy.c, test_hardening.c), whose
//! programs stay as sanitizer drivers. `harness = false`: these cases measure the
//! whole process, so they run one at a time on the main thread (a test running
//! beside them would own descriptors and memory of its own).

mod common;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/streams.rs"]
mod streams;

use std::fs::{self, File};
use std::ops::ControlFlow;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use streams::{MED, bytes, contents, mkfile, rw_new};
use zcio::{Engine, FdFlags, Method, Options, Progress, TO_EOF};

const MIB: usize = 1 << 20;

fn main() {
    harness::main(
        &[
            (
                "big_chunk_on_a_small_file_allocates_no_more_than_the_file",
                big_chunk_on_a_small_file_allocates_no_more_than_the_file,
            ),
            (
                "peak_memory_is_depth_times_chunk",
                peak_memory_is_depth_times_chunk,
            ),
            (
                "splice_pipe_goes_with_the_thread",
                splice_pipe_goes_with_the_thread,
            ),
            (
                "splice_pipe_is_not_shared_after_fork",
                splice_pipe_is_not_shared_after_fork,
            ),
            ("many_calls_leave_no_trace", many_calls_leave_no_trace),
            ("descriptors_after_each_area", descriptors_after_each_area),
            (
                "killed_mid_copy_leaves_old_or_nothing",
                killed_mid_copy_leaves_old_or_nothing,
            ),
        ],
        &[
            ("peak_memory_child", peak_memory_child),
            ("killed_child", killed_child),
        ],
    )
}

/// This thread's splice pipe, made now so that later counts do not see it appear.
fn warm_splice_pipe() {
    zcio::testing::thread_pipe_size().expect("splice pipe");
}

/// The process's virtual size in KiB.
fn vm_size_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize")
}

/// The fault (the fuzzer's out-of-memory find): the largest chunk zcio accepts
/// (1 GiB) on a small file allocated chunk_size per I/O in flight; the buffers are
/// now cut to the file's size. VmSize is sampled from the progress callback, while
/// the buffers exist.
fn big_chunk_on_a_small_file_allocates_no_more_than_the_file() {
    let mut ok = true;
    for d in disk_and_shm() {
        for engine in engines_and_auto() {
            for (i, n) in [46 * 1024 + 5, 3 * MIB + 1].into_iter().enumerate() {
                let src = d.path().join("src");
                let bytes = data(n, 77 + i as u64);
                write_file(&src, &bytes);
                let before = vm_size_kib();
                let peak = std::cell::Cell::new(before);
                let sample = |_: Progress| {
                    peak.set(peak.get().max(vm_size_kib()));
                    ControlFlow::Continue(())
                };
                let dst = d.path().join("dst");
                let r = Options::new()
                    .engine(engine)
                    .chunk_size(1 << 30)
                    .queue_depth(16)
                    .progress(&sample)
                    .directio_copy(&src, &dst);
                let grew = peak.get() - before;
                let exact = r.is_ok() && fs::read(&dst).expect("read") == bytes;
                if !exact || grew >= 256 * 1024 {
                    eprintln!(
                        "{} {engine:?} {n}: {r:?}, VmSize grew by {grew} KiB",
                        fs_name(d.path())
                    );
                }
                ok &= exact && grew < 256 * 1024;
                let _ = fs::remove_file(&dst);
            }
        }
    }
    regression(
        "big_chunk_on_a_small_file_allocates_no_more_than_the_file",
        ok,
    );
}

/// Peak memory of a 128 MiB copy with 4 chunks of 2 MiB in flight, each engine in
/// a fresh process (the peak only grows): at most depth x chunk and 12 MiB for the
/// allocator, thread stacks and the ring, whatever the file's size.
fn peak_memory_is_depth_times_chunk() {
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(128 * MIB, 7));
    let bound_kib = (4 * 2 * MIB / 1024 + 12 * 1024) as u64;
    for engine in Engine::ALL {
        let out = harness::run_child(
            "peak_memory_child",
            &[
                ("ZCIO_PEAK_DIR", d.path().display().to_string()),
                ("ZCIO_PEAK_ENGINE", engine.name().to_string()),
            ],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{engine:?}: {:?} {text}", out.status);
        let grew: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("grew_kib "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{engine:?}: no figure in {text:?}"));
        println!("  {engine:?}: peak memory grew by {grew} KiB (bound {bound_kib} KiB)");
        assert!(
            grew <= bound_kib,
            "{engine:?}: {grew} KiB > {bound_kib} KiB"
        );
    }
}

/// The peak resident size of this process, in KiB. Not getrusage's ru_maxrss:
/// that one carries the parent's peak across fork and exec (the parent made a
/// 128 MiB buffer for the source), so the growth would read 0 whatever the copy
/// took; VmHWM belongs to the memory this program image has mapped.
fn max_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn peak_memory_child() {
    let dir = std::path::PathBuf::from(std::env::var("ZCIO_PEAK_DIR").expect("dir"));
    let engine: Engine = std::env::var("ZCIO_PEAK_ENGINE")
        .expect("engine")
        .parse()
        .expect("engine name");
    let o = Options::new()
        .engine(engine)
        .queue_depth(4)
        .chunk_size(2 << 20);
    // Warm up the library (first-use allocations) on a small copy.
    let tiny = dir.join(format!("tiny-{}", engine.name()));
    write_file(&tiny, &data(4096, 8));
    o.directio_copy(&tiny, dir.join("tiny.dst"))
        .expect("warm-up");
    let before = max_rss_kib();
    let st = o
        .directio_copy(dir.join("src"), dir.join(format!("dst-{}", engine.name())))
        .expect("copy");
    assert_eq!(st.engine, Some(engine));
    println!("grew_kib {}", max_rss_kib() - before);
}

/// The splice pipe of a thread is closed when the thread ends.
fn splice_pipe_goes_with_the_thread() {
    let d = disk_dir();
    let src = mkfile(d.path(), "src", 0, 100_000);
    let dst = d.path().join("dst");
    warm_splice_pipe();
    let before = open_fds();
    let n = std::thread::scope(|s| {
        s.spawn(|| {
            let f = File::open(&src).expect("open");
            let g = File::create(&dst).expect("create");
            zcio::splice(&f, Some(&mut 0), &g, None, TO_EOF, FdFlags::empty()).expect("splice")
        })
        .join()
        .expect("thread")
    });
    assert_eq!(n, 100_000);
    assert!(fs::read(&dst).expect("read") == bytes()[..100_000]);
    assert_eq!(open_fds(), before, "the thread's pipe outlived it");
}

/// A child forked after this thread spliced has a pipe of its own: bytes it
/// leaves in it never reach this thread's next splice.
fn splice_pipe_is_not_shared_after_fork() {
    let d = disk_dir();
    let a = File::open(mkfile(d.path(), "a", 0, 100_000)).expect("open");
    let b = mkfile(d.path(), "b", 200_000, 100_000);
    let out = rw_new(&d.path().join("dst"));
    assert_eq!(
        zcio::splice(&a, Some(&mut 0), &out, None, 1000, FdFlags::empty()).expect("splice"),
        1000
    );
    // SAFETY: this process runs no other thread now (harness = false, between
    // cases), so the child may run anything; it leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let code = (|| {
            let f = File::open(&b).ok()?;
            let (s, peer) = std::os::unix::net::UnixStream::pair().ok()?;
            drop(peer);
            let r = zcio::splice(&f, Some(&mut 0), &s, None, 5000, FdFlags::empty());
            Some(if errno(r) == libc::EPIPE { 0 } else { 1 })
        })()
        .unwrap_or(2);
        // SAFETY: leaves the child at once, without running the parent's exit code.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child {status:#x}"
    );
    streams::reset(&out);
    // Non-blocking, so that a pipe left full cannot hang the test.
    let n = zcio::splice(&a, Some(&mut 0), &out, None, 3000, FdFlags::NONBLOCK).expect("splice");
    assert_eq!(n, 3000);
    let got = contents(&out);
    assert!(
        got != bytes()[200_000..203_000],
        "the parent's copy holds the child's bytes"
    );
    assert!(got == bytes()[..3000]);
}

fn rss_bytes() -> i64 {
    let s = fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: i64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("rss");
    pages * 4096
}

fn heap_in_use() -> i64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    unsafe { libc::mallinfo2().uordblks as i64 }
}

/// One call of a mix of successes and failures; true when it gave what it should.
fn resource_call(i: usize, small: &Path, missing: &Path, dst: &Path, fdst: &Path) -> bool {
    match i % 5 {
        0 => zcio::copy_file(small, dst).is_ok_and(|st| st.bytes == 1000),
        1 => errno(zcio::copy_file(missing, dst)) == libc::ENOENT,
        2 => {
            errno(
                Options::new()
                    .method(Method::ReadWrite)
                    .copy_file(missing, dst),
            ) == libc::ENOENT
        }
        3 => {
            let f = File::open(small).expect("open");
            let g = File::create(fdst).expect("create");
            let e = FdFlags::empty();
            let r = match (i / 5) % 4 {
                0 => zcio::splice(&f, None, &g, None, TO_EOF, e),
                1 => zcio::sendfile(&g, &f, None, TO_EOF, e),
                2 => zcio::copy_file_range(&f, None, &g, None, TO_EOF, e),
                _ => zcio::mmap_copy(&f, None, &g, TO_EOF, e),
            };
            r.is_ok_and(|n| n == 1000)
        }
        // A Direct I/O copy costs milliseconds (engine setup): one in ten.
        _ if (i / 5) % 10 == 1 => zcio::directio_copy(small, dst).is_ok(),
        _ => errno(zcio::directio_copy(missing, dst)) == libc::ENOENT,
    }
}

/// 500 and then 10,000 calls of every kind, successes and failures: each right,
/// and after the 10,000 the same descriptors open and under 1 MiB more heap and
/// RSS. (The C ABI's refusals of bad descriptors and flags, which Rust cannot
/// express, stay in c-tests/san-leaks.c.)
fn many_calls_leave_no_trace() {
    for d in disk_and_shm() {
        let p = d.path();
        let small = p.join("small");
        let want = data(1000, 99);
        write_file(&small, &want);
        let (missing, dst, fdst) = (p.join("missing"), p.join("dst"), p.join("fdst"));
        warm_splice_pipe();
        let mut wrong = 0;
        for i in 0..500 {
            wrong += usize::from(!resource_call(i, &small, &missing, &dst, &fdst));
        }
        let (fds, heap, rss) = (open_fds(), heap_in_use(), rss_bytes());
        let calls = 10_000;
        for i in 0..calls {
            wrong += usize::from(!resource_call(i, &small, &missing, &dst, &fdst));
        }
        let (fds_after, heap_after, rss_after) = (open_fds(), heap_in_use(), rss_bytes());
        println!(
            "  {}: 500 + {calls} calls, {wrong} wrong, descriptors {fds} -> {fds_after}, heap {heap} -> {heap_after}, RSS {rss} -> {rss_after}",
            fs_name(p)
        );
        report_row(
            "resources",
            &[
                &fs_name(p),
                &calls.to_string(),
                &wrong.to_string(),
                &fds.to_string(),
                &fds_after.to_string(),
                &(heap_after - heap).to_string(),
                &(rss_after - rss).to_string(),
                "rust",
            ],
        );
        assert_eq!(wrong, 0);
        assert_eq!(fds_after, fds);
        assert!(fs::read(&dst).expect("read") == want);
        assert!(
            heap_after - heap < 1 << 20,
            "heap grew by {}",
            heap_after - heap
        );
        assert!(rss_after - rss < 1 << 20, "RSS grew by {}", rss_after - rss);
    }
}

/// One pass of each area, then the same descriptors open as before and the
/// scratch directory as it was: Direct I/O on each engine (a copy, a cancel, a
/// failure), each whole-file method, the descriptor calls on files, pipes and
/// sockets, and the EPIPE round.
fn descriptors_after_each_area() {
    for d in disk_and_shm() {
        let p = d.path();
        warm_splice_pipe();
        let before = open_fds();
        let src = mkfile(p, "src", 0, MED);
        let half = |pr: Progress| {
            if pr.total.is_none_or(|t| pr.done * 2 >= t) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        for engine in engines_and_auto() {
            let o = Options::new().engine(engine).chunk_size(65536);
            o.directio_copy(&src, p.join("dst")).expect("direct");
            assert_eq!(
                errno(o.progress(&half).directio_copy(&src, p.join("dst"))),
                libc::ECANCELED
            );
            assert_eq!(
                errno(o.directio_copy(p.join("missing"), p.join("dst"))),
                libc::ENOENT
            );
        }
        for m in Method::ALL {
            let r = Options::new().method(m).copy_file(&src, p.join("dst"));
            assert!(r.is_ok() || m == Method::Reflink, "{m}: {r:?}");
        }
        zcio::splice_file(&src, p.join("dst")).expect("splice_file");
        let f = File::open(&src).expect("open");
        let g = rw_new(&p.join("fd"));
        let e = FdFlags::empty();
        zcio::sendfile(&g, &f, Some(&mut 0), TO_EOF, e).expect("sendfile");
        zcio::splice(&f, Some(&mut 0), &g, Some(&mut 0), TO_EOF, e).expect("splice");
        zcio::copy_file_range(&f, Some(&mut 0), &g, Some(&mut 0), TO_EOF, e).expect("cfr");
        zcio::mmap_copy(&f, Some(&mut 0), &g, TO_EOF, e).expect("mmap");
        let _ = zcio::reflink(&f, &g);
        let (r, w) = streams::pipe();
        let got = streams::reader(r, 65536, Duration::ZERO);
        zcio::splice(&f, Some(&mut 0), &w, None, TO_EOF, e).expect("splice to a pipe");
        drop(w);
        assert_eq!(got.join().expect("reader").len(), MED);
        let (a, b) = streams::unix_pair(0);
        let got = streams::reader(b, 65536, Duration::ZERO);
        zcio::sendfile(&a, &f, Some(&mut 0), TO_EOF, e).expect("sendfile to unix");
        drop(a);
        assert_eq!(got.join().expect("reader").len(), MED);
        let (c, s) = streams::tcp_pair();
        let wr = streams::writer(c, &bytes()[..MED], 65536, Duration::ZERO, |_| {});
        let n = zcio::splice(&s, None, &g, Some(&mut 0), TO_EOF, e).expect("tcp to file");
        wr.join().expect("writer");
        assert_eq!(n, MED as u64);
        drop((f, g, s));
        streams::epipe_round(p);
        for n in ["src", "dst", "fd"] {
            fs::remove_file(p.join(n)).expect("rm");
        }
        assert_eq!(open_fds(), before, "{}: descriptors left open", fs_name(p));
        assert_eq!(extra_entries(p, &[]), Vec::<String>::new());
    }
}

/// A process killed (SIGKILL) in the middle of a copy leaves the old destination
/// as it was, or no destination, and no temporary file (an O_TMPFILE has no name
/// until the end).
fn killed_mid_copy_leaves_old_or_nothing() {
    let d = disk_dir();
    let p = d.path();
    write_file(&p.join("src"), &data(64 * MIB, 5));
    let old = data(1000, 6);
    for way in ["direct", "copy_file"] {
        for existing in [true, false] {
            let dst = p.join("dst");
            if existing {
                write_file(&dst, &old);
            } else {
                let _ = fs::remove_file(&dst);
            }
            let out = harness::run_child(
                "killed_child",
                &[
                    ("ZCIO_KILL_DIR", p.display().to_string()),
                    ("ZCIO_KILL_WAY", way.to_string()),
                ],
            );
            assert_eq!(
                out.status.signal(),
                Some(libc::SIGKILL),
                "{way}: {:?}",
                out.status
            );
            if existing {
                assert!(
                    fs::read(&dst).expect("read") == old,
                    "{way}: the old destination changed"
                );
            } else {
                assert!(!dst.exists(), "{way}: a destination appeared");
            }
            let mut expected = vec!["src"];
            if existing {
                expected.push("dst");
            }
            assert_eq!(extra_entries(p, &expected), Vec::<String>::new(), "{way}");
        }
    }
}

fn killed_child() {
    let dir = std::path::PathBuf::from(std::env::var("ZCIO_KILL_DIR").expect("dir"));
    let way = std::env::var("ZCIO_KILL_WAY").expect("way");
    let kill = |pr: Progress| {
        if pr.total.is_some_and(|t| pr.done * 4 >= t) {
            // SAFETY: kill on this process; SIGKILL ends it here.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        ControlFlow::Continue(())
    };
    let o = Options::new().progress(&kill);
    let (src, dst) = (dir.join("src"), dir.join("dst"));
    let r = if way == "direct" {
        o.chunk_size(1 << 20).directio_copy(&src, &dst)
    } else {
        o.method(Method::ReadWrite).copy_file(&src, &dst)
    };
    // Reached only if the kill did not happen.
    eprintln!("copy ended without being killed: {r:?}");
    std::process::exit(3);
}
