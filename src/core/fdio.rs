//! What every descriptor-level copy shares: offsets that are either the
//! descriptor's own or the caller's, the kernel's per-call cap, waiting on
//! non-blocking descriptors, SIGPIPE kept from the host program, the "not possible
//! here" errors that allow a fallback, and the read/write loop fallbacks continue in.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::error::{Error, Result};
use super::options::FdFlags;
use super::signals::SignalGuard;
use super::stats::{Method, Step};

/// The most one system call is asked to move: the kernel caps every read, write,
/// sendfile, splice and copy_file_range at this (MAX_RW_COUNT). The descriptor
/// calls loop over it, so a caller never needs to.
///
/// ```
/// assert_eq!(zcio::MAX_IO, 2 * 1024 * 1024 * 1024 - 4096);
/// ```
pub const MAX_IO: u64 = 0x7fff_f000;

/// As a length: copy until end of file.
///
/// ```no_run
/// let (src, dst) = (std::fs::File::open("a")?, std::fs::File::create("b")?);
/// zcio::copy_file_range(&src, None, &dst, None, zcio::TO_EOF, zcio::FdFlags::empty())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const TO_EOF: u64 = u64::MAX;

/// Buffer size of the read/write loop.
pub(crate) const RW_BUF: usize = 256 * 1024;

/// A position in a file: the descriptor's own offset (read, write and the
/// kernel calls with a NULL offset move it), or an explicit one that zcio advances
/// and the descriptor's offset is left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pos {
    Fd,
    At(i64),
}

impl Pos {
    /// A caller's offset: none, or one the kernel's signed `loff_t` can hold.
    pub(crate) fn from_opt(o: Option<&mut u64>) -> Result<Pos> {
        match o {
            None => Ok(Pos::Fd),
            Some(v) => i64::try_from(*v)
                .map(Pos::At)
                .map_err(|_| Error::new(libc::EINVAL, Step::Args)),
        }
    }

    pub(crate) fn store(self, o: Option<&mut u64>) {
        if let (Pos::At(v), Some(dst)) = (self, o) {
            *dst = v as u64;
        }
    }

    pub(crate) fn advance(&mut self, n: u64) {
        if let Pos::At(v) = self {
            *v = v.saturating_add(n as i64);
        }
    }

    /// A pointer for the kernel calls that take `loff_t *`: NULL for the fd's own.
    pub(crate) fn ptr(&mut self) -> *mut libc::loff_t {
        match self {
            Pos::Fd => std::ptr::null_mut(),
            Pos::At(v) => v as *mut i64 as *mut libc::loff_t,
        }
    }
}

/// What happened during a transfer, for the statistics of a whole-file copy.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Trace {
    /// Bytes moved so far, by any method.
    pub moved: u64,
    /// System calls that moved data.
    pub io_calls: u64,
    /// Set once the fast path was given up: later pieces go straight to read/write.
    pub fell_back: Option<i32>,
}

/// One descriptor-to-descriptor transfer in progress.
pub(crate) struct Xfer<'a> {
    pub src: BorrowedFd<'a>,
    pub src_pos: Pos,
    pub dst: BorrowedFd<'a>,
    pub dst_pos: Pos,
    /// Bytes still wanted (`TO_EOF`: no limit).
    pub left: u64,
    pub flags: FdFlags,
    pub trace: Trace,
}

/// How a transfer (or one piece of it) ended when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// `left` reached 0 or the source reached end of file.
    Done,
    /// The piece asked for was moved; there may be more.
    Piece,
    /// Under `ZC_F_NONBLOCK`, a descriptor would have blocked.
    WouldBlock,
}

impl<'a> Xfer<'a> {
    pub(crate) fn new(
        src: BorrowedFd<'a>,
        src_pos: Pos,
        dst: BorrowedFd<'a>,
        dst_pos: Pos,
        len: u64,
        flags: FdFlags,
    ) -> Xfer<'a> {
        Xfer {
            src,
            src_pos,
            dst,
            dst_pos,
            left: len,
            flags,
            trace: Trace::default(),
        }
    }

    /// The next request size: what is left, under the kernel's cap.
    pub(crate) fn want(&self, cap: u64) -> usize {
        self.left.min(cap).min(MAX_IO) as usize
    }

    /// Accounts for `n` bytes moved by a call that advanced the offsets itself
    /// (through the pointers from `Pos::ptr`, or the descriptors' own).
    pub(crate) fn moved(&mut self, n: usize) {
        let n = n as u64;
        self.trace.moved += n;
        self.trace.io_calls += 1;
        if self.left != TO_EOF {
            self.left -= n;
        }
    }

    pub(crate) fn nonblock(&self) -> bool {
        self.flags.contains(FdFlags::NONBLOCK)
    }

    pub(crate) fn may_fall_back(&self) -> bool {
        !self.flags.contains(FdFlags::NO_FALLBACK)
    }

    /// The result of a finished transfer: bytes moved, or EAGAIN when a
    /// non-blocking transfer moved nothing.
    pub(crate) fn result(&self, end: End) -> Result<u64> {
        match end {
            End::WouldBlock if self.trace.moved == 0 => Err(Error::new(libc::EAGAIN, Step::Write)),
            _ => Ok(self.trace.moved),
        }
    }
}

