//! One entry of a tree copy: a regular file (through the per-file copy), a hard
//! link to a file copied already, a symlink, a FIFO, socket or device; the root;
//! and a directory's own metadata once its entries are in.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, PosixFadviseAdvice};
use nix::sys::stat::{FileStat, Mode};
use nix::sys::time::TimeSpec;

use super::dirs::{DirNode, DirSpec, Side, open_dir_at};
use super::options::{Existing, Follow, Preserve, TreeOptions};
use super::part::{self, Phase};
use super::shared::{Entry, Kind, LinkGroup, LinkSlot, LinkState, Shared};
use crate::core::error::{At, Error, Result};
use crate::core::fdio;
use crate::core::holes::DataMap;
use crate::core::meta::{self, Names, XattrAt};
use crate::core::options::{FdFlags, Flags};
use crate::core::range;
use crate::core::stats::{Method, Stats, Step};
use crate::core::target::{Links, Source, SourceKinds, Target, TargetOpts, temp_name};
use crate::core::{clone, direct, file, sys};

/// Where a tree copy starts.
pub(super) struct Root {
    /// The root directory's node; for a root that is not a directory, the node of
    /// the two parents.
    pub node: Arc<DirNode>,
    pub src_dev: u64,
    /// A root that is not a directory: the one entry to copy.
    pub single: Option<Entry>,
}

