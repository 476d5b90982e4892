//! Both ends of a file copy: opening the source safely, and a destination that is
//! replaced atomically or not at all.
//!
//! The data goes into an unnamed O_TMPFILE (or, where the file system lacks it, a
//! uniquely named file created with O_EXCL) in the destination's directory. Only
//! `commit` makes it visible, by linkat or rename; dropping an uncommitted target
//! leaves the old destination exactly as it was and no temporary file behind.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{FileStat, Mode, SFlag};

use super::error::{At, Error, Result};
use super::meta::{MetaReport, Names};
use super::options::{Flags, Options};
use super::stats::Step;
use super::sys;

/// Which kinds of source a copy accepts besides regular files.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SourceKinds {
    /// FIFOs and character devices, streamed to end of file.
    pub streams: bool,
}

/// An open source file and what fstat said of it.
pub(crate) struct Source {
    pub file: OwnedFd,
    pub stat: FileStat,
}

impl Source {
    /// Opens `path` for reading without blocking on a FIFO and without becoming a
    /// controlling terminal, then checks its type.
    pub(crate) fn open(path: &Path, kinds: SourceKinds) -> Result<Source> {
        Source::open_at(nix::fcntl::AT_FDCWD, path, kinds, false)
    }

    /// As [`open`](Self::open), `path` taken relative to the directory `dir`;
    /// under `nofollow` a symlink is refused (ELOOP) instead of followed.
    pub(crate) fn open_at(
        dir: BorrowedFd<'_>,
        path: &Path,
        kinds: SourceKinds,
        nofollow: bool,
    ) -> Result<Source> {
        if path.as_os_str().is_empty() {
            return Err(Error::new(libc::ENOENT, Step::OpenSrc));
        }
        let base = OFlag::O_RDONLY
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY
            | if nofollow {
                OFlag::O_NOFOLLOW
            } else {
                OFlag::empty()
            };
        let file = match sys::retry(|| {
            nix::fcntl::openat(dir, path, base | OFlag::O_NONBLOCK, Mode::empty())
        }) {
            // Another process (Samba, an NFS server) holds a write lease: a
            // non-blocking open is refused at once where a reader's open waits
            // for the lease to be broken. A FIFO never answers EAGAIN here.
            Err(Errno::EAGAIN) => sys::retry(|| nix::fcntl::openat(dir, path, base, Mode::empty())),
            r => r,
        }
        .at(Step::OpenSrc)?;
        let stat = sys::fstat(file.as_fd(), Step::OpenSrc)?;
        match sys::file_type(&stat) {
            SFlag::S_IFREG => {}
            SFlag::S_IFDIR => return Err(Error::new(libc::EISDIR, Step::OpenSrc)),
            SFlag::S_IFCHR if kinds.streams => {}
            SFlag::S_IFIFO if kinds.streams => {
                // Opened without blocking, a FIFO with no writer yet reads as empty.
                // Wait for the writer as cp does, then check it is the same FIFO.
                let again = sys::retry(|| nix::fcntl::openat(dir, path, base, Mode::empty()))
                    .at(Step::OpenSrc)?;
                let st = sys::fstat(again.as_fd(), Step::OpenSrc)?;
                if (st.st_dev, st.st_ino) != (stat.st_dev, stat.st_ino) {
                    return Err(Error::new(libc::EAGAIN, Step::OpenSrc));
                }
                return Ok(Source {
                    file: again,
                    stat: st,
                });
            }
            _ => return Err(Error::new(libc::EINVAL, Step::OpenSrc)),
        }
        sys::clear_nonblock(file.as_fd()).at(Step::OpenSrc)?;
        Ok(Source { file, stat })
    }

    pub(crate) fn size(&self) -> u64 {
        self.stat.st_size.max(0) as u64
    }
}