/// Blocks until `fd` is ready for `events` (or has hung up / failed, which the next
/// call then reports). EINTR is retried.
pub(crate) fn wait_ready(fd: BorrowedFd<'_>, events: PollFlags) -> Result<()> {
    let mut fds = [PollFd::new(fd, events)];
    loop {
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::new(e as i32, Step::Write)),
        }
    }
}

/// Whether a kernel error means "this call cannot do it for these descriptors", so
/// that the read/write loop may take over. Before any data moved the list is long
/// (what copy_file_range gives across file systems, on O_APPEND destinations,
/// under seccomp, on CIFS...); after, only the errors that can mean nothing else.
pub(crate) fn not_here(e: Errno, moved: u64, method: Method) -> bool {
    use Errno::*;
    let always = matches!(e, ENOSYS | EXDEV | EOPNOTSUPP | EINVAL);
    if moved > 0 {
        return always;
    }
    always
        || match method {
            Method::CopyFileRange => {
                matches!(e, EACCES | EBADF | ETXTBSY | EFBIG | EIO | ENOENT)
                    || (e == EPERM && !cfr_exists())
            }
            Method::Sendfile | Method::Splice => e == ESPIPE,
            Method::Mmap => matches!(e, ENODEV | EACCES),
            _ => false,
        }
}

/// Whether copy_file_range is really there: a seccomp filter answers EPERM for any
/// call, while the real system call answers EBADF for a descriptor of -1.
fn cfr_exists() -> bool {
    // SAFETY: both descriptors are -1; the kernel only checks them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_copy_file_range,
            -1,
            std::ptr::null_mut::<libc::loff_t>(),
            -1,
            std::ptr::null_mut::<libc::loff_t>(),
            1usize,
            0u32,
        )
    };
    r < 0 && Errno::last() == Errno::EBADF
}