/// Splits a path into the directory it is in and its last component.
fn split(p: &Path) -> Result<(PathBuf, OsString)> {
    let name = match p.components().next_back() {
        Some(Component::Normal(n)) => n.to_os_string(),
        _ => return Err(Error::new(libc::EINVAL, Step::Args)),
    };
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

fn open_path_dir(p: &Path, step: Step) -> Result<OwnedFd> {
    sys::retry(|| {
        nix::fcntl::open(
            p,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    })
    .at(step)
}

fn id(st: &FileStat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

impl Root {
    pub(super) fn open(src: &Path, dst: &Path, opts: &TreeOptions<'_>) -> Result<Root> {
        if src.as_os_str().is_empty() || dst.as_os_str().is_empty() {
            return Err(Error::new(libc::ENOENT, Step::Args));
        }
        let follow_top = opts.follow != Follow::Never;
        let flags = if follow_top {
            AtFlags::empty()
        } else {
            AtFlags::AT_SYMLINK_NOFOLLOW
        };
        let st = nix::sys::stat::fstatat(nix::fcntl::AT_FDCWD, src, flags).at(Step::OpenSrc)?;
        let (dst_dir_path, dst_name) = split(dst)?;
        let dst_parent = open_path_dir(&dst_dir_path, Step::OpenDst)?;
        if !sys::is_dir(&st) {
            // One entry: copied from its directory into the destination's.
            let (src_dir_path, src_name) = split(src)?;
            let src_parent = open_path_dir(&src_dir_path, Step::OpenSrc)?;
            let pst = sys::fstat(src_parent.as_fd(), Step::OpenSrc)?;
            let dpst = sys::fstat(dst_parent.as_fd(), Step::OpenDst)?;
            let node = DirNode::new(DirSpec {
                parent: None,
                name: dst_name.clone(),
                rel: PathBuf::new(),
                src_stat: pst,
                dst_id: id(&dpst),
                followed: false,
                created: false,
                final_mode: 0,
                src: Arc::new(super::dirs::HeldFd::plain(src_parent)),
                dst: Arc::new(super::dirs::HeldFd::plain(dst_parent)),
            });
            return Ok(Root {
                node: Arc::new(node),
                src_dev: st.st_dev,
                single: Some(Entry {
                    name: src_name,
                    rename: Some(dst_name),
                    ino: st.st_ino,
                    kind: if follow_top && sys::is_reg(&st) {
                        Kind::File
                    } else {
                        Kind::of(&st)
                    },
                }),
            });
        }
        let src_fd = open_path_dir(src, Step::OpenSrc)?;
        let st = sys::fstat(src_fd.as_fd(), Step::OpenSrc)?;
        refuse_into_itself(&st, dst_parent.as_fd(), &dst_name)?;
        let want = st.st_mode & 0o777;
        let created = match nix::sys::stat::mkdirat(
            &dst_parent,
            dst_name.as_os_str(),
            Mode::from_bits_truncate(want | 0o700),
        ) {
            Ok(()) => true,
            Err(Errno::EEXIST) if !opts.no_merge || !opts.part.alone() => false,
            Err(e) => return Err(Error::new(e as i32, Step::OpenDst)),
        };
        // The root the caller named may be a symlink to a directory: followed, as
        // cp does with a destination directory.
        let dst_fd = sys::retry(|| {
            nix::fcntl::openat(
                &dst_parent,
                dst_name.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
        })
        .at(Step::OpenDst)?;
        let dst_st = sys::fstat(dst_fd.as_fd(), Step::OpenDst)?;
        if id(&dst_st) == id(&st) {
            return Err(Error::new(libc::EINVAL, Step::OpenDst));
        }
        let umask = sys::umask();
        let final_mode = opts.plain_bits(&st) & !umask;
        if created && !opts.part.alone() {
            mark_made(dst_fd.as_fd(), final_mode, opts.preserve)?;
        }
        let node = DirNode::new(DirSpec {
            parent: None,
            name: dst_name,
            rel: PathBuf::new(),
            src_stat: st,
            dst_id: id(&dst_st),
            followed: follow_top,
            created,
            final_mode,
            src: Arc::new(super::dirs::HeldFd::plain(src_fd)),
            dst: Arc::new(super::dirs::HeldFd::plain(dst_fd)),
        });
        Ok(Root {
            node: Arc::new(node),
            src_dev: st.st_dev,
            single: None,
        })
    }
}

/// Refuses a destination inside the source directory `src` (or the source
/// itself): `name` in `parent`, or any directory above it, being `src`.
fn refuse_into_itself(src: &FileStat, parent: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
    if let Ok(st) = nix::sys::stat::fstatat(parent, name, AtFlags::empty())
        && id(&st) == id(src)
    {
        return Err(Error::new(libc::EINVAL, Step::OpenDst));
    }
    let mut fd = nix::unistd::dup(parent).at(Step::OpenDst)?;
    for _ in 0..4096 {
        let st = sys::fstat(fd.as_fd(), Step::OpenDst)?;
        if id(&st) == id(src) {
            return Err(Error::new(libc::EINVAL, Step::OpenDst));
        }
        let up = open_dir_at(fd.as_fd(), OsStr::new(".."), true, Side::Dst)?;
        let ust = sys::fstat(up.as_fd(), Step::OpenDst)?;
        if id(&ust) == id(&st) {
            return Ok(()); // the root of the file system
        }
        fd = up;
    }
    Ok(())
}

/// Whether the source `s` is newer than the destination `d` (`cp -u`).
fn newer(s: &FileStat, d: &FileStat) -> bool {
    (s.st_mtime, s.st_mtime_nsec) > (d.st_mtime, d.st_mtime_nsec)
}

/// What is at `name` in `dir`, without following a symlink.
fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(Error::new(e as i32, Step::OpenDst)),
    }
}

/// How an entry ended when it did not fail.
enum Done {
    Copied,
    Skipped,
    /// Another part's, or another phase's.
    NotHere,
}

/// How much of each file of a batch is asked for before the batch is copied.
const PREFETCH: i64 = 128 << 10;

/// Asks the kernel to start reading the first bytes of each small regular file of
/// a batch, so that a thread copying small files one after another has all of
/// them in flight at once rather than one (cold, 20,000 files of 4 KiB in one
/// directory read in a fifth less time). Only where the copy will read them
/// through the page cache: not for Direct I/O (forced, or chosen for a large file),
/// UNCACHED, reflinks, files an existing copy may keep, or a copy in parts.
pub(super) fn prefetch(sh: &Shared<'_>, node: &Arc<DirNode>, entries: &[Entry]) {
    let o = sh.file.options();
    let method = o.get_method();
    let reflinks = matches!(method, Method::Auto | Method::Reflink)
        && !o.get_flags().contains(Flags::NO_REFLINK)
        && !clone::refused(sh.root_dev, node.dst_id.0);
    if entries.len() < 2
        || method == Method::Direct
        || o.get_flags().contains(Flags::UNCACHED)
        || reflinks
        || (sh.opts.existing != Existing::Replace && !node.created)
        || !sh.part.alone()
    {
        return;
    }
    let Ok(src) = node.fd(Side::Src, &sh.budget) else {
        return;
    };
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    for e in entries.iter().filter(|e| e.kind == Kind::File) {
        if sh.stopping() {
            return;
        }
        // A hint: a file that cannot be opened now is the copy's to report.
        let Ok(fd) = nix::fcntl::openat(src.fd(), e.name.as_os_str(), flags, Mode::empty()) else {
            continue;
        };
        let small = nix::sys::stat::fstat(&fd)
            .is_ok_and(|st| sys::is_reg(&st) && (st.st_size.max(0) as u64) < file::DIRECT_FROM);
        if small {
            let _ = nix::fcntl::posix_fadvise(
                &fd,
                0,
                PREFETCH,
                PosixFadviseAdvice::POSIX_FADV_WILLNEED,
            );
        }
    }
}

/// Copies one entry of `node`; a failure is reported with its path.
pub(super) fn copy_entry(sh: &Shared<'_>, node: &Arc<DirNode>, e: &Entry) {
    let rel = node.rel.join(e.rename.as_deref().unwrap_or(&e.name));
    match copy_one(sh, node, e, &rel) {
        Ok(Done::Copied | Done::NotHere) => {}
        Ok(Done::Skipped) => {
            sh.counters.skipped.fetch_add(1, Ordering::Relaxed);
        }
        Err(err) => {
            let path = if e.rename.is_some() {
                sh.src_path(Path::new(""))
            } else {
                sh.src_path(&node.rel.join(&e.name))
            };
            sh.failed(&path, err);
        }
    }
}

fn copy_one(sh: &Shared<'_>, node: &Arc<DirNode>, e: &Entry, rel: &Path) -> Result<Done> {
    let src = node.fd(Side::Src, &sh.budget)?;
    let dst = node.fd(Side::Dst, &sh.budget)?;
    let at = At2 {
        src: src.fd(),
        dst: dst.fd(),
        name: &e.name,
        dst_name: e.rename.as_deref().unwrap_or(&e.name),
        fresh: node.created.then_some(node.dst_id.0),
    };
    if !sh.part.alone() {
        return copy_share(sh, at, e, rel);
    }
    match e.kind {
        Kind::File | Kind::Unknown => copy_regular(sh, at, e, rel),
        Kind::Symlink if sh.opts.follow == Follow::All => copy_regular(sh, at, e, rel),
        Kind::Symlink => copy_symlink(sh, at),
        Kind::Fifo | Kind::Char | Kind::Block | Kind::Socket => copy_special(sh, at),
        Kind::Dir => Err(Error::new(libc::EISDIR, Step::OpenSrc)),
    }
}

/// One entry of a copy shared between parts, in this call's phase.
fn copy_share(sh: &Shared<'_>, at: At2<'_>, e: &Entry, rel: &Path) -> Result<Done> {
    let p = sh.part;
    let follow = sh.opts.follow == Follow::All;
    let kind = match e.kind {
        Kind::Unknown => Kind::File,
        Kind::Symlink if follow => Kind::File,
        k => k,
    };
    if kind != Kind::File {
        return match (p.phase, kind) {
            (Phase::Data, Kind::Symlink) if p.owns(rel) => copy_symlink(sh, at),
            (Phase::Data, Kind::Fifo | Kind::Char | Kind::Block | Kind::Socket) if p.owns(rel) => {
                copy_special(sh, at)
            }
            _ => Ok(Done::NotHere),
        };
    }
    let flags = if follow {
        AtFlags::empty()
    } else {
        AtFlags::AT_SYMLINK_NOFOLLOW
    };
    let st = nix::sys::stat::fstatat(at.src, at.name, flags).at(Step::OpenSrc)?;
    if !sys::is_reg(&st) {
        return Err(Error::new(libc::ESTALE, Step::OpenSrc)); // changed since listed
    }
    let linked = sh.opts.preserve.contains(Preserve::LINKS) && st.st_nlink > 1;
    let size = st.st_size.max(0) as u64;
    match p.phase {
        Phase::Data if linked => Ok(Done::NotHere),
        Phase::Data if p.splits(size) => copy_ranges(sh, at, rel, &st),
        Phase::Data if p.owns(rel) => copy_regular(sh, at, e, rel),
        Phase::Commit if linked => {
            let mut groups = sh.groups.lock().unwrap_or_else(|g| g.into_inner());
            let g = groups
                .entry(id(&st))
                .or_insert_with(|| LinkGroup { names: Vec::new() });
            g.names.push(rel.to_path_buf());
            Ok(Done::NotHere)
        }
        Phase::Commit if p.splits(size) && p.owns(rel) => commit_ranges(sh, at, rel, &st),
        _ => Ok(Done::NotHere),
    }
}

/// Opens (making it, the first part to get there) the file the ranges of `rel`
/// go into. It must be a regular file of this user's with one name: a planted
/// link or another's file is refused.
fn open_range_file(at: At2<'_>, rel: &Path, create: bool) -> Result<(OwnedFd, OsString)> {
    let name = part::range_file(rel);
    let mut flags = OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    if create {
        flags |= OFlag::O_CREAT;
    }
    let fd = sys::retry(|| {
        nix::fcntl::openat(
            at.dst,
            name.as_os_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        )
    })
    .at(Step::OpenDst)?;
    let st = sys::fstat(fd.as_fd(), Step::OpenDst)?;
    if !sys::is_reg(&st) || st.st_nlink != 1 || st.st_uid != nix::unistd::geteuid().as_raw() {
        return Err(Error::new(libc::EEXIST, Step::OpenDst));
    }
    Ok((fd, name))
}

/// Under `Phase::Data`: this part's ranges of a file too large for one part.
fn copy_ranges(sh: &Shared<'_>, at: At2<'_>, rel: &Path, st: &FileStat) -> Result<Done> {
    let size = st.st_size.max(0) as u64;
    if keep_existing(sh, at, st)? {
        // Kept by every part alike: its owner counts it.
        if !sh.part.owns(rel) {
            return Ok(Done::NotHere);
        }
        sh.counters.bytes_done.fetch_add(size, Ordering::Relaxed);
        return Ok(Done::Skipped);
    }
    let follow = sh.opts.follow == Follow::All;
    let source = Source::open_at(at.src, Path::new(at.name), SourceKinds::default(), !follow)?;
    let (fd, _) = open_range_file(at, rel, true)?;
    sys::retry(|| nix::unistd::ftruncate(&fd, size as libc::off_t)).at(Step::Size)?;
    let share = sh.file.flags.contains(Flags::NO_REFLINK);
    let direct = ranges_direct(sh, source.file.as_fd(), fd.as_fd());
    // The range file starts as one hole: only the source's data is written into it.
    let keep_holes = !sh.file.flags.contains(Flags::NO_SPARSE);
    let sparse = DataMap::new(source.file.as_fd(), &source.stat, keep_holes).is_sparse();
    for k in 0..size.div_ceil(part::RANGE) {
        if !sh.part.owns_range(rel, k) {
            continue;
        }
        if sh.stopping() {
            return Err(Error::new(libc::ECANCELED, Step::Cancel));
        }
        let off = k * part::RANGE;
        let end = off + part::RANGE.min(size - off);
        let segments: Vec<(u64, u64)> = if sparse {
            DataMap::new(source.file.as_fd(), &source.stat, true)
                .starting_at(off)
                .take_while(|s| s.start < end)
                .map(|s| (s.start, s.start.saturating_add(s.len).min(end)))
                .collect()
        } else {
            vec![(off, end)]
        };
        let mut data = 0;
        for (from, to) in segments {
            let (mut i, mut o) = (from, from);
            // Never sharing blocks: a read/write loop instead of copy_file_range.
            let run = if share { fdio::rw_loop } else { range::run };
            let by_direct = if direct {
                direct::copy_range(source.file.as_fd(), fd.as_fd(), from, to, size)?
            } else {
                None
            };
            let moved = match by_direct {
                Some(n) => n,
                None => fdio::transfer(
                    source.file.as_fd(),
                    Some(&mut i),
                    fd.as_fd(),
                    Some(&mut o),
                    to - from,
                    FdFlags::empty(),
                    run,
                )?,
            };
            sh.counters.bytes.fetch_add(moved, Ordering::Relaxed);
            data += moved;
            if moved < to - from {
                // The source shrank since it was looked at.
                return Err(Error::new(libc::ESTALE, Step::Read));
            }
        }
        // Holes count as done, as in a file copied whole.
        sh.counters
            .bytes_done
            .fetch_add(end - off, Ordering::Relaxed);
        sh.counters
            .bytes_in_holes
            .fetch_add(end - off - data, Ordering::Relaxed);
        sh.report(false);
    }
    if sh.file.flags.contains(Flags::FSYNC) {
        sys::retry(|| nix::unistd::fdatasync(&fd)).at(Step::Sync)?;
    }
    Ok(Done::NotHere)
}

/// Whether the ranges of a split file go with Direct I/O, as the file copied
/// whole would (see the automatic chain): asked for, or left to zcio between two
/// disk file systems with its own chunk size. Where O_DIRECT is refused they go
/// by copy_file_range.
fn ranges_direct(sh: &Shared<'_>, src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> bool {
    let on_disk = |fd: BorrowedFd<'_>| {
        nix::sys::stat::fstat(fd).is_ok_and(|st| sys::on_disk_fs(fd, st.st_dev))
    };
    let f = &sh.file;
    match f.method {
        Method::Direct => true,
        Method::Auto => {
            f.chunk_size == 0 && !f.flags.contains(Flags::UNCACHED) && on_disk(src) && on_disk(dst)
        }
        _ => false,
    }
}

/// Under `Phase::Commit`, by the file's owner: the file every part wrote ranges
/// into gets its size and metadata and then its name.
fn commit_ranges(sh: &Shared<'_>, at: At2<'_>, rel: &Path, st: &FileStat) -> Result<Done> {
    if keep_existing(sh, at, st)? {
        let tmp = part::range_file(rel);
        let _ = nix::unistd::unlinkat(
            at.dst,
            tmp.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        return Ok(Done::Skipped);
    }
    let (fd, name) = open_range_file(at, rel, false)?;
    let size = st.st_size.max(0) as u64;
    sys::retry(|| nix::unistd::ftruncate(&fd, size as libc::off_t)).at(Step::Size)?;
    let follow = sh.opts.follow == Follow::All;
    let source = Source::open_at(at.src, Path::new(at.name), SourceKinds::default(), !follow)?;
    file_meta(sh, fd.as_fd(), source.file.as_fd(), st)?;
    if sh.file.flags.contains(Flags::FSYNC) {
        sys::retry(|| nix::unistd::fsync(&fd)).at(Step::Sync)?;
    }
    sys::retry(|| nix::fcntl::renameat(at.dst, name.as_os_str(), at.dst, at.dst_name))
        .at(Step::Commit)?;
    sh.counters.files.fetch_add(1, Ordering::Relaxed);
    let m = if ranges_direct(sh, source.file.as_fd(), fd.as_fd()) {
        Method::Direct
    } else if sh.file.flags.contains(Flags::NO_REFLINK) {
        Method::ReadWrite
    } else {
        Method::CopyFileRange
    };
    sh.counters.by_method[m as usize].fetch_add(1, Ordering::Relaxed);
    Ok(Done::Copied)
}

/// A finished regular file's owner, mode, extended attributes and times, as the
/// tree's preserve flags ask (without `MODE`: the source's bits minus the umask).
fn file_meta(
    sh: &Shared<'_>,
    fd: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    st: &FileStat,
) -> Result<()> {
    let p = sh.opts.preserve;
    let now = sys::fstat(fd, Step::Metadata)?;
    let mut owner = (now.st_uid, now.st_gid);
    if p.contains(Preserve::OWNERSHIP) {
        owner = meta::give_owner(fd, owner, (st.st_uid, st.st_gid))?;
    }
    if p.contains(Preserve::XATTRS) {
        meta::copy_all(src, fd, Names::Plain)?;
    }
    if p.contains(Preserve::MODE) {
        meta::copy_all(src, fd, Names::Acls)?;
    }
    let mode = if p.contains(Preserve::MODE) {
        meta::exact_mode(st, owner)
    } else {
        sh.opts.plain_bits(st) & 0o777 & !sh.umask
    };
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)).at(Step::Metadata)?;
    if p.contains(Preserve::TIMESTAMPS) {
        let a = TimeSpec::new(st.st_atime, st.st_atime_nsec);
        let m = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
        nix::sys::stat::futimens(fd, &a, &m).at(Step::Metadata)?;
    }
    Ok(())
}

