//! The Direct I/O copy: O_DIRECT on both files, aligned buffers, the unaligned tail
//! padded with zeros and cut off again, and a buffered copy that drops its pages from
//! the cache where a file system refuses O_DIRECT.

mod buffered;
mod chunk;
mod sync;
mod threads;
mod uring;

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Instant;

use nix::errno::Errno;

use self::chunk::{ChunkIo, Job, Pieces, Stop};
use super::align::{self, DioAlign};
use super::error::{At, Error, Result};
use super::holes::DataMap;
use super::options::{Flags, Options};
use super::progress::Reporter;
use super::signals::SignalGuard;
use super::stats::{Engine, Method, Stats, Step};
use super::sys;
use super::target::{Meta, Source, SourceKinds, Target, TargetOpts};

/// Bytes per I/O when the caller leaves `chunk_size` at 0. 4 MiB chunks were no
/// faster than 1 MiB ones at the same memory.
pub const DEFAULT_CHUNK: u64 = 1 << 20;
/// Chunks in flight when the caller leaves `queue_depth` at 0. Measured with
/// `make bench` on a virtio disk (ext4): 16 reached about 1.7 x the article's
/// synchronous loop; 8 about 1.5 x, 32 no more than 16 for twice the memory.
pub const DEFAULT_DEPTH: usize = 16;
/// The smallest chunk the file's size can cut a larger one down to.
const SMALL_CHUNK: u64 = 64 << 10;
/// The largest chunk zcio accepts: one I/O must stay under the kernel's 2 GiB cap.
pub const MAX_CHUNK: u64 = 1 << 30;

/// Mode of a new destination created by [`directio_copy`]: 0644, as the article's
/// function does, before the umask.
pub const NEW_FILE_MODE: u32 = 0o644;

/// What [`copy`] needs beyond the caller's options.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DirectJob {
    /// Permission bits of a new destination, before the umask; `None`: the source's.
    pub new_mode: Option<u32>,
}

/// Copies `src` to `dst` with Direct I/O; a new destination gets 0644 minus the
/// umask.
pub(crate) fn directio_copy(src: &Path, dst: &Path, opts: &Options<'_>) -> Result<Stats> {
    copy(
        src,
        dst,
        opts,
        DirectJob {
            new_mode: Some(NEW_FILE_MODE),
        },
    )
}

pub(crate) fn copy(src: &Path, dst: &Path, opts: &Options<'_>, job: DirectJob) -> Result<Stats> {
    let start = Instant::now();
    let mut stats = Stats::default();
    let r = run(src, dst, opts, job, &mut stats);
    stats.elapsed = start.elapsed();
    match r {
        Ok(()) => Ok(stats),
        Err(e) => Err(e.with_stats(stats)),
    }
}

fn check_options(opts: &Options<'_>) -> Result<()> {
    if !matches!(opts.get_method(), Method::Auto | Method::Direct) {
        return Err(Error::invalid());
    }
    if opts.get_chunk_size() > MAX_CHUNK {
        return Err(Error::invalid());
    }
    Ok(())
}

fn run(
    src: &Path,
    dst: &Path,
    opts: &Options<'_>,
    job: DirectJob,
    stats: &mut Stats,
) -> Result<()> {
    check_options(opts)?;
    let source = Source::open(src, SourceKinds::default())?;
    let new_mode = job.new_mode.unwrap_or(source.stat.st_mode & 0o777);
    let target = Target::open(dst, &source.stat, TargetOpts::new(opts, new_mode, false))?;
    copy_opened(source, target, opts, stats, Reads::Direct)
}

/// How the Direct I/O copy reads its source.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Reads {
    /// With O_DIRECT, as it writes.
    Direct,
    /// Through the page cache that already holds the source: a read is a memory
    /// copy, and only the writes go to the disk (with O_DIRECT, leaving no dirty
    /// pages behind).
    Cached,
}

