//! The C ABI's structs and constants, in plain syntax: cbindgen writes them into
//! `zcio.h`, and the ABI test (c-tests/abi) checks them against it with ctest.

#![allow(non_camel_case_types)]

use std::ffi::{c_int, c_void};

/// Progress callback: `done` bytes of `total` have been copied. `total` is the
/// source's size when the copy started, the same in every call (a source that grows
/// meanwhile is still copied to its end, so `done` may pass it), and 0 when the source
/// has no size (a FIFO, a character device). Holes skipped count as done: the last
/// call of a copy that succeeds has `done` == the copy's size (== `total` for a file
/// that did not change). Return 0 to go on, anything else to stop the copy, which
/// then fails with `-ECANCELED` and leaves the destination as it was. Called on the
/// thread that called zcio.
pub type zc_progress_fn =
    Option<unsafe extern "C" fn(done: u64, total: u64, arg: *mut c_void) -> c_int>;

/// Options of a copy. Fill with `zc_options_init()`, then change what you need;
/// a NULL `zc_options *` means all defaults.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct zc_options {
    /// `sizeof(zc_options)` as the caller knows it; set by `zc_options_init()`.
    pub size: u32,
    /// One of `ZC_METHOD_*`.
    pub method: u32,
    /// `ZC_F_*` bits.
    pub flags: u32,
    /// I/Os in flight for engines that overlap them; 0 = zcio's default (16). Capped
    /// at 4096 for io_uring and at 64 threads for the threaded engine, and at the
    /// file's number of chunks plus one.
    pub queue_depth: u32,
    /// Bytes per I/O; 0 = zcio's default (1 MiB). For Direct I/O, a multiple of the
    /// alignment (see `zc_dio_alignment()`) and at most 1 GiB; one larger than the
    /// file is cut to the file's size (at least 64 KiB), so the buffers never take
    /// more than `queue_depth` x `chunk_size`.
    pub chunk_size: u64,
    /// Called as bytes move, and once at the end; NULL for none.
    pub progress: zc_progress_fn,
    /// Passed to `progress` unchanged.
    pub progress_arg: *mut c_void,
    /// The Direct I/O engine to use: `ZC_ENGINE_AUTO` (0: io_uring where the kernel
    /// allows it and its buffers can be had, else threads, else the synchronous engine,
    /// which needs one chunk's buffer) or one of `ZC_ENGINE_IO_URING`,
    /// `ZC_ENGINE_THREADS`, `ZC_ENGINE_SYNC` (`-EOPNOTSUPP` when it cannot run here,
    /// `-ENOMEM` when its buffers cannot be allocated).
    pub engine: u32,
}

/// What a copy did; filled on success and on failure. Set `size` with
/// `zc_stats_init()`; a NULL `zc_stats *` means none wanted.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct zc_stats {
    /// `sizeof(zc_stats)` as the caller knows it; set by `zc_stats_init()`.
    pub size: u32,
    /// The `ZC_METHOD_*` that moved the data (`ZC_METHOD_AUTO`: none did).
    pub method: u32,
    /// `1u << method` for each method tried and abandoned.
    pub fallbacks: u32,
    /// The Direct I/O alignment used, in bytes; 0 for other methods.
    pub alignment: u32,
    /// Bytes written to the destination.
    pub bytes: u64,
    /// System calls that moved data.
    pub io_calls: u64,
    /// Wall time of the call, in nanoseconds.
    pub elapsed_ns: u64,
    /// The Direct I/O engine that ran: one of `ZC_ENGINE_*`.
    pub engine: u32,
    /// The step that failed: one of `ZC_STEP_*` (`ZC_STEP_NONE` on success).
    pub failed_step: u32,
    /// For each method in `fallbacks`, indexed by method, the positive errno that
    /// made zcio abandon it.
    pub fallback_errno: [i32; 8],
    /// Extended attributes copied under `ZC_F_PRESERVE_XATTRS`.
    pub xattrs_copied: u32,
    /// Extended attributes the destination would not take (not supported there, not
    /// permitted); the copy still succeeds.
    pub xattrs_skipped: u32,
}

/// As a length: copy until end of file.
pub const ZC_TO_EOF: u64 = u64::MAX;

/// Let zcio choose the fastest safe method.
pub const ZC_METHOD_AUTO: u32 = 0;
/// O_DIRECT reads and writes on aligned buffers.
pub const ZC_METHOD_DIRECT: u32 = 1;
/// A copy-on-write clone of the whole file (FICLONE).
pub const ZC_METHOD_REFLINK: u32 = 2;
/// copy_file_range(2).
pub const ZC_METHOD_COPY_FILE_RANGE: u32 = 3;
/// sendfile(2).
pub const ZC_METHOD_SENDFILE: u32 = 4;
/// splice(2) through a pipe.
pub const ZC_METHOD_SPLICE: u32 = 5;
/// write(2) from a mapping of the source.
pub const ZC_METHOD_MMAP: u32 = 6;
/// A plain read(2)/write(2) loop.
pub const ZC_METHOD_READ_WRITE: u32 = 7;
/// The number of `ZC_METHOD_*` values (the length of `zc_stats.fallback_errno`).
pub const ZC_METHOD_COUNT: u32 = 8;