/// Under `Phase::Commit`, once the walk has found every name of every file with
/// several: the part that owns a file's first name copies it there and links the
/// others to it.
pub(super) fn copy_link_groups(sh: &Shared<'_>) {
    let groups = std::mem::take(&mut *sh.groups.lock().unwrap_or_else(|g| g.into_inner()));
    for (_, mut g) in groups {
        g.names.sort();
        let Some(first) = g.names.first().cloned() else {
            continue;
        };
        if !sh.part.owns(&first) || sh.stopping() {
            continue;
        }
        if let Err(e) = link_group(sh, &first, &g.names[1..]) {
            sh.failed(&sh.src_path(&first), e);
        }
    }
}

fn link_group(sh: &Shared<'_>, first: &Path, others: &[PathBuf]) -> Result<()> {
    let follow = sh.opts.follow == Follow::All;
    let src_root = sh.dst_root.fd(Side::Src, &sh.budget)?;
    let dst_root = sh.dst_root.fd(Side::Dst, &sh.budget)?;
    let parent = first.parent().unwrap_or(Path::new(""));
    let sdir = open_beneath(src_root.fd(), parent, follow, Step::OpenSrc)?;
    let ddir = open_beneath(dst_root.fd(), parent, false, Step::OpenDst)?;
    let name = first
        .file_name()
        .ok_or(Error::new(libc::EINVAL, Step::Args))?;
    let at = At2 {
        src: sdir.as_ref().map_or(src_root.fd(), |d| d.as_fd()),
        dst: ddir.as_ref().map_or(dst_root.fd(), |d| d.as_fd()),
        name,
        dst_name: name,
        fresh: None,
    };
    let source = Source::open_at(at.src, Path::new(name), SourceKinds::default(), !follow)?;
    let size = source.size();
    if keep_existing(sh, at, &source.stat)? {
        sh.counters.skipped.fetch_add(1, Ordering::Relaxed);
        sh.counters.bytes_done.fetch_add(size, Ordering::Relaxed);
    } else {
        copy_data(sh, source, at, size)?;
    }
    for other in others {
        let parent = other.parent().unwrap_or(Path::new(""));
        let odir = open_beneath(dst_root.fd(), parent, false, Step::OpenDst)?;
        let oname = other
            .file_name()
            .ok_or(Error::new(libc::EINVAL, Step::Args))?;
        let oat = At2 {
            dst: odir.as_ref().map_or(dst_root.fd(), |d| d.as_fd()),
            dst_name: oname,
            ..at
        };
        match make_link(sh, first, oat) {
            Ok(_) => {
                sh.counters.hardlinks.fetch_add(1, Ordering::Relaxed);
                sh.counters.bytes_done.fetch_add(size, Ordering::Relaxed);
            }
            Err(e) => sh.failed(&sh.src_path(other), e),
        }
    }
    Ok(())
}

