//! Whole-file copies by path, and the option and statistics initialisers.

use std::ffi::{c_char, c_int};

use super::guard::{PANIC_ERRNO, ffi_guard};
use super::path_copy;
use super::types::{zc_options, zc_stats};
use crate::Options;

/// Copies the file `src` to `dst` with Direct I/O (O_DIRECT on both files, buffers and
/// I/O sizes aligned as the file systems require, the unaligned tail handled, the page
/// cache left alone).
///
/// The data goes into a temporary file in `dst`'s directory that replaces `dst` only
/// when everything succeeded: on any failure or cancellation an existing `dst` is
/// left exactly as it was and no temporary file remains. An existing `dst` keeps its
/// mode, its extended attributes and access ACL, and its owner where allowed; a new
/// one gets 0644 minus the umask. A symlink as `dst` is written through. Holes in the
/// source stay holes: only its data segments are read and written (on alignment
/// boundaries), and only a file without holes is preallocated. Where a file system
/// refuses O_DIRECT (ramfs), or where a padded last write would cross RLIMIT_FSIZE,
/// a buffered copy that drops its pages from the cache runs instead (`stats.method`
/// is `ZC_METHOD_READ_WRITE`, `stats.fallbacks` has `1u << ZC_METHOD_DIRECT`), unless
/// `ZC_F_NO_FALLBACK` is set.
///
/// Honoured flags: `ZC_F_FSYNC`, `ZC_F_NO_FALLBACK`, `ZC_F_EXCL`, `ZC_F_IN_PLACE`,
/// `ZC_F_NO_SPARSE`, `ZC_F_PRESERVE_TIMES`, `ZC_F_PRESERVE_XATTRS`,
/// `ZC_F_PRESERVE_MODE`, `ZC_F_PRESERVE_OWNER`, `ZC_F_NOFOLLOW`; the others change
/// nothing here. A new destination belongs to the caller unless
/// `ZC_F_PRESERVE_OWNER` is set, even when root copies another user's file.
/// `opts->method` must be `ZC_METHOD_AUTO` or `ZC_METHOD_DIRECT`. A source under
/// another process's write lease is opened as a reader's open(2) is: the call waits
/// until the lease is broken. SIGPIPE and SIGXFSZ never reach the program: a copy
/// that does not fit RLIMIT_FSIZE fails with `-EFBIG` (one that ends exactly at the
/// limit succeeds).
///
/// Returns 0 on success, `-errno` on failure; `errno` itself is left alone.
///
/// Errors: `-EINVAL` for NULL paths, bad options, a chunk size that is not a
/// multiple of the alignment, a source that is not a regular file, `dst` being the
/// source itself (same path, hard link, symlink, bind mount), or O_DIRECT refused
/// under `ZC_F_NO_FALLBACK`; `-EISDIR` when either path is a directory; `-EEXIST`
/// under `ZC_F_EXCL`; `-ECANCELED` when the progress callback stopped the copy;
/// `-E2BIG` for a `size` larger than this library knows with non-zero unknown
/// fields; `-ENOMEM` when not even one buffer can be allocated (never an abort);
/// `-EFBIG` past RLIMIT_FSIZE; `-EBUSY` when `dst` is a mount point (a file
/// bind-mounted on it) and `-EPERM` when it is another user's file in a sticky
/// directory: neither can be replaced, and `ZC_F_IN_PLACE` writes into it instead,
/// as cp does; otherwise the errno of the failing system call (`-ENOENT`, `-EACCES`,
/// `-ENOSPC`, `-EIO`...). `stats_out->failed_step` says which step failed.
///
/// NULL: `opts` NULL means defaults, `stats_out` NULL means no statistics.
///
/// Thread safety: safe to call from any number of threads at once.
///
/// # Safety
/// `src` and `dst` are NULL or NUL-terminated strings; `opts` and `stats_out` are
/// NULL or point to structs initialised by `zc_options_init()`/`zc_stats_init()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn directio_copy(
    src: *const c_char,
    dst: *const c_char,
    opts: *const zc_options,
    stats_out: *mut zc_stats,
) -> c_int {
    ffi_guard!(-PANIC_ERRNO, {
        // SAFETY: forwarded caller's contract.
        unsafe { path_copy(src, dst, opts, stats_out, |o, s, d| o.directio_copy(s, d)) }
    })
}

