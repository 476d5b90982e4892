//! Copies running at once, on ext4 and tmpfs (moved from the C suite's
//! test_hardening.c, which stays as the sanitizer driver c-tests/san-threads.c):
//! eight threads, every method in turn on shared sources, the descriptor calls on
//! each thread's own files (each thread has its own splice pipe), and two threads
//! replacing one destination over and over, whose readers must always see one
//! whole source.

mod common;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use zcio::{FdFlags, Method, Options, TO_EOF};

const THREADS: usize = 8;
const SAME: usize = 2;
const ITERS: usize = 200;
const METHODS: [Method; 7] = [
    Method::Auto,
    Method::Direct,
    Method::CopyFileRange,
    Method::Sendfile,
    Method::Splice,
    Method::Mmap,
    Method::ReadWrite,
];

fn run_in(dir: &Path) -> (usize, usize) {
    let shared: Vec<(PathBuf, Vec<u8>)> = [3usize, 17, 511, 4097]
        .iter()
        .enumerate()
        .map(|(s, extra)| {
            let p = dir.join(format!("s{s}"));
            let b = data(65536 + extra, 7000 + s as u64);
            write_file(&p, &b);
            (p, b)
        })
        .collect();
    let conc = dir.join("conc");
    fs::create_dir(&conc).expect("mkdir");
    let same = conc.join("same");
    let is_a_source = |b: &[u8]| shared.iter().any(|(_, s)| s == b);
    let (checks, failures) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let check = |ok: bool, what: &str, id: usize, i: usize| {
        checks.fetch_add(1, Ordering::Relaxed);
        if !ok {
            failures.fetch_add(1, Ordering::Relaxed);
            eprintln!("thread {id} iteration {i}: {what}");
        }
    };
    std::thread::scope(|s| {
        for id in 0..THREADS {
            let (shared, conc, same, check) = (&shared, &conc, &same, &check);
            s.spawn(move || {
                let own_dst = conc.join(format!("t{id}-dst"));
                let own_src = conc.join(format!("t{id}-src"));
                let fdst = conc.join(format!("t{id}-fdst"));
                for i in 0..ITERS {
                    let m = METHODS[(id + i) % METHODS.len()];
                    if id >= THREADS - SAME {
                        // All of these write the same path.
                        let (p, b) = &shared[(id + i) % shared.len()];
                        let r = Options::new().method(m).copy_file(p, same);
                        check(
                            r.as_ref().is_ok_and(|st| st.bytes == b.len() as u64),
                            "same",
                            id,
                            i,
                        );
                        let got = fs::read(same).unwrap_or_default();
                        check(is_a_source(&got), "same: not one whole source", id, i);
                        continue;
                    }
                    let (p, b) = &shared[(id * 3 + i) % shared.len()];
                    let r = Options::new().method(m).copy_file(p, &own_dst);
                    check(
                        r.as_ref().is_ok_and(|st| st.bytes == b.len() as u64),
                        "copy",
                        id,
                        i,
                    );
                    check(
                        fs::read(&own_dst).ok().as_ref() == Some(b),
                        "content",
                        id,
                        i,
                    );
                    // Own content through the descriptor calls.
                    let n = 65536 + 1 + (i * 7 + id) % 900;
                    let own = data(n, 1_000_003 * (id as u64 + 1) + i as u64);
                    fs::write(&own_src, &own).expect("write");
                    let f = File::open(&own_src).expect("open");
                    let g = OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .open(&fdst)
                        .expect("create");
                    let moved = if i % 3 == 2 {
                        zcio::sendfile(&g, &f, None, TO_EOF, FdFlags::empty())
                    } else {
                        zcio::splice(&f, None, &g, None, TO_EOF, FdFlags::empty())
                    };
                    check(moved.is_ok_and(|k| k == n as u64), "descriptor call", id, i);
                    check(
                        fs::read(&fdst).ok() == Some(own),
                        "descriptor content",
                        id,
                        i,
                    );
                }
            });
        }
    });
    let (checks, failures) = (checks.into_inner(), failures.into_inner());
    // No temporary file: 3 files per mixing thread and the shared destination.
    assert_eq!(
        fs::read_dir(&conc).expect("read_dir").count(),
        3 * (THREADS - SAME) + 1
    );
    assert!(is_a_source(&fs::read(&same).expect("read")));
    (checks, failures)
}

#[test]
fn concurrent_copies() {
    for d in disk_and_shm() {
        let (checks, failures) = run_in(d.path());
        report_row(
            "concurrency",
            &[
                &fs_name(d.path()),
                &THREADS.to_string(),
                &ITERS.to_string(),
                &checks.to_string(),
                &failures.to_string(),
                "rust",
            ],
        );
        assert_eq!(failures, 0, "{failures} of {checks} checks failed");
    }
}
