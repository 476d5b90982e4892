//! Whole-file copies by path: the automatic chain (reflink, copy_file_range,
//! sendfile, read/write), forced methods, holes kept as holes, progress paced by
//! time, on the destination rules of `target`.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::stat::SFlag;
use nix::unistd::Whence;

use super::direct::{self, DirectJob};
use super::error::{At, Error, Result};
use super::fdio::{self, End, Pos, TO_EOF, Xfer};
use super::holes::{DataMap, Segment};
use super::options::{FdFlags, Flags, Options};
use super::progress::{Pacer, Reporter};
use super::signals::SignalGuard;
use super::stats::{Method, Stats, Step};
use super::target::{Meta, Source, SourceKinds, Target, TargetOpts};
use super::{clone, mmap, range, sendfile, splice, sys};

/// Copies the file `src` to `dst`. With `Method::Auto` the chain is reflink (unless
/// `NO_REFLINK`), Direct I/O for a large file read from a disk, copy_file_range
/// (unless `NO_REFLINK`: it may share blocks silently), sendfile, read/write; each step is given up only for the errors that
/// mean "not possible here" and only before it moved data. Other methods are
/// forced (and fall back to read/write where the kernel cannot, unless
/// `NO_FALLBACK`; a reflink never falls back). Holes in the source stay holes unless
/// `NO_SPARSE`.
pub(crate) fn copy_file(src: &Path, dst: &Path, opts: &Options<'_>) -> Result<Stats> {
    if opts.get_method() == Method::Direct {
        return direct::copy(src, dst, opts, DirectJob { new_mode: None });
    }
    let start = Instant::now();
    let mut stats = Stats::default();
    let r = run(src, dst, opts, &mut stats);
    stats.elapsed = start.elapsed();
    match r {
        Ok(()) => Ok(stats),
        Err(e) => Err(e.with_stats(stats)),
    }
}

/// Copies the file `src` to `dst` through splice.
pub(crate) fn splice_file(src: &Path, dst: &Path, opts: &Options<'_>) -> Result<Stats> {
    if !matches!(opts.get_method(), Method::Auto | Method::Splice) {
        return Err(Error::invalid().with_stats(Stats::default()));
    }
    copy_file(src, dst, &opts.method(Method::Splice))
}

