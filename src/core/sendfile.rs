//! sendfile(2) to completion: from a file (or anything the kernel can map) to any
//! descriptor, looping over the 2 GiB cap and short counts.

use std::os::fd::BorrowedFd;

use super::error::Result;
use super::fdio::{self, End, Xfer};
use super::options::Method;

/// Sends up to `count` bytes (or to end of file) from `in_fd` to `out_fd`.
///
/// `offset` `None` reads from and advances `in_fd`'s own offset; `Some` is read,
/// used and advanced by the bytes moved, leaving `in_fd`'s offset alone. The
/// destination is written at its own offset. Without `NO_FALLBACK`, a source the
/// kernel cannot send from (a pipe, a socket) or a first 0 from a file that may
/// lie about its size continues in a read/write loop. Data later written to the
/// source may still reach a socket reader: sendfile shares page-cache pages.
pub fn sendfile(
    out_fd: BorrowedFd<'_>,
    in_fd: BorrowedFd<'_>,
    offset: Option<&mut i64>,
    count: u64,
    flags: u32,
) -> Result<u64> {
    fdio::transfer(in_fd, offset, out_fd, None, count, flags, run)
}

/// Moves at most `piece` bytes of the transfer with sendfile, falling back as above.
pub(crate) fn run(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    fdio::kernel_loop(x, piece, Method::Sendfile, true, |x, want| {
        // SAFETY: valid descriptors by the caller's contract, and a NULL or valid offset.
        unsafe { libc::sendfile64(fdio::raw(x.dst), fdio::raw(x.src), x.src_pos.ptr(), want) }
    })
}
