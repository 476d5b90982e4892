//! zc_copy_file's automatic chain, sparse files, sources of every kind, metadata,
//! progress, and failures that keep the old destination.

mod common;

use std::cell::{Cell, RefCell};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use zcio::{Method, Options, Progress};

fn used_bytes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).expect("statvfs");
    (s.blocks() - s.blocks_free()) * s.fragment_size()
}

#[test]
fn chain_on_ext4_is_copy_file_range() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(5 << 20, 1);
    write_file(&src, &bytes);
    let st = zcio::copy_file(&src, d.path().join("dst")).expect("copy");
    assert_eq!(st.method, Method::CopyFileRange);
    assert_eq!(
        st.fallbacks().collect::<Vec<_>>(),
        [(Method::Reflink, libc::EOPNOTSUPP)]
    );
    assert_eq!(st.bytes as usize, bytes.len());
    assert!(fs::read(d.path().join("dst")).expect("read") == bytes);
}

/// A large file between disk file systems goes faster with Direct I/O; the chain
/// looks at how much of it is cached (cachestat) to choose how to read it.
#[test]
fn chain_takes_direct_io_for_a_large_file_on_the_disk_only() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data((48 << 20) + 777, 11);
    write_file(&src, &bytes);
    evict(&src);
    let dst = d.path().join("dst");
    let st = zcio::copy_file(&src, &dst).expect("cold");
    assert_eq!(st.method, Method::Direct, "{st:?}");
    assert_eq!(
        st.fallbacks().collect::<Vec<_>>(),
        [(Method::Reflink, libc::EOPNOTSUPP)]
    );
    assert!(resident_pages(&dst) <= 16 && resident_pages(&src) <= 16);
    assert!(fs::read(&dst).expect("read") == bytes);
    // Now the source is in the cache: still Direct I/O, which stays there and
    // leaves no destination pages.
    assert!(fs::read(&src).expect("read") == bytes);
    let st = zcio::copy_file(&src, &dst).expect("warm");
    assert_eq!(st.method, Method::Direct, "{st:?}");
    assert!(resident_pages(&dst) <= 16);
    assert_eq!(resident_pages(&src), bytes.len().div_ceil(4096));
    assert!(fs::read(&dst).expect("read") == bytes);
    // A chunk size of the caller's is for the methods it names: no Direct I/O.
    evict(&src);
    let st = Options::new()
        .chunk_size(1 << 20)
        .copy_file(&src, &dst)
        .expect("chunk");
    assert_eq!(st.method, Method::CopyFileRange);
    // Nor on tmpfs, whose files are the page cache.
    if let Some(t) = shm_dir() {
        let (ts, td) = (t.path().join("src"), t.path().join("dst"));
        write_file(&ts, &bytes);
        assert_eq!(
            zcio::copy_file(&ts, &td).expect("tmpfs").method,
            Method::CopyFileRange
        );
    }
    // Below the size where it pays, cold or not: the kernel's copy.
    let small = d.path().join("small");
    write_file(&small, &bytes[..16 << 20]);
    evict(&small);
    assert_eq!(
        zcio::copy_file(&small, &dst).expect("small").method,
        Method::CopyFileRange
    );
}

/// Sectors read from the block device that holds `p` so far (/sys/dev/block).
fn sectors_read(p: &Path) -> u64 {
    let dev = fs::metadata(p).expect("stat").dev();
    let stat = format!(
        "/sys/dev/block/{}:{}/stat",
        libc::major(dev),
        libc::minor(dev)
    );
    let text = fs::read_to_string(&stat).expect("block stat");
    text.split_whitespace()
        .nth(2)
        .and_then(|f| f.parse().ok())
        .expect("sectors read")
}

/// A large source mostly in the page cache is read from there, not from the disk,
/// while the destination is written with O_DIRECT; a cold one is read with
/// O_DIRECT. Seen on the loop device of an ext4 image, which nothing else reads.
#[test]
fn chain_reads_a_cached_source_from_the_cache() {
    let Some(m) = Mount::image("ext4", 256, &["mkfs.ext4", "-q", "-F"]) else {
        return;
    };
    let src = m.path().join("src");
    let bytes = data((40 << 20) + 4097, 23);
    write_file(&src, &bytes);
    nix::unistd::sync();
    assert!(fs::read(&src).expect("read") == bytes);
    let before = sectors_read(&src);
    let st = zcio::copy_file(&src, m.path().join("warm")).expect("warm");
    let warm = (sectors_read(&src) - before) * 512;
    assert_eq!(st.method, Method::Direct, "{st:?}");
    assert!(
        warm < 1 << 20,
        "a cached source read {warm} bytes from the disk"
    );
    assert!(fs::read(m.path().join("warm")).expect("read") == bytes);
    evict(&src);
    let before = sectors_read(&src);
    let st = zcio::copy_file(&src, m.path().join("cold")).expect("cold");
    let cold = (sectors_read(&src) - before) * 512;
    assert_eq!(st.method, Method::Direct, "{st:?}");
    assert!(
        cold >= bytes.len() as u64,
        "a cold source read {cold} bytes"
    );
    assert!(fs::read(m.path().join("cold")).expect("read") == bytes);
    report(
        "chain_reads_a_cached_source_from_the_cache",
        "ext4",
        "40 MiB, cached then evicted",
        &format!("disk reads: {warm} B warm, {cold} B cold"),
    );
}

#[test]
fn chain_on_xfs_reflinks_and_no_reflink_copies() {
    let Some(m) = Mount::image("xfs", 512, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"]) else {
        return;
    };
    let mp = m.path();
    let src = mp.join("src");
    let bytes = data(48 << 20, 2);
    write_file(&src, &bytes);
    nix::unistd::sync();
    let before = used_bytes(&mp);
    let st = zcio::copy_file(&src, mp.join("clone")).expect("copy");
    nix::unistd::sync();
    assert_eq!(st.method, Method::Reflink);
    assert_eq!(st.fallbacks().next(), None);
    let grew = used_bytes(&mp) - before;
    assert!(grew < 1 << 20, "a reflink used {grew} bytes");
    assert!(fs::read(mp.join("clone")).expect("read") == bytes);

    // Never share blocks: copy_file_range is skipped too, the data really copied
    // (this large file with Direct I/O; a small one below with sendfile).
    let before = used_bytes(&mp);
    let st = Options::new()
        .reflink(false)
        .copy_file(&src, mp.join("copy"))
        .expect("copy");
    nix::unistd::sync();
    assert_eq!(st.method, Method::Direct);
    assert_eq!(st.fallbacks().next(), None);
    let grew = used_bytes(&mp) - before;
    assert!(
        grew >= bytes.len() as u64,
        "a real copy used only {grew} bytes"
    );
    assert!(fs::read(mp.join("copy")).expect("read") == bytes);
    let small = &bytes[..1 << 20];
    write_file(&mp.join("small"), small);
    let st = Options::new()
        .reflink(false)
        .copy_file(mp.join("small"), mp.join("small-copy"))
        .expect("small copy");
    assert_eq!(st.method, Method::Sendfile);
    assert_eq!(st.fallbacks().next(), None);
    assert!(fs::read(mp.join("small-copy")).expect("read") == small);
}