/// How the destination is to be written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TargetOpts {
    /// Fail with EEXIST when the destination exists.
    pub excl: bool,
    /// Write into the destination itself (the article's way).
    pub in_place: bool,
    /// Permission bits of a new file, before the umask.
    pub new_mode: u32,
    /// Write into an existing FIFO, character or block device as it is, as cp does,
    /// instead of refusing it.
    pub special: bool,
    /// What to do with a destination that is a symlink.
    pub links: Links,
    /// The copy is to get the source's owner at commit.
    pub owner: bool,
    /// The copy is to get the source's exact mode (whose set-ID bits depend on the
    /// owner the file has).
    pub exact_mode: bool,
    /// The caller made the directory in this copy, on this device: the name is
    /// new there and need not be looked up (a name that turns up all the same is
    /// found at commit, and replaced unless `excl`).
    pub fresh: Option<u64>,
}

impl TargetOpts {
    /// The destination rules `opts` asks for; `new_mode` is a new file's mode
    /// before the umask, `special` whether an existing FIFO or device is written as
    /// it is.
    pub(crate) fn new(opts: &Options<'_>, new_mode: u32, special: bool) -> TargetOpts {
        let default_mode = opts.has(Flags::DEFAULT_MODE) && !opts.has(Flags::PRESERVE_MODE);
        TargetOpts {
            excl: opts.has(Flags::EXCL),
            in_place: opts.has(Flags::IN_PLACE),
            new_mode: if default_mode { 0o666 } else { new_mode },
            special,
            links: if opts.has(Flags::NOFOLLOW) {
                Links::Refuse
            } else {
                Links::Follow
            },
            owner: opts.has(Flags::PRESERVE_OWNER),
            exact_mode: opts.has(Flags::PRESERVE_MODE),
            fresh: None,
        }
    }
}

/// What a copy does with a destination that is a symlink (or, under `Replace`, any
/// other entry that is not a regular file or a directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Links {
    /// Write into the file it names, as cp does (a dangling one is ENOENT).
    Follow,
    /// ELOOP.
    Refuse,
    /// Put the copy in its place: a tree copy never writes outside its destination.
    Replace,
}

/// A directory a copy works in: one it opened, or one it was given.
pub(crate) enum DirFd<'a> {
    Owned(OwnedFd),
    Borrowed(BorrowedFd<'a>),
}

impl AsFd for DirFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirFd::Owned(fd) => fd.as_fd(),
            DirFd::Borrowed(fd) => *fd,
        }
    }
}

/// What `commit` gives the new file besides its data.
#[derive(Clone, Copy, Default)]
pub(crate) struct Meta<'a> {
    /// fsync the file, and the directory entry.
    pub fsync: bool,
    /// The source, whose times, extended attributes and owner may be copied.
    pub src: Option<(BorrowedFd<'a>, &'a FileStat)>,
    /// Copy access and modification times.
    pub times: bool,
    /// Copy extended attributes.
    pub xattrs: bool,
    /// Give the copy the source's exact mode.
    pub mode: bool,
    /// Give the copy the source's owner and group.
    pub owner: bool,
}

impl<'a> Meta<'a> {
    /// The metadata `opts` asks to carry over from the open source `src`.
    pub(crate) fn new(opts: &Options<'_>, src: (BorrowedFd<'a>, &'a FileStat)) -> Meta<'a> {
        Meta {
            fsync: opts.has(Flags::FSYNC),
            src: Some(src),
            times: opts.has(Flags::PRESERVE_TIMES),
            xattrs: opts.has(Flags::PRESERVE_XATTRS),
            mode: opts.has(Flags::PRESERVE_MODE),
            owner: opts.has(Flags::PRESERVE_OWNER),
        }
    }
}

enum Kind {
    /// An O_TMPFILE: no name until commit.
    Unnamed,
    /// A temporary file with this name in the destination's directory.
    Named(OsString),
    /// The destination itself; `created` when zcio made it.
    InPlace { created: bool },
    /// An existing FIFO or device, written as it is.
    Special,
}

/// The destination of a copy, open for writing.
pub(crate) struct Target<'d> {
    dir: DirFd<'d>,
    name: OsString,
    file: OwnedFd,
    kind: Kind,
    existing: Option<FileStat>,
    excl: bool,
    done: bool,
    /// The mode a new file was created with, held back to owner-only until commit
    /// gives the file to the source's owner (see `open`).
    mode_after_chown: Option<u32>,
    /// Owner and group the file had when opened: no chown when they are already
    /// the ones wanted.
    owner: (u32, u32),
    /// The device the file is on.
    dev: u64,
}

