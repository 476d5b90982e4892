//! The scheduler of a tree copy: a stack of tasks shared by `jobs` threads (the
//! caller's among them). A task opens and lists a directory, or copies a batch of
//! its entries; the stack is last in, first out, so the copy goes depth first and
//! what is waiting stays small. A directory gets its metadata once every entry
//! under it is finished (post-order), then tells its parent.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::stat::{FileStat, Mode};

use super::dirs::{DirNode, DirSpec, FdBudget, Side, open_dir_at};
use super::entry;
use super::options::{Existing, Follow, Preserve, TreeOptions};
use super::part::Phase;
use super::shared::{Counters, Entry, Kind, REPORT_EVERY, Shared, Task, lock};
use crate::core::error::{At, Error, Result};
use crate::core::options::{Flags, Settings};
use crate::core::signals::{Blocked, SignalGuard};
use crate::core::stats::{Step, TreeStats};
use crate::core::sys;

/// Entries per copy task: enough to spread a flat directory over every thread,
/// few enough that one task is soon done.
const BATCH: usize = 16;
/// Threads when the caller leaves `jobs` at 0: a small file's copy mostly waits
/// for the disk, and waits overlap.
const DEFAULT_JOBS: usize = 8;
/// The most threads a tree copy starts.
const MAX_JOBS: usize = 256;
/// Descriptors one thread may hold at once besides directories: the source, the
/// destination, a splice pipe's two ends, one to make a hard link.
const FDS_PER_JOB: usize = 5;
impl Shared<'_> {
    fn push(&self, tasks: Vec<Task>) {
        if tasks.is_empty() {
            return;
        }
        let n = tasks.len();
        lock(&self.stack).extend(tasks);
        if n == 1 {
            self.cv.notify_one();
        } else {
            self.cv.notify_all();
        }
    }

    /// The next task, waiting for one; `None` once the copy is over.
    fn next(&self) -> Option<Task> {
        let mut stack = lock(&self.stack);
        loop {
            if let Some(t) = stack.pop() {
                return Some(t);
            }
            if self.done.load(Ordering::SeqCst) {
                return None;
            }
            stack = self.cv.wait(stack).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// One of a directory's entries is finished: at the last one the directory
    /// gets its metadata, and its parent hears of it in turn.
    fn finished(&self, node: &Arc<DirNode>) {
        let mut node = Arc::clone(node);
        loop {
            if node.pending.fetch_sub(1, Ordering::AcqRel) != 1 {
                return;
            }
            if !self.stopping()
                && self.part.dirs()
                && self.part.owns(&node.rel)
                && let Err(e) = entry::finish_dir(self, &node)
            {
                self.failed(&self.src_path(&node.rel), e);
            }
            let Some(parent) = node.parent.clone() else {
                // The root: the walk is over (its descriptors stay for what comes
                // after it, and close with the copy).
                self.done.store(true, Ordering::SeqCst);
                let _g = lock(&self.stack);
                self.cv.notify_all();
                return;
            };
            node.close();
            self.counters.entries_done.fetch_add(1, Ordering::Relaxed);
            node = parent;
        }
    }

    fn run_task(&self, task: Task) {
        match task {
            Task::Dir(parent, e) => {
                if !self.stopping() {
                    match open_subdir(self, &parent, &e) {
                        // The new directory stands for this task in its parent
                        // until everything in it is finished.
                        Ok(Some(node)) => return self.list(node),
                        Ok(None) => {}
                        Err(err) => self.dir_failed(&parent.rel.join(&e.name), err),
                    }
                }
                // This directory will not be listed.
                self.unlisted.fetch_sub(1, Ordering::SeqCst);
                self.counters.entries_done.fetch_add(1, Ordering::Relaxed);
                self.finished(&parent);
            }
            Task::Entries(node, entries) => {
                if !self.stopping() {
                    entry::prefetch(self, &node, &entries);
                }
                for e in &entries {
                    if !self.stopping() {
                        entry::copy_entry(self, &node, e);
                    }
                    self.counters.entries_done.fetch_add(1, Ordering::Relaxed);
                    self.report(false);
                }
                self.finished(&node);
            }
        }
    }

    /// Lists `node` and queues its entries; the listing's own count is given back
    /// at the end.
    fn list(&self, node: Arc<DirNode>) {
        match read_entries(self, &node) {
            Ok(entries) => {
                self.counters
                    .entries_known
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
                let mut tasks = Vec::new();
                let mut batch = Vec::new();
                for e in entries {
                    if e.kind == Kind::Dir {
                        tasks.push(Task::Dir(Arc::clone(&node), e));
                    } else {
                        batch.push(e);
                        if batch.len() == BATCH {
                            tasks
                                .push(Task::Entries(Arc::clone(&node), std::mem::take(&mut batch)));
                        }
                    }
                }
                if !batch.is_empty() {
                    tasks.push(Task::Entries(Arc::clone(&node), batch));
                }
                // Pushed so that the first entries come off the stack first.
                tasks.reverse();
                let dirs = tasks.iter().filter(|t| matches!(t, Task::Dir(..))).count();
                self.unlisted.fetch_add(dirs as u64, Ordering::SeqCst);
                node.pending.fetch_add(tasks.len(), Ordering::AcqRel);
                self.push(tasks);
            }
            Err(e) => self.dir_failed(&node.rel, e),
        }
        self.unlisted.fetch_sub(1, Ordering::SeqCst);
        self.finished(&node);
    }
}

/// Reads every entry of the directory `node`, sorted by inode number (the order
/// that reads a directory's inodes with the fewest seeks).
fn read_entries(sh: &Shared<'_>, node: &Arc<DirNode>) -> Result<Vec<Entry>> {
    let src = node.fd(Side::Src, &sh.budget)?;
    // The stream gets a descriptor of its own: the directory's stays for openat.
    let dup = nix::unistd::dup(src.fd()).at(Step::Read)?;
    let mut dir = nix::dir::Dir::from_fd(dup).at(Step::Read)?;
    let want_size = sh.opts.progress.is_some() && !sh.opts.no_byte_totals;
    let mut v = Vec::new();
    for ent in dir.iter() {
        let ent = ent.at(Step::Read)?;
        let name = ent.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name).to_os_string();
        let mut kind = ent
            .file_type()
            .map(Kind::from_dir_type)
            .unwrap_or(Kind::Unknown);
        let mut size = 0;
        let follow_links = sh.opts.follow == Follow::All;
        if kind == Kind::Unknown
            || (want_size && kind == Kind::File)
            || (follow_links && kind == Kind::Symlink)
        {
            let flags = if follow_links {
                nix::fcntl::AtFlags::empty()
            } else {
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW
            };
            match nix::sys::stat::fstatat(src.fd(), name.as_os_str(), flags) {
                Ok(st) => {
                    kind = Kind::of(&st);
                    size = if want_size && kind == Kind::File {
                        st.st_size.max(0) as u64
                    } else {
                        0
                    };
                }
                // Gone already, or a dangling link: the copy of the entry says so.
                Err(_) if kind != Kind::Unknown => {}
                Err(Errno::ENOENT) => continue,
                Err(_) => {}
            }
        }
        sh.counters.bytes_known.fetch_add(size, Ordering::Relaxed);
        v.push(Entry {
            name,
            rename: None,
            ino: ent.ino(),
            kind,
        });
    }
    v.sort_unstable_by_key(|e| e.ino);
    Ok(v)
}

