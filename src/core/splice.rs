//! splice(2) between any two descriptors: directly when one of them is a pipe,
//! else through a pipe pair zcio keeps for each thread.

use std::cell::RefCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::PollFlags;
use nix::sys::stat::SFlag;

use super::error::{Error, Result};
use super::fdio::{self, End, Pos, Xfer};
use super::options::FdFlags;
use super::stats::{Method, Step};

/// A pipe zcio owns: empty whenever no call is using it.
struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    size: usize,
    /// The process that made it: a child after fork() shares it with its parent,
    /// so there it is never used.
    pid: libc::pid_t,
}

thread_local! {
    /// One pipe per thread, reused by every splice that needs one.
    static PIPE: RefCell<Option<Pipe>> = const { RefCell::new(None) };
}

/// The largest pipe this process may have, from /proc/sys/fs/pipe-max-size.
fn pipe_max() -> usize {
    std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

impl Pipe {
    fn new() -> Result<Pipe> {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| Error::new(e as i32, Step::Resource))?;
        // Grow it as far as allowed; once the user's pipe quota is spent the
        // kernel says EPERM, so try smaller sizes before settling for the default.
        let mut want = pipe_max().min(1 << 20);
        while want >= 64 * 1024 {
            match fcntl(&w, FcntlArg::F_SETPIPE_SZ(want as libc::c_int)) {
                Ok(_) => break,
                Err(_) => want /= 2,
            }
        }
        let size =
            fcntl(&w, FcntlArg::F_GETPIPE_SZ).map_err(|e| Error::new(e as i32, Step::Resource))?;
        Ok(Pipe {
            r,
            w,
            size: size.max(4096) as usize,
            pid: std::process::id() as libc::pid_t,
        })
    }
}

/// Takes this thread's pipe (making it on first use); give it back with `put_pipe`
/// only when it is empty.
fn take_pipe() -> Result<Pipe> {
    match PIPE.with(|p| p.borrow_mut().take()) {
        Some(p) if p.pid == std::process::id() as libc::pid_t => Ok(p),
        // Inherited through fork(): close this process's copies, make its own.
        _ => Pipe::new(),
    }
}

fn put_pipe(p: Pipe) {
    PIPE.with(|slot| *slot.borrow_mut() = Some(p));
}

/// The capacity of this thread's splice pipe, making it if needed (for tests and
/// diagnostics).
pub(crate) fn thread_pipe_size() -> Result<usize> {
    let p = take_pipe()?;
    let n = p.size;
    put_pipe(p);
    Ok(n)
}

fn is_pipe(fd: BorrowedFd<'_>) -> Result<bool> {
    Ok(fdio::kind(fd)? == SFlag::S_IFIFO)
}

/// Splices up to `len` bytes (or to end of file: [`TO_EOF`](crate::TO_EOF)) from
/// `in_fd` to `out_fd` and returns the bytes moved.
///
/// Any two descriptors work: when one is a pipe the data is spliced directly,
/// otherwise through a pipe zcio keeps for the calling thread (socket to file,
/// file to socket, file to file). After an error part-way that pipe is thrown
/// away, so no later call delivers stale bytes. Offsets: `None` uses and advances
/// the descriptor's own offset; `Some` is read, used and advanced by the bytes
/// moved (a pipe has no offset: `ESPIPE`; one above `i64::MAX` is `EINVAL`); O_APPEND
/// and one file at both ends as for [`copy_file_range`](crate::copy_file_range).
/// Non-blocking descriptors and the flags as for [`sendfile`](crate::sendfile):
/// under [`FdFlags::NONBLOCK`] the call returns once the destination is full, and
/// what zcio's pipe still holds goes back to a source that can seek; from a pipe or
/// socket it is delivered first.
///
/// ```no_run
/// use std::net::TcpListener;
/// let (sock, _) = TcpListener::bind("127.0.0.1:0")?.accept()?;
/// let out = std::fs::File::create("received")?;
/// let got = zcio::splice(&sock, None, &out, None, zcio::TO_EOF, zcio::FdFlags::empty())?;
/// println!("{got} bytes");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn splice(
    in_fd: impl AsFd,
    in_off: Option<&mut u64>,
    out_fd: impl AsFd,
    out_off: Option<&mut u64>,
    len: u64,
    flags: FdFlags,
) -> Result<u64> {
    fdio::transfer(
        in_fd.as_fd(),
        in_off,
        out_fd.as_fd(),
        out_off,
        len,
        flags,
        run,
    )
}

/// Moves at most `piece` bytes of the transfer with splice, falling back as above.
pub(crate) fn run(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    if x.trace.fell_back.is_some() {
        return fdio::rw_loop(x, piece);
    }
    let direct = is_pipe(x.src)? || is_pipe(x.dst)?;
    if direct {
        if (is_pipe(x.src)? && x.src_pos != Pos::Fd) || (is_pipe(x.dst)? && x.dst_pos != Pos::Fd) {
            return Err(Error::new(libc::ESPIPE, Step::Args));
        }
        run_direct(x, piece)
    } else {
        run_via_pipe(x, piece)
    }
}

fn splice_flags(x: &Xfer<'_>) -> libc::c_uint {
    let mut f = libc::SPLICE_F_MOVE;
    if x.nonblock() {
        f |= libc::SPLICE_F_NONBLOCK;
    }
    f
}

