//! The zero-copy primitives on real objects: TCP and Unix sockets on loopback,
//! pipes, FIFOs, ext4, tmpfs, /proc, and an XFS image made by the test.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::Duration;

use common::*;
use zcio::{FdFlags, Flags, Method, Options, TO_EOF};

fn fd_offset(f: &File) -> u64 {
    let off = nix::unistd::lseek(f.as_fd(), 0, nix::unistd::Whence::SeekCur).expect("lseek");
    u64::try_from(off).expect("offsets are not negative")
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (s, _) = l.accept().expect("accept");
    (c, s)
}

/// Reads everything from `r` on another thread.
fn collect<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        r.read_to_end(&mut v).expect("read");
        v
    })
}

#[test]
fn sendfile_file_to_tcp_with_and_without_offset() {
    let d = disk_dir();
    let p = d.path().join("src");
    let bytes = data(5 * 1024 * 1024 + 77, 1);
    write_file(&p, &bytes);
    let f = File::open(&p).expect("open");

    let (c, s) = tcp_pair();
    let reader = collect(s);
    let mut off = 1000;
    let n = zcio::sendfile(&c, &f, Some(&mut off), TO_EOF, FdFlags::empty()).expect("sendfile");
    drop(c);
    assert_eq!(n as usize, bytes.len() - 1000);
    assert_eq!(off as usize, bytes.len());
    assert_eq!(
        fd_offset(&f),
        0,
        "an explicit offset leaves the descriptor's alone"
    );
    assert!(reader.join().expect("join") == bytes[1000..]);

    // NULL offset: the descriptor's own offset is used and advanced; count limits.
    let (c, s) = tcp_pair();
    let reader = collect(s);
    nix::unistd::lseek(f.as_fd(), 10, nix::unistd::Whence::SeekSet).expect("seek");
    let n = zcio::sendfile(&c, &f, None, 4096, FdFlags::empty()).expect("sendfile");
    drop(c);
    assert_eq!(n, 4096);
    assert_eq!(fd_offset(&f), 10 + 4096);
    assert!(reader.join().expect("join") == bytes[10..10 + 4096]);
}

#[test]
fn sendfile_beyond_2gib_loops_over_the_cap() {
    // A sparse source larger than one call may move, sent to /dev/null.
    let d = disk_dir();
    let p = d.path().join("sparse");
    let size: u64 = (5 << 29) + 4097; // 2.5 GiB and a bit
    let f = File::create(&p).expect("create");
    f.set_len(size).expect("set_len");
    drop(f);
    let f = File::open(&p).expect("open");
    let null = OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("null");
    let n = zcio::sendfile(&null, &f, None, TO_EOF, FdFlags::empty()).expect("sendfile");
    assert_eq!(n, size);
    assert_eq!(fd_offset(&f), size);
    assert!(
        zcio::MAX_IO < size,
        "the file really needs more than one call"
    );
}

#[test]
fn sendfile_nonblocking_socket() {
    let d = disk_dir();
    let p = d.path().join("src");
    let bytes = data(4 << 20, 2);
    write_file(&p, &bytes);
    let f = File::open(&p).expect("open");
    let (a, b) = UnixStream::pair().expect("pair");
    a.set_nonblocking(true).expect("nonblock");
    nix::sys::socket::setsockopt(&a, nix::sys::socket::sockopt::SndBuf, &4096).expect("sndbuf");

    // Nobody reads: with ZC_F_NONBLOCK the call returns what fitted, then EAGAIN.
    let mut off = 0;
    let n = zcio::sendfile(&a, &f, Some(&mut off), TO_EOF, FdFlags::NONBLOCK).expect("partial");
    assert!(n > 0 && (n as usize) < bytes.len(), "moved {n}");
    assert_eq!(off, n);
    assert_eq!(
        errno(zcio::sendfile(
            &a,
            &f,
            Some(&mut off),
            TO_EOF,
            FdFlags::NONBLOCK
        )),
        libc::EAGAIN
    );
    assert_eq!(off, n);

    // Without the flag the call waits for the reader and finishes the file.
    let reader = collect(b);
    let m = zcio::sendfile(&a, &f, Some(&mut off), TO_EOF, FdFlags::empty()).expect("rest");
    drop(a);
    assert_eq!(n + m, bytes.len() as u64);
    assert!(reader.join().expect("join") == bytes);
}

