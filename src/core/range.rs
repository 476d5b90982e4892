//! copy_file_range(2) to completion, called through syscall(2) directly (glibc
//! 2.41/2.42's wrapper miscounts above INT_MAX), in pieces under 2 GiB, with the
//! fallback rules the big copy tools learned.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use super::error::{Error, Result, Step};
use super::fdio::{self, End, Xfer};
use super::options::Method;

/// Copies up to `len` bytes (or to end of file) from `in_fd` to `out_fd`; the file
/// system may share blocks instead of copying (a reflink).
///
/// Offsets: `None` uses and advances the descriptor's own offset; `Some` is read,
/// used and advanced by the bytes moved, leaving the descriptor's offset alone.
/// Without `NO_FALLBACK`, a pair the kernel cannot copy between (across file
/// systems, a file system without it, an O_APPEND destination, a seccomp filter)
/// and a first 0 from a file that may lie about its size (/proc, /sys, FUSE)
/// continue in a read/write loop from where it stopped.
pub fn copy_file_range(
    in_fd: BorrowedFd<'_>,
    in_off: Option<&mut i64>,
    out_fd: BorrowedFd<'_>,
    out_off: Option<&mut i64>,
    len: u64,
    flags: u32,
) -> Result<u64> {
    fdio::transfer(in_fd, in_off, out_fd, out_off, len, flags, run)
}

/// Moves at most `piece` bytes of the transfer with copy_file_range, falling back
/// as above.
pub(crate) fn run(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    let stop_at = x.trace.moved.saturating_add(piece);
    if x.trace.fell_back.is_some() {
        return fdio::rw_loop(x, piece);
    }
    while x.left > 0 {
        if x.trace.moved >= stop_at {
            return Ok(End::Piece);
        }
        let want = x.want(stop_at - x.trace.moved);
        // SAFETY: the offsets are NULL or point to live loff_t values in `x`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_copy_file_range,
                fdio::raw(x.src),
                x.src_pos.ptr(),
                fdio::raw(x.dst),
                x.dst_pos.ptr(),
                want,
                0u32,
            )
        };
        if r > 0 {
            x.moved(r as usize);
            continue;
        }
        if r == 0 {
            if x.trace.moved == 0 && x.may_fall_back() {
                return fdio::fall_back(x, 0, stop_at);
            }
            return Ok(End::Done);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e if x.may_fall_back() && fdio::not_here(e, x.trace.moved, Method::CopyFileRange) => {
                return fdio::fall_back(x, e as i32, stop_at);
            }
            e => return Err(Error::new(e as i32, Step::Write)),
        }
    }
    Ok(End::Done)
}