/// An entry's two directories and its names there.
#[derive(Clone, Copy)]
struct At2<'a> {
    src: BorrowedFd<'a>,
    dst: BorrowedFd<'a>,
    name: &'a OsStr,
    dst_name: &'a OsStr,
    /// The destination directory was made by this copy, on this device: its
    /// names are all new (one that turns up all the same is found at commit).
    fresh: Option<u64>,
}

/// Whether an existing destination entry stays as it is; a directory there is an
/// error (a file does not replace a directory).
fn keep_existing(sh: &Shared<'_>, at: At2<'_>, src: &FileStat) -> Result<bool> {
    if at.fresh.is_some() {
        return Ok(false);
    }
    let Some(d) = lstat_at(at.dst, at.dst_name)? else {
        return Ok(false);
    };
    if sys::is_dir(&d) {
        return Err(Error::new(libc::EISDIR, Step::OpenDst));
    }
    Ok(match sh.opts.existing {
        Existing::Keep => true,
        Existing::Newer => !newer(src, &d),
        Existing::Replace => false,
    })
}

fn copy_regular(sh: &Shared<'_>, at: At2<'_>, e: &Entry, rel: &Path) -> Result<Done> {
    let follow =
        sh.opts.follow == Follow::All || (e.rename.is_some() && sh.opts.follow == Follow::Top);
    let source = Source::open_at(at.src, Path::new(at.name), SourceKinds::default(), !follow)?;
    let st = source.stat;
    let size = source.size();
    if sh.opts.existing == Existing::Newer && keep_existing(sh, at, &st)? {
        sh.counters.bytes_done.fetch_add(size, Ordering::Relaxed);
        return Ok(Done::Skipped);
    }
    // A file with other names: the first name copies it, the others link to it.
    let link = (sh.opts.preserve.contains(Preserve::LINKS) && st.st_nlink > 1)
        .then(|| claim_link(sh, &st));
    if let Some((slot, false)) = &link {
        let first = wait_link(slot);
        if let Some(first) = first {
            let r = make_link(sh, &first, at);
            if r.is_ok() {
                sh.counters.hardlinks.fetch_add(1, Ordering::Relaxed);
                sh.counters.bytes_done.fetch_add(size, Ordering::Relaxed);
            }
            return r;
        }
        // The first copy failed: this name is copied on its own.
    }
    let r = copy_data(sh, source, at, size);
    if let Some((slot, true)) = link {
        let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = match r {
            Ok(Done::Copied) => LinkState::Done(rel.to_path_buf()),
            _ => LinkState::Failed,
        };
        slot.cv.notify_all();
    }
    r
}

