//! The Direct I/O copy through the Rust API, on ext4 (the work disk), tmpfs and ramfs.

mod common;

use std::cell::Cell;
use std::fs;
use std::ops::ControlFlow;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use zcio::{Advice, Engine, Flags, Method, Options, Progress, directio_copy};

const CHUNK: usize = 1 << 20;

fn sizes() -> Vec<usize> {
    vec![
        0,
        1,
        511,
        512,
        513,
        4095,
        4096,
        4097,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        3 * CHUNK + 777,
    ]
}

fn check_sizes_in(dir: &Path) {
    check_sizes_with(dir, &Options::new());
}

fn check_sizes_with(dir: &Path, opts: &Options<'_>) {
    for (i, n) in sizes().into_iter().enumerate() {
        let src = dir.join(format!("src{n}"));
        let dst = dir.join(format!("dst{n}"));
        let bytes = data(n, i as u64 + 1);
        write_file(&src, &bytes);
        let st = opts
            .directio_copy(&src, &dst)
            .unwrap_or_else(|e| panic!("size {n}: {e}"));
        let got = fs::read(&dst).expect("read dst");
        assert_eq!(got.len(), n, "size {n}");
        assert!(got == bytes, "content differs at size {n}");
        assert_eq!(st.bytes, n as u64);
        assert!(st.method == Method::Direct || st.method == Method::ReadWrite);
    }
    assert_eq!(
        extra_entries(dir, &[])
            .iter()
            .filter(|n| n.contains("zcio"))
            .count(),
        0,
        "temporary files left"
    );
}

#[test]
fn sizes_on_disk() {
    let d = disk_dir();
    check_sizes_in(d.path());
}

/// Every engine, forced, with small chunks and several in flight, so that files
/// of a few chunks already have reads and writes overlapping.
#[test]
fn every_engine_copies_every_size() {
    for engine in Engine::ALL {
        for (chunk, depth) in [(4096u64, 3u32), (65536, 8), (0, 0)] {
            let d = disk_dir();
            let o = Options::new()
                .engine(engine)
                .chunk_size(chunk)
                .queue_depth(depth);
            check_sizes_with(d.path(), &o);
            let src = d.path().join("src");
            let bytes = data(5 * CHUNK + 333, 77);
            write_file(&src, &bytes);
            let st = o
                .directio_copy(&src, d.path().join("one"))
                .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
            assert_eq!(st.engine, Some(engine));
            assert_eq!(st.method, Method::Direct);
            assert!(
                fs::read(d.path().join("one")).expect("read") == bytes,
                "{engine:?}"
            );
        }
    }
}

#[test]
fn every_engine_cancels_and_fails_cleanly() {
    let Some(m) = Mount::new("tmpfs", "tmpfs", "size=3m") else {
        return;
    };
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(8 * CHUNK, 31));
    let dst = m.path().join("dst");
    let old = data(1000, 32);
    write_file(&dst, &old);
    for engine in Engine::ALL {
        // Too big for the file system: ENOSPC (at reservation or write time).
        let o = Options::new().engine(engine);
        assert_eq!(
            errno(o.directio_copy(&src, &dst)),
            libc::ENOSPC,
            "{engine:?}"
        );
        assert!(fs::read(&dst).expect("read") == old);
        // Cancelled half way on the disk.
        let o = o.progress(&stop_at_half).chunk_size(65536);
        let dd = d.path().join("dst");
        write_file(&dd, &old);
        let (r, st) = outcome(o.directio_copy(&src, &dd));
        assert_eq!(errno(r), libc::ECANCELED, "{engine:?}");
        assert_eq!(st.failed_step, zcio::Step::Cancel);
        assert!(fs::read(&dd).expect("read") == old, "{engine:?}");
        assert_eq!(
            extra_entries(d.path(), &["src", "dst"]),
            Vec::<String>::new()
        );
        assert_eq!(extra_entries(&m.path(), &["dst"]), Vec::<String>::new());
    }
}

#[test]
fn every_engine_fails_cleanly_when_a_write_finds_the_disk_full() {
    // ext2 has no fallocate, so nothing is reserved up front: the writes themselves
    // run out of space, with reads and writes in flight.
    let Some(m) = Mount::image("ext2", 8, &["mkfs.ext2", "-q", "-F"]) else {
        return;
    };
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(16 * CHUNK, 33));
    let dst = m.path().join("dst");
    let old = data(5000, 34);
    write_file(&dst, &old);
    for engine in Engine::ALL {
        let o = Options::new()
            .engine(engine)
            .queue_depth(4)
            .chunk_size(256 * 1024);
        let (r, st) = outcome(o.directio_copy(&src, &dst));
        assert_eq!(errno(r), libc::ENOSPC, "{engine:?}");
        assert_eq!(st.failed_step, zcio::Step::Write, "{engine:?}");
        assert!(
            st.bytes > 0,
            "{engine:?}: wrote nothing before the disk was full"
        );
        assert!(fs::read(&dst).expect("read") == old, "{engine:?}");
        assert_eq!(
            extra_entries(&m.path(), &["dst", "lost+found"]),
            Vec::<String>::new()
        );
        // The space comes back.
        let small = d.path().join("small");
        write_file(&small, &data(CHUNK, 35));
        o.directio_copy(&small, m.path().join("small"))
            .expect("fits");
        fs::remove_file(m.path().join("small")).expect("rm");
    }
}

#[test]
fn sizes_on_tmpfs() {
    let Some(d) = shm_dir() else { return };
    check_sizes_in(d.path());
}

#[test]
fn disk_copy_is_direct_and_leaves_no_cache() {
    let d = disk_dir();
    let src = d.path().join("src");
    let dst = d.path().join("dst");
    let bytes = data(8 * CHUNK + 4321, 7);
    write_file(&src, &bytes);
    evict(&src);
    let st = directio_copy(&src, &dst).expect("copy");
    assert_eq!(st.method, Method::Direct);
    assert!(st.engine == Some(Engine::Threads), "{:?}", st.engine);
    assert_eq!(st.fallbacks().next(), None);
    assert!(st.alignment >= 512 && st.alignment.is_power_of_two());
    assert!(st.io_calls >= 18, "io_calls {}", st.io_calls);
    // Direct I/O never put the copy's pages in the cache, nor the source's.
    let (sp, dp) = (resident_pages(&src), resident_pages(&dst));
    assert!(dp <= 1, "destination pages cached: {dp}");
    assert!(sp <= 1, "source pages cached: {sp}");
    assert!(fs::read(&dst).expect("read") == bytes);
}