/// Reads into `buf` at the source position. `Ok(None)` when a non-blocking
/// source has nothing and the caller asked not to wait.
fn read_some(x: &mut Xfer<'_>, buf: &mut [u8]) -> Result<Option<usize>> {
    loop {
        let r = match x.src_pos {
            Pos::Fd => nix::unistd::read(x.src, buf),
            Pos::At(off) => nix::sys::uio::pread(x.src, buf, off),
        };
        match r {
            Ok(n) => {
                x.src_pos.advance(n as u64);
                return Ok(Some(n));
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if x.nonblock() => return Ok(None),
            Err(Errno::EAGAIN) => wait_ready(x.src, PollFlags::POLLIN)?,
            Err(e) => return Err(Error::new(e as i32, Step::Read)),
        }
    }
}

/// Writes all of `buf` at the destination position, counting in `written` what got
/// there even when it then fails. Data already taken from the source is never
/// dropped, so this waits on a non-blocking destination even under `ZC_F_NONBLOCK`,
/// unless `stop_when_full`: then it returns at the first EAGAIN with `written`
/// short, for a caller that gives the rest back to the source.
pub(crate) fn write_all(
    x: &mut Xfer<'_>,
    mut buf: &[u8],
    written: &mut usize,
    stop_when_full: bool,
) -> Result<()> {
    while !buf.is_empty() {
        let r = match x.dst_pos {
            Pos::Fd => nix::unistd::write(x.dst, buf),
            Pos::At(off) => nix::sys::uio::pwrite(x.dst, buf, off),
        };
        match r {
            Ok(0) => return Err(Error::new(libc::EIO, Step::Write)),
            Ok(n) => {
                x.dst_pos.advance(n as u64);
                x.trace.io_calls += 1;
                *written += n;
                buf = &buf[n..];
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if stop_when_full => return Ok(()),
            Err(Errno::EAGAIN) => wait_ready(x.dst, PollFlags::POLLOUT)?,
            Err(e) => return Err(Error::new(e as i32, Step::Write)),
        }
    }
    Ok(())
}

/// Whether bytes taken from the source can be put back by moving its position (an
/// explicit offset, or a descriptor that can seek).
pub(crate) fn rewindable(x: &Xfer<'_>) -> bool {
    matches!(x.src_pos, Pos::At(_))
        || nix::unistd::lseek(x.src, 0, nix::unistd::Whence::SeekCur).is_ok()
}

/// The plain loop: read into a buffer, write it out, until `left` is 0, end of
/// file, or `piece` more bytes were moved.
pub(crate) fn rw_loop(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    let mut budget = piece;
    let mut buf = super::sys::zeroed(x.want(RW_BUF as u64).clamp(1, RW_BUF))?;
    while x.left > 0 {
        if budget == 0 {
            return Ok(End::Piece);
        }
        let want = x
            .want(RW_BUF as u64)
            .min(budget.min(RW_BUF as u64) as usize);
        let Some(n) = read_some(x, &mut buf[..want])? else {
            return Ok(End::WouldBlock);
        };
        x.trace.io_calls += 1;
        if n == 0 {
            return Ok(End::Done);
        }
        let mut written = 0;
        // Under NONBLOCK a full destination ends the call, as it does for the
        // kernel's calls, when what it did not take can go back to the source.
        let stop = x.nonblock() && rewindable(x);
        let w = write_all(x, &buf[..n], &mut written, stop);
        x.trace.moved += written as u64;
        if x.left != TO_EOF {
            x.left -= written as u64;
        }
        if let Err(e) = w {
            // What was read but never written goes back, where the source can seek:
            // the offset then says exactly how far the copy got.
            give_back(x, (n - written) as u64);
            return Err(e);
        }
        if written < n {
            give_back(x, (n - written) as u64);
            return Ok(End::WouldBlock);
        }
        budget -= n as u64;
    }
    Ok(End::Done)
}

/// Moves the source position back by `n` bytes taken from it but not delivered.
pub(crate) fn give_back(x: &mut Xfer<'_>, n: u64) {
    match &mut x.src_pos {
        Pos::At(v) => *v -= n as i64,
        // A pipe or socket cannot take bytes back; those are lost with the error.
        Pos::Fd => {
            let _ = nix::unistd::lseek(x.src, -(n as i64), nix::unistd::Whence::SeekCur);
        }
    }
}

/// The loop every kernel copy call shares: asks `call` for up to `want` bytes at a
/// time (it advances the offsets itself, through `Pos::ptr` or the descriptors'
/// own), until `piece` bytes moved, end of file, or an error. A first 0 is not
/// trusted when `zero_may_lie` (files that report size 0 may hold data); EAGAIN
/// waits for both ends unless `NONBLOCK`; "not possible here" falls back.
pub(crate) fn kernel_loop(
    x: &mut Xfer<'_>,
    piece: u64,
    method: Method,
    zero_may_lie: bool,
    mut call: impl FnMut(&mut Xfer<'_>, usize) -> isize,
) -> Result<End> {
    if x.trace.fell_back.is_some() {
        return rw_loop(x, piece);
    }
    let stop_at = x.trace.moved.saturating_add(piece);
    while x.left > 0 {
        if x.trace.moved >= stop_at {
            return Ok(End::Piece);
        }
        let want = x.want(stop_at - x.trace.moved);
        let r = call(x, want);
        if r > 0 {
            x.moved(r as usize);
            continue;
        }
        if r == 0 {
            if zero_may_lie && x.trace.moved == 0 && x.may_fall_back() {
                return fall_back(x, 0, stop_at);
            }
            return Ok(End::Done);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            Errno::EAGAIN if x.nonblock() => return Ok(End::WouldBlock),
            Errno::EAGAIN => {
                wait_ready(x.src, PollFlags::POLLIN)?;
                wait_ready(x.dst, PollFlags::POLLOUT)?;
            }
            // copy_file_range checks RLIMIT_FSIZE before it looks at the source: a
            // destination that reached the limit exactly at the source's end fits.
            Errno::EFBIG if source_at_end(x) => return Ok(End::Done),
            e if x.may_fall_back() && not_here(e, x.trace.moved, method) => {
                return fall_back(x, e as i32, stop_at);
            }
            e => return Err(Error::new(e as i32, Step::Write)),
        }
    }
    Ok(End::Done)
}

/// Whether the source has no byte at its position (a pipe or socket cannot tell
/// without taking one: no).
fn source_at_end(x: &Xfer<'_>) -> bool {
    let off = match x.src_pos {
        Pos::At(v) => v,
        Pos::Fd => match nix::unistd::lseek(x.src, 0, nix::unistd::Whence::SeekCur) {
            Ok(v) => v,
            Err(_) => return false,
        },
    };
    let mut b = [0u8; 1];
    matches!(super::sys::pread(x.src, &mut b, off.max(0) as u64), Ok(0))
}

/// Falls back to the read/write loop for the rest of this piece, recording why.
pub(crate) fn fall_back(x: &mut Xfer<'_>, errno: i32, stop_at: u64) -> Result<End> {
    x.trace.fell_back = Some(errno);
    rw_loop(x, stop_at.saturating_sub(x.trace.moved))
}

/// The frame of every public descriptor-level call: checks the flags and offsets,
/// keeps SIGPIPE away, runs `run` to the end, and stores the offsets back (also
/// after a failure, so that they show how far the data got).
pub(crate) fn transfer(
    src: BorrowedFd<'_>,
    mut src_off: Option<&mut u64>,
    dst: BorrowedFd<'_>,
    mut dst_off: Option<&mut u64>,
    len: u64,
    flags: FdFlags,
    run: fn(&mut Xfer<'_>, u64) -> Result<End>,
) -> Result<u64> {
    if !FdFlags::all().contains(flags) {
        return Err(Error::new(libc::EINVAL, Step::Args));
    }
    let sp = Pos::from_opt(src_off.as_deref_mut())?;
    let dp = Pos::from_opt(dst_off.as_deref_mut())?;
    if dp != Pos::Fd && appends(dst)? {
        // O_APPEND sends every write to the end of file, whatever offset it is given:
        // an explicit destination offset cannot hold.
        return Err(Error::new(libc::EINVAL, Step::Args));
    }
    let len = within_one_file(src, sp, dst, dp, len)?;
    let _signals = SignalGuard::new();
    let mut x = Xfer::new(src, sp, dst, dp, len, flags);
    let r = run(&mut x, u64::MAX);
    x.src_pos.store(src_off);
    x.dst_pos.store(dst_off);
    r.and_then(|end| x.result(end))
}

/// Whether writes to `fd` go to the end of file whatever the offset (O_APPEND).
fn appends(fd: BorrowedFd<'_>) -> Result<bool> {
    let fl = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)
        .map_err(|e| Error::new(e as i32, Step::Args))?;
    Ok(nix::fcntl::OFlag::from_bits_retain(fl).contains(nix::fcntl::OFlag::O_APPEND))
}

/// The length to copy when both ends are the same file. Its source range ends where
/// the file ended at the start (the copy must not read back what it wrote), and the
/// two ranges may not overlap: a forward loop would read bytes it has just
/// overwritten, so that is EINVAL, as copy_file_range(2) itself says. Other pairs
/// keep `len`.
fn within_one_file(
    src: BorrowedFd<'_>,
    sp: Pos,
    dst: BorrowedFd<'_>,
    dp: Pos,
    len: u64,
) -> Result<u64> {
    let (Ok(a), Ok(b)) = (nix::sys::stat::fstat(src), nix::sys::stat::fstat(dst)) else {
        return Ok(len); // the calls themselves say EBADF
    };
    let seekable = |st: &nix::sys::stat::FileStat| super::sys::is_reg(st) || super::sys::is_blk(st);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) || !seekable(&a) {
        return Ok(len);
    }
    // A descriptor without the access it needs is the kernel's EBADF, not ours.
    let access = |fd| {
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)
            .map(|f| nix::fcntl::OFlag::from_bits_retain(f) & nix::fcntl::OFlag::O_ACCMODE)
    };
    use nix::fcntl::OFlag;
    if access(src).is_ok_and(|m| m == OFlag::O_WRONLY)
        || access(dst).is_ok_and(|m| m == OFlag::O_RDONLY)
    {
        return Ok(len);
    }
    let at = |fd, p: Pos| match p {
        Pos::At(v) => Ok(v.max(0) as u64),
        Pos::Fd => nix::unistd::lseek(fd, 0, nix::unistd::Whence::SeekCur)
            .map(|v| v as u64)
            .map_err(|e| Error::new(e as i32, Step::Args)),
    };
    let (from, to) = (at(src, sp)?, at(dst, dp)?);
    let size = if super::sys::is_blk(&a) {
        u64::MAX
    } else {
        a.st_size.max(0) as u64
    };
    let len = len.min(size.saturating_sub(from));
    if len > 0 && from < to.saturating_add(len) && to < from.saturating_add(len) {
        return Err(Error::new(libc::EINVAL, Step::Args));
    }
    Ok(len)
}

/// The file type of an open descriptor.
pub(crate) fn kind(fd: BorrowedFd<'_>) -> Result<nix::sys::stat::SFlag> {
    let st = super::sys::fstat(fd, Step::Args)?;
    Ok(super::sys::file_type(&st))
}

pub(crate) fn raw(fd: BorrowedFd<'_>) -> libc::c_int {
    fd.as_raw_fd()
}