/// The link slot of the file `st`, and whether this caller is the first name.
fn claim_link(sh: &Shared<'_>, st: &FileStat) -> (Arc<LinkSlot>, bool) {
    let mut map = sh.links.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = map.get(&id(st)) {
        return (Arc::clone(s), false);
    }
    let s = Arc::new(LinkSlot {
        state: Mutex::new(LinkState::Copying),
        cv: Condvar::new(),
    });
    map.insert(id(st), Arc::clone(&s));
    (s, true)
}

/// Waits for the first name's copy: its path below the destination, or `None`
/// when it failed.
fn wait_link(slot: &LinkSlot) -> Option<PathBuf> {
    let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        match &*state {
            LinkState::Copying => {
                state = slot.cv.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            LinkState::Done(p) => return Some(p.clone()),
            LinkState::Failed => return None,
        }
    }
}

/// Links `at.dst_name` to the copy already made at `first` below the destination
/// root, reached without following any symlink. An existing entry is replaced
/// atomically.
fn make_link(sh: &Shared<'_>, first: &Path, at: At2<'_>) -> Result<Done> {
    let root = sh.dst_root.fd(Side::Dst, &sh.budget)?;
    let parent = first.parent().unwrap_or(Path::new(""));
    let dir = open_beneath(root.fd(), parent, false, Step::Commit)?;
    let from_dir = dir.as_ref().map_or(root.fd(), |d| d.as_fd());
    let from = first
        .file_name()
        .ok_or(Error::new(libc::EINVAL, Step::Commit))?;
    place(at, |name| {
        nix::unistd::linkat(from_dir, from, at.dst, name, AtFlags::empty())
    })
}

