//! zcio: fast, safe file copies for Linux.
//!
//! One call copies a file by the best path the kernel and file systems offer
//! (a reflink, `copy_file_range`, `sendfile`, a read/write loop) and says which it
//! took; [`directio_copy`] copies with O_DIRECT, leaving the page cache alone (the
//! C ABI's `directIO_copy` replaces the function of Van C. Ngo's article "File Copy
//! using DirectIO", *the article* in these docs); the
//! descriptor calls ([`sendfile`], [`splice`], [`copy_file_range`], [`reflink`],
//! [`mmap_copy`]) finish what the kernel calls start. Every path-based copy writes
//! into a temporary file and replaces the destination only when it is complete:
//! a failure leaves an existing destination as it was.
//!
//! ```no_run
//! // Defaults, like std::fs::copy, with a report of what ran.
//! let stats = zcio::copy_file("big.img", "copy.img")?;
//! println!("{} bytes by {}", stats.bytes, stats.method);
//!
//! // Options are built like std::fs::OpenOptions.
//! let stats = zcio::Options::new()
//!     .fsync(true)
//!     .preserve_times(true)
//!     .directio_copy("big.img", "backup.img")?;
//! println!("engine {:?}, alignment {}", stats.engine, stats.alignment);
//! # Ok::<(), zcio::Error>(())
//! ```
//!
//! Errors are [`Error`]: an errno, the [`Step`] that failed and, for the
//! path-based copies, the [`Stats`] of what had been done; it converts to and from
//! [`std::io::Error`].
//!
//! The same library is a C library: `include/zcio.h` declares its C ABI.

#![warn(missing_docs)]
// `make doc-check` builds the docs with this cfg: every public item has an example.
#![cfg_attr(
    zcio_doc_check,
    feature(rustdoc_missing_doc_code_examples),
    deny(rustdoc::missing_doc_code_examples)
)]

mod core;

#[doc(hidden)]
pub mod capi;

use std::path::Path;

pub use crate::core::align::{AlignSource, DioAlign, dio_alignment};
pub use crate::core::clone::reflink;
pub use crate::core::directio::{Advice, directio};
pub use crate::core::error::{Error, Result};
pub use crate::core::fdio::{MAX_IO, TO_EOF};
pub use crate::core::mmap::mmap_copy;
pub use crate::core::options::{FdFlags, Flags, Options, Progress, ProgressFn};
pub use crate::core::range::copy_file_range;
pub use crate::core::sendfile::sendfile;
pub use crate::core::splice::splice;
pub use crate::core::stats::{Engine, Method, Stats, Step, TreeStats, Uncached};
pub use crate::core::tree::{
    Existing, Follow, Phase, Preserve, TreeError, TreeErrorFn, TreeOptions, TreeProgress,
    TreeProgressFn,
};

/// Copies the file `src` to `dst` by the fastest safe path, with default
/// [`Options`], and returns what happened.
///
/// The chain is a reflink (the file system shares the blocks), then
/// `copy_file_range`, then `sendfile`, then a read/write loop; each is given up
/// only for the errors that mean "not possible here", and only before it moved
/// data ([`Stats::fallbacks`] says which and why). A file of 32 MiB or more
/// between two disk file systems (ext4, XFS, Btrfs, F2FS) is copied with Direct
/// I/O instead of `copy_file_range`: faster, and no dirty pages left to write
/// back. Its reads come from the page cache where at least an eighth of the file
/// is cached, else from the disk with O_DIRECT. Holes stay holes; FIFOs and
/// character devices are streamed; a /proc file that claims size 0 is read to its
/// end. The data goes into a temporary file in `dst`'s directory, which replaces
/// `dst` only when everything succeeded; a copy onto itself (same path, hard link,
/// symlink, bind mount) is refused with `EINVAL` before anything is opened for
/// writing. A new `dst` gets the source's permission bits minus the umask and
/// belongs to the caller (unless [`Flags::PRESERVE_OWNER`]); an existing one keeps
/// its mode, extended attributes, access ACL and, where allowed, its owner.
///
/// ```no_run
/// let stats = zcio::copy_file("big.img", "copy.img")?;
/// println!("{} bytes by {} in {:?}", stats.bytes, stats.method, stats.elapsed);
/// # Ok::<(), zcio::Error>(())
/// ```
pub fn copy_file(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<Stats> {
    Options::new().copy_file(src, dst)
}

/// Copies the file `src` to `dst` with Direct I/O and default [`Options`]: O_DIRECT
/// on both files, buffers and I/O sizes aligned as the file systems require
/// ([`dio_alignment`]), reads and writes overlapped, the unaligned tail handled, the
/// page cache left as it was. Where a file system refuses O_DIRECT, a buffered copy
/// that drops its pages from the cache runs instead (`stats.method` is then
/// [`Method::ReadWrite`], and [`Stats::gave_up`] of [`Method::Direct`] says why).
/// Holes stay holes: only data segments are copied (on alignment boundaries) and
/// only a file without holes is preallocated. A new `dst` gets 0644 minus the
/// umask; the destination rules are those of [`copy_file`].
///
/// ```no_run
/// let stats = zcio::directio_copy("disk.img", "backup/disk.img")?;
/// assert_eq!(stats.method, zcio::Method::Direct);
/// # Ok::<(), zcio::Error>(())
/// ```
pub fn directio_copy(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<Stats> {
    Options::new().directio_copy(src, dst)
}

/// Copies the file `src` to `dst` through splice(2), on the destination rules of
/// [`copy_file`].
///
/// ```no_run
/// let stats = zcio::splice_file("a", "b")?;
/// assert_eq!(stats.method, zcio::Method::Splice);
/// # Ok::<(), zcio::Error>(())
/// ```
pub fn splice_file(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<Stats> {
    Options::new().splice_file(src, dst)
}

/// Copies the tree at `src` to `dst` as `cp -r` does, with default
/// [`TreeOptions`] ([`TreeOptions::archive`] for `cp -a`), and returns what it did.
///
/// Every kind of entry is copied: regular files through the same per-file copy as
/// [`copy_file`] (reflink, holes, atomic replace), directories (their metadata set
/// after their contents), symlinks as symlinks, FIFOs, sockets and devices
/// recreated. `dst` is the copy's root: made when missing, merged into when it is a
/// directory already. A destination inside `src` is refused with `EINVAL` before
/// anything is written. The walk works relative to directory descriptors and
/// never follows a symlink it did not mean to, so a tree changing under the copy
/// cannot make it read outside `src` or write outside `dst`. Entries that fail are
/// skipped (see [`TreeOptions::on_error`]) and the first error is returned, with
/// [`Error::tree_stats`]. `src` may also be a single file or symlink.
///
/// ```no_run
/// let stats = zcio::copy_tree("project", "project.bak")?;
/// println!("{} files, {} dirs, {} bytes", stats.files, stats.dirs, stats.bytes);
/// # Ok::<(), zcio::Error>(())
/// ```
pub fn copy_tree(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<TreeStats> {
    TreeOptions::new().copy_tree(src, dst)
}

/// Switches for tests that must reach paths this machine would not take by itself.
#[doc(hidden)]
pub mod testing {
    /// Makes every copy in this process use a named temporary file, as on a file
    /// system without O_TMPFILE.
    pub fn force_named_temp(on: bool) {
        crate::core::target::NO_TMPFILE.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The capacity of this thread's splice pipe, making it if needed.
    pub fn thread_pipe_size() -> crate::Result<usize> {
        crate::core::splice::thread_pipe_size()
    }
}