/// Opens the source subdirectory `e` of `parent`, makes (or, merging, opens) its
/// copy, and returns its node; `None` when it is skipped.
fn open_subdir(sh: &Shared<'_>, parent: &Arc<DirNode>, e: &Entry) -> Result<Option<Arc<DirNode>>> {
    let follow = sh.opts.follow == Follow::All;
    sh.budget.make_room(2);
    let psrc = parent.fd(Side::Src, &sh.budget)?;
    let src = match open_dir_at(psrc.fd(), &e.name, !follow, Side::Src) {
        Ok(fd) => fd,
        Err(err) if err.raw_os_error() == libc::EACCES => {
            // As cp: a directory that cannot be read is still made (empty), with
            // what metadata can be had without opening it; the error stands.
            unreadable_dir(sh, psrc.fd(), parent, e);
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    drop(psrc);
    let st = sys::fstat(src.as_fd(), Step::OpenSrc)?;
    if follow {
        // A link to a directory above it would copy forever.
        let mut a = Some(Arc::clone(parent));
        while let Some(n) = a {
            if (n.src_stat.st_dev, n.src_stat.st_ino) == (st.st_dev, st.st_ino) {
                return Err(Error::new(libc::ELOOP, Step::OpenSrc));
            }
            a = n.parent.clone();
        }
    }
    let pdst = parent.fd(Side::Dst, &sh.budget)?;
    let (dst, created, final_mode) = make_dir(sh, pdst.fd(), &e.name, &st)?;
    drop(pdst);
    if created && !sh.part.alone() {
        entry::mark_made(dst.as_fd(), final_mode, sh.opts.preserve)?;
    }
    let dst_st = sys::fstat(dst.as_fd(), Step::OpenDst)?;
    // Shared between parts, a directory is counted by the part that made it.
    if created || sh.part.alone() {
        sh.counters.dirs.fetch_add(1, Ordering::Relaxed);
    }
    let node = Arc::new(DirNode::new(DirSpec {
        parent: Some(Arc::clone(parent)),
        name: e.name.clone(),
        rel: parent.rel.join(&e.name),
        src_stat: st,
        dst_id: (dst_st.st_dev, dst_st.st_ino),
        followed: follow,
        created,
        final_mode,
        src: sh.budget.hold(src),
        dst: sh.budget.hold(dst),
    }));
    node.register(&sh.budget);
    if sh.opts.one_file_system && st.st_dev != sh.root_dev {
        // Another file system: its mount point is copied, empty.
        sh.counters.skipped.fetch_add(1, Ordering::Relaxed);
        sh.finished_skip(&node);
        return Ok(None);
    }
    Ok(Some(node))
}

impl Shared<'_> {
    /// A directory whose contents are not copied: only its own metadata is set.
    fn finished_skip(&self, node: &Arc<DirNode>) {
        if self.part.dirs()
            && self.part.owns(&node.rel)
            && let Err(e) = entry::finish_dir(self, node)
        {
            self.failed(&self.src_path(&node.rel), e);
        }
        node.close();
        node.pending.store(0, Ordering::Release);
    }
}

/// The copy of a source directory that cannot be opened: made empty and given
/// its owner, mode and times where asked (not its extended attributes).
fn unreadable_dir(sh: &Shared<'_>, psrc: BorrowedFd<'_>, parent: &Arc<DirNode>, e: &Entry) {
    let flags = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
    let Ok(st) = nix::sys::stat::fstatat(psrc, e.name.as_os_str(), flags) else {
        return;
    };
    if !sys::is_dir(&st) {
        return;
    }
    let Ok(pdst) = parent.fd(Side::Dst, &sh.budget) else {
        return;
    };
    if let Ok((fd, created, final_mode)) = make_dir(sh, pdst.fd(), &e.name, &st) {
        if created {
            sh.counters.dirs.fetch_add(1, Ordering::Relaxed);
        }
        let _ = entry::dir_meta(sh, fd.as_fd(), None, &st, created.then_some(final_mode));
    }
}

/// Makes the copy of the source directory `st` as `name` in `dst`: writable by
/// the copy until its entries are in (its own mode is set at the end). An
/// existing directory is merged into unless told not to. Returns it open, whether
/// it was made, and the mode it is to end with when nothing is preserved.
fn make_dir(
    sh: &Shared<'_>,
    dst: BorrowedFd<'_>,
    name: &OsStr,
    st: &FileStat,
) -> Result<(std::os::fd::OwnedFd, bool, u32)> {
    let want = st.st_mode & 0o777;
    let created = match nix::sys::stat::mkdirat(dst, name, Mode::from_bits_truncate(want | 0o700)) {
        Ok(()) => true,
        // Parts of one copy make the same directories: the others merge.
        Err(Errno::EEXIST) if !sh.opts.no_merge || !sh.part.alone() => false,
        Err(e) => return Err(Error::new(e as i32, Step::OpenDst)),
    };
    // Never through a symlink: an existing one there is not a directory to merge.
    let fd = open_dir_at(dst, name, true, Side::Dst).map_err(|e| {
        if e.raw_os_error() == libc::ELOOP {
            Error::new(libc::ENOTDIR, Step::OpenDst)
        } else {
            e
        }
    })?;
    // As cp: a made directory keeps the sticky bit, not set-user-ID or set-group-ID.
    Ok((fd, created, sh.opts.plain_bits(st) & !sh.umask))
}

/// How many threads and directory descriptors the copy may use under the
/// descriptor limit.
fn plan_fds(jobs: usize) -> (usize, usize) {
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024)
        .min(1 << 20) as usize;
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(16);
    let avail = limit.saturating_sub(open + 8).max(8);
    let jobs = jobs.clamp(1, (avail / 2 / FDS_PER_JOB).max(1));
    (jobs, avail - jobs * FDS_PER_JOB)
}