#[test]
fn chunk_sizes() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(5 * 65536 + 99, 3);
    write_file(&src, &bytes);
    for chunk in [4096u64, 65536, 3 * 4096] {
        let dst = d.path().join(format!("dst{chunk}"));
        Options::new()
            .chunk_size(chunk)
            .directio_copy(&src, &dst)
            .expect("copy");
        assert!(fs::read(&dst).expect("read") == bytes, "chunk {chunk}");
    }
    // Not a multiple of the alignment: refused, nothing created.
    let dst = d.path().join("bad");
    for chunk in [1u64, 1000, 4097] {
        let o = Options::new().chunk_size(chunk);
        assert_eq!(
            errno(o.directio_copy(&src, &dst)),
            libc::EINVAL,
            "chunk {chunk}"
        );
        assert!(!dst.exists());
    }
    let o = Options::new().chunk_size(1 << 40);
    assert_eq!(errno(o.directio_copy(&src, &dst)), libc::EINVAL);
}

#[test]
fn bad_inputs_change_nothing() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(10000, 9);
    write_file(&src, &bytes);

    // Missing source: nothing created.
    assert_eq!(
        errno(directio_copy(p.join("nope"), p.join("d1"))),
        libc::ENOENT
    );
    assert!(!p.join("d1").exists());
    // Empty paths.
    assert_eq!(errno(directio_copy("", p.join("d1"))), libc::ENOENT);
    assert_eq!(errno(directio_copy(&src, "")), libc::ENOENT);
    // Source is a directory.
    assert_eq!(errno(directio_copy(p, p.join("d2"))), libc::EISDIR);
    assert!(!p.join("d2").exists());
    // Destination is a directory, with or without a trailing slash.
    fs::create_dir(p.join("sub")).expect("mkdir");
    assert_eq!(errno(directio_copy(&src, p.join("sub"))), libc::EISDIR);
    assert_eq!(errno(directio_copy(&src, p.join("sub/"))), libc::EISDIR);
    assert_eq!(errno(directio_copy(&src, "/")), libc::EISDIR);
    // Missing destination directory.
    assert_eq!(
        errno(directio_copy(&src, p.join("no/such/dir"))),
        libc::ENOENT
    );
    // A FIFO as source is refused without blocking; as destination too.
    nix::unistd::mkfifo(
        &p.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    assert_eq!(
        errno(directio_copy(p.join("fifo"), p.join("d3"))),
        libc::EINVAL
    );
    assert!(!p.join("d3").exists());
    assert_eq!(errno(directio_copy(&src, p.join("fifo"))), libc::EINVAL);
    // Method other than direct.
    let m = Options::new().method(Method::Sendfile);
    assert_eq!(errno(m.directio_copy(&src, p.join("d4"))), libc::EINVAL);
    assert!(!p.join("d4").exists());
    // The source is unchanged after all of it.
    assert!(fs::read(&src).expect("read") == bytes);
    assert_eq!(
        extra_entries(p, &["src", "sub", "fifo"]),
        Vec::<String>::new()
    );
}

#[test]
fn copy_onto_itself_never_truncates() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(3 * 4096 + 5, 11);
    write_file(&src, &bytes);
    fs::hard_link(&src, p.join("hard")).expect("link");
    std::os::unix::fs::symlink(&src, p.join("sym")).expect("symlink");
    std::os::unix::fs::symlink("src", p.join("relsym")).expect("symlink");
    let same = [
        src.clone(),
        p.join("hard"),
        p.join("sym"),
        p.join("relsym"),
        p.join(".").join("src"),
    ];
    for flags in [Flags::empty(), Flags::IN_PLACE, Flags::FSYNC] {
        let o = Options::new().flags(flags);
        for dst in &same {
            let (r, st) = outcome(o.directio_copy(&src, dst));
            assert_eq!(errno(r), libc::EINVAL, "{dst:?} {flags:?}");
            assert_eq!(st.failed_step, zcio::Step::OpenDst);
            assert!(
                fs::read(&src).expect("read") == bytes,
                "{dst:?} changed the file"
            );
        }
        // And the other way round: the link as source, the file as destination.
        assert_eq!(errno(o.directio_copy(p.join("sym"), &src)), libc::EINVAL);
    }
    assert_eq!(
        extra_entries(p, &["src", "hard", "sym", "relsym"]),
        Vec::<String>::new()
    );
}

#[test]
fn bind_mount_of_itself_is_the_same_file() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(5000, 12);
    write_file(&src, &bytes);
    let Some(m) = Mount::new("none", d.path().to_str().expect("utf8"), "bind") else {
        return;
    };
    let other = m.path().join("src");
    assert_eq!(errno(directio_copy(&src, &other)), libc::EINVAL);
    assert!(fs::read(&src).expect("read") == bytes);
}

#[test]
fn existing_destination_is_replaced_and_keeps_its_mode() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let dst = p.join("dst");
    let bytes = data(70000, 13);
    write_file(&src, &bytes);
    write_file(&dst, &data(1_000_000, 14));
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o640)).expect("chmod");
    directio_copy(&src, &dst).expect("copy");
    assert!(fs::read(&dst).expect("read") == bytes);
    assert_eq!(
        fs::metadata(&dst).expect("meta").permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(extra_entries(p, &["src", "dst"]), Vec::<String>::new());
}

#[test]
fn new_destination_gets_0644_minus_umask() {
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, b"hello");
    fs::set_permissions(&src, fs::Permissions::from_mode(0o700)).expect("chmod");
    let dst = d.path().join("dst");
    directio_copy(&src, &dst).expect("copy");
    assert_eq!(
        fs::metadata(&dst).expect("meta").mode() & 0o7777,
        0o644 & !umask()
    );
}