/// Copies an open source into an open target with Direct I/O and commits it.
pub(crate) fn copy_opened(
    source: Source,
    mut target: Target<'_>,
    opts: &Options<'_>,
    stats: &mut Stats,
    reads: Reads,
) -> Result<()> {
    check_options(opts)?;
    // A write past RLIMIT_FSIZE: EFBIG, never a signal that kills the host.
    let _signals = SignalGuard::new();
    let total = source.size();
    let progress = Reporter::new(opts, Some(total));
    let src = source.file.as_fd();
    // Holes are skipped, not written (and not preallocated): a 2 GiB file that
    // holds 2 MiB takes 2 MiB.
    let map = || DataMap::new(src, &source.stat, !opts.has(Flags::NO_SPARSE));

    let plan = plan_direct(src, target.fd(), opts, total, reads)?;
    target.begin()?;
    let done = match plan {
        Plan::Direct { align, chunk } => {
            stats.method = Method::Direct;
            stats.alignment = align.offset;
            let pieces = Pieces::new(map(), u64::from(align.offset), chunk);
            if !pieces.is_sparse() {
                preallocate(target.fd(), total)?;
            }
            let job = Job {
                io: ChunkIo {
                    src,
                    dst: target.fd(),
                    align,
                    chunk,
                },
                // No more buffers than the file has chunks (and one to find its end).
                depth: if opts.get_queue_depth() == 0 {
                    DEFAULT_DEPTH
                } else {
                    opts.get_queue_depth() as usize
                }
                .min(
                    usize::try_from(total.div_ceil(chunk as u64))
                        .unwrap_or(usize::MAX)
                        .saturating_add(1),
                ),
                progress,
                pieces: &pieces,
            };
            let buffered = |errno, stats: &mut Stats| -> Result<u64> {
                fall_back(src, target.fd(), errno, opts, stats)?;
                let pieces = Pieces::new(map(), 1, chunk);
                buffered::copy(src, target.fd(), &pieces, chunk, progress, stats)
            };
            match run_engines(&job, total, opts.get_engine(), stats) {
                // Nothing from a file that says it is empty proves nothing (/proc,
                // /sys, FUSE): Direct I/O may stop at the reported size where a
                // plain read goes on, so let the buffered copy look.
                Ok(0) if total == 0 && !opts.has(Flags::NO_FALLBACK) => buffered(0, stats)?,
                Ok(n) => n,
                // The first aligned I/O was refused: start again, buffered.
                Err(Stop::Refused(errno)) => buffered(errno, stats)?,
                // Not even the synchronous engine's one buffer could be had.
                Err(Stop::Unavailable(libc::ENOMEM)) => {
                    return Err(Error::new(libc::ENOMEM, Step::Resource));
                }
                Err(Stop::Unavailable(_)) => return Err(Error::new(libc::EOPNOTSUPP, Step::Args)),
                Err(Stop::Failed(e)) => return Err(e),
            }
        }
        Plan::Buffered { errno } => {
            fall_back(src, target.fd(), errno, opts, stats)?;
            let chunk = buffered_chunk(opts, total);
            let pieces = Pieces::new(map(), 1, chunk);
            buffered::copy(src, target.fd(), &pieces, chunk, progress, stats)?
        }
    };
    stats.file_size = done;
    // The last report is the file's size: holes count as done.
    progress.report(done)?;
    let r = target.commit(Meta::new(opts, (src, &source.stat)))?;
    stats.xattrs_copied = r.xattrs_copied;
    stats.xattrs_skipped = r.xattrs_skipped;
    Ok(())
}

