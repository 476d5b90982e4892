//! copy_file_range(2) to completion, called through syscall(2) directly (glibc
//! 2.41/2.42's wrapper miscounts above INT_MAX), in pieces under 2 GiB, with the
//! fallback rules the big copy tools learned.

use std::os::fd::AsFd;

use super::error::Result;
use super::fdio::{self, End, Xfer};
use super::options::FdFlags;
use super::stats::Method;

/// Copies up to `len` bytes (or to end of file: [`TO_EOF`](crate::TO_EOF)) from
/// `in_fd` to `out_fd` with copy_file_range(2) and returns the bytes moved; the
/// file system may share blocks instead of copying (a reflink).
///
/// Offsets: `None` uses and advances the descriptor's own offset; `Some` is read,
/// used and advanced by the bytes moved, leaving the descriptor's offset alone; one
/// above `i64::MAX` is `EINVAL`, as in [`sendfile`](crate::sendfile). An explicit
/// `out_off` into an O_APPEND descriptor is `EINVAL` (writes go to the end of file).
/// One file at both ends: the source range ends where the file ended at the start,
/// and overlapping ranges are `EINVAL`, as copy_file_range(2) says. A write past
/// RLIMIT_FSIZE is `EFBIG` (a copy that ends exactly at it succeeds), never SIGXFSZ.
/// Without [`FdFlags::NO_FALLBACK`], a pair the kernel cannot copy between
/// (across file systems, a file system without it, an O_APPEND destination, a
/// seccomp filter) and a first 0 from a file that may lie about its size (/proc,
/// /sys, FUSE) continue in a read/write loop from where it stopped. EIO, ENOSPC,
/// EDQUOT or ENOMEM after data moved are failures.
///
/// ```no_run
/// let src = std::fs::File::open("a")?;
/// let dst = std::fs::File::create("b")?;
/// let (mut i, mut o) = (4096, 0);
/// let n = zcio::copy_file_range(&src, Some(&mut i), &dst, Some(&mut o), 1 << 20, zcio::FdFlags::empty())?;
/// assert_eq!(o, n);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn copy_file_range(
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

/// Moves at most `piece` bytes of the transfer with copy_file_range, falling back
/// as above.
pub(crate) fn run(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    fdio::kernel_loop(x, piece, Method::CopyFileRange, true, |x, want| {
        // SAFETY: the offsets are NULL or point to live loff_t values in `x`.
        unsafe {
            libc::syscall(
                libc::SYS_copy_file_range,
                fdio::raw(x.src),
                x.src_pos.ptr(),
                fdio::raw(x.dst),
                x.dst_pos.ptr(),
                want,
                0u32,
            ) as isize
        }
    })
}
