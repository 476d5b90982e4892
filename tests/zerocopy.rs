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

// ---- Moved from the C suite (test_zerocopy.c, test_hardening.c). Each runs on
// ext4 and tmpfs, as the C program did, under a watchdog.

#[path = "common/streams.rs"]
mod streams;

use streams::{MED, bytes, contents, mkfile, reset, rw_new, seek};

const WATCHDOG: Duration = Duration::from_secs(120);

/// Runs `f` once for a scratch directory on ext4 and once on tmpfs, each under
/// the watchdog.
fn on_disk_and_shm(what: &'static str, f: fn(&Path)) {
    for d in disk_and_shm() {
        let p = d.path().to_path_buf();
        within(WATCHDOG, what, move || f(&p));
        assert_eq!(extra_entries(d.path(), &[]), Vec::<String>::new(), "{what}");
    }
}

#[test]
fn file_to_file_offsets_for_each_call() {
    on_disk_and_shm("file to file", |dir| {
        let src = mkfile(dir, "src", 0, MED);
        let f = File::open(&src).expect("open");
        let out = rw_new(&dir.join("dst"));
        let b = bytes();
        let m = MED as u64;

        // sendfile: an explicit offset moves, the source descriptor's does not,
        // the destination's own advances.
        seek(&f, 7);
        let mut off = 100;
        assert_eq!(
            zcio::sendfile(&out, &f, Some(&mut off), TO_EOF, FdFlags::empty()).expect("sf"),
            m - 100
        );
        assert_eq!((off, fd_offset(&f), fd_offset(&out)), (m, 7, m - 100));
        assert!(contents(&out) == b[100..MED]);
        // No offset: the descriptor's, a count then the rest.
        reset(&out);
        seek(&f, 1000);
        assert_eq!(
            zcio::sendfile(&out, &f, None, 5000, FdFlags::empty()).expect("sf"),
            5000
        );
        assert_eq!(fd_offset(&f), 6000);
        assert_eq!(
            zcio::sendfile(&out, &f, None, TO_EOF, FdFlags::empty()).expect("sf"),
            m - 6000
        );
        assert_eq!(fd_offset(&f), m);
        assert!(contents(&out) == b[1000..MED]);
        // A count with an offset; then at the end, past it, and count 0.
        reset(&out);
        let mut off = 0;
        assert_eq!(
            zcio::sendfile(&out, &f, Some(&mut off), 12345, FdFlags::empty()).expect("sf"),
            12345
        );
        assert_eq!(off, 12345);
        for (start, count) in [(m, TO_EOF), (m + 10, 100), (5, 0)] {
            let mut off = start;
            assert_eq!(
                zcio::sendfile(&out, &f, Some(&mut off), count, FdFlags::empty()).expect("sf"),
                0,
                "sendfile at {start}, count {count}"
            );
            assert_eq!(off, start);
        }
        assert!(contents(&out) == b[..12345]);

        // splice with both offsets: both advance, neither descriptor moves, and
        // the gap before the output offset is zeros.
        reset(&out);
        seek(&f, 9);
        let (mut io, mut oo) = (10, 20);
        assert_eq!(
            zcio::splice(
                &f,
                Some(&mut io),
                &out,
                Some(&mut oo),
                TO_EOF,
                FdFlags::empty()
            )
            .expect("splice"),
            m - 10
        );
        assert_eq!(
            (io, oo, fd_offset(&f), fd_offset(&out)),
            (m, 20 + m - 10, 9, 0)
        );
        let mut want = vec![0u8; 20];
        want.extend_from_slice(&b[10..MED]);
        assert!(contents(&out) == want);
        // No offsets: the descriptors' own, a length then the rest, then the end.
        reset(&out);
        seek(&f, 5);
        assert_eq!(
            zcio::splice(&f, None, &out, None, 4097, FdFlags::empty()).expect("splice"),
            4097
        );
        assert_eq!((fd_offset(&f), fd_offset(&out)), (5 + 4097, 4097));
        assert_eq!(
            zcio::splice(&f, None, &out, None, TO_EOF, FdFlags::empty()).expect("splice"),
            m - 5 - 4097
        );
        assert_eq!((fd_offset(&f), fd_offset(&out)), (m, m - 5));
        assert!(contents(&out) == b[5..MED]);
        assert_eq!(
            zcio::splice(&f, None, &out, None, TO_EOF, FdFlags::empty()).expect("splice"),
            0
        );
        let mut io = 0;
        assert_eq!(
            zcio::splice(&f, Some(&mut io), &out, None, 0, FdFlags::empty()).expect("splice"),
            0
        );
        assert_eq!(io, 0);

        // copy_file_range, both ways.
        reset(&out);
        seek(&f, 11);
        let (mut io, mut oo) = (3, 0);
        assert_eq!(
            zcio::copy_file_range(
                &f,
                Some(&mut io),
                &out,
                Some(&mut oo),
                TO_EOF,
                FdFlags::empty()
            )
            .expect("cfr"),
            m - 3
        );
        assert_eq!((io, oo, fd_offset(&f), fd_offset(&out)), (m, m - 3, 11, 0));
        assert!(contents(&out) == b[3..MED]);
        reset(&out);
        seek(&f, 4096);
        assert_eq!(
            zcio::copy_file_range(&f, None, &out, None, 777, FdFlags::empty()).expect("cfr"),
            777
        );
        assert_eq!((fd_offset(&f), fd_offset(&out)), (4096 + 777, 777));
        assert_eq!(
            zcio::copy_file_range(&f, None, &out, None, TO_EOF, FdFlags::empty()).expect("cfr"),
            m - 4096 - 777
        );
        assert_eq!((fd_offset(&f), fd_offset(&out)), (m, m - 4096));
        assert!(contents(&out) == b[4096..MED]);
        assert_eq!(
            zcio::copy_file_range(&f, None, &out, None, TO_EOF, FdFlags::empty()).expect("cfr"),
            0
        );

        // The mmap copy: an explicit offset leaves the source descriptor alone and
        // writes at the destination's own offset.
        reset(&out);
        seek(&f, 9);
        let mut io = 5;
        assert_eq!(
            zcio::mmap_copy(&f, Some(&mut io), &out, TO_EOF, FdFlags::empty()).expect("mmap"),
            m - 5
        );
        assert_eq!((io, fd_offset(&f), fd_offset(&out)), (m, 9, m - 5));
        assert!(contents(&out) == b[5..MED]);
        reset(&out);
        seek(&f, 100);
        assert_eq!(
            zcio::mmap_copy(&f, None, &out, 1000, FdFlags::empty()).expect("mmap"),
            1000
        );
        assert_eq!(fd_offset(&f), 1100);
        assert_eq!(
            zcio::mmap_copy(&f, None, &out, TO_EOF, FdFlags::empty()).expect("mmap"),
            m - 1100
        );
        assert_eq!(fd_offset(&f), m);
        assert!(contents(&out) == b[100..MED]);
        assert_eq!(
            zcio::mmap_copy(&f, None, &out, TO_EOF, FdFlags::empty()).expect("mmap"),
            0
        );
        let mut io = m + 4096;
        assert_eq!(
            zcio::mmap_copy(&f, Some(&mut io), &out, TO_EOF, FdFlags::empty()).expect("mmap"),
            0
        );
        assert_eq!(io, m + 4096);
        // An empty source.
        let e = File::open(mkfile(dir, "empty", 0, 0)).expect("open");
        reset(&out);
        assert_eq!(
            zcio::mmap_copy(&e, None, &out, TO_EOF, FdFlags::empty()).expect("mmap"),
            0
        );
        assert_eq!(out.metadata().expect("meta").len(), 0);
        assert!(is_open(f.as_raw_fd()) && is_open(out.as_raw_fd()));
        for n in ["src", "dst", "empty"] {
            fs::remove_file(dir.join(n)).expect("rm");
        }
    });
}