impl Options<'_> {
    /// Copies the file `src` to `dst` with these options; see
    /// [`copy_file`](crate::copy_file).
    ///
    /// ```no_run
    /// let stats = zcio::Options::new().reflink(false).copy_file("a", "b")?;
    /// assert_ne!(stats.method, zcio::Method::Reflink);
    /// # Ok::<(), zcio::Error>(())
    /// ```
    pub fn copy_file(&self, src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<Stats> {
        copy_file(src.as_ref(), dst.as_ref(), self)
    }

    /// Copies the file `src` to `dst` through splice(2) with these options; see
    /// [`splice_file`](crate::splice_file).
    ///
    /// ```no_run
    /// let stats = zcio::Options::new().fsync(true).splice_file("a", "b")?;
    /// assert_eq!(stats.method, zcio::Method::Splice);
    /// # Ok::<(), zcio::Error>(())
    /// ```
    pub fn splice_file(&self, src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<Stats> {
        splice_file(src.as_ref(), dst.as_ref(), self)
    }
}

fn run(src: &Path, dst: &Path, opts: &Options<'_>, stats: &mut Stats) -> Result<()> {
    let source = Source::open(src, SourceKinds { streams: true })?;
    let target = Target::open(dst, &source.stat, target_opts(opts, &source, true))?;
    copy_opened(source, target, opts, stats)
}

/// The destination rules of a whole-file copy of `source`.
pub(crate) fn target_opts(opts: &Options<'_>, source: &Source, special: bool) -> TargetOpts {
    TargetOpts::new(opts, source.stat.st_mode & 0o777, special)
}

/// Copies an open source into an open target and commits it.
pub(crate) fn copy_opened(
    source: Source,
    mut target: Target<'_>,
    opts: &Options<'_>,
    stats: &mut Stats,
) -> Result<()> {
    // Never sharing blocks cannot be had from the two calls that may share them.
    if opts.has(Flags::NO_REFLINK)
        && matches!(opts.get_method(), Method::Reflink | Method::CopyFileRange)
    {
        return Err(Error::invalid());
    }
    // The kernel's copy calls go through the page cache with no way to leave it.
    if opts.has(Flags::UNCACHED)
        && matches!(
            opts.get_method(),
            Method::CopyFileRange | Method::Sendfile | Method::Splice | Method::Mmap
        )
    {
        return Err(Error::invalid());
    }
    // A FIFO destination whose reader has gone, a write past RLIMIT_FSIZE: errors,
    // never signals that kill the host.
    let _signals = SignalGuard::new();
    target.begin()?;
    // A stream has no size to go by.
    let total = sys::is_reg(&source.stat).then(|| source.size());
    let mut pace = Pacer::new(Reporter::new(opts, total));
    let src_fd = source.file.as_fd();
    let sparse = match opts.get_method() {
        Method::Auto => match auto(src_fd, &source, &target, opts, stats, &mut pace)? {
            Chain::Done { sparse } => sparse,
            Chain::Direct(reads) => {
                let direct = opts.method(Method::Direct);
                return direct::copy_opened(source, target, &direct, stats, reads);
            }
        },
        Method::Reflink => {
            stats.method = Method::Reflink;
            clone::reflink(src_fd, target.fd())?;
            stats.bytes = source.size();
            stats.io_calls = 1;
            false
        }
        Method::ReadWrite if uncached_here(opts, &source, &target) => {
            direct::uncached(&source, target.fd(), opts, pace.reporter(), stats)?
        }
        m => forced(src_fd, &source, &target, m, opts, stats, &mut pace)?,
    };
    // Holes count as done: a sparse copy ends at the file's size, not its data.
    pace.finish(total.map_or(stats.bytes, |t| t.max(stats.bytes)))?;
    // A sparse copy was sized to the source at its end; a reflink is the source.
    stats.file_size = if sparse || stats.method == Method::Reflink {
        stats.bytes.max(source.size())
    } else {
        stats.bytes
    };
    let r = target.commit(Meta::new(opts, (src_fd, &source.stat)))?;
    stats.xattrs_copied = r.xattrs_copied;
    stats.xattrs_skipped = r.xattrs_skipped;
    Ok(())
}

/// The data segments of the source (see `DataMap`). Only a regular destination
/// can keep holes: a FIFO cannot seek past them, and a device would keep its old
/// bytes there.
fn segments<'a>(
    src: BorrowedFd<'a>,
    source: &Source,
    target: &Target<'_>,
    opts: &Options<'_>,
) -> DataMap<'a> {
    DataMap::new(
        src,
        &source.stat,
        !opts.has(Flags::NO_SPARSE) && target.is_regular(),
    )
}

/// The two ends of a whole-file copy, as the segment loop needs them.
#[derive(Clone, Copy)]
struct Ends<'a> {
    src: BorrowedFd<'a>,
    /// A regular file, read at explicit offsets (FIFOs and devices are not).
    seekable: bool,
    dst: BorrowedFd<'a>,
    flags: FdFlags,
}

impl<'a> Ends<'a> {
    fn new(src: BorrowedFd<'a>, source: &Source, target: &'a Target<'_>, flags: FdFlags) -> Self {
        Ends {
            src,
            seekable: sys::is_reg(&source.stat),
            dst: target.fd(),
            flags,
        }
    }
}

