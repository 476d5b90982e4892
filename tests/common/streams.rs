//! Streams for the descriptor-call tests: the test data, TCP pairs with chosen
//! buffer sizes, readers and writers on threads (optionally slow), and the EPIPE
//! round that zerocopy.rs runs and signals.rs runs again under each SIGPIPE
//! disposition.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::common::*;
use zcio::{FdFlags, TO_EOF};

/// 1 MiB and an unaligned tail: the size of most files here.
pub const MED: usize = (1 << 20) + 4097;
/// The test data: every file is a slice of it.
pub const BIG: usize = 3 * (1 << 20) + 123;

pub fn bytes() -> &'static [u8] {
    static D: OnceLock<Vec<u8>> = OnceLock::new();
    D.get_or_init(|| data(BIG, 2024))
}

/// `dir/name` holding `bytes()[off..off + len]`.
pub fn mkfile(dir: &Path, name: &str, off: usize, len: usize) -> std::path::PathBuf {
    let p = dir.join(name);
    write_file(&p, &bytes()[off..off + len]);
    p
}

/// Opened for reading and writing, created empty.
pub fn rw_new(p: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(p)
        .expect("create")
}

/// Empties a file and rewinds its descriptor.
pub fn reset(f: &File) {
    f.set_len(0).expect("truncate");
    nix::unistd::lseek(f.as_fd(), 0, nix::unistd::Whence::SeekSet).expect("seek");
}

pub fn seek(f: &impl AsFd, to: u64) {
    nix::unistd::lseek(f.as_fd(), to as i64, nix::unistd::Whence::SeekSet).expect("seek");
}

/// The whole of the file open on `f` (read through its path in /proc, so that its
/// offset does not move).
pub fn contents(f: &impl std::os::fd::AsRawFd) -> Vec<u8> {
    fs::read(format!("/proc/self/fd/{}", f.as_raw_fd())).expect("read back")
}

/// A connected TCP pair on loopback: (client, server); the client's send buffer
/// and the listener's (so the server's) receive buffer set when not 0.
pub fn tcp_pair_sized(sndbuf: usize, rcvbuf: usize) -> (TcpStream, TcpStream) {
    use nix::sys::socket::{setsockopt, sockopt};
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    if rcvbuf != 0 {
        setsockopt(&l, sockopt::RcvBuf, &rcvbuf).expect("SO_RCVBUF");
    }
    let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    if sndbuf != 0 {
        setsockopt(&c, sockopt::SndBuf, &sndbuf).expect("SO_SNDBUF");
    }
    let (s, _) = l.accept().expect("accept");
    (c, s)
}

pub fn tcp_pair() -> (TcpStream, TcpStream) {
    tcp_pair_sized(0, 0)
}

pub fn unix_pair(sndbuf: usize) -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    if sndbuf != 0 {
        nix::sys::socket::setsockopt(&a, nix::sys::socket::sockopt::SndBuf, &sndbuf)
            .expect("SO_SNDBUF");
    }
    (a, b)
}

pub fn set_nonblocking(fd: &impl AsFd) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let fl = OFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFL).expect("getfl"));
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK)).expect("setfl");
}

/// Reads `r` to its end on a thread, `piece` bytes a read, pausing `pause` after
/// each; the join gives what arrived (an error fails the test).
pub fn reader<R: Read + Send + 'static>(
    mut r: R,
    piece: usize,
    pause: Duration,
) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let mut buf = vec![0u8; piece];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => v.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("reader: {e}"),
            }
            if !pause.is_zero() {
                thread::sleep(pause);
            }
        }
        v
    })
}

/// Writes `b` into `w` on a thread in `piece`-byte writes with `pause` between,
/// then drops `w` (or, for a socket, shuts its write side down with `shut`).
pub fn writer<W: Write + Send + 'static>(
    mut w: W,
    b: &'static [u8],
    piece: usize,
    pause: Duration,
    shut: impl FnOnce(&W) + Send + 'static,
) -> JoinHandle<()> {
    thread::spawn(move || {
        for c in b.chunks(piece) {
            w.write_all(c).expect("writer");
            if !pause.is_zero() {
                thread::sleep(pause);
            }
        }
        shut(&w);
    })
}

