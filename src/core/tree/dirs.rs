//! The directories of a tree copy: each source directory and its copy, open only
//! while needed. The descriptors held at once are bounded: a directory that is
//! only waiting for its entries to finish gives its descriptors back when room is
//! needed, and opens them again, through its parent and without following a
//! symlink, when it needs them; an entry that is not the directory it was is an
//! error, never a way out of the tree.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode};

use crate::core::error::{At, Error, Result};
use crate::core::stats::Step;
use crate::core::sys;

/// A directory descriptor, counted against the copy's budget (the roots' are not).
pub(super) struct HeldFd {
    fd: OwnedFd,
    open: Option<Arc<AtomicUsize>>,
}

impl HeldFd {
    /// A descriptor outside the budget.
    pub(super) fn plain(fd: OwnedFd) -> HeldFd {
        HeldFd { fd, open: None }
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for HeldFd {
    fn drop(&mut self) {
        if let Some(o) = &self.open {
            o.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Which side of the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Src,
    Dst,
}

/// The descriptors of the directories, and how many may be open at once.
pub(super) struct FdBudget {
    open: Arc<AtomicUsize>,
    cap: usize,
    /// Directories that hold descriptors, oldest first: the ones given back first.
    held: Mutex<VecDeque<Weak<DirNode>>>,
}

impl FdBudget {
    pub(super) fn new(cap: usize) -> FdBudget {
        FdBudget {
            open: Arc::new(AtomicUsize::new(0)),
            cap: cap.max(4),
            held: Mutex::new(VecDeque::new()),
        }
    }

    pub(super) fn hold(&self, fd: OwnedFd) -> Arc<HeldFd> {
        self.open.fetch_add(1, Ordering::Relaxed);
        Arc::new(HeldFd {
            fd,
            open: Some(Arc::clone(&self.open)),
        })
    }

    /// Gives back the descriptors of directories nobody is using until there is
    /// room for `n` more (or nothing more can be given back).
    pub(super) fn make_room(&self, n: usize) {
        let mut held = lock(&self.held);
        let mut tries = held.len();
        while self.open.load(Ordering::Relaxed) + n > self.cap && tries > 0 {
            tries -= 1;
            let Some(w) = held.pop_front() else { break };
            let Some(node) = w.upgrade() else { continue };
            if !node.release_idle() {
                held.push_back(w);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a directory node starts with.
pub(super) struct DirSpec {
    pub parent: Option<Arc<DirNode>>,
    pub name: OsString,
    pub rel: PathBuf,
    pub src_stat: FileStat,
    pub dst_id: (u64, u64),
    pub followed: bool,
    pub created: bool,
    pub final_mode: u32,
    pub src: Arc<HeldFd>,
    pub dst: Arc<HeldFd>,
}

/// One directory of the source and its copy.
pub(super) struct DirNode {
    pub parent: Option<Arc<DirNode>>,
    /// Its name in the parent.
    pub name: OsString,
    /// Its path below the roots, for messages and hard links ("" for the root).
    pub rel: PathBuf,
    /// What the source directory is: opened again, it must be the same.
    pub src_stat: FileStat,
    /// The copy's device and inode.
    pub dst_id: (u64, u64),
    /// Reached through a symlink (under `Follow::All`): opened again following it.
    pub followed: bool,
    /// zcio made the copy (it was not merged into).
    pub created: bool,
    /// The mode a made copy ends with when modes are not preserved.
    pub final_mode: u32,
    /// Entries still to finish, plus one while the directory is being listed; at 0
    /// the directory gets its metadata and its parent hears of it.
    pub pending: AtomicUsize,
    src: Mutex<Option<Arc<HeldFd>>>,
    dst: Mutex<Option<Arc<HeldFd>>>,
}

impl DirNode {
    pub(super) fn new(s: DirSpec) -> DirNode {
        DirNode {
            parent: s.parent,
            name: s.name,
            rel: s.rel,
            src_stat: s.src_stat,
            dst_id: s.dst_id,
            followed: s.followed,
            created: s.created,
            final_mode: s.final_mode,
            pending: AtomicUsize::new(1),
            src: Mutex::new(Some(s.src)),
            dst: Mutex::new(Some(s.dst)),
        }
    }

    /// Registers a directory that holds descriptors, so that they can be given back.
    pub(super) fn register(self: &Arc<Self>, budget: &FdBudget) {
        lock(&budget.held).push_back(Arc::downgrade(self));
    }

    fn slot(&self, side: Side) -> &Mutex<Option<Arc<HeldFd>>> {
        match side {
            Side::Src => &self.src,
            Side::Dst => &self.dst,
        }
    }

    /// Gives back both descriptors if nobody is using them. The root keeps its own.
    fn release_idle(&self) -> bool {
        if self.parent.is_none() {
            return false;
        }
        let (mut s, mut d) = (lock(&self.src), lock(&self.dst));
        let idle = |o: &Option<Arc<HeldFd>>| o.as_ref().is_none_or(|a| Arc::strong_count(a) == 1);
        if (s.is_none() && d.is_none()) || !idle(&s) || !idle(&d) {
            return false;
        }
        *s = None;
        *d = None;
        true
    }

    /// The descriptor of one side, opened again through the parent if it was
    /// given back.
    pub(super) fn fd(self: &Arc<Self>, side: Side, budget: &FdBudget) -> Result<Arc<HeldFd>> {
        if let Some(fd) = lock(self.slot(side)).as_ref() {
            return Ok(Arc::clone(fd));
        }
        let parent = self
            .parent
            .as_ref()
            .ok_or(Error::new(libc::EBADF, Step::Resource))?;
        let pfd = parent.fd(side, budget)?;
        budget.make_room(1);
        let nofollow = side == Side::Dst || !self.followed;
        let fd = open_dir_at(pfd.fd(), &self.name, nofollow, side)?;
        let st = sys::fstat(fd.as_fd(), step_of(side))?;
        let want = match side {
            Side::Src => (self.src_stat.st_dev, self.src_stat.st_ino),
            Side::Dst => self.dst_id,
        };
        if (st.st_dev, st.st_ino) != want {
            // Swapped for another directory while the copy ran.
            return Err(Error::new(libc::ESTALE, step_of(side)));
        }
        let held = budget.hold(fd);
        let mut slot = lock(self.slot(side));
        if let Some(other) = slot.as_ref() {
            return Ok(Arc::clone(other)); // another thread was quicker
        }
        *slot = Some(Arc::clone(&held));
        drop(slot);
        self.register(budget);
        Ok(held)
    }

    /// Gives back the descriptors for good (the directory is finished).
    pub(super) fn close(&self) {
        *lock(&self.src) = None;
        *lock(&self.dst) = None;
    }
}

pub(super) fn step_of(side: Side) -> Step {
    match side {
        Side::Src => Step::OpenSrc,
        Side::Dst => Step::OpenDst,
    }
}

/// Opens the directory `name` of `dir`; under `nofollow` a symlink there is
/// ELOOP or ENOTDIR, never followed.
pub(super) fn open_dir_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    nofollow: bool,
    side: Side,
) -> Result<OwnedFd> {
    let mut flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    if nofollow {
        flags |= OFlag::O_NOFOLLOW;
    }
    sys::retry(|| nix::fcntl::openat(dir, name, flags, Mode::empty())).at(step_of(side))
}