/// Splits a destination path into its directory and its last component, refusing
/// names that can only be directories.
fn split(dst: &Path) -> Result<(PathBuf, OsString)> {
    let bytes = dst.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Error::new(libc::ENOENT, Step::OpenDst));
    }
    let (dir, name): (&[u8], &[u8]) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/", &bytes[1..]),
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (b".", bytes),
    };
    if name.is_empty() || name == b"." || name == b".." {
        // "dir/", "/", "." and ".." name directories (or nothing creatable).
        return Err(Error::new(
            if std::fs::metadata(dst).is_ok_and(|m| m.is_dir()) {
                libc::EISDIR
            } else {
                libc::ENOTDIR
            },
            Step::OpenDst,
        ));
    }
    Ok((
        PathBuf::from(OsStr::from_bytes(dir)),
        OsStr::from_bytes(name).to_os_string(),
    ))
}

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// A name for a temporary file that no other zcio call in this or any other process
/// will pick: random bits from the kernel, mixed with a counter.
pub(crate) fn temp_name() -> OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut rnd = [0u8; 8];
    // SAFETY: getrandom writes at most rnd.len() bytes into rnd.
    let got = unsafe { libc::getrandom(rnd.as_mut_ptr().cast(), rnd.len(), libc::GRND_NONBLOCK) };
    let mut v = u64::from_ne_bytes(rnd);
    if got != rnd.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        v ^= t ^ (u64::from(std::process::id()) << 32);
    }
    v ^= COUNTER
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    OsString::from(format!(".zcio-{v:016x}.tmp"))
}

const TEMP_TRIES: usize = 64;

/// Set by tests to take the path of file systems without O_TMPFILE.
pub(crate) static NO_TMPFILE: AtomicBool = AtomicBool::new(false);

/// Whether an O_TMPFILE can be given a name: by AT_EMPTY_PATH (needs
/// CAP_DAC_READ_SEARCH) or through /proc/self/fd.
fn can_link_unnamed() -> bool {
    // Found once, kept: a stat of /proc/self/fd costs more than the rest of a
    // small file's copy, and /proc does not go away under a running program.
    static PROC_FD: AtomicBool = AtomicBool::new(false);
    if NO_TMPFILE.load(Ordering::Relaxed) {
        return false;
    }
    if PROC_FD.load(Ordering::Relaxed) {
        return true;
    }
    if Path::new("/proc/self/fd").is_dir() {
        PROC_FD.store(true, Ordering::Relaxed);
        return true;
    }
    nix::unistd::geteuid().is_root()
}

impl Target<'static> {
    /// Opens the destination `dst` for a copy of `src`.
    ///
    /// Refuses a destination that is the source itself (EINVAL), a directory (EISDIR),
    /// a dangling symlink (ENOENT), an existing file under `excl` (EEXIST), and
    /// anything but a regular file (EINVAL). Nothing visible changes until `commit`,
    /// except under `in_place`, and there not before `begin`.
    pub(crate) fn open(dst: &Path, src: &FileStat, opts: TargetOpts) -> Result<Target<'static>> {
        let (dir_path, name) = split(dst)?;
        let dir = open_dir(&dir_path)?;
        let existing = stat_entry(&dir, &name)?;
        if let Some(st) = existing
            && sys::file_type(&st) == SFlag::S_IFLNK
            && opts.links == Links::Follow
        {
            // Write through the link into the file it names, as cp does; a dangling
            // link is refused rather than followed into a new file.
            let real = std::fs::canonicalize(dst).at(Step::OpenDst)?;
            let (dir_path, name) = split(&real)?;
            let dir = open_dir(&dir_path)?;
            let existing =
                Some(stat_entry(&dir, &name)?.ok_or(Error::new(libc::ENOENT, Step::OpenDst))?);
            return Target::open_in(DirFd::Owned(dir), name, existing, src, opts);
        }
        Target::open_in(DirFd::Owned(dir), name, existing, src, opts)
    }
}