/// Copies bytes `from..to` of the source `src` to the same offsets of `dst`, a
/// file of the source's size `size` (one range of a file copied in parts), with
/// Direct I/O and zcio's defaults. Returns the bytes moved, or `None` when
/// Direct I/O cannot copy this range here (a file system without it, an offset
/// off its alignment): nothing was written, and both files are as they were.
pub(crate) fn copy_range(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    from: u64,
    to: u64,
    size: u64,
) -> Result<Option<u64>> {
    let (Some(sa), Some(da)) = (align::dio_alignment(src)?, align::dio_alignment(dst)?) else {
        return Ok(None);
    };
    let align = align::combine(sa, da);
    let a = u64::from(align.offset);
    if !from.is_multiple_of(a) || (!to.is_multiple_of(a) && to != size) || to <= from {
        return Ok(None);
    }
    let unset = || {
        for fd in [src, dst] {
            let _ = sys::set_direct(fd, false);
        }
    };
    for fd in [src, dst] {
        if sys::set_direct(fd, true).is_err() {
            unset();
            return Ok(None);
        }
    }
    let chunk = fit_chunk(DEFAULT_CHUNK.max(a), to - from, a) as usize;
    let pieces = Pieces::span(DataMap::none(src, size), from, to, a, chunk);
    let none = Options::new();
    let job = Job {
        io: ChunkIo {
            src,
            dst,
            align,
            chunk,
        },
        depth: DEFAULT_DEPTH.min((to - from).div_ceil(chunk as u64) as usize + 1),
        progress: Reporter::new(&none, Some(size)),
        pieces: &pieces,
    };
    let mut stats = Stats::default();
    let r = run_engines(&job, to - from, None, &mut stats);
    unset();
    match r {
        Ok(_) => Ok(Some(stats.bytes)),
        Err(Stop::Refused(_)) => Ok(None),
        Err(Stop::Unavailable(libc::ENOMEM)) => Err(Error::new(libc::ENOMEM, Step::Resource)),
        Err(Stop::Unavailable(_)) => Ok(None),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// The chunk of a buffered copy: the caller's, or 1 MiB, cut to the file's size.
fn buffered_chunk(opts: &Options<'_>, total: u64) -> usize {
    let chunk = if opts.get_chunk_size() == 0 {
        DEFAULT_CHUNK
    } else {
        opts.get_chunk_size()
    };
    fit_chunk(chunk, total, 4096) as usize
}

/// The read/write copy of a regular `source` into the regular file `dst` that
/// leaves the page cache as it was (`Flags::UNCACHED`); holes are kept unless
/// `Flags::NO_SPARSE`. Returns whether they were.
pub(crate) fn uncached(
    source: &Source,
    dst: BorrowedFd<'_>,
    opts: &Options<'_>,
    progress: Reporter<'_>,
    stats: &mut Stats,
) -> Result<bool> {
    let src = source.file.as_fd();
    let chunk = buffered_chunk(opts, source.size());
    let pieces = Pieces::new(
        DataMap::new(src, &source.stat, !opts.has(Flags::NO_SPARSE)),
        1,
        chunk,
    );
    stats.method = Method::ReadWrite;
    buffered::copy(src, dst, &pieces, chunk, progress, stats)?;
    Ok(pieces.is_sparse())
}

/// Runs the requested engine, or with none asked for the threaded one (the
/// synchronous loop where its buffers cannot be had). Threads beat io_uring on
/// ext4 over virtio, cold (by 15-25 %) and from a cached source (1.7 x: each
/// thread copies out of the cache itself, where io_uring does every cached read
/// on its one submitting thread), so io_uring runs only when asked for.
fn run_engines(
    job: &Job<'_>,
    total: u64,
    requested: Option<Engine>,
    stats: &mut Stats,
) -> chunk::Outcome {
    let order: &[Engine] = match requested {
        // One chunk cannot overlap with anything, nor can one worker: setting up
        // threads would cost more than the copy.
        None if total <= job.io.chunk as u64 || threads::workers(job) == 1 => &[Engine::Sync],
        None => &[Engine::Threads, Engine::Sync],
        Some(Engine::IoUring) => &[Engine::IoUring],
        Some(Engine::Threads) => &[Engine::Threads],
        Some(Engine::Sync) => &[Engine::Sync],
    };
    let mut last = Stop::Unavailable(libc::EOPNOTSUPP);
    for &e in order {
        stats.engine = Some(e);
        let r = match e {
            Engine::IoUring => uring::run(job, stats),
            Engine::Threads => threads::run(job, stats),
            Engine::Sync => sync::run(job, stats),
        };
        match r {
            Err(Stop::Unavailable(errno)) => last = Stop::Unavailable(errno),
            r => return r,
        }
    }
    Err(last)
}

/// Reserves the destination's blocks in one go where the file system can, so the
/// copy is not fragmented; the exact size is set at the end. Only running out of
/// space is an error here.
fn preallocate(dst: BorrowedFd<'_>, total: u64) -> Result<()> {
    if total == 0 {
        return Ok(());
    }
    match nix::fcntl::fallocate(
        dst,
        nix::fcntl::FallocateFlags::empty(),
        0,
        total as libc::off_t,
    ) {
        Err(e @ (Errno::ENOSPC | Errno::EDQUOT | Errno::EFBIG)) => {
            Err(Error::new(e as i32, Step::Size))
        }
        _ => Ok(()),
    }
}

enum Plan {
    Direct {
        align: DioAlign,
        chunk: usize,
    },
    /// O_DIRECT is refused on one of the files, with this errno.
    Buffered {
        errno: i32,
    },
}

/// Turns O_DIRECT on for both files and settles alignment and chunk size.
fn plan_direct(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    opts: &Options<'_>,
    total: u64,
    reads: Reads,
) -> Result<Plan> {
    let da = align::dio_alignment(dst)?;
    let sa = match reads {
        Reads::Direct => align::dio_alignment(src)?,
        Reads::Cached => da,
    };
    let (Some(sa), Some(da)) = (sa, da) else {
        return Ok(Plan::Buffered {
            errno: libc::EINVAL,
        });
    };
    let align = align::combine(sa, da);
    // A padded last write may not cross RLIMIT_FSIZE (the kernel would cut it to
    // an unaligned length, which O_DIRECT refuses): a file that fits only unpadded
    // is copied buffered, exactly, and one that does not fit fails with EFBIG there.
    if let Ok((limit, _)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE)
        && limit != nix::sys::resource::RLIM_INFINITY
        && total.next_multiple_of(u64::from(align.offset)) > limit
    {
        return Ok(Plan::Buffered { errno: libc::EFBIG });
    }
    let chunk = if opts.get_chunk_size() == 0 {
        DEFAULT_CHUNK.max(u64::from(align.offset))
    } else {
        opts.get_chunk_size()
    };
    if chunk % u64::from(align.offset) != 0 {
        return Err(Error::invalid());
    }
    let chunk = fit_chunk(chunk, total, u64::from(align.offset));
    let fds: &[BorrowedFd<'_>] = match reads {
        Reads::Direct => &[src, dst],
        Reads::Cached => &[dst],
    };
    for &fd in fds {
        if let Err(e) = sys::set_direct(fd, true) {
            return match e {
                Errno::EINVAL | Errno::EOPNOTSUPP => Ok(Plan::Buffered { errno: e as i32 }),
                e => Err(Error::new(e as i32, Step::OpenDst)),
            };
        }
    }
    Ok(Plan::Direct {
        align,
        chunk: chunk as usize,
    })
}

/// No buffer larger than the file needs: a 1 GiB chunk for a small file would be
/// a 1 GiB buffer per I/O in flight. A file that grows is still copied to its
/// end, in more chunks.
fn fit_chunk(chunk: u64, total: u64, align: u64) -> u64 {
    chunk.min(total.max(SMALL_CHUNK).next_multiple_of(align))
}

/// Switches to the buffered copy, unless the caller forbade it.
fn fall_back(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    errno: i32,
    opts: &Options<'_>,
    stats: &mut Stats,
) -> Result<()> {
    if opts.has(Flags::NO_FALLBACK) {
        return Err(Error::new(libc::EINVAL, Step::OpenDst));
    }
    for fd in [src, dst] {
        sys::set_direct(fd, false).at(Step::OpenDst)?;
    }
    stats.fell_back(Method::Direct, errno);
    stats.method = Method::ReadWrite;
    stats.engine = Some(Engine::Sync);
    stats.alignment = 0;
    Ok(())
}

impl Options<'_> {
    /// Copies the file `src` to `dst` with Direct I/O and these options; see
    /// [`directio_copy`](crate::directio_copy).
    ///
    /// ```no_run
    /// let stats = zcio::Options::new().queue_depth(32).directio_copy("a", "b")?;
    /// println!("engine {:?}", stats.engine);
    /// # Ok::<(), zcio::Error>(())
    /// ```
    pub fn directio_copy(&self, src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<Stats> {
        directio_copy(src.as_ref(), dst.as_ref(), self)
    }
}
