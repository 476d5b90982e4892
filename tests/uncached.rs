//! Uncached copies (`Flags::UNCACHED`): through the page cache, any alignment, and
//! the cache left as it was, on each file system, with holes, progress, the
//! methods that cannot honour it, and in a tree.

mod common;

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use zcio::{Method, Options, Progress, Step, TreeOptions, Uncached};

/// Pages a copy may leave behind: the heads tools and the kernel read.
const SLACK: usize = 16;

/// Whether the kernel has `RWF_DONTCACHE` (Linux 6.14).
fn kernel_has_dontcache() -> bool {
    let r = nix::sys::utsname::uname().expect("uname");
    let rel = r.release().to_string_lossy().into_owned();
    let mut v = rel
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    (major, minor) >= (6, 14)
}

/// Pages of `p` cached once the read-ahead a read started has landed.
fn settled_pages(p: &Path) -> usize {
    let mut last = resident_pages(p);
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = resident_pages(p);
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// The ways to ask for an uncached copy of a regular file.
fn ways() -> [(&'static str, Options<'static>); 2] {
    [
        (
            "read_write",
            Options::new().method(Method::ReadWrite).uncached(true),
        ),
        (
            "auto, no reflink",
            Options::new().reflink(false).uncached(true),
        ),
    ]
}

/// Copies a cold 24 MiB + 4321-byte file and a half-cached one in `dir` each way:
/// exact, read/write, how the cache was kept as `want` says (`None`: either), and
/// no page of the copy's own left in the cache (on a disk: tmpfs pages are the
/// files themselves).
fn check_in(dir: &Path, fs_name: &str, want: Option<Uncached>, on_disk: bool) {
    let src = dir.join("src");
    let bytes = data((24 << 20) + 4321, 31);
    write_file(&src, &bytes);
    for (name, o) in ways() {
        let dst = dir.join("dst");
        // Cold: nothing of the source cached.
        evict(&src);
        let st = o
            .copy_file(&src, &dst)
            .unwrap_or_else(|e| panic!("{fs_name}, {name}: {e}"));
        assert_eq!(st.method, Method::ReadWrite, "{fs_name}, {name}");
        assert_eq!(st.bytes, bytes.len() as u64, "{fs_name}, {name}");
        let how = st
            .uncached
            .unwrap_or_else(|| panic!("{fs_name}, {name}: not uncached"));
        if let Some(w) = want {
            assert_eq!(how, w, "{fs_name}, {name}");
        }
        if on_disk {
            let (sp, dp) = (resident_pages(&src), resident_pages(&dst));
            assert!(sp <= SLACK, "{fs_name}, {name}: {sp} source pages cached");
            assert!(
                dp <= SLACK,
                "{fs_name}, {name}: {dp} destination pages cached"
            );
        }
        assert!(fs::read(&dst).expect("read") == bytes, "{fs_name}, {name}");
        fs::remove_file(&dst).expect("rm");

        // Half cached: what was cached stays, nothing else is added.
        if on_disk {
            evict(&src);
            let mut f = File::open(&src).expect("open");
            let mut head = vec![0u8; 8 << 20];
            f.read_exact(&mut head).expect("read");
            let before = settled_pages(&src);
            assert!(
                before >= 2048,
                "{fs_name}: only {before} pages cached by a read"
            );
            o.copy_file(&src, &dst)
                .unwrap_or_else(|e| panic!("{fs_name}, {name}: {e}"));
            let after = resident_pages(&src);
            // A few pages may go to reclaim meanwhile (13 of 3072 once on Btrfs,
            // with the rest of the suite running); dropping what was cached would
            // lose thousands.
            assert!(
                after + SLACK >= before && after <= before + SLACK,
                "{fs_name}, {name}: {before} source pages cached before, {after} after"
            );
            assert!(
                resident_pages(&dst) <= SLACK,
                "{fs_name}, {name}: destination cached"
            );
            assert!(fs::read(&dst).expect("read") == bytes, "{fs_name}, {name}");
            fs::remove_file(&dst).expect("rm");
        }
    }
    report(
        "uncached",
        fs_name,
        "copies_leave_the_cache_as_it_was",
        &format!("{want:?}: cold and half-cached sources, each way"),
    );
}

#[test]
fn on_ext4_the_kernel_drops_the_pages() {
    let d = disk_dir();
    let want = if kernel_has_dontcache() {
        Uncached::DontCache
    } else {
        Uncached::Dropped
    };
    check_in(d.path(), "ext4", Some(want), true);
}

#[test]
fn on_xfs_the_kernel_drops_the_pages() {
    let Some(m) = Mount::image("xfs", 300, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"]) else {
        return;
    };
    let want = if kernel_has_dontcache() {
        Uncached::DontCache
    } else {
        Uncached::Dropped
    };
    check_in(&m.path(), "xfs", Some(want), true);
}

/// Btrfs takes `RWF_DONTCACHE` in some kernels only: either way, the cache is kept.
#[test]
fn on_btrfs_the_cache_is_kept_either_way() {
    let Some(m) = Mount::image("btrfs", 300, &["mkfs.btrfs", "-q", "-f"]) else {
        return;
    };
    check_in(&m.path(), "btrfs", None, true);
}

/// tmpfs refuses `RWF_DONTCACHE`: zcio drops what it can (nothing: the pages are
/// the file) and says so; the copy is exact.
#[test]
fn on_tmpfs_zcio_drops_them() {
    let Some(d) = shm_dir() else { return };
    check_in(d.path(), "tmpfs", Some(Uncached::Dropped), false);
}

/// A 256 MiB file with two 1 MiB islands.
fn sparse_file(p: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(p)
        .expect("create");
    f.set_len(256 << 20).expect("len");
    let mut islands = Vec::new();
    for (i, at) in [8u64 << 20, 200 << 20].into_iter().enumerate() {
        let b = data(1 << 20, 40 + i as u64);
        nix::sys::uio::pwrite(&f, &b, at as i64).expect("pwrite");
        islands.push((at, b));
    }
    f.sync_all().expect("sync");
    islands
}

#[test]
fn holes_and_progress() {
    let d = disk_dir();
    let src = d.path().join("sparse");
    let islands = sparse_file(&src);
    let dst = d.path().join("dst");
    let seen = RefCell::new(Vec::new());
    let record = |p: Progress| {
        seen.borrow_mut().push(p.done);
        assert_eq!(p.total, Some(256 << 20));
        ControlFlow::Continue(())
    };
    let st = Options::new()
        .method(Method::ReadWrite)
        .uncached(true)
        .progress(&record)
        .copy_file(&src, &dst)
        .expect("copy");
    assert_eq!(st.bytes, 2 << 20, "only the data moved");
    assert_eq!(st.file_size, 256 << 20);
    let m = fs::metadata(&dst).expect("meta");
    assert_eq!(m.len(), 256 << 20);
    assert!(
        m.blocks() * 512 <= (2 << 20) + (64 << 10),
        "{} blocks",
        m.blocks()
    );
    let f = File::open(&dst).expect("open");
    for (at, b) in &islands {
        let mut got = vec![0u8; b.len()];
        nix::sys::uio::pread(&f, &mut got, *at as i64).expect("pread");
        assert!(&got == b, "island at {at}");
    }
    let seen = seen.into_inner();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&(256 << 20)), "{seen:?}");
    assert!(seen.len() >= 3, "{seen:?}");
}