/// What a pipe holds right now, read without blocking.
pub fn drain_now(r: &File) -> Vec<u8> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let old = fcntl(r.as_fd(), FcntlArg::F_GETFL).expect("getfl");
    let fl = OFlag::from_bits_truncate(old);
    fcntl(r.as_fd(), FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK)).expect("setfl");
    let mut v = Vec::new();
    let mut buf = [0u8; 8192];
    let mut rr = r;
    while let Ok(n) = rr.read(&mut buf) {
        if n == 0 {
            break;
        }
        v.extend_from_slice(&buf[..n]);
    }
    fcntl(r.as_fd(), FcntlArg::F_SETFL(fl)).expect("setfl");
    v
}

pub fn pipe() -> (File, File) {
    let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe().expect("pipe");
    (File::from(r), File::from(w))
}

/// Waits until the peer's FIN has arrived on `s`.
pub fn wait_readable(s: &impl AsFd) {
    use nix::poll::{PollFd, PollFlags, poll};
    let mut p = [PollFd::new(s.as_fd(), PollFlags::POLLIN)];
    assert_eq!(poll(&mut p, 5000u16).expect("poll"), 1, "no FIN within 5 s");
}

/// Writes to readers that have gone, on the calling thread: EPIPE from sendfile,
/// splice and the mmap copy into a pipe and a Unix socket, EPIPE or ECONNRESET
/// into TCP; afterwards a splice on the same thread delivers only its own bytes
/// (the thread's pipe kept nothing). Panics on the first check that fails.
pub fn epipe_round(dir: &Path) {
    let src = mkfile(dir, "ep.src", 0, MED);
    let f = File::open(&src).expect("open");
    let out = rw_new(&dir.join("ep.dst"));
    // A pipe without a reader.
    let (r, w) = pipe();
    drop(r);
    let mut off = 0;
    assert_eq!(
        errno(zcio::sendfile(
            &w,
            &f,
            Some(&mut off),
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EPIPE
    );
    assert_eq!(off, 0, "sendfile moved the offset without moving data");
    assert_eq!(
        errno(zcio::splice(
            &f,
            Some(&mut 0),
            &w,
            None,
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EPIPE
    );
    assert_eq!(
        errno(zcio::mmap_copy(
            &f,
            Some(&mut 0),
            &w,
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EPIPE
    );
    assert!(is_open(std::os::fd::AsRawFd::as_raw_fd(&w)));
    // A Unix socket whose peer is closed.
    let (a, b) = unix_pair(0);
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
    assert_eq!(
        errno(zcio::splice(
            &f,
            Some(&mut 0),
            &a,
            None,
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EPIPE
    );
    assert_eq!(
        errno(zcio::mmap_copy(
            &f,
            Some(&mut 0),
            &a,
            TO_EOF,
            FdFlags::empty()
        )),
        libc::EPIPE
    );
    // A TCP peer that closed before anything was sent, its FIN seen.
    let (c, s) = tcp_pair();
    drop(s);
    wait_readable(&c);
    let mut off = 0;
    let e = errno(zcio::sendfile(
        &c,
        &f,
        Some(&mut off),
        TO_EOF,
        FdFlags::empty(),
    ));
    assert!(
        matches!(e, libc::EPIPE | libc::ECONNRESET),
        "tcp sendfile: {e}"
    );
    assert!(off <= MED as u64, "offset {off} past the file");
    let (c, s) = tcp_pair();
    drop(s);
    wait_readable(&c);
    let e = errno(zcio::splice(
        &f,
        Some(&mut 0),
        &c,
        None,
        TO_EOF,
        FdFlags::empty(),
    ));
    assert!(
        matches!(e, libc::EPIPE | libc::ECONNRESET),
        "tcp splice: {e}"
    );
    // No stale bytes in this thread's splice pipe.
    let n = zcio::splice(&f, Some(&mut 0), &out, None, 4321, FdFlags::empty()).expect("splice");
    assert_eq!(n, 4321);
    assert!(contents(&out) == bytes()[..4321]);
    fs::remove_file(&src).expect("rm");
    fs::remove_file(dir.join("ep.dst")).expect("rm");
}
