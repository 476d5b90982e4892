//! What a caller is told about a copy: the method and engine that ran, the step
//! that failed, and the statistics.

use std::fmt;
use std::time::Duration;

/// Gives an enum `name()`, and the same name NUL-terminated for the C API, from
/// one list.
macro_rules! names {
    ($ty:ident, $(#[$doc:meta])* { $($v:ident => $s:literal,)* }) => {
        impl $ty {
            $(#[$doc])*
            pub const fn name(self) -> &'static str {
                match self {
                    $($ty::$v => $s,)*
                }
            }

            /// [`name`](Self::name) with a NUL at its end.
            pub(crate) const fn name_nul(self) -> &'static str {
                match self {
                    $($ty::$v => concat!($s, "\0"),)*
                }
            }
        }
    };
}

/// How the data is moved.
///
/// ```
/// let m: zcio::Method = "copy_file_range".parse()?; // EINVAL for an unknown name
/// assert_eq!(m, zcio::Method::CopyFileRange);
/// assert_eq!(m.to_string(), "copy_file_range");
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum Method {
    /// zcio picks the fastest safe path (as an outcome: nothing ran yet).
    #[default]
    Auto = 0,
    /// O_DIRECT reads and writes on aligned buffers.
    Direct = 1,
    /// A copy-on-write clone of the whole file (FICLONE).
    Reflink = 2,
    /// copy_file_range(2): the kernel copies, the file system may offload.
    CopyFileRange = 3,
    /// sendfile(2): in-kernel copy from the page cache.
    Sendfile = 4,
    /// splice(2) through a pipe.
    Splice = 5,
    /// write(2) from a read-only mapping of the source.
    Mmap = 6,
    /// A plain read(2)/write(2) loop.
    ReadWrite = 7,
}

impl Method {
    /// Every method, in the order of their numbers.
    ///
    /// ```
    /// assert_eq!(zcio::Method::ALL[0], zcio::Method::Auto);
    /// ```
    pub const ALL: [Method; 8] = [
        Method::Auto,
        Method::Direct,
        Method::Reflink,
        Method::CopyFileRange,
        Method::Sendfile,
        Method::Splice,
        Method::Mmap,
        Method::ReadWrite,
    ];