/// The kernel's copy calls go through the cache with no way to leave it: asked to
/// be uncached they are refused before anything is touched. Direct I/O is uncached
/// already, and a reflink moves no data.
#[test]
fn methods_that_cannot_be_uncached_are_refused() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(3 << 20, 45);
    write_file(&src, &bytes);
    let dst = d.path().join("dst");
    let old = data(777, 46);
    write_file(&dst, &old);
    for m in [
        Method::CopyFileRange,
        Method::Sendfile,
        Method::Splice,
        Method::Mmap,
    ] {
        let (r, st) = outcome(
            Options::new()
                .method(m)
                .uncached(true)
                .copy_file(&src, &dst),
        );
        assert_eq!(errno(r), libc::EINVAL, "{m}");
        assert_eq!(st.failed_step, Step::Args, "{m}");
        assert!(fs::read(&dst).expect("read") == old, "{m}");
        assert_eq!(
            extra_entries(d.path(), &["src", "dst"]),
            Vec::<String>::new(),
            "{m}"
        );
    }
    let st = Options::new()
        .method(Method::Direct)
        .uncached(true)
        .copy_file(&src, &dst)
        .expect("direct");
    assert_eq!(st.method, Method::Direct);
    assert!(fs::read(&dst).expect("read") == bytes);
}