#[test]
fn chain_across_file_systems_and_from_proc() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(3 << 20, 3);
    write_file(&src, &bytes);
    if let Some(shm) = shm_dir() {
        let st = zcio::copy_file(&src, shm.path().join("dst")).expect("copy");
        assert_eq!(st.method, Method::Sendfile);
        assert_eq!(
            st.fallbacks().map(|(m, _)| m).collect::<Vec<_>>(),
            [Method::Reflink, Method::CopyFileRange]
        );
        assert_eq!(st.gave_up(Method::CopyFileRange), Some(libc::EXDEV));
        assert!(fs::read(shm.path().join("dst")).expect("read") == bytes);
    }
    let st = zcio::copy_file("/proc/self/status", d.path().join("status")).expect("proc");
    assert!(st.bytes > 100);
    let got = fs::read_to_string(d.path().join("status")).expect("read");
    assert!(got.starts_with("Name:"), "{got}");
    assert_eq!(got.len() as u64, st.bytes);
}

#[test]
fn fifo_fed_by_another_process() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(3 << 20 | 77, 4);
    write_file(&src, &bytes);
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let mut child = std::process::Command::new("cp")
        .arg(&src)
        .arg(&fifo)
        .spawn()
        .expect("cp");
    let r = zcio::copy_file(&fifo, d.path().join("dst"));
    assert!(child.wait().expect("wait").success());
    let st = r.expect("copy");
    assert_eq!(st.method, Method::Splice);
    assert!(fs::read(d.path().join("dst")).expect("read") == bytes);
    assert_eq!(
        fs::metadata(d.path().join("dst")).expect("meta").mode() & 0o777,
        0o600
    );
    // A character device streams too.
    zcio::copy_file("/dev/null", d.path().join("empty")).expect("char device");
    assert_eq!(fs::metadata(d.path().join("empty")).expect("meta").len(), 0);
}

/// A 1 GiB file with three 1 MiB islands of data.
fn make_sparse(p: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(p)
        .expect("create");
    f.set_len(1 << 30).expect("len");
    let mut islands = Vec::new();
    for (i, at) in [0u64, 400 << 20, (1 << 30) - (3 << 20)]
        .into_iter()
        .enumerate()
    {
        let b = data(1 << 20, 10 + i as u64);
        nix::sys::uio::pwrite(&f, &b, at as i64).expect("pwrite");
        islands.push((at, b));
    }
    f.sync_all().expect("sync");
    islands
}

fn check_islands(p: &Path, islands: &[(u64, Vec<u8>)]) {
    let f = File::open(p).expect("open");
    assert_eq!(f.metadata().expect("meta").len(), 1 << 30);
    for (at, b) in islands {
        let mut got = vec![0u8; b.len()];
        nix::sys::uio::pread(&f, &mut got, *at as i64).expect("pread");
        assert!(&got == b, "island at {at}");
    }
    // And zeros between them.
    let mut z = vec![1u8; 4096];
    nix::sys::uio::pread(&f, &mut z, 200 << 20).expect("pread");
    assert!(z.iter().all(|&b| b == 0));
}

#[test]
fn sparse_files_stay_sparse() {
    let d = disk_dir();
    let src = d.path().join("sparse");
    let islands = make_sparse(&src);
    let src_blocks = fs::metadata(&src).expect("meta").blocks();
    for m in [
        Method::Auto,
        Method::ReadWrite,
        Method::Sendfile,
        Method::Splice,
    ] {
        let dst = d.path().join(format!("copy-{m}"));
        let t = Instant::now();
        let st = Options::new()
            .method(m)
            .copy_file(&src, &dst)
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "{m}: a 1 GiB sparse copy took {took:?}"
        );
        assert_eq!(st.bytes, 3 << 20, "{m}: only the data moved");
        let blocks = fs::metadata(&dst).expect("meta").blocks();
        // 512-byte units: the source's allocation plus a 4 KiB block per extent.
        assert!(
            blocks <= src_blocks + 3 * 8,
            "{m}: {blocks} blocks against {src_blocks}"
        );
        check_islands(&dst, &islands);
        fs::remove_file(&dst).expect("rm");
    }
}

#[test]
fn no_sparse_fills_the_holes() {
    let d = disk_dir();
    let src = d.path().join("sparse");
    let f = File::create(&src).expect("create");
    f.set_len(64 << 20).expect("len");
    nix::sys::uio::pwrite(&f, b"start", 0).expect("pwrite");
    nix::sys::uio::pwrite(&f, b"end", (64 << 20) - 3).expect("pwrite");
    f.sync_all().expect("sync");
    let st = Options::new()
        .sparse(false)
        .copy_file(&src, d.path().join("full"))
        .expect("copy");
    assert_eq!(st.bytes, 64 << 20);
    let blocks = fs::metadata(d.path().join("full")).expect("meta").blocks();
    assert!(
        blocks * 512 >= 64 << 20,
        "holes were not filled: {blocks} blocks"
    );
    assert!(fs::read(d.path().join("full")).expect("read") == fs::read(&src).expect("read"));
}

#[test]
fn same_file_and_bad_paths() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(100_000, 5);
    write_file(&src, &bytes);
    fs::hard_link(&src, p.join("hard")).expect("link");
    std::os::unix::fs::symlink("src", p.join("sym")).expect("symlink");
    for m in [
        Method::Auto,
        Method::Reflink,
        Method::ReadWrite,
        Method::Direct,
        Method::Splice,
    ] {
        let o = Options::new().method(m);
        for dst in ["src", "hard", "sym"] {
            assert_eq!(
                errno(o.copy_file(&src, p.join(dst))),
                libc::EINVAL,
                "{m} {dst}"
            );
            assert!(fs::read(&src).expect("read") == bytes);
        }
    }
    assert_eq!(
        errno(zcio::copy_file(&src, p.join("missing/dst"))),
        libc::ENOENT
    );
    fs::create_dir(p.join("dir")).expect("mkdir");
    assert_eq!(errno(zcio::copy_file(&src, p.join("dir"))), libc::EISDIR);
    assert_eq!(
        errno(zcio::copy_file(p.join("dir"), p.join("x"))),
        libc::EISDIR
    );
    assert!(!p.join("x").exists());
    assert_eq!(
        extra_entries(p, &["src", "hard", "sym", "dir"]),
        Vec::<String>::new()
    );
}