/// What is at `name` in `dir` now, without following a symlink.
fn stat_entry(dir: &impl AsFd, name: &OsStr) -> Result<Option<FileStat>> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(Error::new(e as i32, Step::OpenDst)),
    }
}

impl<'d> Target<'d> {
    /// As [`open`](Target::open), for the entry `name` of the directory `dir`. A
    /// symlink there is never followed: refused, or under `Links::Replace`
    /// replaced (as is any other entry that is neither a regular file nor a
    /// directory).
    pub(crate) fn open_at(
        dir: BorrowedFd<'d>,
        name: &OsStr,
        src: &FileStat,
        opts: TargetOpts,
    ) -> Result<Target<'d>> {
        let existing = match opts.fresh {
            Some(_) => None,
            None => stat_entry(&dir, name)?,
        };
        let opts = TargetOpts {
            links: if opts.links == Links::Follow {
                Links::Refuse
            } else {
                opts.links
            },
            ..opts
        };
        Target::open_in(
            DirFd::Borrowed(dir),
            name.to_os_string(),
            existing,
            src,
            opts,
        )
    }

    fn open_in(
        dir: DirFd<'d>,
        name: OsString,
        mut existing: Option<FileStat>,
        src: &FileStat,
        opts: TargetOpts,
    ) -> Result<Target<'d>> {
        if let Some(st) = existing
            && !sys::is_reg(&st)
            && !sys::is_dir(&st)
        {
            match opts.links {
                Links::Refuse if sys::file_type(&st) == SFlag::S_IFLNK => {
                    return Err(Error::new(libc::ELOOP, Step::OpenDst));
                }
                Links::Replace if opts.excl => return Err(Error::new(libc::EEXIST, Step::OpenDst)),
                // Renamed over at commit; nothing of it is kept.
                Links::Replace if !opts.in_place => existing = None,
                _ => {}
            }
        }
        if let Some(st) = &existing {
            if same_file(st, src) {
                return Err(Error::new(libc::EINVAL, Step::OpenDst));
            }
            if sys::is_dir(st) {
                return Err(Error::new(libc::EISDIR, Step::OpenDst));
            }
            if opts.excl {
                return Err(Error::new(libc::EEXIST, Step::OpenDst));
            }
            match sys::file_type(st) {
                SFlag::S_IFREG => {}
                SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK if opts.special => {}
                _ => return Err(Error::new(libc::EINVAL, Step::OpenDst)),
            }
        }
        let special = existing.is_some_and(|st| !sys::is_reg(&st));
        let (file, kind) = if special {
            let fd = sys::retry(|| {
                nix::fcntl::openat(
                    &dir,
                    name.as_os_str(),
                    OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
                    Mode::empty(),
                )
            })
            .at(Step::OpenDst)?;
            (fd, Kind::Special)
        } else if opts.in_place {
            open_in_place(&dir, &name, opts)?
        } else {
            let mode = if existing.is_some() {
                0o600
            } else {
                opts.new_mode & 0o777
            };
            let (fd, kind) = open_temp(&dir, mode)?;
            match kind {
                Kind::Named(tmp) if opts.excl => match excl_way(&dir, tmp) {
                    Some(tmp) => (fd, Kind::Named(tmp)),
                    // Nothing here can make a name appear without replacing one
                    // (libfuse2 file systems: no O_TMPFILE, RENAME_NOREPLACE or
                    // link): the name itself is created with O_EXCL and filled.
                    None => open_in_place(&dir, &name, opts)?,
                },
                kind => (fd, kind),
            }
        };
        let mut t = Target {
            dir,
            name,
            file,
            kind,
            existing,
            excl: opts.excl,
            done: false,
            mode_after_chown: None,
            owner: (0, 0),
            dev: 0,
        };
        // A file just made in a directory this copy made is neither the source nor
        // anything but a regular file; its owner only matters when it is to change.
        if let (Some(dev), Kind::Unnamed | Kind::Named(_), false) =
            (opts.fresh, &t.kind, opts.owner || opts.exact_mode)
        {
            t.dev = dev;
            return Ok(t);
        }
        // The path may have changed under us between fstatat and open.
        let now = sys::fstat(t.file.as_fd(), Step::OpenDst)?;
        t.owner = (now.st_uid, now.st_gid);
        t.dev = now.st_dev;
        if same_file(&now, src) {
            t.done = true; // never unlink the source
            return Err(Error::new(libc::EINVAL, Step::OpenDst));
        }
        if !sys::is_reg(&now) && !matches!(t.kind, Kind::Special) {
            return Err(Error::new(libc::EINVAL, Step::OpenDst));
        }
        // A new file given to the source's owner only at commit is root's, in root's
        // group, until then: with the source's group or other bits it would let users
        // read data the copy keeps from them. Keep it owner-only while the data goes
        // in (as cp does); commit puts the mode back after the chown. (The mode the
        // kernel gave is kept as it is, umask and default ACL included.)
        let new_file = match t.kind {
            Kind::Unnamed | Kind::Named(_) => t.existing.is_none(),
            Kind::InPlace { created } => created,
            Kind::Special => false,
        };
        if new_file
            && opts.owner
            && now.st_mode & 0o077 != 0
            && (now.st_uid, now.st_gid) != (src.st_uid, src.st_gid)
            && nix::unistd::geteuid().is_root()
        {
            nix::sys::stat::fchmod(&t.file, Mode::from_bits_truncate(now.st_mode & 0o700))
                .at(Step::OpenDst)?;
            t.mode_after_chown = Some(now.st_mode & 0o777);
        }
        Ok(t)
    }

    /// The device the copy is on.
    pub(crate) fn dev(&self) -> u64 {
        self.dev
    }

    /// The descriptor the data goes to.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Called once every check has passed, right before the first write: an in-place
    /// destination is truncated only now.
    pub(crate) fn begin(&mut self) -> Result<()> {
        if let Kind::InPlace { .. } = self.kind {
            sys::retry(|| nix::unistd::ftruncate(&self.file, 0)).at(Step::Size)?;
        }
        Ok(())
    }

    /// Whether the destination is a regular file (not a FIFO or device written as is).
    pub(crate) fn is_regular(&self) -> bool {
        !matches!(self.kind, Kind::Special)
    }

    /// Makes the copy the destination: metadata first (owner, mode, extended
    /// attributes, then times, after the last write), then under `fsync` the data,
    /// then the name, then under `fsync` the directory entry.
    pub(crate) fn commit(mut self, meta: Meta<'_>) -> Result<MetaReport> {
        let report = match self.kind {
            Kind::Special => {
                if meta.fsync {
                    // Pipes and character devices have nothing to sync.
                    match sys::retry(|| nix::unistd::fsync(&self.file)) {
                        Ok(()) | Err(Errno::EINVAL) | Err(Errno::EROFS) => {}
                        Err(e) => return Err(Error::new(e as i32, Step::Sync)),
                    }
                }
                self.done = true;
                return Ok(MetaReport::default());
            }
            Kind::InPlace { created } => {
                let report = self.apply_meta(meta, created)?;
                if meta.fsync {
                    sys::retry(|| nix::unistd::fsync(&self.file)).at(Step::Sync)?;
                    if created {
                        sys::retry(|| nix::unistd::fsync(&self.dir)).at(Step::Sync)?;
                    }
                }
                self.done = true;
                return Ok(report);
            }
            _ => self.apply_meta(meta, self.existing.is_none())?,
        };
        if meta.fsync {
            sys::retry(|| nix::unistd::fsync(&self.file)).at(Step::Sync)?;
        }
        match &self.kind {
            Kind::Unnamed => self.commit_unnamed()?,
            Kind::Named(tmp) => {
                let tmp = tmp.clone();
                self.commit_named(&tmp)?;
            }
            Kind::InPlace { .. } | Kind::Special => unreachable!("handled above"),
        }
        self.done = true;
        if meta.fsync {
            sys::retry(|| nix::unistd::fsync(&self.dir)).at(Step::Sync)?;
        }
        Ok(report)
    }

    /// Owner, extended attributes, mode, times, in that order: chown clears set-id
    /// bits, an access ACL sets the permission bits, and the times must come after
    /// every other change.
    ///
    /// The owner is the source's under `meta.owner`; else a replaced file keeps the
    /// old file's (where allowed) and a new one stays the caller's. The mode is the
    /// source's exact mode under `meta.mode`; else a replaced file keeps the old
    /// file's, and a new one the mode it was created with. The extended attributes
    /// are the source's under `meta.xattrs`; else a replaced file keeps the old
    /// file's, and its access ACL too unless `meta.mode` gives it the source's mode.
    fn apply_meta(&self, meta: Meta<'_>, new_file: bool) -> Result<MetaReport> {
        let src = meta.src.map(|(_, st)| st);
        let replaced = match self.kind {
            Kind::InPlace { .. } => None,
            _ => self.existing,
        };
        let mut owner = self.owner;
        if let (true, Some(st)) = (meta.owner, src) {
            owner = super::meta::give_owner(self.file.as_fd(), self.owner, (st.st_uid, st.st_gid))?;
        } else if let Some(ex) = replaced
            && (ex.st_uid, ex.st_gid) != self.owner
        {
            // Where not allowed, the copy stays the caller's.
            owner = super::meta::give_owner(self.file.as_fd(), self.owner, (ex.st_uid, ex.st_gid))
                .unwrap_or(self.owner);
        }
        // Extended attributes before the mode: setting an access ACL rewrites the
        // permission bits, and the mode chosen below is the last word on them.
        // As cp: the ACLs go with the mode, the other attributes with the xattrs;
        // what the source does not give, a replaced file keeps.
        let mut report = MetaReport::default();
        if let (Some((fd, _)), true) = (meta.src, meta.xattrs) {
            report = super::meta::copy_all(fd, self.file.as_fd(), Names::Plain)?;
        }
        if let (Some((fd, _)), true) = (meta.src, meta.mode) {
            let acl = super::meta::copy_all(fd, self.file.as_fd(), Names::Acls)?;
            report.xattrs_copied += acl.xattrs_copied;
            report.xattrs_skipped += acl.xattrs_skipped;
        }
        if let Some(ex) = replaced
            && !(meta.xattrs && meta.mode)
        {
            self.carry_over(&ex, !meta.xattrs, !meta.mode)?;
        }
        let mode = match (meta.mode, src, replaced) {
            (true, Some(st), _) => Some(super::meta::exact_mode(st, owner)),
            (_, _, Some(ex)) => Some(ex.st_mode & 0o7777),
            _ => self.mode_after_chown.filter(|_| new_file),
        };
        if let Some(mode) = mode {
            nix::sys::stat::fchmod(&self.file, Mode::from_bits_truncate(mode))
                .at(Step::Metadata)?;
        }
        if let (Some((_, st)), true) = (meta.src, meta.times) {
            let at = nix::sys::time::TimeSpec::new(st.st_atime, st.st_atime_nsec);
            let mt = nix::sys::time::TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
            nix::sys::stat::futimens(&self.file, &at, &mt).at(Step::Metadata)?;
        }
        Ok(report)
    }

    /// Gives the new file the extended attributes (under `plain`) and the access
    /// ACL (under `acl`) of the file `ex` it replaces, as `cp` writing into it would
    /// have kept them. Skipped when the name no longer refers to that file.
    fn carry_over(&self, ex: &FileStat, plain: bool, acl: bool) -> Result<()> {
        match stat_entry(&self.dir, &self.name)? {
            Some(now) if same_file(&now, ex) && sys::is_reg(&now) => {}
            _ => return Ok(()),
        }
        let Some(old) = super::meta::XattrAt::link(self.dir.as_fd(), &self.name) else {
            return Ok(());
        };
        super::meta::carry_over(&old, self.file.as_fd(), plain, acl)
    }

    fn commit_unnamed(&mut self) -> Result<()> {
        if self.existing.is_none() {
            match self.link_unnamed(&self.name) {
                Ok(()) => return Ok(()),
                // Someone made the name meanwhile: replace it, unless told not to.
                Err(Errno::EEXIST) if !self.excl => {}
                Err(e) => return Err(Error::new(e as i32, Step::Commit)),
            }
        }
        // linkat cannot replace a name: give the file a temporary name, then rename.
        let mut last = Errno::EEXIST;
        for _ in 0..TEMP_TRIES {
            let tmp = temp_name();
            match self.link_unnamed(&tmp) {
                Ok(()) => {
                    let r = sys::retry(|| {
                        nix::fcntl::renameat(
                            &self.dir,
                            tmp.as_os_str(),
                            &self.dir,
                            self.name.as_os_str(),
                        )
                    });
                    if let Err(e) = r {
                        let _ = sys::retry(|| {
                            nix::unistd::unlinkat(
                                &self.dir,
                                tmp.as_os_str(),
                                nix::unistd::UnlinkatFlags::NoRemoveDir,
                            )
                        });
                        return Err(Error::new(e as i32, Step::Commit));
                    }
                    return Ok(());
                }
                Err(Errno::EEXIST) => last = Errno::EEXIST,
                Err(e) => return Err(Error::new(e as i32, Step::Commit)),
            }
        }
        Err(Error::new(last as i32, Step::Commit))
    }

    /// Gives the O_TMPFILE the name `name` in the destination's directory.
    fn link_unnamed(&self, name: &OsStr) -> nix::Result<()> {
        match sys::retry(|| {
            nix::unistd::linkat(&self.file, "", &self.dir, name, AtFlags::AT_EMPTY_PATH)
        }) {
            Err(Errno::ENOENT) | Err(Errno::EPERM) => {
                let proc = sys::proc_fd_path(self.file.as_fd());
                sys::retry(|| {
                    nix::unistd::linkat(
                        nix::fcntl::AT_FDCWD,
                        proc.as_bytes(),
                        &self.dir,
                        name,
                        AtFlags::AT_SYMLINK_FOLLOW,
                    )
                })
            }
            r => r,
        }
    }

    fn commit_named(&mut self, tmp: &OsStr) -> Result<()> {
        if !self.excl {
            return sys::retry(|| {
                nix::fcntl::renameat(&self.dir, tmp, &self.dir, self.name.as_os_str())
            })
            .at(Step::Commit);
        }
        match sys::retry(|| {
            nix::fcntl::renameat2(
                &self.dir,
                tmp,
                &self.dir,
                self.name.as_os_str(),
                RenameFlags::RENAME_NOREPLACE,
            )
        }) {
            Ok(()) => Ok(()),
            Err(Errno::EINVAL) | Err(Errno::ENOSYS) => {
                // No RENAME_NOREPLACE here: link (which never replaces), then drop the temp name.
                sys::retry(|| {
                    nix::unistd::linkat(
                        &self.dir,
                        tmp,
                        &self.dir,
                        self.name.as_os_str(),
                        AtFlags::empty(),
                    )
                })
                .at(Step::Commit)?;
                let _ = sys::retry(|| {
                    nix::unistd::unlinkat(&self.dir, tmp, nix::unistd::UnlinkatFlags::NoRemoveDir)
                });
                Ok(())
            }
            Err(e) => Err(Error::new(e as i32, Step::Commit)),
        }
    }
}