#[test]
fn proc_sources_for_each_call() {
    on_disk_and_shm("/proc sources", |dir| {
        let out = rw_new(&dir.join("dst"));
        type Call = fn(&File, &File) -> zcio::Result<u64>;
        let calls: [(&str, Call); 3] = [
            ("sendfile", |p, o| {
                zcio::sendfile(o, p, None, TO_EOF, FdFlags::empty())
            }),
            ("copy_file_range", |p, o| {
                zcio::copy_file_range(p, None, o, None, TO_EOF, FdFlags::empty())
            }),
            ("mmap_copy", |p, o| {
                zcio::mmap_copy(p, None, o, TO_EOF, FdFlags::empty())
            }),
        ];
        for (name, call) in calls {
            let p = File::open("/proc/self/status").expect("proc");
            reset(&out);
            let n = call(&p, &out).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(n > 5, "{name}: {n}");
            assert_eq!(out.metadata().expect("meta").len(), n, "{name}");
            assert_eq!(fd_offset(&p), n, "{name}: the source offset");
            assert!(contents(&out).starts_with(b"Name:"), "{name}");
        }
        let p = File::open("/proc/self/status").expect("proc");
        reset(&out);
        let mut io = 0;
        let n = zcio::copy_file_range(&p, Some(&mut io), &out, None, TO_EOF, FdFlags::empty())
            .expect("cfr");
        assert!(n > 5);
        assert_eq!(io, n);
        assert!(contents(&out).starts_with(b"Name:"));
        fs::remove_file(dir.join("dst")).expect("rm");
    });
}