#[test]
fn excl_and_in_place() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let dst = p.join("dst");
    let bytes = data(9000, 15);
    write_file(&src, &bytes);
    let old = data(20000, 16);
    write_file(&dst, &old);

    let excl = Options::new().exclusive(true);
    assert_eq!(errno(excl.directio_copy(&src, &dst)), libc::EEXIST);
    assert!(fs::read(&dst).expect("read") == old);
    excl.directio_copy(&src, p.join("fresh"))
        .expect("excl on a new name");
    assert!(fs::read(p.join("fresh")).expect("read") == bytes);

    let inplace = Options::new().in_place(true);
    let ino = fs::metadata(&dst).expect("meta").ino();
    inplace.directio_copy(&src, &dst).expect("in place");
    assert!(fs::read(&dst).expect("read") == bytes);
    assert_eq!(
        fs::metadata(&dst).expect("meta").ino(),
        ino,
        "in place keeps the inode"
    );

    let both = inplace.exclusive(true);
    assert_eq!(errno(both.directio_copy(&src, &dst)), libc::EEXIST);
    both.directio_copy(&src, p.join("fresh2"))
        .expect("in place, new");
    assert!(fs::read(p.join("fresh2")).expect("read") == bytes);
    assert_eq!(
        extra_entries(p, &["src", "dst", "fresh", "fresh2"]),
        Vec::<String>::new()
    );
}

#[test]
fn fsync_flag_copies() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(123457, 17);
    write_file(&src, &bytes);
    Options::new()
        .fsync(true)
        .directio_copy(&src, d.path().join("dst"))
        .expect("copy");
    assert!(fs::read(d.path().join("dst")).expect("read") == bytes);
}

#[test]
fn symlink_destination_is_written_through() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(5555, 18);
    write_file(&src, &bytes);
    write_file(&p.join("target"), b"old");
    std::os::unix::fs::symlink("target", p.join("link")).expect("symlink");
    directio_copy(&src, p.join("link")).expect("copy");
    assert!(
        fs::symlink_metadata(p.join("link"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert!(fs::read(p.join("target")).expect("read") == bytes);
    // A dangling link is not followed into a new file.
    std::os::unix::fs::symlink("missing", p.join("dangling")).expect("symlink");
    assert_eq!(errno(directio_copy(&src, p.join("dangling"))), libc::ENOENT);
    assert!(!p.join("missing").exists());
}

#[test]
fn progress_and_cancel() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let dst = p.join("dst");
    let bytes = data(6 * CHUNK + 10, 19);
    write_file(&src, &bytes);
    let old = data(777, 20);
    write_file(&dst, &old);

    let calls = Cell::new(0u32);
    let last = Cell::new(Progress::default());
    let cb = |p: Progress| {
        calls.set(calls.get() + 1);
        assert!(p.done >= last.get().done, "progress went backwards");
        last.set(p);
        ControlFlow::Continue(())
    };
    Options::new()
        .progress(&cb)
        .directio_copy(&src, &dst)
        .expect("copy");
    assert!(calls.get() >= 2, "calls {}", calls.get());
    let size = bytes.len() as u64;
    assert_eq!(last.get(), Progress::new(size, Some(size)));
    assert!(fs::read(&dst).expect("read") == bytes);

    // Cancel at about half: ECANCELED, destination as it was, no temporary file.
    write_file(&dst, &old);
    let o = Options::new().progress(&stop_at_half);
    let (r, st) = outcome(o.directio_copy(&src, &dst));
    assert_eq!(errno(r), libc::ECANCELED);
    assert_eq!(st.failed_step, zcio::Step::Cancel);
    assert!(fs::read(&dst).expect("read") == old);
    // And for a destination that did not exist: still absent.
    assert_eq!(errno(o.directio_copy(&src, p.join("new"))), libc::ECANCELED);
    assert!(!p.join("new").exists());
    assert_eq!(extra_entries(p, &["src", "dst"]), Vec::<String>::new());
}

#[test]
fn proc_source_falls_back_to_buffered() {
    // /proc files refuse O_DIRECT and report size 0 while holding data.
    let d = disk_dir();
    let dst = d.path().join("status");
    let st = directio_copy("/proc/self/status", &dst).expect("copy");
    assert_eq!(st.method, Method::ReadWrite);
    assert_eq!(
        st.fallbacks().collect::<Vec<_>>(),
        [(Method::Direct, libc::EINVAL)]
    );
    let got = fs::read_to_string(&dst).expect("read");
    assert!(got.contains("Name:") && got.contains("VmPeak") || got.contains("Pid:"));

    let no = Options::new().fallback(false);
    let dst2 = d.path().join("status2");
    assert_eq!(
        errno(no.directio_copy("/proc/self/status", &dst2)),
        libc::EINVAL
    );
    assert!(!dst2.exists());
}

#[test]
fn ramfs_destination_falls_back_to_buffered() {
    // ramfs has no Direct I/O at all.
    let Some(m) = Mount::new("ramfs", "ramfs", "") else {
        return;
    };
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(3 * CHUNK + 12345, 21);
    write_file(&src, &bytes);
    let dst = m.path().join("dst");
    let st = directio_copy(&src, &dst).expect("copy");
    assert_eq!(st.method, Method::ReadWrite);
    assert_ne!(st.gave_up(Method::Direct), None);
    assert!(fs::read(&dst).expect("read") == bytes);

    let no = Options::new().fallback(false);
    let dst2 = m.path().join("dst2");
    assert_eq!(errno(no.directio_copy(&src, &dst2)), libc::EINVAL);
    assert!(!dst2.exists());
    assert_eq!(extra_entries(&m.path(), &["dst"]), Vec::<String>::new());
}

#[test]
fn full_file_system_keeps_the_old_destination() {
    let Some(m) = Mount::new("tmpfs", "tmpfs", "size=2m") else {
        return;
    };
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(4 * CHUNK, 22));
    let dst = m.path().join("dst");
    let old = data(1000, 23);
    write_file(&dst, &old);
    let (r, st) = outcome(directio_copy(&src, &dst));
    assert_eq!(errno(r), libc::ENOSPC);
    // Found when the blocks are reserved, or when they are written.
    assert!(
        matches!(st.failed_step, zcio::Step::Size | zcio::Step::Write),
        "{:?}",
        st.failed_step
    );
    assert!(fs::read(&dst).expect("read") == old);
    assert_eq!(extra_entries(&m.path(), &["dst"]), Vec::<String>::new());
    // The space is given back: a small copy still fits.
    let small = d.path().join("small");
    write_file(&small, &data(100_000, 24));
    directio_copy(&small, &dst).expect("small copy");
}