#[test]
fn sendfile_to_a_closed_peer_is_epipe_with_nothing_pending() {
    let d = disk_dir();
    let p = d.path().join("src");
    write_file(&p, &data(1 << 20, 3));
    let f = File::open(&p).expect("open");
    let (a, b) = UnixStream::pair().expect("pair");
    drop(b);
    assert_eq!(
        errno(zcio::sendfile(
            &a,
            &f,
            Some(&mut 0),
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EPIPE
    );
    let (c, s) = tcp_pair();
    drop(s);
    thread::sleep(Duration::from_millis(50));
    let r = zcio::sendfile(&c, &f, Some(&mut 0), TO_EOF, FdFlags::empty());
    let code = r.as_ref().err().map_or(0, |e| e.raw_os_error());
    assert!(matches!(code, libc::EPIPE | libc::ECONNRESET), "{r:?}");
    // SAFETY: sigpending only fills the set.
    let pending = unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigpending(&mut set);
        libc::sigismember(&set, libc::SIGPIPE)
    };
    assert_eq!(pending, 0, "SIGPIPE left pending");
}

#[test]
fn sendfile_from_a_pipe_falls_back() {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    let bytes = data(300_000, 4);
    let wb = bytes.clone();
    let writer = thread::spawn(move || {
        let mut w = File::from(w);
        w.write_all(&wb).expect("write");
    });
    let d = disk_dir();
    let out = File::create(d.path().join("out")).expect("create");
    assert_eq!(
        errno(zcio::sendfile(&out, &r, None, TO_EOF, FdFlags::NO_FALLBACK)),
        libc::EINVAL
    );
    let n = zcio::sendfile(&out, &r, None, TO_EOF, FdFlags::empty()).expect("fallback");
    writer.join().expect("join");
    assert_eq!(n as usize, bytes.len());
    assert!(fs::read(d.path().join("out")).expect("read") == bytes);
}

#[test]
fn splice_socket_to_file_and_file_to_socket() {
    let d = disk_dir();
    let bytes = data(3 * 1024 * 1024 + 5, 5);
    // TCP receive side: socket to file, which sendfile cannot do.
    let (c, s) = tcp_pair();
    let wb = bytes.clone();
    let sender = thread::spawn(move || {
        let mut c = c;
        c.write_all(&wb).expect("send");
    });
    let out = File::create(d.path().join("tcp")).expect("create");
    let mut out_off = 0;
    let n =
        zcio::splice(&s, None, &out, Some(&mut out_off), TO_EOF, FdFlags::empty()).expect("splice");
    sender.join().expect("join");
    assert_eq!(n as usize, bytes.len());
    assert_eq!(out_off as usize, bytes.len());
    assert!(fs::read(d.path().join("tcp")).expect("read") == bytes);

    // Unix stream socket to file, a length limit.
    let (a, b) = UnixStream::pair().expect("pair");
    let wb = bytes.clone();
    let sender = thread::spawn(move || {
        let mut a = a;
        a.write_all(&wb).expect("send");
    });
    let out = File::create(d.path().join("unix")).expect("create");
    let n = zcio::splice(&b, None, &out, None, 1 << 20, FdFlags::empty()).expect("splice");
    assert_eq!(n, 1 << 20);
    let m = zcio::splice(&b, None, &out, None, TO_EOF, FdFlags::empty()).expect("splice");
    sender.join().expect("join");
    assert_eq!((n + m) as usize, bytes.len());
    assert_eq!(fd_offset(&out) as usize, bytes.len());
    assert!(fs::read(d.path().join("unix")).expect("read") == bytes);

    // File to socket, with an offset.
    let src = d.path().join("src");
    write_file(&src, &bytes);
    let f = File::open(&src).expect("open");
    let (c, s) = tcp_pair();
    let reader = collect(s);
    let mut off = 7;
    let n = zcio::splice(&f, Some(&mut off), &c, None, TO_EOF, FdFlags::empty()).expect("splice");
    drop(c);
    assert_eq!(n as usize, bytes.len() - 7);
    assert!(reader.join().expect("join") == bytes[7..]);
    assert_eq!(fd_offset(&f), 0);
}

#[test]
fn splice_pipe_fifo_and_file_to_file() {
    let d = disk_dir();
    let bytes = data(2_000_003, 6);
    // A FIFO fed by another thread.
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let wb = bytes.clone();
    let fp = fifo.clone();
    let writer = thread::spawn(move || {
        let mut w = OpenOptions::new().write(true).open(fp).expect("open fifo");
        w.write_all(&wb).expect("write");
    });
    let r = File::open(&fifo).expect("open fifo");
    let out = File::create(d.path().join("out")).expect("create");
    let n = zcio::splice(&r, None, &out, None, TO_EOF, FdFlags::empty()).expect("splice");
    writer.join().expect("join");
    assert_eq!(n as usize, bytes.len());
    assert!(fs::read(d.path().join("out")).expect("read") == bytes);
    // An offset for a pipe side is refused.
    assert_eq!(
        errno(zcio::splice(
            &r,
            Some(&mut 0),
            &out,
            None,
            1,
            FdFlags::empty()
        )),
        libc::ESPIPE
    );

    // File to file through zcio's pipe, with both offsets.
    let src = d.path().join("src");
    write_file(&src, &bytes);
    let f = File::open(&src).expect("open");
    let g = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(d.path().join("ff"))
        .expect("create");
    let (mut io, mut oo) = (100, 0);
    let n = zcio::splice(
        &f,
        Some(&mut io),
        &g,
        Some(&mut oo),
        TO_EOF,
        FdFlags::empty(),
    )
    .expect("splice");
    assert_eq!(n as usize, bytes.len() - 100);
    assert_eq!((io as usize, oo as usize), (bytes.len(), bytes.len() - 100));
    assert!(fs::read(d.path().join("ff")).expect("read") == bytes[100..]);
    assert!(zcio::testing::thread_pipe_size().expect("pipe") >= 64 * 1024);
}

#[test]
fn splice_failure_part_way_leaves_no_stale_bytes() {
    // The destination fills up while zcio's pipe holds data; the next call on the
    // same thread must deliver only its own bytes.
    let Some(m) = Mount::new("tmpfs", "tmpfs", "size=1m") else {
        return;
    };
    let d = disk_dir();
    let a = d.path().join("a");
    write_file(&a, &data(4 << 20, 7));
    let fa = File::open(&a).expect("open");
    let full = File::create(m.path().join("full")).expect("create");
    let mut io = 0;
    let r = zcio::splice(&fa, Some(&mut io), &full, None, TO_EOF, FdFlags::empty());
    assert_eq!(errno(r), libc::ENOSPC);
    let delivered = fs::metadata(m.path().join("full")).expect("meta").len();
    assert_eq!(
        io, delivered,
        "the source offset shows what reached the destination"
    );

    let b = d.path().join("b");
    let bb = data(500_000, 8);
    write_file(&b, &bb);
    let fb = File::open(&b).expect("open");
    let good = File::create(d.path().join("good")).expect("create");
    let n = zcio::splice(&fb, Some(&mut 0), &good, None, TO_EOF, FdFlags::empty()).expect("splice");
    assert_eq!(n as usize, bb.len());
    assert!(fs::read(d.path().join("good")).expect("read") == bb);
}

#[test]
fn copy_file_range_on_ext4_across_file_systems_and_from_proc() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(3 << 20, 9);
    write_file(&src, &bytes);
    let f = File::open(&src).expect("open");
    let g = File::create(d.path().join("dst")).expect("create");
    let (mut io, mut oo) = (0, 0);
    let n = zcio::copy_file_range(
        &f,
        Some(&mut io),
        &g,
        Some(&mut oo),
        TO_EOF,
        FdFlags::NO_FALLBACK,
    )
    .expect("cfr");
    assert_eq!(n as usize, bytes.len());
    assert_eq!((fd_offset(&f), fd_offset(&g)), (0, 0));
    assert!(fs::read(d.path().join("dst")).expect("read") == bytes);

    // ext4 to tmpfs: the kernel says EXDEV; zcio goes on with read/write.
    if let Some(shm) = shm_dir() {
        let h = File::create(shm.path().join("x")).expect("create");
        assert_eq!(
            errno(zcio::copy_file_range(
                &f,
                Some(&mut 0),
                &h,
                None,
                TO_EOF,
                FdFlags::NO_FALLBACK
            )),
            libc::EXDEV
        );
        let n = zcio::copy_file_range(&f, Some(&mut 0), &h, None, TO_EOF, FdFlags::empty())
            .expect("fallback");
        assert_eq!(n as usize, bytes.len());
        assert!(fs::read(shm.path().join("x")).expect("read") == bytes);
    }

    // /proc files say size 0 and have data.
    for proc in ["/proc/self/status", "/proc/self/maps"] {
        let p = File::open(proc).expect("open proc");
        let out = d.path().join("proc");
        let o = File::create(&out).expect("create");
        let n = zcio::copy_file_range(&p, None, &o, None, TO_EOF, FdFlags::empty()).expect("proc");
        assert!(n > 100, "{proc}: {n}");
        assert_eq!(fs::metadata(&out).expect("meta").len(), n);
    }

    // An O_APPEND destination: the kernel refuses (EBADF); read/write appends.
    let app = d.path().join("append");
    write_file(&app, b"head:");
    let o = OpenOptions::new().append(true).open(&app).expect("open");
    let n =
        zcio::copy_file_range(&f, Some(&mut 0), &o, None, 1000, FdFlags::empty()).expect("append");
    assert_eq!(n, 1000);
    let got = fs::read(&app).expect("read");
    assert!(got[..5] == *b"head:" && got[5..] == bytes[..1000]);
}