/// Drop-in for the `directIO_copy` of Van C. Ngo's article "File Copy using
/// DirectIO" (*the article* in this header): copies `src_path` to `dest_path` with
/// Direct I/O and default options. Prints nothing.
///
/// Returns true on success; false on failure with `errno` set (EINVAL for NULL
/// paths or a copy onto itself, ENOENT, EACCES, EISDIR, ENOSPC, ENOMEM, EFBIG,
/// EIO...). A failed call creates or changes nothing. The copy is byte-identical and
/// exactly the source's size, holes kept; a new destination gets 0644 minus the
/// umask and belongs to the caller (root's copy of another user's file is root's).
///
/// Thread safety: safe to call from any number of threads at once.
///
/// # Safety
/// `src_path` and `dest_path` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn directIO_copy(src_path: *const c_char, dest_path: *const c_char) -> bool {
    let r = ffi_guard!(-PANIC_ERRNO, {
        // SAFETY: forwarded caller's contract.
        unsafe {
            path_copy(
                src_path,
                dest_path,
                std::ptr::null(),
                std::ptr::null_mut(),
                |o: &Options<'_>, s, d| o.directio_copy(s, d),
            )
        }
    });
    if r < 0 {
        nix::errno::Errno::set_raw(-r);
        false
    } else {
        true
    }
}

/// Fills `*opts` with the defaults (automatic method, no flags, zcio's queue depth
/// and chunk size, no progress callback) and sets `opts->size`.
///
/// The header's `zc_options_init(opts)` is a macro that calls
/// `zc_options_init_sized(opts, sizeof *opts)`, so that a program built against an
/// older header never has bytes written past its struct. Callers through FFI call
/// this function, which assumes the struct of this library's version.
///
/// NULL: does nothing. Thread safety: safe.
///
/// # Safety
/// `opts` is NULL or points to a writable `zc_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_options_init(opts: *mut zc_options) {
    // SAFETY: forwarded caller's contract.
    unsafe { zc_options_init_sized(opts, std::mem::size_of::<zc_options>()) }
}

/// As `zc_options_init()`, for a struct of `size` bytes: writes no byte past `size`.
///
/// # Safety
/// `opts` is NULL or points to `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_options_init_sized(opts: *mut zc_options, size: usize) {
    ffi_guard!((), {
        // SAFETY: caller's contract: `size` writable bytes.
        unsafe { init_sized(opts.cast(), size) }
    })
}

/// Fills `*stats` with zeros and sets `stats->size`. The header's macro
/// `zc_stats_init(stats)` passes the caller's `sizeof`, as for `zc_options_init()`.
///
/// NULL: does nothing. Thread safety: safe.
///
/// # Safety
/// `stats` is NULL or points to a writable `zc_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_stats_init(stats: *mut zc_stats) {
    // SAFETY: forwarded caller's contract.
    unsafe { zc_stats_init_sized(stats, std::mem::size_of::<zc_stats>()) }
}

/// As `zc_stats_init()`, for a struct of `size` bytes: writes no byte past `size`.
///
/// # Safety
/// `stats` is NULL or points to `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_stats_init_sized(stats: *mut zc_stats, size: usize) {
    ffi_guard!((), {
        // SAFETY: caller's contract: `size` writable bytes.
        unsafe { init_sized(stats.cast(), size) }
    })
}