/// The per-file options: the caller's, with the preserve and mode flags of the tree.
fn file_options(opts: &TreeOptions<'_>) -> Settings {
    let p = opts.preserve;
    let mut f = opts.file.flags;
    f.set(Flags::PRESERVE_MODE, p.contains(Preserve::MODE));
    f.set(Flags::PRESERVE_OWNER, p.contains(Preserve::OWNERSHIP));
    f.set(Flags::PRESERVE_TIMES, p.contains(Preserve::TIMESTAMPS));
    f.set(Flags::PRESERVE_XATTRS, p.contains(Preserve::XATTRS));
    f.set(Flags::EXCL, opts.existing == Existing::Keep);
    f.set(Flags::DEFAULT_MODE, opts.default_modes);
    f.remove(Flags::NOFOLLOW);
    Settings {
        flags: f,
        ..opts.file
    }
}

impl TreeOptions<'_> {
    /// Copies the tree at `src` to `dst`; see [`copy_tree`](crate::copy_tree).
    ///
    /// ```no_run
    /// let s = zcio::TreeOptions::archive().copy_tree("a", "b")?;
    /// # Ok::<(), zcio::Error>(())
    /// ```
    pub fn copy_tree(&self, src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<TreeStats> {
        copy_tree(src.as_ref(), dst.as_ref(), self)
    }
}