#[test]
fn bad_offsets_change_nothing() {
    on_disk_and_shm("bad offsets", |dir| {
        let f = File::open(mkfile(dir, "src", 0, 10000)).expect("open");
        let out = rw_new(&dir.join("dst"));
        let e = FdFlags::empty();
        // Offsets the kernel's signed loff_t cannot hold: as it would see them,
        // negative.
        for v in [-1i64, -4096, i64::MIN] {
            let v = v as u64;
            let (mut a, mut b) = (v, 0);
            assert_eq!(
                errno(zcio::sendfile(&out, &f, Some(&mut a), 100, e)),
                libc::EINVAL
            );
            assert_eq!(a, v);
            assert_eq!(
                errno(zcio::splice(&f, Some(&mut a), &out, None, 100, e)),
                libc::EINVAL
            );
            assert_eq!(a, v);
            assert_eq!(
                errno(zcio::splice(&f, Some(&mut b), &out, Some(&mut a), 100, e)),
                libc::EINVAL
            );
            assert_eq!((a, b), (v, 0));
            assert_eq!(
                errno(zcio::copy_file_range(&f, Some(&mut a), &out, None, 100, e)),
                libc::EINVAL
            );
            assert_eq!(a, v);
            assert_eq!(
                errno(zcio::copy_file_range(
                    &f,
                    Some(&mut b),
                    &out,
                    Some(&mut a),
                    100,
                    e
                )),
                libc::EINVAL
            );
            assert_eq!((a, b), (v, 0));
            assert_eq!(
                errno(zcio::mmap_copy(&f, Some(&mut a), &out, 100, e)),
                libc::EINVAL
            );
            assert_eq!(a, v);
        }
        assert_eq!(fd_offset(&f), 0);
        assert_eq!(out.metadata().expect("meta").len(), 0);
        // A pipe has no offset: ESPIPE on either side, and nothing moved.
        let (r, w) = streams::pipe();
        (&w).write_all(b"hello").expect("write");
        let mut po = 0;
        assert_eq!(
            errno(zcio::splice(&r, Some(&mut po), &out, None, 5, e)),
            libc::ESPIPE
        );
        assert_eq!(po, 0);
        let (mut io, mut po) = (0, 0);
        assert_eq!(
            errno(zcio::splice(&f, Some(&mut io), &w, Some(&mut po), 5, e)),
            libc::ESPIPE
        );
        assert_eq!((io, po), (0, 0));
        assert_eq!(out.metadata().expect("meta").len(), 0);
        assert_eq!(streams::drain_now(&r), b"hello");
        assert!(is_open(r.as_raw_fd()) && is_open(w.as_raw_fd()));
        fs::remove_file(dir.join("src")).expect("rm");
        fs::remove_file(dir.join("dst")).expect("rm");
    });
}