#[test]
fn read_only_destination_directory() {
    if !is_root() {
        eprintln!("skip: needs root to act as another user");
        return;
    }
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, b"payload");
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::set_permissions(&src, fs::Permissions::from_mode(0o644)).expect("chmod");
    let ro = d.path().join("ro");
    fs::create_dir(&ro).expect("mkdir");
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).expect("chmod");
    // This thread only checks permissions as nobody (and loses CAP_DAC_OVERRIDE).
    // SAFETY: setfsuid/setfsgid change this thread's file-system ids only.
    unsafe {
        libc::setfsgid(65534);
        libc::setfsuid(65534);
    }
    let r = zcio::copy_file(&src, ro.join("x"));
    // SAFETY: as above, back to root.
    unsafe {
        libc::setfsuid(0);
        libc::setfsgid(0);
    }
    assert_eq!(errno(r), libc::EACCES);
    assert_eq!(fs::read_dir(&ro).expect("read_dir").count(), 0);
}

#[test]
fn full_file_system_and_cancel_keep_the_old_destination() {
    let Some(m) = Mount::new("tmpfs", "tmpfs", "size=4m") else {
        return;
    };
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(8 << 20, 6);
    write_file(&src, &bytes);
    let dst = m.path().join("dst");
    let old = data(12345, 7);
    write_file(&dst, &old);
    for meth in [
        Method::Auto,
        Method::ReadWrite,
        Method::Splice,
        Method::Mmap,
        Method::Direct,
    ] {
        let (r, st) = outcome(Options::new().method(meth).copy_file(&src, &dst));
        assert_eq!(errno(r), libc::ENOSPC, "{meth}");
        assert!(
            st.failed_step == zcio::Step::Write || st.failed_step == zcio::Step::Size,
            "{meth}"
        );
        assert!(fs::read(&dst).expect("read") == old, "{meth}");
        assert_eq!(
            extra_entries(&m.path(), &["dst"]),
            Vec::<String>::new(),
            "{meth}"
        );
    }
    // Cancelled at half way: ECANCELED, same checks.
    let small = d.path().join("small");
    let sb = data(3 << 20, 8);
    write_file(&small, &sb);
    for (name, o) in [
        ("auto", Options::new()),
        ("read_write", Options::new().method(Method::ReadWrite)),
        ("sendfile", Options::new().method(Method::Sendfile)),
        ("uncached", Options::new().uncached(true)),
    ] {
        let (r, st) = outcome(o.progress(&stop_at_half).copy_file(&small, &dst));
        assert_eq!(errno(r), libc::ECANCELED, "{name}");
        assert_eq!(st.failed_step, zcio::Step::Cancel, "{name}");
        assert!(fs::read(&dst).expect("read") == old, "{name}");
        assert_eq!(
            extra_entries(&m.path(), &["dst"]),
            Vec::<String>::new(),
            "{name}"
        );
    }
    report(
        "copy_file",
        "tmpfs, ext2",
        "full_file_system_and_cancel_keep_the_old_destination",
        "ENOSPC with every method and cancellation at 50%: the old destination intact, no temporary file",
    );
}

#[test]
fn mode_times_and_xattrs() {
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(10_000, 9));
    fs::set_permissions(&src, fs::Permissions::from_mode(0o640)).expect("chmod");
    let when = nix::sys::time::TimeSpec::new(1_000_000_000, 123_456_789);
    let src_f = File::open(&src).expect("open");
    nix::sys::stat::futimens(&src_f, &when, &when).expect("utimens");
    let set = xattr_set(&src, "user.zcio", b"kept");

    let st = zcio::copy_file(&src, d.path().join("plain")).expect("copy");
    let meta = fs::metadata(d.path().join("plain")).expect("meta");
    assert_eq!(meta.mode() & 0o777, 0o640 & !umask());
    assert_ne!(
        meta.mtime(),
        1_000_000_000,
        "times are kept only when asked"
    );
    assert_eq!(st.xattrs_copied, 0);

    // Reading the source for the first copy moved its access time (relatime).
    let before = fs::metadata(&src).expect("meta");
    let st = Options::new()
        .preserve_times(true)
        .preserve_xattrs(true)
        .copy_file(&src, d.path().join("kept"))
        .expect("copy");
    let meta = fs::metadata(d.path().join("kept")).expect("meta");
    assert_eq!(
        (meta.mtime(), meta.mtime_nsec()),
        (1_000_000_000, 123_456_789)
    );
    assert_eq!(
        (meta.atime(), meta.atime_nsec()),
        (before.atime(), before.atime_nsec())
    );
    if set {
        assert_eq!(
            xattr_get(&d.path().join("kept"), "user.zcio").as_deref(),
            Some(&b"kept"[..])
        );
        assert!(st.xattrs_copied >= 1);
    }
    // The same through the Direct I/O path.
    Options::new()
        .method(Method::Direct)
        .preserve_times(true)
        .copy_file(&src, d.path().join("direct"))
        .expect("copy");
    let meta = fs::metadata(d.path().join("direct")).expect("meta");
    assert_eq!(meta.mtime(), 1_000_000_000);
    assert_eq!(meta.mode() & 0o777, 0o640 & !umask());

    // DEFAULT_MODE (cp --no-preserve=mode): a new file gets 0666 minus the umask,
    // by either path; a replaced one keeps its own mode; PRESERVE_MODE wins.
    for method in [Method::Auto, Method::Direct] {
        let o = Options::new().method(method).default_mode(true);
        let new = d.path().join(format!("default-{method:?}"));
        o.copy_file(&src, &new).expect("copy");
        let mode = fs::metadata(&new).expect("meta").mode() & 0o7777;
        assert_eq!(mode, 0o666 & !umask(), "{method:?}");
        fs::set_permissions(&new, fs::Permissions::from_mode(0o600)).expect("chmod");
        o.copy_file(&src, &new).expect("copy");
        let mode = fs::metadata(&new).expect("meta").mode() & 0o7777;
        assert_eq!(mode, 0o600, "{method:?}: replaced");
    }
    let exact = d.path().join("default-and-exact");
    Options::new()
        .default_mode(true)
        .preserve_mode(true)
        .copy_file(&src, &exact)
        .expect("copy");
    assert_eq!(fs::metadata(&exact).expect("meta").mode() & 0o7777, 0o640);
}

fn cpath(p: &Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path")
}

fn xattr_set(p: &Path, name: &str, v: &[u8]) -> bool {
    let n = std::ffi::CString::new(name).expect("name");
    // SAFETY: valid C strings and buffer.
    unsafe { libc::setxattr(cpath(p).as_ptr(), n.as_ptr(), v.as_ptr().cast(), v.len(), 0) == 0 }
}

