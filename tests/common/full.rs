//! A full XFS file system (a loop-mounted image made by the test), shared by
//! full_disk.rs (O_TMPFILE) and security_named_temp.rs (named temporary files).
#![allow(dead_code)]

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;
use zcio::{Engine, Flags, Method, Options, Step};

/// Free bytes of the file system holding `p`.
fn free_bytes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).expect("statvfs");
    s.blocks_free() * s.fragment_size()
}

/// Free bytes once XFS has settled: it frees the blocks of deleted (and
/// O_TMPFILE) inodes and trims preallocations in the background. With `want`,
/// waits (up to 10 s) for that figure; without, for one that holds for 100 ms.
fn settled_free(p: &Path, want: Option<u64>) -> u64 {
    let start = Instant::now();
    let mut last = u64::MAX;
    loop {
        nix::unistd::sync();
        let f = free_bytes(p);
        let done = match want {
            Some(w) => f == w,
            None => f == last,
        };
        if done || start.elapsed() > Duration::from_secs(10) {
            return f;
        }
        last = f;
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The O_TMPFILEs this process still holds in `dir`.
fn open_tmpfiles(dir: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}/#", dir.canonicalize().expect("dir").display());
    fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| {
            let p = e.ok()?.path();
            let l = fs::read_link(&p).ok()?;
            l.to_string_lossy().starts_with(&prefix).then_some(p)
        })
        .collect()
}

/// Every method, reflink and copy_file_range both allowed and not, uncached
/// copies, Direct I/O with each engine.
pub fn every_way() -> Vec<Options<'static>> {
    let mut v = vec![
        Options::new(),
        Options::new().reflink(false),
        Options::new().reflink(false).uncached(true),
        Options::new().method(Method::ReadWrite).uncached(true),
        Options::new().method(Method::CopyFileRange),
        Options::new().method(Method::Sendfile),
        Options::new().method(Method::Splice),
        Options::new().method(Method::Mmap),
        Options::new().method(Method::ReadWrite),
    ];
    for e in Engine::ALL {
        v.push(Options::new().method(Method::Direct).engine(e));
    }
    v
}

/// Fills a new XFS image up to 24 MiB, then copies 64 MiB onto it with each of `ways`
/// from the work disk (and once, without block sharing, from the XFS itself) onto
/// no destination, an existing one, and none in place: each copy must fail with
/// ENOSPC, leave the old destination byte for byte (or none at all), no temporary
/// file (named or open), and every block it took free again.
pub fn check_full_xfs(ways: &[Options<'_>]) {
    // 300 MiB is the smallest XFS that mkfs.xfs (6.1) makes.
    let Some(m) = Mount::image("xfs", 300, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"]) else {
        return;
    };
    let mp = m.path();
    // A source on the same XFS, for the "never share blocks" copies, made before
    // the disk is filled.
    let same = mp.join("same");
    let bytes = data(64 << 20, 91);
    write_file(&same, &bytes);
    // A source elsewhere (the work disk), so that the data must really be written:
    // copy_file_range within one XFS may clone blocks and need no space at all.
    let d = disk_dir();
    let outside = d.path().join("src");
    write_file(&outside, &bytes);
    let dst = mp.join("dst");
    let old = data(1 << 20, 92);
    // Fill the disk up to 24 MiB free.
    let filler = File::create(mp.join("filler")).expect("filler");
    let room = free_bytes(&mp) - (24 << 20) - old.len() as u64;
    nix::fcntl::fallocate(
        filler.as_fd(),
        nix::fcntl::FallocateFlags::empty(),
        0,
        room as i64,
    )
    .expect("fill");
    filler.sync_all().expect("sync");
    drop(filler);
    let entries: &[&str] = &["same", "filler", "dst"];

    for (src, way) in ways
        .iter()
        .map(|w| (&outside, *w))
        .chain([(&same, Options::new().reflink(false))])
    {
        for (existing, in_place) in [(true, false), (false, false), (false, true)] {
            let label = format!(
                "{:?}{}{} from {}, {} destination{}",
                way.get_method(),
                if way.get_flags().contains(Flags::NO_REFLINK) {
                    " (no reflink)"
                } else {
                    ""
                },
                way.get_engine()
                    .map_or(String::new(), |e| format!(", engine {e:?}")),
                if src == &same { "the same XFS" } else { "ext4" },
                if existing { "an existing" } else { "no" },
                if in_place { ", in place" } else { "" }
            );
            let _ = fs::remove_file(&dst);
            if existing {
                write_file(&dst, &old);
            }
            let base = settled_free(&mp, None);
            let (r, st) = outcome(way.in_place(in_place).copy_file(src, &dst));
            let e = r.expect_err(&label);
            assert_eq!(e.raw_os_error(), libc::ENOSPC, "{label}: {e}");
            assert!(
                matches!(st.failed_step, Step::Write | Step::Size),
                "{label}: {:?}",
                st.failed_step
            );
            if existing {
                assert!(
                    fs::read(&dst).expect("read") == old,
                    "{label}: old destination"
                );
            } else {
                assert!(!dst.exists(), "{label}: a partial destination was left");
            }
            let want: Vec<String> = Vec::new();
            let mut keep: Vec<&str> = entries.to_vec();
            if !existing {
                keep.retain(|n| *n != "dst");
            }
            assert_eq!(extra_entries(&mp, &keep), want, "{label}: leftovers");
            assert_eq!(
                open_tmpfiles(&mp),
                Vec::<PathBuf>::new(),
                "{label}: open temp"
            );
            assert_eq!(
                settled_free(&mp, Some(base)),
                base,
                "{label}: space not given back"
            );
            crate::common::report(
                "full_disk",
                "xfs",
                &label,
                &format!(
                    "ENOSPC at {:?}, {}, no temporary file, all space given back",
                    st.failed_step,
                    if existing {
                        "old destination intact"
                    } else {
                        "no destination left"
                    }
                ),
            );
        }
    }
    // Auto from the same XFS clones: it needs no space, and succeeds.
    let st = zcio::copy_file(&same, &dst).expect("clone");
    assert_eq!(st.method, Method::Reflink);
    assert!(fs::read(&dst).expect("read") == bytes);
}
