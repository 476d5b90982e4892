//! What a caller asks of a copy: the method, the flags, the Direct I/O engine and
//! its sizes, and a progress callback.

use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;

use super::error::Error;
use super::stats::{Engine, Method};

bitflags::bitflags! {
    /// Switches of a path-based copy. Each has a setter on [`Options`] too.
    ///
    /// ```
    /// use zcio::Flags;
    /// let f = Flags::FSYNC | Flags::PRESERVE_TIMES;
    /// assert!(f.contains(Flags::FSYNC));
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Flags: u32 {
        /// fsync the file and its directory entry before returning.
        const FSYNC = 1 << 0;
        /// Fail with the kernel's error instead of falling back to another method.
        const NO_FALLBACK = 1 << 1;
        /// Fail with `EEXIST` when the destination exists (or appears during the
        /// copy). Where no call can name a file without replacing one (no O_TMPFILE,
        /// RENAME_NOREPLACE or link: libfuse2 file systems), the name itself is
        /// created with O_EXCL and written in place, removed again on failure.
        const EXCL = 1 << 2;
        /// Write straight into the destination instead of a temporary file.
        const IN_PLACE = 1 << 3;
        /// Never share blocks with the source (no reflink, no copy_file_range). With
        /// [`Method::Reflink`] or [`Method::CopyFileRange`] forced: `EINVAL`.
        const NO_REFLINK = 1 << 4;
        /// Write holes out as zeros.
        const NO_SPARSE = 1 << 5;
        /// Give the copy the source's access and modification times.
        const PRESERVE_TIMES = 1 << 6;
        /// Copy the source's extended attributes, but the POSIX ACLs (they go with
        /// `PRESERVE_MODE`, as in cp) and the SELinux label.
        const PRESERVE_XATTRS = 1 << 7;
        /// Refuse a destination that is a symlink (ELOOP) instead of writing through it.
        const NOFOLLOW = 1 << 9;
        /// Give the copy the source's exact permission bits, umask ignored, and its
        /// POSIX ACLs; set-user-ID and set-group-ID only where the copy has the
        /// source's owner and group.
        const PRESERVE_MODE = 1 << 10;
        /// Give the copy the source's owner and group where allowed (root; else only
        /// a group the caller is in). Without it a new file is the caller's.
        const PRESERVE_OWNER = 1 << 11;
        /// Keep the page cache as it was without Direct I/O's alignment rules: a
        /// read/write copy through the cache whose pages are dropped once written
        /// back (`RWF_DONTCACHE`, Linux 6.14+), or by zcio where a file system does
        /// not take it. With `Method::Auto` it is what runs when no reflink can.
        const UNCACHED = 1 << 12;
        /// Without `PRESERVE_MODE`: give a new destination the mode a new file gets
        /// (0666 minus the umask), as `cp --no-preserve=mode`, instead of the
        /// source's permission bits minus the umask.
        const DEFAULT_MODE = 1 << 13;
    }
}

bitflags::bitflags! {
    /// Switches of the descriptor calls ([`sendfile`](crate::sendfile),
    /// [`splice`](crate::splice), [`copy_file_range`](crate::copy_file_range),
    /// [`mmap_copy`](crate::mmap_copy)).
    ///
    /// ```
    /// let f = zcio::FdFlags::NONBLOCK | zcio::FdFlags::NO_FALLBACK;
    /// assert!(f.contains(zcio::FdFlags::NONBLOCK));
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct FdFlags: u32 {
        /// Fail with the kernel's error instead of continuing with read/write.
        const NO_FALLBACK = 1 << 1;
        /// Return what was moved instead of waiting on a non-blocking descriptor.
        const NONBLOCK = 1 << 8;
    }
}

impl From<FdFlags> for Flags {
    /// The bits the descriptor calls and the path-based copies share.
    fn from(f: FdFlags) -> Flags {
        Flags::from_bits_truncate(f.bits())
    }
}

/// Parses a method's [`name`](Method::name); anything else is `EINVAL`.
impl FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Method, Error> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(Error::invalid)
    }
}

/// Parses an engine's [`name`](Engine::name); anything else is `EINVAL`.
impl FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Engine, Error> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(Error::invalid)
    }
}

