//! What a tree copy is told: which links it follows, what it keeps, what it does
//! with what is already there, and the callbacks it reports to.

use super::part::{self, Phase};
use crate::core::options::{Options, Settings};
use std::fmt;
use std::ops::ControlFlow;
use std::path::Path;

/// Which symlinks a tree copy follows.
///
/// ```
/// assert_eq!(zcio::Follow::default(), zcio::Follow::Never);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Follow {
    /// None: every symlink is copied as a symlink (`cp -P`, the default).
    #[default]
    Never,
    /// Only `src` itself, when it is one (`cp -H`).
    Top,
    /// All: a symlink is copied as what it names (`cp -L`); a link to a directory
    /// that contains it is an error (`ELOOP`) for that entry.
    All,
}

bitflags::bitflags! {
    /// What a tree copy carries over besides the data, as `cp --preserve=` names it.
    ///
    /// ```
    /// use zcio::Preserve;
    /// assert!(Preserve::all().contains(Preserve::MODE | Preserve::LINKS));
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Preserve: u32 {
        /// The exact permission bits and the POSIX ACLs (as cp keeps them, with the
        /// mode), set-user-ID and set-group-ID only where the owner is kept too;
        /// without it new entries get the source's bits minus the umask.
        const MODE = 1 << 0;
        /// Owner and group (where allowed); without it new entries are the caller's.
        const OWNERSHIP = 1 << 1;
        /// Access and modification times, to the nanosecond.
        const TIMESTAMPS = 1 << 2;
        /// Hard links: files linked together in the source are linked in the copy.
        const LINKS = 1 << 3;
        /// Extended attributes but the ACLs (they go with `MODE`, as in cp) and the
        /// SELinux label (never copied: it belongs to where a file is).
        const XATTRS = 1 << 4;
    }
}

/// What a tree copy does with a destination entry that exists already.
///
/// ```
/// assert_eq!(zcio::Existing::default(), zcio::Existing::Replace);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Existing {
    /// Replace it atomically (a directory is merged into, never replaced).
    #[default]
    Replace,
    /// Keep it (`cp -n`).
    Keep,
    /// Replace it only when the source is newer (`cp -u`).
    Newer,
}

/// How far a tree copy has got, as its progress callback is told.
///
/// ```
/// let p = zcio::TreeProgress::default();
/// assert!(!p.walk_done);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeProgress {
    /// Entries finished (copied, skipped or failed).
    pub entries_done: u64,
    /// Entries found so far.
    pub entries_known: u64,
    /// Bytes of regular files dealt with so far.
    pub bytes_done: u64,
    /// Bytes of the regular files found so far (sizes are looked up only when a
    /// progress callback is set, and [`byte_totals`](TreeOptions::byte_totals)
    /// is not turned off).
    pub bytes_known: u64,
    /// Whether every entry has been found: the `_known` fields are then totals.
    pub walk_done: bool,
}

/// An entry a tree copy could not copy, as its error callback is told.
///
/// ```
/// let e = zcio::TreeError::new("src/a".as_ref(), zcio::Error::new(libc::EACCES, zcio::Step::OpenSrc));
/// assert_eq!(e.error.raw_os_error(), libc::EACCES);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TreeError<'a> {
    /// The source entry.
    pub path: &'a Path,
    /// What went wrong, and at which step.
    pub error: crate::core::error::Error,
}

impl<'a> TreeError<'a> {
    /// An error `error` for the entry `path`.
    ///
    /// ```
    /// let e = zcio::TreeError::new("a".as_ref(), zcio::Error::new(libc::EIO, zcio::Step::Read));
    /// assert_eq!(e.path, std::path::Path::new("a"));
    /// ```
    pub fn new(path: &'a Path, error: crate::core::error::Error) -> TreeError<'a> {
        TreeError { path, error }
    }
}

/// A tree copy's progress callback: `Break` stops the copy (`ECANCELED`). It may
/// be called from any of the copy's threads, never two at once.
///
/// ```no_run
/// use std::ops::ControlFlow;
/// let bar: &zcio::TreeProgressFn = &|p| {
///     eprint!("\r{} of {} bytes", p.bytes_done, p.bytes_known);
///     ControlFlow::Continue(())
/// };
/// zcio::TreeOptions::new().progress(bar).copy_tree("src", "dst")?;
/// # Ok::<(), zcio::Error>(())
/// ```
pub type TreeProgressFn<'a> = dyn Fn(TreeProgress) -> ControlFlow<()> + Sync + 'a;

/// A tree copy's error callback: `Continue` goes on with the other entries,
/// `Break` stops the copy. Called from any of the copy's threads, never two at
/// once. Without one, the copy goes on and the first error is returned.
///
/// ```no_run
/// use std::ops::ControlFlow;
/// let stop_on_enospc: &zcio::TreeErrorFn = &|e| {
///     eprintln!("{}: {}", e.path.display(), e.error);
///     if e.error.raw_os_error() == libc::ENOSPC { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// };
/// zcio::TreeOptions::new().on_error(stop_on_enospc).copy_tree("src", "dst")?;
/// # Ok::<(), zcio::Error>(())
/// ```
pub type TreeErrorFn<'a> = dyn Fn(&TreeError<'_>) -> ControlFlow<()> + Sync + 'a;