/// Opens the directory `rel` below `root` one component at a time, following no
/// symlink (unless `follow`): `None` for `rel` empty (the root itself).
pub(super) fn open_beneath(
    root: BorrowedFd<'_>,
    rel: &Path,
    follow: bool,
    step: Step,
) -> Result<Option<OwnedFd>> {
    let mut dir: Option<OwnedFd> = None;
    let mut flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    for c in rel.components() {
        let Component::Normal(c) = c else {
            return Err(Error::new(libc::EINVAL, step));
        };
        let base = dir.as_ref().map_or(root, |d| d.as_fd());
        dir = Some(sys::retry(|| nix::fcntl::openat(base, c, flags, Mode::empty())).at(step)?);
    }
    Ok(dir)
}

/// Makes a new entry with `make(name)`: under its own name when nothing is
/// there, else under a temporary name renamed over the old entry, so that the
/// old one is replaced whole or not at all.
fn place(at: At2<'_>, make: impl Fn(&OsStr) -> nix::Result<()>) -> Result<Done> {
    match sys::retry(|| make(at.dst_name)) {
        Ok(()) => return Ok(Done::Copied),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::new(e as i32, Step::Commit)),
    }
    if lstat_at(at.dst, at.dst_name)?.is_some_and(|d| sys::is_dir(&d)) {
        return Err(Error::new(libc::EISDIR, Step::Commit));
    }
    for _ in 0..16 {
        let tmp = temp_name();
        match sys::retry(|| make(&tmp)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(Error::new(e as i32, Step::Commit)),
        }
        if let Err(e) =
            sys::retry(|| nix::fcntl::renameat(at.dst, tmp.as_os_str(), at.dst, at.dst_name))
        {
            let _ = nix::unistd::unlinkat(
                at.dst,
                tmp.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            return Err(Error::new(e as i32, Step::Commit));
        }
        return Ok(Done::Copied);
    }
    Err(Error::new(libc::EEXIST, Step::Commit))
}