/// Where no pages of a regular file are involved the flag changes nothing: a
/// reflink shares blocks, a FIFO streams (and says no uncached copy ran).
#[test]
fn reflinks_and_streams_are_as_without_it() {
    let Some(m) = Mount::image("xfs", 300, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"]) else {
        return;
    };
    let mp = m.path();
    let src = mp.join("src");
    let bytes = data(4 << 20, 47);
    write_file(&src, &bytes);
    let st = Options::new()
        .uncached(true)
        .copy_file(&src, mp.join("clone"))
        .expect("clone");
    assert_eq!(st.method, Method::Reflink);
    assert_eq!(st.uncached, None);
    assert!(fs::read(mp.join("clone")).expect("read") == bytes);

    let fifo = mp.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let mut child = std::process::Command::new("cp")
        .arg(&src)
        .arg(&fifo)
        .spawn()
        .expect("cp");
    let r = Options::new()
        .uncached(true)
        .copy_file(&fifo, mp.join("streamed"));
    assert!(child.wait().expect("wait").success());
    let st = r.expect("fifo");
    assert_eq!(st.method, Method::Splice);
    assert_eq!(st.uncached, None);
    assert!(fs::read(mp.join("streamed")).expect("read") == bytes);
}

/// A tree copied uncached (as a backup would be), or with Direct I/O (asked for,
/// or chosen by the automatic chain for files of 32 MiB and more), leaves none of
/// its files cached: not even the heads a tree copy reads ahead of each batch of
/// small files (a batch is the files of one directory).
#[test]
fn tree_copy_leaves_no_file_cached() {
    let d = disk_dir();
    let small = d.path().join("small");
    fs::create_dir_all(small.join("a/b")).expect("mkdir");
    let mut small_files = Vec::new();
    for (i, rel) in [
        "one",
        "a/two",
        "a/b/three",
        "a/b/four",
        "a/b/five",
        "a/b/six",
    ]
    .into_iter()
    .enumerate()
    {
        write_file(&small.join(rel), &data((2 << 20) + i * 1000, 50 + i as u64));
        small_files.push(rel);
    }
    let large = d.path().join("large");
    fs::create_dir_all(&large).expect("mkdir");
    let large_files = ["x", "y"];
    for (i, rel) in large_files.iter().enumerate() {
        write_file(&large.join(rel), &data((32 << 20) + 4096, 60 + i as u64));
    }
    let ways = [
        (
            "uncached",
            &small,
            &small_files[..],
            Options::new().uncached(true).reflink(false),
            Method::ReadWrite,
        ),
        (
            "direct",
            &small,
            &small_files[..],
            Options::new().method(Method::Direct),
            Method::Direct,
        ),
        (
            "auto, 32 MiB files",
            &large,
            &large_files[..],
            Options::new().reflink(false),
            Method::Direct,
        ),
    ];
    for (i, (name, src, files, o, method)) in ways.into_iter().enumerate() {
        for rel in files {
            evict(&src.join(rel));
        }
        let dst = d.path().join(format!("dst{i}"));
        let ts = TreeOptions::new()
            .file_options(o)
            .copy_tree(src, &dst)
            .expect("tree");
        assert_eq!(ts.files, files.len() as u64, "{name}");
        assert_eq!(
            ts.files_by_method[method as usize],
            files.len() as u64,
            "{name}"
        );
        // What the copy left in the cache, before the files are read back.
        for rel in files {
            let (sp, dp) = (
                settled_pages(&src.join(rel)),
                resident_pages(&dst.join(rel)),
            );
            assert!(
                sp <= SLACK && dp <= SLACK,
                "{name}, {rel}: {sp} source, {dp} copy pages cached"
            );
        }
        for rel in files {
            let (s, t) = (src.join(rel), dst.join(rel));
            assert!(
                fs::read(&s).expect("read") == fs::read(&t).expect("read"),
                "{name}, {rel}"
            );
        }
    }
}

/// A tree copied again onto its copy, keeping what is there (an incremental run),
/// reads no file's data: nothing of the sources comes into the cache.
#[test]
fn a_tree_copy_that_keeps_existing_files_reads_none() {
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir_all(&src).expect("mkdir");
    let names: Vec<String> = (0..8).map(|i| format!("f{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        write_file(&src.join(n), &data(256 << 10, 70 + i as u64));
    }
    let dst = d.path().join("dst");
    zcio::copy_tree(&src, &dst).expect("first copy");
    for n in &names {
        evict(&src.join(n));
    }
    let ts = TreeOptions::new()
        .existing(zcio::Existing::Keep)
        .copy_tree(&src, &dst)
        .expect("again");
    assert_eq!((ts.files, ts.skipped), (0, 8));
    for n in &names {
        let sp = settled_pages(&src.join(n));
        assert!(sp <= SLACK, "{n}: {sp} source pages cached");
    }
}