#[test]
fn directio_advice() {
    use std::os::fd::AsFd;
    let d = disk_dir();
    let p = d.path().join("f");
    write_file(&p, &data(8192, 25));
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .expect("open");
    zcio::directio(&f, Advice::On).expect("on");
    let fl = nix::fcntl::fcntl(f.as_fd(), nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
    assert_ne!(fl & libc::O_DIRECT, 0);
    zcio::directio(&f, Advice::Off).expect("off");
    let fl = nix::fcntl::fcntl(f.as_fd(), nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
    assert_eq!(fl & libc::O_DIRECT, 0);
    // A pipe is not a file system that takes the advice (and O_DIRECT there would
    // mean packet mode).
    let (r, _w) = nix::unistd::pipe().expect("pipe");
    assert_eq!(errno(zcio::directio(&r, Advice::On)), libc::ENOTTY);
    let fl = nix::fcntl::fcntl(r.as_fd(), nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
    assert_eq!(fl & libc::O_DIRECT, 0);
}

#[test]
fn alignment_query() {
    let d = disk_dir();
    let p = d.path().join("f");
    write_file(&p, b"x");
    let f = fs::File::open(&p).expect("open");
    let a = zcio::dio_alignment(&f)
        .expect("query")
        .expect("direct I/O on disk");
    assert!(a.offset.is_power_of_two() && a.offset >= 512);
    assert!(a.mem.is_power_of_two());
    let dir = fs::File::open(d.path()).expect("open dir");
    assert_eq!(errno(zcio::dio_alignment(&dir)), libc::EINVAL);
}

/// The io_uring engine waits for completions in 250 ms ticks. Here every read is
/// throttled (a blkio cgroup holds the loop device to 1 MiB/s), so completions
/// come seconds apart and many waits end in ETIME: each must mean "wait again".
#[test]
fn io_uring_waits_out_a_throttled_disk() {
    let blkio = Path::new("/sys/fs/cgroup/blkio");
    if !blkio.join("blkio.throttle.read_bps_device").exists() {
        eprintln!("skip: no cgroup v1 blkio throttling here");
        return;
    }
    let Some(m) = Mount::image("ext4", 64, &["mkfs.ext4", "-q", "-F"]) else {
        return;
    };
    let src = m.path().join("src");
    let want = data(3 * CHUNK + 4097, 71);
    write_file(&src, &want);
    evict(&src);
    let dev = fs::metadata(&src).expect("stat").dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let group = blkio.join(format!("zcio-test-{}", std::process::id()));
    fs::create_dir(&group).expect("cgroup");
    fs::write(
        group.join("blkio.throttle.read_bps_device"),
        format!("{major}:{minor} {}", 1 << 20),
    )
    .expect("throttle");
    let dst = m.path().join("dst");
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            // Only this thread (and the io_uring workers it starts) is throttled.
            // SAFETY: gettid cannot fail.
            let tid = unsafe { libc::gettid() };
            fs::write(group.join("tasks"), tid.to_string()).expect("join cgroup");
            let out = Options::new()
                .engine(Engine::IoUring)
                .queue_depth(4)
                .directio_copy(&src, &dst);
            fs::write(blkio.join("tasks"), tid.to_string()).expect("leave cgroup");
            out
        })
        .join()
        .expect("thread")
    });
    let _ = fs::remove_dir(&group);
    let st = r.expect("throttled copy");
    assert_eq!(st.engine, Some(Engine::IoUring));
    assert!(fs::read(&dst).expect("read") == want);
    // 3 MiB at 1 MiB/s: the reads really waited, over many ticks.
    assert!(
        st.elapsed >= std::time::Duration::from_millis(1500),
        "{:?}: the throttle did not hold",
        st.elapsed
    );
    report(
        "io_uring_waits_out_a_throttled_disk",
        "ext4 (loop, blkio 1 MiB/s)",
        "ETIME wait ticks",
        &format!("exact copy in {:.2} s", st.elapsed.as_secs_f64()),
    );
}

// ---- Moved from the C suite (test_directio.c, test_engines.c).

/// The sizes of `sizes()` copied with `opts` into `dir`: exact, `bytes`, no failed
/// step, the method Direct or ReadWrite, and when Direct: a power-of-two alignment
/// of at least 512 and the engine `want` says (for a size) — no temporary file.
fn check_sizes_engine(dir: &Path, opts: &Options<'_>, want: impl Fn(usize) -> Vec<Engine>) {
    for (i, n) in sizes().into_iter().enumerate() {
        let src = dir.join(format!("src{n}"));
        let dst = dir.join(format!("dst{n}"));
        let bytes = data(n, i as u64 + 100);
        write_file(&src, &bytes);
        let st = opts
            .directio_copy(&src, &dst)
            .unwrap_or_else(|e| panic!("size {n}: {e}"));
        assert!(fs::read(&dst).expect("read dst") == bytes, "size {n}");
        assert_eq!(st.bytes, n as u64, "size {n}");
        assert_eq!(st.failed_step, zcio::Step::None, "size {n}");
        assert!(
            matches!(st.method, Method::Direct | Method::ReadWrite),
            "size {n}: {}",
            st.method
        );
        if st.method == Method::Direct {
            assert!(
                st.alignment >= 512 && st.alignment.is_power_of_two(),
                "size {n}: alignment {}",
                st.alignment
            );
            let engines = want(n);
            assert!(
                st.engine.is_some_and(|e| engines.contains(&e)),
                "size {n}: engine {:?}, expected one of {engines:?}",
                st.engine
            );
        }
        fs::remove_file(&src).expect("rm");
        fs::remove_file(&dst).expect("rm");
    }
    assert_eq!(extra_entries(dir, &[]), Vec::<String>::new(), "left behind");
}