#[test]
fn wrong_access_mode_descriptors() {
    on_disk_and_shm("access modes", |dir| {
        let src = mkfile(dir, "src", 0, 10000);
        let dst = mkfile(dir, "dst", 500, 300);
        let f = File::open(&src).expect("open");
        let out = OpenOptions::new().write(true).open(&dst).expect("open");
        let wo = OpenOptions::new()
            .write(true)
            .open(&src)
            .expect("write-only");
        let ro = File::open(&dst).expect("read-only");
        let e = FdFlags::empty();
        for explicit in [true, false] {
            let mut o = [0u64; 8];
            let [a, b, c, d, g, h, i, j] = &mut o;
            let off = |x| explicit.then_some(x);
            let r = [
                errno(zcio::sendfile(&out, &wo, off(a), 100, e)),
                errno(zcio::splice(&wo, off(b), &out, None, 100, e)),
                errno(zcio::copy_file_range(&wo, off(c), &out, None, 100, e)),
                errno(zcio::mmap_copy(&wo, off(d), &out, 100, e)),
                errno(zcio::sendfile(&ro, &f, off(g), 100, e)),
                errno(zcio::splice(&f, off(h), &ro, None, 100, e)),
                errno(zcio::copy_file_range(&f, off(i), &ro, None, 100, e)),
                errno(zcio::mmap_copy(&f, off(j), &ro, 100, e)),
            ];
            assert_eq!(r, [libc::EBADF; 8], "explicit offsets: {explicit}");
            assert_eq!(o, [0; 8], "an offset moved with nothing moved");
        }
        assert_eq!(errno(zcio::reflink(&wo, &out)), libc::EBADF);
        assert_eq!(errno(zcio::reflink(&f, &ro)), libc::EBADF);
        assert_eq!((fd_offset(&f), fd_offset(&out), fd_offset(&wo)), (0, 0, 0));
        assert!(fs::read(&dst).expect("read") == bytes()[500..800]);
        assert!(fs::read(&src).expect("read") == bytes()[..10000]);
        for fd in [&f, &out, &wo, &ro] {
            assert!(is_open(fd.as_raw_fd()));
        }
        fs::remove_file(&src).expect("rm");
        fs::remove_file(&dst).expect("rm");
    });
}

#[test]
fn directory_descriptors() {
    on_disk_and_shm("directories", |dir| {
        let src = mkfile(dir, "src", 0, 10000);
        let f = File::open(&src).expect("open");
        let out = rw_new(&dir.join("dst"));
        let d = File::open(dir).expect("open dir");
        let e = FdFlags::empty();
        let mut o = [0u64; 7];
        let [o0, o1, o2, o3, o4, o5, o6] = &mut o;
        let r = [
            errno(zcio::sendfile(&d, &f, Some(o0), 100, e)),
            errno(zcio::sendfile(&out, &d, Some(o1), 100, e)),
            errno(zcio::splice(&d, None, &out, Some(o2), 100, e)),
            errno(zcio::splice(&f, Some(o3), &d, None, 100, e)),
            errno(zcio::copy_file_range(&d, None, &out, Some(o4), 100, e)),
            errno(zcio::copy_file_range(&f, Some(o5), &d, None, 100, e)),
            errno(zcio::mmap_copy(&d, None, &out, 100, e)),
            errno(zcio::mmap_copy(&f, Some(o6), &d, 100, e)),
            errno(zcio::reflink(&d, &out)),
            errno(zcio::reflink(&f, &d)),
        ];
        for (i, e) in r.iter().enumerate() {
            assert!((1..4096).contains(e), "call {i}: errno {e}");
        }
        assert_eq!(o, [0; 7]);
        assert_eq!(fd_offset(&f), 0);
        assert_eq!(out.metadata().expect("meta").len(), 0);
        for fd in [&f, &out, &d] {
            assert!(is_open(fd.as_raw_fd()));
        }
        fs::remove_file(&src).expect("rm");
        fs::remove_file(dir.join("dst")).expect("rm");
    });
}

