//! The uncached buffered copy: reads and writes through the page cache that leave
//! it as it was. Where the file systems take `RWF_DONTCACHE` (Linux 6.14+: ext4,
//! XFS, Btrfs) the kernel drops each page once it is written back; elsewhere
//! (tmpfs, Btrfs, older kernels) zcio drops them itself, chunk by chunk, after
//! starting their write-back, but for the source's pages that were cached before.
//! It is the copy where O_DIRECT is refused, and what `Flags::UNCACHED` asks of a
//! read/write copy.

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags};

use super::chunk::Pieces;
use crate::core::error::{At, Result};
use crate::core::progress::Reporter;
use crate::core::stats::{Stats, Step, Uncached};
use crate::core::sys::{self, AlignedBuf};

/// Whether `RWF_DONTCACHE` is refused for this file (so the other way it is).
fn refused(e: Errno) -> bool {
    matches!(e, Errno::EOPNOTSUPP | Errno::EINVAL)
}

/// The byte ranges of the source that were in the page cache before the copy,
/// sorted: the pages a copy that drops its own must leave there.
struct Kept {
    runs: Vec<(u64, u64)>,
}

/// The source is looked at this much at a time.
const KEPT_WINDOW: u64 = 1 << 30;
/// The most runs kept (16 MiB); pages past them are dropped like the copy's own.
const KEPT_MAX_RUNS: usize = 1 << 20;

impl Kept {
    /// What of the first `size` bytes of `src` is cached now, by mincore on a
    /// mapping that is never touched. Where the file cannot be mapped, nothing is
    /// known to be kept.
    fn of(src: BorrowedFd<'_>, size: u64) -> Kept {
        let page = sys::page_size();
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut vec = Vec::new();
        let mut base = 0;
        while base < size && runs.len() < KEPT_MAX_RUNS {
            let Some(len) = NonZeroUsize::new((size - base).min(KEPT_WINDOW) as usize) else {
                break;
            };
            // SAFETY: a new read-only mapping of the source that zcio never reads.
            let Ok(ptr) = (unsafe {
                nix::sys::mman::mmap(
                    None,
                    len,
                    ProtFlags::PROT_READ,
                    MapFlags::MAP_SHARED,
                    src,
                    base as libc::off_t,
                )
            }) else {
                break;
            };
            vec.resize(len.get().div_ceil(page as usize), 0u8);
            // SAFETY: the mapping is `len` bytes and `vec` has a byte for each of its pages.
            let r = unsafe { libc::mincore(ptr.as_ptr(), len.get(), vec.as_mut_ptr()) };
            // SAFETY: unmaps exactly what mmap returned.
            let _ = unsafe { nix::sys::mman::munmap(ptr, len.get()) };
            if r != 0 {
                break;
            }
            for (i, _) in vec.iter().enumerate().filter(|(_, b)| *b & 1 != 0) {
                let at = base + i as u64 * page;
                if let Some(last) = runs.last_mut()
                    && last.1 == at
                {
                    last.1 = at + page;
                } else if runs.len() == KEPT_MAX_RUNS {
                    break;
                } else {
                    runs.push((at, at + page));
                }
            }
            base += len.get() as u64;
        }
        Kept { runs }
    }

    /// Drops `len` bytes at `off` of `src` from the cache but for the kept pages.
    fn drop(&self, src: BorrowedFd<'_>, off: u64, len: u64) {
        let end = off + len;
        let mut at = off;
        let first = self.runs.partition_point(|&(_, e)| e <= off);
        for &(s, e) in self.runs[first..].iter().take_while(|&&(s, _)| s < end) {
            if s > at {
                sys::advise(src, at, s - at, libc::POSIX_FADV_DONTNEED);
            }
            at = at.max(e);
        }
        if at < end {
            sys::advise(src, at, end - at, libc::POSIX_FADV_DONTNEED);
        }
    }
}

/// Copies the pieces (holes are skipped) without leaving them in the page cache.
/// Returns the destination's final size.
pub(crate) fn copy(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    pieces: &Pieces<'_>,
    chunk: usize,
    progress: Reporter<'_>,
    stats: &mut Stats,
) -> Result<u64> {
    let mut buf = AlignedBuf::new(chunk, 4096)?;
    sys::advise(src, 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    // Each side on its own: a tmpfs source and an ext4 destination is one of each.
    let (mut read_dc, mut write_dc) = (true, true);
    // Set where zcio drops the source's pages itself.
    let mut drop_src = None;
    let mut written: u64 = 0;
    let mut eof = None;
    let mut prev: Option<(u64, u64)> = None;
    // Pages are dropped a chunk late, two chunks at a time: a large folio that
    // straddles two chunks lies whole in the range, which it must to be dropped.
    let (mut src_lo, mut dst_lo) = (0, 0);
    'pieces: while let Some(p) = pieces.next() {
        let (mut off, end) = (p.base, p.base + p.len as u64);
        while off < end {
            let want = ((end - off) as usize).min(chunk);
            let into = &mut buf.as_mut_slice()[..want];
            let n = if read_dc {
                match sys::pread_flags(src, into, off, libc::RWF_DONTCACHE) {
                    Err(e) if refused(e) => {
                        read_dc = false;
                        // Refused before anything was read: the cache is as it was.
                        drop_src = Some(Kept::of(src, pieces.size));
                        sys::pread(src, into, off)
                    }
                    r => r,
                }
            } else {
                sys::pread(src, into, off)
            }
            .at(Step::Read)?;
            stats.io_calls += 1;
            if n == 0 {
                eof = Some(off);
                break 'pieces;
            }
            let data = &buf.as_slice()[..n];
            if write_dc {
                match sys::pwrite_all_flags(
                    dst,
                    data,
                    off,
                    libc::RWF_DONTCACHE,
                    &mut stats.io_calls,
                ) {
                    Err(e) if refused(e) => write_dc = false,
                    r => r.at(Step::Write)?,
                }
            }
            if !write_dc {
                sys::pwrite_all(dst, data, off, &mut stats.io_calls).at(Step::Write)?;
                // Write-behind: start this chunk's writeback, wait for the previous
                // one and drop it from the cache.
                sys::start_writeback(dst, off, n as u64, false)?;
                if let Some((po, pn)) = prev {
                    sys::start_writeback(dst, po, pn, true)?;
                    sys::advise(dst, dst_lo, po + pn - dst_lo, libc::POSIX_FADV_DONTNEED);
                    dst_lo = po;
                }
                prev = Some((off, n as u64));
            }
            if let Some(k) = &drop_src {
                k.drop(src, src_lo, off + n as u64 - src_lo);
                src_lo = off;
            }
            off += n as u64;
            written += n as u64;
            stats.bytes = written;
            progress.report(written + pieces.skipped())?;
        }
    }
    let end = eof.unwrap_or(pieces.size);
    // The last chunks, and anything a chunk boundary kept.
    if prev.is_some() {
        sys::start_writeback(dst, 0, 0, true)?;
        sys::advise(dst, 0, 0, libc::POSIX_FADV_DONTNEED);
    }
    if let Some(k) = &drop_src {
        k.drop(src, 0, end.max(pieces.size));
    }
    stats.uncached = Some(if read_dc && write_dc {
        Uncached::DontCache
    } else {
        Uncached::Dropped
    });
    sys::retry(|| nix::unistd::ftruncate(dst, end as libc::off_t)).at(Step::Size)?;
    Ok(end)
}