/// How far a copy has got, as the progress callback is told.
///
/// ```
/// let p = zcio::Progress::new(512, Some(1024));
/// assert_eq!((p.done, p.total), (512, Some(1024)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes of the source dealt with so far (holes skipped count as dealt with).
    pub done: u64,
    /// The source's size when the copy started; `None` when it has none (a FIFO,
    /// a character device).
    pub total: Option<u64>,
}

impl Progress {
    /// A report of `done` bytes out of `total`.
    ///
    /// ```
    /// assert_eq!(zcio::Progress::new(0, None).total, None);
    /// ```
    pub fn new(done: u64, total: Option<u64>) -> Progress {
        Progress { done, total }
    }
}

/// A progress callback: `Break` stops the copy with `ECANCELED`, leaving the
/// destination as it was. It is called on the thread that started the copy.
///
/// ```no_run
/// use std::ops::ControlFlow;
/// // Stop once 1 GiB is done.
/// let stop_at_1g: &zcio::ProgressFn = &|p| {
///     if p.done >= 1 << 30 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// };
/// let e = zcio::Options::new().progress(stop_at_1g).copy_file("big", "copy").unwrap_err();
/// assert_eq!(e.step(), zcio::Step::Cancel);
/// ```
pub type ProgressFn<'a> = dyn Fn(Progress) -> ControlFlow<()> + 'a;

/// What a caller asks of a copy, built like [`std::fs::OpenOptions`]:
/// `Options::new()` is what a NULL `zc_options` means in C.
///
/// ```no_run
/// use zcio::{Method, Options};
/// let stats = Options::new()
///     .method(Method::Direct)
///     .fsync(true)
///     .preserve_times(true)
///     .copy_file("disk.img", "backup/disk.img")?;
/// println!("{} bytes, alignment {}", stats.bytes, stats.alignment);
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    pub(crate) s: Settings,
    pub(crate) progress: Option<&'a ProgressFn<'a>>,
}

/// Everything of [`Options`] but the callback: plain data, shared by threads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Settings {
    pub method: Method,
    pub flags: Flags,
    pub queue_depth: u32,
    pub engine: Option<Engine>,
    pub chunk_size: u64,
}