fn xattr_get(p: &Path, name: &str) -> Option<Vec<u8>> {
    let n = std::ffi::CString::new(name).expect("name");
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and buffer.
    let r = unsafe {
        libc::getxattr(
            cpath(p).as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (r >= 0).then(|| {
        buf.truncate(r as usize);
        buf
    })
}

#[test]
fn progress_every_64_mib_and_once_at_the_end() {
    let d = disk_dir();
    let src = d.path().join("src");
    let size = 200usize << 20;
    write_file(&src, &data(size, 11));
    for m in [Method::Auto, Method::ReadWrite, Method::Splice] {
        let seen = RefCell::new(Vec::<(Progress, Instant)>::new());
        let cb = |p: Progress| {
            seen.borrow_mut().push((p, Instant::now()));
            ControlFlow::Continue(())
        };
        let start = Instant::now();
        Options::new()
            .method(m)
            .progress(&cb)
            .copy_file(&src, d.path().join(format!("dst-{m}")))
            .expect("copy");
        let seen = seen.into_inner();
        let (last, _) = seen.last().expect("called");
        let size = size as u64;
        assert_eq!(*last, Progress::new(size, Some(size)), "{m}");
        let mut prev = (0u64, start);
        let mut worst = Duration::ZERO;
        for &(Progress { done, .. }, at) in &seen {
            assert!(done >= prev.0, "{m}: went backwards");
            assert!(
                done - prev.0 <= 64 << 20,
                "{m}: {} bytes between reports",
                done - prev.0
            );
            worst = worst.max(at - prev.1);
            prev = (done, at);
        }
        eprintln!("{m}: {} reports, longest gap {worst:?}", seen.len());
        assert!(
            worst < Duration::from_millis(500),
            "{m}: {worst:?} between reports"
        );
    }
    let calls = Cell::new(0);
    let cb = |_: Progress| {
        calls.set(calls.get() + 1);
        ControlFlow::Continue(())
    };
    write_file(&d.path().join("tiny"), b"x");
    Options::new()
        .progress(&cb)
        .copy_file(d.path().join("tiny"), d.path().join("tiny2"))
        .expect("copy");
    assert!(calls.get() >= 1);
}

#[test]
fn special_destinations_are_written_as_they_are() {
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(1 << 20, 12));
    zcio::copy_file(&src, "/dev/null").expect("to /dev/null");
    assert!(Path::new("/dev/null").exists());
    let null = File::open("/dev/null").expect("null");
    assert!(null.as_fd().try_clone_to_owned().is_ok());
    // But not with EXCL, and not for directio_copy.
    assert_eq!(
        errno(Options::new().exclusive(true).copy_file(&src, "/dev/null")),
        libc::EEXIST
    );
}

#[test]
fn nofollow_refuses_a_symlink_destination() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    write_file(&src, b"new");
    write_file(&p.join("target"), b"old");
    std::os::unix::fs::symlink("target", p.join("link")).expect("symlink");
    for m in [Method::Auto, Method::Direct, Method::ReadWrite] {
        let o = Options::new().method(m).nofollow(true);
        assert_eq!(errno(o.copy_file(&src, p.join("link"))), libc::ELOOP, "{m}");
        assert_eq!(fs::read(p.join("target")).expect("read"), b"old");
        assert!(
            fs::symlink_metadata(p.join("link"))
                .expect("meta")
                .file_type()
                .is_symlink()
        );
    }
    // A plain destination is not affected by the flag.
    Options::new()
        .nofollow(true)
        .copy_file(&src, p.join("plain"))
        .expect("copy");
    assert_eq!(fs::read(p.join("plain")).expect("read"), b"new");
}

// ---- Moved from the C suite (test_zerocopy.c, test_hardening.c).

/// A path copy with default options.
type PathCopy = fn(&Path, &Path) -> zcio::Result<zcio::Stats>;

/// The three path copies, for checks that hold for each.
fn path_copies() -> [(&'static str, PathCopy); 3] {
    [
        ("directio_copy", |s, d| zcio::directio_copy(s, d)),
        ("copy_file", |s, d| zcio::copy_file(s, d)),
        ("splice_file", |s, d| zcio::splice_file(s, d)),
    ]
}

/// Bad paths for every path copy: each refused with its errno, an existing
/// destination byte for byte as it was, a new one not made, no temporary file.
/// Rows for RELIABILITY.md's bad-input table.
#[test]
fn bad_paths_for_every_path_copy() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(65539, 31337);
    write_file(&src, &bytes);
    let old = b"old destination contents\n".to_vec();
    let dst_old = p.join("dst-old");
    write_file(&dst_old, &old);
    let dst_new = p.join("dst-new");
    // Longer than PATH_MAX in total, and one name longer than NAME_MAX.
    let mut long = p.to_path_buf();
    while long.as_os_str().len() <= libc::PATH_MAX as usize + 16 {
        long.push("aaaaaaaaaaaaaaa");
    }
    let long_name = p.join("n".repeat(libc::NAME_MAX as usize + 1));
    let empty = Path::new("");
    let cases: [(&str, &Path, &Path, i32); 10] = [
        ("missing src", &p.join("missing"), &dst_new, libc::ENOENT),
        (
            "missing src, dst exists",
            &p.join("missing"),
            &dst_old,
            libc::ENOENT,
        ),
        ("src > PATH_MAX", &long, &dst_new, libc::ENAMETOOLONG),
        ("dst > PATH_MAX", &src, &long, libc::ENAMETOOLONG),
        (
            "src component > NAME_MAX",
            &long_name,
            &dst_old,
            libc::ENAMETOOLONG,
        ),
        (
            "dst component > NAME_MAX",
            &src,
            &long_name,
            libc::ENAMETOOLONG,
        ),
        ("src empty", empty, &dst_new, libc::ENOENT),
        ("src empty, dst exists", empty, &dst_old, libc::ENOENT),
        ("dst empty", &src, empty, libc::ENOENT),
        (
            "dst in a missing directory",
            &src,
            &p.join("no/such/dir"),
            libc::ENOENT,
        ),
    ];
    for (name, copy) in path_copies() {
        for (input, s, t, want) in &cases {
            let got = errno(copy(s, t));
            let intact = fs::read(&dst_old).expect("read") == old
                && !dst_new.exists()
                && extra_entries(p, &["src", "dst-old"]).is_empty();
            let ok = got == *want && intact;
            report_row(
                "bad",
                &[
                    input,
                    &format!("zcio::{name} (Rust)"),
                    &format!("errno {got}"),
                    if ok { "1" } else { "0" },
                ],
            );
            assert_eq!(got, *want, "{name}: {input}");
            assert!(intact, "{name}: {input} changed the destination");
        }
    }
    assert!(fs::read(&src).expect("read") == bytes);
}