/// Default options on ext4 and tmpfs: a copy of fewer than 8 chunks runs on the
/// synchronous engine (the threaded one would have a single worker: each gets at
/// least 4 chunks), a larger one on threads.
#[test]
fn auto_engine_and_stats_by_size() {
    for d in disk_and_shm() {
        check_sizes_engine(d.path(), &Options::new(), |n| {
            if n < 8 * CHUNK {
                vec![Engine::Sync]
            } else {
                vec![Engine::Threads]
            }
        });
        let src = d.path().join("eight");
        let bytes = data(8 * CHUNK + 5, 17);
        write_file(&src, &bytes);
        let st = directio_copy(&src, d.path().join("eight.dst")).expect("copy");
        assert_eq!(st.engine, Some(Engine::Threads));
        assert!(fs::read(d.path().join("eight.dst")).expect("read") == bytes);
    }
}

/// The fault: each small Direct I/O copy set up a 16 MiB io_uring ring (30-45 ms
/// for 1 KB). A copy that fits in one chunk runs on the synchronous engine.
#[test]
fn small_direct_copy_does_not_build_a_ring() {
    let d = disk_dir();
    let src = d.path().join("small");
    let dst = d.path().join("small.dst");
    let bytes = data(1000, 8);
    write_file(&src, &bytes);
    let mut ok = true;
    for _ in 0..20 {
        let r = directio_copy(&src, &dst);
        ok &= r.as_ref().is_ok_and(|st| st.engine == Some(Engine::Sync))
            && fs::read(&dst).expect("read") == bytes;
    }
    regression("small_direct_copy_does_not_build_a_ring", ok);
}

/// Each engine forced, in every shape (chunk size, queue depth), on ext4 and tmpfs:
/// every size copies exactly on that engine; then a 64 MiB file with an unaligned
/// tail, in each shape.
#[test]
fn every_engine_in_every_shape_on_disk_and_tmpfs() {
    let shapes = [
        (0u64, 0u32),
        (4096, 1),
        (4096, 3),
        (65536, 3),
        (65536, 8),
        (4 * CHUNK as u64, 16),
    ];
    for d in disk_and_shm() {
        let p = d.path();
        for engine in Engine::ALL {
            for (chunk, depth) in shapes {
                let o = Options::new()
                    .engine(engine)
                    .chunk_size(chunk)
                    .queue_depth(depth);
                check_sizes_engine(p, &o, |_| vec![engine]);
            }
        }
        let src = p.join("big");
        let n = 64 * CHUNK + 4097;
        let bytes = data(n, 5);
        write_file(&src, &bytes);
        for engine in Engine::ALL {
            for (chunk, depth) in [(0u64, 0u32), (4096, 1), (65536, 3), (4 * CHUNK as u64, 16)] {
                let o = Options::new()
                    .engine(engine)
                    .chunk_size(chunk)
                    .queue_depth(depth);
                let dst = p.join("big.dst");
                let st = o
                    .directio_copy(&src, &dst)
                    .unwrap_or_else(|e| panic!("{engine:?} {chunk}/{depth}: {e}"));
                assert_eq!(st.method, Method::Direct, "{engine:?} {chunk}/{depth}");
                assert_eq!(st.engine, Some(engine), "{chunk}/{depth}");
                assert_eq!(st.bytes, n as u64);
                assert!(
                    fs::read(&dst).expect("read") == bytes,
                    "{engine:?} {chunk}/{depth}"
                );
                fs::remove_file(&dst).expect("rm");
            }
        }
        fs::remove_file(&src).expect("rm");
    }
}

/// 64 MiB from an evicted source on the disk, by zcio's engine and by each forced
/// one: Direct I/O, at most 16 pages of either file in the cache (the C suite's
/// allowance, for tools that read file heads), exact, and stats that add up.
#[test]
fn disk_copy_leaves_no_cache_with_each_engine() {
    let d = disk_dir();
    let src = d.path().join("src");
    let n = 64 * CHUNK;
    let bytes = data(n, 4242);
    write_file(&src, &bytes);
    for engine in engines_and_auto() {
        evict(&src);
        let dst = d.path().join("dst");
        let st = Options::new()
            .engine(engine)
            .directio_copy(&src, &dst)
            .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        assert_eq!(st.method, Method::Direct, "{engine:?}");
        if let Some(e) = engine {
            assert_eq!(st.engine, Some(e));
        }
        let (sp, dp) = (resident_pages(&src), resident_pages(&dst));
        assert!(dp <= 16, "{engine:?}: destination pages cached: {dp}");
        assert!(sp <= 16, "{engine:?}: source pages cached: {sp}");
        assert!(fs::read(&dst).expect("read") == bytes, "{engine:?}");
        assert_eq!(st.bytes, n as u64);
        assert!(
            st.io_calls >= 2 * (n / CHUNK) as u64,
            "{engine:?}: io_calls {}",
            st.io_calls
        );
        assert!(st.elapsed > std::time::Duration::ZERO);
        fs::remove_file(&dst).expect("rm");
    }
}

/// What bad_inputs_change_nothing leaves out: a missing source onto an existing
/// destination, and a character device as source.
#[test]
fn missing_source_and_char_device_change_nothing() {
    let d = disk_dir();
    let p = d.path();
    let old = data(300, 8);
    write_file(&p.join("dst"), &old);
    for engine in engines_and_auto() {
        let o = Options::new().engine(engine);
        let (r, st) = outcome(o.directio_copy(p.join("missing"), p.join("dst")));
        assert_eq!(errno(r), libc::ENOENT, "{engine:?}");
        assert_eq!(st.failed_step, zcio::Step::OpenSrc);
        assert!(fs::read(p.join("dst")).expect("read") == old);
        assert_eq!(errno(o.directio_copy("", p.join("dst"))), libc::ENOENT);
        assert!(fs::read(p.join("dst")).expect("read") == old);
        // /dev/null is no file to copy with O_DIRECT: refused, nothing made.
        assert_eq!(
            errno(o.directio_copy("/dev/null", p.join("new"))),
            libc::EINVAL,
            "{engine:?}"
        );
        assert!(!p.join("new").exists());
        assert_eq!(extra_entries(p, &["dst"]), Vec::<String>::new());
    }
}