/// Copies `seg` with `method`, piece by piece; `base` is what earlier segments
/// moved. Returns what the transfer traced.
fn copy_segment(
    ends: Ends<'_>,
    seg: Segment,
    method: Method,
    base: u64,
    pace: &mut Pacer<'_>,
) -> (Result<()>, fdio::Trace) {
    let Ends {
        src,
        seekable,
        dst,
        flags,
    } = ends;
    // The destination is written at its own offset (sendfile and mmap have no
    // other), moved to where a segment after a hole begins.
    if seg.start > 0
        && let Err(e) = nix::unistd::lseek(dst, seg.start as i64, Whence::SeekSet).at(Step::Write)
    {
        return (Err(e), fdio::Trace::default());
    }
    // FIFOs and devices are read at their own (or no) offset; files at the segment's.
    let src_pos = if seekable {
        Pos::At(seg.start as i64)
    } else {
        Pos::Fd
    };
    let mut x = Xfer::new(src, src_pos, dst, Pos::Fd, seg.len, flags);
    let r = loop {
        let t = Instant::now();
        let before = x.trace.moved;
        let end = match method {
            Method::CopyFileRange => range::run(&mut x, pace.piece()),
            Method::Sendfile => sendfile::run(&mut x, pace.piece()),
            Method::Splice => splice::run(&mut x, pace.piece()),
            Method::Mmap => mmap::run(&mut x, pace.piece()),
            _ => fdio::rw_loop(&mut x, pace.piece()),
        };
        match end {
            Ok(End::Piece) => {
                // Done so far: every byte up to here, holes before this segment included.
                let done = if seekable { seg.start } else { base } + x.trace.moved;
                if let Err(e) = pace.after(done, x.trace.moved - before, t.elapsed()) {
                    break Err(e);
                }
            }
            Ok(End::Done) => break Ok(()),
            Ok(End::WouldBlock) => break Err(Error::new(libc::EAGAIN, Step::Read)),
            Err(e) => break Err(e),
        }
    };
    (r, x.trace)
}

/// Sets the destination's final size: a trailing hole is not written, only sized.
fn set_size(target: &Target<'_>, size: u64, stats: &Stats) -> Result<()> {
    if target.is_regular() && stats.bytes <= size {
        sys::retry(|| nix::unistd::ftruncate(target.fd(), size as i64)).at(Step::Size)?;
    }
    Ok(())
}

fn forced(
    src: BorrowedFd<'_>,
    source: &Source,
    target: &Target<'_>,
    method: Method,
    opts: &Options<'_>,
    stats: &mut Stats,
    pace: &mut Pacer<'_>,
) -> Result<bool> {
    stats.method = method;
    let segs = segments(src, source, target, opts);
    let sparse = segs.is_sparse();
    let flags = if opts.has(Flags::NO_FALLBACK) {
        FdFlags::NO_FALLBACK
    } else {
        FdFlags::empty()
    };
    let ends = Ends::new(src, source, target, flags);
    for seg in segs {
        let (r, trace) = copy_segment(ends, seg, method, stats.bytes, pace);
        stats.bytes += trace.moved;
        stats.io_calls += trace.io_calls;
        if let Some(errno) = trace.fell_back {
            stats.fell_back(method, errno);
            stats.method = Method::ReadWrite;
        }
        r?;
    }
    if sparse {
        set_size(target, source.size(), stats)?;
    }
    Ok(sparse)
}

/// How the automatic chain ended.
enum Chain {
    /// The data is in: whether holes were skipped.
    Done { sparse: bool },
    /// Nothing moved: Direct I/O is to copy the file, reading it so.
    Direct(direct::Reads),
}

/// Files at least this large, read from a disk, are copied with Direct I/O by the
/// automatic chain. Measured on ext4 (virtio disk, cold, flush included): equal
/// to copy_file_range up to 16 MiB, 18 % faster at 64 MiB, 26 % at 256 MiB, 30 %
/// to 2 x at 2 GiB; and the page cache is left as it was.
pub(crate) const DIRECT_FROM: u64 = 32 << 20;

/// Whether the automatic chain copies this file with Direct I/O, and how it reads
/// it: large, between two disk file systems, with zcio's own chunk size. Hardly in
/// the page cache, both sides go direct; mostly there, the reads copy out of the
/// cache and only the writes go direct, which measured 1.7-2.5 x copy_file_range
/// (whose dirty pages must still be written back) and leaves no destination pages.
fn direct_pays(source: &Source, target: &Target<'_>, opts: &Options<'_>) -> Option<direct::Reads> {
    let size = source.size();
    let src = source.file.as_fd();
    let pays = size >= DIRECT_FROM
        && opts.get_chunk_size() == 0
        && !opts.has(Flags::UNCACHED)
        && sys::on_disk_fs(src, source.stat.st_dev)
        && sys::on_disk_fs(target.fd(), target.dev());
    if !pays {
        return None;
    }
    let cached = sys::cached_bytes(src, size)?;
    Some(if cached < size / 8 {
        direct::Reads::Direct
    } else {
        direct::Reads::Cached
    })
}