/// Copies an open regular file's data through the per-file copy.
fn copy_data(sh: &Shared<'_>, source: Source, at: At2<'_>, size: u64) -> Result<Done> {
    let o = sh.file.options();
    let topts = TargetOpts {
        links: Links::Replace,
        fresh: at.fresh,
        // The tree's default_modes reach here as Flags::DEFAULT_MODE in `o`.
        ..TargetOpts::new(&o, source.stat.st_mode & 0o777, false)
    };
    let target = match Target::open_at(at.dst, at.dst_name, &source.stat, topts) {
        Ok(t) => t,
        Err(e) if e.raw_os_error() == libc::EEXIST && sh.opts.existing == Existing::Keep => {
            sh.counters.bytes_done.fetch_add(size, Ordering::Relaxed);
            return Ok(Done::Skipped);
        }
        Err(e) => {
            sh.counters.bytes_done.fetch_add(size, Ordering::Relaxed);
            return Err(e);
        }
    };
    let mut st = Stats::default();
    let last = AtomicU64::new(0);
    let report = sh.file_progress(&last);
    let o = if sh.opts.progress.is_some() {
        o.progress(&report)
    } else {
        o
    };
    let r = if o.get_method() == Method::Direct {
        direct::copy_opened(source, target, &o, &mut st, direct::Reads::Direct)
    } else {
        file::copy_opened(source, target, &o, &mut st)
    };
    // Whatever the outcome, the file is dealt with: the bytes it did not report
    // count as done.
    sh.counters.bytes_done.fetch_add(
        size.saturating_sub(last.load(Ordering::Relaxed)),
        Ordering::Relaxed,
    );
    match r {
        Ok(()) => {
            sh.counters.add_file(&st, size);
            Ok(Done::Copied)
        }
        Err(e) if e.raw_os_error() == libc::EEXIST && sh.opts.existing == Existing::Keep => {
            Ok(Done::Skipped)
        }
        Err(e) if e.step() == Step::Cancel && sh.stopping() => Ok(Done::Skipped),
        Err(e) => Err(e),
    }
}

fn copy_symlink(sh: &Shared<'_>, at: At2<'_>) -> Result<Done> {
    let st =
        nix::sys::stat::fstatat(at.src, at.name, AtFlags::AT_SYMLINK_NOFOLLOW).at(Step::OpenSrc)?;
    let target = nix::fcntl::readlinkat(at.src, at.name).at(Step::Read)?;
    if keep_existing(sh, at, &st)? {
        return Ok(Done::Skipped);
    }
    place(at, |name| {
        nix::unistd::symlinkat(target.as_os_str(), at.dst, name)
    })?;
    set_meta_at(sh, at, &st, true)?;
    sh.counters.symlinks.fetch_add(1, Ordering::Relaxed);
    Ok(Done::Copied)
}

fn copy_special(sh: &Shared<'_>, at: At2<'_>) -> Result<Done> {
    let st =
        nix::sys::stat::fstatat(at.src, at.name, AtFlags::AT_SYMLINK_NOFOLLOW).at(Step::OpenSrc)?;
    if keep_existing(sh, at, &st)? {
        return Ok(Done::Skipped);
    }
    let kind = sys::file_type(&st);
    let perm = Mode::from_bits_truncate(sh.opts.plain_bits(&st) & 0o777);
    place(at, |name| {
        nix::sys::stat::mknodat(at.dst, name, kind, perm, st.st_rdev)
    })?;
    set_meta_at(sh, at, &st, false)?;
    sh.counters.specials.fetch_add(1, Ordering::Relaxed);
    Ok(Done::Copied)
}