#[test]
fn streams_to_and_from_files() {
    on_disk_and_shm("streams", |dir| {
        let b = bytes();
        let m = MED as u64;
        let no = Duration::ZERO;
        let f = File::open(mkfile(dir, "src", 0, MED)).expect("open");
        let e = FdFlags::empty();

        // sendfile file -> pipe, with an offset: the pipe end stays open.
        let (r, w) = streams::pipe();
        let got = streams::reader(r, 65536, no);
        let mut off = 3;
        assert_eq!(
            zcio::sendfile(&w, &f, Some(&mut off), TO_EOF, e).expect("sf"),
            m - 3
        );
        assert_eq!((off, fd_offset(&f)), (m, 0));
        assert!(is_open(w.as_raw_fd()));
        drop(w);
        assert!(got.join().expect("reader") == b[3..MED]);

        // sendfile file -> Unix socket, the descriptor's offset: a count, the rest.
        let (a, s) = streams::unix_pair(0);
        let got = streams::reader(s, 65536, no);
        assert_eq!(zcio::sendfile(&a, &f, None, 70000, e).expect("sf"), 70000);
        assert_eq!(fd_offset(&f), 70000);
        assert_eq!(
            zcio::sendfile(&a, &f, None, TO_EOF, e).expect("sf"),
            m - 70000
        );
        assert_eq!(fd_offset(&f), m);
        a.shutdown(std::net::Shutdown::Write).expect("shutdown");
        assert!(got.join().expect("reader") == b[..MED]);
        assert!(is_open(a.as_raw_fd()));

        // splice file -> pipe, with an offset.
        let (r, w) = streams::pipe();
        let got = streams::reader(r, 65536, no);
        let mut io = 1;
        assert_eq!(
            zcio::splice(&f, Some(&mut io), &w, None, TO_EOF, e).expect("sp"),
            m - 1
        );
        assert_eq!(io, m);
        drop(w);
        assert!(got.join().expect("reader") == b[1..MED]);

        // splice TCP -> file with an output offset and a slow writer: the
        // destination descriptor's offset stays where it was.
        let out = rw_new(&dir.join("dst"));
        let (c, s) = streams::tcp_pair();
        let wr = streams::writer(c, &b[..MED], 100 * 1024, Duration::from_micros(200), |c| {
            c.shutdown(std::net::Shutdown::Write).expect("shutdown")
        });
        let mut oo = 0;
        assert_eq!(
            zcio::splice(&s, None, &out, Some(&mut oo), TO_EOF, e).expect("sp"),
            m
        );
        assert_eq!((oo, fd_offset(&out)), (m, 0));
        wr.join().expect("writer");
        assert!(contents(&out) == b[..MED]);

        // splice TCP -> file with a length: that much, then the rest.
        reset(&out);
        let (c, s) = streams::tcp_pair();
        let wr = streams::writer(c, &b[..MED], 256 * 1024, no, |c| {
            c.shutdown(std::net::Shutdown::Write).expect("shutdown")
        });
        assert_eq!(
            zcio::splice(&s, None, &out, None, 1000, e).expect("sp"),
            1000
        );
        assert_eq!(fd_offset(&out), 1000);
        assert!(contents(&out) == b[..1000]);
        assert_eq!(
            zcio::splice(&s, None, &out, None, TO_EOF, e).expect("sp"),
            m - 1000
        );
        wr.join().expect("writer");
        assert!(contents(&out) == b[..MED]);

        // splice pipe -> file at output offset 3: three zeros, then the data.
        reset(&out);
        let (r, w) = streams::pipe();
        let wr = streams::writer(w, &b[..MED], 256 * 1024, no, |_| {});
        let mut oo = 3;
        assert_eq!(
            zcio::splice(&r, None, &out, Some(&mut oo), TO_EOF, e).expect("sp"),
            m
        );
        assert_eq!(oo, m + 3);
        wr.join().expect("writer");
        let mut want = vec![0u8; 3];
        want.extend_from_slice(&b[..MED]);
        assert!(contents(&out) == want);

        // The mmap copy file -> pipe: an offset and a count, then the rest.
        let (r, w) = streams::pipe();
        let got = streams::reader(r, 65536, no);
        let mut io = 1;
        assert_eq!(
            zcio::mmap_copy(&f, Some(&mut io), &w, 70001, e).expect("mm"),
            70001
        );
        assert_eq!(io, 70002);
        seek(&f, io);
        assert_eq!(
            zcio::mmap_copy(&f, None, &w, TO_EOF, e).expect("mm"),
            m - 70002
        );
        assert_eq!(fd_offset(&f), m);
        assert!(is_open(w.as_raw_fd()));
        drop(w);
        assert!(got.join().expect("reader") == b[1..MED]);
        fs::remove_file(dir.join("src")).expect("rm");
        fs::remove_file(dir.join("dst")).expect("rm");
    });
}