/// Permission checks as an unprivileged user (root only: this thread takes
/// nobody's file-system ids, so the kernel checks the copy as it would for them).
#[test]
fn as_another_user() {
    if !is_root() {
        eprintln!("skip: needs root to act as another user");
        return;
    }
    let d = disk_dir();
    let p = d.path().to_path_buf();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).expect("chmod");
    let secret = p.join("secret");
    write_file(&secret, b"root only");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod");
    let open = p.join("open");
    write_file(&open, b"anyone");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o644)).expect("chmod");
    let ro = p.join("ro");
    fs::create_dir(&ro).expect("mkdir");
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).expect("chmod");
    let (results, control) = std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setfsuid/setfsgid change this thread's file-system ids only;
            // the thread ends here and takes them with it.
            unsafe {
                libc::setfsgid(65534);
                libc::setfsuid(65534);
            }
            let results = [
                errno(directio_copy(&secret, p.join("out1"))),
                errno(zcio::copy_file(&secret, p.join("out2"))),
                errno(directio_copy(&open, ro.join("x"))),
                errno(zcio::copy_file(&open, ro.join("y"))),
            ];
            // The same user can copy what it may read into where it may write:
            // the refusals above are the permissions, not the setup.
            let control = errno(directio_copy(&open, p.join("mine")));
            (results, control)
        })
        .join()
        .expect("thread")
    });
    assert_eq!(control, 0, "a readable source into a writable directory");
    assert_eq!(results, [libc::EACCES; 4]);
    assert!(!p.join("out1").exists() && !p.join("out2").exists());
    assert_eq!(fs::read_dir(&ro).expect("read_dir").count(), 0);
    assert_eq!(
        extra_entries(&p, &["secret", "open", "ro", "mine"]),
        Vec::<String>::new()
    );
}

/// NOFOLLOW through the Direct I/O entry point: a symlink destination is refused
/// and left as it is; a plain destination is copied.
#[test]
fn nofollow_for_the_direct_io_copy() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(10000, 7);
    write_file(&src, &bytes);
    write_file(&p.join("linked"), b"old");
    std::os::unix::fs::symlink("linked", p.join("lnk")).expect("symlink");
    let o = Options::new().nofollow(true);
    let (r, st) = outcome(o.directio_copy(&src, p.join("lnk")));
    assert_eq!(errno(r), libc::ELOOP);
    assert_eq!(st.failed_step, zcio::Step::OpenDst);
    assert_eq!(fs::read(p.join("linked")).expect("read"), b"old");
    assert!(
        fs::symlink_metadata(p.join("lnk"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    o.directio_copy(&src, p.join("plain")).expect("plain");
    assert!(fs::read(p.join("plain")).expect("read") == bytes);
    assert_eq!(
        extra_entries(p, &["src", "linked", "lnk", "plain"]),
        Vec::<String>::new()
    );
}

/// Chunk sizes on each engine: 4 MiB copies a 5 MiB file exactly; sizes that are
/// unaligned or above the 1 GiB maximum are refused before anything is made, onto
/// a new destination and onto an existing one.
#[test]
fn chunk_sizes_on_each_engine() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(5 * CHUNK + 3, 11);
    write_file(&src, &bytes);
    let old = data(999, 12);
    write_file(&p.join("old"), &old);
    for engine in engines_and_auto() {
        for chunk in [4096u64, 65536, 3 * 4096, 4 << 20] {
            let o = Options::new().engine(engine).chunk_size(chunk);
            o.directio_copy(&src, p.join("dst"))
                .unwrap_or_else(|e| panic!("{engine:?} chunk {chunk}: {e}"));
            assert!(fs::read(p.join("dst")).expect("read") == bytes);
            fs::remove_file(p.join("dst")).expect("rm");
        }
        for chunk in [1u64, 511, 1000, 4097, 1 << 31, 1 << 40] {
            let o = Options::new().engine(engine).chunk_size(chunk);
            let (r, st) = outcome(o.directio_copy(&src, p.join("new")));
            assert_eq!(errno(r), libc::EINVAL, "{engine:?} chunk {chunk}");
            assert_eq!(st.failed_step, zcio::Step::Args, "chunk {chunk}");
            assert!(!p.join("new").exists());
            assert_eq!(
                errno(o.directio_copy(&src, p.join("old"))),
                libc::EINVAL,
                "{engine:?} chunk {chunk}"
            );
            assert!(fs::read(p.join("old")).expect("read") == old);
            assert_eq!(extra_entries(p, &["src", "old"]), Vec::<String>::new());
        }
    }
}

/// A cancel at half on each engine, on ext4 and tmpfs: ECANCELED at the cancel
/// step, some but not more than all of the file written, the old destination as
/// it was, and a destination that did not exist still absent.
#[test]
fn every_engine_cancels_at_half_on_disk_and_tmpfs() {
    for d in disk_and_shm() {
        let p = d.path();
        let src = p.join("src");
        let n = 5 * CHUNK as u64 + 3;
        write_file(&src, &data(n as usize, 11));
        let old = data(1234, 12);
        write_file(&p.join("dst"), &old);
        for engine in engines_and_auto() {
            let o = Options::new().engine(engine).progress(&stop_at_half);
            let (r, st) = outcome(o.directio_copy(&src, p.join("dst")));
            assert_eq!(errno(r), libc::ECANCELED, "{engine:?}");
            assert_eq!(st.failed_step, zcio::Step::Cancel);
            assert!(
                st.bytes > 0 && st.bytes <= n,
                "{engine:?}: {} bytes",
                st.bytes
            );
            assert!(fs::read(p.join("dst")).expect("read") == old, "{engine:?}");
            assert_eq!(
                errno(o.directio_copy(&src, p.join("fresh"))),
                libc::ECANCELED
            );
            assert!(!p.join("fresh").exists(), "{engine:?}");
            assert_eq!(extra_entries(p, &["src", "dst"]), Vec::<String>::new());
        }
    }
}

/// The fault (found by the fuzzer): the threaded engine kept calling the progress
/// callback after it had asked to stop, while its other workers finished.
#[test]
fn progress_is_not_called_after_a_cancel() {
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, &data(8 * CHUNK + 3, 10));
    let dst = d.path().join("dst");
    let mut ok = true;
    for engine in Engine::ALL {
        for _ in 0..5 {
            let calls = Cell::new(0u32);
            let stop = |_: Progress| {
                calls.set(calls.get() + 1);
                ControlFlow::Break(())
            };
            let o = Options::new()
                .engine(engine)
                .chunk_size(65536)
                .queue_depth(8)
                .progress(&stop);
            let r = o.directio_copy(&src, &dst);
            if calls.get() != 1 {
                eprintln!("{engine:?}: {} calls after the stop", calls.get() - 1);
            }
            ok &= errno(r) == libc::ECANCELED && calls.get() == 1 && !dst.exists();
        }
    }
    regression("progress_is_not_called_after_a_cancel", ok);
}

