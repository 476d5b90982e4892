//! Direct I/O on open descriptors: the Solaris-style advice call and the alignment query.

use std::ffi::c_int;

use super::guard::{PANIC_ERRNO, ffi_guard};
use super::types::{DIRECTIO_OFF, DIRECTIO_ON};
use super::{code, fd_arg};
use crate::{Advice, Error, Step};

fn advice_arg(advice: c_int) -> Result<Advice, Error> {
    match advice {
        DIRECTIO_OFF => Ok(Advice::Off),
        DIRECTIO_ON => Ok(Advice::On),
        _ => Err(Error::new(libc::EINVAL, Step::Args)),
    }
}

/// Switches Direct I/O on (`ZC_DIRECTIO_ON`) or off (`ZC_DIRECTIO_OFF`) for the open
/// file description of `fd`: sets or clears O_DIRECT, so every descriptor sharing it
/// (dup, fork) is affected. Switching on writes back and drops the file's cached
/// pages. Reads and writes on `fd` must then be aligned (see `zc_dio_alignment()`).
///
/// Returns 0 on success, `-errno` on failure; `errno` is left alone.
///
/// Errors: `-EBADF` for a descriptor that is not open; `-EINVAL` for any other
/// advice; `-ENOTTY` when `fd` is not a regular file or block device, or its file
/// system cannot do Direct I/O.
///
/// Thread safety: safe; the last call on a file description wins.
#[unsafe(no_mangle)]
pub extern "C" fn zc_directio(fd: c_int, advice: c_int) -> c_int {
    ffi_guard!(-PANIC_ERRNO, {
        code(fd_arg(fd).and_then(|fd| crate::directio(fd, advice_arg(advice)?)))
    })
}

/// Solaris's `directio()`: `DIRECTIO_ON` or `DIRECTIO_OFF` advice for the file open on
/// `fildes`, as `zc_directio()` does it.
///
/// Returns 0 on success; -1 with `errno` set on failure: EBADF (not an open
/// descriptor), EINVAL (bad advice), ENOTTY (not a file system that accepts the
/// advice).
///
/// Thread safety: safe.
#[unsafe(no_mangle)]
pub extern "C" fn directio(fildes: c_int, advice: c_int) -> c_int {
    let r = zc_directio(fildes, advice);
    if r < 0 {
        nix::errno::Errno::set_raw(-r);
        -1
    } else {
        0
    }
}

/// Asks what alignment Direct I/O needs on the file or block device open on `fd`:
/// statx(STATX_DIOALIGN) where the kernel and file system answer it, else the block
/// device's logical block size, else 4096. On a file system with no block device that
/// does not answer (ramfs, FUSE, NFS...), the file is opened once more with O_DIRECT
/// through /proc/self/fd to find out whether Direct I/O is there at all.
///
/// Returns 0 and stores the memory-buffer alignment in `*mem_align_out` and the file
/// offset and length alignment in `*offset_align_out`; `-errno` on failure.
///
/// Errors: `-EBADF` for a descriptor that is not open; `-EINVAL` when `fd` is not a
/// regular file or block device; `-EOPNOTSUPP` when its file system says it cannot
/// do Direct I/O on it, or refuses O_DIRECT at open (ramfs).
///
/// NULL: either out pointer may be NULL when that value is not wanted.
///
/// Thread safety: safe.
///
/// # Safety
/// Each out pointer is NULL or points to a writable `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_dio_alignment(
    fd: c_int,
    mem_align_out: *mut u32,
    offset_align_out: *mut u32,
) -> c_int {
    ffi_guard!(-PANIC_ERRNO, {
        let r = fd_arg(fd).and_then(crate::dio_alignment);
        match r {
            Ok(Some(a)) => {
                // SAFETY: caller's contract: NULL or writable.
                unsafe {
                    if !mem_align_out.is_null() {
                        mem_align_out.write(a.mem);
                    }
                    if !offset_align_out.is_null() {
                        offset_align_out.write(a.offset);
                    }
                }
                0
            }
            Ok(None) => -libc::EOPNOTSUPP,
            Err(e) => -e.raw_os_error(),
        }
    })
}
