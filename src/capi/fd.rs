//! The zero-copy primitives on descriptors.

use std::ffi::c_int;

use super::guard::{PANIC_ERRNO, ffi_guard};
use super::{code, fd_arg, tables};
use crate::{Error, FdFlags, Step};

/// Runs `f` with the caller's offset (NULL: none), storing the offset back even
/// when `f` fails part-way, so that the caller can see how far it got. A negative
/// offset is EINVAL, and is left as it was.
///
/// # Safety
/// `p` is NULL or points to a readable and writable `int64_t`.
unsafe fn with_off<R>(
    p: *mut i64,
    f: impl FnOnce(Option<&mut u64>) -> Result<R, Error>,
) -> Result<R, Error> {
    if p.is_null() {
        return f(None);
    }
    // SAFETY: caller's contract.
    let Ok(mut v) = u64::try_from(unsafe { p.read() }) else {
        return Err(Error::new(libc::EINVAL, Step::Args));
    };
    let r = f(Some(&mut v));
    // SAFETY: caller's contract; zcio keeps offsets below i64::MAX.
    unsafe { p.write(v as i64) };
    r
}

fn flags_arg(bits: u32) -> Result<FdFlags, Error> {
    tables::fd_flags(bits).ok_or(Error::new(libc::EINVAL, Step::Args))
}

fn count(r: Result<u64, Error>) -> i64 {
    match r {
        Ok(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Err(e) => -i64::from(e.raw_os_error()),
    }
}

/// Sends `count` bytes (or up to end of file; `ZC_TO_EOF` for no limit) from
/// `in_fd` to `out_fd` with sendfile(2), looping over the kernel's 2 GiB cap and
/// short counts and retrying EINTR.
///
/// `offset` NULL reads from and advances `in_fd`'s file offset; otherwise `*offset`
/// is where reading starts, and it is advanced by the bytes moved while `in_fd`'s
/// offset is left alone. `out_fd` is written at its own offset. A non-blocking
/// `out_fd` that would block is waited on with poll, unless `ZC_F_NONBLOCK` is set:
/// then the call returns the bytes moved so far, or `-EAGAIN` when none (bytes the
/// read/write fallback read but the destination did not take go back to a source
/// that can seek; from a pipe or socket they are delivered first). Without
/// `ZC_F_NO_FALLBACK`, a source sendfile cannot read (a pipe, a socket) and a first
/// 0 from a file that reports size 0 (/proc, /sys, FUSE) continue with read/write
/// from where sendfile stopped. A reader that has gone gives `-EPIPE`, a write at
/// or past RLIMIT_FSIZE `-EFBIG` (a copy that ends exactly at the limit succeeds);
/// SIGPIPE and SIGXFSZ are neither delivered nor left pending. Both ends one file:
/// as for `zc_copy_file_range()`. Note: pages sent to a socket are shared with the
/// page cache, so later writes to the source may reach the reader.
///
/// Returns the bytes moved, or `-errno` (after a failure part-way `*offset` still
/// shows how far it got).
///
/// Errors: `-EBADF` (a descriptor not open, or opened without the access needed),
/// `-EINVAL` (negative `*offset`, unknown flags, overlapping ranges of one file;
/// with `ZC_F_NO_FALLBACK`, a pair the kernel cannot do), `-EAGAIN`, `-EPIPE`,
/// `-EFBIG`, `-ENOMEM` (the read/write fallback's buffer cannot be had: zcio never
/// aborts for memory), `-EIO`, `-ENOSPC`...
///
/// Flags: `ZC_F_NONBLOCK`, `ZC_F_NO_FALLBACK`. Thread safety: safe. Never closes a
/// descriptor.
///
/// # Safety
/// `offset` is NULL or points to a readable and writable `int64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut i64,
    count: u64,
    flags: u32,
) -> i64 {
    ffi_guard!(-i64::from(PANIC_ERRNO), {
        let r = fd_arg(out_fd).and_then(|o| {
            let i = fd_arg(in_fd)?;
            let flags = flags_arg(flags)?;
            // SAFETY: forwarded caller's contract.
            unsafe { with_off(offset, |off| crate::sendfile(o, i, off, count, flags)) }
        });
        self::count(r)
    })
}

/// Moves `len` bytes (or up to end of file; `ZC_TO_EOF` for no limit) from `in_fd`
/// to `out_fd` with splice(2). Any two descriptors work: when one is a pipe the
/// data is spliced directly, otherwise through a pipe zcio keeps for the calling
/// thread (so socket to file, the receive side, works too). After an error
/// part-way that pipe is thrown away, so no later call delivers stale bytes.
///
/// Offsets, O_APPEND and one file at both ends as for `zc_copy_file_range()`; a
/// pipe has no offset (`-ESPIPE` when one is given for it). Non-blocking
/// descriptors, `ZC_F_NO_FALLBACK`, EPIPE, EFBIG and the signals as for
/// `zc_sendfile()`. Under `ZC_F_NONBLOCK` the call returns as soon as a descriptor
/// would block, also through zcio's pipe: bytes the pipe holds that a full
/// destination did not take go back to a source that can seek (its offset says how
/// far the data got); from a pipe or socket they are delivered first, waiting for
/// the destination once, since they cannot go back.
///
/// Returns the bytes moved, or `-errno` (errors as for `zc_sendfile()`).
///
/// Thread safety: safe. Never closes a descriptor.
///
/// # Safety
/// `in_off` and `out_off` are NULL or point to readable and writable `int64_t`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_splice(
    in_fd: c_int,
    in_off: *mut i64,
    out_fd: c_int,
    out_off: *mut i64,
    len: u64,
    flags: u32,
) -> i64 {
    ffi_guard!(-i64::from(PANIC_ERRNO), {
        let r = fd_arg(in_fd).and_then(|i| {
            let o = fd_arg(out_fd)?;
            let flags = flags_arg(flags)?;
            // SAFETY: forwarded caller's contract.
            unsafe {
                with_off(in_off, |io| {
                    with_off(out_off, |oo| crate::splice(i, io, o, oo, len, flags))
                })
            }
        });
        count(r)
    })
}