/// Zeroes `size` bytes and stores `size` in the leading `uint32_t` (all defaults of
/// both structs are zero).
///
/// # Safety
/// `p` is NULL or points to `size` writable bytes.
pub(crate) unsafe fn init_sized(p: *mut u8, size: usize) {
    if p.is_null() {
        return;
    }
    // SAFETY: caller's contract.
    unsafe {
        std::ptr::write_bytes(p, 0, size);
        if size >= 4 {
            p.cast::<u32>()
                .write_unaligned(u32::try_from(size).unwrap_or(u32::MAX));
        }
    }
}

/// Copies the file `src` to `dst` with the method in `opts->method`, on the same
/// destination rules as `directio_copy()` (temporary file, replace on success, an
/// existing destination untouched on failure, refused when it is the source).
///
/// `ZC_METHOD_AUTO` (or NULL `opts`) picks the fastest safe path: a reflink (unless
/// `ZC_F_NO_REFLINK`), then copy_file_range (unless `ZC_F_NO_REFLINK`: it may share
/// blocks), then sendfile, then read/write, each given up only for the errors that
/// mean "not possible here" and only before it moved data.
/// `ZC_METHOD_DIRECT` is `directio_copy()`. `ZC_METHOD_REFLINK` clones or fails.
/// `ZC_METHOD_COPY_FILE_RANGE`, `ZC_METHOD_SENDFILE`, `ZC_METHOD_SPLICE`,
/// `ZC_METHOD_MMAP` and `ZC_METHOD_READ_WRITE` force that method; where the kernel
/// cannot use it for these files, the copy goes on with read/write from where it
/// stopped (`stats.method` is then `ZC_METHOD_READ_WRITE` and `stats.fallbacks`
/// names the method given up), unless `ZC_F_NO_FALLBACK` is set. `ZC_F_NO_REFLINK`
/// with `ZC_METHOD_REFLINK` or `ZC_METHOD_COPY_FILE_RANGE` is `-EINVAL`. A new
/// destination gets the source's permission bits minus the umask and belongs to the
/// caller unless `ZC_F_PRESERVE_OWNER`; an existing one keeps its mode, extended
/// attributes, access ACL and (where allowed) owner.
///
/// Sources and destinations that are not regular files: a FIFO or character device
/// source is streamed to its end (no size: the progress `total` is 0). An existing
/// FIFO, character or block device as `dst` is opened for writing as it is, as cp
/// does (no temporary file, no truncation, no size set; the open waits for a FIFO's
/// reader, and writes wait for it to read; a failure leaves what was written); not
/// under `ZC_F_EXCL` (`-EEXIST`).
///
/// Returns 0 or `-errno`, as `directio_copy()`.
///
/// Thread safety: safe.
///
/// # Safety
/// As `directio_copy()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_copy_file(
    src: *const c_char,
    dst: *const c_char,
    opts: *const zc_options,
    stats_out: *mut zc_stats,
) -> c_int {
    ffi_guard!(-PANIC_ERRNO, {
        // SAFETY: forwarded caller's contract.
        unsafe { path_copy(src, dst, opts, stats_out, |o, s, d| o.copy_file(s, d)) }
    })
}

/// Copies the file `src` to `dst` through splice(2) (a pipe zcio keeps for the
/// calling thread), on the destination rules of `directio_copy()`. `opts->method`
/// must be `ZC_METHOD_AUTO` or `ZC_METHOD_SPLICE`.
///
/// Returns 0 or `-errno`, as `directio_copy()`.
///
/// Thread safety: safe.
///
/// # Safety
/// As `directio_copy()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_splice_file(
    src: *const c_char,
    dst: *const c_char,
    opts: *const zc_options,
    stats_out: *mut zc_stats,
) -> c_int {
    ffi_guard!(-PANIC_ERRNO, {
        // SAFETY: forwarded caller's contract.
        unsafe { path_copy(src, dst, opts, stats_out, |o, s, d| o.splice_file(s, d)) }
    })
}