/// One of the two is a pipe: splice straight from one to the other. A pipe's 0 is
/// its writer gone; only a file's first 0 may lie.
fn run_direct(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    let src_is_pipe = is_pipe(x.src)?;
    fdio::kernel_loop(x, piece, Method::Splice, !src_is_pipe, |x, want| {
        // SAFETY: offsets are NULL or point into `x`; descriptors by the caller's contract.
        unsafe {
            libc::splice(
                fdio::raw(x.src),
                x.src_pos.ptr(),
                fdio::raw(x.dst),
                x.dst_pos.ptr(),
                want,
                splice_flags(x),
            )
        }
    })
}

/// Neither is a pipe: source into this thread's pipe, pipe into the destination.
/// The pipe is handed back only empty: after an error part-way it is closed, so no
/// later call can deliver bytes left in it.
fn run_via_pipe(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    let pipe = take_pipe()?;
    let mut held = 0usize;
    let r = pump(x, &pipe, piece, &mut held);
    if held > 0 {
        // The source gave up `held` bytes the destination never got (an error, or
        // a full destination under NONBLOCK): its position (explicit, or a seekable
        // descriptor's own) is put back so the caller can resume from it, and the
        // bytes go with the pipe.
        fdio::give_back(x, held as u64);
        drop(pipe);
    } else {
        put_pipe(pipe);
    }
    r
}

fn pump(x: &mut Xfer<'_>, pipe: &Pipe, piece: u64, held: &mut usize) -> Result<End> {
    let stop_at = x.trace.moved.saturating_add(piece);
    while x.left > 0 {
        if x.trace.moved >= stop_at {
            return Ok(End::Piece);
        }
        let want = x.want(stop_at - x.trace.moved).min(pipe.size);
        // SAFETY: as in run_direct; our pipe is empty, so this never waits on it.
        let r = unsafe {
            libc::splice(
                fdio::raw(x.src),
                x.src_pos.ptr(),
                fdio::raw(pipe.w.as_fd()),
                std::ptr::null_mut(),
                want,
                splice_flags(x),
            )
        };
        if r == 0 {
            if x.trace.moved == 0 && x.may_fall_back() {
                return fdio::fall_back(x, 0, stop_at);
            }
            return Ok(End::Done);
        }
        if r < 0 {
            match Errno::last() {
                Errno::EINTR => continue,
                Errno::EAGAIN if x.nonblock() => return Ok(End::WouldBlock),
                Errno::EAGAIN => {
                    fdio::wait_ready(x.src, PollFlags::POLLIN)?;
                    continue;
                }
                e if x.may_fall_back() && fdio::not_here(e, x.trace.moved, Method::Splice) => {
                    return fdio::fall_back(x, e as i32, stop_at);
                }
                e => return Err(Error::new(e as i32, Step::Read)),
            }
        }
        x.trace.io_calls += 1;
        *held = r as usize;
        if drain(x, pipe, held)? == Drained::Full {
            return Ok(End::WouldBlock);
        }
        if x.trace.fell_back.is_some() {
            return fdio::rw_loop(x, stop_at.saturating_sub(x.trace.moved));
        }
    }
    Ok(End::Done)
}

/// How `drain` left the pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drained {
    /// Empty: the destination took everything.
    Empty,
    /// Under NONBLOCK the destination is full: take nothing more from the source.
    /// What the pipe still holds (`held`) goes back to a source that can seek.
    Full,
}

/// Empties the pipe into the destination. Bytes taken from a source that cannot
/// take them back are always delivered, so this waits on a full non-blocking
/// destination then, whatever the flags; under NONBLOCK it returns `Full` instead
/// where they can go back, and after such a wait.
fn drain(x: &mut Xfer<'_>, pipe: &Pipe, held: &mut usize) -> Result<Drained> {
    let mut full = false;
    while *held > 0 {
        // SAFETY: as in run_direct; SPLICE_F_NONBLOCK is not given, our pipe holds data.
        let r = unsafe {
            libc::splice(
                fdio::raw(pipe.r.as_fd()),
                std::ptr::null_mut(),
                fdio::raw(x.dst),
                x.dst_pos.ptr(),
                *held,
                libc::SPLICE_F_MOVE,
            )
        };
        if r > 0 {
            *held -= r as usize;
            x.moved(r as usize);
            continue;
        }
        let e = if r == 0 { Errno::EIO } else { Errno::last() };
        match e {
            Errno::EINTR => continue,
            Errno::EAGAIN if x.nonblock() && fdio::rewindable(x) => return Ok(Drained::Full),
            Errno::EAGAIN => {
                full |= x.nonblock();
                fdio::wait_ready(x.dst, PollFlags::POLLOUT)?
            }
            e if x.may_fall_back() && fdio::not_here(e, x.trace.moved, Method::Splice) => {
                // The destination takes no splice: hand what the pipe holds over by
                // read/write, then go on that way.
                let mut buf = super::sys::zeroed(*held)?;
                let mut got = 0;
                while got < buf.len() {
                    match nix::unistd::read(&pipe.r, &mut buf[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(Errno::EINTR) => continue,
                        Err(e) => return Err(Error::new(e as i32, Step::Read)),
                    }
                }
                let mut written = 0;
                let w = fdio::write_all(x, &buf[..got], &mut written, false);
                *held -= written;
                x.trace.moved += written as u64;
                if x.left != fdio::TO_EOF {
                    x.left -= written as u64;
                }
                w?;
                x.trace.fell_back = Some(e as i32);
                return Ok(Drained::Empty);
            }
            e => return Err(Error::new(e as i32, Step::Write)),
        }
    }
    Ok(if full { Drained::Full } else { Drained::Empty })
}