/// A non-blocking socket with a small send buffer and a slow reader.
fn sendfile_waits_on(
    snd: impl AsFd + std::os::fd::AsRawFd,
    rcv: impl Read + Send + 'static,
    f: &File,
) {
    streams::set_nonblocking(&snd);
    let got = streams::reader(rcv, 16 * 1024, Duration::from_micros(500));
    let mut off = 0;
    let n = zcio::sendfile(&snd, f, Some(&mut off), TO_EOF, FdFlags::empty()).expect("sendfile");
    assert_eq!((n, off), (MED as u64, MED as u64));
    nix::sys::socket::shutdown(snd.as_raw_fd(), nix::sys::socket::Shutdown::Write).expect("shut");
    assert!(got.join().expect("reader") == bytes()[..MED]);
}

/// NONBLOCK with nobody reading: part of the file, then EAGAIN with nothing
/// moved (explicit offset or the descriptor's); then the rest, waited for.
fn sendfile_partial_on(
    snd: impl AsFd + std::os::fd::AsRawFd,
    rcv: impl Read + Send + 'static,
    f: &File,
) {
    streams::set_nonblocking(&snd);
    seek(f, 0);
    let nb = FdFlags::NONBLOCK;
    let mut off = 0;
    let n1 = zcio::sendfile(&snd, f, Some(&mut off), TO_EOF, nb).expect("partial");
    assert!(n1 > 0 && n1 < MED as u64, "moved {n1}");
    assert_eq!(off, n1);
    assert_eq!(
        errno(zcio::sendfile(&snd, f, Some(&mut off), TO_EOF, nb)),
        libc::EAGAIN
    );
    assert_eq!((off, fd_offset(f)), (n1, 0));
    seek(f, n1);
    assert_eq!(
        errno(zcio::sendfile(&snd, f, None, TO_EOF, nb)),
        libc::EAGAIN
    );
    assert_eq!(fd_offset(f), n1);
    let got = streams::reader(rcv, 65536, Duration::ZERO);
    let n2 = zcio::sendfile(&snd, f, None, TO_EOF, FdFlags::empty()).expect("rest");
    assert_eq!(n2, MED as u64 - n1);
    assert_eq!(fd_offset(f), MED as u64);
    assert!(is_open(snd.as_raw_fd()));
    nix::sys::socket::shutdown(snd.as_raw_fd(), nix::sys::socket::Shutdown::Write).expect("shut");
    assert!(
        got.join().expect("reader") == bytes()[..MED],
        "the reader saw the file once"
    );
}

#[test]
fn nonblocking_sockets() {
    on_disk_and_shm("non-blocking sockets", |dir| {
        let f = File::open(mkfile(dir, "src", 0, MED)).expect("open");
        let (a, b) = streams::unix_pair(4096);
        sendfile_waits_on(a, b, &f);
        let (c, s) = streams::tcp_pair_sized(16 * 1024, 64 * 1024);
        sendfile_waits_on(c, s, &f);
        let (a, b) = streams::unix_pair(4096);
        sendfile_partial_on(a, b, &f);
        let (c, s) = streams::tcp_pair_sized(16 * 1024, 64 * 1024);
        sendfile_partial_on(c, s, &f);

        // splice from a non-blocking TCP socket: EAGAIN with NONBLOCK and no data;
        // without it, waits for a slow writer and moves everything.
        let out = rw_new(&dir.join("dst"));
        let (c, s) = streams::tcp_pair();
        streams::set_nonblocking(&s);
        assert_eq!(
            errno(zcio::splice(
                &s,
                None,
                &out,
                None,
                TO_EOF,
                FdFlags::NONBLOCK
            )),
            libc::EAGAIN
        );
        let wr = streams::writer(
            c,
            &bytes()[..MED],
            64 * 1024,
            Duration::from_micros(500),
            |c| c.shutdown(std::net::Shutdown::Write).expect("shutdown"),
        );
        let n = zcio::splice(&s, None, &out, None, TO_EOF, FdFlags::empty()).expect("splice");
        wr.join().expect("writer");
        assert_eq!(n, MED as u64);
        assert!(contents(&out) == bytes()[..MED]);
        fs::remove_file(dir.join("src")).expect("rm");
        fs::remove_file(dir.join("dst")).expect("rm");
    });
}