/// Copies the tree at `src` to `dst`.
fn copy_tree(src: &Path, dst: &Path, opts: &TreeOptions<'_>) -> Result<TreeStats> {
    let start = Instant::now();
    let mut stats = TreeStats::default();
    let r = run(src, dst, opts, &mut stats);
    stats.elapsed = start.elapsed();
    match r {
        Ok(()) => Ok(stats),
        Err(e) => Err(e.with_tree_stats(stats)),
    }
}

fn run(src: &Path, dst: &Path, opts: &TreeOptions<'_>, stats: &mut TreeStats) -> Result<()> {
    let requested = if opts.jobs == 0 {
        DEFAULT_JOBS
    } else {
        opts.jobs as usize
    };
    let (jobs, dir_fds) = plan_fds(requested.min(MAX_JOBS));
    let p = opts.part;
    if p.count == 0
        || p.index >= p.count
        || (p.count > 1 && p.phase == Phase::All)
        || (!p.alone() && opts.no_merge)
    {
        return Err(Error::new(libc::EINVAL, Step::Args));
    }
    let entry::Root {
        node,
        src_dev,
        single,
    } = entry::Root::open(src, dst, opts)?;
    let root_made = node.created;
    // One guard for the whole copy on this thread: each file's own is then free.
    let _signals = SignalGuard::new();
    let sh = Shared {
        opts,
        file: file_options(opts),
        src_root: src.to_path_buf(),
        dst_root: Arc::clone(&node),
        root_dev: src_dev,
        budget: FdBudget::new(dir_fds),
        counters: Counters::default(),
        links: Mutex::new(HashMap::new()),
        umask: sys::umask(),
        stack: Mutex::new(Vec::new()),
        cv: Condvar::new(),
        done: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        cancelled: AtomicBool::new(false),
        first_error: Mutex::new(None),
        last_report: Mutex::new(Instant::now() - REPORT_EVERY),
        part: p,
        groups: Mutex::new(HashMap::new()),
        unlisted: AtomicU64::new(1),
    };
    if let Some(e) = single {
        sh.unlisted.store(0, Ordering::SeqCst);
        // The root is not a directory: copy that one entry.
        sh.counters.entries_known.store(1, Ordering::Relaxed);
        entry::copy_entry(&sh, &node, &e);
        sh.counters.entries_done.store(1, Ordering::Relaxed);
        sh.done.store(true, Ordering::SeqCst);
    } else {
        if root_made || p.alone() {
            sh.counters.dirs.fetch_add(1, Ordering::Relaxed);
        }
        sh.list(node);
        std::thread::scope(|s| {
            let blocked = Blocked::all();
            for _ in 1..jobs {
                let sh = &sh;
                let spawned = std::thread::Builder::new()
                    .name("zcio-tree".into())
                    .spawn_scoped(s, move || {
                        let _signals = SignalGuard::new();
                        sh.work()
                    });
                if spawned.is_err() {
                    break; // fewer threads, same copy
                }
            }
            drop(blocked);
            sh.work();
        });
    }
    if p.phase == Phase::Commit && !sh.stopping() {
        entry::copy_link_groups(&sh);
    }
    sh.report(true);
    *stats = sh.counters.snapshot(Duration::ZERO);
    if sh.cancelled.load(Ordering::SeqCst) {
        return Err(Error::new(libc::ECANCELED, Step::Cancel));
    }
    match lock(&sh.first_error).take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl Shared<'_> {
    /// A thread's loop: tasks until the copy is over.
    fn work(&self) {
        while let Some(t) = self.next() {
            self.run_task(t);
        }
    }
}
