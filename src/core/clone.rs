//! Reflink: the whole file shared copy-on-write (FICLONE), or nothing.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::RwLock;

use nix::errno::Errno;

use super::error::{Error, Result};
use super::fdio;
use super::stats::Step;
use super::sys;

/// Makes `dst_fd` a copy-on-write clone of all of `src_fd` (FICLONE: its size
/// becomes the source's, the file systems share the blocks). A clone or nothing:
/// `EOPNOTSUPP` when the file system cannot, `EXDEV` across file systems, `EINVAL`
/// for files that are not both regular (a pipe, a socket, a device; `EISDIR` for a
/// directory), and no fallback. Moves no file offset.
///
/// ```no_run
/// let src = std::fs::File::open("/mnt/xfs/a")?;
/// let dst = std::fs::File::create("/mnt/xfs/b")?;
/// zcio::reflink(&src, &dst)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn reflink(src_fd: impl AsFd, dst_fd: impl AsFd) -> Result<()> {
    let (src_fd, dst_fd) = (src_fd.as_fd(), dst_fd.as_fd());
    loop {
        // SAFETY: FICLONE takes the source descriptor as its argument.
        let r = unsafe { libc::ioctl(fdio::raw(dst_fd), libc::FICLONE, fdio::raw(src_fd)) };
        if r == 0 {
            return Ok(());
        }
        let e = match Errno::last() {
            Errno::EINTR => continue,
            // Some file systems answer an unknown ioctl with ENOTTY: no cloning here.
            Errno::ENOTTY => Errno::EOPNOTSUPP,
            e => e,
        };
        // The kernel checks the mount before the file type: a pipe's clone is
        // "another file system" (EXDEV). Anything but two regular files is EINVAL
        // (a directory EISDIR), as documented.
        return Err(Error::new(
            not_regular(src_fd, dst_fd).unwrap_or(e) as i32,
            Step::Write,
        ));
    }
}

/// Pairs of file systems (source device, destination device) that refused to
/// clone: a tree of small files would otherwise pay a failing ioctl per file.
static REFUSED: RwLock<Vec<(u64, u64)>> = RwLock::new(Vec::new());

/// Whether cloning from device `src` to device `dst` is known to be refused.
pub(crate) fn refused(src: u64, dst: u64) -> bool {
    REFUSED
        .read()
        .map(|v| v.contains(&(src, dst)))
        .unwrap_or(false)
}

/// Remembers that the file systems refused for reason `errno`, when that says
/// something of the file systems and not of these two files.
pub(crate) fn remember_refusal(src: u64, dst: u64, errno: i32) {
    if !matches!(errno, libc::EOPNOTSUPP | libc::EXDEV) {
        return;
    }
    if let Ok(mut v) = REFUSED.write()
        && !v.contains(&(src, dst))
        && v.len() < 64
    {
        v.push((src, dst));
    }
}

/// EISDIR or EINVAL when either file is not a regular file.
fn not_regular(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Option<Errno> {
    for fd in [src, dst] {
        let st = nix::sys::stat::fstat(fd).ok()?;
        if sys::is_dir(&st) {
            return Some(Errno::EISDIR);
        }
        if !sys::is_reg(&st) {
            return Some(Errno::EINVAL);
        }
    }
    None
}