/// How a tree is copied, built like [`Options`].
///
/// ```no_run
/// use zcio::{Existing, Preserve, TreeOptions};
/// let stats = TreeOptions::new()
///     .preserve(Preserve::all())
///     .existing(Existing::Newer)
///     .copy_tree("/home/me", "/backup/me")?;
/// println!("{} files, {} errors", stats.files, stats.errors);
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Default)]
pub struct TreeOptions<'a> {
    pub(crate) file: Settings,
    pub(crate) follow: Follow,
    pub(crate) preserve: Preserve,
    pub(crate) existing: Existing,
    pub(crate) one_file_system: bool,
    pub(crate) no_merge: bool,
    pub(crate) no_byte_totals: bool,
    pub(crate) default_modes: bool,
    pub(crate) jobs: u32,
    pub(crate) progress: Option<&'a TreeProgressFn<'a>>,
    pub(crate) on_error: Option<&'a TreeErrorFn<'a>>,
    pub(crate) part: part::Part,
}

impl fmt::Debug for TreeOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeOptions")
            .field("file", &self.file)
            .field("follow", &self.follow)
            .field("preserve", &self.preserve)
            .field("existing", &self.existing)
            .field("one_file_system", &self.one_file_system)
            .field("merge", &!self.no_merge)
            .field("byte_totals", &!self.no_byte_totals)
            .field("default_modes", &self.default_modes)
            .field("jobs", &self.jobs)
            .field("progress", &self.progress.is_some())
            .field("on_error", &self.on_error.is_some())
            .field("part", &self.part)
            .finish()
    }
}

