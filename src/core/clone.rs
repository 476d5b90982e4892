//! Reflink: the whole file shared copy-on-write (FICLONE), or nothing.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use super::error::{Error, Result, Step};
use super::fdio;

/// Makes `dst_fd` a copy-on-write clone of all of `src_fd` (its size becomes the
/// source's). A clone or nothing: EOPNOTSUPP, EXDEV or EINVAL when the file
/// systems cannot, and no fallback. Moves no file offset.
pub fn reflink(src_fd: BorrowedFd<'_>, dst_fd: BorrowedFd<'_>) -> Result<()> {
    loop {
        // SAFETY: FICLONE takes the source descriptor as its argument.
        let r = unsafe { libc::ioctl(fdio::raw(dst_fd), libc::FICLONE, fdio::raw(src_fd)) };
        if r == 0 {
            return Ok(());
        }
        match Errno::last() {
            Errno::EINTR => continue,
            // Some file systems answer an unknown ioctl with ENOTTY: no cloning here.
            Errno::ENOTTY => return Err(Error::new(libc::EOPNOTSUPP, Step::Write)),
            e => return Err(Error::new(e as i32, Step::Write)),
        }
    }
}