fn used_bytes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).expect("statvfs");
    (s.blocks() - s.blocks_free()) * s.fragment_size()
}

fn xfs() -> Option<Mount> {
    Mount::image("xfs", 512, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"])
}

#[test]
fn reflink_on_xfs_shares_blocks_and_ext4_says_no() {
    let Some(m) = xfs() else { return };
    let mp = m.path();
    let src = mp.join("src");
    let bytes = data(64 << 20, 10);
    write_file(&src, &bytes);
    let f = File::open(&src).expect("open");
    let g = File::create(mp.join("clone")).expect("create");
    nix::unistd::sync();
    let before = used_bytes(&mp);
    zcio::reflink(&f, &g).expect("reflink");
    g.sync_all().expect("sync");
    nix::unistd::sync();
    let grew = used_bytes(&mp).saturating_sub(before);
    assert!(grew < 1 << 20, "a clone of 64 MiB used {grew} new bytes");
    assert!(fs::read(mp.join("clone")).expect("read") == bytes);

    // A sparse 5 GiB source: copy_file_range shares its extents, loops past 2 GiB,
    // and the copy stays sparse.
    let sp = mp.join("sparse");
    let s = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&sp)
        .expect("create");
    s.set_len(5 << 30).expect("len");
    nix::sys::uio::pwrite(&s, b"island", 4 << 30).expect("island");
    s.sync_all().expect("sync");
    drop(s);
    let s = File::open(&sp).expect("open");
    let o = File::create(mp.join("sparse.copy")).expect("create");
    let before = used_bytes(&mp);
    let n = zcio::copy_file_range(&s, None, &o, None, TO_EOF, FdFlags::empty()).expect("cfr");
    assert_eq!(n, 5 << 30);
    o.sync_all().expect("sync");
    let grew = used_bytes(&mp).saturating_sub(before);
    assert!(grew < 8 << 20, "the sparse copy used {grew} bytes");
    let mut island = [0u8; 6];
    let o = File::open(mp.join("sparse.copy")).expect("open");
    nix::sys::uio::pread(&o, &mut island, 4 << 30).expect("pread");
    assert_eq!(&island, b"island");

    // ext4 cannot clone: EOPNOTSUPP, the destination untouched.
    let d = disk_dir();
    let a = d.path().join("a");
    write_file(&a, b"abc");
    let b = d.path().join("b");
    write_file(&b, b"old");
    let fa = File::open(&a).expect("open");
    let fb = OpenOptions::new().write(true).open(&b).expect("open");
    assert_eq!(errno(zcio::reflink(&fa, &fb)), libc::EOPNOTSUPP);
    assert_eq!(fs::read(&b).expect("read"), b"old");
    // Across file systems: EXDEV.
    let c = File::create(mp.join("x")).expect("create");
    assert_eq!(errno(zcio::reflink(&fa, &c)), libc::EXDEV);
}