/// fsync the file and its directory entry before returning. The directory is synced
/// after the rename: if that fails, the new file is already in place and the call
/// returns the error with `failed_step` `ZC_STEP_SYNC`.
pub const ZC_F_FSYNC: u32 = 1 << 0;
/// Fail with the kernel's error instead of falling back to another method.
pub const ZC_F_NO_FALLBACK: u32 = 1 << 1;
/// Fail with `-EEXIST` when the destination exists, also when it appears during the
/// copy: the finished file is given its name by a call that never replaces one
/// (linkat, or renameat2 with RENAME_NOREPLACE). On a file system with neither and no
/// O_TMPFILE (libfuse2 file systems such as s3fs or rclone mounts) the name itself is
/// created with O_EXCL and written in place: visible while the copy runs, removed
/// again on failure (a killed program can leave it partial).
pub const ZC_F_EXCL: u32 = 1 << 2;
/// Write straight into the destination (no temporary file): a failure leaves it partial.
pub const ZC_F_IN_PLACE: u32 = 1 << 3;
/// Never share blocks with the source: no reflink, no copy_file_range (which may
/// share blocks and cannot be told not to). With `ZC_METHOD_REFLINK` or
/// `ZC_METHOD_COPY_FILE_RANGE` it is a contradiction: `-EINVAL`.
pub const ZC_F_NO_REFLINK: u32 = 1 << 4;
/// Write holes out as zeros instead of keeping the copy sparse (every method,
/// Direct I/O included).
pub const ZC_F_NO_SPARSE: u32 = 1 << 5;
/// Give the copy the source's access and modification times.
pub const ZC_F_PRESERVE_TIMES: u32 = 1 << 6;
/// Copy the source's extended attributes.
pub const ZC_F_PRESERVE_XATTRS: u32 = 1 << 7;
/// On a non-blocking descriptor, return what was moved instead of waiting (as soon as
/// a descriptor would block; `-EAGAIN` when nothing moved).
pub const ZC_F_NONBLOCK: u32 = 1 << 8;
/// Refuse a destination that is a symlink with `-ELOOP` instead of writing through it.
pub const ZC_F_NOFOLLOW: u32 = 1 << 9;
/// Give the copy the source's exact permission bits, the umask ignored (as `cp -p`);
/// set-user-ID and set-group-ID are kept only where the copy has the source's owner
/// and group.
pub const ZC_F_PRESERVE_MODE: u32 = 1 << 10;
/// Give the copy the source's owner and group where allowed (as root; otherwise a
/// group the caller is in); failures to do so are not errors. Without this flag a new
/// file belongs to the caller, whoever owns the source.
pub const ZC_F_PRESERVE_OWNER: u32 = 1 << 11;

/// `zc_stats.engine`: no Direct I/O engine ran.
pub const ZC_ENGINE_NONE: u32 = 0;
/// `zc_options.engine`: let zcio choose (the same value as `ZC_ENGINE_NONE`).
pub const ZC_ENGINE_AUTO: u32 = 0;
/// `zc_stats.engine`: one read, then one write, in turn.
pub const ZC_ENGINE_SYNC: u32 = 1;
/// `zc_stats.engine`: reads and writes overlapped by threads.
pub const ZC_ENGINE_THREADS: u32 = 2;
/// `zc_stats.engine`: reads and writes overlapped by io_uring.
pub const ZC_ENGINE_IO_URING: u32 = 3;

/// `zc_stats.failed_step`: nothing failed.
pub const ZC_STEP_NONE: u32 = 0;
/// `zc_stats.failed_step`: the arguments were refused.
pub const ZC_STEP_ARGS: u32 = 1;
/// `zc_stats.failed_step`: opening or inspecting the source.
pub const ZC_STEP_OPEN_SRC: u32 = 2;
/// `zc_stats.failed_step`: opening or creating the destination or its temporary file.
pub const ZC_STEP_OPEN_DST: u32 = 3;
/// `zc_stats.failed_step`: reading the source.
pub const ZC_STEP_READ: u32 = 4;
/// `zc_stats.failed_step`: writing the destination.
pub const ZC_STEP_WRITE: u32 = 5;
/// `zc_stats.failed_step`: sizing the destination (ftruncate, fallocate).
pub const ZC_STEP_SIZE: u32 = 6;
/// `zc_stats.failed_step`: fsync.
pub const ZC_STEP_SYNC: u32 = 7;
/// `zc_stats.failed_step`: putting the finished file in place (link, rename).
pub const ZC_STEP_COMMIT: u32 = 8;
/// `zc_stats.failed_step`: mode, owner, times or extended attributes.
pub const ZC_STEP_METADATA: u32 = 9;
/// `zc_stats.failed_step`: the progress callback asked to stop.
pub const ZC_STEP_CANCEL: u32 = 10;
/// `zc_stats.failed_step`: memory or another local resource ran out.
pub const ZC_STEP_RESOURCE: u32 = 11;

/// `zc_directio()` advice: cached I/O.
pub const ZC_DIRECTIO_OFF: c_int = 0;
/// `zc_directio()` advice: Direct I/O.
pub const ZC_DIRECTIO_ON: c_int = 1;
/// `directio()` advice, Solaris's name: cached I/O.
pub const DIRECTIO_OFF: c_int = 0;
/// `directio()` advice, Solaris's name: Direct I/O.
pub const DIRECTIO_ON: c_int = 1;