/// Each forced method on ext4 and tmpfs: exact, `bytes`, no failed step, the
/// method itself (or, where the kernel cannot do it here, read/write with that
/// method given up), a new destination with the source's mode minus the umask.
/// Reflink, which neither can do: EOPNOTSUPP, nothing made, an existing
/// destination as it was.
#[test]
fn each_method_on_disk_and_tmpfs() {
    for d in disk_and_shm() {
        let p = d.path();
        let on_disk = fs_name(p) == "ext4";
        let src = p.join("src");
        let bytes = data(3 * 1024 * 1024 + 123, 2024);
        write_file(&src, &bytes);
        fs::set_permissions(&src, fs::Permissions::from_mode(0o640)).expect("chmod");
        for m in [
            Method::Sendfile,
            Method::Splice,
            Method::CopyFileRange,
            Method::Mmap,
            Method::ReadWrite,
            Method::Direct,
        ] {
            let dst = p.join("dst");
            let st = Options::new()
                .method(m)
                .copy_file(&src, &dst)
                .unwrap_or_else(|e| panic!("{m}: {e}"));
            assert!(fs::read(&dst).expect("read") == bytes, "{m}");
            assert_eq!(st.bytes as usize, bytes.len(), "{m}");
            assert_eq!(st.failed_step, zcio::Step::None, "{m}");
            if on_disk {
                assert_eq!(st.method, m, "{m} on ext4");
            } else {
                assert!(
                    st.method == m || (st.method == Method::ReadWrite && st.gave_up(m).is_some()),
                    "{m}: moved by {} ({:?})",
                    st.method,
                    st.fallbacks().collect::<Vec<_>>()
                );
            }
            assert_eq!(
                fs::metadata(&dst).expect("meta").mode() & 0o7777,
                0o640 & !umask(),
                "{m}"
            );
            fs::remove_file(&dst).expect("rm");
        }
        let o = Options::new().method(Method::Reflink);
        assert_eq!(errno(o.copy_file(&src, p.join("dst"))), libc::EOPNOTSUPP);
        assert!(!p.join("dst").exists());
        let old = data(999, 9);
        write_file(&p.join("dst"), &old);
        assert_eq!(errno(o.copy_file(&src, p.join("dst"))), libc::EOPNOTSUPP);
        assert!(fs::read(p.join("dst")).expect("read") == old);
        assert_eq!(extra_entries(p, &["src", "dst"]), Vec::<String>::new());
    }
}

/// splice_file: by default splice (or read/write with splice given up), `bytes`
/// right; method Splice is its own; any other method is EINVAL with nothing made.
#[test]
fn splice_file_methods() {
    for d in disk_and_shm() {
        let p = d.path();
        let src = p.join("src");
        let bytes = data(3 * 1024 * 1024 + 123, 3);
        write_file(&src, &bytes);
        let st = zcio::splice_file(&src, p.join("a")).expect("splice_file");
        assert!(
            st.method == Method::Splice
                || (st.method == Method::ReadWrite && st.gave_up(Method::Splice).is_some()),
            "{}",
            st.method
        );
        assert_eq!(st.bytes as usize, bytes.len());
        assert!(fs::read(p.join("a")).expect("read") == bytes);
        Options::new()
            .method(Method::Splice)
            .splice_file(&src, p.join("b"))
            .expect("method splice");
        assert!(fs::read(p.join("b")).expect("read") == bytes);
        for m in [Method::Sendfile, Method::ReadWrite, Method::Direct] {
            let o = Options::new().method(m);
            assert_eq!(errno(o.splice_file(&src, p.join("c"))), libc::EINVAL, "{m}");
            assert!(!p.join("c").exists(), "{m}");
        }
        // NOFOLLOW is a flag splice_file knows: a plain destination is copied.
        Options::new()
            .nofollow(true)
            .splice_file(&src, p.join("d"))
            .expect("nofollow");
        assert!(fs::read(p.join("d")).expect("read") == bytes);
        assert_eq!(
            extra_entries(p, &["src", "a", "b", "d"]),
            Vec::<String>::new()
        );
    }
}

/// Onto itself with every method and through splice_file: EINVAL, untouched.
#[test]
fn onto_itself_with_every_method() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(100_000, 5);
    write_file(&src, &bytes);
    std::os::unix::fs::symlink("src", p.join("sym")).expect("symlink");
    for m in Method::ALL {
        for dst in ["src", "sym"] {
            let o = Options::new().method(m);
            assert_eq!(
                errno(o.copy_file(&src, p.join(dst))),
                libc::EINVAL,
                "{m} {dst}"
            );
            assert!(fs::read(&src).expect("read") == bytes, "{m} {dst}");
        }
    }
    for dst in ["src", "sym"] {
        assert_eq!(errno(zcio::splice_file(&src, p.join(dst))), libc::EINVAL);
        assert!(fs::read(&src).expect("read") == bytes);
    }
    assert_eq!(extra_entries(p, &["src", "sym"]), Vec::<String>::new());
}

/// Paths are bytes: names that are not UTF-8 are copied like any other.
#[test]
fn non_utf8_paths() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let d = disk_dir();
    let p = d.path();
    let src = p.join(OsStr::from_bytes(b"src-\xff\xfe"));
    let bytes = data(65539, 31337);
    write_file(&src, &bytes);
    let a = p.join(OsStr::from_bytes(b"dst-\xff\xfe\x80"));
    let b = p.join(OsStr::from_bytes(b"dio-\xfe\xff"));
    zcio::copy_file(&src, &a).expect("copy_file");
    zcio::directio_copy(&src, &b).expect("directio_copy");
    assert!(fs::read(&a).expect("read") == bytes);
    assert!(fs::read(&b).expect("read") == bytes);
}