impl Drop for Target<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        match &self.kind {
            Kind::Unnamed => {} // vanishes with its descriptor
            Kind::Named(tmp) => {
                let _ = sys::retry(|| {
                    nix::unistd::unlinkat(
                        &self.dir,
                        tmp.as_os_str(),
                        nix::unistd::UnlinkatFlags::NoRemoveDir,
                    )
                });
            }
            Kind::InPlace { created: true } => {
                // A file zcio created and could not fill goes away, but only if the
                // name still refers to it.
                if let (Ok(mine), Ok(now)) = (
                    nix::sys::stat::fstat(&self.file),
                    nix::sys::stat::fstatat(
                        &self.dir,
                        self.name.as_os_str(),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    ),
                ) && same_file(&mine, &now)
                {
                    let _ = sys::retry(|| {
                        nix::unistd::unlinkat(
                            &self.dir,
                            self.name.as_os_str(),
                            nix::unistd::UnlinkatFlags::NoRemoveDir,
                        )
                    });
                }
            }
            Kind::InPlace { created: false } | Kind::Special => {}
        }
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    sys::retry(|| {
        nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    })
    .at(Step::OpenDst)
}

fn open_in_place(dir: &impl AsFd, name: &OsStr, opts: TargetOpts) -> Result<(OwnedFd, Kind)> {
    let base = OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NOFOLLOW;
    let mode = Mode::from_bits_truncate(opts.new_mode & 0o777);
    match sys::retry(|| nix::fcntl::openat(dir, name, base | OFlag::O_CREAT | OFlag::O_EXCL, mode))
    {
        Ok(fd) => return Ok((fd, Kind::InPlace { created: true })),
        Err(Errno::EEXIST) if !opts.excl => {}
        Err(e) => return Err(Error::new(e as i32, Step::OpenDst)),
    }
    let fd = sys::retry(|| nix::fcntl::openat(dir, name, base, Mode::empty())).at(Step::OpenDst)?;
    Ok((fd, Kind::InPlace { created: false }))
}