    /// Its bit in the fallback set.
    pub(crate) const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

names! {
    Method,
    /// The name zcp and the docs use.
    ///
    /// ```
    /// assert_eq!(zcio::Method::ReadWrite.name(), "read_write");
    /// ```
    {
        Auto => "auto",
        Direct => "direct",
        Reflink => "reflink",
        CopyFileRange => "copy_file_range",
        Sendfile => "sendfile",
        Splice => "splice",
        Mmap => "mmap",
        ReadWrite => "read_write",
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which engine moves the data of a Direct I/O copy. Where none is asked for
/// (`Option<Engine>` is `None`), zcio picks threads (faster than io_uring on the
/// disks measured), each worker taking at least 4 chunks of the file, and the
/// synchronous loop for a file of fewer than 8 chunks.
///
/// ```
/// let e: zcio::Engine = "io_uring".parse()?;
/// assert_eq!(e, zcio::Engine::IoUring);
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum Engine {
    /// One read, then one write, in turn.
    Sync = 1,
    /// Reads and writes overlapped by worker threads.
    Threads = 2,
    /// Reads and writes overlapped by io_uring.
    IoUring = 3,
}

impl Engine {
    /// Every engine, in the order of their numbers.
    ///
    /// ```
    /// assert_eq!(zcio::Engine::ALL.len(), 3);
    /// ```
    pub const ALL: [Engine; 3] = [Engine::Sync, Engine::Threads, Engine::IoUring];
}

names! {
    Engine,
    /// A short name, for messages and command lines.
    ///
    /// ```
    /// assert_eq!(zcio::Engine::Threads.name(), "threads");
    /// ```
    {
        Sync => "sync",
        Threads => "threads",
        IoUring => "io_uring",
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where in a copy a failure happened.
///
/// ```
/// let e = zcio::copy_file("/nonexistent/zcio-doc", "/tmp/zcio-doc-out").unwrap_err();
/// assert_eq!(e.step(), zcio::Step::OpenSrc);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum Step {
    /// Nothing failed, or the step is not known (an error made from an
    /// [`std::io::Error`] that did not come from zcio).
    #[default]
    None = 0,
    /// The arguments were refused before anything was opened.
    Args = 1,
    /// Opening or inspecting the source.
    OpenSrc = 2,
    /// Opening, creating or inspecting the destination (or its temporary file).
    OpenDst = 3,
    /// Reading the source.
    Read = 4,
    /// Writing the destination.
    Write = 5,
    /// Sizing the destination (ftruncate, fallocate).
    Size = 6,
    /// Making the data durable (fsync, fdatasync).
    Sync = 7,
    /// Putting the finished file in place (linkat, rename).
    Commit = 8,
    /// Setting mode, owner, times or extended attributes.
    Metadata = 9,
    /// The progress callback asked to stop.
    Cancel = 10,
    /// Memory or another local resource could not be had.
    Resource = 11,
}

impl Step {
    /// Every step, in the order of their numbers.
    ///
    /// ```
    /// assert_eq!(zcio::Step::ALL[0], zcio::Step::None);
    /// ```
    pub const ALL: [Step; 12] = [
        Step::None,
        Step::Args,
        Step::OpenSrc,
        Step::OpenDst,
        Step::Read,
        Step::Write,
        Step::Size,
        Step::Sync,
        Step::Commit,
        Step::Metadata,
        Step::Cancel,
        Step::Resource,
    ];
}

names! {
    Step,
    /// A short lower-case name, for messages.
    ///
    /// ```
    /// assert_eq!(zcio::Step::OpenDst.name(), "open destination");
    /// ```
    {
        None => "none",
        Args => "arguments",
        OpenSrc => "open source",
        OpenDst => "open destination",
        Read => "read",
        Write => "write",
        Size => "size destination",
        Sync => "sync",
        Commit => "commit",
        Metadata => "metadata",
        Cancel => "cancel",
        Resource => "resource",
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an uncached copy kept the page cache as it was (see [`Flags::UNCACHED`]).
///
/// [`Flags::UNCACHED`]: crate::Flags::UNCACHED
///
/// ```no_run
/// let s = zcio::Options::new().method(zcio::Method::ReadWrite).uncached(true).copy_file("a", "b")?;
/// assert!(s.uncached.is_some());
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Uncached {
    /// The kernel dropped the pages once written back (`RWF_DONTCACHE`).
    DontCache,
    /// zcio dropped them itself after their write-back (`posix_fadvise`), where a
    /// file system does not take `RWF_DONTCACHE`.
    Dropped,
}

impl Uncached {
    /// Its name: "dontcache" or "dropped".
    ///
    /// ```
    /// assert_eq!(zcio::Uncached::DontCache.name(), "dontcache");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Uncached::DontCache => "dontcache",
            Uncached::Dropped => "dropped",
        }
    }
}

/// What happened during a copy; returned on success, and kept in the
/// [`Error`](crate::Error) on failure ([`Error::stats`](crate::Error::stats)).
///
/// ```no_run
/// let stats = zcio::copy_file("big.img", "copy.img")?;
/// println!("{} bytes by {} in {:?}", stats.bytes, stats.method, stats.elapsed);
/// for (method, errno) in stats.fallbacks() {
///     println!("gave up {method}: errno {errno}");
/// }
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The method that moved the data.
    pub method: Method,
    /// The Direct I/O alignment used, in bytes (0 when not a Direct I/O copy).
    pub alignment: u32,
    /// Bytes written to the destination.
    pub bytes: u64,
    /// System calls that moved data.
    pub io_calls: u64,
    /// Wall time of the whole operation.
    pub elapsed: Duration,
    /// The Direct I/O engine that ran, if one did.
    pub engine: Option<Engine>,
    /// The step that failed, [`Step::None`] on success (the same as the error's
    /// [`step`](crate::Error::step)).
    pub failed_step: Step,
    /// Extended attributes copied (when preserving them).
    pub xattrs_copied: u32,
    /// Extended attributes the destination would not take.
    pub xattrs_skipped: u32,
    /// The size of the copy: `bytes` plus the holes kept, or what a reflink shared.
    pub file_size: u64,
    /// How a copy through the page cache left it as it was, when it did.
    pub uncached: Option<Uncached>,
    /// `Method::bit()` of each method tried and given up.
    pub(crate) fallback_bits: u32,
    /// For each method given up, the errno that made zcio give it up.
    pub(crate) fallback_errno: [i32; 8],
}

impl Stats {
    /// Records that `m` was tried and given up because of `errno`.
    pub(crate) fn fell_back(&mut self, m: Method, errno: i32) {
        self.fallback_bits |= m.bit();
        self.fallback_errno[m as usize] = errno;
    }

    /// Each method tried and given up, in method order, with the errno that made
    /// zcio give it up (0: it moved nothing from a file that may hide data behind
    /// a size of 0, so the next method looked).
    ///
    /// ```
    /// assert_eq!(zcio::Stats::default().fallbacks().count(), 0);
    /// ```
    pub fn fallbacks(&self) -> impl Iterator<Item = (Method, i32)> + '_ {
        Method::ALL
            .into_iter()
            .filter(|m| self.fallback_bits & m.bit() != 0)
            .map(|m| (m, self.fallback_errno[m as usize]))
    }

    /// The errno that made zcio give up `m`, or `None` when it did not.
    ///
    /// ```
    /// assert_eq!(zcio::Stats::default().gave_up(zcio::Method::Reflink), None);
    /// ```
    pub fn gave_up(&self, m: Method) -> Option<i32> {
        (self.fallback_bits & m.bit() != 0).then(|| self.fallback_errno[m as usize])
    }
}

/// What a tree copy did; returned on success, and kept in the error on failure.
///
/// ```no_run
/// let s = zcio::copy_tree("src", "dst")?;
/// println!("{} files, {} bytes, {} reflinked", s.files, s.bytes, s.bytes_reflinked);
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeStats {
    /// Regular files copied (hard links made instead count in `hardlinks`).
    pub files: u64,
    /// Directories created or merged into.
    pub dirs: u64,
    /// Symlinks recreated.
    pub symlinks: u64,
    /// Hard links made to a file already copied.
    pub hardlinks: u64,
    /// FIFOs, sockets and devices recreated.
    pub specials: u64,
    /// Bytes written into regular files.
    pub bytes: u64,
    /// Bytes shared with the source by a reflink instead of written.
    pub bytes_reflinked: u64,
    /// Bytes of holes kept as holes.
    pub bytes_in_holes: u64,
    /// Entries left as they were (kept under [`Existing::Keep`](crate::Existing::Keep), not newer under
    /// [`Existing::Newer`](crate::Existing::Newer), other file systems under `one_file_system`).
    pub skipped: u64,
    /// Entries that failed.
    pub errors: u64,
    /// For each [`Method`], the regular files it moved.
    pub files_by_method: [u64; 8],
    /// Wall time of the whole copy.
    pub elapsed: Duration,
}

impl TreeStats {
    /// The regular files method `m` moved.
    ///
    /// ```
    /// assert_eq!(zcio::TreeStats::default().files_by(zcio::Method::Reflink), 0);
    /// ```
    pub fn files_by(&self, m: Method) -> u64 {
        self.files_by_method[m as usize]
    }
}