/// Extents of `p` that FIEMAP says are shared with another file.
fn shared_extents(p: &Path) -> usize {
    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
    const FIEMAP_FLAG_SYNC: u32 = 1;
    const FIEMAP_EXTENT_SHARED: u32 = 0x2000;
    const EXTENTS: usize = 512;
    // struct fiemap (32 bytes) then struct fiemap_extent (56 bytes) each.
    let mut buf = vec![0u64; (32 + 56 * EXTENTS) / 8];
    let f = File::open(p).expect("open");
    let mut shared = 0;
    let mut start = 0u64;
    loop {
        buf.iter_mut().for_each(|w| *w = 0);
        buf[0] = start;
        buf[1] = u64::MAX;
        // fm_flags, then fm_extent_count at byte 24.
        buf[2] = u64::from(FIEMAP_FLAG_SYNC);
        buf[3] = EXTENTS as u64;
        // SAFETY: FS_IOC_FIEMAP fills at most fm_extent_count extents into `buf`.
        let r = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&f),
                FS_IOC_FIEMAP,
                buf.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0, "FIEMAP: {}", std::io::Error::last_os_error());
        let mapped = (buf[2] >> 32) as usize;
        if mapped == 0 {
            return shared;
        }
        let mut last = false;
        for i in 0..mapped {
            let e = &buf[4 + i * 7..4 + (i + 1) * 7];
            let flags = e[5] as u32;
            if flags & FIEMAP_EXTENT_SHARED != 0 {
                shared += 1;
            }
            last |= flags & 1 != 0; // FIEMAP_EXTENT_LAST
            start = e[0] + e[2];
        }
        if last {
            return shared;
        }
    }
}

#[test]
fn no_reflink_is_never_ignored_by_a_forced_method() {
    // "Never share blocks" and a forced method that may share them contradict each
    // other: EINVAL, the destination untouched. Every other method really copies on
    // XFS, where copy_file_range would share the blocks.
    let Some(m) = Mount::image("xfs", 300, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"]) else {
        return;
    };
    let mp = m.path();
    let src = mp.join("src");
    let bytes = data(8 << 20, 31);
    write_file(&src, &bytes);
    // Shown to share blocks without the flag, so that the check below can fail.
    let st = Options::new()
        .method(Method::CopyFileRange)
        .copy_file(&src, mp.join("shared"))
        .expect("copy_file_range");
    assert_eq!(st.method, Method::CopyFileRange);
    assert!(shared_extents(&mp.join("shared")) > 0, "XFS did not share");
    let dst = mp.join("dst");
    write_file(&dst, b"old");
    for forced in [Method::Reflink, Method::CopyFileRange] {
        let o = Options::new().method(forced).reflink(false);
        let (r, st) = outcome(o.copy_file(&src, &dst));
        assert_eq!(
            r.map_err(|e| e.raw_os_error()),
            Err(libc::EINVAL),
            "{forced}"
        );
        assert_eq!(st.bytes, 0);
        assert_eq!(fs::read(&dst).expect("read"), b"old", "{forced}");
    }
    for meth in [
        Method::Auto,
        Method::Sendfile,
        Method::Splice,
        Method::Mmap,
        Method::ReadWrite,
        Method::Direct,
    ] {
        let _ = fs::remove_file(&dst);
        let st = Options::new()
            .method(meth)
            .reflink(false)
            .copy_file(&src, &dst)
            .unwrap_or_else(|e| panic!("{meth}: {e}"));
        assert_ne!(st.method, Method::Reflink);
        assert_ne!(st.method, Method::CopyFileRange);
        assert!(fs::read(&dst).expect("read") == bytes, "{meth}");
        assert_eq!(
            shared_extents(&dst),
            0,
            "{meth} shares blocks with the source"
        );
    }
    report(
        "no_reflink_is_never_ignored_by_a_forced_method",
        "xfs (reflink=1)",
        "NO_REFLINK with each method",
        "REFLINK and COPY_FILE_RANGE: EINVAL; the others share no extent",
    );
}

#[test]
fn root_copy_of_another_users_file_is_roots_unless_preserve_owner() {
    // cp gives a copy to the caller; only PRESERVE_OWNER (cp -p) gives it the
    // source's owner. Without that, the user could rewrite root's copy.
    if !is_root() {
        eprintln!("skip: copying as root needs root");
        return;
    }
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(3 << 20, 32));
    fs::set_permissions(&src, fs::Permissions::from_mode(0o644)).expect("chmod");
    std::os::unix::fs::chown(&src, Some(65534), Some(65534)).expect("chown");
    let owner = |p: &Path| {
        let m = fs::metadata(p).expect("meta");
        (m.uid(), m.gid())
    };
    type Copy = fn(&Path, &Path, bool) -> i32;
    let ways: [(&str, Copy); 5] = [
        ("copy_file", |s, d, keep| {
            errno(Options::new().preserve_owner(keep).copy_file(s, d))
        }),
        ("directio_copy", |s, d, keep| {
            errno(Options::new().preserve_owner(keep).directio_copy(s, d))
        }),
        ("C zc_copy_file", |s, d, keep| {
            let (s, d) = (cpath(s), cpath(d));
            // SAFETY: zc_options_init fills the struct; the paths are C strings.
            unsafe {
                let mut o = std::mem::zeroed::<zcio::capi::types::zc_options>();
                zcio::capi::copy::zc_options_init(&mut o);
                if keep {
                    o.flags = zcio::capi::types::ZC_F_PRESERVE_OWNER;
                }
                -zcio::capi::copy::zc_copy_file(s.as_ptr(), d.as_ptr(), &o, std::ptr::null_mut())
            }
        }),
        ("C directio_copy", |s, d, keep| {
            let (s, d) = (cpath(s), cpath(d));
            // SAFETY: as above.
            unsafe {
                let mut o = std::mem::zeroed::<zcio::capi::types::zc_options>();
                zcio::capi::copy::zc_options_init(&mut o);
                if keep {
                    o.flags = zcio::capi::types::ZC_F_PRESERVE_OWNER;
                }
                -zcio::capi::copy::directio_copy(s.as_ptr(), d.as_ptr(), &o, std::ptr::null_mut())
            }
        }),
        ("C directIO_copy", |s, d, _| {
            let (s, d) = (cpath(s), cpath(d));
            // SAFETY: two C strings.
            i32::from(!unsafe { zcio::capi::copy::directIO_copy(s.as_ptr(), d.as_ptr()) })
        }),
    ];
    for (name, copy) in ways {
        let dst = d.path().join("dst");
        let _ = fs::remove_file(&dst);
        assert_eq!(copy(&src, &dst, false), 0, "{name}");
        assert_eq!(
            owner(&dst),
            (0, 0),
            "{name}: a new copy belongs to the caller"
        );
        if name != "C directIO_copy" {
            let _ = fs::remove_file(&dst);
            assert_eq!(copy(&src, &dst, true), 0, "{name}, PRESERVE_OWNER");
            assert_eq!(owner(&dst), (65534, 65534), "{name}: PRESERVE_OWNER");
        }
    }
    report(
        "root_copy_of_another_users_file_is_roots_unless_preserve_owner",
        "ext4",
        "root copies a 65534-owned file, by each path-based call",
        "root's without PRESERVE_OWNER, 65534's with it",
    );
}

