//! The C ABI's structs and constants, in plain syntax: cbindgen writes them into
//! `zcio.h`, and the ABI test (c-tests/abi) checks them against it with ctest.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

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
    /// The Direct I/O engine to use: `ZC_ENGINE_AUTO` (0: threads, else the
    /// synchronous engine, which needs one chunk's buffer) or one of `ZC_ENGINE_IO_URING`,
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
    /// The size of the copy: `bytes` plus the holes kept as holes, or the size a
    /// reflink shared (where `bytes` says what was written).
    pub file_size: u64,
    /// How a copy under `ZC_F_UNCACHED` left the page cache as it was: one of
    /// `ZC_UNCACHED_*` (`ZC_UNCACHED_NONE` when no such copy ran).
    pub uncached: u32,
    /// Zero; room for what a later version reports.
    pub reserved: u32,
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
/// Copy the source's extended attributes, but the POSIX ACLs (which go with
/// `ZC_F_PRESERVE_MODE`, as in cp) and the SELinux label.
pub const ZC_F_PRESERVE_XATTRS: u32 = 1 << 7;
/// On a non-blocking descriptor, return what was moved instead of waiting (as soon as
/// a descriptor would block; `-EAGAIN` when nothing moved).
pub const ZC_F_NONBLOCK: u32 = 1 << 8;
/// Refuse a destination that is a symlink with `-ELOOP` instead of writing through it.
pub const ZC_F_NOFOLLOW: u32 = 1 << 9;
/// Give the copy the source's exact permission bits, the umask ignored, and its
/// POSIX ACLs (as `cp -p`); set-user-ID and set-group-ID are kept only where the copy
/// has the source's owner and group.
pub const ZC_F_PRESERVE_MODE: u32 = 1 << 10;
/// Give the copy the source's owner and group where allowed (as root; otherwise a
/// group the caller is in); failures to do so are not errors. Without this flag a new
/// file belongs to the caller, whoever owns the source.
pub const ZC_F_PRESERVE_OWNER: u32 = 1 << 11;
/// Leave the page cache as it was without Direct I/O's alignment rules: a
/// read/write copy through the cache whose pages the kernel drops once written
/// back (`RWF_DONTCACHE`, Linux 6.14+), or zcio does where a file system does not
/// take it. With `ZC_METHOD_AUTO` it is what runs when no reflink can.
pub const ZC_F_UNCACHED: u32 = 1 << 12;
/// Without `ZC_F_PRESERVE_MODE`: give a new destination the mode a new file gets
/// (0666 minus the umask), as `cp --no-preserve=mode` does, instead of the source's
/// permission bits minus the umask.
pub const ZC_F_DEFAULT_MODE: u32 = 1 << 13;

/// `zc_stats.uncached`: no uncached copy ran.
pub const ZC_UNCACHED_NONE: u32 = 0;
/// `zc_stats.uncached`: the kernel dropped the pages once written back (`RWF_DONTCACHE`).
pub const ZC_UNCACHED_DONTCACHE: u32 = 1;
/// `zc_stats.uncached`: zcio dropped them after their write-back (`posix_fadvise`),
/// where a file system does not take `RWF_DONTCACHE`.
pub const ZC_UNCACHED_DROPPED: u32 = 2;

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

/// How far a tree copy has got, as its progress callback is told. zcio owns it;
/// fields may be added at its end (`size` says how many bytes it has).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct zc_tree_progress {
    /// `sizeof(zc_tree_progress)` of the library that calls.
    pub size: u32,
    /// 1 once every entry has been found: the `_known` fields are then totals.
    pub walk_done: u32,
    /// Entries finished (copied, skipped or failed).
    pub entries_done: u64,
    /// Entries found so far.
    pub entries_known: u64,
    /// Bytes of regular files dealt with so far.
    pub bytes_done: u64,
    /// Bytes of the regular files found so far (0 under
    /// `ZC_TREE_NO_BYTE_TOTALS`).
    pub bytes_known: u64,
}

