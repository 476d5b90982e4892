//! sendfile(2) to completion: from a file (or anything the kernel can map) to any
//! descriptor, looping over the 2 GiB cap and short counts.

use std::os::fd::AsFd;

use super::error::Result;
use super::fdio::{self, End, Xfer};
use super::options::FdFlags;
use super::stats::Method;

/// Sends up to `count` bytes (or to end of file: [`TO_EOF`](crate::TO_EOF)) from
/// `in_fd` to `out_fd` with sendfile(2), looping over the kernel's 2 GiB cap and
/// short counts, and returns the bytes moved.
///
/// `offset` `None` reads from and advances `in_fd`'s own offset; `Some` is read,
/// used and advanced by the bytes moved (also when the call fails part-way),
/// leaving `in_fd`'s offset alone; one above `i64::MAX` (the kernel's `loff_t`) is
/// `EINVAL`. Flags other than [`FdFlags`]'s own (made with `from_bits_retain`) are
/// `EINVAL`. The destination is written at its own offset.
/// A non-blocking descriptor that would block is waited on, unless
/// [`FdFlags::NONBLOCK`]: then the call returns what moved, or `EAGAIN`. Without
/// [`FdFlags::NO_FALLBACK`], a source the kernel cannot send from (a pipe, a
/// socket) or a first 0 from a file that may lie about its size continues in a
/// read/write loop. A reader that has gone gives `EPIPE`, a write past RLIMIT_FSIZE
/// `EFBIG`; no SIGPIPE or SIGXFSZ reaches the program. A buffer that cannot be had
/// is `ENOMEM`. Data later written to the source may still reach a socket reader:
/// sendfile shares page-cache pages.
///
/// ```no_run
/// use std::net::TcpStream;
/// let file = std::fs::File::open("index.html")?;
/// let sock = TcpStream::connect("127.0.0.1:8080")?;
/// let mut off = 0;
/// let sent = zcio::sendfile(&sock, &file, Some(&mut off), zcio::TO_EOF, zcio::FdFlags::empty())?;
/// assert_eq!(off, sent);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sendfile(
    out_fd: impl AsFd,
    in_fd: impl AsFd,
    offset: Option<&mut u64>,
    count: u64,
    flags: FdFlags,
) -> Result<u64> {
    fdio::transfer(
        in_fd.as_fd(),
        offset,
        out_fd.as_fd(),
        None,
        count,
        flags,
        run,
    )
}

/// Moves at most `piece` bytes of the transfer with sendfile, falling back as above.
pub(crate) fn run(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    fdio::kernel_loop(x, piece, Method::Sendfile, true, |x, want| {
        // SAFETY: valid descriptors by the caller's contract, and a NULL or valid offset.
        unsafe { libc::sendfile64(fdio::raw(x.dst), fdio::raw(x.src), x.src_pos.ptr(), want) }
    })
}