#[test]
fn source_with_a_write_lease_waits_for_the_break() {
    // Another process holds a write lease on the source (Samba, NFS servers take
    // them). A reader's open waits for the lease to be broken; it must not fail
    // with EAGAIN. The holder lets go 300 ms after being told to.
    if !is_root() {
        eprintln!("skip: a lease on a file of another owner needs root");
        return;
    }
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(1 << 20, 33);
    write_file(&src, &bytes);
    let ready = d.path().join("ready");
    let holder = r#"
import fcntl, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
broken = []
signal.signal(signal.SIGIO, lambda *a: broken.append(1))
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
open(sys.argv[2], "w").close()
deadline = time.time() + 30
while not broken and time.time() < deadline:
    time.sleep(0.01)
time.sleep(0.3)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
"#;
    for m in [Method::Auto, Method::Direct] {
        let _ = fs::remove_file(&ready);
        let mut child = std::process::Command::new("python3")
            .args(["-c", holder])
            .arg(&src)
            .arg(&ready)
            .spawn()
            .expect("python3");
        let t = Instant::now();
        while !ready.exists() {
            assert!(t.elapsed() < Duration::from_secs(10), "no lease taken");
            std::thread::sleep(Duration::from_millis(10));
        }
        let start = Instant::now();
        let r = Options::new()
            .method(m)
            .copy_file(&src, d.path().join("dst"));
        let took = start.elapsed();
        let _ = child.wait();
        r.unwrap_or_else(|e| panic!("{m}: {e}"));
        assert!(
            took >= Duration::from_millis(250),
            "{m}: {took:?}: the lease did not hold"
        );
        assert!(fs::read(d.path().join("dst")).expect("read") == bytes);
        report(
            "source_with_a_write_lease_waits_for_the_break",
            "ext4",
            &format!("{m}, a write lease held by another process"),
            &format!(
                "waited {:.0} ms for the break, then copied",
                took.as_secs_f64() * 1e3
            ),
        );
    }
}

/// The raw bytes of `p`'s access ACL, if it has one.
fn acl_of(p: &Path) -> Option<Vec<u8>> {
    xattr_get(p, "system.posix_acl_access")
}

#[test]
fn replacing_a_destination_keeps_its_acl_and_user_xattrs() {
    // cp writing over a file keeps its ACL and extended attributes (it is the same
    // file); zcio's new file takes them over from the one it replaces.
    let have = std::process::Command::new("setfacl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("skip: setfacl (Debian's acl) is missing");
        return;
    }
    let dirs: Vec<tempfile::TempDir> = std::iter::once(disk_dir()).chain(shm_dir()).collect();
    for d in &dirs {
        let p = d.path();
        let src = p.join("src");
        write_file(&src, &data(3 << 20, 34));
        let setfacl = |args: &[&str], f: &Path| {
            let ok = std::process::Command::new("setfacl")
                .args(args)
                .arg(f)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "setfacl {args:?} {}", f.display());
        };
        for m in [Method::Auto, Method::Direct, Method::ReadWrite] {
            let dst = p.join("dst");
            write_file(&dst, b"old");
            setfacl(&["-m", "u:65534:rw,g:65534:r"], &dst);
            assert!(
                xattr_set(&dst, "user.origin", b"dst"),
                "user xattrs on {}",
                p.display()
            );
            let acl = acl_of(&dst).expect("an ACL");
            let mode = fs::metadata(&dst).expect("meta").mode();
            Options::new()
                .method(m)
                .copy_file(&src, &dst)
                .unwrap_or_else(|e| panic!("{m}: {e}"));
            assert_eq!(
                acl_of(&dst),
                Some(acl.clone()),
                "{m}: the ACL in {}",
                p.display()
            );
            assert_eq!(
                xattr_get(&dst, "user.origin").as_deref(),
                Some(&b"dst"[..]),
                "{m}"
            );
            assert_eq!(fs::metadata(&dst).expect("meta").mode(), mode, "{m}: mode");
            // Copying the source's attributes means the source's, not the old file's.
            assert!(xattr_set(&src, "user.origin", b"src"));
            Options::new()
                .method(m)
                .preserve_xattrs(true)
                .copy_file(&src, &dst)
                .unwrap_or_else(|e| panic!("{m}: {e}"));
            assert_eq!(
                xattr_get(&dst, "user.origin").as_deref(),
                Some(&b"src"[..]),
                "{m}"
            );
            // ACLs go with the mode, as in cp: the old file's stays with the xattrs
            // copied, and the source's (none) comes with the mode.
            assert_eq!(acl_of(&dst), Some(acl.clone()), "{m}: the old ACL stays");
            Options::new()
                .method(m)
                .preserve_mode(true)
                .copy_file(&src, &dst)
                .unwrap_or_else(|e| panic!("{m}: {e}"));
            assert_eq!(acl_of(&dst), None, "{m}: the source has no ACL");
            // SAFETY: a C string path and name.
            unsafe {
                libc::removexattr(cpath(&src).as_ptr(), c"user.origin".as_ptr());
            }
            let _ = fs::remove_file(&dst);
        }
        // A file without an ACL, replaced in a directory whose default ACL the new
        // file would inherit, stays without one: no wider than what it replaces.
        let sub = p.join("sub");
        fs::create_dir(&sub).expect("mkdir");
        setfacl(&["-d", "-m", "u:65534:rwx"], &sub);
        let dst = sub.join("dst");
        write_file(&dst, b"old");
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o600)).expect("chmod");
        let _ = std::process::Command::new("setfacl")
            .arg("-b")
            .arg(&dst)
            .status();
        assert_eq!(acl_of(&dst), None);
        zcio::copy_file(&src, &dst).expect("copy");
        assert_eq!(
            acl_of(&dst),
            None,
            "the directory's default ACL widened the copy"
        );
        assert_eq!(fs::metadata(&dst).expect("meta").mode() & 0o777, 0o600);
        report(
            "replacing_a_destination_keeps_its_acl_and_user_xattrs",
            &p.display().to_string(),
            "a destination with an ACL and user.* replaced by auto, direct, read_write",
            "ACL, xattrs and mode kept; the source's under PRESERVE_XATTRS",
        );
    }
}