/// IN_PLACE with FSYNC keeps the inode and writes the data; FSYNC onto an existing
/// 0600 destination keeps its mode; on each engine.
#[test]
fn in_place_and_fsync_on_each_engine() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(5 * CHUNK + 3, 11);
    write_file(&src, &bytes);
    for engine in engines_and_auto() {
        let dst = p.join("dst");
        write_file(&dst, &data(1234, 12));
        let ino = fs::metadata(&dst).expect("meta").ino();
        Options::new()
            .engine(engine)
            .in_place(true)
            .fsync(true)
            .directio_copy(&src, &dst)
            .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        assert_eq!(fs::metadata(&dst).expect("meta").ino(), ino, "{engine:?}");
        assert!(fs::read(&dst).expect("read") == bytes);
        write_file(&dst, &data(1234, 13));
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o600)).expect("chmod");
        Options::new()
            .engine(engine)
            .fsync(true)
            .directio_copy(&src, &dst)
            .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        assert_eq!(
            fs::metadata(&dst).expect("meta").mode() & 0o7777,
            0o600,
            "{engine:?}"
        );
        assert!(fs::read(&dst).expect("read") == bytes);
        fs::remove_file(&dst).expect("rm");
        assert_eq!(extra_entries(p, &["src"]), Vec::<String>::new());
    }
}

/// The link as source and the file it names as destination, in place: refused at
/// the destination's open, the file untouched (for each way of naming it).
#[test]
fn onto_itself_in_reverse_fails_at_open_dst() {
    let d = disk_dir();
    let p = d.path();
    let src = p.join("src");
    let bytes = data(10000, 7);
    write_file(&src, &bytes);
    fs::hard_link(&src, p.join("hard")).expect("link");
    std::os::unix::fs::symlink("src", p.join("sym")).expect("symlink");
    for engine in engines_and_auto() {
        let o = Options::new().engine(engine).in_place(true);
        for from in ["src", "hard", "sym"] {
            let (r, st) = outcome(o.directio_copy(p.join(from), &src));
            assert_eq!(errno(r), libc::EINVAL, "{from}");
            assert_eq!(st.failed_step, zcio::Step::OpenDst, "{from}");
            assert!(fs::read(&src).expect("read") == bytes, "{from}");
        }
    }
}

/// The alignment query on tmpfs as on the disk: powers of two, an offset
/// alignment of at least 512 (or "no Direct I/O here" where tmpfs says so).
#[test]
fn alignment_query_on_tmpfs() {
    let Some(d) = shm_dir() else { return };
    let p = d.path().join("f");
    write_file(&p, b"x");
    let f = fs::File::open(&p).expect("open");
    match zcio::dio_alignment(&f).expect("query") {
        Some(a) => {
            assert!(a.offset.is_power_of_two() && a.offset >= 512, "{a:?}");
            assert!(a.mem.is_power_of_two() && a.mem >= 1, "{a:?}");
        }
        None => eprintln!("note: this tmpfs has no Direct I/O"),
    }
}

/// Where io_uring is refused by a seccomp filter (as container runtimes do), with
/// EPERM and with ENOSYS: a forced io_uring says EOPNOTSUPP and makes nothing,
/// and zcio's own choice (threads) copies as ever. The filter is set on a thread
/// made for it (seccomp filters are per thread, inherited by the threads it
/// starts) and goes with it.
#[test]
#[cfg(target_arch = "x86_64")]
fn forced_io_uring_refused_by_seccomp_is_eopnotsupp() {
    let d = disk_dir();
    let p = d.path().to_path_buf();
    let src = p.join("src");
    let bytes = data(9 * CHUNK + 3, 6);
    write_file(&src, &bytes);
    for err in [libc::EPERM, libc::ENOSYS] {
        let (auto, forced) = std::thread::scope(|s| {
            s.spawn(|| {
                deny_io_uring_setup(err);
                let auto = directio_copy(&src, p.join("auto"));
                let forced = Options::new()
                    .engine(Engine::IoUring)
                    .directio_copy(&src, p.join("forced"));
                (auto, forced)
            })
            .join()
            .expect("thread")
        });
        let st = auto.unwrap_or_else(|e| panic!("io_uring_setup -> {err}: {e}"));
        assert_eq!(st.engine, Some(Engine::Threads), "io_uring_setup -> {err}");
        assert!(fs::read(p.join("auto")).expect("read") == bytes);
        assert_eq!(errno(forced), libc::EOPNOTSUPP, "io_uring_setup -> {err}");
        assert!(!p.join("forced").exists());
        fs::remove_file(p.join("auto")).expect("rm");
    }
    // The filter went with its thread: here io_uring works again.
    let st = Options::new()
        .engine(Engine::IoUring)
        .directio_copy(&src, p.join("after"))
        .expect("copy");
    assert_eq!(st.engine, Some(Engine::IoUring));
    assert!(fs::read(p.join("after")).expect("read") == bytes);
}

/// Installs, on the calling thread, a seccomp filter that answers io_uring_setup
/// with `err` and allows everything else.
#[cfg(target_arch = "x86_64")]
fn deny_io_uring_setup(err: i32) {
    // Classic BPF over struct seccomp_data { int nr; __u32 arch; ... }.
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |k, jt, jf| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    let mut f = [
        stmt(LD_W_ABS, 4), // arch
        jump(AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
        stmt(LD_W_ABS, 0), // nr
        jump(libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ERRNO | err as u32),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: f.len() as u16,
        filter: f.as_mut_ptr(),
    };
    // SAFETY: prctl with a valid filter program that outlives the call; both
    // settings apply to this thread only.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog
            ),
            0
        );
    }
}