/// A tree copy's progress callback: return 0 to go on, anything else to stop the
/// copy (it then fails with `-ECANCELED`; every file is complete or untouched).
/// Called at most every 100 ms and once at the end, from any of the copy's
/// threads, never two at once.
pub type zc_tree_progress_fn =
    Option<unsafe extern "C" fn(progress: *const zc_tree_progress, arg: *mut c_void) -> c_int>;

/// A tree copy's error callback, for an entry that could not be copied: `path` is
/// the source entry (NUL-terminated bytes, valid during the call), `err` the
/// positive errno, `step` one of `ZC_STEP_*`. Return 0 to go on with the other
/// entries, anything else to stop. Called from any of the copy's threads, never
/// two at once.
pub type zc_tree_error_fn = Option<
    unsafe extern "C" fn(path: *const c_char, err: c_int, step: u32, arg: *mut c_void) -> c_int,
>;

/// Options of a tree copy. Fill with `zc_tree_options_init()`, then change what
/// you need; a NULL `zc_tree_options *` means the defaults of `cp -r`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct zc_tree_options {
    /// `sizeof(zc_tree_options)` as the caller knows it.
    pub size: u32,
    /// `ZC_TREE_*` bits.
    pub flags: u32,
    /// `ZC_PRESERVE_*` bits: what to carry over besides the data.
    pub preserve: u32,
    /// One of `ZC_EXISTING_*`: what to do with destination entries that exist.
    pub existing: u32,
    /// One of `ZC_FOLLOW_*`: which symlinks to follow.
    pub follow: u32,
    /// Entries copied at once; 0 = zcio's default.
    pub jobs: u32,
    /// The options of each regular file's copy (method, flags, Direct I/O sizes);
    /// NULL for the defaults. Its progress callback is not used, and its
    /// `ZC_F_PRESERVE_*`, `ZC_F_EXCL` and `ZC_F_DEFAULT_MODE` bits come from
    /// `preserve`, `existing` and `ZC_TREE_DEFAULT_MODES`.
    pub file: *const zc_options,
    /// Called as the copy goes; NULL for none.
    pub progress: zc_tree_progress_fn,
    /// Passed to `progress` unchanged.
    pub progress_arg: *mut c_void,
    /// Called for each entry that fails; NULL: go on, and return the first error.
    pub on_error: zc_tree_error_fn,
    /// Passed to `on_error` unchanged.
    pub error_arg: *mut c_void,
    /// This call is part `part_index` of `part_count` of one copy shared between
    /// processes (`part_count` 0 or 1: a copy on its own); see `phase`.
    pub part_index: u32,
    /// The number of parts; 0 is the same as 1.
    pub part_count: u32,
    /// One of `ZC_PHASE_*`: with several parts, every part runs `ZC_PHASE_DATA`,
    /// then (once all have finished it) `ZC_PHASE_COMMIT`, then `ZC_PHASE_DIRS`.
    pub phase: u32,
    /// Zero.
    pub reserved: u32,
}

/// What a tree copy did; filled on success and on failure. Set `size` with
/// `zc_tree_stats_init()`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct zc_tree_stats {
    /// `sizeof(zc_tree_stats)` as the caller knows it.
    pub size: u32,
    /// The step of the first error (`ZC_STEP_NONE` when none).
    pub failed_step: u32,
    /// Regular files copied (hard links made instead count in `hardlinks`).
    pub files: u64,
    /// Directories created or merged into.
    pub dirs: u64,
    /// Symlinks recreated.
    pub symlinks: u64,
    /// Hard links made to a file copied already.
    pub hardlinks: u64,
    /// FIFOs, sockets and devices recreated.
    pub specials: u64,
    /// Bytes written into regular files.
    pub bytes: u64,
    /// Bytes shared with the source by reflinks instead of written.
    pub bytes_reflinked: u64,
    /// Bytes of holes kept as holes.
    pub bytes_in_holes: u64,
    /// Entries left as they were (`ZC_EXISTING_KEEP`, `ZC_EXISTING_NEWER`, other
    /// file systems under `ZC_TREE_ONE_FILE_SYSTEM`).
    pub skipped: u64,
    /// Entries that failed.
    pub errors: u64,
    /// For each `ZC_METHOD_*`, the regular files that method moved.
    pub files_by_method: [u64; 8],
    /// Wall time of the call, in nanoseconds.
    pub elapsed_ns: u64,
}