#[test]
fn sendfile_from_a_pipe_takes_no_more_than_asked() {
    on_disk_and_shm("sendfile from a pipe", |dir| {
        let out = rw_new(&dir.join("dst"));
        let (r, w) = streams::pipe();
        (&w).write_all(&bytes()[..5000]).expect("write");
        assert_eq!(
            zcio::sendfile(&out, &r, None, 1000, FdFlags::empty()).expect("sf"),
            1000
        );
        assert!(contents(&out) == bytes()[..1000]);
        assert!(streams::drain_now(&r) == bytes()[1000..5000]);
        // NO_FALLBACK: the kernel's EINVAL, nothing taken from the pipe.
        reset(&out);
        (&w).write_all(&bytes()[..3000]).expect("write");
        assert_eq!(
            errno(zcio::sendfile(&out, &r, None, TO_EOF, FdFlags::NO_FALLBACK)),
            libc::EINVAL
        );
        assert_eq!(out.metadata().expect("meta").len(), 0);
        assert_eq!(streams::drain_now(&r).len(), 3000);
        assert!(is_open(r.as_raw_fd()) && is_open(w.as_raw_fd()));
        fs::remove_file(dir.join("dst")).expect("rm");
    });
}

#[test]
fn epipe_from_every_stream_call() {
    on_disk_and_shm("EPIPE", streams::epipe_round);
}

#[test]
fn o_append_destinations() {
    on_disk_and_shm("O_APPEND", |dir| {
        let b = bytes();
        let f = File::open(mkfile(dir, "src", 0, MED)).expect("open");
        let app = dir.join("append");
        write_file(&app, &b[500..800]);
        let o = OpenOptions::new().append(true).open(&app).expect("open");
        let mut io = 0;
        let n = zcio::copy_file_range(&f, Some(&mut io), &o, None, 100_000, FdFlags::empty())
            .expect("cfr");
        assert_eq!((n, io), (100_000, 100_000));
        let mut io = 0;
        let n = zcio::sendfile(&o, &f, Some(&mut io), TO_EOF, FdFlags::empty()).expect("sf");
        assert_eq!((n, io), (MED as u64, MED as u64));
        let mut want = b[500..800].to_vec();
        want.extend_from_slice(&b[..100_000]);
        want.extend_from_slice(&b[..MED]);
        assert!(fs::read(&app).expect("read") == want);
        assert!(is_open(o.as_raw_fd()));
        fs::remove_file(dir.join("src")).expect("rm");
        fs::remove_file(&app).expect("rm");
    });
}

/// ext4 to tmpfs under NO_FALLBACK: the kernel's refusal moves no offset and
/// writes nothing.
#[test]
fn copy_file_range_across_file_systems_moves_nothing_without_fallback() {
    let d = disk_dir();
    let Some(shm) = shm_dir() else { return };
    let f = File::open(mkfile(d.path(), "src", 0, MED)).expect("open");
    let x = rw_new(&shm.path().join("x"));
    let (mut io, mut oo) = (0, 0);
    let r = zcio::copy_file_range(
        &f,
        Some(&mut io),
        &x,
        Some(&mut oo),
        TO_EOF,
        FdFlags::NO_FALLBACK,
    );
    assert_eq!(errno(r), libc::EXDEV);
    assert_eq!((io, oo, fd_offset(&f)), (0, 0, 0));
    assert_eq!(x.metadata().expect("meta").len(), 0);
    // And with the fallback: everything, both offsets advanced.
    let n = zcio::copy_file_range(
        &f,
        Some(&mut io),
        &x,
        Some(&mut oo),
        TO_EOF,
        FdFlags::empty(),
    )
    .expect("fallback");
    assert_eq!((n, io, oo), (MED as u64, MED as u64, MED as u64));
    assert!(contents(&x) == bytes()[..MED]);
}