/// How a named temporary file `tmp` can be given the destination's name without
/// replacing one that appeared meanwhile: by RENAME_NOREPLACE or by link, each
/// tried once on the temporary file itself. Returns the temporary file's name
/// after the trial (a rename moves it), or `None` (the file removed) when neither
/// works here.
fn excl_way(dir: &impl AsFd, tmp: OsString) -> Option<OsString> {
    let probe = temp_name();
    match sys::retry(|| {
        nix::fcntl::renameat2(
            dir,
            tmp.as_os_str(),
            dir,
            probe.as_os_str(),
            RenameFlags::RENAME_NOREPLACE,
        )
    }) {
        Ok(()) => return Some(probe),
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
        // Anything else says nothing of the call: commit finds out.
        Err(_) => return Some(tmp),
    }
    let unlink = |n: &OsStr| {
        let _ =
            sys::retry(|| nix::unistd::unlinkat(dir, n, nix::unistd::UnlinkatFlags::NoRemoveDir));
    };
    match sys::retry(|| {
        nix::unistd::linkat(
            dir,
            tmp.as_os_str(),
            dir,
            probe.as_os_str(),
            AtFlags::empty(),
        )
    }) {
        Ok(()) => {
            unlink(&probe);
            Some(tmp)
        }
        Err(_) => {
            unlink(&tmp);
            None
        }
    }
}

/// Creates the file the data goes to: an O_TMPFILE where the file system has it,
/// else a new uniquely named file (O_EXCL, so a planted name or symlink is refused).
fn open_temp(dir: &impl AsFd, mode: u32) -> Result<(OwnedFd, Kind)> {
    let mode = Mode::from_bits_truncate(mode);
    if can_link_unnamed() {
        match sys::retry(|| {
            nix::fcntl::openat(
                dir,
                ".",
                OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                mode,
            )
        }) {
            Ok(fd) => return Ok((fd, Kind::Unnamed)),
            // No O_TMPFILE on this file system or kernel.
            Err(Errno::EOPNOTSUPP) | Err(Errno::EISDIR) | Err(Errno::EINVAL) => {}
            Err(e) => return Err(Error::new(e as i32, Step::OpenDst)),
        }
    }
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    for _ in 0..TEMP_TRIES {
        let tmp = temp_name();
        match sys::retry(|| nix::fcntl::openat(dir, tmp.as_os_str(), flags, mode)) {
            Ok(fd) => return Ok((fd, Kind::Named(tmp))),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(Error::new(e as i32, Step::OpenDst)),
        }
    }
    Err(Error::new(libc::EEXIST, Step::OpenDst))
}