#[test]
fn mmap_copy_survives_a_source_truncated_mid_copy() {
    let d = disk_dir();
    let src = d.path().join("src");
    let size = 64usize << 20;
    write_file(&src, &data(size, 11));
    let f = File::open(&src).expect("open");
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // A slow reader, so that the copy is still running when the file shrinks.
    let reader = thread::spawn(move || {
        let mut r = File::from(r);
        let mut buf = vec![0u8; 65536];
        let mut total = 0usize;
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
            if total < 8 << 20 {
                thread::sleep(Duration::from_millis(2));
            }
        }
        total
    });
    let sp = src.clone();
    let truncer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        let t = OpenOptions::new().write(true).open(sp).expect("open");
        t.set_len(1 << 20).expect("truncate");
    });
    let r = zcio::mmap_copy(&f, Some(&mut 0), &w, TO_EOF, FdFlags::empty());
    drop(w);
    truncer.join().expect("join");
    let got = reader.join().expect("join");
    match r {
        Ok(n) => {
            assert!((n as usize) < size, "the copy ended early: {n}");
            assert_eq!(n as usize, got);
        }
        Err(e) => assert_eq!(e.raw_os_error(), libc::EFAULT),
    }
}

#[test]
fn mmap_copy_file_to_file_and_proc_fallback() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(20 << 20 | 13, 12);
    write_file(&src, &bytes);
    let f = File::open(&src).expect("open");
    let g = File::create(d.path().join("dst")).expect("create");
    let mut off = 3;
    let n = zcio::mmap_copy(&f, Some(&mut off), &g, TO_EOF, FdFlags::empty()).expect("mmap");
    assert_eq!(n as usize, bytes.len() - 3);
    assert!(fs::read(d.path().join("dst")).expect("read") == bytes[3..]);
    // NULL offset: the descriptor's own moves.
    let h = File::create(d.path().join("dst2")).expect("create");
    nix::unistd::lseek(f.as_fd(), 5, nix::unistd::Whence::SeekSet).expect("seek");
    let n = zcio::mmap_copy(&f, None, &h, 100, FdFlags::empty()).expect("mmap");
    assert_eq!(n, 100);
    assert_eq!(fd_offset(&f), 105);
    // /proc cannot be mapped: read/write takes over, unless told not to.
    let p = File::open("/proc/self/status").expect("proc");
    let o = File::create(d.path().join("proc")).expect("create");
    assert!(zcio::mmap_copy(&p, None, &o, TO_EOF, FdFlags::empty()).expect("fallback") > 100);
    assert!(zcio::mmap_copy(&p, Some(&mut 0), &o, TO_EOF, FdFlags::NO_FALLBACK).is_err());
}