/// `zc_tree_options.flags`: stay on the source's file system (`cp -x`): a
/// directory on another one is copied empty and counted as skipped.
pub const ZC_TREE_ONE_FILE_SYSTEM: u32 = 1 << 0;
/// `zc_tree_options.flags`: refuse an existing destination directory with
/// `-EEXIST` instead of merging into it.
pub const ZC_TREE_NO_MERGE: u32 = 1 << 1;
/// `zc_tree_options.flags`: leave `zc_tree_progress.bytes_known` at 0 instead of
/// looking up each regular file's size as the walk finds it: a progress callback
/// there only to cancel, or that shows entries alone, saves a `stat` per file.
pub const ZC_TREE_NO_BYTE_TOTALS: u32 = 1 << 2;
/// `zc_tree_options.flags`, without `ZC_PRESERVE_MODE`: new entries get the modes
/// a new entry of their kind gets (0666 for files, FIFOs and devices, 0777 for
/// directories, with their sticky bit, and sockets, minus the umask), as
/// `cp --no-preserve=mode` does,
/// instead of the source's bits minus the umask.
pub const ZC_TREE_DEFAULT_MODES: u32 = 1 << 3;

/// `zc_tree_options.preserve`: the exact permission bits and the POSIX ACLs
/// (set-user-ID and set-group-ID only where the owner is kept too); without it new
/// entries get the source's bits minus the umask.
pub const ZC_PRESERVE_MODE: u32 = 1 << 0;
/// `zc_tree_options.preserve`: owner and group, where allowed.
pub const ZC_PRESERVE_OWNERSHIP: u32 = 1 << 1;
/// `zc_tree_options.preserve`: access and modification times, to the nanosecond.
pub const ZC_PRESERVE_TIMESTAMPS: u32 = 1 << 2;
/// `zc_tree_options.preserve`: hard links stay hard links.
pub const ZC_PRESERVE_LINKS: u32 = 1 << 3;
/// `zc_tree_options.preserve`: extended attributes but the POSIX ACLs (which go
/// with `ZC_PRESERVE_MODE`, as in cp) and the SELinux label (never copied).
pub const ZC_PRESERVE_XATTRS: u32 = 1 << 4;
/// `zc_tree_options.preserve`: everything, as `cp -a`.
pub const ZC_PRESERVE_ALL: u32 = (1 << 5) - 1;

/// `zc_tree_options.existing`: replace an existing entry atomically (a directory
/// is merged into, never replaced).
pub const ZC_EXISTING_REPLACE: u32 = 0;
/// `zc_tree_options.existing`: keep it (`cp -n`).
pub const ZC_EXISTING_KEEP: u32 = 1;
/// `zc_tree_options.existing`: replace it only when the source is newer (`cp -u`).
pub const ZC_EXISTING_NEWER: u32 = 2;

/// `zc_tree_options.phase`: the whole copy in one call (a copy on its own).
pub const ZC_PHASE_ALL: u32 = 0;
/// `zc_tree_options.phase`: the data of this part's entries, and every directory.
pub const ZC_PHASE_DATA: u32 = 1;
/// `zc_tree_options.phase`, after every part's `ZC_PHASE_DATA`: files split
/// between the parts get their names, files with several names are copied and
/// linked.
pub const ZC_PHASE_COMMIT: u32 = 2;
/// `zc_tree_options.phase`, after every part's `ZC_PHASE_COMMIT`: the metadata of
/// this part's directories.
pub const ZC_PHASE_DIRS: u32 = 3;

/// `zc_tree_options.follow`: copy every symlink as a symlink (`cp -P`).
pub const ZC_FOLLOW_NEVER: u32 = 0;
/// `zc_tree_options.follow`: follow `src` itself when it is a symlink (`cp -H`).
pub const ZC_FOLLOW_TOP: u32 = 1;
/// `zc_tree_options.follow`: follow every symlink (`cp -L`).
pub const ZC_FOLLOW_ALL: u32 = 2;
