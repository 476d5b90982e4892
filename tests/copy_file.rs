//! zc_copy_file's automatic chain, sparse files, sources of every kind, metadata,
//! progress, and failures that keep the old destination.

mod common;

use std::cell::{Cell, RefCell};
use std::fs::{self, File, OpenOptions};
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

    // Never share blocks: copy_file_range is skipped too, the data really copied.
    let before = used_bytes(&mp);
    let st = Options::new()
        .reflink(false)
        .copy_file(&src, mp.join("copy"))
        .expect("copy");
    nix::unistd::sync();
    assert_eq!(st.method, Method::Sendfile);
    assert_eq!(st.fallbacks().next(), None);
    let grew = used_bytes(&mp) - before;
    assert!(
        grew >= bytes.len() as u64,
        "a real copy used only {grew} bytes"
    );
    assert!(fs::read(mp.join("copy")).expect("read") == bytes);
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
    for meth in [Method::Auto, Method::ReadWrite, Method::Sendfile] {
        let o = Options::new().method(meth).progress(&stop_at_half);
        let (r, st) = outcome(o.copy_file(&small, &dst));
        assert_eq!(errno(r), libc::ECANCELED, "{meth}");
        assert_eq!(st.failed_step, zcio::Step::Cancel);
        assert!(fs::read(&dst).expect("read") == old);
        assert_eq!(extra_entries(&m.path(), &["dst"]), Vec::<String>::new());
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