#[test]
fn bad_descriptors_and_flags() {
    let d = disk_dir();
    let src = d.path().join("src");
    write_file(&src, b"data");
    let f = File::open(&src).expect("open");
    let dir = File::open(d.path()).expect("dir");
    let ro = File::open(&src).expect("ro");
    let null = OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("null");
    // A directory as source.
    assert!(zcio::sendfile(&null, &dir, None, TO_EOF, FdFlags::empty()).is_err());
    assert!(zcio::copy_file_range(&dir, None, &null, None, TO_EOF, FdFlags::empty()).is_err());
    assert!(zcio::splice(&dir, None, &null, None, TO_EOF, FdFlags::empty()).is_err());
    assert!(zcio::mmap_copy(&dir, None, &null, TO_EOF, FdFlags::empty()).is_err());
    // A read-only descriptor as destination.
    assert_eq!(
        errno(zcio::copy_file_range(
            &f,
            Some(&mut 0),
            &ro,
            None,
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EBADF
    );
    assert_eq!(
        errno(zcio::sendfile(
            &ro,
            &f,
            Some(&mut 0),
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EBADF
    );
    // Offsets the kernel's signed loff_t cannot hold: -1 and -5, as it would see them.
    let (mut minus_1, mut minus_5) = (-1i64 as u64, -5i64 as u64);
    assert_eq!(
        errno(zcio::sendfile(
            &null,
            &f,
            Some(&mut minus_1),
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EINVAL
    );
    assert_eq!(
        errno(zcio::splice(
            &f,
            Some(&mut minus_5),
            &null,
            None,
            1,
            FdFlags::empty()
        )),
        libc::EINVAL
    );
    // Unknown bits and the path copies' flags are no descriptor flags: refused with
    // EINVAL, nothing moved.
    for bad in [1u32 << 20, Flags::FSYNC.bits(), Flags::EXCL.bits()] {
        assert_eq!(FdFlags::from_bits(bad), None, "{bad:#x}");
        let flags = FdFlags::from_bits_retain(bad);
        assert_eq!(
            errno(zcio::sendfile(&null, &f, Some(&mut 0), 1, flags)),
            libc::EINVAL,
            "{bad:#x}"
        );
    }
    // The descriptors are all still open.
    for fd in [
        f.as_raw_fd(),
        dir.as_raw_fd(),
        ro.as_raw_fd(),
        null.as_raw_fd(),
    ] {
        // SAFETY: F_GETFD on a descriptor we own.
        assert!(unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0);
    }
}

#[test]
fn copy_file_with_each_method() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(3 * 1024 * 1024 + 123, 13);
    write_file(&src, &bytes);
    for m in [
        Method::Auto,
        Method::Direct,
        Method::CopyFileRange,
        Method::Sendfile,
        Method::Splice,
        Method::Mmap,
        Method::ReadWrite,
    ] {
        let dst = d.path().join(format!("dst-{m}"));
        let st = Options::new()
            .method(m)
            .copy_file(&src, &dst)
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        assert!(fs::read(&dst).expect("read") == bytes, "{m}");
        assert_eq!(st.bytes as usize, bytes.len(), "{m}");
        let want = if m == Method::Auto {
            Method::CopyFileRange
        } else {
            m
        };
        assert_eq!(st.method, want, "{m}");
        // Auto tries a reflink first, which ext4 cannot do.
        let fell: &[Method] = if m == Method::Auto {
            &[Method::Reflink]
        } else {
            &[]
        };
        assert_eq!(
            st.fallbacks().map(|(m, _)| m).collect::<Vec<_>>(),
            fell,
            "{m}"
        );
    }
    // Reflink on ext4: no, and nothing is created.
    let dst = d.path().join("dst-reflink");
    assert_eq!(
        errno(Options::new().method(Method::Reflink).copy_file(&src, &dst)),
        libc::EOPNOTSUPP
    );
    assert!(!dst.exists());
    // splice_file, and ext4 to tmpfs by copy_file_range (falls back, says so).
    zcio::splice_file(&src, d.path().join("spliced")).expect("splice_file");
    assert!(fs::read(d.path().join("spliced")).expect("read") == bytes);
    if let Some(shm) = shm_dir() {
        let o = Options::new().method(Method::CopyFileRange);
        let st = o.copy_file(&src, shm.path().join("x")).expect("cross");
        assert_eq!(st.method, Method::ReadWrite);
        assert_eq!(
            st.fallbacks().collect::<Vec<_>>(),
            [(Method::CopyFileRange, libc::EXDEV)]
        );
        assert_eq!(
            errno(o.fallback(false).copy_file(&src, shm.path().join("y"))),
            libc::EXDEV
        );
        assert!(!shm.path().join("y").exists());
    }
}

/// A call from a file to a socket, at the file's own offset or an explicit one.
type ToSocket = fn(&File, Option<&mut u64>, &UnixStream, FdFlags) -> zcio::Result<u64>;

/// With nobody reading a non-blocking socket, `call` under ZC_F_NONBLOCK returns at
/// once with what the socket took (bytes read but not taken go back to the file's
/// offset), then EAGAIN; a reader then gets every byte once, in order.
fn check_nonblock_to_a_full_socket(name: &str, call: ToSocket) {
    let d = disk_dir();
    let p = d.path().join("src");
    let bytes = data(8 << 20, 81);
    write_file(&p, &bytes);
    for explicit in [true, false] {
        let f = File::open(&p).expect("open");
        let (a, b) = UnixStream::pair().expect("pair");
        a.set_nonblocking(true).expect("nonblock");
        // A slow reader: it starts when told to, or after 2 s (a call that waits
        // for it then ends, late, instead of hanging the test).
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let reader = thread::spawn(move || {
            let _ = wait.recv_timeout(Duration::from_secs(2));
            let mut b = b;
            let mut v = Vec::new();
            b.read_to_end(&mut v).expect("read");
            v
        });
        let mut off = 0u64;
        let mut run = |flags| {
            if explicit {
                call(&f, Some(&mut off), &a, flags)
            } else {
                call(&f, None, &a, flags)
            }
        };
        let start = std::time::Instant::now();
        let n = run(FdFlags::NONBLOCK).expect("partial");
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "{name}: blocked {took:?} with nobody reading"
        );
        assert!(n > 0 && n < bytes.len() as u64, "{name}: moved {n}");
        assert_eq!(errno(run(FdFlags::NONBLOCK)), libc::EAGAIN, "{name}");
        let pos = if explicit { off } else { fd_offset(&f) };
        assert_eq!(
            pos, n,
            "{name}: the source's offset is where the socket stopped"
        );
        // The reader drains it; the rest follows without the flag.
        go.send(()).expect("go");
        let m = if explicit {
            call(&f, Some(&mut off), &a, FdFlags::empty())
        } else {
            call(&f, None, &a, FdFlags::empty())
        }
        .expect("rest");
        drop(a);
        let sent = reader.join().expect("join");
        assert_eq!(n + m, bytes.len() as u64, "{name}");
        assert!(
            sent == bytes,
            "{name}: the socket got other bytes than the file's"
        );
        report(
            "check_nonblock_to_a_full_socket",
            "ext4 -> unix socket",
            &format!(
                "{name}, {}",
                if explicit {
                    "explicit offset"
                } else {
                    "the fd's own offset"
                }
            ),
            &format!(
                "returned {n} bytes after {:.1} ms, then EAGAIN",
                took.as_secs_f64() * 1e3
            ),
        );
    }
}

#[test]
fn splice_to_a_nonblocking_socket_honours_nonblock() {
    // File to socket goes through zcio's pipe: what the pipe holds when the socket
    // is full goes back to the file, as zc_sendfile leaves it.
    check_nonblock_to_a_full_socket("splice", |f, off, s, fl| {
        zcio::splice(f, off, s, None, TO_EOF, fl)
    });
}

#[test]
fn read_write_fallback_to_a_nonblocking_socket_honours_nonblock() {
    // copy_file_range cannot write to a socket: its read/write fallback stops at
    // the full socket too. sendfile and mmap_copy, for comparison.
    check_nonblock_to_a_full_socket("copy_file_range", |f, off, s, fl| {
        zcio::copy_file_range(f, off, s, None, TO_EOF, fl)
    });
    check_nonblock_to_a_full_socket("sendfile", |f, off, s, fl| {
        zcio::sendfile(s, f, off, TO_EOF, fl)
    });
    check_nonblock_to_a_full_socket("mmap_copy", |f, off, s, fl| {
        zcio::mmap_copy(f, off, s, TO_EOF, fl)
    });
}

#[test]
fn overlapping_ranges_on_one_descriptor_are_einval() {
    // copy_file_range(2) refuses overlapping ranges of one file with EINVAL; a
    // forward read/write loop would read back bytes it had just overwritten.
    let d = disk_dir();
    let p = d.path().join("f");
    let bytes = data(2 << 20, 82);
    write_file(&p, &bytes);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .expect("open");
    let g = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .expect("open again");
    type Call = fn(&File, Option<&mut u64>, &File, Option<&mut u64>, u64) -> zcio::Result<u64>;
    let calls: [(&str, Call); 2] = [
        ("copy_file_range", |a, i, b, o, n| {
            zcio::copy_file_range(a, i, b, o, n, FdFlags::empty())
        }),
        ("splice", |a, i, b, o, n| {
            zcio::splice(a, i, b, o, n, FdFlags::empty())
        }),
    ];
    for (name, call) in calls {
        for (from, to) in [(0u64, 4096u64), (4096, 0), (0, 0)] {
            let (mut i, mut o) = (from, to);
            let r = call(&f, Some(&mut i), &f, Some(&mut o), 1 << 20);
            assert_eq!(errno(r), libc::EINVAL, "{name} {from}->{to}");
            assert_eq!((i, o), (from, to), "{name}: offsets moved");
            // Two descriptors of the same file are the same file.
            let (mut i, mut o) = (from, to);
            assert_eq!(
                errno(call(&f, Some(&mut i), &g, Some(&mut o), 1 << 20)),
                libc::EINVAL,
                "{name} {from}->{to}, two descriptors"
            );
        }
        assert!(
            fs::read(&p).expect("read") == bytes,
            "{name}: the file changed"
        );
        // Ranges that do not overlap are copied, exactly once.
        let (mut i, mut o) = (0u64, 1 << 20);
        let n = call(&f, Some(&mut i), &f, Some(&mut o), 1 << 20).expect(name);
        assert_eq!((n, i, o), (1 << 20, 1 << 20, 2 << 20));
        let mut want = bytes.clone();
        want.copy_within(..1 << 20, 1 << 20);
        assert!(
            fs::read(&p).expect("read") == want,
            "{name}: non-overlapping copy"
        );
        write_file(&p, &bytes);
        // To end of file onto its own end: the file as it was at the start, once,
        // not the bytes the copy itself appended.
        let (mut i, mut o) = (0u64, bytes.len() as u64);
        let n = call(&f, Some(&mut i), &f, Some(&mut o), TO_EOF).expect(name);
        assert_eq!(n, bytes.len() as u64, "{name}: copied onto its own end");
        let mut twice = bytes.clone();
        twice.extend_from_slice(&bytes);
        assert!(
            fs::read(&p).expect("read") == twice,
            "{name}: to end of file"
        );
        write_file(&p, &bytes);
    }
    // The descriptors' own offsets count too: both at 0 on one descriptor overlap.
    assert_eq!(
        errno(zcio::copy_file_range(
            &f,
            None,
            &f,
            None,
            4096,
            FdFlags::empty()
        )),
        libc::EINVAL
    );
    assert_eq!(fd_offset(&f), 0);
}

#[test]
fn explicit_out_off_into_an_o_append_descriptor_is_einval() {
    // Writes to an O_APPEND descriptor go to the end of file whatever offset they
    // are given: an explicit out_off cannot hold, so it is refused and nothing moves.
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(1 << 20, 83);
    write_file(&src, &bytes);
    let dst = d.path().join("dst");
    let old = data(10_000, 84);
    write_file(&dst, &old);
    let s = File::open(&src).expect("src");
    let a = OpenOptions::new().append(true).open(&dst).expect("append");
    let (mut i, mut o) = (0u64, 0u64);
    assert_eq!(
        errno(zcio::copy_file_range(
            &s,
            Some(&mut i),
            &a,
            Some(&mut o),
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EINVAL
    );
    assert_eq!(
        errno(zcio::splice(
            &s,
            Some(&mut i),
            &a,
            Some(&mut o),
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EINVAL
    );
    assert_eq!((i, o), (0, 0));
    assert!(
        fs::read(&dst).expect("read") == old,
        "the destination changed"
    );
    // Without an offset the data is appended, as write(2) does, and the
    // descriptor's own offset says where it ended.
    let n = zcio::copy_file_range(&s, Some(&mut i), &a, None, TO_EOF, FdFlags::empty())
        .expect("append");
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(fd_offset(&a), (old.len() + bytes.len()) as u64);
    let mut want = old.clone();
    want.extend_from_slice(&bytes);
    assert!(fs::read(&dst).expect("read") == want);
}

#[test]
fn reflink_with_a_pipe_is_einval() {
    // The kernel checks the mount before the file type and says EXDEV for a pipe;
    // zcio's contract for files that are not both regular is EINVAL.
    let d = disk_dir();
    let p = d.path().join("f");
    write_file(&p, b"data");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .expect("open");
    let (r, w) = nix::unistd::pipe().expect("pipe");
    assert_eq!(errno(zcio::reflink(&r, &f)), libc::EINVAL, "pipe to file");
    assert_eq!(errno(zcio::reflink(&f, &w)), libc::EINVAL, "file to pipe");
    let dir = File::open(d.path()).expect("dir");
    assert_eq!(errno(zcio::reflink(&dir, &f)), libc::EISDIR, "directory");
    assert_eq!(fs::read(&p).expect("read"), b"data");
}