/// The data segments of `p` (SEEK_DATA/SEEK_HOLE), as offsets and lengths.
fn data_map(p: &Path) -> Vec<(u64, u64)> {
    use nix::unistd::{Whence, lseek};
    let f = fs::File::open(p).expect("open");
    let size = f.metadata().expect("meta").len() as i64;
    let mut v = Vec::new();
    let mut off = 0i64;
    while off < size {
        let Ok(d) = lseek(&f, off, Whence::SeekData) else {
            break;
        };
        let h = lseek(&f, d, Whence::SeekHole).expect("hole");
        v.push((d as u64, (h - d) as u64));
        off = h;
    }
    v
}

#[test]
fn direct_copy_of_a_sparse_file_keeps_its_holes() {
    // A 2 GiB file holding 2 MiB, on a 64 MiB file system: Direct I/O copies the
    // data segments only, on alignment boundaries, and preallocates nothing for the
    // holes, as every other method does; a 1 GiB file with 2 bytes writes a block
    // or two, not 1 GiB.
    let Some(m) = Mount::image("ext4", 64, &["mkfs.ext4", "-q", "-F"]) else {
        return;
    };
    let mp = m.path();
    let big = mp.join("big");
    let islands: [(u64, usize); 4] = [
        (0, 4096),
        (1 << 20, 777_777),
        (1 << 30, 1 << 20),
        ((2 << 30) - 5000, 5000),
    ];
    {
        let f = fs::File::create(&big).expect("create");
        f.set_len(2 << 30).expect("size");
        for (i, &(at, len)) in islands.iter().enumerate() {
            nix::sys::uio::pwrite(&f, &data(len, 40 + i as u64), at as i64).expect("write");
        }
        f.sync_all().expect("sync");
    }
    let tiny = mp.join("tiny");
    {
        let f = fs::File::create(&tiny).expect("create");
        f.set_len(1 << 30).expect("size");
        nix::sys::uio::pwrite(&f, b"ab", 500 << 20).expect("write");
    }
    for e in Engine::ALL {
        let dst = mp.join("dst");
        let o = Options::new().engine(e);
        let st = o
            .directio_copy(&big, &dst)
            .unwrap_or_else(|err| panic!("{e:?}: {err}"));
        assert_eq!(st.method, Method::Direct, "{e:?}");
        let meta = fs::metadata(&dst).expect("meta");
        assert_eq!(meta.len(), 2 << 30, "{e:?}: size");
        assert!(
            meta.blocks() * 512 < 4 << 20,
            "{e:?}: {} bytes allocated",
            meta.blocks() * 512
        );
        assert_eq!(data_map(&dst), data_map(&big), "{e:?}: holes");
        let f = fs::File::open(&dst).expect("open");
        for (i, &(at, len)) in islands.iter().enumerate() {
            let mut got = vec![0u8; len];
            nix::sys::uio::pread(&f, &mut got, at as i64).expect("read");
            assert!(got == data(len, 40 + i as u64), "{e:?}: island {i}");
        }
        fs::remove_file(&dst).expect("rm");
        // Two bytes in 1 GiB: one aligned block written.
        let st = o
            .directio_copy(&tiny, &dst)
            .unwrap_or_else(|err| panic!("{e:?}: {err}"));
        assert!(st.bytes <= 8192, "{e:?}: wrote {} bytes", st.bytes);
        assert_eq!(fs::metadata(&dst).expect("meta").len(), 1 << 30);
        let mut two = [0u8; 2];
        nix::sys::uio::pread(fs::File::open(&dst).expect("open"), &mut two, 500 << 20)
            .expect("read");
        assert_eq!(&two, b"ab");
        fs::remove_file(&dst).expect("rm");
    }
    // NO_SPARSE writes the holes out: it does not fit.
    let r = Options::new()
        .sparse(false)
        .directio_copy(&big, mp.join("full"));
    assert_eq!(errno(r), libc::ENOSPC);
    report(
        "direct_copy_of_a_sparse_file_keeps_its_holes",
        "ext4 (64 MiB loop image)",
        "2 GiB with 2 MiB of data, 1 GiB with 2 bytes, every engine",
        "holes kept, data exact, NO_SPARSE: ENOSPC",
    );
}

#[test]
fn dio_alignment_on_ramfs_says_no_direct_io() {
    // ramfs refuses O_DIRECT at open and answers no statx alignment: the query says
    // so (None; -EOPNOTSUPP in C) instead of a 4096 that cannot be used.
    let Some(m) = Mount::new("ramfs", "ramfs", "") else {
        return;
    };
    let p = m.path().join("f");
    write_file(&p, b"x");
    for f in [
        fs::File::open(&p).expect("open"),
        fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .expect("open for writing"),
    ] {
        assert_eq!(zcio::dio_alignment(&f).expect("query"), None);
        let (mut mem, mut off) = (7u32, 7u32);
        // SAFETY: two writable u32s.
        let r = unsafe {
            zcio::capi::directio::zc_dio_alignment(
                std::os::fd::AsRawFd::as_raw_fd(&f),
                &mut mem,
                &mut off,
            )
        };
        assert_eq!(r, -libc::EOPNOTSUPP);
    }
    // tmpfs, which has no block device either, takes O_DIRECT on this kernel or not:
    // the answer matches what an open with O_DIRECT says.
    if let Some(shm) = shm_dir() {
        let q = shm.path().join("f");
        write_file(&q, b"x");
        let direct = std::os::unix::fs::OpenOptionsExt::custom_flags(
            fs::OpenOptions::new().read(true),
            libc::O_DIRECT,
        )
        .open(&q)
        .is_ok();
        let a = zcio::dio_alignment(fs::File::open(&q).expect("open")).expect("query");
        assert_eq!(a.is_some(), direct, "tmpfs: {a:?}");
    }
}
