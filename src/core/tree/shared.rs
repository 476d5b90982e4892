//! What every thread of one tree copy shares: the options, the counts, the
//! hard-link map, the stack of tasks, and how errors and progress are told.

use std::collections::HashMap;
use std::ffi::OsString;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::stat::{FileStat, SFlag};

use super::dirs::{DirNode, FdBudget};
use super::options::{TreeError, TreeOptions, TreeProgress};
use super::part::{Part, Phase};
use crate::core::error::Error;
use crate::core::options::{Progress, Settings};
use crate::core::stats::{Method, Stats, TreeStats};
use crate::core::sys;

/// How often the progress callback hears of the copy.
pub(super) const REPORT_EVERY: Duration = Duration::from_millis(100);

/// The type of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Char,
    Block,
    Socket,
    /// The directory did not say: opening it tells.
    Unknown,
}

impl Kind {
    pub(super) fn from_dir_type(t: nix::dir::Type) -> Kind {
        use nix::dir::Type;
        match t {
            Type::File => Kind::File,
            Type::Directory => Kind::Dir,
            Type::Symlink => Kind::Symlink,
            Type::Fifo => Kind::Fifo,
            Type::CharacterDevice => Kind::Char,
            Type::BlockDevice => Kind::Block,
            Type::Socket => Kind::Socket,
        }
    }

    pub(super) fn of(st: &FileStat) -> Kind {
        match sys::file_type(st) {
            SFlag::S_IFREG => Kind::File,
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFLNK => Kind::Symlink,
            SFlag::S_IFIFO => Kind::Fifo,
            SFlag::S_IFCHR => Kind::Char,
            SFlag::S_IFBLK => Kind::Block,
            SFlag::S_IFSOCK => Kind::Socket,
            _ => Kind::Unknown,
        }
    }
}

/// One entry of a directory, as listing it tells.
pub(super) struct Entry {
    pub name: OsString,
    /// Its name in the destination, when not `name` (only a root that is not a
    /// directory has one).
    pub rename: Option<OsString>,
    pub ino: u64,
    /// The type the directory gave, or what a stat said when it gave none.
    pub kind: Kind,
}

pub(super) enum Task {
    /// Open, create and list the subdirectory `entry` of `parent`.
    Dir(Arc<DirNode>, Entry),
    /// Copy these entries of the directory.
    Entries(Arc<DirNode>, Vec<Entry>),
}

/// The names of one file with several, below the roots.
pub(super) struct LinkGroup {
    pub names: Vec<PathBuf>,
}

/// What a hard link to a file already being copied waits for.
pub(super) enum LinkState {
    Copying,
    /// Copied to this path below the destination root.
    Done(PathBuf),
    Failed,
}

pub(super) struct LinkSlot {
    pub state: Mutex<LinkState>,
    pub cv: Condvar,
}

/// Counts kept while the copy runs.
#[derive(Default)]
pub(super) struct Counters {
    pub files: AtomicU64,
    pub dirs: AtomicU64,
    pub symlinks: AtomicU64,
    pub hardlinks: AtomicU64,
    pub specials: AtomicU64,
    pub bytes: AtomicU64,
    pub bytes_reflinked: AtomicU64,
    pub bytes_in_holes: AtomicU64,
    pub skipped: AtomicU64,
    pub errors: AtomicU64,
    pub by_method: [AtomicU64; 8],
    pub entries_done: AtomicU64,
    pub entries_known: AtomicU64,
    pub bytes_done: AtomicU64,
    pub bytes_known: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self, elapsed: Duration) -> TreeStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = TreeStats {
            files: g(&self.files),
            dirs: g(&self.dirs),
            symlinks: g(&self.symlinks),
            hardlinks: g(&self.hardlinks),
            specials: g(&self.specials),
            bytes: g(&self.bytes),
            bytes_reflinked: g(&self.bytes_reflinked),
            bytes_in_holes: g(&self.bytes_in_holes),
            skipped: g(&self.skipped),
            errors: g(&self.errors),
            elapsed,
            ..TreeStats::default()
        };
        for (d, a) in s.files_by_method.iter_mut().zip(&self.by_method) {
            *d = g(a);
        }
        s
    }

    /// Adds what one regular file's copy did.
    pub(super) fn add_file(&self, st: &Stats, size: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.by_method[st.method as usize].fetch_add(1, Ordering::Relaxed);
        if st.method == Method::Reflink {
            self.bytes_reflinked.fetch_add(size, Ordering::Relaxed);
        } else {
            self.bytes.fetch_add(st.bytes, Ordering::Relaxed);
            self.bytes_in_holes
                .fetch_add(size.saturating_sub(st.bytes), Ordering::Relaxed);
        }
    }
}