/// Copies `len` bytes (or up to end of file; `ZC_TO_EOF` for no limit) from `in_fd`
/// to `out_fd` with copy_file_range(2), called directly in pieces under 2 GiB. The
/// file system may share blocks instead of copying (XFS, Btrfs).
///
/// `in_off`/`out_off` NULL use and advance the descriptor's file offset; otherwise
/// the value is used and advanced by the bytes moved, and the descriptor's offset is
/// left alone. An explicit `out_off` into an O_APPEND `out_fd` is `-EINVAL` (every
/// write goes to the end of file, whatever the offset); with NULL `out_off` the data
/// is appended, as write(2) does. Both ends one file (one descriptor, or two of the
/// same file): the source range ends where the file ended when the call started
/// (the copy never reads what it wrote), and ranges that overlap are `-EINVAL`, as
/// copy_file_range(2) says (a forward copy would read bytes it had just overwritten).
/// Without `ZC_F_NO_FALLBACK`, a pair the kernel cannot copy between (across file
/// systems, a file system without it, an O_APPEND destination, a seccomp filter) and
/// a first 0 from a file that reports size 0 continue with read/write from where it
/// stopped; EIO, ENOSPC, EDQUOT or ENOMEM after data moved are failures. EPIPE,
/// EFBIG and the signals as for `zc_sendfile()`.
///
/// Returns the bytes moved, or `-errno` (errors as for `zc_sendfile()`).
///
/// Flags: `ZC_F_NONBLOCK`, `ZC_F_NO_FALLBACK`. Thread safety: safe. Never closes a
/// descriptor.
///
/// # Safety
/// `in_off` and `out_off` are NULL or point to readable and writable `int64_t`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_copy_file_range(
    in_fd: c_int,
    in_off: *mut i64,
    out_fd: c_int,
    out_off: *mut i64,
    len: u64,
    flags: u32,
) -> i64 {
    ffi_guard!(-i64::from(PANIC_ERRNO), {
        let r = fd_arg(in_fd).and_then(|i| {
            let o = fd_arg(out_fd)?;
            let flags = flags_arg(flags)?;
            // SAFETY: forwarded caller's contract.
            unsafe {
                with_off(in_off, |io| {
                    with_off(out_off, |oo| {
                        crate::copy_file_range(i, io, o, oo, len, flags)
                    })
                })
            }
        });
        count(r)
    })
}

/// Makes `dst_fd` a copy-on-write clone of the whole of `src_fd` (FICLONE): the
/// file systems share the blocks, no data is copied. A clone or nothing: there is
/// no fallback. Moves no file offset.
///
/// Returns 0, or `-errno`: `-EOPNOTSUPP` (the file system cannot clone), `-EXDEV`
/// (different file systems), `-EINVAL` (either is not a regular file: a pipe, a
/// socket, a device; or unaligned), `-EISDIR` (either is a directory), `-EBADF`
/// (`dst_fd` not open for writing), `-ETXTBSY`, `-EPERM`.
///
/// Thread safety: safe. Never closes a descriptor.
#[unsafe(no_mangle)]
pub extern "C" fn zc_reflink(src_fd: c_int, dst_fd: c_int) -> c_int {
    ffi_guard!(-PANIC_ERRNO, {
        code(fd_arg(src_fd).and_then(|s| crate::reflink(s, fd_arg(dst_fd)?)))
    })
}

/// Copies `len` bytes (or up to end of file; `ZC_TO_EOF` for no limit) from the
/// file `in_fd` to `out_fd` by write(2) from a read-only mapping of the source,
/// mapped in windows with sequential-access advice.
///
/// zcio never touches the mapped memory itself, so a source truncated by another
/// process during the copy cannot raise SIGBUS in the calling program: the copy
/// ends at the new end of file (a short count), or fails with `-EFAULT`.
///
/// `in_off` and one file at both ends as for `zc_copy_file_range()`; `out_fd` is
/// written at its own offset. Non-blocking descriptors, `ZC_F_NONBLOCK`,
/// `ZC_F_NO_FALLBACK` (a source that cannot be mapped), EPIPE, EFBIG and the signals
/// as for `zc_sendfile()`; `-ENOMEM` when the mapping cannot be had.
///
/// Returns the bytes moved, or `-errno`.
///
/// Thread safety: safe. Never closes a descriptor.
///
/// # Safety
/// `in_off` is NULL or points to a readable and writable `int64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_mmap_copy(
    in_fd: c_int,
    in_off: *mut i64,
    out_fd: c_int,
    len: u64,
    flags: u32,
) -> i64 {
    ffi_guard!(-i64::from(PANIC_ERRNO), {
        let r = fd_arg(in_fd).and_then(|i| {
            let o = fd_arg(out_fd)?;
            let flags = flags_arg(flags)?;
            // SAFETY: forwarded caller's contract.
            unsafe { with_off(in_off, |io| crate::mmap_copy(i, io, o, len, flags)) }
        });
        count(r)
    })
}