/// The automatic chain.
fn auto(
    src: BorrowedFd<'_>,
    source: &Source,
    target: &Target<'_>,
    opts: &Options<'_>,
    stats: &mut Stats,
    pace: &mut Pacer<'_>,
) -> Result<Chain> {
    let kind = sys::file_type(&source.stat);
    let regular = kind == SFlag::S_IFREG && target.is_regular();
    let devs = (source.stat.st_dev, target.dev());
    if regular && !opts.has(Flags::NO_REFLINK) && clone::refused(devs.0, devs.1) {
        stats.fell_back(Method::Reflink, libc::EOPNOTSUPP);
    } else if regular && !opts.has(Flags::NO_REFLINK) {
        match clone::reflink(src, target.fd()) {
            Ok(()) => {
                stats.method = Method::Reflink;
                stats.bytes = source.size();
                stats.io_calls += 1;
                return Ok(Chain::Done { sparse: false });
            }
            Err(e) if reflink_not_here(e.raw_os_error()) => {
                clone::remember_refusal(devs.0, devs.1, e.raw_os_error());
                stats.fell_back(Method::Reflink, e.raw_os_error())
            }
            Err(e) => return Err(e),
        }
    }
    // An empty file on a file system whose sizes are true has nothing to move (a
    // /proc or FUSE file claiming 0 goes down the chain to be read).
    if regular && source.size() == 0 && sys::sizes_are_true(src, source.stat.st_dev) {
        return Ok(Chain::Done { sparse: false });
    }
    if regular && let Some(reads) = direct_pays(source, target, opts) {
        return Ok(Chain::Direct(reads));
    }
    if uncached_here(opts, source, target) {
        let sparse = direct::uncached(source, target.fd(), opts, pace.reporter(), stats)?;
        return Ok(Chain::Done { sparse });
    }
    let chain: &[Method] = match kind {
        SFlag::S_IFIFO => &[Method::Splice, Method::ReadWrite],
        SFlag::S_IFCHR => &[Method::ReadWrite],
        _ if opts.has(Flags::NO_REFLINK) => &[Method::Sendfile, Method::ReadWrite],
        _ => &[Method::CopyFileRange, Method::Sendfile, Method::ReadWrite],
    };
    let segs = segments(src, source, target, opts);
    let sparse = segs.is_sparse();
    // zcio walks the chain itself: each method is told not to fall back on its own.
    let ends = Ends::new(src, source, target, FdFlags::NO_FALLBACK);
    let mut step = 0;
    for seg in segs {
        let mut seg = seg;
        loop {
            let method = chain[step];
            stats.method = method;
            let (r, trace) = copy_segment(ends, seg, method, stats.bytes, pace);
            stats.bytes += trace.moved;
            stats.io_calls += trace.io_calls;
            let last = step + 1 == chain.len();
            match r {
                // A first 0 proves nothing for files that lie about their size:
                // let the next method look, read() last of all.
                Ok(()) if stats.bytes == 0 && !last => {
                    stats.fell_back(method, 0);
                    step += 1;
                }
                Ok(()) => break,
                Err(e)
                    if !last
                        && fdio::not_here(
                            Errno::from_raw(e.raw_os_error()),
                            stats.bytes,
                            method,
                        ) =>
                {
                    stats.fell_back(method, e.raw_os_error());
                    step += 1;
                    // Go on from where this method stopped, never from the start.
                    if seg.len != TO_EOF {
                        seg.len -= trace.moved;
                    }
                    seg.start += trace.moved;
                }
                Err(e) => return Err(e),
            }
        }
    }
    if sparse {
        set_size(target, source.size(), stats)?;
    }
    Ok(Chain::Done { sparse })
}

/// Whether the copy is to leave the page cache as it was: asked for, between two
/// regular files (a stream has no pages to leave; a device is written as it is).
fn uncached_here(opts: &Options<'_>, source: &Source, target: &Target<'_>) -> bool {
    opts.has(Flags::UNCACHED) && sys::is_reg(&source.stat) && target.is_regular()
}

/// The errors that mean "these files cannot be cloned here".
fn reflink_not_here(errno: i32) -> bool {
    matches!(
        errno,
        libc::EOPNOTSUPP
            | libc::EXDEV
            | libc::EINVAL
            | libc::ENOSYS
            | libc::ETXTBSY
            | libc::EPERM
            | libc::EBADF
    )
}