/// What every thread of one tree copy shares.
pub(super) struct Shared<'o> {
    pub opts: &'o TreeOptions<'o>,
    /// The options of each regular file's copy, preserve flags set.
    pub file: Settings,
    /// The source root as given, for messages.
    pub src_root: PathBuf,
    pub dst_root: Arc<DirNode>,
    /// The source root's device, for `one_file_system`.
    pub root_dev: u64,
    pub budget: FdBudget,
    pub counters: Counters,
    pub links: Mutex<HashMap<(u64, u64), Arc<LinkSlot>>>,
    /// The caller's umask, which new entries get without `Preserve::MODE`.
    pub umask: u32,
    pub stack: Mutex<Vec<Task>>,
    pub cv: Condvar,
    /// Set once the root directory is finished, or nothing more will run.
    pub done: AtomicBool,
    /// Set to stop: cancelled, or told to by the error callback.
    pub stop: AtomicBool,
    pub cancelled: AtomicBool,
    pub first_error: Mutex<Option<Error>>,
    pub last_report: Mutex<Instant>,
    /// Directories found and not yet listed: at 0 every entry is known.
    pub unlisted: AtomicU64,
    /// This call's place among the parts of a copy shared between processes.
    pub part: Part,
    /// Under `Phase::Commit`: every name of each file with several, to copy and
    /// link once the walk has found them all.
    pub groups: Mutex<HashMap<(u64, u64), LinkGroup>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared<'_> {
    /// Records a failed entry and asks the error callback whether to go on.
    pub(super) fn failed(&self, path: &Path, e: Error) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_error).get_or_insert_with(|| e.clone());
        if let Some(f) = self.opts.on_error {
            let _one_at_a_time = lock(&self.last_report);
            if f(&TreeError::new(path, e)).is_break() {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Records that the directory `rel` could not be opened or listed. Every part
    /// of a split copy meets it in every phase: it is told once, by its owner in
    /// the `Data` phase.
    pub(super) fn dir_failed(&self, rel: &Path, e: Error) {
        let p = self.part;
        if p.alone() || (p.phase == Phase::Data && p.owns(rel)) {
            self.failed(&self.src_path(rel), e);
        }
    }

    /// The source path of `rel`, for messages.
    pub(super) fn src_path(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.src_root.clone()
        } else {
            self.src_root.join(rel)
        }
    }

    pub(super) fn progress(&self) -> TreeProgress {
        let walk_done = self.unlisted.load(Ordering::SeqCst) == 0;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        TreeProgress {
            entries_done: g(&c.entries_done),
            entries_known: g(&c.entries_known),
            bytes_done: g(&c.bytes_done),
            bytes_known: g(&c.bytes_known),
            walk_done,
        }
    }

    /// Calls the progress callback if its time has come (or `now`); one thread at
    /// a time. A request to stop cancels the copy.
    pub(super) fn report(&self, now: bool) {
        let Some(f) = self.opts.progress else { return };
        let mut last = if now {
            lock(&self.last_report)
        } else {
            match self.last_report.try_lock() {
                Ok(g) => g,
                Err(_) => return,
            }
        };
        if !now && last.elapsed() < REPORT_EVERY {
            return;
        }
        *last = Instant::now();
        if f(self.progress()).is_break() {
            self.cancelled.store(true, Ordering::SeqCst);
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Per-file progress: how many bytes of the file are done, for the tree's
    /// count and its callback; the copy stops when the tree does.
    pub(super) fn file_progress<'a>(
        &'a self,
        last: &'a AtomicU64,
    ) -> impl Fn(Progress) -> ControlFlow<()> + 'a {
        move |p: Progress| {
            let before = last.swap(p.done, Ordering::Relaxed);
            self.counters
                .bytes_done
                .fetch_add(p.done.saturating_sub(before), Ordering::Relaxed);
            self.report(false);
            if self.stopping() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
}