impl<'a> TreeOptions<'a> {
    /// The defaults of `cp -r`: symlinks copied as symlinks, nothing preserved
    /// (new entries get the source's permission bits minus the umask), existing
    /// files replaced, an existing destination directory merged into, zcio's
    /// number of parallel copies.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new();
    /// assert!(format!("{o:?}").contains("merge: true"));
    /// ```
    pub fn new() -> TreeOptions<'a> {
        TreeOptions::default()
    }

    /// What `cp -a` does: nothing followed, everything preserved.
    ///
    /// ```
    /// let o = zcio::TreeOptions::archive();
    /// assert!(format!("{o:?}").contains("LINKS"));
    /// ```
    pub fn archive() -> TreeOptions<'a> {
        TreeOptions::new().preserve(Preserve::all())
    }

    /// The options of each regular file's copy (method, reflink, sparse, Direct
    /// I/O, fsync...); their progress callback is not used, the preserve flags
    /// come from [`preserve`](Self::preserve) and [`Flags::DEFAULT_MODE`](crate::Flags::DEFAULT_MODE)
    /// from [`default_modes`](Self::default_modes).
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().file_options(zcio::Options::new().reflink(false));
    /// ```
    pub fn file_options(mut self, o: Options<'_>) -> Self {
        self.file = o.s;
        self
    }

    /// Which symlinks to follow.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().follow(zcio::Follow::Top);
    /// ```
    pub fn follow(mut self, f: Follow) -> Self {
        self.follow = f;
        self
    }

    /// What to carry over besides the data.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().preserve(zcio::Preserve::MODE | zcio::Preserve::TIMESTAMPS);
    /// ```
    pub fn preserve(mut self, p: Preserve) -> Self {
        self.preserve = p;
        self
    }

    /// What to do with destination entries that exist.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().existing(zcio::Existing::Keep);
    /// ```
    pub fn existing(mut self, e: Existing) -> Self {
        self.existing = e;
        self
    }

    /// Stay on the source's file system (`cp -x`): a directory on another one is
    /// created, empty, and counted as skipped.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().one_file_system(true);
    /// ```
    pub fn one_file_system(mut self, on: bool) -> Self {
        self.one_file_system = on;
        self
    }

    /// Whether an existing destination directory is merged into (the default, as
    /// `cp` does) or refused with `EEXIST`.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().merge(false);
    /// assert!(format!("{o:?}").contains("merge: false"));
    /// ```
    pub fn merge(mut self, on: bool) -> Self {
        self.no_merge = !on;
        self
    }

    /// How many entries are copied at once; 0 is zcio's default.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().jobs(1);
    /// ```
    pub fn jobs(mut self, n: u32) -> Self {
        self.jobs = n;
        self
    }

    /// Called as the copy goes, at most every 100 ms and once at the end.
    ///
    /// ```
    /// let show = |p: zcio::TreeProgress| {
    ///     eprintln!("{} of {} files", p.entries_done, p.entries_known);
    ///     std::ops::ControlFlow::Continue(())
    /// };
    /// let o = zcio::TreeOptions::new().progress(&show);
    /// ```
    pub fn progress(mut self, f: &'a TreeProgressFn<'a>) -> Self {
        self.progress = Some(f);
        self
    }

    /// Whether the walk looks up each regular file's size as it finds it, for
    /// [`TreeProgress::bytes_known`] (the default, with a progress callback). A
    /// callback that needs no byte totals (one there only to cancel, or showing
    /// entries alone) saves a `stat` per file with `false`: `bytes_known` stays 0.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().byte_totals(false);
    /// assert!(format!("{o:?}").contains("byte_totals: false"));
    /// ```
    pub fn byte_totals(mut self, on: bool) -> Self {
        self.no_byte_totals = !on;
        self
    }

    /// Without [`Preserve::MODE`]: whether new entries get the modes a new entry
    /// of their kind gets (0666 for files, FIFOs and devices, 0777 for directories,
    /// with their sticky bit, and sockets, minus the umask), as
    /// `cp --no-preserve=mode` gives them,
    /// instead of the source's bits minus the umask (the default, as `cp -r`).
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().default_modes(true);
    /// assert!(format!("{o:?}").contains("default_modes: true"));
    /// ```
    pub fn default_modes(mut self, on: bool) -> Self {
        self.default_modes = on;
        self
    }

    /// The permission bits (and sticky bit) a new entry made from `st` gets
    /// without [`Preserve::MODE`], before the umask.
    pub(crate) fn plain_bits(&self, st: &nix::sys::stat::FileStat) -> u32 {
        if !self.default_modes || self.preserve.contains(Preserve::MODE) {
            return st.st_mode & 0o1777;
        }
        // As cp: a directory keeps its sticky bit.
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => 0o777 | (st.st_mode & 0o1000),
            libc::S_IFSOCK => 0o777,
            _ => 0o666,
        }
    }

    /// Called for each entry that fails; it says whether to go on.
    ///
    /// ```
    /// let log = |e: &zcio::TreeError<'_>| {
    ///     eprintln!("{}: {}", e.path.display(), e.error);
    ///     std::ops::ControlFlow::Continue(())
    /// };
    /// let o = zcio::TreeOptions::new().on_error(&log);
    /// ```
    pub fn on_error(mut self, f: &'a TreeErrorFn<'a>) -> Self {
        self.on_error = Some(f);
        self
    }

    /// Makes this call part `index` of `count` of one copy shared between
    /// processes (see [`Phase`]): the parts together copy every entry once, each
    /// walking the whole tree but copying only its share (files larger than 64 MiB
    /// go by ranges to all of them). `count` 1 (the default) is a copy on its own.
    /// `EINVAL` when `index >= count`, or with `merge(false)`.
    ///
    /// ```no_run
    /// use zcio::{Phase, TreeOptions};
    /// // Part 2 of 4: run each phase in every part, with a barrier between phases.
    /// for phase in [Phase::Data, Phase::Commit, Phase::Dirs] {
    ///     TreeOptions::archive().part(2, 4).phase(phase).copy_tree("src", "dst")?;
    ///     // ... wait here until all 4 parts have finished this phase ...
    /// }
    /// # Ok::<(), zcio::Error>(())
    /// ```
    pub fn part(mut self, index: u32, count: u32) -> Self {
        self.part.index = index;
        self.part.count = count;
        self
    }

    /// Which phase of a copy shared between processes this call does; a copy
    /// with more than one part needs the three in turn, each started in every part
    /// only once every part has finished the one before.
    ///
    /// ```
    /// let o = zcio::TreeOptions::new().part(0, 2).phase(zcio::Phase::Data);
    /// assert!(format!("{o:?}").contains("Data"));
    /// ```
    pub fn phase(mut self, p: Phase) -> Self {
        self.part.phase = p;
        self
    }
}