/// A reflink moves no offset, whether it works (XFS) or is refused (ext4, tmpfs),
/// and a refusal leaves the destination as it was; a read-only destination is
/// refused.
#[test]
fn reflink_offsets_and_refusals() {
    let mut dirs = disk_and_shm();
    let xfs = xfs();
    for d in dirs.drain(..) {
        let p = d.path();
        let f = File::open(mkfile(p, "src", 0, MED)).expect("open");
        let dst = mkfile(p, "dst", 500, 3000);
        let g = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dst)
            .expect("open");
        seek(&f, 17);
        let e = errno(zcio::reflink(&f, &g));
        assert!(
            matches!(e, libc::EOPNOTSUPP | libc::EXDEV | libc::EINVAL),
            "{}: {e}",
            fs_name(p)
        );
        assert!(fs::read(&dst).expect("read") == bytes()[500..3500]);
        assert_eq!((fd_offset(&f), fd_offset(&g)), (17, 0));
        let ro = File::open(&dst).expect("ro");
        assert_ne!(errno(zcio::reflink(&f, &ro)), 0);
        assert!(fs::read(&dst).expect("read") == bytes()[500..3500]);
    }
    if let Some(m) = xfs {
        let p = m.path();
        let f = File::open(mkfile(&p, "src", 0, MED)).expect("open");
        let g = rw_new(&p.join("dst"));
        seek(&f, 17);
        zcio::reflink(&f, &g).expect("reflink on XFS");
        assert_eq!((fd_offset(&f), fd_offset(&g)), (17, 0));
        assert!(contents(&g) == bytes()[..MED]);
        let ro = File::open(p.join("dst")).expect("ro");
        assert_eq!(errno(zcio::reflink(&f, &ro)), libc::EBADF);
    }
}

#[test]
fn mmap_copy_from_a_pipe() {
    on_disk_and_shm("mmap copy from a pipe", |dir| {
        let out = rw_new(&dir.join("dst"));
        let (r, w) = streams::pipe();
        (&w).write_all(&bytes()[..3000]).expect("write");
        assert_ne!(
            errno(zcio::mmap_copy(
                &r,
                None,
                &out,
                TO_EOF,
                FdFlags::NO_FALLBACK
            )),
            0
        );
        assert_eq!(out.metadata().expect("meta").len(), 0);
        drop(w);
        let n = zcio::mmap_copy(&r, None, &out, TO_EOF, FdFlags::empty()).expect("fallback");
        assert_eq!(n, 3000);
        assert!(contents(&out) == bytes()[..3000]);
        fs::remove_file(dir.join("dst")).expect("rm");
    });
}

/// 64 MiB of 1 MiB blocks, each starting with its index, copied by the mmap copy
/// into a pipe whose reader cuts the file to half once 1 MiB has arrived: EFAULT,
/// or a count no larger than the half; what arrived is exactly that count, the
/// file's own blocks in order, and the source's offset moved by it. No SIGBUS.
#[test]
fn mmap_copy_of_a_file_truncated_under_it() {
    on_disk_and_shm("mmap truncated", |dir| {
        const MIB: usize = 1 << 20;
        let len = 64 * MIB;
        let block = |i: usize| {
            let mut b = bytes()[..MIB].to_vec();
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            b
        };
        let src = dir.join("src");
        {
            let mut w = File::create(&src).expect("create");
            for i in 0..len / MIB {
                w.write_all(&block(i)).expect("write");
            }
        }
        let f = File::open(&src).expect("open");
        let cutter = OpenOptions::new().write(true).open(&src).expect("open");
        let (mut r, w) = streams::pipe();
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65536];
            let mut cut = false;
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => panic!("reader: {e}"),
                }
                if !cut && got.len() >= MIB {
                    cutter.set_len((len / 2) as u64).expect("truncate");
                    cut = true;
                }
            }
            got
        });
        let r = zcio::mmap_copy(&f, None, &w, TO_EOF, FdFlags::empty());
        drop(w);
        let got = reader.join().expect("reader");
        assert_eq!(f.metadata().expect("meta").len(), (len / 2) as u64);
        match r {
            Ok(n) => {
                assert!(n > 0 && n <= (len / 2) as u64, "returned {n}");
                assert_eq!(got.len() as u64, n, "the reader got what was counted");
                assert_eq!(fd_offset(&f), n);
            }
            Err(e) => assert_eq!(e.raw_os_error(), libc::EFAULT, "{e}"),
        }
        assert!(got.len() <= len / 2);
        for (i, piece) in got.chunks(MIB).enumerate() {
            assert!(piece == &block(i)[..piece.len()], "block {i} differs");
        }
        fs::remove_file(&src).expect("rm");
    });
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