impl Settings {
    /// Options with these settings and no callback.
    pub(crate) fn options<'a>(self) -> Options<'a> {
        Options {
            s: self,
            progress: None,
        }
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("method", &self.s.method)
            .field("flags", &self.s.flags)
            .field("queue_depth", &self.s.queue_depth)
            .field("engine", &self.s.engine)
            .field("chunk_size", &self.s.chunk_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl<'a> Options<'a> {
    /// The defaults: automatic method, no flags, zcio's queue depth and chunk size,
    /// no progress callback.
    ///
    /// ```
    /// let o = zcio::Options::new();
    /// assert_eq!(o.get_method(), zcio::Method::Auto);
    /// ```
    pub fn new() -> Options<'a> {
        Options::default()
    }

    /// The method to use; [`Method::Auto`] lets zcio choose.
    ///
    /// ```
    /// let o = zcio::Options::new().method(zcio::Method::Sendfile);
    /// assert_eq!(o.get_method(), zcio::Method::Sendfile);
    /// ```
    pub fn method(mut self, m: Method) -> Self {
        self.s.method = m;
        self
    }

    /// Replaces every flag at once.
    ///
    /// ```
    /// use zcio::{Flags, Options};
    /// let o = Options::new().flags(Flags::FSYNC | Flags::EXCL);
    /// assert_eq!(o.get_flags(), Flags::FSYNC | Flags::EXCL);
    /// ```
    pub fn flags(mut self, f: Flags) -> Self {
        self.s.flags = f;
        self
    }

    fn flag(mut self, f: Flags, on: bool) -> Self {
        self.s.flags.set(f, on);
        self
    }

    /// fsync the file and its directory entry before returning ([`Flags::FSYNC`]).
    ///
    /// ```
    /// assert!(zcio::Options::new().fsync(true).get_flags().contains(zcio::Flags::FSYNC));
    /// ```
    pub fn fsync(self, on: bool) -> Self {
        self.flag(Flags::FSYNC, on)
    }

    /// Whether zcio may fall back to another method where the one chosen cannot
    /// run (default yes; `false` sets [`Flags::NO_FALLBACK`]).
    ///
    /// ```
    /// let o = zcio::Options::new().fallback(false);
    /// assert!(o.get_flags().contains(zcio::Flags::NO_FALLBACK));
    /// ```
    pub fn fallback(self, on: bool) -> Self {
        self.flag(Flags::NO_FALLBACK, !on)
    }

    /// Fail with `EEXIST` when the destination exists ([`Flags::EXCL`]).
    ///
    /// ```
    /// assert!(zcio::Options::new().exclusive(true).get_flags().contains(zcio::Flags::EXCL));
    /// ```
    pub fn exclusive(self, on: bool) -> Self {
        self.flag(Flags::EXCL, on)
    }

    /// Write straight into the destination, as the article's function does: faster
    /// to set up, but a failure leaves it partial ([`Flags::IN_PLACE`]).
    ///
    /// ```
    /// assert!(zcio::Options::new().in_place(true).get_flags().contains(zcio::Flags::IN_PLACE));
    /// ```
    pub fn in_place(self, on: bool) -> Self {
        self.flag(Flags::IN_PLACE, on)
    }

    /// Whether the copy may share blocks with the source (default yes; `false`
    /// sets [`Flags::NO_REFLINK`]: no reflink, no copy_file_range).
    ///
    /// ```
    /// let o = zcio::Options::new().reflink(false);
    /// assert!(o.get_flags().contains(zcio::Flags::NO_REFLINK));
    /// ```
    pub fn reflink(self, on: bool) -> Self {
        self.flag(Flags::NO_REFLINK, !on)
    }

    /// Whether holes in the source stay holes (default yes; `false` sets
    /// [`Flags::NO_SPARSE`]).
    ///
    /// ```
    /// assert!(zcio::Options::new().sparse(false).get_flags().contains(zcio::Flags::NO_SPARSE));
    /// ```
    pub fn sparse(self, on: bool) -> Self {
        self.flag(Flags::NO_SPARSE, !on)
    }

    /// Give the copy the source's access and modification times
    /// ([`Flags::PRESERVE_TIMES`]).
    ///
    /// ```
    /// let o = zcio::Options::new().preserve_times(true);
    /// assert!(o.get_flags().contains(zcio::Flags::PRESERVE_TIMES));
    /// ```
    pub fn preserve_times(self, on: bool) -> Self {
        self.flag(Flags::PRESERVE_TIMES, on)
    }

    /// Copy the source's extended attributes ([`Flags::PRESERVE_XATTRS`]).
    ///
    /// ```
    /// let o = zcio::Options::new().preserve_xattrs(true);
    /// assert!(o.get_flags().contains(zcio::Flags::PRESERVE_XATTRS));
    /// ```
    pub fn preserve_xattrs(self, on: bool) -> Self {
        self.flag(Flags::PRESERVE_XATTRS, on)
    }

    /// Give the copy the source's exact permission bits, the umask ignored, as
    /// `cp -p` does ([`Flags::PRESERVE_MODE`]).
    ///
    /// ```
    /// let o = zcio::Options::new().preserve_mode(true);
    /// assert!(o.get_flags().contains(zcio::Flags::PRESERVE_MODE));
    /// ```
    pub fn preserve_mode(self, on: bool) -> Self {
        self.flag(Flags::PRESERVE_MODE, on)
    }

    /// Give the copy the source's owner and group where allowed
    /// ([`Flags::PRESERVE_OWNER`]); without it a new file belongs to the caller.
    ///
    /// ```
    /// let o = zcio::Options::new().preserve_owner(true);
    /// assert!(o.get_flags().contains(zcio::Flags::PRESERVE_OWNER));
    /// ```
    pub fn preserve_owner(self, on: bool) -> Self {
        self.flag(Flags::PRESERVE_OWNER, on)
    }

    /// Copy through the page cache but leave it as it was ([`Flags::UNCACHED`]).
    ///
    /// ```
    /// assert!(zcio::Options::new().uncached(true).get_flags().contains(zcio::Flags::UNCACHED));
    /// ```
    pub fn uncached(self, on: bool) -> Self {
        self.flag(Flags::UNCACHED, on)
    }

    /// Give a new destination 0666 minus the umask, as `cp --no-preserve=mode`
    /// does, not the source's bits minus the umask ([`Flags::DEFAULT_MODE`]).
    ///
    /// ```
    /// assert!(zcio::Options::new().default_mode(true).get_flags().contains(zcio::Flags::DEFAULT_MODE));
    /// ```
    pub fn default_mode(self, on: bool) -> Self {
        self.flag(Flags::DEFAULT_MODE, on)
    }

    /// Refuse a destination that is a symlink with `ELOOP` instead of writing
    /// through it ([`Flags::NOFOLLOW`]).
    ///
    /// ```
    /// assert!(zcio::Options::new().nofollow(true).get_flags().contains(zcio::Flags::NOFOLLOW));
    /// ```
    pub fn nofollow(self, on: bool) -> Self {
        self.flag(Flags::NOFOLLOW, on)
    }

    /// Direct I/O: I/Os in flight; 0 is zcio's default (16). At most 4096 for
    /// io_uring, 64 threads for the threaded engine.
    ///
    /// ```
    /// assert_eq!(zcio::Options::new().queue_depth(8).get_queue_depth(), 8);
    /// ```
    pub fn queue_depth(mut self, n: u32) -> Self {
        self.s.queue_depth = n;
        self
    }

    /// Direct I/O: the engine to use, or `None` to let zcio pick (see [`Engine`]):
    /// threads, or the synchronous engine where their buffers cannot be had. `EOPNOTSUPP` when the engine
    /// asked for cannot run here, `ENOMEM` when its buffers cannot be had.
    ///
    /// ```
    /// let o = zcio::Options::new().engine(zcio::Engine::Threads);
    /// assert_eq!(o.get_engine(), Some(zcio::Engine::Threads));
    /// assert_eq!(o.engine(None).get_engine(), None);
    /// ```
    pub fn engine(mut self, e: impl Into<Option<Engine>>) -> Self {
        self.s.engine = e.into();
        self
    }

    /// Bytes per I/O; 0 is zcio's default (1 MiB for Direct I/O). For Direct I/O,
    /// a multiple of the alignment ([`dio_alignment`](crate::dio_alignment)) and at
    /// most 1 GiB; one larger than the file is cut to the file's size (at least
    /// 64 KiB).
    ///
    /// ```
    /// assert_eq!(zcio::Options::new().chunk_size(4 << 20).get_chunk_size(), 4 << 20);
    /// ```
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.s.chunk_size = bytes;
        self
    }

    /// Called as bytes move, and once at the end.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// let show = |p: zcio::Progress| {
    ///     eprintln!("{} of {:?}", p.done, p.total);
    ///     ControlFlow::Continue(())
    /// };
    /// let o = zcio::Options::new().progress(&show);
    /// assert!(format!("{o:?}").contains("progress: true"));
    /// ```
    pub fn progress(mut self, f: &'a ProgressFn<'a>) -> Self {
        self.progress = Some(f);
        self
    }

    /// The method asked for.
    ///
    /// ```
    /// assert_eq!(zcio::Options::new().get_method(), zcio::Method::Auto);
    /// ```
    pub fn get_method(&self) -> Method {
        self.s.method
    }

    /// The flags set.
    ///
    /// ```
    /// assert!(zcio::Options::new().get_flags().is_empty());
    /// ```
    pub fn get_flags(&self) -> Flags {
        self.s.flags
    }

    /// The Direct I/O engine asked for, if any.
    ///
    /// ```
    /// assert_eq!(zcio::Options::new().get_engine(), None);
    /// ```
    pub fn get_engine(&self) -> Option<Engine> {
        self.s.engine
    }

    /// The queue depth asked for (0: zcio's default).
    ///
    /// ```
    /// assert_eq!(zcio::Options::new().get_queue_depth(), 0);
    /// ```
    pub fn get_queue_depth(&self) -> u32 {
        self.s.queue_depth
    }

    /// The chunk size asked for (0: zcio's default).
    ///
    /// ```
    /// assert_eq!(zcio::Options::new().get_chunk_size(), 0);
    /// ```
    pub fn get_chunk_size(&self) -> u64 {
        self.s.chunk_size
    }

    /// Whether `f` is set.
    pub(crate) fn has(&self, f: Flags) -> bool {
        self.s.flags.contains(f)
    }
}