#[test]
fn progress_totals_are_the_size_at_the_start() {
    // A sparse file's last report is done == total; a source that grows during
    // the copy keeps the total it had at the start; a FIFO has no total (0 in C).
    let d = disk_dir();
    let sparse = d.path().join("sparse");
    {
        let f = File::create(&sparse).expect("create");
        f.set_len(1 << 30).expect("size");
        nix::sys::uio::pwrite(&f, &data(128 << 10, 35), 300 << 20).expect("write");
    }
    let dst = d.path().join("dst");
    for m in [
        Method::Auto,
        Method::ReadWrite,
        Method::Sendfile,
        Method::Direct,
    ] {
        let seen = RefCell::new(Vec::new());
        let cb = |p: Progress| {
            seen.borrow_mut().push(p);
            ControlFlow::Continue(())
        };
        Options::new()
            .method(m)
            .reflink(false)
            .progress(&cb)
            .copy_file(&sparse, &dst)
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        let seen = seen.into_inner();
        assert!(
            seen.iter().all(|p| p.total == Some(1 << 30)),
            "{m}: {seen:?}"
        );
        assert_eq!(
            seen.last().map(|p| p.done),
            Some(1 << 30),
            "{m}: last report"
        );
        assert!(
            seen.windows(2).all(|w| w[0].done <= w[1].done),
            "{m}: {seen:?}"
        );
        assert!(
            fs::metadata(&dst).expect("meta").blocks() * 512 < 8 << 20,
            "{m}: holes filled"
        );
    }
    // A source that grows while it is copied: the callback itself appends to it.
    let grow = d.path().join("grow");
    write_file(&grow, &data(16 << 20, 36));
    for m in [Method::Auto, Method::ReadWrite, Method::Direct] {
        let seen = RefCell::new(Vec::new());
        let appender = OpenOptions::new().append(true).open(&grow).expect("open");
        let cb = |p: Progress| {
            if seen.borrow().is_empty() {
                (&appender).write_all(&data(8 << 20, 37)).expect("append");
            }
            seen.borrow_mut().push(p);
            ControlFlow::Continue(())
        };
        let before = fs::metadata(&grow).expect("meta").len();
        Options::new()
            .method(m)
            .chunk_size(if m == Method::Direct { 1 << 20 } else { 0 })
            .progress(&cb)
            .copy_file(&grow, &dst)
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        let seen = seen.into_inner();
        assert!(seen.len() > 1, "{m}: one report");
        assert!(
            seen.iter().all(|p| p.total == Some(before)),
            "{m}: {seen:?}"
        );
    }
    use std::io::Write;
    // A FIFO: no total, in Rust and in C.
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let feed = |n: usize| {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("open fifo");
            w.write_all(&data(n, 38)).expect("feed");
        })
    };
    let seen = RefCell::new(Vec::new());
    let cb = |p: Progress| {
        seen.borrow_mut().push(p);
        ControlFlow::Continue(())
    };
    let t = feed(3 << 20);
    Options::new()
        .progress(&cb)
        .copy_file(&fifo, &dst)
        .expect("fifo");
    t.join().expect("feeder");
    let seen = seen.into_inner();
    assert!(
        !seen.is_empty() && seen.iter().all(|p| p.total.is_none()),
        "{seen:?}"
    );
    assert_eq!(seen.last().map(|p| p.done), Some(3 << 20));
    unsafe extern "C" fn record(done: u64, total: u64, arg: *mut std::ffi::c_void) -> i32 {
        // SAFETY: `arg` is the Vec below, alive for the call.
        unsafe { (*arg.cast::<Vec<(u64, u64)>>()).push((done, total)) };
        0
    }
    let mut c_seen: Vec<(u64, u64)> = Vec::new();
    let t = feed(2 << 20);
    // SAFETY: initialised options, C strings, a callback and its argument that
    // outlive the call.
    let r = unsafe {
        let mut o = std::mem::zeroed::<zcio::capi::types::zc_options>();
        zcio::capi::copy::zc_options_init(&mut o);
        o.progress = Some(record);
        o.progress_arg = (&raw mut c_seen).cast();
        zcio::capi::copy::zc_copy_file(
            cpath(&fifo).as_ptr(),
            cpath(&dst).as_ptr(),
            &o,
            std::ptr::null_mut(),
        )
    };
    t.join().expect("feeder");
    assert_eq!(r, 0);
    assert!(
        !c_seen.is_empty() && c_seen.iter().all(|&(_, total)| total == 0),
        "{c_seen:?}"
    );
    assert_eq!(c_seen.last().map(|p| p.0), Some(2 << 20));
}

#[test]
fn fifo_and_device_destinations_are_written_as_they_are() {
    // An existing FIFO is opened for writing as cp does: the open waits for a
    // reader, the data streams to it, nothing is truncated, renamed or sized.
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(2 << 20, 39);
    write_file(&src, &bytes);
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let (tx, rx) = std::sync::mpsc::channel();
    let copier = {
        let (src, fifo) = (src.clone(), fifo.clone());
        std::thread::spawn(move || {
            let r = zcio::copy_file(&src, &fifo);
            tx.send(()).expect("send");
            r
        })
    };
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "the copy to a FIFO finished with no reader"
    );
    let mut got = Vec::new();
    File::open(&fifo)
        .expect("reader")
        .read_to_end(&mut got)
        .expect("read");
    copier.join().expect("join").expect("copy to the FIFO");
    assert!(got == bytes);
    assert!(
        fs::symlink_metadata(&fifo)
            .expect("meta")
            .file_type()
            .is_fifo()
    );
    // A character device is written in place: /dev/null takes it all.
    zcio::copy_file(&src, "/dev/null").expect("to /dev/null");
    assert!(
        fs::metadata("/dev/null")
            .expect("meta")
            .file_type()
            .is_char_device()
    );
    // Direct I/O takes regular files only.
    assert_eq!(errno(zcio::directio_copy(&src, "/dev/null")), libc::EINVAL);
}

#[test]
fn bind_mounted_destination_is_ebusy_unless_in_place() {
    // A file with another file bind-mounted on it cannot be replaced (rename over
    // a mount point: EBUSY) and is left as it was; ZC_F_IN_PLACE writes into it.
    if !is_root() {
        eprintln!("skip: a bind mount needs root");
        return;
    }
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, b"new contents");
    let backing = d.path().join("backing");
    write_file(&backing, b"old");
    let dst = d.path().join("dst");
    write_file(&dst, b"under the mount");
    let ok = std::process::Command::new("mount")
        .args(["--bind"])
        .arg(&backing)
        .arg(&dst)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skip: mount --bind failed");
        return;
    }
    let r = std::panic::catch_unwind(|| {
        for m in [Method::Auto, Method::Direct] {
            let r = Options::new().method(m).copy_file(&src, &dst);
            assert_eq!(errno(r), libc::EBUSY, "{m}");
            assert_eq!(fs::read(&dst).expect("read"), b"old", "{m}");
            assert_eq!(
                extra_entries(d.path(), &["src", "backing", "dst"]),
                Vec::<String>::new()
            );
        }
        Options::new()
            .in_place(true)
            .copy_file(&src, &dst)
            .expect("in place");
        assert_eq!(fs::read(&backing).expect("read"), b"new contents");
    });
    let _ = std::process::Command::new("umount").arg(&dst).status();
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}
