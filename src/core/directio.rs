//! `directio(fd, advice)` as Solaris has it: Direct I/O switched on or off for an
//! open file.

use std::os::fd::AsFd;

use nix::errno::Errno;

use super::align;
use super::error::{Error, Result};
use super::stats::Step;
use super::sys;

/// Solaris's two pieces of advice.
///
/// ```
/// assert_ne!(zcio::Advice::On, zcio::Advice::Off);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// Cached I/O (the default).
    Off = 0,
    /// Direct I/O: no page cache.
    On = 1,
}

/// Sets (`On`) or clears (`Off`) O_DIRECT on the open file description of `fd`; every
/// descriptor sharing it sees the change. Switching on writes back and drops the
/// file's cached pages, so that later direct reads and writes see no stale cache.
///
/// Errors: EBADF for a descriptor that is not open; ENOTTY when `fd` is not a regular
/// file or block device, or its file system cannot do Direct I/O.
///
/// ```no_run
/// let f = std::fs::OpenOptions::new().read(true).write(true).open("data.bin")?;
/// zcio::directio(&f, zcio::Advice::On)?;
/// # Ok::<(), zcio::Error>(())
/// ```
pub fn directio(fd: impl AsFd, advice: Advice) -> Result<()> {
    let fd = fd.as_fd();
    let st = sys::fstat(fd, Step::Args)?;
    let nope = || Error::new(libc::ENOTTY, Step::Args);
    if !sys::is_reg(&st) && !sys::is_blk(&st) {
        // O_DIRECT on a pipe means packet mode: never turn it on or off here.
        return Err(nope());
    }
    match advice {
        Advice::Off => sys::set_direct(fd, false).map_err(|e| Error::new(e as i32, Step::Args)),
        Advice::On => {
            if align::dio_alignment_of(fd, &st)?.is_none() {
                return Err(nope());
            }
            match sys::set_direct(fd, true) {
                Ok(()) => {}
                Err(Errno::EINVAL) | Err(Errno::EOPNOTSUPP) => return Err(nope()),
                Err(e) => return Err(Error::new(e as i32, Step::Args)),
            }
            // Advice only: a failure to drop the cache changes nothing the caller sees.
            let _ = sys::start_writeback(fd, 0, 0, true);
            sys::advise(fd, 0, 0, libc::POSIX_FADV_DONTNEED);
            Ok(())
        }
    }
}