/// Owner, mode (not for a symlink: it has none), extended attributes and times of
/// an entry made by name, as the tree's preserve flags ask. A refused owner, and
/// attributes the destination does not take, are not errors.
fn set_meta_at(sh: &Shared<'_>, at: At2<'_>, st: &FileStat, link: bool) -> Result<()> {
    let p = sh.opts.preserve;
    let nofollow = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
    let now = nix::sys::stat::fstatat(at.dst, at.dst_name, nofollow).at(Step::Metadata)?;
    let mut owner = (now.st_uid, now.st_gid);
    if p.contains(Preserve::OWNERSHIP) && owner != (st.st_uid, st.st_gid) {
        use nix::unistd::{Gid, Uid, fchownat};
        let want = (st.st_uid, st.st_gid);
        match fchownat(
            at.dst,
            at.dst_name,
            Some(Uid::from_raw(want.0)),
            Some(Gid::from_raw(want.1)),
            nofollow,
        ) {
            Ok(()) => owner = want,
            Err(Errno::EPERM | Errno::EINVAL) => {
                if fchownat(
                    at.dst,
                    at.dst_name,
                    None,
                    Some(Gid::from_raw(want.1)),
                    nofollow,
                )
                .is_ok()
                {
                    owner.1 = want.1;
                }
            }
            Err(e) => return Err(Error::new(e as i32, Step::Metadata)),
        }
    }
    if !link && p.contains(Preserve::MODE) {
        let mode = Mode::from_bits_truncate(meta::exact_mode(st, owner));
        nix::sys::stat::fchmodat(
            at.dst,
            at.dst_name,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .at(Step::Metadata)?;
    }
    if let (Some(s), Some(d)) = (
        XattrAt::link(at.src, at.name),
        XattrAt::link(at.dst, at.dst_name),
    ) {
        if p.contains(Preserve::XATTRS) {
            meta::copy_between(&s, &d, Names::Plain)?;
        }
        if p.contains(Preserve::MODE) && !link {
            meta::copy_between(&s, &d, Names::Acls)?;
        }
    }
    if p.contains(Preserve::TIMESTAMPS) {
        let a = TimeSpec::new(st.st_atime, st.st_atime_nsec);
        let m = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
        nix::sys::stat::utimensat(
            at.dst,
            at.dst_name,
            &a,
            &m,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .at(Step::Metadata)?;
    }
    Ok(())
}

/// A directory's own metadata, once everything in it is done: owner, extended
/// attributes, mode (the one it was made writable without, or the source's),
/// times last.
pub(super) fn finish_dir(sh: &Shared<'_>, node: &Arc<DirNode>) -> Result<()> {
    let dst = node.fd(Side::Dst, &sh.budget)?;
    let src = if sh
        .opts
        .preserve
        .intersects(Preserve::XATTRS | Preserve::MODE)
    {
        Some(node.fd(Side::Src, &sh.budget)?)
    } else {
        None
    };
    let made = if node.created {
        Some(node.final_mode)
    } else {
        (!sh.part.alone() && take_mark(sh, dst.fd())).then_some(node.final_mode)
    };
    dir_meta(
        sh,
        dst.fd(),
        src.as_ref().map(|s| s.fd()),
        &node.src_stat,
        made,
    )
}

/// The mark a part leaves in a directory it made, for the part that owns it
/// (which sets its mode at the end) to find in a later phase.
const MADE_MARK: &str = ".zcio-made";

/// In a copy split between parts, by the part that made the directory open on
/// `fd`: a directory's own mode, set by its owner once its entries are in, must
/// be the made one's (`final_mode`) though the owner did not make it. Where the
/// copy can still write into it with that mode it is given at once; else (and
/// only where modes are not preserved anyway) a mark is left in it.
pub(super) fn mark_made(fd: BorrowedFd<'_>, final_mode: u32, p: Preserve) -> Result<()> {
    if final_mode & 0o700 == 0o700 {
        return nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(final_mode)).at(Step::Metadata);
    }
    if p.contains(Preserve::MODE) {
        return Ok(());
    }
    let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    sys::retry(|| nix::fcntl::openat(fd, MADE_MARK, flags, Mode::from_bits_truncate(0o600)))
        .at(Step::OpenDst)
        .map(drop)
}

/// By the directory's owner, in the `Dirs` phase: whether a part made it and
/// left its mark (which goes).
fn take_mark(sh: &Shared<'_>, fd: BorrowedFd<'_>) -> bool {
    !sh.opts.preserve.contains(Preserve::MODE)
        && nix::unistd::unlinkat(fd, MADE_MARK, nix::unistd::UnlinkatFlags::NoRemoveDir).is_ok()
}

/// The metadata of the directory open on `fd`, the copy of `st` (open on `src`
/// for its extended attributes, when it could be opened); `made` is the mode a
/// directory this copy made ends with when modes are not preserved.
pub(super) fn dir_meta(
    sh: &Shared<'_>,
    fd: BorrowedFd<'_>,
    src: Option<BorrowedFd<'_>>,
    st: &FileStat,
    made: Option<u32>,
) -> Result<()> {
    let p = sh.opts.preserve;
    let now = sys::fstat(fd, Step::Metadata)?;
    let mut owner = (now.st_uid, now.st_gid);
    if p.contains(Preserve::OWNERSHIP) {
        owner = meta::give_owner(fd, owner, (st.st_uid, st.st_gid))?;
    }
    if let Some(src) = src {
        if p.contains(Preserve::XATTRS) {
            meta::copy_all(src, fd, Names::Plain)?;
        }
        if p.contains(Preserve::MODE) {
            meta::copy_all(src, fd, Names::Acls)?;
        }
    }
    let mode = if p.contains(Preserve::MODE) {
        Some(meta::exact_mode(st, owner))
    } else {
        made
    };
    if let Some(m) = mode
        && m != now.st_mode & 0o7777
    {
        nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(m)).at(Step::Metadata)?;
    }
    if p.contains(Preserve::TIMESTAMPS) {
        let a = TimeSpec::new(st.st_atime, st.st_atime_nsec);
        let m = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
        nix::sys::stat::futimens(fd, &a, &m).at(Step::Metadata)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_takes_the_last_component() {
        assert_eq!(
            split(Path::new("a/b")).ok(),
            Some((PathBuf::from("a"), OsString::from("b")))
        );
        assert_eq!(
            split(Path::new("b")).ok(),
            Some((PathBuf::from("."), OsString::from("b")))
        );
        assert_eq!(
            split(Path::new("a/b/")).ok(),
            Some((PathBuf::from("a"), OsString::from("b")))
        );
        assert!(split(Path::new("/")).is_err());
    }
}
